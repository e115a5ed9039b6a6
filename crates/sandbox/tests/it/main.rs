//! Integration tests of hongbao-sandbox.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod api;
mod binary;
mod common;
mod mtls;
