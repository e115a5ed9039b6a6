//! Cross-crate tests of hongbao live in `tests/tests/`: the `hongbao` client
//! against the `hongbao-sandbox` emulator over mutual TLS, with the
//! emulator's seeded faults, proving that no payment is lost or made twice.
// Not a published API (test helpers, not published: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

/// The README's Rust examples, compiled (and the runnable ones run) as doctests,
/// so the README stays true.
#[doc = include_str!("../../README.md")]
pub mod readme {}
