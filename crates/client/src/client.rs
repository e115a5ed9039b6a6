//! [`Client`]: typed calls, outcomes, retries, resolution.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hongbao_proto::{
    Amount, AnyRequest, BuildError, Conflict, Endpoint, ErrorClass, ErrorCode, Expected,
    GroupRedPacket, Merchant, MiniProgramRedPacket, NextStep, NonceStr, NotPaid, Outcome,
    PayEmployee, PayEmployeeQuery, PayEmployeeQueryReply, ProductState, RawXml, RedPacket,
    RedPacketQuery, RedPacketQueryReply, Reply, Request, RequestVisitor, ResultCode,
    SignKeyRequest, Transfer, TransferQuery, TransferQueryReply, Unknown, UnknownReason,
    WorkwxRedPacket, WorkwxRedPacketQuery, WorkwxRedPacketQueryReply,
};
use hongbao_sign::ApiKey;
use hongbao_sign::{Signer, WorkwxSigner};
use hongbao_transport::{ErrorKind, HttpRequest, HttpResponse, Transport, TransportError};
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::ClientBuilder;
use crate::error::{ClientError, ConfigError};
use crate::locks::{BillGuard, BillLocks};
use crate::prepared::{Echoes, Prepared};
use crate::rate::{RateLimiter, RateRequest};
use crate::retry::{RetryDecision, RetryKind, RetryPolicy};

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

/// The answer to a query: what it says about the original payment, and the
/// typed reply when the body parsed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct QueryReply<T> {
    /// What the reply means for the payment queried: `Paid` (sent, received,
    /// refunded, succeeded), `NotPaid` (status `FAILED`) or `Unknown`
    /// (in progress, not found, the query failed, unreadable reply).
    pub outcome: Outcome,
    /// The typed reply, when the body parsed (also on failures).
    pub reply: Option<T>,
}

/// How long a query loop may go on.
#[derive(Clone, Copy)]
enum QueryBudget {
    /// Until the next query would start after this instant.
    Until(Instant),
    /// At most this many queries.
    Count(u32),
}

/// How an execution starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Nothing of this request may have been sent before.
    Fresh,
    /// An earlier attempt may have been sent: query first, and trust no
    /// refusal without a query.
    Resume,
}

/// What a query loop settles.
#[derive(Default)]
struct Settle {
    /// The refusal that led to the query, if any.
    refusal: Option<NotPaid>,
    /// Whether an attempt had an unknown outcome.
    uncertain: bool,
    /// Whether the refusal counts only once a query confirms it (payments
    /// to employees).
    confirm: bool,
    /// The unknown outcome of the send that led to the query, if any.
    send_unknown: Option<Unknown>,
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

    fn build_signed<R: Request>(
        &self,
        req: &R,
    ) -> Result<hongbao_proto::SignedRequest, ClientError> {
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
        let signed = self.build_signed(req)?;
        let bill = signed
            .bill
            .ok_or(ClientError::Internal("the request has no bill number"))?;
        // What rate limits and echo checks need, read once when signing.
        let payee = signed.echo.payee.clone();
        let echoes = Echoes {
            appid: signed.echo.appid.clone(),
            amount: signed.echo.amount,
        };
        let body = body_text(signed.body)?;
        Ok(Prepared {
            format: crate::prepared::PREPARED_FORMAT,
            endpoint: R::ENDPOINT,
            mch_id: self.inner.merchant.mch_id.clone(),
            bill,
            nonce: signed.nonce,
            sign: signed.sign.as_str().to_owned(),
            payee,
            body: body.into(),
            echoes: Some(echoes),
        })
    }

    /// Sends any money-moving request: [`prepare`](Self::prepare) then
    /// [`execute`](Self::execute).
    pub async fn send<R: Request>(&self, req: &R) -> Result<Outcome, ClientError> {
        let prepared = self.prepare(req)?;
        self.execute(&prepared).await
    }

