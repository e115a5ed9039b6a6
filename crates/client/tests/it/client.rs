//! Builder, secrets, sandbox key, rate limits through the client, logging.
#![cfg(feature = "test-util")]
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::proto::AmtType;
use hongbao::transport::{HttpRequest, HttpResponse, Transport};
use hongbao::{
    Amount, ApiKey, BillNo, Client, ClientError, ConfigError, Endpoint, GroupRedPacket,
    MiniProgramRedPacket, OpenId, RateLimitError, RateLimiter, RateRequest, RedPacketQuery,
    RetryPolicy, SignKeyRequest, WorkwxSecret,
};
use tokio::time::Instant;

#[test]
fn build_reports_each_missing_setting() {
    let mock = MockTransport::new();
    let key = || ApiKey::new(API_KEY).unwrap();
    let transport = || -> Arc<dyn hongbao::Transport> { Arc::new(mock.clone()) };
    let missing = |b: hongbao::ClientBuilder| match b.build() {
        Err(ConfigError::Missing { field }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        missing(
            Client::builder()
                .appid(APPID)
                .api_key(key())
                .transport(transport())
        ),
        "mch_id"
    );
    assert_eq!(
        missing(
            Client::builder()
                .mch_id(MCH_ID)
                .api_key(key())
                .transport_arc(transport())
        ),
        "appid"
    );
    assert_eq!(
        missing(
            Client::builder()
                .mch_id(MCH_ID)
                .appid(APPID)
                .transport(transport())
        ),
        "api_key"
    );
    assert_eq!(
        missing(
            Client::builder()
                .mch_id("")
                .appid(APPID)
                .api_key(key())
                .transport(transport())
        ),
        "mch_id"
    );

    let invalid = |b: hongbao::ClientBuilder| match b.build() {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        invalid(builder(&mock).base_url("http://api.mch.weixin.qq.com")),
        "base_url"
    );
    assert_eq!(invalid(builder(&mock).mch_id("1000 0098")), "mch_id");
    assert_eq!(
        invalid(
            builder(&mock)
                .workwx_secret_for_agent("app-one", WorkwxSecret::new(AGENT_SECRET).unwrap())
        ),
        "workwx_secret_for_agent"
    );
    assert_eq!(
        invalid(
            builder(&mock).timeouts(
                hongbao::Timeouts::default()
                    .with_connect(Duration::ZERO)
                    .with_request(Duration::from_secs(1))
            )
        ),
        "timeouts"
    );

    // Without a transport, the built-in one needs the merchant certificate.
    let err = Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(key())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::NoTransport), "{err:?}");
    // Settings of the built-in transport conflict with a custom one.
    #[cfg(feature = "reqwest")]
    {
        let err = builder(&mock)
            .extra_ca_pem("-----BEGIN CERTIFICATE-----")
            .build()
            .unwrap_err();
        let conflict = |e: &ConfigError| match e {
            ConfigError::TransportConflict { setting } => *setting,
            _ => "",
        };
        assert_eq!(conflict(&err), "extra_ca_pem", "{err:?}");
        let err = builder(&mock)
            .proxy("http://proxy.invalid:3128")
            .build()
            .unwrap_err();
        assert_eq!(conflict(&err), "proxy", "{err:?}");
    }
}

#[test]
fn base_url_is_normalized() {
    let mock = MockTransport::new();
    let client = builder(&mock)
        .base_url("https://127.0.0.1:8443/")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "https://127.0.0.1:8443");
    assert_eq!(client.mch_id(), MCH_ID);
    assert_eq!(client.appid(), APPID);
}

