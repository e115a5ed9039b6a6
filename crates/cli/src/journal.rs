//! The batch journal: every row of a batch, its bill number, the exact signed
//! request body, its state and every attempt, written durably.
//!
//! Row states: `planned → sending → paid | not_paid | unknown`. The bill
//! number is written when the row is planned; the signed body and the
//! `sending` state are committed together before the request leaves, so a
//! crash at any moment leaves a row either untouched (`planned`) or marked as
//! possibly sent (`sending`), which a rerun resolves by query first.
//!
//! A journal is bound to the server it pays through ([`ServerId`]): it is
//! never resumed against another one. One process at a time works on a
//! journal ([`JournalLock`], a lock on the sidecar file `<journal>.lock`).
//!
//! [`Journal`] is the storage interface (several app servers sharing one
//! merchant could later share a database behind it); [`SqliteJournal`] is the
//! only backend.

mod lock;
mod sqlite;

pub use lock::JournalLock;
pub use sqlite::SqliteJournal;

use hongbao_proto::NextStep;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The state of one journal row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Bill number and parameters fixed; nothing sent yet.
    Planned,
    /// The signed body is stored and the request may have left: the outcome
    /// is not known until the reply (or a query) is recorded.
    Sending,
    /// WeChat confirmed the payment.
    Paid,
    /// WeChat gave a definite failure: no money moved under this bill number.
    NotPaid,
    /// The outcome is ambiguous: it may or may not have been paid.
    Unknown,
    /// The bill number belongs to another payment (another payee or
    /// amount): nothing was paid to this row's payee under it; the row is
    /// paid under a new bill number (by itself when the tool chose the
    /// number, with `--reissue-not-paid` when the file did).
    Conflict,
}

impl RowState {
    /// Every state, in lifecycle order.
    pub const ALL: [RowState; 6] = [
        RowState::Planned,
        RowState::Sending,
        RowState::Paid,
        RowState::NotPaid,
        RowState::Unknown,
        RowState::Conflict,
    ];

    /// The name stored in the journal and printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Planned => "planned",
            RowState::Sending => "sending",
            RowState::Paid => "paid",
            RowState::NotPaid => "not_paid",
            RowState::Unknown => "unknown",
            RowState::Conflict => "conflict",
        }
    }

    /// Whether the row's outcome is definite (paid, or definitely not paid
    /// under its current bill number).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RowState::Paid | RowState::NotPaid | RowState::Conflict
        )
    }
}

impl fmt::Display for RowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RowState {
    type Err = JournalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RowState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| JournalError::Corrupt(format!("unknown row state {s:?}")))
    }
}

/// What a journal belongs to; a journal refuses to be used for anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchHeader {
    /// SHA-256 (hex) of the CSV file's bytes.
    pub file_digest: String,
    /// The CSV file name as given on the command line (for people).
    pub file_name: String,
    /// The payout kind (`red-packet`, `transfer`, ...).
    pub kind: String,
    /// Merchant id the batch pays from.
    pub mch_id: String,
    /// App id the recipients' openids belong to.
    pub appid: String,
}

/// The server a journal pays through: the client's base URL for a
/// configured server, [`ServerId::EMBEDDED_SANDBOX`] for the embedded
/// sandbox. A journal is resumed only against the server it was planned
/// with: another server never saw its payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerId {
    /// `https://api.mch.weixin.qq.com`, `https://127.0.0.1:8443`, or
    /// `sandbox:embedded`.
    pub id: String,
    /// Whether it is the embedded sandbox (no real money moves).
    pub sandbox: bool,
}

impl ServerId {
    /// The identity of the embedded sandbox. It lives in memory only, so
    /// every `--sandbox` run is "the same server": a rerun resumes (and finds
    /// nothing to pay), as the quick start shows.
    pub const EMBEDDED_SANDBOX: &'static str = "sandbox:embedded";

    /// The embedded sandbox (`--sandbox`, or no config at all).
    pub fn embedded_sandbox() -> Self {
        ServerId {
            id: Self::EMBEDDED_SANDBOX.to_owned(),
            sandbox: true,
        }
    }

