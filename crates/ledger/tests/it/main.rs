//! Integration tests of hongbao-ledger (one test binary).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod store;
mod worker;
