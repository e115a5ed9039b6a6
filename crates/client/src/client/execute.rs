//! Sending and executing: the attempts, their retries, and how a refusal
//! or an unknown outcome is settled.

use std::time::Duration;

use hongbao_proto::{
    Conflict, Endpoint, ErrorClass, ErrorCode, Expected, NextStep, NotPaid, Outcome, Prepared,
    ProductState, Request, Unknown, UnknownReason,
};
use tokio::time::Instant;
use tracing::Instrument;

use super::query::{QueryBudget, Settle};
use super::{Attempt, Client, record_result};
use crate::error::ClientError;
use crate::locks::BillGuard;
use crate::rate::RateRequest;
use crate::retry::{RetryDecision, RetryKind};

/// How an execution starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Nothing of this request may have been sent before.
    Fresh,
    /// An earlier attempt may have been sent: query first, and trust no
    /// refusal without a query.
    Resume,
}

/// What one execution has learnt so far.
struct Execution<'a> {
    prepared: &'a Prepared,
    /// What replies must echo (and queries are checked against).
    expected: Expected<'a>,
    /// The bill's lock, held for the whole execution.
    guard: BillGuard,
    started: Instant,
    /// Attempts made by this call.
    attempt: u32,
    /// Identical resends after rate-limit refusals.
    limit_retries: u32,
    /// Whether an attempt (of this call, or before it when resuming) had
    /// an unknown outcome: then no refusal is definite without a query.
    uncertain: bool,
    /// Whether an attempt of this call may have reached WeChat (an `Err`
    /// is only returned while none may have).
    sent: bool,
}

/// What one attempt came to.
enum Step {
    /// The call is over.
    Done(Result<Outcome, ClientError>),
    /// Refused: resent if a rate limit, else settled.
    Refused(NotPaid),
    /// A refusal that only a query confirms (payments to employees).
    Confirm(NotPaid),
    /// The outcome is unknown (with the error code, if any).
    Unknown(Unknown, Option<ErrorCode>),
}

impl Client {
    /// Sends any money-moving request: [`prepare`](Self::prepare) then
    /// [`execute`](Self::execute).
    pub async fn send<R: Request>(&self, req: &R) -> Result<Outcome, ClientError> {
        let prepared = self.prepare(req)?;
        self.execute(&prepared).await
    }

    /// Sends a prepared request (its identical bytes), retrying unknown
    /// outcomes per the [`RetryPolicy`](crate::RetryPolicy) by resending the same bytes, then
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
    ///   resent identically after a pause ([`RetryPolicy::limit_retries`](crate::RetryPolicy::limit_retries));
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