    /// Sends a prepared request (its identical bytes), retrying unknown
    /// outcomes per the [`RetryPolicy`] by resending the same bytes, then
    /// querying.
    ///
    /// Every money decision of the protocol is made here, once, and comes
    /// back typed ([`Outcome::next_step`]):
    ///
    /// * a refusal after an attempt of this call whose outcome was unknown
    ///   is never trusted alone: the bill is queried (errors.md §0a.3);
    /// * a refusal whose rule is QUERY (`PARAM_ERROR`, `NO_AUTH`, …), and
    ///   `FATAL_ERROR`, are settled by a query checked against this
    ///   request's payee and amount: another payment's bill is a
    ///   [`Outcome::Conflict`];
    /// * rate-limit refusals (`FREQ_LIMIT`, `SECOND_OVER_LIMITED`) are
    ///   resent identically after a pause ([`RetryPolicy::limit_retries`]);
    /// * a request read from storage whose signature does not verify with
    ///   this client's key (a wrong or rotated key when it was signed) is
    ///   signed again with the same parameters first ([`Client::refresh`]).
    ///
    /// `Err` only when nothing can have been paid **by this call**: the
    /// request is rejected before sending (another merchant, corrupted body),
    /// the rate limiter fails, or the transport reports `NotSent` on the first
    /// attempt. When re-executing a request whose earlier execution ended
    /// `Unknown`, an `Err` leaves the bill exactly as unknown as before.
    ///
    /// For a stored request that an earlier process may have sent, use
    /// [`resume`](Self::resume).
    pub async fn execute(&self, prepared: &Prepared) -> Result<Outcome, ClientError> {
        self.run(prepared, Start::Fresh).await
    }

    /// Finishes a stored request that an earlier attempt (another process,
    /// a crash, an earlier run) **may have sent**: queries the bill first
    /// (checked against this request's payee and amount); if the query does
    /// not settle it, resends the same bill number with identical parameters
    /// (re-signed if the key changed), knowing that an earlier attempt may
    /// have reached WeChat, so that no refusal is taken as "not paid" without
    /// a query confirming it.
    ///
    /// `Err` as for [`execute`](Self::execute): nothing was sent by this
    /// call, and the bill is exactly as unknown as before.
    pub async fn resume(&self, prepared: &Prepared) -> Result<Outcome, ClientError> {
        self.run(prepared, Start::Resume).await
    }

    /// Asks WeChat what became of a prepared request, sending nothing but
    /// queries: the answer is checked against the request's payee and amount
    /// (another payment under its bill number is an [`Outcome::Conflict`]).
    /// A bill WeChat does not know (`NOT_FOUND`) stays `Unknown`.
    pub async fn status(&self, prepared: &Prepared) -> Result<Outcome, ClientError> {
        let read_back = self.read_back(prepared)?;
        let expected = expected_echoes(prepared, read_back.as_ref());
        let query = query_endpoint(prepared.endpoint())
            .ok_or_else(|| ClientError::unsupported("status", prepared.endpoint()))?;
        let span = tracing::info_span!(
            "hongbao.status",
            endpoint = query.name(),
            bill = prepared.bill(),
            queries = tracing::field::Empty,
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async move {
            let started = Instant::now();
            let mut guard = self.lock_bill(query, prepared.bill()).await;
            let outcome = self.query_once(&mut guard, query, &expected).await;
            record_result(Ok(&outcome), started);
            Ok(outcome)
        }
        .instrument(span)
        .await
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
        if prepared.echoes().is_some() {
            self.check_merchant(prepared)?;
            return Ok(None);
        }
        let raw = self.check_prepared(prepared)?;
        self.resigned(prepared, &raw)
    }

    fn resigned(&self, prepared: &Prepared, raw: &RawXml) -> Result<Option<Prepared>, ClientError> {
        let endpoint = prepared.endpoint();
        let workwx = self.workwx_signer(raw.get_non_empty("agentid"));
        if hongbao_proto::signed_with(endpoint, raw, &self.inner.signer, workwx) {
            return Ok(None);
        }
        let nonce = NonceStr::from_random_bytes(rand::random());
        let signed = hongbao_proto::resign(endpoint, raw, &nonce, &self.inner.signer, workwx)
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
            bill = prepared.bill(),
            "the stored request was signed with another key: signed again, same parameters"
        );
        Ok(Some(Prepared {
            format: crate::prepared::PREPARED_FORMAT,
            endpoint,
            mch_id: prepared.mch_id.clone(),
            bill: prepared.bill.clone(),
            nonce: signed.nonce,
            sign: signed.sign.as_str().to_owned(),
            payee: prepared.payee.clone(),
            body: body_text(signed.body)?.into(),
            echoes: None,
        }))
    }

    /// `None` for a request built by this process (trusted as built);
    /// otherwise the body read back and checked against its metadata.
    fn read_back(&self, prepared: &Prepared) -> Result<Option<RawXml>, ClientError> {
        match prepared.echoes() {
            Some(_) => {
                self.check_merchant(prepared)?;
                Ok(None)
            }
            None => Ok(Some(self.check_prepared(prepared)?)),
        }
    }

