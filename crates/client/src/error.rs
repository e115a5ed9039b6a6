//! Errors: configuration problems and calls where nothing can have been paid.

use hongbao_proto::{BuildError, Endpoint, Violations};
use hongbao_transport::TransportError;

use crate::rate::RateLimitError;

/// A `Client` could not be built, or a call needs a setting that is missing.
///
/// Never contains a secret (API key, WeCom secret, certificate password).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting was not given.
    #[error("missing setting `{field}`")]
    Missing {
        /// The builder method that sets it (`mch_id`, `appid`, `api_key`, …).
        field: &'static str,
    },
    /// A setting has an invalid value.
    #[error("invalid setting `{field}`: {reason}")]
    Invalid {
        /// The builder method that sets it.
        field: &'static str,
        /// Why it is invalid (never the value of a secret).
        reason: String,
    },
    /// A custom transport was given together with a setting that only
    /// configures the built-in transport (identity, extra CA, proxy, timeouts
    /// of the connection).
    #[error(
        "`{setting}` configures the built-in transport and cannot be combined with a custom `transport`"
    )]
    TransportConflict {
        /// The conflicting setting.
        setting: &'static str,
    },
    /// No transport: give one with `transport(..)`, or enable the `reqwest`
    /// feature and give the merchant certificate with `identity(..)`.
    #[error(
        "no transport: give the merchant certificate with `identity(..)` (feature `reqwest`) or a custom `transport(..)`"
    )]
    NoTransport,
    /// The built-in transport could not be built (for example an unreadable extra CA).
    #[error("cannot build the HTTPS transport: {0}")]
    Transport(#[source] TransportError),
    /// A WeCom endpoint needs a WeCom app secret (`workwx_sign`) and none is
    /// configured for this request's agent id (nor a default one).
    #[error("no WeCom app secret configured{}", agent_suffix(.agentid.as_deref()))]
    MissingWorkwxSecret {
        /// The agent id the request names, if any.
        agentid: Option<String>,
    },
}

fn agent_suffix(agentid: Option<&str>) -> String {
    match agentid {
        Some(agent) => format!(" for agentid {agent} (nor a default `workwx_secret`)"),
        None => " (`workwx_secret`)".to_owned(),
    }
}

/// A call failed in a way where **nothing can have been paid**.
///
/// Every ambiguous situation (a request that may have reached the server, a
/// timeout, an unreadable or badly signed reply, an unknown error code) is
/// reported as `Ok(Outcome::Unknown { .. })` instead, never as an error.
/// Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request is invalid; nothing was sent. Lists every violation.
    #[error("nothing sent: {0}")]
    Invalid(#[source] Violations),
    /// The client is missing a setting this call needs; nothing was sent.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The request certainly did not reach the server (connection refused,
    /// DNS, TLS handshake failure, no client certificate…), and no earlier
    /// attempt of this call may have reached it either.
    #[error("{endpoint}: request not sent: {source}")]
    NotSent {
        /// The endpoint called.
        endpoint: &'static str,
        /// The transport error (its `may_have_been_sent()` is `false`).
        #[source]
        source: TransportError,
    },
    /// The rate limiter failed before the first attempt; nothing was sent.
    #[error("rate limiter: {0}")]
    RateLimit(#[from] RateLimitError),
    /// The request cannot be built or signed (for example a field name the
    /// signer refuses); nothing was sent. The cause is kept as its type.
    #[error("cannot build the request")]
    Build(#[source] BuildError),
    /// An invariant of a built request does not hold (a bug, not a
    /// configuration or input problem); nothing was sent.
    #[error("internal error, nothing sent: {0}")]
    Internal(&'static str),
    /// The operation does not apply to this endpoint (e.g. `send` with a
    /// query request, `resolve` for the sandbox key endpoint); nothing was sent.
    #[error("{operation} does not apply to {endpoint}")]
    Unsupported {
        /// The client method.
        operation: &'static str,
        /// The endpoint's name.
        endpoint: &'static str,
    },
    /// A call that moves no money (the sandbox key) did not succeed: no or an
    /// unusable reply.
    #[error("{endpoint} failed: {reason}")]
    Failed {
        /// The endpoint called.
        endpoint: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A [`Prepared`](crate::Prepared) request cannot be executed by this
    /// client: another merchant id, or a body that does not match its
    /// endpoint or bill number (a corrupted journal). Nothing was sent.
    #[error("prepared request rejected, nothing sent: {reason}")]
    PreparedMismatch {
        /// What does not match.
        reason: String,
    },
}

impl ClientError {
    pub(crate) fn unsupported(operation: &'static str, endpoint: Endpoint) -> Self {
        ClientError::Unsupported {
            operation,
            endpoint: endpoint.name(),
        }
    }
}
