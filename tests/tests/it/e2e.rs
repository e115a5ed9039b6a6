//! The client against the sandbox emulator over mutual TLS: real certificates,
//! real HTTP, real signatures, and the emulator's faults.

use std::time::Duration;

use hongbao::{
    Amount, ApiKey, BillNo, CheckName, Client, ClientIdentity, Endpoint, MsgType, OpenId, Outcome,
    PayEmployee, RedPacket, RetryPolicy, Timeouts, TradeNo, Transfer, WorkwxSecret,
};
use hongbao_sandbox::{FaultConfig, FaultKind, Sandbox, SandboxHandle};

const OPENID: &str = "oxTWIuGaIt6gTKsQRLau2M0yL16E";

async fn sandbox(faults: FaultConfig) -> SandboxHandle {
    Sandbox::builder()
        .seed(7)
        .faults(faults)
        .start()
        .await
        .expect("sandbox starts")
}

fn client(sb: &SandboxHandle, request_timeout: Duration) -> Client {
    let identity = ClientIdentity::from_pem(
        sb.client_cert_pem().as_bytes(),
        sb.client_key_pem().as_bytes(),
    )
    .expect("client identity");
    Client::builder()
        .mch_id(sb.mch_id())
        .appid(sb.appid())
        .api_key(ApiKey::new(sb.api_key().expose()).expect("key"))
        .workwx_secret(
            WorkwxSecret::new(hongbao_sandbox::DEFAULT_WORKWX_SECRET).expect("workwx secret"),
        )
        .identity(identity)
        .extra_ca_pem(sb.ca_cert_pem().as_bytes().to_vec())
        .base_url(sb.url())
        .timeouts(
            Timeouts::default()
                .with_connect(Duration::from_secs(5))
                .with_request(request_timeout),
        )
        .retry(
            RetryPolicy::default()
                .with_max_resends(3)
                .with_initial_backoff(Duration::from_secs(1))
                .with_max_backoff(Duration::from_secs(2))
                .with_jitter(0.0)
                .with_max_elapsed(Duration::from_secs(20))
                .with_queries(2)
                .with_limit_retries(3),
        )
        .build()
        .expect("client")
}

fn red_packet(bill: &str, yuan: &str) -> RedPacket {
    RedPacket::builder(
        BillNo::new(bill).expect("bill"),
        OpenId::new(OPENID).expect("openid"),
        Amount::parse_yuan(yuan).expect("amount"),
    )
    .send_name("天虹百货")
    .wishing("感谢您参加猜灯谜活动，祝您元宵节快乐！")
    .client_ip("192.168.0.1")
    .act_name("猜灯谜抢红包活动")
    .remark("猜越多得越多]]>\r\n快来抢！")
    .build()
    .expect("valid")
}

/// Payments the sandbox recorded for `bill` (each is real money).
fn payments_for(sb: &SandboxHandle, bill: &str) -> usize {
    sb.ledger()
        .payments
        .iter()
        .filter(|p| p.bill == bill && p.failure_code.is_none())
        .count()
}

