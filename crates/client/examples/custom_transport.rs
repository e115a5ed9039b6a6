//! Bring your own HTTP stack: implement [`Transport`] and hand it to
//! [`ClientBuilder::transport`](hongbao::ClientBuilder::transport).
//!
//! The transport here is a logging wrapper around another one (the
//! [`MockTransport`], so that the example runs without network or merchant
//! account); a real one would send `request.body` as an HTTPS `POST` to
//! `request.url`, with the merchant client certificate when
//! `request.client_cert_required`.
//!
//! The one rule a transport must keep: an error says whether the request
//! **may have reached WeChat** ([`TransportError::maybe_sent`]) or certainly
//! did not ([`TransportError::not_sent`], only when that is sure, e.g. the
//! connection was refused). The client never pays twice because of it.
//!
//! ```sh
//! cargo run -p hongbao --example custom_transport --features test-util
//! ```
//!
//! `cargo test -p hongbao --features test-util` runs it too.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::transport::{HttpRequest, HttpResponse};
use hongbao::{
    Amount, ApiKey, BillNo, Client, OpenId, Outcome, RedPacket, RetryPolicy, Transport,
    TransportError, async_trait,
};

/// Logs one line per request and per answer, then passes the request on.
/// Never logs bodies: they hold the payee's openid and the signature.
#[derive(Debug)]
struct Logging<T> {
    inner: T,
    lines: Mutex<Vec<String>>,
}

impl<T> Logging<T> {
    fn new(inner: T) -> Self {
        Logging {
            inner,
            lines: Mutex::new(Vec::new()),
        }
    }

    fn log(&self, line: String) {
        println!("{line}");
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl<T: Transport> Transport for Logging<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let endpoint = request
            .url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.log(format!(
            "-> POST {endpoint} ({} bytes, client certificate: {})",
            request.body.len(),
            request.client_cert_required
        ));
        let started = Instant::now();
        let result = self.inner.send(request).await;
        match &result {
            Ok(reply) => self.log(format!(
                "<- {endpoint}: HTTP {} ({} bytes) in {:?}",
                reply.status,
                reply.body.len(),
                started.elapsed()
            )),
            // Pass the error on unchanged: its "may have been sent" flag is
            // what keeps the client from paying twice.
            Err(error) => self.log(format!(
                "<- {endpoint}: {error} (may have been sent: {})",
                error.may_have_been_sent()
            )),
        }
        result
    }
}

const BILL: &str = "10000098202402100000000001";
const OPENID: &str = "oxTWIuGaIt6gTKsQRLau2M0yL16E";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let wechat = MockTransport::new();
    let transport = Arc::new(Logging::new(wechat.clone()));
    let client = Client::builder()
        .mch_id("10000098")
        .appid("wx8888888888888888")
        .api_key(ApiKey::new("192006250b4c09247ec02edce69f6a2d")?)
        .transport(transport.clone())
        // Show each outcome as it comes, without automatic resends.
        .retry(RetryPolicy::none())
        .build()?;

    let packet = RedPacket::builder(
        BillNo::new(BILL)?,
        OpenId::new(OPENID)?,
        Amount::parse_yuan("10.00")?,
    )
    .send_name("天虹百货")
    .wishing("新春快乐")
    .act_name("新春红包")
    .remark("感谢支持")
    .client_ip("203.0.113.10")
    .build()?; // every broken rule at once, nothing sent

    // 1. WeChat pays and says so.
    wechat.push_reply(
        200,
        format!(
            "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
             <mch_billno>{BILL}</mch_billno><mch_id>10000098</mch_id>\
             <wxappid>wx8888888888888888</wxappid><re_openid>{OPENID}</re_openid>\
             <total_amount>1000</total_amount>\
             <send_listid>1000041701201411111234567890</send_listid></xml>"
        ),
    );
    let outcome = client.send_red_packet(&packet).await?;
    println!("outcome: {outcome}");
    assert!(matches!(outcome, Outcome::Paid(_)), "{outcome:?}");

    // 2. The connection drops after the request was written: the transport
    //    says "may have been sent", so the outcome is unknown (keep the bill
    //    number and resume it later), never "failed".
    wechat.fail_after_send();
    let outcome = client.send_red_packet(&packet).await?;
    println!("outcome: {outcome}");
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert_eq!(outcome.bill(), BILL);

    // Every request went through the wrapper, and both reached "WeChat".
    let lines = transport.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[3].contains("may have been sent: true"), "{lines:#?}");
    let sent = wechat.requests();
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(request.field("mch_billno").as_deref(), Some(BILL));
    }
    Ok(())
}

/// `cargo test` runs this example (`test = true` in Cargo.toml).
#[test]
fn runs() -> Result<(), Box<dyn Error>> {
    main()
}
