//! Integration tests of hongbao-proto.
//!
//! One integration-test binary for the crate (one link instead of one per
//! file); each file of the old `tests/` is a module here.

mod codes;
mod common;
mod examples;
mod robustness;
mod validation;
mod values;
mod vectors;
mod xml;