#[tokio::test]
async fn red_packet_is_paid_over_mtls_and_query_follows_the_ledger() {
    let sb = sandbox(FaultConfig::none()).await;
    let client = client(&sb, Duration::from_secs(10));
    let bill = "10000098202402100000000001";

    // A value with `]]>`, CR and LF is signed and read back byte for byte by
    // the server: a SIGN_ERROR here would be NotPaid/Unknown, not Paid.
    let outcome = client
        .send_red_packet(&red_packet(bill, "10.00"))
        .await
        .expect("sent");
    let Outcome::Paid(receipt) = &outcome else {
        panic!("expected paid, got {outcome:?}");
    };
    assert_eq!(receipt.bill, bill);
    assert_eq!(receipt.amount, Some(Amount::from_fen(1000)));
    let listid = receipt.wechat_id.clone().expect("send_listid");

    // Sending the same request again is idempotent: same id, no second payment.
    let again = client
        .send_red_packet(&red_packet(bill, "10.00"))
        .await
        .expect("sent");
    let Outcome::Paid(again) = again else {
        panic!("expected paid");
    };
    assert_eq!(again.wechat_id.as_deref(), Some(listid.as_str()));
    assert_eq!(payments_for(&sb, bill), 1);

    // The same bill number with another amount is refused and never paid twice.
    let changed = client
        .send_red_packet(&red_packet(bill, "11.00"))
        .await
        .expect("sent");
    assert!(!changed.is_paid(), "{changed:?}");
    assert_eq!(payments_for(&sb, bill), 1);

    // The query reports the ledger's truth as the clock moves.
    let resolved = client
        .resolve(
            Endpoint::SendRedPacket,
            bill,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
        .await
        .expect("resolved");
    assert!(resolved.is_paid(), "{resolved:?}");
    sb.advance_clock(25 * 3600);
    let later = client
        .resolve(
            Endpoint::SendRedPacket,
            bill,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
        .await
        .expect("resolved");
    let Outcome::Paid(later) = later else {
        panic!("a refunded or received packet was still paid out");
    };
    assert!(later.status.is_some());
    sb.shutdown().await;
}

#[tokio::test]
async fn systemerror_after_commit_is_resolved_by_an_identical_resend_without_paying_twice() {
    let sb = sandbox(FaultConfig::always(FaultKind::SystemerrorAfterCommit)).await;
    let client = client(&sb, Duration::from_secs(10));
    let bill = "10000098202402100000000002";
    let prepared = client.prepare(&red_packet(bill, "5.00")).expect("prepared");
    let outcome = client.execute(&prepared).await.expect("sent");
    // Every send answers SYSTEMERROR, but the money moved on the first one:
    // the client keeps the bill number, resends identically, then queries.
    // The query finds a packet of 5.00 under the bill but, unopened, names
    // no receiver, and the resend that would tell answers SYSTEMERROR too:
    // the outcome stays unknown, never paid to someone it cannot name.
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert_eq!(outcome.bill(), bill);
    assert_eq!(payments_for(&sb, bill), 1);
    // Once the server answers again, resuming settles it: the identical
    // resend is answered as a repeat of this very request.
    sb.set_faults(FaultConfig::none()).expect("faults off");
    let outcome = client.resume(&prepared).await.expect("resumed");
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(payments_for(&sb, bill), 1);
    let requested = sb
        .ledger()
        .payments
        .iter()
        .find(|p| p.bill == bill)
        .map(|p| p.times_requested)
        .expect("in ledger");
    assert!(requested >= 2, "the client resent: {requested}");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_dropped_reply_is_unknown_then_resolved_by_query() {
    let sb = sandbox(FaultConfig::always(FaultKind::DropAfterCommit)).await;
    let client = client(&sb, Duration::from_secs(5));
    let trade = "10000098202402100000000003";
    let transfer = Transfer::builder(
        TradeNo::new(trade).expect("trade no"),
        OpenId::new(OPENID).expect("openid"),
        Amount::from_fen(12_345),
    )
    .check_name(CheckName::NoCheck)
    .desc("季度奖金")
    .spbill_create_ip("10.2.3.10")
    .build()
    .expect("valid");
    let outcome = client.transfer(&transfer).await.expect("sent");
    // Dropped connections are never "failed": the client's queries find the
    // payment the sandbox recorded.
    assert!(!matches!(outcome, Outcome::NotPaid(_)), "{outcome:?}");
    let resolved = client
        .resolve(
            Endpoint::Transfer,
            trade,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
        .await
        .expect("resolved");
    assert!(resolved.is_paid(), "{resolved:?}");
    assert_eq!(payments_for(&sb, trade), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn pay_employee_carries_a_valid_workwx_sign() {
    let sb = sandbox(FaultConfig::none()).await;
    let client = client(&sb, Duration::from_secs(10));
    let trade = "10000098202402100000000004";
    let pay = PayEmployee::builder(
        TradeNo::new(trade).expect("trade no"),
        OpenId::new(OPENID).expect("openid"),
        Amount::from_fen(150),
    )
    .check_name(CheckName::NoCheck)
    .desc("六月出差报销")
    .spbill_create_ip("10.2.3.10")
    .ww_msg_type(MsgType::NormalMsg)
    .act_name("出差报销")
    .build()
    .expect("valid");
    let outcome = client.pay_employee(&pay).await.expect("sent");
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(payments_for(&sb, trade), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_nothing_is_paid() {
    let sb = sandbox(FaultConfig::none()).await;
    let stranger = sandbox(FaultConfig::none()).await;
    let identity = ClientIdentity::from_pem(
        stranger.client_cert_pem().as_bytes(),
        stranger.client_key_pem().as_bytes(),
    )
    .expect("client identity");
    let client = Client::builder()
        .mch_id(sb.mch_id())
        .appid(sb.appid())
        .api_key(ApiKey::new(sb.api_key().expose()).expect("key"))
        .identity(identity)
        .extra_ca_pem(sb.ca_cert_pem().as_bytes().to_vec())
        .base_url(sb.url())
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let bill = "10000098202402100000000005";
    let result = client.send_red_packet(&red_packet(bill, "1.00")).await;
    // A refused handshake is an error or an unknown outcome: never paid.
    if let Ok(outcome) = &result {
        assert!(!outcome.is_paid(), "{outcome:?}");
    }
    assert_eq!(payments_for(&sb, bill), 0);
    assert!(sb.ledger().payments.is_empty());
    sb.shutdown().await;
    stranger.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_at_once_each_bill_is_paid_exactly_once() {
    let mut faults = FaultConfig::none();
    for kind in [
        FaultKind::SystemerrorBeforeCommit,
        FaultKind::SystemerrorAfterCommit,
        FaultKind::ProcessingAfterCommit,
        FaultKind::DropAfterCommit,
        FaultKind::MalformedReply,
        FaultKind::UnknownFields,
        FaultKind::UnknownErrorCode,
        FaultKind::DelayAfterCommit,
    ] {
        faults.set(kind, 0.08);
    }
    faults.delay_ms = 2_500;
    let sb = sandbox(faults).await;
    let client = client(&sb, Duration::from_secs(1));
    let bills: Vec<String> = (10..22)
        .map(|n| format!("100000982024021000000000{n}"))
        .collect();
    let sends = bills.iter().map(|bill| {
        let client = client.clone();
        let mut packet = red_packet(bill, "2.00");
        // One recipient per bill: a user may receive 10 packets a day.
        packet.re_openid =
            OpenId::new(format!("oxTWIuGaIt6gTKsQRLau2M0yL{}", &bill[24..])).expect("openid");
        async move { client.send_red_packet(&packet).await }
    });
    let outcomes = futures_join_all(sends).await;
    for (bill, outcome) in bills.iter().zip(outcomes) {
        let outcome = outcome.expect("nothing here is invalid or certainly unsent");
        // A fault may leave the outcome unknown, never "not paid".
        assert!(
            !matches!(outcome, Outcome::NotPaid(_)),
            "{bill}: {outcome:?}"
        );
        let resolved = if outcome.is_paid() {
            outcome
        } else {
            sb.advance_clock(3600);
            client
                .resolve(
                    Endpoint::SendRedPacket,
                    bill,
                    tokio::time::Instant::now() + Duration::from_secs(15),
                )
                .await
                .expect("resolve")
        };
        // `systemerror_before_commit` on every resend could leave a bill
        // unpaid; with this seed each bill ends paid, and never twice.
        assert!(resolved.is_paid(), "{bill}: {resolved:?}");
        assert_eq!(payments_for(&sb, bill), 1, "{bill}");
    }
    sb.shutdown().await;
}

/// Runs the futures concurrently on the runtime and collects their results in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("task did not panic"));
    }
    results
}

/// Proto refuses nothing WeChat accepts (issue #11): a WeCom red packet that
/// names neither `sender_name` nor `agentid`, and a pay-to-employee request
/// from an IPv6 address with a long approval number, are built by the client
/// and paid by the emulator.
#[tokio::test]
async fn requests_proto_used_to_refuse_are_paid_end_to_end() {
    let sb = sandbox(FaultConfig::none()).await;
    let client = client(&sb, Duration::from_secs(10));
    let bill = "10000098202402100000000031";
    // Neither sender_name nor agentid.
    let packet = hongbao::WorkwxRedPacket::builder(
        BillNo::new(bill).expect("bill"),
        OpenId::new(OPENID).expect("openid"),
        Amount::from_fen(1_000),
    )
    .wishing("新春快乐")
    .act_name("新春红包")
    .remark("感谢支持")
    .build()
    .expect("valid");
    let outcome = client.send_workwx_red_packet(&packet).await.expect("sent");
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(payments_for(&sb, bill), 1);

    let trade = "10000098202402100000000032";
    let pay = PayEmployee::builder(
        TradeNo::new(trade).expect("trade no"),
        OpenId::new(OPENID).expect("openid"),
        Amount::from_fen(150),
    )
    .check_name(CheckName::NoCheck)
    .desc("六月出差报销")
    .spbill_create_ip("2001:db8::10")
    .ww_msg_type(MsgType::ApprovalMsg)
    .approval_number("9".repeat(80))
    .approval_type(1)
    .act_name("出差报销")
    .build()
    .expect("valid");
    let outcome = client.pay_employee(&pay).await.expect("sent");
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(payments_for(&sb, trade), 1);
    sb.shutdown().await;
}
