//! Integration tests of hongbao-sign.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod properties;
mod secrets;
mod vectors;
mod zero_alloc;