/// A merchant certificate (issued by a throwaway CA) as PEM.
#[cfg(feature = "reqwest")]
fn test_identity() -> (hongbao::ClientIdentity, String) {
    let ca = rcgen::generate_simple_self_signed(vec!["hongbao test CA".to_owned()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["merchant".to_owned()]).unwrap();
    let identity = hongbao::ClientIdentity::from_pem(
        client.cert.pem().as_bytes(),
        client.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    (identity, ca.cert.pem())
}

#[cfg(feature = "reqwest")]
#[tokio::test]
async fn built_in_transport_with_identity_and_extra_ca() {
    let (identity, ca_pem) = test_identity();
    let client = Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(ApiKey::new(API_KEY).unwrap())
        .identity(identity.clone())
        .extra_ca_pem(ca_pem)
        // Nothing listens on port 9 of 127.0.0.1: the connection is refused.
        .base_url("https://127.0.0.1:9")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let debug = format!("{client:?}");
    assert!(debug.contains("ReqwestTransport"), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    let err = client.send_red_packet(&red_packet(BILL)).await.unwrap_err();
    assert!(matches!(&err, ClientError::NotSent { .. }), "{err:?}");

    // The identity cannot be combined with a custom transport.
    let mock = MockTransport::new();
    let err = builder(&mock).identity(identity).build().unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::TransportConflict {
                setting: "identity"
            }
        ),
        "{err:?}"
    );
    // An extra CA that is not a certificate is a configuration error.
    let err = Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(ApiKey::new(API_KEY).unwrap())
        .identity(test_identity().0)
        .extra_ca_pem("not a pem")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn get_sign_key_returns_the_sandbox_key() {
    let mock = MockTransport::new();
    mock.push_reply(
        200,
        xml(&[
            ("return_code", "SUCCESS"),
            ("return_msg", "ok"),
            ("mch_id", MCH_ID),
            ("sandbox_signkey", "0123456789abcdef0123456789abcdef"),
        ]),
    );
    let client = single_shot(&mock);
    let key = client.get_sign_key(&SignKeyRequest).await.unwrap();
    assert_eq!(key.expose(), "0123456789abcdef0123456789abcdef");
    assert!(!format!("{key:?}").contains("0123456789abcdef"));
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path(), "/sandboxnew/pay/getsignkey");
    assert!(!sent.client_cert_required);
    assert_eq!(sent.field("mch_id").as_deref(), Some(MCH_ID));
    let fields = sent.fields().unwrap();
    signer()
        .verify_reply(fields.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap();

    mock.push_reply(
        200,
        xml(&[("return_code", "FAIL"), ("return_msg", "签名错误")]),
    );
    let err = client.get_sign_key(&SignKeyRequest).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Failed { reason, .. } if reason.contains("签名错误")),
        "{err:?}"
    );
    mock.fail_after_send();
    assert!(matches!(
        client.get_sign_key(&SignKeyRequest).await,
        Err(ClientError::Failed { .. })
    ));
    mock.fail_before_send();
    assert!(matches!(
        client.get_sign_key(&SignKeyRequest).await,
        Err(ClientError::NotSent { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn payments_to_one_employee_are_15_seconds_apart() {
    let mock = MockTransport::new();
    let times = Times::default();
    for _ in 0..3 {
        let t = times.clone();
        mock.push_fn(move |r| {
            t.mark();
            Ok(send_success(r, false))
        });
    }
    let client = client(&mock);
    let started = Instant::now();
    assert!(
        client
            .pay_employee(&pay_employee("T1", OPENID))
            .await
            .unwrap()
            .is_paid()
    );
    assert!(
        client
            .pay_employee(&pay_employee("T2", "another_employee"))
            .await
            .unwrap()
            .is_paid()
    );
    assert!(
        client
            .pay_employee(&pay_employee("T3", OPENID))
            .await
            .unwrap()
            .is_paid()
    );
    let gaps = times.gaps();
    assert_eq!(gaps[0], Duration::ZERO, "another employee is not delayed");
    assert!(started.elapsed() >= Duration::from_secs(15));
    assert!(gaps[0] + gaps[1] >= Duration::from_secs(15), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn sends_per_minute_are_limited_by_default() {
    let mock = MockTransport::from_fn(|r| Ok(send_success(r, false)));
    let client = client(&mock);
    let started = Instant::now();
    for i in 0..60 {
        let bill = format!("B{i}");
        assert!(
            client
                .send_red_packet(&red_packet(&bill))
                .await
                .unwrap()
                .is_paid()
        );
    }
    // 30 at once, then 30 per second: the 60th starts 1 s after the 30th.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1100),
        "{elapsed:?}"
    );
}

/// What a rate limiter saw: endpoint, bill, payee, attempt.
type Seen = (Endpoint, String, Option<String>, u32);

#[derive(Debug, Default)]
struct Recording {
    attempts: Mutex<Vec<Seen>>,
    fail: bool,
    calls: AtomicU32,
}

#[hongbao::transport::async_trait]
impl RateLimiter for Recording {
    async fn acquire(&self, request: &RateRequest<'_>) -> Result<(), RateLimitError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(RateLimitError::new("shared store unreachable"));
        }
        self.attempts.lock().unwrap().push((
            request.endpoint,
            request.bill.to_owned(),
            request.payee.map(str::to_owned),
            request.attempt,
        ));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn custom_rate_limiter_sees_every_send_attempt_but_no_query() {
    let mock = MockTransport::new();
    mock.fail_after_send().fail_after_send();
    mock.push_reply(200, query_status("mch_billno", BILL, "SENT", false));
    let limiter = Arc::new(Recording::default());
    let policy = RetryPolicy::default().with_max_resends(1);
    let client = builder(&mock)
        .rate_limiter(limiter.clone())
        .retry(policy)
        .build()
        .unwrap();
    let outcome = client.send_red_packet(&red_packet(BILL)).await.unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let attempts = limiter.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts,
        vec![
            (
                Endpoint::SendRedPacket,
                BILL.to_owned(),
                Some(OPENID.to_owned()),
                1
            ),
            (
                Endpoint::SendRedPacket,
                BILL.to_owned(),
                Some(OPENID.to_owned()),
                2
            ),
        ]
    );
    assert_eq!(mock.calls(), 3);

    // A limiter that fails before the first attempt: nothing is sent.
    let mock = MockTransport::new();
    let failing = Arc::new(Recording {
        fail: true,
        ..Recording::default()
    });
    let client = builder(&mock).rate_limiter(failing).build().unwrap();
    let err = client.send_red_packet(&red_packet(BILL)).await.unwrap_err();
    assert!(matches!(err, ClientError::RateLimit(_)), "{err:?}");
    assert_eq!(mock.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn group_and_mini_program_red_packets() {
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, false)));
    let client = single_shot(&mock);
    let group = GroupRedPacket::builder(
        BillNo::new(BILL).unwrap(),
        OpenId::new(OPENID).unwrap(),
        Amount::from_fen(3000),
        3,
    )
    .send_name("商户")
    .amt_type(AmtType::AllRand)
    .wishing("恭喜发财")
    .act_name("活动")
    .remark("备注")
    .build()
    .unwrap();
    let logs = capture(async { client.send_group_red_packet(&group).await }).await;
    assert!(logs.0.unwrap().is_paid());
    assert!(
        logs.1.contains("WARN") && logs.1.contains("offline"),
        "{}",
        logs.1
    );
    assert_eq!(
        mock.last_request().unwrap().path(),
        "/mmpaymkttransfers/sendgroupredpack"
    );

    mock.push_fn(|r| {
        let mut response = send_success(r, false);
        let text = String::from_utf8(response.body.to_vec()).unwrap();
        response.body = text
            .replace("</xml>", "<package><![CDATA[sendid=abc]]></package></xml>")
            .into();
        Ok(response)
    });
    let mini = MiniProgramRedPacket::builder(
        BillNo::new("B2").unwrap(),
        OpenId::new(OPENID).unwrap(),
        Amount::from_fen(100),
    )
    .send_name("商户")
    .wishing("恭喜发财")
    .act_name("活动")
    .remark("备注")
    .build()
    .unwrap();
    let outcome = client.send_mini_program_red_packet(&mini).await.unwrap();
    let hongbao::Outcome::Paid(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(receipt.package.as_deref(), Some("sendid=abc"));
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path(), "/mmpaymkttransfers/sendminiprogramhb");

    // The red packet query.
    mock.push_reply(200, query_status("mch_billno", "B2", "REFUND", false));
    let reply = client
        .query_red_packet(&RedPacketQuery::new(BillNo::new("B2").unwrap()))
        .await
        .unwrap();
    let hongbao::Outcome::Paid(receipt) = reply.outcome else {
        panic!("{:?}", reply.outcome)
    };
    assert!(receipt.refund.is_some());
    assert!(reply.reply.is_some());
    // Sends cannot be used as queries.
    assert!(matches!(
        client.query(&red_packet(BILL)).await,
        Err(ClientError::Unsupported { .. })
    ));
}

/// A `MakeWriter` collecting formatted log lines.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Runs `fut` with every log line (all levels, span fields included) captured.
async fn capture<T>(fut: impl std::future::Future<Output = T>) -> (T, String) {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = fut.await;
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (out, logs)
}

#[tokio::test(start_paused = true)]
async fn no_secret_in_debug_errors_or_logs() {
    let secrets = [
        API_KEY,
        WORKWX_SECRET,
        AGENT_SECRET,
        "0123456789abcdef0123456789abcdef",
    ];
    let mock = MockTransport::new();
    let mut texts = vec![
        format!("{:?}", builder(&mock)),
        format!("{:?}", client(&mock)),
    ];

    let ((), logs) = capture(async {
        let client = client(&mock);
        let mut errors: Vec<ClientError> = Vec::new();
        // Invalid request.
        let mut bad = red_packet(BILL);
        bad.client_ip = "x".into();
        errors.push(client.send_red_packet(&bad).await.unwrap_err());
        // NotSent.
        mock.fail_before_send();
        errors.push(client.send_red_packet(&red_packet(BILL)).await.unwrap_err());
        // MaybeSent, SYSTEMERROR, bad signature, return FAIL, then queries that fail.
        mock.fail_after_send();
        mock.push_reply(200, fail_reply("SYSTEMERROR"));
        mock.push_fn(|r| {
            let body = send_success(r, true).body;
            let text = String::from_utf8(body.to_vec()).unwrap();
            Ok(HttpResponse::new(
                200,
                text.replace("<result_code>", "<x>1</x><result_code>"),
            ))
        });
        mock.push_reply(
            200,
            xml(&[("return_code", "FAIL"), ("return_msg", "签名错误")]),
        );
        mock.push_reply(500, "");
        mock.push_reply(200, "garbage");
        let outcome = client
            .send_workwx_red_packet(&workwx_red_packet(BILL, Some("1000002")))
            .await
            .unwrap();
        texts.push(format!("{outcome:?}"));
        // Pay to employee: refused, confirmed by a query.
        mock.push_reply(200, fail_reply("NOTENOUGH"));
        mock.push_reply(200, fail_reply("NOT_FOUND"));
        texts.push(format!(
            "{:?}",
            client.pay_employee(&pay_employee(TRADE_NO, OPENID)).await
        ));
        // Sandbox key.
        mock.push_reply(
            200,
            xml(&[
                ("return_code", "SUCCESS"),
                ("sandbox_signkey", "0123456789abcdef0123456789abcdef"),
            ]),
        );
        texts.push(format!("{:?}", client.get_sign_key(&SignKeyRequest).await));
        mock.push_reply(200, xml(&[("return_code", "FAIL")]));
        errors.push(client.get_sign_key(&SignKeyRequest).await.unwrap_err());
        // Missing WeCom secret.
        let bare = Client::builder()
            .mch_id(MCH_ID)
            .appid(APPID)
            .api_key(ApiKey::new(API_KEY).unwrap())
            .transport(Arc::new(mock.clone()))
            .build()
            .unwrap();
        errors.push(
            bare.pay_employee(&pay_employee(TRADE_NO, OPENID))
                .await
                .unwrap_err(),
        );
        texts.push(format!("{bare:?}"));
        for error in errors {
            texts.push(format!("{error:?}"));
            texts.push(error.to_string());
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                texts.push(inner.to_string());
                source = inner.source();
            }
        }
    })
    .await;
    // Config errors too.
    for err in [
        Client::builder()
            .api_key(ApiKey::new(API_KEY).unwrap())
            .build()
            .unwrap_err(),
        builder(&mock).base_url("ftp://x").build().unwrap_err(),
    ] {
        texts.push(format!("{err:?} {err}"));
    }
    if std::env::var_os("HONGBAO_SHOW_LOGS").is_some() {
        eprintln!("{logs}");
    }
    assert!(logs.contains("hongbao.send"), "spans are logged: {logs}");
    assert!(logs.contains("outcome"), "{logs}");
    texts.push(logs.clone());
    for text in &texts {
        for secret in secrets {
            assert!(!text.contains(secret), "secret leaked into: {text}");
        }
    }
    // Openids and bodies stay out of the logs.
    assert!(!logs.contains(OPENID), "{logs}");
    assert!(!logs.contains("<xml>"), "{logs}");
}

// The mock's XML field helpers read bodies with proto's one XML reader.

#[tokio::test]
async fn recorded_request_fields_are_read_with_proto_raw_xml() {
    let mock = MockTransport::new();
    mock.push_reply(200, "ok");
    let body = "<xml>\
        <mch_billno><![CDATA[19000001092024010100001]]></mch_billno>\
        <remark><![CDATA[a]]]]><![CDATA[>b]]></remark>\
        <wishing><![CDATA[恭喜发财]]>&#13;&#10;<![CDATA[大吉]]></wishing>\
        <total_amount>100</total_amount>\
        <act_name>a &amp; b &lt;c&gt;</act_name>\
        </xml>";
    mock.send(HttpRequest::new("https://x/y", body))
        .await
        .unwrap();
    let recorded = mock.last_request().unwrap();
    let expected: Vec<(String, String)> = [
        ("mch_billno", "19000001092024010100001"),
        ("remark", "a]]>b"),
        ("wishing", "恭喜发财\r\n大吉"),
        ("total_amount", "100"),
        ("act_name", "a & b <c>"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(recorded.fields().unwrap(), expected);
    assert_eq!(recorded.field("remark").as_deref(), Some("a]]>b"));
    assert_eq!(recorded.field("missing"), None);
    assert_eq!(recorded.xml().unwrap().get("total_amount"), Some("100"));
}

#[tokio::test]
async fn recorded_request_fields_of_a_non_xml_body_are_an_error() {
    let mock = MockTransport::new();
    mock.push_reply(200, "ok");
    mock.send(HttpRequest::new("https://x/y", "not xml"))
        .await
        .unwrap();
    let recorded = mock.last_request().unwrap();
    assert!(recorded.fields().is_err());
    assert_eq!(recorded.field("x"), None);
    // A repeated field is refused, as WeChat's reader refuses it.
    let twice = HttpRequest::new("https://x/y", "<xml><a>1</a><a>2</a></xml>");
    assert!(twice.fields().is_err());
}
