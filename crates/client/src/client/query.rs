//! Queries: what became of a bill, once or until a deadline.

use bytes::Bytes;
use hongbao_proto::{
    AnyRequest, Endpoint, Expected, NotPaid, Outcome, Prepared, Reply, Request, Unknown,
    UnknownReason,
};
use tokio::time::Instant;
use tracing::Instrument;

use super::{Attempt, BuildSigned, Client, query_endpoint, record_result};
use crate::error::ClientError;
use crate::locks::BillGuard;

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
pub(super) enum QueryBudget {
    /// Until the next query would start after this instant.
    Until(Instant),
    /// At most this many queries.
    Count(u32),
}

/// What a query loop settles.
#[derive(Default)]
pub(super) struct Settle {
    /// The refusal that led to the query, if any.
    pub(super) refusal: Option<NotPaid>,
    /// Whether an attempt had an unknown outcome.
    pub(super) uncertain: bool,
    /// Whether the refusal counts only once a query confirms it (payments
    /// to employees).
    pub(super) confirm: bool,
    /// The unknown outcome of the send that led to the query, if any.
    pub(super) send_unknown: Option<Unknown>,
}

impl Client {
    /// Asks WeChat what became of a prepared request, sending nothing but
    /// queries: the answer is checked against the request's payee and amount
    /// (another payment under its bill number is an [`Outcome::Conflict`]).
    /// A bill WeChat does not know (`NOT_FOUND`) stays `Unknown`.
    pub async fn status(&self, prepared: &Prepared) -> Result<Outcome, ClientError> {
        // A stored request is read back (its values checked against its body).
        let checked;
        let prepared = if prepared.needs_check() {
            checked = self.checked(prepared)?;
            &checked
        } else {
            self.check_merchant(prepared)?;
            prepared
        };
        let expected = prepared.expected();
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
        let bill = signed.bill().to_owned();
        let body = signed.body_bytes();
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
                        UnknownReason::Transport(e.report()),
                    )),
                    reply: None,
                }),
                Ok(response) => {
                    let interpretation = hongbao_proto::interpret_expecting(
                        endpoint,
                        &Expected::bill(&bill).with_mch_id(&self.inner.merchant.mch_id),
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

    /// One query of the bill, checked against `expected`.
    pub(super) async fn query_once(
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
    pub(super) async fn query_loop(
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
        let query_expected = expected.with_mch_id(&self.inner.merchant.mch_id);
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
                    Err(e) => Unknown::new(bill, UnknownReason::Transport(e.report())),
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
    fn build_query(&self, query: Endpoint, bill: &str) -> Result<Bytes, ClientError> {
        let request = AnyRequest::query(query, bill)
            .ok_or_else(|| ClientError::unsupported("query", query))?
            .map_err(|v| ClientError::Invalid(v.into()))?;
        Ok(request.visit(BuildSigned(self))?.body_bytes())
    }
}
