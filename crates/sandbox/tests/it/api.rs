//! The sandbox over plain HTTP: WeChat's checks and codes, business rules,
//! idempotency, status progression on the manual clock, faults, the admin
//! API and robustness.

use crate::common;

use common::*;
use hongbao_sandbox::{FaultConfig, FaultKind, Limits, ManualClock, Progression, Timestamp};
use reqwest::Method;

#[tokio::test]
async fn protocol_checks_come_in_wechat_order() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let url = format!("{}/mmpaymkttransfers/sendredpack", sandbox.url());

    // Not POST.
    let response = client.get(&url).send().await?;
    let reply = parse_reply(response.status().as_u16(), &response.bytes().await?);
    assert_eq!(reply.get("return_code"), Some("FAIL"));
    assert_eq!(reply.code(), "HTTP_METHOD_ERROR");

    // Empty body, broken XML, a DTD.
    let path = "/mmpaymkttransfers/sendredpack";
    for body in [
        &b""[..],
        b"<xml><mch_id>1</mch_id>",
        b"<!DOCTYPE xml [<!ENTITY x \"y\">]><xml><a>&x;</a></xml>",
        b"not xml at all",
    ] {
        let reply = api.post_raw(path, body.to_vec()).await;
        assert_eq!(
            reply.code(),
            "XML_ERROR",
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(reply.get("return_code"), Some("FAIL"));
    }

    // A wrong key: SIGN_ERROR even when fields are also missing (sign first).
    let bad_key = "00000000000000000000000000000000";
    let req = red_packet("10000098202402100000000001", OPENID, 1_000).without("act_name");
    let reply = api.post_raw(path, req.body_with(bad_key, "x")).await;
    assert_eq!(reply.code(), "SIGN_ERROR");
    // sign_type is refused on this MD5-only family.
    let req = red_packet("10000098202402100000000001", OPENID, 1_000).set("sign_type", "MD5");
    assert_eq!(api.code(&req).await, "SIGN_ERROR");
    // A tampered body: the sign no longer matches.
    let body = red_packet("10000098202402100000000001", OPENID, 1_000).body();
    let tampered = String::from_utf8(body)?.replace("<total_amount>1000<", "<total_amount>9000<");
    let reply = api.post_raw(path, tampered.into_bytes()).await;
    assert_eq!(reply.code(), "SIGN_ERROR");

    // Wrong WeCom secret: WORKWX_SIGN_ERROR on pay-to-employee, SIGN_ERROR on WeCom red packets.
    let other_secret = "OtherSecret000000000000000000000";
    let req = pay_employee("PE0001", OPENID, 1_000);
    let reply = api
        .post_raw(req.path, req.body_with(common_key(), other_secret))
        .await;
    assert_eq!(reply.code(), "WORKWX_SIGN_ERROR");
    let req = workwx_red_packet("10000098202402100000000002", OPENID, 1_000);
    let reply = api
        .post_raw(req.path, req.body_with(common_key(), other_secret))
        .await;
    assert_eq!(reply.code(), "SIGN_ERROR");
    assert!(
        reply
            .get("err_code_des")
            .is_some_and(|d| d.contains("企业微信"))
    );

    // Correctly signed but a required field is missing: PARAM_ERROR naming it.
    let req = red_packet("10000098202402100000000003", OPENID, 1_000).without("act_name");
    let reply = api.call(&req).await;
    assert_eq!(reply.code(), "PARAM_ERROR");
    assert_eq!(reply.get("return_code"), Some("SUCCESS"));
    assert!(
        reply
            .get("err_code_des")
            .is_some_and(|d| d.contains("act_name")),
        "{reply:?}"
    );
    let req = red_packet("10000098202402100000000003", OPENID, 1_000).set("total_num", "2");
    assert_eq!(api.code(&req).await, "PARAM_ERROR");

    // Wrong merchant, wrong app id.
    let req = red_packet("10000098202402100000000004", OPENID, 1_000).set("mch_id", "19999999");
    assert_eq!(api.code(&req).await, "PARAM_ERROR");
    let req = red_packet("10000098202402100000000004", OPENID, 1_000)
        .set("wxappid", "wx0000000000000000");
    assert_eq!(api.code(&req).await, "PARAM_ERROR");
    let req = pay_employee("PE0002", OPENID, 1_000).set("appid", "ww0000000000000000");
    assert_eq!(api.code(&req).await, "WORKWX_MCHID_ERROR");

    // None of that moved money.
    assert!(sandbox.ledger().payments.is_empty());

    // Unknown path: 404.
    let response = client
        .post(format!("{}/mmpaymkttransfers/nope", sandbox.url()))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 404);
    sandbox.shutdown().await;
    Ok(())
}

fn common_key() -> &'static str {
    hongbao_sandbox::DEFAULT_API_KEY
}