    async fn run(&self, prepared: &Prepared, start: Start) -> Result<Outcome, ClientError> {
        let endpoint = prepared.endpoint();
        let read_back = self.read_back(prepared)?;
        // A stored body signed with another key is signed again first.
        let refreshed = match &read_back {
            Some(raw) => self.resigned(prepared, raw)?,
            None => None,
        };
        let prepared = refreshed.as_ref().unwrap_or(prepared);
        let expected = expected_echoes(prepared, read_back.as_ref());
        let span = tracing::info_span!(
            "hongbao.send",
            endpoint = endpoint.name(),
            bill = prepared.bill(),
            resume = matches!(start, Start::Resume),
            attempts = tracing::field::Empty,
            queries = tracing::field::Empty,
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async move {
            if let ProductState::Offline { since } = endpoint.spec().product_state {
                tracing::warn!(
                    endpoint = endpoint.name(),
                    since,
                    "this product was taken offline; the request is expected to fail"
                );
            }
            let started = Instant::now();
            let mut attempts = 0;
            let result = self
                .execute_locked(prepared, &expected, start, started, &mut attempts)
                .await;
            tracing::Span::current().record("attempts", attempts);
            record_result(result.as_ref(), started);
            result
        }
        .instrument(span)
        .await
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

    /// [`check_merchant`](Self::check_merchant), then reads the body back and
    /// checks it carries the prepared bill number, merchant, nonce and sign.
    fn check_prepared(&self, prepared: &Prepared) -> Result<RawXml, ClientError> {
        self.check_merchant(prepared)?;
        let spec = prepared.endpoint().spec();
        let raw = hongbao_proto::RawXml::parse(prepared.body().as_bytes()).map_err(|e| {
            ClientError::PreparedMismatch {
                reason: format!("the body is not a valid request document: {e}"),
            }
        })?;
        let checks = [
            (spec.bill_field, prepared.bill()),
            (Some(spec.mch_id_field), prepared.mch_id()),
            (Some("nonce_str"), prepared.nonce()),
            (Some("sign"), prepared.sign()),
        ];
        for (field, expected) in checks {
            if let Some(field) = field
                && raw.get(field) != Some(expected)
            {
                return Err(ClientError::PreparedMismatch {
                    reason: format!("the body's `{field}` does not match the prepared request"),
                });
            }
        }
        // The payee drives the per-employee rate limit: it must be the body's.
        if let Some(field) = spec.openid_field
            && raw.get_non_empty(field) != prepared.payee()
        {
            return Err(ClientError::PreparedMismatch {
                reason: format!("the body's `{field}` does not match the prepared payee"),
            });
        }
        Ok(raw)
    }

    async fn execute_locked(
        &self,
        prepared: &Prepared,
        expected: &Expected<'_>,
        start: Start,
        started: Instant,
        attempts: &mut u32,
    ) -> Result<Outcome, ClientError> {
        let endpoint = prepared.endpoint();
        let bill = prepared.bill();
        let spec = endpoint.spec();
        let mut guard = self.lock_bill(endpoint, bill).await;
        let policy = &self.inner.retry;
        let mut expected = *expected;
        // Whether an attempt (of this call, or before it when resuming) had
        // an unknown outcome: then no refusal is definite without a query.
        let mut uncertain = matches!(start, Start::Resume);
        // Whether an attempt of this call may have reached WeChat (an `Err`
        // is only returned while none may have).
        let mut sent = false;
        if let (Start::Resume, Some(query)) = (start, spec.query) {
            let outcome = self.query_once(&mut guard, query, &expected).await;
            match &outcome {
                Outcome::Unknown(Unknown {
                    reason: UnknownReason::InProgress { .. },
                    ..
                }) => return Ok(outcome),
                Outcome::Unknown(_) => {
                    tracing::info!("the query did not settle the stored request: resending it")
                }
                _ => return Ok(outcome),
            }
        }
        let mut attempt: u32 = 0;
        let mut limit_retries: u32 = 0;
        loop {
            attempt += 1;
            *attempts = attempt;
            let permit = RateRequest::new(
                &self.inner.merchant.mch_id,
                endpoint,
                bill,
                prepared.payee(),
                attempt,
            );
            let (unknown, code) = match self.inner.rate_limiter.acquire(&permit).await {
                Err(e) if !sent => return Err(ClientError::RateLimit(e)),
                Err(e) => (
                    Unknown::new(bill, UnknownReason::Transport(format!("not resent: {e}"))),
                    None,
                ),
                Ok(()) => {
                    guard.space().await;
                    match self.exchange(endpoint, prepared.body_bytes()).await {
                        Err(e) if !e.may_have_been_sent() && !sent => {
                            tracing::info!(error = %e, "request not sent");
                            return Err(ClientError::NotSent {
                                endpoint: endpoint.name(),
                                source: e,
                            });
                        }
                        Err(e) => {
                            sent |= e.may_have_been_sent();
                            uncertain |= e.may_have_been_sent();
                            (
                                Unknown::new(bill, UnknownReason::Transport(e.to_string())),
                                None,
                            )
                        }
                        Ok(response) => {
                            sent = true;
                            match self.interpret(endpoint, &expected, &response) {
                                Attempt::Definite(Outcome::NotPaid(refused)) => {
                                    if refused.code.is_rate_limit()
                                        && limit_retries < policy.limit_retries
                                    {
                                        limit_retries += 1;
                                        let after = policy.backoff(limit_retries, rand::random());
                                        tracing::info!(
                                            code = refused.code.as_str(),
                                            after_ms = after.as_millis() as u64,
                                            "rate limited: resending the identical request"
                                        );
                                        tokio::time::sleep(after).await;
                                        continue;
                                    }
                                    return Ok(self
                                        .settle_refusal(
                                            &mut guard, prepared, &expected, refused, uncertain,
                                        )
                                        .await);
                                }
                                Attempt::Definite(outcome) => return Ok(outcome),
                                Attempt::Unknown(unknown, code) => {
                                    if let Some(refused) = documented_refusal(endpoint, &unknown) {
                                        // Payments to employees: every FAIL is
                                        // confirmed by a query.
                                        return Ok(self
                                            .settle_refusal(
                                                &mut guard, prepared, &expected, refused, uncertain,
                                            )
                                            .await);
                                    }
                                    uncertain = true;
                                    (unknown, code)
                                }
                            }
                        }
                    }
                }
            };
            if code == Some(ErrorCode::FatalError) {
                // The bill is held by another payee: a query that does not
                // name the payee settles as a conflict.
                expected.other_payee_reported = true;
            }
            let kind = RetryKind::of(&unknown.reason, code.as_ref());
            let decision = policy.decide(attempt, kind, started.elapsed(), rand::random());
            tracing::info!(
                attempt,
                kind = kind.as_str(),
                reason = %unknown.reason,
                decision = ?decision,
                "unknown outcome"
            );
            match decision {
                RetryDecision::Resend { after } => tokio::time::sleep(after).await,
                RetryDecision::Query { after } => {
                    let Some(query) = spec.query else {
                        return Ok(Outcome::Unknown(unknown));
                    };
                    tokio::time::sleep(after).await;
                    let outcome = self
                        .query_loop(
                            &mut guard,
                            query,
                            &expected,
                            QueryBudget::Count(policy.queries),
                            Settle {
                                send_unknown: Some(unknown),
                                ..Settle::default()
                            },
                        )
                        .await;
                    return Ok(self
                        .confirm_payee(&mut guard, prepared, &expected, outcome)
                        .await);
                }
                RetryDecision::GiveUp => return Ok(Outcome::Unknown(unknown)),
            }
        }
    }

    /// A refusal of one attempt, turned into a decision for the bill
    /// (errors.md §0 and §0a):
    ///
    /// * no attempt had an unknown outcome and the rule keeps the number
    ///   (KEEP, KEEP!) or declares it failed (NEW): the refusal is definite;
    /// * otherwise (the QUERY rule, a payment to an employee, or an earlier
    ///   attempt with an unknown outcome) the bill is queried: `FAILED`, or
    ///   `NOT_FOUND` when no attempt had an unknown outcome, confirms it;
    ///   another payment under the bill is a conflict; a payment matching
    ///   this request is `Paid`. A query that settles nothing leaves the
    ///   bill unknown after an uncertain attempt, else the refusal stands
    ///   with [`NextStep::Query`](hongbao_proto::NextStep::Query).
    async fn settle_refusal(
        &self,
        guard: &mut BillGuard,
        prepared: &Prepared,
        expected: &Expected<'_>,
        refused: NotPaid,
        uncertain: bool,
    ) -> Outcome {
        let endpoint = prepared.endpoint();
        // Payments to employees: every FAIL is confirmed by a query.
        let confirm = endpoint == Endpoint::PayEmployee;
        let needs_query = uncertain || confirm || refused.next == NextStep::Query;
        if !needs_query {
            return Outcome::NotPaid(refused);
        }
        let unconfirmed = |refused: NotPaid| {
            if uncertain || confirm {
                Outcome::Unknown(Unknown::new(
                    refused.bill,
                    UnknownReason::ErrorCode {
                        code: refused.code,
                        message: refused.message,
                    },
                ))
            } else {
                Outcome::NotPaid(refused)
            }
        };
        let queries = self.inner.retry.queries;
        let (Some(query), true) = (endpoint.spec().query, queries > 0) else {
            // No automatic query (RetryPolicy::none): the refusal as it is,
            // with the query still to be made.
            return unconfirmed(refused);
        };
        tracing::info!(
            code = refused.code.as_str(),
            uncertain,
            "refused; querying the bill before deciding"
        );
        let outcome = self
            .query_loop(
                guard,
                query,
                expected,
                QueryBudget::Count(queries),
                Settle {
                    refusal: Some(refused),
                    uncertain,
                    confirm,
                    send_unknown: None,
                },
            )
            .await;
        self.confirm_payee(guard, prepared, expected, outcome).await
    }

    /// A query found a payment of this amount under the bill without naming
    /// its payee (an unopened cash red packet): it may be another payee's.
    /// One identical resend tells: WeChat answers a repeat of this request
    /// with its success (echoing the payee), and a request under another
    /// payee's bill with `FATAL_ERROR`, which makes it a conflict. Any
    /// other answer leaves the outcome as it was (unknown).
    async fn confirm_payee(
        &self,
        guard: &mut BillGuard,
        prepared: &Prepared,
        expected: &Expected<'_>,
        outcome: Outcome,
    ) -> Outcome {
        let Outcome::Unknown(Unknown {
            reason: UnknownReason::PayeeNotNamed { .. },
            ..
        }) = &outcome
        else {
            return outcome;
        };
        let endpoint = prepared.endpoint();
        let permit = RateRequest::new(
            &self.inner.merchant.mch_id,
            endpoint,
            prepared.bill(),
            prepared.payee(),
            2,
        );
        if self.inner.rate_limiter.acquire(&permit).await.is_err() {
            return outcome;
        }
        guard.space().await;
        tracing::info!("the query did not name the payee: resending the identical request to tell");
        let Ok(response) = self.exchange(endpoint, prepared.body_bytes()).await else {
            return outcome;
        };
        match self.interpret(endpoint, expected, &response) {
            Attempt::Definite(paid @ Outcome::Paid(_)) => paid,
            Attempt::Unknown(_, Some(ErrorCode::FatalError)) => Outcome::Conflict(Conflict::new(
                prepared.bill(),
                "openid (FATAL_ERROR)",
                None,
                expected.amount,
            )),
            _ => outcome,
        }
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

    /// One query of the bill, checked against `expected`.
    async fn query_once(
        &self,
        guard: &mut BillGuard,
        query: Endpoint,
        expected: &Expected<'_>,
    ) -> Outcome {
        self.query_loop(
            guard,
            query,
            expected,
            QueryBudget::Count(1),
            Settle::default(),
        )
        .await
    }

    /// Queries the bill within `budget` (at least once), returning the first
    /// definite outcome, else an unknown one. Each answer is checked against
    /// `expected` (payee and amount: another payment is a conflict).
    async fn query_loop(
        &self,
        guard: &mut BillGuard,
        query: Endpoint,
        expected: &Expected<'_>,
        budget: QueryBudget,
        settle: Settle,
    ) -> Outcome {
        let bill = expected.bill;
        let Settle {
            refusal,
            uncertain,
            confirm,
            send_unknown,
        } = settle;
        // A failed query does not replace the send's reason; without a send,
        // the latest query's reason is the answer.
        let keep_send_reason = send_unknown.is_some() || refusal.is_some();
        let mut last = send_unknown.unwrap_or_else(|| {
            Unknown::new(
                bill,
                match &refusal {
                    Some(refused) => UnknownReason::ErrorCode {
                        code: refused.code.clone(),
                        message: refused.message.clone(),
                    },
                    None => UnknownReason::NoResult,
                },
            )
        });
        let query_expected = Expected {
            mch_id: Some(&self.inner.merchant.mch_id),
            ..*expected
        };
        let mut queries: u32 = 0;
        loop {
            queries += 1;
            tracing::Span::current().record("queries", queries);
            guard.space().await;
            let unknown = match self.build_query(query, bill) {
                Err(e) => {
                    tracing::warn!(error = %e, "cannot build the query");
                    return Outcome::Unknown(last);
                }
                Ok(body) => match self.exchange(query, body).await {
                    Err(e) => Unknown::new(bill, UnknownReason::Transport(e.to_string())),
                    Ok(response) => match self.interpret(query, &query_expected, &response) {
                        Attempt::Definite(outcome) => {
                            tracing::info!(
                                query = query.name(),
                                queries,
                                "query settled the outcome"
                            );
                            return outcome;
                        }
                        Attempt::Unknown(unknown, _) => unknown,
                    },
                },
            };
            if matches!(unknown.reason, UnknownReason::PayeeNotNamed { .. }) {
                // Asking again tells no more; the caller may resend to tell.
                return Outcome::Unknown(unknown);
            }
            tracing::info!(query = query.name(), queries, reason = %unknown.reason, "query left the outcome unknown");
            if unknown.reason == UnknownReason::NotFound
                && !uncertain
                && let Some(refused) = &refusal
            {
                // errors.md QUERY rule: NOT_FOUND, and no attempt had an
                // unknown outcome: the refusal holds for the bill.
                return Outcome::NotPaid(refused.clone().confirmed());
            }
            // A query that learnt something about the payment replaces the
            // send's reason; a failed query does not.
            if !keep_send_reason
                || matches!(
                    unknown.reason,
                    UnknownReason::InProgress { .. } | UnknownReason::NotFound
                )
            {
                last = unknown;
            }
            let wait = self.inner.retry.query_backoff(queries, rand::random());
            let next = Instant::now() + wait;
            let out_of_budget = match budget {
                QueryBudget::Until(deadline) => next > deadline,
                QueryBudget::Count(max_queries) => queries >= max_queries,
            };
            if out_of_budget {
                return match refusal {
                    // Refused, nothing uncertain, but the query could not
                    // confirm it: not paid by this attempt, still to be
                    // settled by a query.
                    Some(refused)
                        if !uncertain && !confirm && last.reason != UnknownReason::NotFound =>
                    {
                        Outcome::NotPaid(refused)
                    }
                    _ => Outcome::Unknown(last),
                };
            }
            tokio::time::sleep_until(next).await;
        }
    }

    /// Builds the signed body of the query for `bill` on `query` (a query endpoint).
    fn build_query(&self, query: Endpoint, bill: &str) -> Result<String, ClientError> {
        let request = AnyRequest::query(query, bill)
            .ok_or_else(|| ClientError::unsupported("query", query))?
            .map_err(|v| ClientError::Invalid(v.into()))?;
        let signed = request.visit(BuildSigned(self))?;
        body_text(signed.body)
    }

    /// Sends one query request (no automatic retry) and returns what it says
    /// about the original payment, with the typed reply when it parsed.
    ///
    /// `Err` when nothing was sent (invalid request, `NotSent`); any other
    /// failure gives `Ok` with an unknown outcome. Waits for any call on the
    /// same bill number in this client to finish first (never a send and a
    /// query for one bill at the same time).
    pub async fn query<R: Request>(&self, req: &R) -> Result<QueryReply<R::Reply>, ClientError> {
        let endpoint = R::ENDPOINT;
        if !endpoint.is_query() {
            return Err(ClientError::unsupported("query", endpoint));
        }
        let signed = self.build_signed(req)?;
        let bill = signed.bill.unwrap_or_default();
        let body = body_text(signed.body)?;
        let span = tracing::info_span!(
            "hongbao.query",
            endpoint = endpoint.name(),
            bill = bill.as_str(),
            attempts = 1,
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async move {
            let started = Instant::now();
            let mut guard = self.lock_bill(endpoint, &bill).await;
            guard.space().await;
            let result = match self.exchange(endpoint, body).await {
                Err(e) if !e.may_have_been_sent() => Err(ClientError::NotSent {
                    endpoint: endpoint.name(),
                    source: e,
                }),
                Err(e) => Ok(QueryReply {
                    outcome: Outcome::Unknown(Unknown::new(
                        bill.clone(),
                        UnknownReason::Transport(e.to_string()),
                    )),
                    reply: None,
                }),
                Ok(response) => {
                    let interpretation = hongbao_proto::interpret_expecting(
                        endpoint,
                        &Expected {
                            bill: &bill,
                            mch_id: Some(&self.inner.merchant.mch_id),
                            ..Expected::default()
                        },
                        response.status,
                        &response.body,
                        &self.inner.signer,
                    );
                    let reply = interpretation
                        .raw
                        .as_ref()
                        .and_then(|raw| R::Reply::from_raw(raw).ok());
                    Ok(QueryReply {
                        outcome: interpretation.outcome,
                        reply,
                    })
                }
            };
            record_result(result.as_ref().map(|r| &r.outcome), started);
            result
        }
        .instrument(span)
        .await
    }

    /// Sends a normal cash red packet (`sendredpack`).
    pub async fn send_red_packet(&self, req: &RedPacket) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Sends a group ("fission") red packet (`sendgroupredpack`).
    ///
    /// The product was taken offline on 2024-06-05: a warning is logged and
    /// the request is expected to fail; kept for merchants with a special
    /// arrangement and for the sandbox.
    pub async fn send_group_red_packet(
        &self,
        req: &GroupRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Sends a mini-program red packet (`sendminiprogramhb`); on success the
    /// receipt's `package` is what the mini program passes to `wx.sendBizRedPacket`.
    pub async fn send_mini_program_red_packet(
        &self,
        req: &MiniProgramRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a normal, group or mini-program red packet (`gethbinfo`).
    pub async fn query_red_packet(
        &self,
        req: &RedPacketQuery,
    ) -> Result<QueryReply<RedPacketQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Sends a WeCom red packet (`sendworkwxredpack`): `workwx_sign` is made
    /// with the secret of the request's `agentid` (or the default WeCom
    /// secret), and the reply's `sign` must verify.
    pub async fn send_workwx_red_packet(
        &self,
        req: &WorkwxRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a WeCom red packet (`queryworkwxredpack`; the reply's `sign` must verify).
    pub async fn query_workwx_red_packet(
        &self,
        req: &WorkwxRedPacketQuery,
    ) -> Result<QueryReply<WorkwxRedPacketQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Pays an employee from WeCom (`paywwsptrans2pocket`). Every `FAIL`
    /// reply is an unknown outcome until a query confirms it; payments to
    /// one openid are spaced by the rate limiter (15 s by default).
    pub async fn pay_employee(&self, req: &PayEmployee) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a payment to an employee (`querywwsptrans2pocket`).
    pub async fn query_pay_employee(
        &self,
        req: &PayEmployeeQuery,
    ) -> Result<QueryReply<PayEmployeeQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Transfers to a user's WeChat change (`promotion/transfers`).
    pub async fn transfer(&self, req: &Transfer) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a transfer (`gettransferinfo`).
    pub async fn query_transfer(
        &self,
        req: &TransferQuery,
    ) -> Result<QueryReply<TransferQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Asks for the sandbox signing key (`sandboxnew/pay/getsignkey`, signed
    /// with this client's API key; no client certificate needed). Build a
    /// second client with the returned key (and the sandbox base URL) to
    /// talk to the sandbox.
    ///
    /// This call moves no money, so every failure is an `Err`
    /// ([`ClientError::Failed`] when a reply was missing or unusable).
    pub async fn get_sign_key(&self, req: &SignKeyRequest) -> Result<ApiKey, ClientError> {
        let endpoint = SignKeyRequest::ENDPOINT;
        let signed = self.build_signed(req)?;
        let body = body_text(signed.body)?;
        let span = tracing::info_span!("hongbao.get_sign_key", endpoint = endpoint.name());
        let call = async move {
            let failed = |reason: String| ClientError::Failed {
                endpoint: endpoint.name(),
                reason,
            };
            let response = self.exchange(endpoint, body).await.map_err(|e| {
                if e.may_have_been_sent() {
                    failed(e.to_string())
                } else {
                    ClientError::NotSent {
                        endpoint: endpoint.name(),
                        source: e,
                    }
                }
            })?;
            if response.status != 200 {
                return Err(failed(format!("HTTP status {}", response.status)));
            }
            let raw = RawXml::parse(&response.body).map_err(|e| failed(e.to_string()))?;
            let reply =
                hongbao_proto::SignKeyReply::from_raw(&raw).map_err(|e| failed(e.to_string()))?;
            if reply.return_code != ResultCode::Success {
                return Err(failed(format!(
                    "return_code is not SUCCESS: {}",
                    reply.return_msg.as_deref().unwrap_or("(no return_msg)")
                )));
            }
            let key = reply
                .sandbox_signkey
                .ok_or_else(|| failed("the reply has no usable sandbox_signkey".to_owned()))?;
            tracing::info!("sandbox signing key received");
            Ok(key)
        };
        async move {
            let result = call.await;
            if let Err(e) = &result {
                tracing::info!(error = %e, "sandbox signing key call failed");
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Queries `bill` until the outcome is definite or `deadline` passes
    /// (at least one query is made), mapping statuses as the proto crate does
    /// (SENDING/PROCESSING → unknown, FAILED → not paid, SENT/RECEIVED/REFUND…
    /// → paid, NOT_FOUND → unknown).
    ///
    /// `endpoint` is the send endpoint or its query endpoint. Queries are
    /// spaced by the retry policy's backoff (at least 1 s). `Err` only for an
    /// invalid bill number or an endpoint without a query; every failure of
    /// the query itself leaves the outcome `Unknown`.
    pub async fn resolve(
        &self,
        endpoint: Endpoint,
        bill: &str,
        deadline: impl Into<Instant>,
    ) -> Result<Outcome, ClientError> {
        let deadline = deadline.into();
        let query = query_endpoint(endpoint)
            .ok_or_else(|| ClientError::unsupported("resolve", endpoint))?;
        // Validates the bill number before anything is sent.
        self.build_query(query, bill)?;
        let span = tracing::info_span!(
            "hongbao.resolve",
            endpoint = query.name(),
            bill,
            queries = tracing::field::Empty,
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async move {
            let started = Instant::now();
            let mut guard = self.lock_bill(query, bill).await;
            let expected = Expected::bill(bill);
            let outcome = self
                .query_loop(
                    &mut guard,
                    query,
                    &expected,
                    QueryBudget::Until(deadline),
                    Settle::default(),
                )
                .await;
            record_result(Ok(&outcome), started);
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

/// The built body as text (the builder writes UTF-8 XML).
fn body_text(body: Vec<u8>) -> Result<String, ClientError> {
    String::from_utf8(body).map_err(|_| ClientError::Internal("the built body is not UTF-8"))
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

impl RetryKind {
    /// Classifies an unknown outcome for the retry policy.
    pub fn of(reason: &UnknownReason, code: Option<&ErrorCode>) -> RetryKind {
        match reason {
            UnknownReason::Transport(_) => RetryKind::Transport,
            UnknownReason::HttpStatus(_) => RetryKind::HttpStatus,
            UnknownReason::Unparseable(_)
            | UnknownReason::BadSignature(_)
            | UnknownReason::NoResult => RetryKind::BadReply,
            UnknownReason::ReturnFail { .. } => RetryKind::ReturnFail,
            UnknownReason::FailWithoutCode { .. } => RetryKind::SystemError,
            UnknownReason::InProgress { .. } => RetryKind::InProgress,
            UnknownReason::EchoMismatch { .. } => RetryKind::Conflict,
            UnknownReason::ErrorCode { code, .. } => match code {
                ErrorCode::SystemError | ErrorCode::Unknown(_) => RetryKind::SystemError,
                ErrorCode::Processing => RetryKind::InProgress,
                ErrorCode::FatalError => RetryKind::Conflict,
                _ => RetryKind::Other,
            },
            _ => match code {
                Some(ErrorCode::SystemError) => RetryKind::SystemError,
                _ => RetryKind::Other,
            },
        }
    }
}

/// A documented refusal that the proto crate leaves unknown only so that a
/// query confirms it (payments to employees: every FAIL is confirmed by
/// query): any documented code of the endpoint other than those of class U
/// and `FATAL_ERROR` (another payee under the bill).
fn documented_refusal(endpoint: Endpoint, unknown: &Unknown) -> Option<NotPaid> {
    let UnknownReason::ErrorCode { code, message } = &unknown.reason else {
        return None;
    };
    let (class, _) = code.class(endpoint);
    if endpoint != Endpoint::PayEmployee
        || class == ErrorClass::Unknown
        || *code == ErrorCode::FatalError
    {
        return None;
    }
    Some(NotPaid::new(&unknown.bill, endpoint, code.clone()).with_message(message.clone()))
}

/// What a reply to `prepared` must echo: from the values recorded when this
/// process built it, or else from its body as read back.
fn expected_echoes<'a>(prepared: &'a Prepared, read_back: Option<&'a RawXml>) -> Expected<'a> {
    let spec = prepared.endpoint().spec();
    match (prepared.echoes(), read_back) {
        (_, Some(raw)) => {
            let field = |name: Option<&str>| name.and_then(|n| raw.get_non_empty(n));
            Expected {
                bill: prepared.bill(),
                mch_id: field(Some(spec.mch_id_field)),
                appid: field(spec.appid_field),
                amount: field(spec.amount_field)
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Amount::from_fen),
                openid: field(spec.openid_field),
                other_payee_reported: false,
            }
        }
        (Some(echoes), None) => Expected {
            bill: prepared.bill(),
            mch_id: Some(prepared.mch_id()),
            appid: echoes.appid.as_deref(),
            amount: echoes.amount,
            openid: prepared.payee(),
            other_payee_reported: false,
        },
        (None, None) => Expected::bill(prepared.bill()),
    }
}

/// [`Client::build_signed`] for a request of any kind.
struct BuildSigned<'a>(&'a Client);

impl RequestVisitor for BuildSigned<'_> {
    type Output = Result<hongbao_proto::SignedRequest, ClientError>;
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