    /// A configured server, by the client's base URL (a trailing `/` is
    /// dropped, so `https://h/` and `https://h` are one server).
    pub fn configured(base_url: &str) -> Self {
        ServerId {
            id: base_url.trim_end_matches('/').to_owned(),
            sandbox: false,
        }
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if self.sandbox {
            f.write_str(" (sandbox)")?;
        }
        Ok(())
    }
}

/// Checks that the journal may be used with `this_run`'s server, or binds
/// a journal that has no batch yet to it.
///
/// * no batch planned yet: `this_run` is recorded (it is written before the
///   plan, so every plan is bound);
/// * same server: fine;
/// * another server: [`JournalError::ServerMismatch`];
/// * a journal written before hongbao recorded servers:
///   [`JournalError::ServerUnrecorded`], unless `adopt_unrecorded` (the
///   operator says it is the same server), which records `this_run`.
pub fn bind_server(
    journal: &mut dyn Journal,
    shown_path: &str,
    this_run: &ServerId,
    adopt_unrecorded: bool,
) -> Result<(), JournalError> {
    let recorded = journal.server()?;
    if journal.header()?.is_none() {
        return match recorded {
            Some(server) if server != *this_run => Err(JournalError::ServerMismatch {
                path: shown_path.to_owned(),
                journal: server.to_string(),
                this_run: this_run.to_string(),
            }),
            Some(_) => Ok(()),
            None => journal.set_server(this_run),
        };
    }
    match recorded {
        Some(server) if server == *this_run => Ok(()),
        Some(server) => Err(JournalError::ServerMismatch {
            path: shown_path.to_owned(),
            journal: server.to_string(),
            this_run: this_run.to_string(),
        }),
        None if adopt_unrecorded => journal.set_server(this_run),
        None => Err(JournalError::ServerUnrecorded {
            path: shown_path.to_owned(),
            this_run: this_run.to_string(),
        }),
    }
}

/// A row as planned: bill number and request parameters, fixed from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// Line number in the CSV file (1 is the header).
    pub line: u64,
    /// Recipient openid.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// Bill number (`mch_billno` or `partner_trade_no`).
    pub bill: String,
    /// The request, serialized as JSON (the proto request type).
    pub request_json: String,
    /// Whether the tool chose the bill number (it may then choose another
    /// by itself after a bill conflict).
    pub generated: bool,
}

/// Result of adding a planned row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanAdd {
    /// The row was added.
    Added,
    /// Another row already uses this bill number.
    DuplicateBill {
        /// CSV line of the row that has it.
        first_line: u64,
    },
}

/// Writes the plan of a batch in one transaction: nothing is visible until
/// [`PlanWriter::commit`]; dropping the writer without committing discards it.
pub trait PlanWriter {
    /// Adds one planned row.
    fn add(&mut self, row: &PlannedRow) -> Result<PlanAdd, JournalError>;
    /// Makes the header and every added row durable at once.
    fn commit(self: Box<Self>) -> Result<(), JournalError>;
}

/// One row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalRow {
    /// Journal row id (stable, increasing in file order).
    pub id: i64,
    /// CSV line number.
    pub line: u64,
    /// Recipient openid.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// Current bill number.
    pub bill: String,
    /// Current state.
    pub state: RowState,
    /// The request as JSON (the proto request type).
    #[serde(skip)]
    pub request_json: String,
    /// The exact signed body sent (or about to be sent) under `bill`.
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
    /// WeChat's id for the payment (`send_listid`, `payment_no`, `detail_id`).
    pub wechat_id: Option<String>,
    /// Last error code seen (for `not_paid` and `unknown`).
    pub err_code: Option<String>,
    /// Last human-readable detail.
    pub message: Option<String>,
    /// Number of attempts (sends and queries) recorded.
    pub attempts: u32,
    /// When the row last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// The client's decision for the row's bill (`None` before the first
    /// answer, and for rows of journals written before it was recorded).
    pub next_step: Option<NextStep>,
    /// Whether the tool chose the bill number.
    pub generated: bool,
}

