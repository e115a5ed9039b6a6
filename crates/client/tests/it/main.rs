//! Integration tests of the hongbao client (they need the test-util feature).
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod client;
#[cfg(feature = "test-util")] // every test module needs the mock transport
mod common;
mod outcomes;
mod retries;
mod workwx;
