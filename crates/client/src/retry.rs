//! The automatic retry policy: when to resend the identical body, when to
//! query, when to give up.
//!
//! The decision is a pure function ([`RetryPolicy::decide`]) of the attempt
//! number, the kind of unknown outcome, the time spent so far and a jitter
//! sample, so it can be tested without a clock or a network.

use std::time::Duration;

use hongbao_proto::{ErrorCode, UnknownReason};

/// The documented shortest interval between two requests for the same order
/// (bill number): 1 second. Nothing in this crate sends faster for one bill.
pub const MIN_SPACING: Duration = Duration::from_secs(1);

/// Why the previous attempt's outcome is unknown, as far as retrying is concerned.
///
/// Built from the proto crate's `UnknownReason` by the client
/// ([`RetryKind::of`]); exposed so the policy can be tested and reasoned about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryKind {
    /// The transport failed after the request may have been written
    /// (`MaybeSent`), or the attempt timed out.
    Transport,
    /// The server answered with an HTTP status other than 200.
    HttpStatus,
    /// The reply could not be parsed, carried no `result_code`, or its `sign`
    /// did not verify.
    BadReply,
    /// `SYSTEMERROR` or an error code this crate does not know: the documented
    /// remedy is to resend the original request with the original bill number.
    SystemError,
    /// `return_code=FAIL`: usually a signature, format or configuration
    /// problem that resending the same bytes will not fix.
    ReturnFail,
    /// The server said the payment is still being processed (`PROCESSING`,
    /// `SENDING`): ask again later rather than resend.
    InProgress,
    /// The reply does not match the request (echo mismatch, `FATAL_ERROR`):
    /// a resend cannot help; only a query can tell.
    Conflict,
    /// Any other unknown outcome.
    Other,
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

    /// Whether resending the identical body can help for this kind of unknown outcome.
    pub fn resendable(self) -> bool {
        matches!(
            self,
            RetryKind::Transport
                | RetryKind::HttpStatus
                | RetryKind::BadReply
                | RetryKind::SystemError
        )
    }

    /// A short lowercase name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryKind::Transport => "transport",
            RetryKind::HttpStatus => "http_status",
            RetryKind::BadReply => "bad_reply",
            RetryKind::SystemError => "system_error",
            RetryKind::ReturnFail => "return_fail",
            RetryKind::InProgress => "in_progress",
            RetryKind::Conflict => "conflict",
            RetryKind::Other => "other",
        }
    }
}

/// What to do after an attempt whose outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait `after`, then resend the identical body (same bill number, nonce
    /// and sign).
    Resend {
        /// How long to wait first (never less than [`MIN_SPACING`]).
        after: Duration,
    },
    /// Stop resending; wait `after`, then query the bill number.
    Query {
        /// How long to wait first (never less than [`MIN_SPACING`]).
        after: Duration,
    },
    /// Stop: the outcome stays unknown.
    GiveUp,
}

/// How the client retries calls whose outcome is unknown.
///
/// Automatic retries only ever resend the **identical** signed body (same bill
/// number, nonce and sign) and only after an unknown outcome; a definite
/// outcome (paid, not paid) is never retried and a new bill number is never
/// created. Delays grow exponentially from
/// [`initial_backoff`](Self::initial_backoff) (at least 1 s) up to
/// [`max_backoff`](Self::max_backoff), plus up to
/// [`jitter`](Self::jitter) × the delay of random extra wait. When the
/// resend budget ([`max_resends`](Self::max_resends) or
/// [`max_elapsed`](Self::max_elapsed)) is used up, or the unknown outcome is
/// not one a resend can fix, the client queries the bill number up to
/// [`queries`](Self::queries) times; if it is still unknown, the call
/// returns `Outcome::Unknown`.
///
/// Defaults: 3 resends, backoff 1 s → 2 s → 4 s (capped at 30 s), jitter 0.5,
/// resends only within 60 s of the first attempt, then 2 queries; 3 identical
/// resends after a rate-limit refusal.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Resends of the identical body after the first attempt (0 = never resend).
    pub max_resends: u32,
    /// Delay before the first resend; raised to [`MIN_SPACING`] if smaller.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential delay (before jitter).
    pub max_backoff: Duration,
    /// Random extra delay as a fraction of the delay, in `0.0..=1.0`
    /// (values outside are clamped; NaN counts as 0).
    pub jitter: f64,
    /// No resend is started when it would begin later than this after the
    /// first attempt.
    pub max_elapsed: Duration,
    /// Queries after the resends are exhausted (0 = return `Unknown` without querying).
    pub queries: u32,
    /// Identical resends after a rate-limit refusal (`FREQ_LIMIT`,
    /// `SECOND_OVER_LIMITED`: nothing was paid, the same bill number is
    /// kept), each after [`backoff`](Self::backoff) (0 = return the refusal).
    pub limit_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_resends: 3,
            initial_backoff: MIN_SPACING,
            max_backoff: Duration::from_secs(30),
            jitter: 0.5,
            max_elapsed: Duration::from_secs(60),
            queries: 2,
            limit_retries: 3,
        }
    }
}

