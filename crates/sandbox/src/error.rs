//! The error type of starting and running the sandbox.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::faults::FaultConfigError;

/// Why the sandbox could not start (or stopped).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A certificate file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Generating or loading a certificate or key failed.
    #[error("certificate error: {0}")]
    Certificate(String),
    /// The TLS configuration was refused.
    #[error("TLS configuration error: {0}")]
    Tls(#[from] rustls::Error),
    /// A setting is invalid (the message names it; secrets are never shown).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A fault setting is invalid.
    #[error("invalid fault configuration: {0}")]
    Faults(#[from] FaultConfigError),
    /// Waiting for a shutdown signal failed.
    #[error("cannot wait for a shutdown signal: {0}")]
    Signal(std::io::Error),
    /// Writing the start line failed.
    #[error("cannot write the start line to stdout: {0}")]
    Stdout(std::io::Error),
}