/// What an attempt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptAction {
    /// The first send of a body.
    Send,
    /// A resend of the identical stored body.
    Resend,
    /// A status query.
    Query,
    /// A request that may have been sent before, taken up again by the
    /// client: a query first, then the same bill number with identical
    /// parameters if the query did not settle it.
    Resume,
}

impl AttemptAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptAction::Send => "send",
            AttemptAction::Resend => "resend",
            AttemptAction::Query => "query",
            AttemptAction::Resume => "resume",
        }
    }
}

/// The result of one attempt, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// The row.
    pub row_id: i64,
    /// The bill number the attempt was about.
    pub bill: String,
    /// Send, resend or query.
    pub action: AttemptAction,
    /// The row state this attempt leads to (`paid`, `not_paid`, `unknown`,
    /// or `sending` when a query could not decide and a resend follows).
    pub outcome: RowState,
    /// Error code, if any.
    pub err_code: Option<String>,
    /// WeChat's payment id, if any.
    pub wechat_id: Option<String>,
    /// Human-readable detail.
    pub message: Option<String>,
    /// Start time, unix milliseconds.
    pub started_ms: i64,
    /// End time, unix milliseconds.
    pub finished_ms: i64,
    /// The client's decision after this attempt.
    pub next_step: Option<NextStep>,
}

/// Counts and totals of a journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Rows per state: `(state, count, total fen)`, every state listed.
    pub by_state: Vec<(RowState, u64, u64)>,
    /// Not-paid rows per error code: `(code, count, total fen)`.
    pub not_paid_by_code: Vec<(String, u64, u64)>,
}

impl Summary {
    /// Count and total (fen) of rows in `state`.
    pub fn get(&self, state: RowState) -> (u64, u64) {
        self.by_state
            .iter()
            .find(|(s, _, _)| *s == state)
            .map(|(_, count, fen)| (*count, *fen))
            .unwrap_or((0, 0))
    }

    /// Number of rows.
    pub fn rows(&self) -> u64 {
        self.by_state.iter().map(|(_, count, _)| count).sum()
    }
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The journal file cannot be written (read-only file or directory).
    #[error("journal {path} cannot be written (read-only file or directory?): {detail}")]
    ReadOnly {
        /// The journal path.
        path: String,
        /// What failed (SQLite's message, or why the directory could not be made).
        detail: String,
    },
    /// The file is not a hongbao journal, or it is damaged.
    #[error("journal is corrupt or not a hongbao journal: {0}")]
    Corrupt(String),
    /// The journal belongs to another file, kind or merchant.
    #[error(
        "journal belongs to another batch: its {field} is {journal:?} but this run has {this_run:?}; use a new --journal for a different file or merchant"
    )]
    Mismatch {
        /// Which header field differs.
        field: &'static str,
        /// The journal's value.
        journal: String,
        /// This run's value.
        this_run: String,
    },
    /// The journal has no batch yet.
    #[error("journal has no batch: run `hongbao batch run FILE.csv --journal …` first")]
    Empty,
    /// A journal file that existed before this command is empty or has no
    /// batch header: most likely a copy made without its `-wal` file. Planning
    /// into it would issue new bill numbers for rows that may be paid already.
    #[error(
        "journal {path} exists but holds no batch (a copy without its -wal file?): refusing to use it, since planning anew could pay people twice. Copy a journal together with its -wal file (or use the original); if nothing was ever planned into this file, use a new --journal file"
    )]
    NoBatch {
        /// The journal path.
        path: String,
    },
    /// The journal was planned against another server.
    #[error(
        "journal {path} pays through the server {journal}, but this run uses {this_run}: refusing to resume it there (that server never saw its payments); use another journal file (--journal) for this server"
    )]
    ServerMismatch {
        /// The journal path.
        path: String,
        /// The journal's server.
        journal: String,
        /// This run's server.
        this_run: String,
    },
    /// The journal predates server binding: its server is unknown.
    #[error(
        "journal {path} does not record which server it paid through (it was written by an older hongbao), so it cannot be checked against this run's server {this_run}: refusing to resume it. If you are sure it was planned and paid through {this_run}, rerun with --bind-server to record that server in it and go on; otherwise use another journal file (--journal), and see `hongbao batch report --journal {path}` for its rows and bill numbers"
    )]
    ServerUnrecorded {
        /// The journal path.
        path: String,
        /// This run's server.
        this_run: String,
    },
    /// Another process works on this journal.
    #[error("journal {path} is in use by {holder}; wait for it to finish (or stop it), then rerun")]
    InUse {
        /// The journal path.
        path: String,
        /// `pid N on host H since T`, as written in the lock file.
        holder: String,
    },
    /// A file operation on the journal, its lock file or its `-wal` file failed.
    #[error("journal {path}: {detail}")]
    Io {
        /// The journal path.
        path: String,
        /// What failed.
        detail: String,
    },
    /// A row id that is not in the journal.
    #[error("journal has no row {0}")]
    NoSuchRow(i64),
    /// The row's state does not allow the change (a paid row is never sent
    /// again; only a not-paid row gets a new bill number).
    #[error("journal row {row} cannot be {change} in its current state")]
    WrongState {
        /// Row id.
        row: i64,
        /// The refused change.
        change: &'static str,
    },
    /// Any other SQLite failure.
    #[error("journal database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Storage for batch journals.
