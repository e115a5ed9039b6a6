//! [`MockTransport`]: a scripted, recording transport for tests.
//!
//! ```
//! use hongbao_transport::{HttpRequest, MockTransport, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockTransport::new();
//! mock.push_reply(200, "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>");
//! mock.fail_after_send();
//!
//! // Hand a clone to the code under test, keep `mock` to inspect.
//! let transport: std::sync::Arc<dyn Transport> = std::sync::Arc::new(mock.clone());
//! let body = "<xml><mch_billno><![CDATA[19000001092024010100001]]></mch_billno></xml>";
//! let url = "https://api.mch.weixin.qq.com/mmpaymkttransfers/sendredpack";
//!
//! let reply = transport.send(HttpRequest::new(url, body)).await.unwrap();
//! assert_eq!(reply.status, 200);
//! let err = transport.send(HttpRequest::new(url, body)).await.unwrap_err();
//! assert!(err.may_have_been_sent());
//!
//! let requests = mock.requests();
//! assert_eq!(requests.len(), 2);
//! assert_eq!(requests[0].body_str(), Some(body));
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ErrorKind, HttpRequest, HttpResponse, Transport, TransportError};

type Handler =
    Arc<dyn Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static>;

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The request URL.
    pub url: String,
    /// The request's own headers (the mock adds no default headers).
    pub headers: Vec<(String, String)>,
    /// The body bytes, exactly as given to the transport.
    pub body: Bytes,
    /// The request's `client_cert_required` flag.
    pub client_cert_required: bool,
}

impl From<HttpRequest> for RecordedRequest {
    fn from(request: HttpRequest) -> Self {
        RecordedRequest {
            url: request.url,
            headers: request.headers,
            body: request.body,
            client_cert_required: request.client_cert_required,
        }
    }
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::types::find_header(&self.headers, name)
    }

    /// The body as UTF-8 text, if it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The URL path (`/mmpaymkttransfers/sendredpack`), or the whole URL if it
    /// has no `scheme://host` prefix.
    pub fn path(&self) -> &str {
        let rest = match self.url.split_once("://") {
            Some((_, rest)) => rest,
            None => return &self.url,
        };
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        path.split(['?', '#']).next().unwrap_or(path)
    }
}

enum Step {
    Reply(HttpResponse),
    Error(TransportError),
    Handler(Handler),
    Hang,
    FailAfterSend,
    FailBeforeSend,
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    fallback: Option<Handler>,
    requests: Vec<RecordedRequest>,
    calls: usize,
}

/// A [`Transport`] that answers from a script and records every request that
/// "reached the server".
///
/// * Steps are consumed in order, one per request: [`push_reply`](Self::push_reply),
///   [`push_response`](Self::push_response), [`push_error`](Self::push_error),
///   [`push_fn`](Self::push_fn), [`hang`](Self::hang),
///   [`fail_after_send`](Self::fail_after_send), [`fail_before_send`](Self::fail_before_send).
/// * When the script is empty, the handler given to [`from_fn`](Self::from_fn)
///   answers; without one, the request fails with a `NotSent`
///   ([`ErrorKind::Mock`]) "mock script exhausted" error (no panic).
/// * A request is recorded unless its outcome is `NotSent` (a `NotSent`
///   request never reached the server). [`calls`](Self::calls) counts every
///   call, recorded or not.
/// * Clones share the same script and records: give a clone to the code under
///   test and keep one to inspect. Thread-safe.
///
/// The mock applies **no timeout**: after [`hang`](Self::hang) the call never
/// completes, so the caller (or the test) must apply one, e.g. with
/// `tokio::time::timeout`.
#[derive(Clone, Default)]
pub struct MockTransport {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for MockTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MockTransport")
            .field("scripted_steps_left", &state.script.len())
            .field("has_fallback_handler", &state.fallback.is_some())
            .field("recorded_requests", &state.requests.len())
            .field("calls", &state.calls)
            .finish()
    }
}