    async fn run(&self, prepared: &Prepared, start: Start) -> Result<Outcome, ClientError> {
        let endpoint = prepared.endpoint();
        // A stored body is read back, and signed again first if it was
        // signed with another key.
        let prepared = self.sendable(prepared)?;
        let prepared = prepared.as_ref();
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
                .execute_locked(prepared, start, started, &mut attempts)
                .await;
            tracing::Span::current().record("attempts", attempts);
            record_result(result.as_ref(), started);
            result
        }
        .instrument(span)
        .await
    }

    /// The execution under the bill's lock: when resuming, a query first;
    /// then attempts, each refusal settled and each unknown outcome handed to
    /// the retry policy, until an outcome is reached.
    async fn execute_locked(
        &self,
        prepared: &Prepared,
        start: Start,
        started: Instant,
        attempts: &mut u32,
    ) -> Result<Outcome, ClientError> {
        let guard = self.lock_bill(prepared.endpoint(), prepared.bill()).await;
        let mut run = Execution {
            prepared,
            expected: prepared.expected(),
            guard,
            started,
            attempt: 0,
            limit_retries: 0,
            uncertain: matches!(start, Start::Resume),
            sent: false,
        };
        if start == Start::Resume
            && let Some(outcome) = self.query_first(&mut run).await
        {
            return Ok(outcome);
        }
        loop {
            let step = self.attempt(&mut run).await;
            *attempts = run.attempt;
            let (unknown, code) = match step {
                Step::Done(result) => return result,
                Step::Refused(refused) => {
                    if let Some(after) = self.rate_limit_pause(&mut run, &refused) {
                        tokio::time::sleep(after).await;
                        continue;
                    }
                    return Ok(self.settle(&mut run, refused).await);
                }
                Step::Confirm(refused) => return Ok(self.settle(&mut run, refused).await),
                Step::Unknown(unknown, code) => (unknown, code),
            };
            if let Some(outcome) = self.after_unknown(&mut run, unknown, code).await {
                return Ok(outcome);
            }
        }
    }

    /// Resuming a request an earlier attempt may have sent: one query first.
    /// Its outcome stands unless it is unknown for another reason than a
    /// payment in progress (then the request is resent).
    async fn query_first(&self, run: &mut Execution<'_>) -> Option<Outcome> {
        let query = run.prepared.endpoint().spec().query?;
        let outcome = self.query_once(&mut run.guard, query, &run.expected).await;
        match &outcome {
            Outcome::Unknown(Unknown {
                reason: UnknownReason::InProgress { .. },
                ..
            }) => Some(outcome),
            Outcome::Unknown(_) => {
                tracing::info!("the query did not settle the stored request: resending it");
                None
            }
            _ => Some(outcome),
        }
    }

    /// One attempt: a rate-limiter permit, the bill's spacing, the identical
    /// bytes sent, and the reply read.
    async fn attempt(&self, run: &mut Execution<'_>) -> Step {
        run.attempt += 1;
        let prepared = run.prepared;
        let (endpoint, bill) = (prepared.endpoint(), prepared.bill());
        let permit = RateRequest::new(
            &self.inner.merchant.mch_id,
            endpoint,
            bill,
            prepared.payee(),
            run.attempt,
        );
        if let Err(e) = self.inner.rate_limiter.acquire(&permit).await {
            if !run.sent {
                return Step::Done(Err(ClientError::RateLimit(e)));
            }
            let reason = UnknownReason::Transport(format!("not resent: {e}"));
            return Step::Unknown(Unknown::new(bill, reason), None);
        }
        run.guard.space().await;
        let response = match self.exchange(endpoint, prepared.body_bytes()).await {
            Err(e) if !e.may_have_been_sent() && !run.sent => {
                tracing::info!(error = %e, "request not sent");
                return Step::Done(Err(ClientError::NotSent {
                    endpoint: endpoint.name(),
                    source: e,
                }));
            }
            Err(e) => {
                run.sent |= e.may_have_been_sent();
                run.uncertain |= e.may_have_been_sent();
                let reason = UnknownReason::Transport(e.report());
                return Step::Unknown(Unknown::new(bill, reason), None);
            }
            Ok(response) => response,
        };
        run.sent = true;
        match self.interpret(endpoint, &run.expected, &response) {
            Attempt::Definite(Outcome::NotPaid(refused)) => Step::Refused(refused),
            Attempt::Definite(outcome) => Step::Done(Ok(outcome)),
            Attempt::Unknown(unknown, code) => match documented_refusal(endpoint, &unknown) {
                // Payments to employees: every FAIL is confirmed by a query.
                Some(refused) => Step::Confirm(refused),
                None => {
                    run.uncertain = true;
                    Step::Unknown(unknown, code)
                }
            },
        }
    }

    /// A rate-limit refusal (`FREQ_LIMIT`, `SECOND_OVER_LIMITED`) within the
    /// policy's budget: the pause before resending the identical request.
    fn rate_limit_pause(&self, run: &mut Execution<'_>, refused: &NotPaid) -> Option<Duration> {
        let policy = &self.inner.retry;
        if !refused.code.is_rate_limit() || run.limit_retries >= policy.limit_retries {
            return None;
        }
        run.limit_retries += 1;
        let after = policy.backoff(run.limit_retries, rand::random());
        tracing::info!(
            code = refused.code.as_str(),
            after_ms = after.as_millis() as u64,
            "rate limited: resending the identical request"
        );
        Some(after)
    }

    /// [`settle_refusal`](Self::settle_refusal) with what this execution knows.
    async fn settle(&self, run: &mut Execution<'_>, refused: NotPaid) -> Outcome {
        self.settle_refusal(
            &mut run.guard,
            run.prepared,
            &run.expected,
            refused,
            run.uncertain,
        )
        .await
    }

    /// An unknown outcome, as the retry policy decides: `None` to resend
    /// (after the pause), else the outcome after querying or giving up.
    async fn after_unknown(
        &self,
        run: &mut Execution<'_>,
        unknown: Unknown,
        code: Option<ErrorCode>,
    ) -> Option<Outcome> {
        if code == Some(ErrorCode::FatalError) {
            // The bill is held by another payee: a query that does not
            // name the payee settles as a conflict.
            run.expected.other_payee_reported = true;
        }
        let policy = &self.inner.retry;
        let kind = RetryKind::of(&unknown.reason, code.as_ref());
        let decision = policy.decide(run.attempt, kind, run.started.elapsed(), rand::random());
        tracing::info!(
            attempt = run.attempt,
            kind = kind.as_str(),
            reason = %unknown.reason,
            decision = ?decision,
            "unknown outcome"
        );
        match decision {
            RetryDecision::Resend { after } => {
                tokio::time::sleep(after).await;
                None
            }
            RetryDecision::Query { after } => {
                let Some(query) = run.prepared.endpoint().spec().query else {
                    return Some(Outcome::Unknown(unknown));
                };
                tokio::time::sleep(after).await;
                let outcome = self
                    .query_loop(
                        &mut run.guard,
                        query,
                        &run.expected,
                        QueryBudget::Count(policy.queries),
                        Settle {
                            send_unknown: Some(unknown),
                            ..Settle::default()
                        },
                    )
                    .await;
                Some(
                    self.confirm_payee(&mut run.guard, run.prepared, &run.expected, outcome)
                        .await,
                )
            }
            RetryDecision::GiveUp => Some(Outcome::Unknown(unknown)),
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