pub trait Journal {
    /// The batch this journal belongs to, if planned.
    fn header(&self) -> Result<Option<BatchHeader>, JournalError>;

    /// Starts planning a batch (fails if one is already planned).
    fn begin_plan(
        &mut self,
        header: &BatchHeader,
    ) -> Result<Box<dyn PlanWriter + '_>, JournalError>;

    /// Up to `limit` rows in any of `states` with id greater than `after_id`,
    /// in id order.
    fn rows_in_states(
        &self,
        states: &[RowState],
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<JournalRow>, JournalError>;

    /// One row by id.
    fn row(&self, id: i64) -> Result<JournalRow, JournalError>;

    /// Durably stores each row's signed body (only if none is stored yet:
    /// a stored body is never replaced; one signed with an old key is
    /// signed again by the client each time it is sent, same parameters)
    /// and sets its state to `sending`, all in one transaction. Call before
    /// the requests leave. Rows already `paid` are refused.
    fn mark_sending(&mut self, rows: &[(i64, &[u8])]) -> Result<(), JournalError>;

    /// Records attempts and moves each row to the attempt's outcome, in one
    /// transaction. A `paid` row never changes state again.
    fn record(&mut self, attempts: &[AttemptRecord]) -> Result<(), JournalError>;

    /// Gives a definitely `not_paid` (or `conflict`) row a new bill number
    /// and request (a new payment): body cleared, state back to `planned`.
    fn reissue(
        &mut self,
        row_id: i64,
        new_bill: &str,
        new_request_json: &str,
    ) -> Result<(), JournalError>;

    /// Every attempt recorded for a row, oldest first.
    fn attempts(&self, row_id: i64) -> Result<Vec<AttemptRecord>, JournalError>;

    /// Counts and totals per state and per not-paid code.
    fn summary(&self) -> Result<Summary, JournalError>;

    /// The server the journal pays through; `None` for a journal written
    /// before hongbao recorded it (or one with no batch yet).
    fn server(&self) -> Result<Option<ServerId>, JournalError>;

    /// Records the server (see [`bind_server`], which decides when).
    fn set_server(&mut self, server: &ServerId) -> Result<(), JournalError>;
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 text of a unix-milliseconds time in Beijing time (fixed
/// +08:00, the offset of every time WeChat shows), to the second, by jiff.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000).clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    );
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .display_with_offset(jiff::tz::Offset::constant(8))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_beijing_time() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T08:00:00+08:00");
        assert_eq!(rfc3339(1_700_000_000_999), "2023-11-15T06:13:20+08:00");
        assert_eq!(rfc3339(-1), "1970-01-01T07:59:59+08:00");
        assert!(rfc3339(i64::MAX).starts_with("9999-"));
    }

    #[test]
    fn states_round_trip() {
        for state in RowState::ALL {
            assert_eq!(state.as_str().parse::<RowState>().ok(), Some(state));
        }
        assert!("paid ".parse::<RowState>().is_err());
    }
}
