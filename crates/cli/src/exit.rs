//! Exit codes of the `hongbao` binary.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: every row paid (batch), paid (send), signature matches (sign) |
//! | 1 | some rows definitely **not paid** (none unknown), or rows left out by `--skip-invalid`; send: not paid; sign: mismatch; reconcile: WeChat disagrees with the journal |
//! | 2 | invalid input or usage: nothing was sent |
//! | 3 | some outcomes are still **unknown** (rerun the same command to resolve them) |
//! | 4 | could not run: no configuration and no `--sandbox`, configuration, journal, certificate or I/O error (a missing input file included; the journal stays consistent; rerun after fixing) |
//! | 130 | interrupted (Ctrl-C) after recording the in-flight requests; rerun to resume |

/// Everything paid / success.
pub const OK: u8 = 0;
/// Some rows definitely not paid.
pub const NOT_PAID: u8 = 1;
/// Invalid input, nothing sent.
pub const INVALID: u8 = 2;
/// Some outcomes unknown.
pub const UNKNOWN: u8 = 3;
/// Configuration, journal or I/O error.
pub const ERROR: u8 = 4;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: u8 = 130;
