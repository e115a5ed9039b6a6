//! The transport error and its "may the request have reached the server?" classification.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// What went wrong, independently of whether the request may have been sent.
///
/// This is diagnostic detail; the decision that matters for money safety is
/// [`TransportError::may_have_been_sent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid configuration or request, detected locally before any network
    /// activity: unparsable or non-HTTPS URL, invalid header, a request that
    /// needs the client certificate on a transport built without one, invalid
    /// builder settings.
    Config,
    /// The client certificate, its private key, a PKCS#12 file or an extra CA
    /// certificate could not be loaded.
    Certificate,
    /// The connection could not be established: DNS failure, connection
    /// refused, network unreachable, proxy failure.
    Connect,
    /// A TLS failure: handshake failure, server certificate verification
    /// failure, or a TLS alert received from the server.
    Tls,
    /// A timeout elapsed (connect timeout or total timeout).
    Timeout,
    /// The connection failed during the exchange: reset, closed before or
    /// during the reply, incomplete reply.
    Io,
    /// The response body could not be read or exceeded the configured size limit.
    Body,
    /// An error produced by the mock transport (scripted failure or script exhausted).
    Mock,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// A short lowercase name for logs (`"connect"`, `"tls"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Certificate => "certificate",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::Body => "body",
            ErrorKind::Mock => "mock",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The underlying cause of a [`TransportError`], shareable so the error is `Clone`.
pub type ErrorSource = Arc<dyn StdError + Send + Sync + 'static>;

/// A failed exchange, classified by whether the request **may have reached the server**.
///
/// * [`NotSent`](TransportError::NotSent): the request certainly did not reach
///   the server's HTTP layer — DNS failure, connection refused, TLS handshake
///   failure before any request byte was written, a certificate or
///   configuration problem found before sending. Nothing can have happened on
///   the server side because of this attempt.
/// * [`MaybeSent`](TransportError::MaybeSent): everything else — a timeout after
///   the request may have been written, a connection reset or closed while
///   waiting for (or in the middle of) the reply, an unreadable reply body. The
///   server may have received and executed the request.
///
/// A transport must only return `NotSent` when it is **certain**; when in doubt
/// it must return `MaybeSent`. The hongbao client relies on this: after a
/// `MaybeSent` error on a money-moving call the outcome is unknown and the same
/// bill number is retried or queried, never replaced.
///
/// The error never contains private key material or passwords.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request certainly did not reach the server.
    #[error("request not sent ({kind}): {message}")]
    #[non_exhaustive]
    NotSent {
        /// What went wrong.
        kind: ErrorKind,
        /// Human-readable description (the underlying causes are the
        /// `source()` chain, not repeated here; see [`TransportError::report`]).
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<ErrorSource>,
    },
    /// The request may have reached the server (and may have been executed).
    #[error("request may have been sent ({kind}): {message}")]
    #[non_exhaustive]
    MaybeSent {
        /// What went wrong.
        kind: ErrorKind,
        /// Human-readable description (the underlying causes are the
        /// `source()` chain, not repeated here; see [`TransportError::report`]).
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<ErrorSource>,
    },
}

impl TransportError {
    /// A [`NotSent`](TransportError::NotSent) error. Only use this when the
    /// request certainly did not reach the server.
    pub fn not_sent(kind: ErrorKind, message: impl Into<String>) -> Self {
        TransportError::NotSent {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A [`MaybeSent`](TransportError::MaybeSent) error: the request may have
    /// reached the server.
    pub fn maybe_sent(kind: ErrorKind, message: impl Into<String>) -> Self {
        TransportError::MaybeSent {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause (returned by [`std::error::Error::source`]).
    #[must_use]
    pub fn with_source(mut self, error: impl StdError + Send + Sync + 'static) -> Self {
        let new: ErrorSource = Arc::new(error);
        match &mut self {
            TransportError::NotSent { source, .. } | TransportError::MaybeSent { source, .. } => {
                *source = Some(new);
            }
        }
        self
    }

    /// Appends `context` to the message, keeping the classification and source.
    #[cfg(feature = "reqwest")]
    pub(crate) fn with_context(mut self, context: impl fmt::Display) -> Self {
        match &mut self {
            TransportError::NotSent { message, .. } | TransportError::MaybeSent { message, .. } => {
                *message = format!("{message} ({context})");
            }
        }
        self
    }

    /// This error and its causes, each once, joined with `": "` (an
    /// `io::Error` wrapping another error counts as that error): for logs
    /// and reasons shown to people. `Display` shows this error alone.
    pub fn report(&self) -> String {
        error_chain(self)
    }

    /// `true` unless the request certainly did not reach the server.
    ///
    /// When this returns `true`, the server may have received and executed the
    /// request: for a money-moving call the outcome is unknown.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            TransportError::NotSent { .. } => false,
            TransportError::MaybeSent { .. } => true,
        }
    }

    /// What went wrong (diagnostic detail).
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::NotSent { kind, .. } | TransportError::MaybeSent { kind, .. } => *kind,
        }
    }

    /// The human-readable description, without the "not sent"/"may have been sent" prefix.
    pub fn message(&self) -> &str {
        match self {
            TransportError::NotSent { message, .. } | TransportError::MaybeSent { message, .. } => {
                message
            }
        }
    }
}

/// The next error in the cause chain. `io::Error::source` skips the error an
/// `io::Error` wraps (it returns the wrapped error's source), so for an
/// `io::Error` the wrapped error itself is the next link.
pub(crate) fn next_cause<'a>(
    e: &'a (dyn StdError + 'static),
) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        let inner: &(dyn StdError + 'static) = inner;
        return Some(inner);
    }
    e.source()
}

/// The error and its causes joined with `": "`, skipping repeated messages
/// (an `io::Error` wrapping an error displays the same text).
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.ends_with(&text)) {
            parts.push(text);
        }
        depth += 1;
        current = if depth < 32 { next_cause(e) } else { None };
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_and_display() {
        let e = TransportError::not_sent(ErrorKind::Connect, "connection refused");
        assert!(!e.may_have_been_sent());
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert_eq!(e.message(), "connection refused");
        assert_eq!(
            e.to_string(),
            "request not sent (connect): connection refused"
        );
        assert!(StdError::source(&e).is_none());

        let e = TransportError::maybe_sent(ErrorKind::Timeout, "no reply within 30s")
            .with_source(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(e.may_have_been_sent());
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            e.to_string(),
            "request may have been sent (timeout): no reply within 30s"
        );
        assert!(StdError::source(&e).is_some());
        let cloned = e.clone();
        assert!(cloned.may_have_been_sent());
    }

    #[test]
    fn display_does_not_repeat_the_source_and_report_shows_each_cause_once() {
        let io = std::io::Error::other("connection reset by peer");
        let e = TransportError::maybe_sent(ErrorKind::Io, "the HTTP exchange failed")
            .with_source(std::io::Error::other(io));
        assert_eq!(
            e.to_string(),
            "request may have been sent (io): the HTTP exchange failed"
        );
        assert_eq!(
            e.report(),
            "request may have been sent (io): the HTTP exchange failed: connection reset by peer"
        );
    }

    #[test]
    fn error_is_send_sync_static() {
        fn assert_traits<T: Send + Sync + 'static + StdError + Clone>() {}
        assert_traits::<TransportError>();
    }
}
