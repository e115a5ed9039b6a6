//! Cross-crate tests of hongbao live in `tests/tests/*.rs`.
