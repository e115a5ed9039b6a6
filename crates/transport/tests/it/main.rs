//! Integration tests of hongbao-transport.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

#[cfg(feature = "reqwest")] // only the reqwest transport tests use it
mod common;
mod mock;
mod reqwest_transport;
