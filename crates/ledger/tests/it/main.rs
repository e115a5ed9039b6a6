//! Integration tests of hongbao-ledger (one test binary).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

#[cfg(feature = "postgres")]
mod postgres;
mod store;
mod worker;
