//! # hongbao-cli
//!
//! The `hongbao` command line for WeChat Pay API v2 marketing transfers:
//! single payouts (`hongbao send`), status queries (`hongbao query`), the
//! SIGN_ERROR debugger (`hongbao sign`), the emulator (`hongbao sandbox`),
//! and batch payouts from a CSV file that **never pay twice**
//! (`hongbao batch run|status|reconcile|report`).
//!
//! The library part holds the pieces the binary is made of, each usable and
//! tested on its own:
//!
//! * [`journal`]: the [`Journal`](journal::Journal) trait and its SQLite
//!   backend — row states `planned → sending → paid | not_paid | unknown |
//!   conflict`, the signed body stored before the first send, every attempt
//!   recorded with the client's typed decision;
//! * [`input`]: the batch file reader (CSV in UTF-8 or GB18030, `.xlsx`,
//!   Chinese header aliases); [`payout`]: building and validating
//!   a request per row; [`batch`]: planning and the exactly-once run;
//! * [`config`]: `hongbao.toml` and secrets (environment or files, never
//!   flags); [`sign_debug`]: the debugger; [`report`]: summaries and reports;
//! * [`output`]: stdout that ends quietly on a closed pipe, the sandbox
//!   banner, reports for Excel; [`completions`]: shell completions and
//!   man pages;
//! * [`exit`]: the exit codes.
//!
//! ```
//! use hongbao_cli::journal::{BatchHeader, Journal, PlanAdd, PlannedRow, RowState, SqliteJournal};
//!
//! let mut journal = SqliteJournal::in_memory()?;
//! let header = BatchHeader {
//!     file_digest: "ab12".into(),
//!     file_name: "payouts.csv".into(),
//!     kind: "red-packet".into(),
//!     mch_id: "10000098".into(),
//!     appid: "wx8888888888888888".into(),
//! };
//! let mut plan = journal.begin_plan(&header)?;
//! let row = PlannedRow {
//!     line: 2,
//!     openid: "oxTWIuGaIt6gTKsQRLau2M0yL16E".into(),
//!     amount_fen: 100,
//!     bill: "10000098202401010000000001".into(),
//!     request_json: "{}".into(),
//!     generated: true,
//! };
//! assert_eq!(plan.add(&row)?, PlanAdd::Added);
//! assert_eq!(plan.add(&row)?, PlanAdd::DuplicateBill { first_line: 2 });
//! plan.commit()?;
//! assert_eq!(journal.summary()?.get(RowState::Planned), (1, 100));
//! # Ok::<(), hongbao_cli::journal::JournalError>(())
//! ```
#![forbid(unsafe_code)]
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
pub mod i18n;
pub mod input;
pub mod journal;
pub mod output;
pub mod payout;
pub mod report;
pub mod sign_debug;
