//! Why the ledger could not do something.

/// A ledger error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The ledger file cannot be written (read-only file or directory).
    #[error("ledger {path} cannot be written (read-only file or directory?): {detail}")]
    ReadOnly {
        /// The ledger's location.
        path: String,
        /// What failed.
        detail: String,
    },
    /// The file is not a hongbao ledger, or it is damaged.
    #[error("ledger is corrupt or not a hongbao ledger: {0}")]
    Corrupt(String),
    /// The ledger is bound to another merchant, app or server.
    #[error(
        "ledger {path} belongs to another {field}: it has {ledger:?} but this run has {this_run:?}; use another ledger (--journal) for it"
    )]
    BindingMismatch {
        /// The ledger's location.
        path: String,
        /// `merchant id`, `app id` or `server`.
        field: &'static str,
        /// The ledger's value.
        ledger: String,
        /// This run's value.
        this_run: String,
    },
    /// The ledger pays through another server.
    #[error(
        "ledger {path} pays through the server {ledger}, but this run uses {this_run}: refusing to resume it there (that server never saw its payments); use another journal file (--journal) for this server"
    )]
    ServerMismatch {
        /// The ledger's location.
        path: String,
        /// The ledger's server.
        ledger: String,
        /// This run's server.
        this_run: String,
    },
    /// A ledger written before hongbao recorded servers.
    #[error(
        "ledger {path} does not record which server it paid through (it was written by an older hongbao), so it cannot be checked against this run's server {this_run}: refusing to resume it. If you are sure it was planned and paid through {this_run}, rerun with --bind-server to record that server in it and go on; otherwise use another journal file (--journal)"
    )]
    ServerUnrecorded {
        /// The ledger's location.
        path: String,
        /// This run's server.
        this_run: String,
    },
    /// The ledger has no binding yet (nothing was ever stored in it).
    #[error(
        "ledger {path} holds nothing yet: run `hongbao batch run FILE.csv --journal {path}` first"
    )]
    Empty {
        /// The ledger's location.
        path: String,
    },
    /// A ledger file that existed before this call is empty or has no
    /// binding: most likely a copy made without its `-wal` file.
    #[error(
        "ledger {path} exists but holds no batch (a copy without its -wal file?): refusing to use it, since planning anew could pay people twice. Copy a ledger together with its -wal file (or use the original); if nothing was ever planned into this file, use a new --journal file"
    )]
    NoBatch {
        /// The ledger's location.
        path: String,
    },
    /// A ledger schema this version cannot read.
    #[error(
        "ledger {path} has schema version {found}; this hongbao reads versions 1 to {supported}: use a newer hongbao"
    )]
    Schema {
        /// The ledger's location.
        path: String,
        /// The file's version.
        found: String,
        /// The newest version this build knows.
        supported: u32,
    },
    /// Another process works on this ledger.
    #[error("ledger {path} is in use by {holder}; wait for it to finish (or stop it), then rerun")]
    InUse {
        /// The ledger's location.
        path: String,
        /// `pid N on host H since T`.
        holder: String,
    },
    /// A file operation failed.
    #[error("ledger {path}: {detail}")]
    Io {
        /// The ledger's location.
        path: String,
        /// What failed.
        detail: String,
    },
    /// The same idempotency key with other parameters.
    #[error("payout key {key:?} exists with other parameters: stored {existing}; given {given}")]
    KeyConflict {
        /// The key.
        key: String,
        /// The stored parameters (and bill number).
        existing: String,
        /// The parameters given now.
        given: String,
    },
    /// A caller-chosen bill number another payout has (or had).
    #[error("bill number {bill} is already used by {key}")]
    BillTaken {
        /// The bill number.
        bill: String,
        /// Who has it (`payout <key>`).
        key: String,
    },
    /// A payout id that is not in the ledger.
    #[error("ledger has no payout {0}")]
    NoSuchPayout(i64),
    /// A batch that is not in the ledger.
    #[error("ledger has no batch {0:?}")]
    NoSuchBatch(String),
    /// A batch imported with another kind of payout.
    #[error("batch {batch:?} pays {ledger}, not {this_run}: use another --batch name")]
    KindMismatch {
        /// The batch.
        batch: String,
        /// The batch's kind.
        ledger: String,
        /// This run's kind.
        this_run: String,
    },
    /// The payout's state does not allow the change.
    #[error("payout {payout} cannot be {change} in its current state")]
    WrongState {
        /// Payout id.
        payout: i64,
        /// The refused change.
        change: &'static str,
    },
    /// A backend this build does not have (`postgres://` without the
    /// `postgres` feature).
    #[error("{0}")]
    Unsupported(String),
    /// The backend's own failure (SQLite, PostgreSQL), with its cause.
    #[error("ledger database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for LedgerError {
    fn from(err: rusqlite::Error) -> Self {
        LedgerError::Backend(Box::new(err))
    }
}