impl MockTransport {
    /// An empty mock: every request fails with "mock script exhausted" until
    /// steps are pushed.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mock whose handler answers every request once the script is empty
    /// (scripted steps, if any are pushed, still go first).
    pub fn from_fn<F>(handler: F) -> Self
    where
        F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    {
        let mock = Self::new();
        mock.lock().fallback = Some(Arc::new(handler));
        mock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, step: Step) -> &Self {
        self.lock().script.push_back(step);
        self
    }

    /// Queues a reply with `status` and `body` (no headers).
    pub fn push_reply(&self, status: u16, body: impl Into<Bytes>) -> &Self {
        self.push(Step::Reply(HttpResponse::new(status, body)))
    }

    /// Queues a complete reply.
    pub fn push_response(&self, response: HttpResponse) -> &Self {
        self.push(Step::Reply(response))
    }

    /// Queues an error; the request is recorded if the error is `MaybeSent`.
    pub fn push_error(&self, error: TransportError) -> &Self {
        self.push(Step::Error(error))
    }

    /// Queues a one-shot handler that computes the outcome from the request.
    /// The request is recorded unless the handler returns a `NotSent` error.
    pub fn push_fn<F>(&self, handler: F) -> &Self
    where
        F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    {
        self.push(Step::Handler(Arc::new(handler)))
    }

    /// Queues a step that records the request and then never answers: the
    /// future stays pending forever. The caller must apply a timeout.
    pub fn hang(&self) -> &Self {
        self.push(Step::Hang)
    }

    /// Queues a step that records the request (it reached the server) and then
    /// fails with a `MaybeSent` ([`ErrorKind::Mock`]) error, like a connection
    /// lost before the reply.
    pub fn fail_after_send(&self) -> &Self {
        self.push(Step::FailAfterSend)
    }

    /// Queues a step that fails with a `NotSent` ([`ErrorKind::Mock`]) error
    /// without recording the request, like a refused connection.
    pub fn fail_before_send(&self) -> &Self {
        self.push(Step::FailBeforeSend)
    }

    /// The recorded requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The most recently recorded request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.lock().requests.last().cloned()
    }

    /// How many times [`Transport::send`] was called, including calls that
    /// failed `NotSent` (and were therefore not recorded).
    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    /// How many scripted steps are left.
    pub fn remaining(&self) -> usize {
        self.lock().script.len()
    }

    fn record(&self, request: HttpRequest) {
        self.lock().requests.push(RecordedRequest::from(request));
    }
}

enum Next {
    Step(Step),
    Fallback(Handler),
    Exhausted(usize),
}

#[async_trait]
impl Transport for MockTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let next = {
            let mut state = self.lock();
            state.calls += 1;
            match state.script.pop_front() {
                Some(step) => Next::Step(step),
                None => match &state.fallback {
                    Some(handler) => Next::Fallback(Arc::clone(handler)),
                    None => Next::Exhausted(state.calls),
                },
            }
        };
        match next {
            Next::Exhausted(call) => Err(TransportError::not_sent(
                ErrorKind::Mock,
                format!(
                    "mock script exhausted: no scripted reply left for call #{call} ({}); push more \
                     steps or use MockTransport::from_fn",
                    request.url
                ),
            )),
            Next::Fallback(handler) | Next::Step(Step::Handler(handler)) => {
                let outcome = handler(&request);
                if !matches!(&outcome, Err(e) if !e.may_have_been_sent()) {
                    self.record(request);
                }
                outcome
            }
            Next::Step(Step::Reply(response)) => {
                self.record(request);
                Ok(response)
            }
            Next::Step(Step::Error(error)) => {
                if error.may_have_been_sent() {
                    self.record(request);
                }
                Err(error)
            }
            Next::Step(Step::Hang) => {
                self.record(request);
                std::future::pending::<Result<HttpResponse, TransportError>>().await
            }
            Next::Step(Step::FailAfterSend) => {
                self.record(request);
                Err(TransportError::maybe_sent(
                    ErrorKind::Mock,
                    "mock: the request reached the server, then the connection was lost before the reply",
                ))
            }
            Next::Step(Step::FailBeforeSend) => Err(TransportError::not_sent(
                ErrorKind::Mock,
                "mock: the connection failed before the request was sent",
            )),
        }
    }
}
