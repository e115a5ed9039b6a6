//! Shared fixture loading for the hongbao criterion benchmarks.
//!
//! The benchmarks themselves live in `benches/benches/*.rs`; run them with
//! `cargo xtask bench`.
