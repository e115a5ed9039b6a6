//! End-to-end tests: the hongbao client against the sandbox.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod e2e;
mod model;
