//! # hongbao-cli
//!
//! The `hongbao` command line for WeChat Pay API v2 marketing transfers:
//! single payouts (`hongbao send`), status queries (`hongbao query`), the
//! SIGN_ERROR debugger (`hongbao sign`), the emulator (`hongbao sandbox`),
//! and batch payouts from a CSV file that **never pay twice**
//! (`hongbao batch run|status|reconcile|report`).
//!
//! The exactly-once engine is the [`hongbao_ledger`] crate (one ledger per
//! merchant, batches, fenced workers); the library part of this crate holds
//! the pieces the binary is made of, each usable and tested on its own:
//!
//! * [`input`]: the batch file reader (CSV in UTF-8 or GB18030, `.xlsx`,
//!   Chinese header aliases); [`payout`]: building and validating a request
//!   per row; [`batch`]: importing a file into a batch of the ledger and
//!   running a worker over it;
//! * [`config`]: `hongbao.toml` and secrets (environment or files, never
//!   flags); [`sign_debug`]: the debugger; [`report`]: summaries and reports;
//! * [`output`]: stdout that ends quietly on a closed pipe, the sandbox
//!   banner, reports for Excel; [`completions`]: shell completions and
//!   man pages;
//! * [`notify`]: the run's summary POSTed to a webhook (`--notify`);
//!   [`log`]: log lines as text or JSON (`--log-format`); [`human`]:
//!   counts, rates and durations as people read them;
//! * [`exit`]: the exit codes.
#![forbid(unsafe_code)]
// Not a published API (being reworked (batch/journal moving to a ledger crate); its public structs are internal surface): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod app;
pub mod batch;
pub mod cli;
pub mod completions;
pub mod config;
pub mod exit;
pub mod help;
pub mod human;
pub mod i18n;
pub mod input;
pub mod log;
pub mod notify;
pub mod output;
pub mod payout;
pub mod report;
pub mod sign_debug;
pub mod worker;
