//! [`Client`]: the client, its configuration and the steps every call
//! shares (signing, reading stored requests back, one HTTP exchange).
//! Sending and executing are in `execute`, queries in `query`, the typed
//! per-endpoint calls in `calls`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hongbao_proto::{
    AnyRequest, BuildError, Endpoint, ErrorCode, Expected, Merchant, NonceStr, Outcome, Prepared,
    RawXml, Request, RequestVisitor, Unknown,
};
use hongbao_sign::{Signer, WorkwxSigner};
use hongbao_transport::{ErrorKind, HttpRequest, HttpResponse, Transport, TransportError};
use tokio::time::Instant;

use crate::config::ClientBuilder;
use crate::error::{ClientError, ConfigError};
use crate::locks::{BillGuard, BillLocks};
use crate::rate::RateLimiter;
use crate::retry::RetryPolicy;

mod calls;
mod execute;
mod query;

pub use query::QueryReply;

/// The WeChat Pay marketing-transfers client.
///
/// Cheap to clone (an `Arc` inside); clones share the transport, the rate
/// limiter and the per-bill locks. `Debug` never shows a secret.
///
/// Every money-moving call returns `Ok(Outcome)`:
/// [`Outcome::Paid`], [`Outcome::NotPaid`] (definite) or
/// [`Outcome::Unknown`] (the money may or may not have moved: keep the bill
/// number, resolve it later). `Err` only when nothing can have been paid.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) merchant: Merchant,
    pub(crate) signer: Signer,
    pub(crate) workwx_default: Option<WorkwxSigner>,
    pub(crate) workwx_agents: HashMap<String, WorkwxSigner>,
    pub(crate) base_url: String,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) attempt_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limiter: Arc<dyn RateLimiter>,
    pub(crate) bills: BillLocks,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut agents: Vec<&String> = inner.workwx_agents.keys().collect();
        agents.sort();
        f.debug_struct("Client")
            .field("mch_id", &inner.merchant.mch_id)
            .field("appid", &inner.merchant.appid)
            .field("api_key", &"<redacted>")
            .field(
                "workwx_secret",
                &if inner.workwx_default.is_some() {
                    "<redacted>"
                } else {
                    "<unset>"
                },
            )
            .field("workwx_secret_agents", &agents)
            .field("base_url", &inner.base_url)
            .field("transport", &inner.transport)
            .field("attempt_timeout", &inner.attempt_timeout)
            .field("retry", &inner.retry)
            .field("rate_limiter", &inner.rate_limiter)
            .finish_non_exhaustive()
    }
}

/// What one exchange produced, before the retry decision.
enum Attempt {
    Definite(Outcome),
    Unknown(Unknown, Option<ErrorCode>),
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The merchant id.
    pub fn mch_id(&self) -> &str {
        &self.inner.merchant.mch_id
    }

    /// The app id.
    pub fn appid(&self) -> &str {
        &self.inner.merchant.appid
    }