#[tokio::test]
async fn huge_bodies_and_slow_clients_do_not_hurt_the_server() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).max_body_bytes(16 * 1024).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    // A slow client: half a request head, then silence.
    let mut slow = tokio::net::TcpStream::connect(sandbox.local_addr()).await?;
    tokio::io::AsyncWriteExt::write_all(
        &mut slow,
        b"POST /mmpaymkttransfers/sendredpack HTTP/1.1\r\nHost: x\r\n",
    )
    .await?;
    // A huge body: 413 with XML_ERROR.
    let huge = format!("<xml><remark>{}</remark></xml>", "a".repeat(100_000));
    let reply = api
        .post_raw("/mmpaymkttransfers/sendredpack", huge.into_bytes())
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.code(), "XML_ERROR");
    // Deeply nested garbage.
    let deep = format!("<xml>{}{}</xml>", "<a>".repeat(500), "</a>".repeat(500));
    let reply = api
        .post_raw("/mmpaymkttransfers/sendredpack", deep.into_bytes())
        .await;
    assert_eq!(reply.code(), "XML_ERROR");
    // Invalid UTF-8.
    let reply = api
        .post_raw(
            "/mmpaymkttransfers/sendredpack",
            b"<xml><a>\xff\xfe</a></xml>".to_vec(),
        )
        .await;
    assert_eq!(reply.code(), "XML_ERROR");
    // The server still works, while the slow client hangs on.
    let reply = api
        .call(&red_packet("10000098202402100000000001", OPENID, 1_000))
        .await;
    assert_eq!(reply.code(), "SUCCESS");
    drop(slow);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn red_packet_limits_give_their_codes() -> TestResult {
    let clock = ManualClock::at_default_start();
    let limits = Limits {
        red_packet_user_daily_count: 2,
        red_packet_user_daily_fen: 5_000,
        red_packet_merchant_daily_fen: 9_000,
        ..Limits::default()
    };
    let sandbox = plain(&clock)
        .limits(limits)
        .balance_fen(100_000)
        .start()
        .await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let send = |bill: &str, openid: &str, fen: u64| red_packet(bill, openid, fen);

    // Amount range and scene_id.
    assert_eq!(api.code(&send("B01", "oA", 99)).await, "MONEY_LIMIT");
    assert_eq!(api.code(&send("B02", "oA", 20_001)).await, "MONEY_LIMIT");
    assert_eq!(
        api.code(&send("B03", "oA", 500_000).set("scene_id", "PRODUCT_2"))
            .await,
        "MONEY_LIMIT"
    );
    // Per user per day: count, then amount.
    assert_eq!(api.code(&send("B04", "oA", 100)).await, "SUCCESS");
    assert_eq!(api.code(&send("B05", "oA", 100)).await, "SUCCESS");
    assert_eq!(api.code(&send("B06", "oA", 100)).await, "SENDNUM_LIMIT");
    assert_eq!(api.code(&send("B07", "oB", 4_000)).await, "SUCCESS");
    assert_eq!(
        api.code(&send("B08", "oB", 1_001)).await,
        "RCVDAMOUNT_LIMIT"
    );
    // Merchant per day: 4_200 sent so far, cap 9_000.
    assert_eq!(api.code(&send("B09", "oC", 4_000)).await, "SUCCESS");
    assert_eq!(
        api.code(&send("B10", "oD", 1_000)).await,
        "SENDAMOUNT_LIMIT"
    );
    // The next Beijing day resets every daily counter; the same bill
    // number that hit a limit can be retried (KEEP).
    clock.advance_secs(86_400);
    assert_eq!(api.code(&send("B06", "oA", 100)).await, "SUCCESS");
    // With scene_id, 300 yuan is fine (user cap 50 yuan aside: use a fresh sandbox rule).
    sandbox.set_balance_fen(50);
    assert_eq!(api.code(&send("B11", "oE", 100)).await, "NOTENOUGH");
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn rate_and_time_window_limits() -> TestResult {
    let clock = ManualClock::at_default_start();
    let limits = Limits {
        red_packet_per_minute: 2,
        red_packet_night_ban: true,
        ..Limits::default()
    };
    let sandbox = plain(&clock).limits(limits).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    assert_eq!(api.code(&red_packet("R1", "oA", 100)).await, "SUCCESS");
    assert_eq!(api.code(&red_packet("R2", "oB", 100)).await, "SUCCESS");
    assert_eq!(
        api.code(&red_packet("R3", "oC", 100)).await,
        "SECOND_OVER_LIMITED"
    );
    clock.advance_secs(61);
    assert_eq!(api.code(&red_packet("R3", "oC", 100)).await, "SUCCESS");
    // 03:00 Beijing time: TIME_LIMITED.
    sandbox.set_clock(Timestamp::parse_rfc3339("2024-02-11T03:00:00+08:00")?);
    assert_eq!(api.code(&red_packet("R4", "oD", 100)).await, "TIME_LIMITED");
    sandbox.set_clock(Timestamp::parse_rfc3339("2024-02-11T08:00:00+08:00")?);
    assert_eq!(api.code(&red_packet("R4", "oD", 100)).await, "SUCCESS");
    // A large packet with scene_id passes.
    let big = red_packet("R5", "oE", 30_000).set("scene_id", "PRODUCT_2");
    assert_eq!(api.code(&big).await, "SUCCESS");
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn payout_limits_give_their_codes() -> TestResult {
    let clock = ManualClock::at_default_start();
    let limits = Limits {
        employee_user_daily_count: 2,
        transfer_user_daily_count: 1,
        ..Limits::default()
    };
    let sandbox = plain(&clock).limits(limits).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    // Pay to employee: minimum, single maximum, 15-second spacing, daily count.
    assert_eq!(
        api.code(&pay_employee("P1", "oA", 99)).await,
        "AMOUNT_LIMIT"
    );
    assert_eq!(
        api.code(&pay_employee("P1", "oA", 20_001)).await,
        "AMOUNT_LIMIT"
    );
    assert_eq!(api.code(&pay_employee("P1", "oA", 10_000)).await, "SUCCESS");
    assert_eq!(
        api.code(&pay_employee("P2", "oA", 5_000)).await,
        "FREQ_LIMIT"
    );
    clock.advance_secs(15);
    assert_eq!(api.code(&pay_employee("P2", "oA", 5_000)).await, "SUCCESS");
    clock.advance_secs(15);
    assert_eq!(
        api.code(&pay_employee("P3", "oA", 100)).await,
        "SENDNUM_LIMIT"
    );
    // Daily amount per employee: 150 yuan paid of 200.
    assert_eq!(api.code(&pay_employee("P4", "oB", 15_000)).await, "SUCCESS");
    clock.advance_secs(15);
    assert_eq!(
        api.code(&pay_employee("P5", "oB", 5_001)).await,
        "MONEY_LIMIT"
    );
    // Transfers: minimum and daily count.
    assert_eq!(api.code(&transfer("T1", "oA", 99)).await, "AMOUNT_LIMIT");
    assert_eq!(api.code(&transfer("T1", "oA", 100)).await, "SUCCESS");
    clock.advance_secs(15);
    assert_eq!(api.code(&transfer("T2", "oA", 100)).await, "SENDNUM_LIMIT");
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn idempotency_by_bill_number() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).failing_openid("oBlocked").start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let bill = "10000098202402100000000001";
    let first = api.call(&red_packet(bill, OPENID, 1_000)).await;
    assert_eq!(first.code(), "SUCCESS");
    let id = first.get("send_listid").map(str::to_owned);
    assert!(id.as_ref().is_some_and(|id| id.len() == 28));

    // Same bill, same parameters (a new nonce and another client IP): the
    // original result, no second payment.
    let again = red_packet(bill, OPENID, 1_000)
        .set("nonce_str", "AnotherNonce123")
        .set("client_ip", "10.0.0.9");
    let second = api.call(&again).await;
    assert_eq!(second.code(), "SUCCESS");
    assert_eq!(second.get("send_listid").map(str::to_owned), id);
    let ledger = sandbox.ledger();
    assert_eq!(ledger.payments.len(), 1);
    assert_eq!(ledger.payments[0].times_requested, 2);
    assert_eq!(ledger.balance_fen, 10_000_000 - 1_000);

    // Another openid → FATAL_ERROR; another amount → PARAM_ERROR; another
    // text → FATAL_ERROR. Nothing more is paid.
    assert_eq!(
        api.code(&red_packet(bill, "oSomeoneElse", 1_000)).await,
        "FATAL_ERROR"
    );
    let reply = api.call(&red_packet(bill, OPENID, 2_000)).await;
    assert_eq!(reply.code(), "PARAM_ERROR");
    assert!(
        reply
            .get("err_code_des")
            .is_some_and(|d| d.contains("原始单"))
    );
    let changed = red_packet(bill, OPENID, 1_000).set("wishing", "另一个祝福");
    assert_eq!(api.code(&changed).await, "FATAL_ERROR");
    let ledger = sandbox.ledger();
    assert_eq!(ledger.payments.len(), 1);
    assert_eq!(ledger.payments[0].times_requested, 5);
    assert_eq!(ledger.balance_fen, 10_000_000 - 1_000);

    // Bill numbers are per product line: the same number on a transfer is new.
    assert_eq!(api.code(&transfer(bill, OPENID, 1_000)).await, "SUCCESS");

    // A definite failure sticks to its bill number, and queries say FAILED.
    let failed = "10000098202402100000000002";
    assert_eq!(
        api.code(&red_packet(failed, "oBlocked", 1_000)).await,
        "SEND_FAILED"
    );
    assert_eq!(
        api.code(&red_packet(failed, "oBlocked", 1_000)).await,
        "SEND_FAILED"
    );
    let query = api.call(&query_red_packet(failed)).await;
    assert_eq!(query.code(), "SUCCESS");
    assert_eq!(query.get("status"), Some("FAILED"));
    assert_eq!(
        api.code(&transfer("T9", "oBlocked", 1_000)).await,
        "V2_ACCOUNT_SIMPLE_BAN"
    );
    // A limit is not a definite failure: the same number works once lifted.
    sandbox.set_balance_fen(10);
    assert_eq!(
        api.code(&red_packet("B3", OPENID, 1_000)).await,
        "NOTENOUGH"
    );
    sandbox.set_balance_fen(1_000_000);
    assert_eq!(api.code(&red_packet("B3", OPENID, 1_000)).await, "SUCCESS");
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn red_packets_are_received_on_the_clock() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock)
        .progression(Progression {
            receive_after_secs: Some(120),
            ..Progression::default()
        })
        .start()
        .await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let bill = "10000098202402100000000001";
    assert_eq!(api.code(&red_packet(bill, OPENID, 1_000)).await, "SUCCESS");
    let query = api.call(&query_red_packet(bill)).await;
    assert_eq!(query.get("status"), Some("SENT"));
    assert_eq!(query.get("send_time"), Some("2024-02-10 10:00:00"));
    assert_eq!(query.get("hb_type"), Some("NORMAL"));
    assert!(query.records.is_empty());
    clock.advance_secs(119);
    assert_eq!(
        api.call(&query_red_packet(bill)).await.get("status"),
        Some("SENT")
    );
    clock.advance_secs(1);
    let query = api.call(&query_red_packet(bill)).await;
    assert_eq!(query.get("status"), Some("RECEIVED"));
    assert_eq!(query.records.len(), 1);
    let record: std::collections::BTreeMap<_, _> = query.records[0].iter().cloned().collect();
    assert_eq!(record.get("openid").map(String::as_str), Some(OPENID));
    assert_eq!(record.get("amount").map(String::as_str), Some("1000"));
    assert_eq!(
        record.get("rcv_time").map(String::as_str),
        Some("2024-02-10 10:02:00")
    );

    // WeCom packets report the receiver flat, in a signed reply.
    assert_eq!(
        api.code(&workwx_red_packet("W1", OPENID, 1_000)).await,
        "SUCCESS"
    );
    clock.advance_secs(120);
    let query = api.call(&query_workwx_red_packet("W1")).await;
    assert_eq!(query.get("status"), Some("RECEIVED"));
    assert_eq!(query.get("rcv_time"), Some("2024-02-10 10:04:00"));
    assert!(query.sign_verifies());

    // A group packet is shared out among total_num receivers, seed user first.
    let group = group_red_packet("G1", OPENID, 3_001, 3);
    assert_eq!(api.code(&group).await, "SUCCESS");
    clock.advance_secs(120);
    let query = api.call(&query_red_packet("G1")).await;
    assert_eq!(query.get("status"), Some("RECEIVED"));
    let amounts: Vec<&str> = query
        .records
        .iter()
        .filter_map(|r| {
            r.iter()
                .find(|(n, _)| n == "amount")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(amounts, ["1001", "1000", "1000"]);
    assert_eq!(
        query.records[0][0],
        ("openid".to_owned(), OPENID.to_owned())
    );

    // Queries see 30 days back.
    clock.advance_secs(30 * 86_400);
    let query = api.call(&query_red_packet(bill)).await;
    assert_eq!(query.code(), "NOT_FOUND");

    // Not found (never a failure).
    let query = api.call(&query_red_packet("NoSuchBill")).await;
    assert_eq!(query.code(), "NOT_FOUND");
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unopened_red_packets_are_refunded_after_24_hours() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock)
        .progression(Progression {
            receive_after_secs: None,
            ..Progression::default()
        })
        .start()
        .await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let bill = "10000098202402100000000001";
    assert_eq!(
        api.code(&group_red_packet(bill, OPENID, 3_000, 3)).await,
        "SUCCESS"
    );
    assert_eq!(sandbox.ledger().balance_fen, 10_000_000 - 3_000);
    clock.advance_secs(86_400);
    let query = api.call(&query_red_packet(bill)).await;
    assert_eq!(query.get("status"), Some("RFUND_ING"));
    assert_eq!(query.get("hb_type"), Some("GROUP"));
    assert_eq!(query.get("total_num"), Some("3"));
    clock.advance_secs(3_600);
    let query = api.call(&query_red_packet(bill)).await;
    assert_eq!(query.get("status"), Some("REFUND"));
    assert_eq!(query.get("refund_amount"), Some("3000"));
    assert_eq!(query.get("refund_time"), Some("2024-02-11 11:00:00"));
    let ledger = sandbox.ledger();
    assert_eq!(ledger.balance_fen, 10_000_000);
    assert_eq!(ledger.payments[0].status, "REFUND");
    assert_eq!(ledger.payments[0].updated, "2024-02-11T11:00:00+08:00");
    sandbox.shutdown().await;
    Ok(())
}

/// What the client saw: a code, or "DROP" for a closed connection, or
/// "MALFORMED" for a body that does not parse.
async fn outcome(
    client: &reqwest::Client,
    sandbox: &hongbao_sandbox::SandboxHandle,
    req: &Req,
) -> String {
    let response = match client
        .post(format!("{}{}", sandbox.url(), req.path))
        .body(req.body())
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return "TIMEOUT".into(),
        Err(_) => return "DROP".into(),
    };
    let status = response.status().as_u16();
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => return "TIMEOUT".into(),
        Err(_) => return "DROP".into(),
    };
    match hongbao_proto::RawXml::parse(&bytes) {
        Ok(_) => parse_reply(status, &bytes).code().to_owned(),
        Err(_) => "MALFORMED".into(),
    }
}

