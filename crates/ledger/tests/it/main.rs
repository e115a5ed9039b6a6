//! Integration tests of hongbao-ledger (one test binary).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod api;
mod conformance;
mod engine;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod worker;
