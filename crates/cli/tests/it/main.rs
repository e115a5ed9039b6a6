//! Integration tests of the hongbao command line.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod batch;
mod cli;
mod common;
mod crash_soak;
mod frontend;
mod notify;
#[cfg(feature = "postgres")]
mod pg;
mod rails;