impl RetryPolicy {
    /// Sets [`max_resends`](Self::max_resends).
    #[must_use]
    pub fn with_max_resends(mut self, max_resends: u32) -> Self {
        self.max_resends = max_resends;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    #[must_use]
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`max_elapsed`](Self::max_elapsed).
    #[must_use]
    pub fn with_max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// Sets [`queries`](Self::queries).
    #[must_use]
    pub fn with_queries(mut self, queries: u32) -> Self {
        self.queries = queries;
        self
    }

    /// Sets [`limit_retries`](Self::limit_retries).
    #[must_use]
    pub fn with_limit_retries(mut self, limit_retries: u32) -> Self {
        self.limit_retries = limit_retries;
        self
    }

    /// No automatic resend and no automatic query: every unknown outcome is
    /// returned as is (use `Client::resolve` or `Client::execute` yourself).
    pub fn none() -> Self {
        RetryPolicy {
            max_resends: 0,
            queries: 0,
            limit_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The delay before attempt `attempt + 1`, after `attempt` attempts
    /// (1-based), given a jitter sample `jitter_sample` in `0.0..1.0`.
    ///
    /// `max(initial_backoff, 1 s) × 2^(attempt-1)`, capped at `max_backoff`
    /// (but never below 1 s), then multiplied by `1 + jitter × jitter_sample`.
    /// Never less than [`MIN_SPACING`].
    pub fn backoff(&self, attempt: u32, jitter_sample: f64) -> Duration {
        let initial = self.initial_backoff.max(MIN_SPACING);
        let cap = self.max_backoff.max(initial);
        let exponent = attempt.saturating_sub(1).min(31);
        let base = initial.saturating_mul(1u32 << exponent).min(cap);
        let fraction = clamp_unit(self.jitter) * clamp_unit(jitter_sample);
        // `try_from` instead of `mul_f64`: no panic on huge configured delays.
        let extra = Duration::try_from_secs_f64(base.as_secs_f64() * fraction).unwrap_or(base);
        base.saturating_add(extra).max(MIN_SPACING)
    }

    /// The decision after `attempt` attempts (1-based: `1` after the first
    /// send) of which the last one's outcome is unknown because of `kind`,
    /// `elapsed` after the first attempt started. `jitter_sample` is a random
    /// number in `0.0..1.0` (the client draws it; tests pass fixed values).
    ///
    /// * `kind` not [resendable](RetryKind::resendable) → query (or give up
    ///   when [`queries`](Self::queries) is 0);
    /// * resends used up (`attempt > max_resends`) → query / give up;
    /// * the next resend would start after [`max_elapsed`](Self::max_elapsed)
    ///   → query / give up;
    /// * otherwise → resend after [`backoff`](Self::backoff).
    pub fn decide(
        &self,
        attempt: u32,
        kind: RetryKind,
        elapsed: Duration,
        jitter_sample: f64,
    ) -> RetryDecision {
        let stop = if self.queries == 0 {
            RetryDecision::GiveUp
        } else {
            RetryDecision::Query { after: MIN_SPACING }
        };
        if !kind.resendable() || attempt > self.max_resends {
            return stop;
        }
        let after = self.backoff(attempt, jitter_sample);
        if elapsed.saturating_add(after) > self.max_elapsed {
            return stop;
        }
        RetryDecision::Resend { after }
    }

    /// The wait before query number `query + 1` after `query` queries
    /// (1-based) that left the outcome unknown: the same exponential backoff
    /// as resends.
    pub fn query_backoff(&self, query: u32, jitter_sample: f64) -> Duration {
        self.backoff(query, jitter_sample)
    }
}

fn clamp_unit(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn backoff_is_exponential_capped_and_never_below_one_second() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(10), // raised to 1 s
            max_backoff: Duration::from_secs(5),
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = (1..=6).map(|a| policy.backoff(a, 0.9)).collect();
        assert_eq!(delays, vec![S, 2 * S, 4 * S, 5 * S, 5 * S, 5 * S]);
        // Enormous attempt numbers do not overflow.
        assert_eq!(policy.backoff(u32::MAX, 0.5), 5 * S);
        // A cap below one second is raised to one second.
        let tiny = RetryPolicy::default()
            .with_max_backoff(Duration::ZERO)
            .with_initial_backoff(Duration::ZERO);
        assert!(tiny.backoff(3, 0.0) >= MIN_SPACING);
    }

    #[test]
    fn jitter_only_adds_delay_within_its_fraction() {
        let policy = RetryPolicy::default().with_jitter(0.5);
        assert_eq!(policy.backoff(2, 0.0), 2 * S);
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(2500));
        assert_eq!(policy.backoff(2, 1.0), 3 * S);
        // Out-of-range samples and jitter settings are clamped, NaN is zero.
        assert_eq!(policy.backoff(1, 7.0), Duration::from_millis(1500));
        assert_eq!(policy.backoff(1, -1.0), S);
        assert_eq!(policy.backoff(1, f64::NAN), S);
        let wild = RetryPolicy::default().with_jitter(f64::INFINITY);
        assert_eq!(wild.backoff(1, 1.0), 2 * S);
        let huge = RetryPolicy::default()
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::MAX)
            .with_jitter(1.0);
        assert_eq!(huge.backoff(3, 0.999), Duration::MAX);
    }

    #[test]
    fn resendable_kinds_are_resent_until_the_budget_then_queried() {
        let policy = RetryPolicy::default().with_jitter(0.0);
        for kind in [
            RetryKind::Transport,
            RetryKind::HttpStatus,
            RetryKind::BadReply,
            RetryKind::SystemError,
        ] {
            assert_eq!(
                policy.decide(1, kind, Duration::ZERO, 0.0),
                RetryDecision::Resend { after: S }
            );
            assert_eq!(
                policy.decide(2, kind, 3 * S, 0.0),
                RetryDecision::Resend { after: 2 * S }
            );
            assert_eq!(
                policy.decide(3, kind, 6 * S, 0.0),
                RetryDecision::Resend { after: 4 * S }
            );
            // Three resends done (4 attempts): query.
            assert_eq!(
                policy.decide(4, kind, 11 * S, 0.0),
                RetryDecision::Query { after: MIN_SPACING }
            );
        }
    }

    #[test]
    fn kinds_a_resend_cannot_fix_go_straight_to_query() {
        let policy = RetryPolicy::default();
        for kind in [
            RetryKind::ReturnFail,
            RetryKind::InProgress,
            RetryKind::Conflict,
            RetryKind::Other,
        ] {
            assert!(!kind.resendable());
            assert_eq!(
                policy.decide(1, kind, Duration::ZERO, 0.3),
                RetryDecision::Query { after: MIN_SPACING },
                "{kind:?}"
            );
        }
    }

    #[test]
    fn elapsed_budget_stops_resends() {
        let policy = RetryPolicy::default()
            .with_jitter(0.0)
            .with_max_elapsed(Duration::from_secs(10));
        assert_eq!(
            policy.decide(1, RetryKind::Transport, 9 * S, 0.0),
            RetryDecision::Resend { after: S }
        );
        assert_eq!(
            policy.decide(1, RetryKind::Transport, Duration::from_millis(9001), 0.0),
            RetryDecision::Query { after: MIN_SPACING }
        );
    }

    #[test]
    fn no_queries_means_give_up_and_none_never_retries() {
        let policy = RetryPolicy::default().with_queries(0);
        assert_eq!(
            policy.decide(9, RetryKind::Transport, Duration::ZERO, 0.0),
            RetryDecision::GiveUp
        );
        assert_eq!(
            policy.decide(1, RetryKind::InProgress, Duration::ZERO, 0.0),
            RetryDecision::GiveUp
        );
        let none = RetryPolicy::none();
        assert_eq!(
            none.decide(1, RetryKind::Transport, Duration::ZERO, 0.0),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn every_resend_and_query_waits_at_least_one_second() {
        let policy = RetryPolicy::default()
            .with_initial_backoff(Duration::ZERO)
            .with_max_backoff(Duration::ZERO)
            .with_jitter(0.0)
            .with_max_resends(100)
            .with_max_elapsed(Duration::MAX);
        for attempt in 1..=100 {
            match policy.decide(attempt, RetryKind::Transport, Duration::ZERO, 0.0) {
                RetryDecision::Resend { after } | RetryDecision::Query { after } => {
                    assert!(after >= MIN_SPACING)
                }
                RetryDecision::GiveUp => panic!("gave up with queries left"),
            }
            assert!(policy.query_backoff(attempt, 0.0) >= MIN_SPACING);
        }
    }
}