#[tokio::test]
async fn each_fault_kind() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).limits(relaxed_limits()).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let quick = http_client_with_timeout(&sandbox, false, std::time::Duration::from_millis(100));

    let cases = [
        (FaultKind::SystemerrorBeforeCommit, "SYSTEMERROR", false),
        (FaultKind::SystemerrorAfterCommit, "SYSTEMERROR", true),
        (FaultKind::ProcessingAfterCommit, "PROCESSING", true),
        (FaultKind::DropAfterCommit, "DROP", true),
        (FaultKind::MalformedReply, "MALFORMED", true),
        (FaultKind::UnknownFields, "SUCCESS", true),
        (FaultKind::UnknownErrorCode, "268458547", true),
        (FaultKind::DelayAfterCommit, "TIMEOUT", true),
    ];
    for (i, (kind, seen, commits)) in cases.into_iter().enumerate() {
        let mut faults = FaultConfig::always(kind);
        faults.delay_ms = 250;
        sandbox.set_faults(faults)?;
        let bill = format!("F{i:02}");
        let c = if kind == FaultKind::DelayAfterCommit {
            &quick
        } else {
            &client
        };
        let req = transfer(&bill, &format!("oUser{i}"), 1_000);
        assert_eq!(outcome(c, &sandbox, &req).await, seen, "{kind}");
        // A client that gave up early (the delay fault) may be ahead of the
        // server on a loaded machine: give a committing fault a moment.
        let recorded = |sandbox: &hongbao_sandbox::SandboxHandle| {
            sandbox.ledger().payments.iter().any(|p| p.bill == bill)
        };
        let mut waited = 0;
        while commits && !recorded(&sandbox) && waited < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            waited += 1;
        }
        assert_eq!(recorded(&sandbox), commits, "{kind}");
        // The retry with faults off tells the truth (once an in-progress
        // payment has finished), and never pays twice.
        sandbox.set_faults(FaultConfig::none())?;
        if kind == FaultKind::ProcessingAfterCommit {
            assert_eq!(api.code(&req).await, "PROCESSING");
            clock.advance_secs(60);
        }
        assert_eq!(api.code(&req).await, "SUCCESS", "{kind}");
        let count = sandbox
            .ledger()
            .payments
            .iter()
            .filter(|p| p.bill == bill)
            .count();
        assert_eq!(count, 1, "{kind}");
    }
    // PROCESSING: the payment is in progress until processing_secs pass.
    sandbox.set_faults(FaultConfig::always(FaultKind::ProcessingAfterCommit))?;
    assert_eq!(
        api.code(&red_packet("P1", OPENID, 1_000)).await,
        "PROCESSING"
    );
    sandbox.set_faults(FaultConfig::none())?;
    assert_eq!(
        api.call(&query_red_packet("P1")).await.get("status"),
        Some("SENDING")
    );
    assert_eq!(
        api.code(&red_packet("P1", OPENID, 1_000)).await,
        "PROCESSING"
    );
    clock.advance_secs(60);
    assert_eq!(
        api.call(&query_red_packet("P1")).await.get("status"),
        Some("SENT")
    );
    // Unknown fields on a signed endpoint: still signed correctly.
    sandbox.set_faults(FaultConfig::always(FaultKind::UnknownFields))?;
    let reply = api.call(&workwx_red_packet("W1", OPENID, 1_000)).await;
    assert_eq!(reply.code(), "SUCCESS");
    assert!(reply.get("sandbox_future_field").is_some());
    assert!(reply.sign_verifies());
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn faults_are_reproducible_from_the_seed() -> TestResult {
    let mut faults = FaultConfig::none();
    faults.drop_after_commit = 0.25;
    faults.unknown_error_code = 0.25;
    faults.systemerror_before_commit = 0.2;
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let clock = ManualClock::at_default_start();
        let sandbox = plain(&clock)
            .limits(Limits::unlimited())
            .faults(faults.clone())
            .seed(seed)
            .start()
            .await?;
        let client = http_client(&sandbox, false);
        let mut seen = Vec::new();
        for i in 0..24 {
            seen.push(
                outcome(
                    &client,
                    &sandbox,
                    &transfer(&format!("S{i}"), &format!("o{i}"), 100),
                )
                .await,
            );
        }
        sandbox.shutdown().await;
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
    for kind in ["DROP", "268458547", "SYSTEMERROR", "SUCCESS"] {
        assert!(
            runs[0].iter().any(|s| s == kind),
            "{kind} never drawn: {:?}",
            runs[0]
        );
    }
    Ok(())
}