    /// The base URL (without trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    fn workwx_signer(&self, agentid: Option<&str>) -> Option<&WorkwxSigner> {
        agentid
            .and_then(|agent| self.inner.workwx_agents.get(agent))
            .or(self.inner.workwx_default.as_ref())
    }

    fn build_signed<R: Request>(&self, req: &R) -> Result<Prepared, ClientError> {
        let spec = R::ENDPOINT.spec();
        let workwx = match spec.workwx {
            Some(_) => Some(self.workwx_signer(req.agentid()).ok_or_else(|| {
                ConfigError::MissingWorkwxSecret {
                    agentid: req.agentid().map(str::to_owned),
                }
            })?),
            None => None,
        };
        let nonce = NonceStr::from_random_bytes(rand::random());
        hongbao_proto::build(
            req,
            &self.inner.merchant,
            &nonce,
            &self.inner.signer,
            workwx,
        )
        .map_err(|e| match e {
            BuildError::Invalid(violations) => ClientError::Invalid(violations),
            BuildError::MissingWorkwxSecret => {
                ClientError::Config(ConfigError::MissingWorkwxSecret {
                    agentid: req.agentid().map(str::to_owned),
                })
            }
            other => ClientError::Build(other),
        })
    }

    /// [`prepare`](Self::prepare) for a request of any kind (for example
    /// one read back from a journal).
    pub fn prepare_any(&self, req: &AnyRequest) -> Result<Prepared, ClientError> {
        req.visit(PrepareAny(self))
    }

    /// Validates, fills `nonce_str`, `workwx_sign` and `sign`, and returns the
    /// signed body without sending anything.
    ///
    /// Store the result (it is serializable) before the first send if you need
    /// crash safety, then send it with [`execute`](Self::execute) — as often
    /// as needed: the body never changes. Only money-moving requests can be
    /// prepared.
    pub fn prepare<R: Request>(&self, req: &R) -> Result<Prepared, ClientError> {
        let spec = R::ENDPOINT.spec();
        if !spec.moves_money {
            return Err(ClientError::unsupported("prepare", R::ENDPOINT));
        }
        let prepared = self.build_signed(req)?;
        if prepared.bill().is_empty() {
            return Err(ClientError::Internal("the request has no bill number"));
        }
        Ok(prepared)
    }

    /// A prepared request whose signatures verify with this client's keys:
    /// `None` when `prepared` already does, else `Some` copy signed again
    /// with the same parameters (a new nonce and signatures; errors.md
    /// §0a.2: resending identical business parameters under the same bill
    /// number is always safe). Store the copy in place of the old one.
    ///
    /// A request built by this client always verifies. `Err` when the body
    /// cannot be read back or signed (on WeCom endpoints without a WeCom
    /// secret, the stored `workwx_sign` and its nonce are kept).
    pub fn refresh(&self, prepared: &Prepared) -> Result<Option<Prepared>, ClientError> {
        if !prepared.needs_check() {
            self.check_merchant(prepared)?;
            return Ok(None);
        }
        let checked = self.checked(prepared)?;
        self.resigned(&checked)
    }

    /// A request read from storage, read back and checked against its body
    /// (bill number, merchant, nonce, sign, payee, app id, amount), then
    /// signed again if its signatures do not verify with this client's keys;
    /// a request built by this process as it is.
    fn sendable<'a>(&self, prepared: &'a Prepared) -> Result<Cow<'a, Prepared>, ClientError> {
        if !prepared.needs_check() {
            self.check_merchant(prepared)?;
            return Ok(Cow::Borrowed(prepared));
        }
        let checked = self.checked(prepared)?;
        Ok(Cow::Owned(match self.resigned(&checked)? {
            Some(resigned) => resigned,
            None => checked,
        }))
    }

    /// [`check_merchant`](Self::check_merchant), then, for a request read
    /// from storage, the body read back: a copy whose every value is the
    /// body's, once they are checked to be the stored ones.
    fn checked(&self, prepared: &Prepared) -> Result<Prepared, ClientError> {
        self.check_merchant(prepared)?;
        prepared
            .checked()
            .map_err(|e| ClientError::PreparedMismatch {
                reason: e.to_string(),
            })
    }

    /// `checked`, signed again with this client's keys when its signatures
    /// do not verify with them (same parameters, new nonce).
    fn resigned(&self, checked: &Prepared) -> Result<Option<Prepared>, ClientError> {
        let endpoint = checked.endpoint();
        let raw = RawXml::parse(checked.body().as_bytes()).map_err(|e| {
            ClientError::PreparedMismatch {
                reason: format!("the body is not a valid request document: {e}"),
            }
        })?;
        let workwx = self.workwx_signer(raw.get_non_empty("agentid"));
        if hongbao_proto::signed_with(endpoint, &raw, &self.inner.signer, workwx) {
            return Ok(None);
        }
        let nonce = NonceStr::from_random_bytes(rand::random());
        let signed = hongbao_proto::resign(endpoint, &raw, &nonce, &self.inner.signer, workwx)
            .map_err(|e| match e {
                BuildError::MissingWorkwxSecret => {
                    ClientError::Config(ConfigError::MissingWorkwxSecret {
                        agentid: raw.get_non_empty("agentid").map(str::to_owned),
                    })
                }
                other => ClientError::Build(other),
            })?;
        tracing::info!(
            endpoint = endpoint.name(),
            bill = checked.bill(),
            "the stored request was signed with another key: signed again, same parameters"
        );
        Ok(Some(signed))
    }

    /// The prepared request moves money and belongs to this client's merchant.
    fn check_merchant(&self, prepared: &Prepared) -> Result<(), ClientError> {
        let endpoint = prepared.endpoint();
        if !endpoint.spec().moves_money {
            return Err(ClientError::unsupported("execute", endpoint));
        }
        if prepared.mch_id() != self.inner.merchant.mch_id {
            return Err(ClientError::PreparedMismatch {
                reason: format!(
                    "prepared for merchant {} but this client is merchant {}",
                    prepared.mch_id(),
                    self.inner.merchant.mch_id
                ),
            });
        }
        Ok(())
    }

    /// Locks the bill number for the whole call (namespace: the query
    /// endpoint, so the normal, group and mini-program red packets that share
    /// `gethbinfo` share bill numbers).
    async fn lock_bill(&self, endpoint: Endpoint, bill: &str) -> BillGuard {
        let namespace = endpoint.spec().query.unwrap_or(endpoint);
        self.inner
            .bills
            .lock(&format!("{}:{bill}", namespace.name()))
            .await
    }

    /// One HTTP exchange, bounded by the attempt timeout.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        body: impl Into<bytes::Bytes>,
    ) -> Result<HttpResponse, TransportError> {
        let spec = endpoint.spec();
        let request = HttpRequest::new(format!("{}{}", self.inner.base_url, spec.path), body)
            .with_client_cert_required(spec.needs_client_cert);
        let timeout = self.inner.attempt_timeout;
        match tokio::time::timeout(timeout, self.inner.transport.send(request)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::maybe_sent(
                ErrorKind::Timeout,
                format!("no reply within {} ms", timeout.as_millis()),
            )),
        }
    }

    fn interpret(
        &self,
        endpoint: Endpoint,
        expected: &Expected<'_>,
        response: &HttpResponse,
    ) -> Attempt {
        let interpretation = hongbao_proto::interpret_expecting(
            endpoint,
            expected,
            response.status,
            &response.body,
            &self.inner.signer,
        );
        match interpretation.outcome {
            Outcome::Unknown(unknown) => Attempt::Unknown(unknown, interpretation.code),
            definite => Attempt::Definite(definite),
        }
    }
}

