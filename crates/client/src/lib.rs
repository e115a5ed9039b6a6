//! # hongbao
//!
//! A client for the WeChat Pay API v2 "marketing transfers" family: cash red
//! packets, WeCom (企业微信) red packets and pay-to-employee, transfers to
//! WeChat change — built so that **an ambiguous result is never reported as a
//! failure** and **a payment is never made twice**.
//!
//! * One typed async method per endpoint ([`Client::send_red_packet`],
//!   [`Client::send_workwx_red_packet`], [`Client::pay_employee`],
//!   [`Client::transfer`], the queries, [`Client::get_sign_key`]) plus the
//!   generic [`Client::send`] / [`Client::query`]. The client validates first
//!   (nothing is sent if invalid), fills `nonce_str`, `workwx_sign` and
//!   `sign`, and verifies reply signatures where the endpoint signs them.
//! * Every money-moving call returns an [`Outcome`]: `Paid(receipt)`,
//!   `NotPaid(reason)` (definite), or `Unknown { bill, reason }` (the money
//!   may or may not have moved: keep the bill number, [`Client::resolve`] it
//!   later). An `Err` ([`ClientError`]) means nothing can have been paid:
//!   invalid request, configuration, or the request was certainly not sent.
//! * Unknown outcomes are retried automatically only by resending the
//!   **identical** bytes (same bill number, nonce and sign), with exponential
//!   backoff and jitter, never faster than 1 s for one bill, then queried
//!   ([`RetryPolicy`]). A new bill number is never created. Within a client,
//!   one bill number never has two requests in flight.
//! * [`Client::prepare`] returns the signed request ([`Prepared`],
//!   serializable) so it can be journaled before the first send and resent
//!   with [`Client::execute`] after a crash.
//! * Rate limits are on by default: 1,800 sends per minute per merchant, and
//!   15 s between payments to one employee ([`RateLimits`]); plug your own
//!   [`RateLimiter`] to share them between processes.
//! * `tracing` spans per call (`hongbao.send`, `hongbao.query`,
//!   `hongbao.resolve`) with endpoint, bill number, attempts, outcome and
//!   latency. Secrets, bodies and openids are never logged, and `Debug`
//!   never shows a secret.
//!
//! ## Example: a WeCom red packet and its three outcomes
//!
//! This runs against the [`MockTransport`](mock::MockTransport) (feature
//! `test-util`); in production give the merchant certificate instead (see below).
//!
//! ```
//! # #[cfg(feature = "test-util")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use hongbao::mock::MockTransport;
//! use hongbao::{
//!     Amount, ApiKey, BillNo, Client, OpenId, Outcome, RetryPolicy, WorkwxRedPacket, WorkwxSecret,
//! };
//!
//! let mock = MockTransport::new();
//! let client = Client::builder()
//!     .mch_id("10000098")
//!     .appid("wx8888888888888888") // the WeCom corpid
//!     .api_key(ApiKey::new("192006250b4c09247ec02edce69f6a2d")?)
//!     .workwx_secret(WorkwxSecret::new("Wk3cretForTestOnly0123456789abcd")?)
//!     .transport(Arc::new(mock.clone()))
//!     .retry(RetryPolicy::none()) // show each outcome as it comes
//!     .build()?;
//!
//! let packet = WorkwxRedPacket::builder(
//!     BillNo::new("10000098201411111234567890")?,
//!     OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E")?,
//!     Amount::parse_yuan("10.00")?,
//! )
//! .agentid("1000002")
//! .sender_header_media_id("1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0")
//! .wishing("感谢您参加猜灯谜活动，祝您元宵节快乐！")
//! .act_name("猜灯谜抢红包活动")
//! .remark("猜越多得越多，快来抢！")
//! .build()?;
//!
//! /// What the application does with each outcome.
//! fn handle(outcome: &Outcome) -> &'static str {
//!     match outcome {
//!         // Record the receipt (WeChat's id, amount, status).
//!         Outcome::Paid(_receipt) => "paid",
//!         // Not paid by this attempt: `reason.next` says whether to retry
//!         // later under the same bill number or pay under a new one.
//!         Outcome::NotPaid(_reason) => "not paid",
//!         // Unknown: keep the bill number, never replace it; resolve later
//!         // with `client.resume(..)` (query, then the identical request).
//!         Outcome::Unknown(_unknown) => "unknown",
//!         // The bill number is another payment's: nothing was paid to this
//!         // payee under it; a new bill number is safe.
//!         Outcome::Conflict(_conflict) => "conflict",
//!     }
//! }
//!
//! // 1. The server confirms (a signed reply, verified with the API key).
//! mock.push_reply(200, "<xml><return_code>SUCCESS</return_code><return_msg>ok</return_msg>\
//!     <result_code>SUCCESS</result_code><mch_billno>10000098201411111234567890</mch_billno>\
//!     <mch_id>10000098</mch_id><wxappid>wx8888888888888888</wxappid>\
//!     <re_openid>oxTWIuGaIt6gTKsQRLau2M0yL16E</re_openid><total_amount>1000</total_amount>\
//!     <send_listid>1000041701201411111234567890</send_listid>\
//!     <sender_header_media_id>1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0</sender_header_media_id>\
//!     <sign>B2082EF5F326B3E3ADD7464A821D4921</sign></xml>");
//! let outcome = client.send_workwx_red_packet(&packet).await?;
//! assert_eq!(handle(&outcome), "paid");
//! if let Outcome::Paid(receipt) = &outcome {
//!     assert_eq!(receipt.wechat_id.as_deref(), Some("1000041701201411111234567890"));
//! }
//!
//! // 2. The connection drops after the request was written: maybe paid.
//! mock.fail_after_send();
//! let outcome = client.send_workwx_red_packet(&packet).await?;
//! assert_eq!(handle(&outcome), "unknown");
//! assert_eq!(outcome.bill(), "10000098201411111234567890");
//!
//! // 3. A forged or corrupted reply never counts as paid.
//! mock.push_reply(200, "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
//!     <sign>00000000000000000000000000000000</sign></xml>");
//! assert!(client.send_workwx_red_packet(&packet).await?.is_unknown());
//!
//! // What went over the wire: signed, with the WeCom signature.
//! use hongbao::mock::RecordedRequestExt;
//! let sent = mock.last_request().expect("recorded");
//! assert!(sent.field("workwx_sign").is_some() && sent.field("sign").is_some());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "test-util"))]
//! # fn main() {}
//! ```
//!
//! ## Production setup
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn setup() -> Result<(), Box<dyn std::error::Error>> {
//! use hongbao::{ApiKey, Client, ClientIdentity, WorkwxSecret};
//!
//! let client = Client::builder()
//!     .mch_id("1900000109")
//!     .appid("ww1234567890abcdef")
//!     .api_key(ApiKey::new(std::env::var("WXPAY_API_KEY")?)?)
//!     .workwx_secret(WorkwxSecret::new(std::env::var("WECOM_PAY_SECRET")?)?)
//!     // apiclient_cert.p12's password is the merchant id.
//!     .identity(ClientIdentity::from_pem_files("apiclient_cert.pem", "apiclient_key.pem")?)
//!     .build()?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! * `reqwest` (default): builds a `ReqwestTransport` (rustls, mutual TLS)
//!   from [`ClientBuilder::identity`]; [`ClientIdentity`] and
//!   [`ReqwestTransport`] are re-exported.
//! * `test-util`: the [`mock`] module with `MockTransport`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true
/// (they use the mock transport).
#[cfg(all(doctest, feature = "test-util"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod client;
mod config;
mod error;
mod locks;
mod rate;
mod retry;

pub use client::{Client, QueryReply};
pub use config::{ClientBuilder, DEFAULT_BASE_URL, Timeouts};
pub use error::{ClientError, ConfigError};
pub use hongbao_proto::{PREPARED_FORMAT, Prepared};
pub use rate::{
    LocalRateLimiter, NoRateLimit, RateLimitError, RateLimiter, RateLimits, RateRequest,
};
pub use retry::{MIN_SPACING, RetryDecision, RetryKind, RetryPolicy};

/// Re-export of the attribute macro needed to implement [`RateLimiter`]
/// (and [`Transport`]).
pub use async_trait::async_trait;

/// The protocol crate (typed requests and replies, validation, codes).
pub use hongbao_proto as proto;
/// The transport crate (the `Transport` trait and its implementations).
pub use hongbao_transport as transport;

pub use hongbao_proto::{
    Amount, AmtType, AnyRequest, BillNo, BillRule, CheckName, Conflict, Endpoint, ErrorClass,
    ErrorCode, GroupRedPacket, MiniProgramRedPacket, MsgType, NextStep, NotPaid, OpenId, Outcome,
    PayEmployee, PayEmployeeQuery, Receipt, RedPacket, RedPacketQuery, SceneId, SignKeyRequest,
    TradeNo, Transfer, TransferQuery, Unknown, UnknownReason, Violation, Violations,
    WorkwxRedPacket, WorkwxRedPacketQuery,
};
pub use hongbao_sign::{ApiKey, WorkwxSecret};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use hongbao_transport::{ClientIdentity, ReqwestTransport};
pub use hongbao_transport::{Transport, TransportError};

/// The scriptable [`MockTransport`](mock::MockTransport) for tests (feature
/// `test-util`), and [`RecordedRequestExt`](mock::RecordedRequestExt) to read
/// what it recorded as WeChat would.
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod mock {
    use hongbao_proto::{RawXml, XmlError};
    use hongbao_transport::HttpRequest;
    pub use hongbao_transport::{MockTransport, RecordedRequest};

    /// Reads a request body (recorded by the mock, or handed to a mock
    /// closure) with proto's XML reader, [`RawXml::parse`]: the workspace's
    /// one XML reader, so a test sees the values exactly as the sandbox and
    /// the reply parser do (CDATA joined, entities and character references
    /// resolved, line breaks normalized; a DTD or a repeated field refused).
    ///
    /// ```
    /// use hongbao::mock::RecordedRequestExt;
    /// use hongbao::transport::HttpRequest;
    ///
    /// let request = HttpRequest::new("https://x/y", "<xml><a><![CDATA[1]]></a></xml>");
    /// assert_eq!(request.field("a").as_deref(), Some("1"));
    /// assert_eq!(request.field("b"), None);
    /// ```
    pub trait RecordedRequestExt {
        /// The body bytes.
        fn xml_body(&self) -> &[u8];

        /// The body parsed as WeChat would.
        fn xml(&self) -> Result<RawXml, XmlError> {
            RawXml::parse(self.xml_body())
        }

        /// The fields in document order, as `(name, value)` pairs.
        fn fields(&self) -> Result<Vec<(String, String)>, XmlError> {
            Ok(self
                .xml()?
                .fields()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect())
        }

        /// The value of field `name`, or `None` if absent or if the body
        /// does not parse.
        fn field(&self, name: &str) -> Option<String> {
            self.xml().ok()?.get(name).map(str::to_owned)
        }
    }

    impl RecordedRequestExt for RecordedRequest {
        fn xml_body(&self) -> &[u8] {
            &self.body
        }
    }

    impl RecordedRequestExt for HttpRequest {
        fn xml_body(&self) -> &[u8] {
            &self.body
        }
    }
}