#[tokio::test]
async fn admin_api() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let (status, health) = api.admin(Method::GET, "health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["now"], "2024-02-10T10:00:00+08:00");

    assert_eq!(api.code(&red_packet("A1", OPENID, 1_000)).await, "SUCCESS");
    let (_, ledger) = api.admin(Method::GET, "ledger", None).await;
    let payment = &ledger["payments"][0];
    assert_eq!(payment["endpoint"], "sendredpack");
    assert_eq!(payment["bill"], "A1");
    assert_eq!(payment["openid"], OPENID);
    assert_eq!(payment["amount_fen"], 1_000);
    assert_eq!(payment["status"], "SENT");
    assert_eq!(payment["times_requested"], 1);
    assert_eq!(payment["created"], "2024-02-10T10:00:00+08:00");
    assert_eq!(ledger["balance_fen"], 10_000_000 - 1_000);

    // Requests per endpoint, refusals included (the ledger holds payments only).
    sandbox.set_balance_fen(0);
    assert_eq!(
        api.code(&red_packet("A2", OPENID, 1_000)).await,
        "NOTENOUGH"
    );
    sandbox.set_balance_fen(10_000_000 - 1_000);
    let (status, requests) = api.admin(Method::GET, "requests", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        requests["requests"],
        serde_json::json!({ "sendredpack": 2 })
    );
    assert_eq!(sandbox.requests().get("sendredpack"), Some(&2));

    // Faults: partial update, seed, validation.
    let (status, faults) = api
        .admin(
            Method::POST,
            "faults",
            Some(r#"{"drop_after_commit":0.5,"seed":9}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(faults["faults"]["drop_after_commit"], 0.5);
    assert_eq!(faults["seed"], 9);
    for bad in [
        r#"{"drop_after_commit":1.5}"#,
        r#"{"nonsense":1}"#,
        "not json",
        r#"{"malformed_reply":0.9}"#,
    ] {
        let (status, body) = api.admin(Method::POST, "faults", Some(bad)).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string());
    }
    assert_eq!(sandbox.faults().drop_after_commit, 0.5);

    // Clock.
    let (_, now) = api
        .admin(Method::POST, "clock", Some(r#"{"advance_secs":120}"#))
        .await;
    assert_eq!(now["now"], "2024-02-10T10:02:00+08:00");
    let (_, now) = api
        .admin(
            Method::POST,
            "clock",
            Some(r#"{"set":"2024-03-01T09:30:00+08:00"}"#),
        )
        .await;
    assert_eq!(now["now"], "2024-03-01T09:30:00+08:00");
    for bad in [
        r#"{"advance_secs":9223372036854775807}"#,
        r#"{"set":"yesterday"}"#,
        r#"{}"#,
        r#"{"advance_secs":1,"set":"2024-03-01T09:30:00+08:00"}"#,
        r#"{"advance_secs":"x"}"#,
    ] {
        let (status, _) = api.admin(Method::POST, "clock", Some(bad)).await;
        assert_eq!(status, 400, "{bad}");
    }
    // The packet was opened while the clock moved.
    let (_, ledger) = api.admin(Method::GET, "ledger", None).await;
    assert_eq!(ledger["payments"][0]["status"], "RECEIVED");

    // Balance.
    let (_, balance) = api
        .admin(Method::POST, "balance", Some(r#"{"balance_fen":500}"#))
        .await;
    assert_eq!(balance["balance_fen"], 500);
    let (_, balance) = api
        .admin(Method::POST, "balance", Some(r#"{"add_fen":250}"#))
        .await;
    assert_eq!(balance["balance_fen"], 750);
    // Yuan as proto's Amount writes it: one formatter in the workspace.
    assert_eq!(balance["balance_yuan"], "7.50");
    let (_, balance) = api.admin(Method::GET, "balance", None).await;
    assert_eq!(balance["balance_yuan"], "7.50");
    let (status, _) = api
        .admin(Method::POST, "balance", Some(r#"{"balance_fen":-1}"#))
        .await;
    assert_eq!(status, 400);

    // Reset.
    let (status, _) = api.admin(Method::POST, "reset", None).await;
    assert_eq!(status, 200);
    let snapshot = sandbox.ledger();
    assert!(snapshot.payments.is_empty());
    assert_eq!(snapshot.balance_fen, 10_000_000);
    assert!(!sandbox.faults().any());
    assert!(sandbox.requests().is_empty());

    // Unknown paths and wrong methods.
    let (status, body) = api.admin(Method::GET, "nope", None).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    let (status, _) = api.admin(Method::GET, "reset", None).await;
    assert_eq!(status, 405);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn wecom_secrets_per_agent() -> TestResult {
    let clock = ManualClock::at_default_start();
    let app_secret = "AgentSecret0000000000000000000001";
    let sandbox = plain(&clock)
        .without_default_workwx_secret()
        .workwx_secret_for_agent("1000002", hongbao_sign::WorkwxSecret::new(app_secret)?)
        .start()
        .await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let key = hongbao_sandbox::DEFAULT_API_KEY;
    // Signed with the app's own secret: paid.
    let req = pay_employee("PA1", OPENID, 1_000).set("agentid", "1000002");
    let reply = api.post_raw(req.path, req.body_with(key, app_secret)).await;
    assert_eq!(reply.code(), "SUCCESS");
    // The default test secret is not configured here.
    let req = pay_employee("PA2", "oOther", 1_000).set("agentid", "1000002");
    let reply = api.post_raw(req.path, req.body()).await;
    assert_eq!(reply.code(), "WORKWX_SIGN_ERROR");
    // No agentid and no default secret: nobody can sign.
    let req = pay_employee("PA3", "oOther", 1_000);
    let reply = api.post_raw(req.path, req.body_with(key, app_secret)).await;
    assert_eq!(reply.code(), "WORKWX_SIGN_ERROR");
    // WeCom red packets in the app's name use the same secret.
    let req = workwx_red_packet("WA1", OPENID, 1_000);
    let reply = api.post_raw(req.path, req.body_with(key, app_secret)).await;
    assert_eq!(reply.code(), "SUCCESS");
    assert!(reply.sign_verifies());
    assert_eq!(sandbox.ledger().payments.len(), 2);
    sandbox.shutdown().await;
    Ok(())
}

// Fidelity: the sandbox answers as WeChat does (issue #11).

#[tokio::test]
async fn red_packet_per_minute_limit_answers_second_over_limited() -> TestResult {
    let clock = ManualClock::at_default_start();
    let limits = Limits {
        red_packet_per_minute: 1,
        ..Limits::default()
    };
    let sandbox = plain(&clock).limits(limits).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    assert_eq!(api.code(&red_packet("M1", "oA", 100)).await, "SUCCESS");
    let reply = api.call(&red_packet("M2", "oB", 100)).await;
    assert_eq!(reply.code(), "SECOND_OVER_LIMITED");
    assert_eq!(reply.get("result_code"), Some("FAIL"));
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn wecom_red_packets_do_not_share_the_cash_per_minute_quota() -> TestResult {
    let clock = ManualClock::at_default_start();
    let limits = Limits {
        red_packet_per_minute: 1,
        ..Limits::default()
    };
    let sandbox = plain(&clock).limits(limits).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    // The cash red packets' minute is used up; WeCom still has its own.
    assert_eq!(api.code(&red_packet("C1", "oA", 100)).await, "SUCCESS");
    assert_eq!(
        api.code(&red_packet("C2", "oA", 100)).await,
        "SECOND_OVER_LIMITED"
    );
    assert_eq!(
        api.code(&workwx_red_packet("W1", "oA", 100)).await,
        "SUCCESS"
    );
    // WeCom's own minute is used up now, with WeCom's code.
    assert_eq!(
        api.code(&workwx_red_packet("W2", "oB", 100)).await,
        "FREQ_LIMIT"
    );
    clock.advance_secs(61);
    assert_eq!(
        api.code(&workwx_red_packet("W2", "oB", 100)).await,
        "SUCCESS"
    );
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unknown_merchant_on_wecom_endpoints_answers_no_competence() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let other = "19999999";
    for req in [
        workwx_red_packet("W1", OPENID, 1_000).set("mch_id", other),
        query_workwx_red_packet("W1").set("mch_id", other),
        pay_employee("P1", OPENID, 1_000).set("mch_id", other),
        query_pay_employee("P1").set("mch_id", other),
    ] {
        assert_eq!(api.code(&req).await, "NO_COMPETENCE", "{}", req.path);
    }
    // The cash red packets and transfers keep PARAM_ERROR.
    assert_eq!(
        api.code(&red_packet("B1", OPENID, 1_000).set("mch_id", other))
            .await,
        "PARAM_ERROR"
    );
    assert_eq!(
        api.code(&transfer("T1", OPENID, 1_000).set("mchid", other))
            .await,
        "PARAM_ERROR"
    );
    assert!(sandbox.ledger().payments.is_empty());
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn changed_pay_employee_request_answers_fatal_error() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).limits(relaxed_limits()).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let trade = "10000098202402100000000007";
    assert_eq!(
        api.code(&pay_employee(trade, OPENID, 1_000)).await,
        "SUCCESS"
    );
    // Another amount, another description, another payee: all FATAL_ERROR.
    for changed in [
        pay_employee(trade, OPENID, 2_000),
        pay_employee(trade, OPENID, 1_000).set("desc", "七月出差报销费用"),
        pay_employee(trade, "oSomeoneElse", 1_000),
    ] {
        assert_eq!(api.code(&changed).await, "FATAL_ERROR");
    }
    // The identical request still answers the original payment.
    assert_eq!(
        api.code(&pay_employee(trade, OPENID, 1_000)).await,
        "SUCCESS"
    );
    assert_eq!(sandbox.ledger().payments.len(), 1);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn below_one_yuan_with_scene_id_follows_the_above_200_rule() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).limits(relaxed_limits()).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    // Without scene_id: below 1 yuan is refused, as above 200 yuan is.
    assert_eq!(api.code(&red_packet("S1", "oA", 50)).await, "MONEY_LIMIT");
    assert_eq!(
        api.code(&red_packet("S2", "oA", 20_001)).await,
        "MONEY_LIMIT"
    );
    // With scene_id: both are accepted.
    assert_eq!(
        api.code(&red_packet("S1", "oA", 50).set("scene_id", "PRODUCT_1"))
            .await,
        "SUCCESS"
    );
    assert_eq!(
        api.code(&red_packet("S2", "oA", 20_001).set("scene_id", "PRODUCT_1"))
            .await,
        "SUCCESS"
    );
    assert_eq!(
        api.code(&workwx_red_packet("S3", "oA", 50).set("scene_id", "PRODUCT_4"))
            .await,
        "SUCCESS"
    );
    assert_eq!(
        api.code(&workwx_red_packet("S4", "oA", 50)).await,
        "MONEY_LIMIT"
    );
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pay_employee_failure_replies_carry_nonce_str() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let reply = api.call(&pay_employee("P1", OPENID, 99)).await;
    assert_eq!(reply.code(), "AMOUNT_LIMIT");
    let nonce = reply.get("nonce_str").unwrap_or("");
    assert_eq!(nonce.len(), 32, "a fresh nonce_str: {nonce:?}");
    assert_eq!(reply.get("appid"), Some("wx8888888888888888"));
    // A PARAM_ERROR carries one too.
    let reply = api
        .call(&pay_employee("P2", OPENID, 1_000).without("desc"))
        .await;
    assert_eq!(reply.code(), "PARAM_ERROR");
    assert!(reply.get("nonce_str").is_some_and(|n| !n.is_empty()));
    // Transfers' failures do not (their reply has no such field on failure).
    let reply = api.call(&transfer("T1", OPENID, 99)).await;
    assert_eq!(reply.code(), "AMOUNT_LIMIT");
    assert_eq!(reply.get("nonce_str"), None);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn malformed_bill_numbers_answer_param_error() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let too_long = "1".repeat(29);
    for bill in ["B-01", "账单1", too_long.as_str()] {
        assert_eq!(
            api.code(&red_packet(bill, OPENID, 1_000)).await,
            "PARAM_ERROR",
            "{bill}"
        );
        assert_eq!(
            api.code(&query_red_packet(bill)).await,
            "PARAM_ERROR",
            "{bill}"
        );
        assert_eq!(
            api.code(&workwx_red_packet(bill, OPENID, 1_000)).await,
            "PARAM_ERROR",
            "{bill}"
        );
    }
    let too_long = "1".repeat(33);
    for trade in ["T_01", too_long.as_str()] {
        assert_eq!(
            api.code(&transfer(trade, OPENID, 1_000)).await,
            "PARAM_ERROR",
            "{trade}"
        );
        assert_eq!(
            api.code(&query_pay_employee(trade)).await,
            "PARAM_ERROR",
            "{trade}"
        );
    }
    assert!(sandbox.ledger().payments.is_empty());
    sandbox.shutdown().await;
    Ok(())
}

/// What WeChat accepts (1–28 / 1–32 ASCII letters and digits, the
/// documented `mch_id + yyyymmdd + 10 digits` being only a suggestion) is
/// what our generators emit: the documented layout, `BillNo::random` with
/// and without a prefix, and `TradeNo::random` are all accepted.
#[tokio::test]
async fn generated_bill_numbers_are_accepted() -> TestResult {
    use hongbao_proto::{BillNo, Date, TradeNo};
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).limits(relaxed_limits()).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let mch_id = hongbao_sandbox::DEFAULT_MCH_ID;
    let date = Date::new(2026, 11, 30)?;
    let entropy = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
    let bills = [
        BillNo::generate(mch_id, date, 17)?,
        BillNo::random(mch_id, date, "", entropy)?,
        BillNo::random(mch_id, date, "batch7", entropy)?,
    ];
    for (i, bill) in bills.iter().enumerate() {
        let openid = format!("oSandboxGen{i}");
        let reply = api.call(&red_packet(bill.as_str(), &openid, 1_000)).await;
        assert_eq!(reply.code(), "SUCCESS", "{bill}");
        assert_eq!(reply.get("mch_billno"), Some(bill.as_str()));
    }
    for (i, trade) in [
        TradeNo::generate(mch_id, date, 17)?,
        TradeNo::random(mch_id, date, "batch7", entropy)?,
    ]
    .iter()
    .enumerate()
    {
        let openid = format!("oSandboxTrade{i}");
        let reply = api.call(&transfer(trade.as_str(), &openid, 1_000)).await;
        assert_eq!(reply.code(), "SUCCESS", "{trade}");
    }
    // The empty number is refused like any other malformed one.
    assert_eq!(
        api.code(&red_packet("", OPENID, 1_000)).await,
        "PARAM_ERROR"
    );
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn workwx_red_packet_may_name_neither_sender_name_nor_agentid() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = plain(&clock).start().await?;
    let client = http_client(&sandbox, false);
    let api = Api::new(&client, &sandbox);
    let neither = workwx_red_packet("W1", OPENID, 1_000).without("agentid");
    assert_eq!(api.code(&neither).await, "SUCCESS");
    let both = workwx_red_packet("W2", OPENID, 1_000).set("sender_name", "张三");
    assert_eq!(api.code(&both).await, "PARAM_ERROR");
    sandbox.shutdown().await;
    Ok(())
}