/// The query endpoint for a send endpoint, or the endpoint itself if it is a query.
fn query_endpoint(endpoint: Endpoint) -> Option<Endpoint> {
    let spec = endpoint.spec();
    match spec.query {
        Some(query) => Some(query),
        None if !spec.moves_money && spec.bill_field.is_some() => Some(endpoint),
        None => None,
    }
}

/// Records the outcome and latency on the current span and logs them (by
/// reference: nothing is cloned for logging).
fn record_result(result: Result<&Outcome, &ClientError>, started: Instant) {
    let span = tracing::Span::current();
    let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("latency_ms", latency);
    match result {
        Ok(Outcome::Paid(_)) => {
            span.record("outcome", "paid");
            tracing::info!(outcome = "paid", latency_ms = latency, "call finished");
        }
        Ok(Outcome::NotPaid(not_paid)) => {
            span.record("outcome", "not_paid");
            tracing::info!(
                outcome = "not_paid",
                code = not_paid.code.as_str(),
                latency_ms = latency,
                "call finished"
            );
        }
        Ok(Outcome::Conflict(conflict)) => {
            span.record("outcome", "conflict");
            tracing::warn!(
                outcome = "conflict",
                field = conflict.field.as_str(),
                latency_ms = latency,
                "call finished; the bill number belongs to another payment: nothing was paid to this payee under it"
            );
        }
        Ok(Outcome::Unknown(unknown)) => {
            span.record("outcome", "unknown");
            tracing::warn!(
                outcome = "unknown",
                reason = ?unknown.reason,
                latency_ms = latency,
                "call finished; the outcome is unknown: keep the bill number and resolve it later"
            );
        }
        Err(e) => {
            span.record("outcome", "error");
            tracing::info!(outcome = "error", error = %e, latency_ms = latency, "call failed; nothing was paid");
        }
    }
}

/// [`Client::build_signed`] for a request of any kind.
struct BuildSigned<'a>(&'a Client);

impl RequestVisitor for BuildSigned<'_> {
    type Output = Result<Prepared, ClientError>;
    fn visit<R: Request>(self, request: &R) -> Self::Output {
        self.0.build_signed(request)
    }
}

/// [`Client::prepare`] for a request of any kind.
struct PrepareAny<'a>(&'a Client);

impl RequestVisitor for PrepareAny<'_> {
    type Output = Result<Prepared, ClientError>;
    fn visit<R: Request>(self, request: &R) -> Self::Output {
        self.0.prepare(request)
    }
}
