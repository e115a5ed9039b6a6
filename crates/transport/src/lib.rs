//! Transport for hongbao: moves the XML bytes of WeChat Pay API v2
//! "marketing transfers" calls (cash red packets, WeCom red packets and
//! pay-to-employee, transfers to change) over HTTPS with the merchant client
//! certificate.
//!
//! This crate knows nothing about the protocol: it sends an [`HttpRequest`]
//! (URL, headers, body, whether the client certificate is required) and returns
//! an [`HttpResponse`] (status, headers, body) or a [`TransportError`].
//!
//! * [`Transport`]: the object-safe trait the client uses (`Arc<dyn Transport>`).
//!   It depends on no HTTP library, so you can implement it yourself.
//! * [`TransportError`]: every failure says whether the request **may have
//!   reached the server** ([`TransportError::may_have_been_sent`]). `NotSent`
//!   is only used when that is certain; the client relies on it to never pay
//!   twice.
//! * `ReqwestTransport` (feature `reqwest`, default): reqwest + rustls with the
//!   ring provider, mutual TLS with the merchant certificate
//!   (`ClientIdentity` from PEM or PKCS#12), server certificate always
//!   verified.
//! * `MockTransport` (feature `test-util`): scripted replies, recorded requests,
//!   hangs and failures before/after sending.
//!
//! # Example: a custom transport
//!
//! ```
//! use hongbao_transport::{
//!     async_trait, ErrorKind, HttpRequest, HttpResponse, Transport, TransportError,
//! };
//! use std::sync::Arc;
//!
//! /// Answers every request locally (a real one would talk to the network).
//! #[derive(Debug)]
//! struct Canned;
//!
//! #[async_trait]
//! impl Transport for Canned {
//!     async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
//!         if !request.url.starts_with("https://") {
//!             // Detected before touching the network: certainly not sent.
//!             return Err(TransportError::not_sent(ErrorKind::Config, "https only"));
//!         }
//!         Ok(HttpResponse::new(200, "<xml><return_code>SUCCESS</return_code></xml>")
//!             .with_header("content-type", "text/xml"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport: Arc<dyn Transport> = Arc::new(Canned);
//! let url = "https://api.mch.weixin.qq.com/mmpaymkttransfers/gettransferinfo";
//! let reply = transport.send(HttpRequest::new(url, "<xml></xml>")).await.unwrap();
//! assert_eq!(reply.status, 200);
//! assert_eq!(reply.header("Content-Type"), Some("text/xml"));
//!
//! let err = transport.send(HttpRequest::new("http://x", "")).await.unwrap_err();
//! assert!(!err.may_have_been_sent());
//! # }
//! ```
//!
//! # Features
//!
//! * `reqwest` (default): `ReqwestTransport`, `ReqwestTransportBuilder`, `ClientIdentity`.
//! * `test-util`: `MockTransport`, `RecordedRequest` (the body as bytes; the
//!   client's `hongbao::mock::RecordedRequestExt` reads its XML fields).
//!
//! # Logging
//!
//! `ReqwestTransport` emits `tracing` debug events with the URL path, status,
//! latency and body lengths, and the error classification on failure. It never
//! logs bodies or headers.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true
/// (one uses `ReqwestTransport`).
#[cfg(all(doctest, feature = "reqwest"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod error;
mod transport;
mod types;

#[cfg(feature = "reqwest")]
mod identity;
#[cfg(feature = "reqwest")]
mod reqwest_transport;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod mock;

/// Re-export of the attribute macro needed to implement [`Transport`].
pub use async_trait::async_trait;

pub use error::{ErrorKind, ErrorSource, TransportError};
pub use transport::Transport;
pub use types::{ACCEPT_XML, CONTENT_TYPE_XML, HttpRequest, HttpResponse, USER_AGENT};

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use identity::ClientIdentity;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use reqwest_transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_POOL_MAX_IDLE_PER_HOST, DEFAULT_TIMEOUT, ReqwestTransport, ReqwestTransportBuilder,
};

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use mock::{MockTransport, RecordedRequest};
