//! The SQLite backend: one file per merchant, WAL with `synchronous=FULL`,
//! one process at a time ([`LedgerLock`]), many requests inside it.
//!
//! rusqlite is synchronous: the connection sits behind a mutex and each
//! call runs on the calling task's thread. Every call is short (one
//! transaction, batched by the engine: one `mark_sending` and one `record`
//! per group of requests), so this costs less than handing each call to a
//! blocking thread pool; the fsync of a commit is the longest part.
//!
//! Schema version 4. Journals of the CLI (versions 1 and 2: one batch per
//! file) are migrated in place when opened: the batch is named after the
//! file's stem, each row becomes a payout keyed
//! `<batch>/<openid>/<n-th occurrence>` (the key a re-import of the same
//! file computes), states, bill numbers, bodies and attempts are kept.
//! Ledgers of schema 3 are migrated in place too (the signed bodies move
//! to a table of their own, so that claims and records rewrite small rows).

use crate::lock::LedgerLock;
use crate::store::{
    BillDraw, BillSource, SIMILAR_WINDOW_MS, Store, changed_row, due_arms, is_same_payout,
    may_replace, repeated_key, same_or_conflict, similar_condition,
};
use crate::{
    AttemptAction, AttemptRecord, BatchSpec, Binding, Claim, ClaimRequest, Claimed, Due,
    ImportPlan, LedgerError, NewPayout, Payout, PayoutFilter, PayoutState, ServerId, SimilarPayout,
    Submitted, Summary, now_ms, rfc3339,
};
use async_trait::async_trait;
use hongbao_proto::NextStep;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The schema this build writes.
pub const SCHEMA_VERSION: u32 = 4;
const APPLICATION_ID: i64 = 0x4842_4a31; // "HBJ1", as the CLI's journals

macro_rules! payouts_columns {
    () => {
        "(
    id             INTEGER PRIMARY KEY,
    key            TEXT NOT NULL UNIQUE,
    batch          TEXT REFERENCES batches(name),
    line           INTEGER NOT NULL DEFAULT 0,
    openid         TEXT NOT NULL,
    amount_fen     INTEGER NOT NULL,
    params         TEXT NOT NULL,
    bill           TEXT NOT NULL UNIQUE,
    state          TEXT NOT NULL CHECK (state IN ('planned','sending','unknown','paid','not_paid','conflict','received','refunded')),
    request_json   TEXT NOT NULL,
    body           BLOB,
    wechat_id      TEXT,
    err_code       TEXT,
    message        TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    next_step      TEXT,
    generated      INTEGER NOT NULL DEFAULT 0,
    owner          TEXT,
    lease_until_ms INTEGER,
    fence          INTEGER NOT NULL DEFAULT 0,
    received_ms    INTEGER,
    refunded_ms    INTEGER
);"
    };
}

macro_rules! attempts_columns {
    () => {
        "(
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id   INTEGER NOT NULL REFERENCES payouts(id),
    fence       INTEGER NOT NULL DEFAULT 0,
    bill        TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    err_code    TEXT,
    wechat_id   TEXT,
    message     TEXT,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    next_step   TEXT
);"
    };
}

macro_rules! payout_indexes {
    () => {
        "
CREATE INDEX payouts_state ON payouts(state, id);
CREATE INDEX payouts_batch ON payouts(batch, id);
CREATE INDEX payouts_payee ON payouts(openid, amount_fen);"
    };
}

/// Tables of schema 3 other than `meta` (shared by creation and migration).
const TABLES_V3: &str = concat!(
    "
CREATE TABLE batches (
    name        TEXT PRIMARY KEY,
    file_name   TEXT NOT NULL,
    file_digest TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE payouts ",
    payouts_columns!(),
    "
",
    payout_indexes!(),
    "
CREATE TABLE bills (
    bill      TEXT PRIMARY KEY,
    payout_id INTEGER NOT NULL
);
CREATE TABLE quota (
    name   TEXT PRIMARY KEY,
    tat_ms INTEGER NOT NULL
);
"
);

const SCHEMA_V3: &str = concat!(
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    "CREATE TABLE attempts ",
    attempts_columns!(),
    "CREATE INDEX attempts_payout ON attempts(payout_id, id);"
);

/// Schema 1 (the CLI's first journals) to 2: next steps, `generated`, and
/// the `conflict` state.
const MIGRATE_1_TO_2: &str = "
CREATE TABLE rows_v2 (
    id INTEGER PRIMARY KEY, line INTEGER NOT NULL, openid TEXT NOT NULL, amount_fen INTEGER NOT NULL,
    bill TEXT NOT NULL UNIQUE, state TEXT NOT NULL, request_json TEXT NOT NULL, body BLOB, wechat_id TEXT,
    err_code TEXT, message TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,
    next_step TEXT, generated INTEGER NOT NULL DEFAULT 0);
INSERT INTO rows_v2(id, line, openid, amount_fen, bill, state, request_json, body, wechat_id, err_code, message, attempts, updated_ms)
    SELECT id, line, openid, amount_fen, bill, state, request_json, body, wechat_id, err_code, message, attempts, updated_ms FROM rows;
DROP TABLE rows;
ALTER TABLE rows_v2 RENAME TO rows;
ALTER TABLE attempts ADD COLUMN next_step TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// Schema 2 (the CLI's journal: one batch per file) to 3. `?1` is the
/// batch name, `?2` now.
const MIGRATE_2_TO_3: &str = concat!(
    "CREATE TABLE attempts_v3 ",
    attempts_columns!(),
    "
INSERT INTO batches(name, file_name, file_digest, kind, created_ms)
    SELECT :batch, (SELECT value FROM meta WHERE key = 'file_name'), value,
           (SELECT value FROM meta WHERE key = 'kind'), :now
    FROM meta WHERE key = 'file_digest';
INSERT INTO payouts(id, key, batch, line, openid, amount_fen, params, bill, state, request_json, body,
                    wechat_id, err_code, message, attempts, created_ms, updated_ms, next_step, generated)
    SELECT id, :batch || '/' || openid || '/' || row_number() OVER (PARTITION BY openid ORDER BY line),
           :batch, line, openid, amount_fen, '', bill, state, request_json, body,
           wechat_id, err_code, message, attempts, updated_ms, updated_ms, next_step, generated
    FROM rows;
INSERT INTO bills(bill, payout_id) SELECT bill, id FROM payouts;
INSERT INTO attempts_v3(id, payout_id, fence, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step)
    SELECT id, row_id, 0, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step FROM attempts;
DROP TABLE attempts;
DROP TABLE rows;
ALTER TABLE attempts_v3 RENAME TO attempts;
CREATE INDEX attempts_payout ON attempts(payout_id, id);
DELETE FROM meta WHERE key IN ('file_digest', 'file_name', 'kind');
UPDATE meta SET value = '3' WHERE key = 'schema_version';
"
);

/// Schema 3 to 4: the signed bodies in a table of their own. A payout's
/// row was rewritten with its body (about 800 bytes, more than the rest of
/// the row) when marked sending, and again, body and all, by its claim and
/// its record: the pages of `payouts` split as the bodies came in and every
/// commit wrote a third as many rows per page. Now a body is written once,
/// appended in payout order, and the row keeps its size.
///
/// The table is also rebuilt with its `CHECK` on the state written as
/// comparisons: written `state IN (…8 states…)`, it made SQLite build a
/// temporary table of the eight states in every statement that sets a
/// state (SQLite does so for an `IN` list of more than two constants), that
/// is twice per payout.
fn migrate_3_to_4() -> String {
    const STATES_IN: &str = "CHECK (state IN ('planned','sending','unknown','paid','not_paid','conflict','received','refunded'))";
    let states_compared = format!(
        "CHECK ({})",
        crate::PayoutState::ALL
            .iter()
            .map(|state| format!("state = '{}'", state.as_str()))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let columns = payouts_columns!()
        .replace("    body           BLOB,\n", "")
        .replace(STATES_IN, &states_compared);
    format!(
        "CREATE TABLE bodies (
    payout_id INTEGER PRIMARY KEY,
    body      BLOB NOT NULL
);
INSERT INTO bodies(payout_id, body) SELECT id, body FROM payouts WHERE body IS NOT NULL;
ALTER TABLE payouts DROP COLUMN body;
CREATE TABLE payouts_v4 {columns}
INSERT INTO payouts_v4 SELECT * FROM payouts;
DROP TABLE payouts;
ALTER TABLE payouts_v4 RENAME TO payouts;
{indexes}
UPDATE meta SET value = '4' WHERE key = 'schema_version';
",
        indexes = payout_indexes!()
    )
}

/// The columns [`payout_from_sql`] reads, from `payouts` (not aliased).
const PAYOUT_COLUMNS: &str = "id, key, batch, line, openid, amount_fen, params, bill, state, request_json, (SELECT body FROM bodies WHERE payout_id = payouts.id), wechat_id, err_code, message, attempts, updated_ms, next_step, generated, received_ms, refunded_ms, fence";

/// How to open a SQLite ledger.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Create the file if there is none, bound to this binding (written in
    /// the same transaction as the schema). `None`: the file must exist.
    pub create: Option<Binding>,
    /// Take the exclusive per-process lock (every command that writes).
    /// Without it the ledger is opened for reading only.
    pub lock: bool,
}

impl SqliteOptions {
    /// Opens an existing file for reading only (no lock, nothing created).
    pub fn new() -> Self {
        SqliteOptions::default()
    }

    /// Creates the file if there is none, bound to `binding` (`None`: the
    /// file must exist).
    pub fn with_create(mut self, binding: Option<Binding>) -> Self {
        self.create = binding;
        self
    }

    /// Takes the exclusive per-process lock (every command that writes).
    pub fn with_lock(mut self, lock: bool) -> Self {
        self.lock = lock;
        self
    }
}

/// A ledger in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: String,
    _lock: Option<LedgerLock>,
}

fn classify(path: &str, err: rusqlite::Error) -> LedgerError {
    match err.sqlite_error_code() {
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => LedgerError::ReadOnly {
            path: path.to_owned(),
            detail: err.to_string(),
        },
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            LedgerError::Corrupt(format!("{path}: {err}"))
        }
        _ => LedgerError::from(err),
    }
}

fn checkpoint(conn: &Connection, path: &str) -> Result<(), LedgerError> {
    if path == ":memory:" {
        return Ok(());
    }
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(|e| classify(path, e))?;
    if busy != 0 || done < log {
        return Err(LedgerError::Io {
            path: path.to_owned(),
            detail: format!(
                "could not copy its WAL into the main file (busy: {busy}, {done} of {log} pages; another process reading it?); keep its -wal file next to it"
            ),
        });
    }
    Ok(())
}

/// The batch name of a file: its stem (`pay/june.csv` → `june`).
pub fn batch_name_of(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file.to_owned())
}

impl SqliteStore {
    /// Opens (or creates, see [`SqliteOptions::create`]) the ledger at
    /// `path`. An existing file must hold a binding ([`LedgerError::NoBatch`]
    /// otherwise: a copy without its `-wal` file); a CLI journal (schema 1
    /// or 2) is migrated in place (only with the lock).
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, LedgerError> {
        let path_ref = path.as_ref();
        let shown = path_ref.display().to_string();
        let lock = if options.lock {
            Some(LedgerLock::acquire(path_ref)?)
        } else {
            None
        };
        let created = match &options.create {
            Some(_) => create_file(path_ref, &shown)?,
            None => false,
        };
        if !created {
            match std::fs::metadata(path_ref) {
                Ok(meta) if meta.is_file() && meta.len() == 0 => {
                    return Err(LedgerError::NoBatch { path: shown });
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(LedgerError::Empty { path: shown });
                }
                Err(e) => {
                    return Err(LedgerError::ReadOnly {
                        path: shown,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let flags = if options.lock {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path_ref, flags).map_err(|e| classify(&shown, e));
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                if created {
                    remove_db_files(path_ref);
                }
                return Err(e);
            }
        };
        let result = Self::setup(conn, shown, created.then_some(()).and(options.create));
        match result {
            Ok(mut store) => {
                if lock.is_some() {
                    // This process alone works on the file: claims still
                    // recorded belong to a process that died. Their payouts
                    // are taken up again (sending/unknown: query first).
                    store
                        .conn()
                        .execute(
                            "UPDATE payouts SET owner = NULL, lease_until_ms = NULL WHERE owner IS NOT NULL",
                            [],
                        )
                        .map_err(|e| classify(&store.path, e))?;
                }
                store._lock = lock;
                Ok(store)
            }
            Err(e) => {
                if created {
                    remove_db_files(path_ref);
                }
                Err(e)
            }
        }
    }

    /// An in-memory ledger bound to `binding` (tests, dry runs).
    pub fn in_memory(binding: &Binding) -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, ":memory:".to_owned(), Some(binding.clone()))
    }

    /// The file path (or `:memory:`).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn setup(conn: Connection, path: String, create: Option<Binding>) -> Result<Self, LedgerError> {
        let c = |e| classify(&path, e);
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(c)?;
        let app_id: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(c)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(c)?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(LedgerError::Corrupt(format!(
                "{path} is an SQLite database but not a hongbao ledger"
            )));
        }
        if tables == 0 && create.is_none() {
            return Err(LedgerError::NoBatch { path });
        }
        let read_only = conn.is_readonly(rusqlite::MAIN_DB).map_err(c)?;
        if path != ":memory:" && !read_only {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(c)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(LedgerError::ReadOnly {
                    path,
                    detail: format!("cannot switch to WAL (journal_mode is {mode})"),
                });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(c)?;
        // 8 MiB of page cache (the default is 2): the bill number indexes
        // are written at random places, and a ledger of 100,000 payouts
        // imported and paid 3x slower with the default.
        conn.pragma_update(None, "cache_size", -8192).map_err(c)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(c)?;
        if let Some(binding) = &create {
            let tx = conn.unchecked_transaction().map_err(c)?;
            tx.execute_batch(SCHEMA_V3).map_err(c)?;
            tx.execute_batch(TABLES_V3).map_err(c)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(c)?;
            // Created as schema 3 and migrated: a new ledger and a migrated
            // one are the same by construction.
            tx.execute_batch("INSERT INTO meta(key, value) VALUES ('schema_version', '3')")
                .map_err(c)?;
            tx.execute_batch(&migrate_3_to_4()).map_err(c)?;
            write_binding(&tx, binding).map_err(c)?;
            tx.commit().map_err(c)?;
            checkpoint(&conn, &path)?;
        }
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path,
            _lock: None,
        };
        store.upgrade(read_only)?;
        Ok(store)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a connection whose last
        // transaction rolled back: it is still consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with commits that are not flushed to disk by themselves
    /// (`synchronous=NORMAL`): for claims, renewals and releases, which
    /// need no durability of their own (the ledger is one process's: after
    /// a crash no lease means anything), and each durable commit after
    /// them flushes the whole log, theirs included. One fsync less per
    /// page of claims. `synchronous=FULL` is set again afterwards, also
    /// when `f` fails.
    fn unsynced<T>(
        conn: &mut Connection,
        f: impl FnOnce(&mut Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        /// Sets `synchronous=FULL` again when dropped (on a panic too).
        struct Full<'a>(&'a mut Connection);
        impl Drop for Full<'_> {
            fn drop(&mut self) {
                let _ = self.0.pragma_update(None, "synchronous", "FULL");
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let guard = Full(conn);
        let result = f(guard.0);
        guard.0.pragma_update(None, "synchronous", "FULL")?;
        drop(guard);
        result
    }

    fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    /// Migrates a CLI journal (schema 1 or 2) or a ledger of schema 3 to
    /// the current schema, in one transaction.
    fn upgrade(&self, read_only: bool) -> Result<(), LedgerError> {
        let conn = self.conn();
        let c = |e| classify(&self.path, e);
        let version = Self::meta(&conn, "schema_version").map_err(c)?;
        let version = version.unwrap_or_default();
        let number: u32 = version.parse().unwrap_or(0);
        if number == SCHEMA_VERSION {
            if Self::meta(&conn, "mch_id").map_err(c)?.is_none() {
                return Err(LedgerError::NoBatch {
                    path: self.path.clone(),
                });
            }
            return Ok(());
        }
        if !(1..SCHEMA_VERSION).contains(&number) {
            return Err(LedgerError::Schema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // A journal of the CLI (schema 1 or 2) becomes the batch named
        // after its file; a ledger of schema 3 is bound like a current one.
        let journal = number < 3;
        let known = if journal { "file_name" } else { "mch_id" };
        let Some(known) = Self::meta(&conn, known).map_err(c)? else {
            return Err(LedgerError::NoBatch {
                path: self.path.clone(),
            });
        };
        if read_only {
            let what = if journal {
                "a journal of an older hongbao: `batch run` on it migrates it"
            } else {
                "a ledger of an older hongbao: opening it for writing migrates it"
            };
            return Err(LedgerError::Schema {
                path: format!("{} ({what})", self.path),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        conn.pragma_update(None, "foreign_keys", "OFF").map_err(c)?;
        let result = (|| -> Result<(), LedgerError> {
            conn.execute_batch("BEGIN IMMEDIATE;").map_err(c)?;
            if journal {
                self.migrate_journal(&conn, number, &batch_name_of(&known))?;
            }
            conn.execute_batch(&migrate_3_to_4()).map_err(c)?;
            conn.execute_batch("COMMIT;").map_err(c)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = conn.execute_batch("ROLLBACK;");
        }
        conn.pragma_update(None, "foreign_keys", "ON").map_err(c)?;
        result?;
        checkpoint(&conn, &self.path)
    }

    /// A CLI journal (schema 1 or 2, one batch: `batch`) to schema 3, in
    /// the caller's transaction.
    fn migrate_journal(
        &self,
        conn: &Connection,
        number: u32,
        batch: &str,
    ) -> Result<(), LedgerError> {
        let c = |e| classify(&self.path, e);
        if number == 1 {
            conn.execute_batch(MIGRATE_1_TO_2).map_err(c)?;
        }
        conn.execute_batch(TABLES_V3).map_err(c)?;
        for sql in MIGRATE_2_TO_3.split(";\n").filter(|s| !s.trim().is_empty()) {
            let mut stmt = conn.prepare(sql).map_err(c)?;
            let mut named: Vec<(&str, &dyn rusqlite::ToSql)> = Vec::new();
            let now = now_ms();
            if stmt.parameter_index(":batch").map_err(c)?.is_some() {
                named.push((":batch", &batch));
            }
            if stmt.parameter_index(":now").map_err(c)?.is_some() {
                named.push((":now", &now));
            }
            stmt.execute(named.as_slice()).map_err(c)?;
        }
        // The parameters of each payout, from its stored request.
        let rows: Vec<(i64, String)> = {
            let mut stmt = conn
                .prepare("SELECT id, request_json FROM payouts")
                .map_err(c)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(c)?;
            rows.collect::<Result<_, _>>().map_err(c)?
        };
        let mut update = conn
            .prepare("UPDATE payouts SET params = ?2 WHERE id = ?1")
            .map_err(c)?;
        for (id, json) in rows {
            let request: hongbao_proto::AnyRequest = serde_json::from_str(&json)
                .map_err(|e| LedgerError::Corrupt(format!("payout {id}: stored request: {e}")))?;
            update
                .execute(params![id, crate::params_of(&request)])
                .map_err(c)?;
        }
        Ok(())
    }
}

/// Creates the file exclusively: `true` when this call made it.
fn create_file(path: &Path, shown: &str) -> Result<bool, LedgerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        std::fs::create_dir_all(parent).map_err(|e| LedgerError::ReadOnly {
            path: shown.to_owned(),
            detail: format!("cannot create its directory: {e}"),
        })?;
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(LedgerError::ReadOnly {
            path: shown.to_owned(),
            detail: format!("cannot create it: {e}"),
        }),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

fn write_binding(conn: &Connection, binding: &Binding) -> rusqlite::Result<()> {
    for (key, value) in [
        ("mch_id", binding.mch_id.as_str()),
        ("appid", binding.appid.as_str()),
        ("server", binding.server.id.as_str()),
        (
            "sandbox",
            if binding.server.sandbox {
                "true"
            } else {
                "false"
            },
        ),
    ] {
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
    }
    Ok(())
}

fn payout_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Payout, String)> {
    let state: String = r.get(8)?;
    let updated_ms: i64 = r.get(15)?;
    Ok((
        Payout {
            id: r.get(0)?,
            key: r.get(1)?,
            batch: r.get(2)?,
            line: r.get(3)?,
            openid: r.get(4)?,
            amount_fen: r.get(5)?,
            params: r.get(6)?,
            bill: r.get(7)?,
            state: PayoutState::Planned,
            request_json: r.get(9)?,
            body: r.get(10)?,
            wechat_id: r.get(11)?,
            err_code: r.get(12)?,
            message: r.get(13)?,
            attempts: r.get(14)?,
            updated_at: rfc3339(updated_ms),
            next_step: r
                .get::<_, Option<String>>(16)?
                .as_deref()
                .and_then(NextStep::parse),
            generated: r.get(17)?,
            received_ms: r.get(18)?,
            refunded_ms: r.get(19)?,
            fence: r.get(20)?,
        },
        state,
    ))
}

fn finish(pair: (Payout, String)) -> Result<Payout, LedgerError> {
    let (mut payout, state) = pair;
    payout.state = state.parse()?;
    Ok(payout)
}

/// The claim statement: the first `?6` free payouts after id `?4` that are
/// due, one search of the `(state, id)` index per [`due_arms`] pair.
fn claim_sql(due: Due, batch: bool) -> String {
    let batch_sql = if batch {
        "AND batch = ?5"
    } else {
        "AND ?5 IS NULL"
    };
    let arms: Vec<String> = due_arms(due)
        .iter()
        .map(|(state, extra)| {
            format!(
                "SELECT id FROM (SELECT id FROM payouts INDEXED BY payouts_state
                   WHERE state = '{state}' {extra} AND id > ?4 {batch_sql}
                     AND (owner IS NULL OR lease_until_ms <= ?2)
                   ORDER BY id LIMIT ?6)"
            )
        })
        .collect();
    format!(
        "UPDATE payouts SET owner = ?1, lease_until_ms = ?2 + ?3, fence = fence + 1
         WHERE id IN (SELECT id FROM ({}) ORDER BY id LIMIT ?6)
         RETURNING {PAYOUT_COLUMNS}",
        arms.join(" UNION ALL ")
    )
}

/// The first payout of another batch with the same payee (`?1`) and
/// amount (`?2`, fen) that is or may be paid since `?4` (`?3`: this batch).
///
/// Written so that SQLite (the bundled library, built with `STAT4`)
/// prepares it once per import, not once per row (85 µs each, most of an
/// import's time): `+?2`, because with `amount_fen = ?2` it re-prepared the
/// statement whenever the amount changed; no `ORDER BY p.id`, because it
/// re-prepared an ordered statement whenever the table grew in the same
/// transaction, as an import does. The search of the (openid, amount_fen)
/// index meets equal keys in id order, so the first match is still the
/// oldest payout.
fn similar_sql() -> String {
    format!(
        "SELECT p.key, p.batch FROM payouts p INDEXED BY payouts_payee
         WHERE p.openid = ?1 AND p.amount_fen = +?2 AND p.batch IS NOT ?3 AND {}
         LIMIT 1",
        similar_condition("?4")
    )
}

/// The key of the payout that holds `bill`. (A subquery, not a join: SQLite
/// re-prepared the join for every row of an import, as the tables grew.)
fn bill_holder(conn: &Connection, bill: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT (SELECT p.key FROM payouts p WHERE p.id = b.payout_id) FROM bills b WHERE b.bill = ?1",
    )?
    .query_row([bill], |r| r.get(0))
    .optional()
}

/// A free bill number for `payout`: its own when free, else (generated
/// only) drawn again. `Err(holder)` for a caller-chosen number that is taken.
fn free_bill(
    conn: &Connection,
    payout: &NewPayout,
    bills: &dyn BillSource,
) -> Result<Result<(String, String), String>, LedgerError> {
    let mut draw = BillDraw::new(payout);
    loop {
        if let Some(holder) = bill_holder(conn, draw.bill())? {
            if let Some(holder) = draw.taken(format!("payout {holder}"), bills)? {
                return Ok(Err(holder));
            }
        } else {
            return Ok(Ok(draw.free()));
        }
    }
}

fn insert_payout(
    conn: &Connection,
    payout: &NewPayout,
    bill: &str,
    request_json: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO payouts(key, batch, line, openid, amount_fen, params, bill, state, request_json, created_ms, updated_ms, generated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'planned', ?8, ?9, ?9, ?10)",
    )?
    .execute(params![
        payout.key,
        payout.batch,
        payout.line,
        payout.openid,
        payout.amount_fen,
        payout.params,
        bill,
        request_json,
        now,
        payout.generated
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO bills(bill, payout_id) VALUES (?1, ?2)")?
        .execute(params![bill, id])?;
    Ok(id)
}

fn get_payout(
    conn: &Connection,
    where_sql: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<Payout>, LedgerError> {
    let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE {where_sql}");
    let pair = conn
        .prepare_cached(&sql)?
        .query_row([value], payout_from_sql)
        .optional()?;
    pair.map(finish).transpose()
}

/// The current fence of a payout (`None`: no such payout).
fn fence_of(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT fence FROM payouts WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()
}

/// Marks a claimed payout sending (`?1` id, `?2` fence, `?3` now), if its
/// state may be sent. The states are compared one by one: an `IN` list of
/// more than two constants makes SQLite build a temporary table each time
/// the statement runs (test
/// `statements_run_per_payout_build_no_temporary_table`).
const MARK_SQL: &str = "UPDATE payouts SET state = 'sending', updated_ms = ?3
     WHERE id = ?1 AND fence = ?2
       AND (state = 'planned' OR state = 'sending' OR state = 'unknown' OR state = 'not_paid')";

/// Records an answer on the payout (`?1` id, `?2` fence, `?9` bill): a
/// payout that was paid never goes back to an unpaid state; a sent red
/// packet may go on to received or refunded. (States compared one by one,
/// as in [`MARK_SQL`].)
const RECORD_SQL: &str = "UPDATE payouts SET state = ?3, err_code = ?4, message = ?5,
            wechat_id = COALESCE(?6, wechat_id), attempts = attempts + 1, updated_ms = ?7,
            next_step = ?8, owner = NULL, lease_until_ms = NULL,
            received_ms = CASE WHEN ?3 = 'received' THEN COALESCE(received_ms, ?7) ELSE received_ms END,
            refunded_ms = CASE WHEN ?3 = 'refunded' THEN COALESCE(refunded_ms, ?7) ELSE refunded_ms END
     WHERE id = ?1 AND fence = ?2 AND bill = ?9
       AND ((state <> 'paid' AND state <> 'received' AND state <> 'refunded')
            OR (state = 'paid' AND (?3 = 'paid' OR ?3 = 'received' OR ?3 = 'refunded')))";

/// `mark_sending` in the caller's transaction.
fn mark_sending_in(tx: &Connection, marks: &[(Claim, Vec<u8>)]) -> Result<Vec<bool>, LedgerError> {
    let now = now_ms();
    let mut marked = Vec::with_capacity(marks.len());
    {
        let mut stmt = tx.prepare_cached(MARK_SQL)?;
        // A stored body is never replaced: it is what may have been sent.
        let mut store_body = tx.prepare_cached(
            "INSERT INTO bodies(payout_id, body) VALUES (?1, ?2) ON CONFLICT (payout_id) DO NOTHING",
        )?;
        for (claim, body) in marks {
            if stmt.execute(params![claim.payout, claim.fence, now])? == 1 {
                store_body.execute(params![claim.payout, body])?;
                marked.push(true);
            } else if fence_of(tx, claim.payout)? == Some(claim.fence) {
                return Err(LedgerError::WrongState {
                    payout: claim.payout,
                    change: "marked sending",
                });
            } else {
                marked.push(false);
            }
        }
    }
    Ok(marked)
}

/// `record` in the caller's transaction.
fn record_in(tx: &Connection, attempts: &[AttemptRecord]) -> Result<Vec<bool>, LedgerError> {
    let mut recorded = Vec::with_capacity(attempts.len());
    {
        let mut insert = tx.prepare_cached(
                "INSERT INTO attempts(payout_id, fence, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
        let mut update = tx.prepare_cached(RECORD_SQL)?;
        let mut bump = tx.prepare_cached(
            "UPDATE payouts SET attempts = attempts + 1, wechat_id = COALESCE(wechat_id, ?3),
                        owner = NULL, lease_until_ms = NULL
                 WHERE id = ?1 AND fence = ?2",
        )?;
        for a in attempts {
            let changed = update.execute(params![
                a.claim.payout,
                a.claim.fence,
                a.outcome.as_str(),
                a.err_code,
                a.message,
                a.wechat_id,
                a.finished_ms,
                a.next_step.map(NextStep::as_str),
                a.bill
            ])?;
            let held = changed == 1
                || bump.execute(params![a.claim.payout, a.claim.fence, a.wechat_id])? == 1;
            if held {
                insert.execute(params![
                    a.claim.payout,
                    a.claim.fence,
                    a.bill,
                    a.action.as_str(),
                    a.outcome.as_str(),
                    a.err_code,
                    a.wechat_id,
                    a.message,
                    a.started_ms,
                    a.finished_ms,
                    a.next_step.map(NextStep::as_str)
                ])?;
            }
            recorded.push(held);
        }
    }
    Ok(recorded)
}

/// `claim` in a transaction of its own on `conn`.
fn claim_in(conn: &mut Connection, request: &ClaimRequest) -> Result<Vec<Claimed>, LedgerError> {
    let now = now_ms();
    let sql = claim_sql(request.due, request.batch.is_some());
    let tx = conn.transaction()?;
    let mut claimed = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                request.owner,
                now,
                request.lease_ms,
                request.after_id,
                request.batch,
                i64::try_from(request.limit).unwrap_or(i64::MAX)
            ],
            payout_from_sql,
        )?;
        let mut claimed = Vec::with_capacity(request.limit);
        for pair in rows {
            let payout = finish(pair?)?;
            claimed.push(Claimed {
                claim: Claim {
                    payout: payout.id,
                    fence: payout.fence,
                },
                payout,
            });
        }
        claimed
    };
    tx.commit()?;
    claimed.sort_by_key(|c| c.payout.id);
    Ok(claimed)
}

/// `renew` in a transaction of its own on `conn`.
fn renew_in(
    conn: &mut Connection,
    claims: &[Claim],
    lease_ms: i64,
) -> Result<Vec<bool>, LedgerError> {
    let tx = conn.transaction()?;
    let now = now_ms();
    let mut held = Vec::with_capacity(claims.len());
    {
        let mut stmt = tx.prepare_cached(
                "UPDATE payouts SET lease_until_ms = ?3 WHERE id = ?1 AND fence = ?2 AND owner IS NOT NULL",
            )?;
        for claim in claims {
            held.push(stmt.execute(params![claim.payout, claim.fence, now + lease_ms])? == 1);
        }
    }
    tx.commit()?;
    Ok(held)
}

/// `release` in a transaction of its own on `conn`.
fn release_in(conn: &mut Connection, claims: &[Claim]) -> Result<(), LedgerError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE payouts SET owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND fence = ?2",
        )?;
        for claim in claims {
            stmt.execute(params![claim.payout, claim.fence])?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn location(&self) -> &str {
        &self.path
    }

    async fn binding(&self) -> Result<Option<Binding>, LedgerError> {
        let conn = self.conn();
        let c = |e| classify(&self.path, e);
        let (Some(mch_id), Some(appid)) = (
            Self::meta(&conn, "mch_id").map_err(c)?,
            Self::meta(&conn, "appid").map_err(c)?,
        ) else {
            return Ok(None);
        };
        let Some(server) = Self::meta(&conn, "server").map_err(c)? else {
            return Ok(Some(Binding {
                mch_id,
                appid,
                server: ServerId {
                    id: String::new(),
                    sandbox: false,
                },
            }));
        };
        let sandbox = match Self::meta(&conn, "sandbox").map_err(c)?.as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => {
                return Err(LedgerError::Corrupt(format!(
                    "{}: sandbox mark {other:?}",
                    self.path
                )));
            }
        };
        Ok(Some(Binding {
            mch_id,
            appid,
            server: ServerId {
                id: server,
                sandbox,
            },
        }))
    }

    async fn bind(&self, binding: &Binding, adopt: bool) -> Result<(), LedgerError> {
        let Some(existing) = self.binding().await? else {
            let conn = self.conn();
            return write_binding(&conn, binding).map_err(|e| classify(&self.path, e));
        };
        for (field, ledger, this_run) in [
            ("merchant id", &existing.mch_id, &binding.mch_id),
            ("app id", &existing.appid, &binding.appid),
        ] {
            if ledger != this_run {
                return Err(LedgerError::BindingMismatch {
                    path: self.path.clone(),
                    field,
                    ledger: ledger.clone(),
                    this_run: this_run.clone(),
                });
            }
        }
        if existing.server.id.is_empty() {
            if !adopt {
                return Err(LedgerError::ServerUnrecorded {
                    path: self.path.clone(),
                    this_run: binding.server.to_string(),
                });
            }
            let conn = self.conn();
            return write_binding(&conn, binding).map_err(|e| classify(&self.path, e));
        }
        if existing.server != binding.server {
            return Err(LedgerError::ServerMismatch {
                path: self.path.clone(),
                ledger: existing.server.to_string(),
                this_run: binding.server.to_string(),
            });
        }
        Ok(())
    }

    async fn submit(
        &self,
        payout: &NewPayout,
        bills: &dyn BillSource,
    ) -> Result<Submitted, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(existing) = get_payout(&tx, "key = ?1", &payout.key)? {
            return same_or_conflict(existing, payout);
        }
        let (bill, request_json) = match free_bill(&tx, payout, bills)? {
            Ok(found) => found,
            Err(holder) => {
                return Err(LedgerError::BillTaken {
                    bill: payout.bill.clone(),
                    key: holder,
                });
            }
        };
        let id = insert_payout(&tx, payout, &bill, &request_json, now_ms())?;
        tx.commit()?;
        let stored = get_payout(&conn, "id = ?1", &id)?.ok_or(LedgerError::NoSuchPayout(id))?;
        Ok(Submitted {
            payout: stored,
            created: true,
        })
    }

    async fn import(
        &self,
        batch: &BatchSpec,
        rows: &[NewPayout],
        bills: &dyn BillSource,
        dry_run: bool,
        now_ms: i64,
    ) -> Result<ImportPlan, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        // The import's time (rows planned at it, the window of similar
        // payouts ends at it); claims are checked against this clock.
        let now = now_ms;
        let clock = crate::now_ms();
        let existing: Option<String> = tx
            .query_row(
                "SELECT kind FROM batches WHERE name = ?1",
                [&batch.name],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(kind) if kind != batch.kind => {
                return Err(LedgerError::KindMismatch {
                    batch: batch.name.clone(),
                    ledger: kind,
                    this_run: batch.kind.clone(),
                });
            }
            Some(_) => {
                tx.execute(
                    "UPDATE batches SET file_name = ?2, file_digest = ?3 WHERE name = ?1",
                    params![batch.name, batch.file_name, batch.file_digest],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO batches(name, file_name, file_digest, kind, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![batch.name, batch.file_name, batch.file_digest, batch.kind, now],
                )?;
            }
        }
        let similar_sql = similar_sql();
        let mut plan = ImportPlan::default();
        let mut bills_in_chunk: std::collections::HashMap<&str, u64> =
            std::collections::HashMap::new();
        let mut keys_in_chunk: std::collections::HashMap<&str, &NewPayout> =
            std::collections::HashMap::new();
        for row in rows {
            if let Some(first) = keys_in_chunk.get(row.key.as_str()) {
                // The same key twice in one file: the same payout, or refused.
                match repeated_key(first, row) {
                    None => plan.unchanged.push(row.line),
                    Some(changed) => plan.refused.push(changed),
                }
                continue;
            }
            keys_in_chunk.insert(&row.key, row);
            match get_payout(&tx, "key = ?1", &row.key)? {
                Some(old) if is_same_payout(&old, row) => {
                    if old.line != row.line && !dry_run {
                        tx.prepare_cached("UPDATE payouts SET line = ?2 WHERE id = ?1")?
                            .execute(params![old.id, row.line])?;
                    }
                    plan.unchanged.push(row.line);
                }
                Some(old) => {
                    let changed = changed_row(&old, row);
                    let held: bool = tx.query_row(
                        "SELECT owner IS NOT NULL AND lease_until_ms > ?2 FROM payouts WHERE id = ?1",
                        params![old.id, clock],
                        |r| r.get(0),
                    )?;
                    if !may_replace(&old, held) {
                        plan.refused.push(changed);
                        continue;
                    }
                    let (bill, request_json) = match free_bill(&tx, row, bills)? {
                        Ok(found) => found,
                        Err(key) => {
                            plan.duplicate_bills.push((row.line, row.bill.clone(), key));
                            continue;
                        }
                    };
                    if !dry_run {
                        tx.prepare_cached("INSERT INTO bills(bill, payout_id) VALUES (?1, ?2)")?
                            .execute(params![bill, old.id])?;
                        tx.prepare_cached(
                            "UPDATE payouts SET line = ?2, openid = ?3, amount_fen = ?4, params = ?5, bill = ?6,
                                    request_json = ?7, generated = ?8, state = 'planned',
                                    err_code = NULL, message = NULL, wechat_id = NULL, next_step = NULL,
                                    owner = NULL, lease_until_ms = NULL, fence = fence + 1, updated_ms = ?9
                             WHERE id = ?1",
                        )?
                        .execute(params![
                            old.id,
                            row.line,
                            row.openid,
                            row.amount_fen,
                            row.params,
                            bill,
                            request_json,
                            row.generated,
                            now
                        ])?;
                        // The body signed for the old parameters goes with them.
                        tx.prepare_cached("DELETE FROM bodies WHERE payout_id = ?1")?
                            .execute([old.id])?;
                    }
                    plan.replaced.push(changed);
                }
                None => {
                    if !row.generated {
                        if let Some(line) = bills_in_chunk.get(row.bill.as_str()) {
                            plan.duplicate_bills.push((
                                row.line,
                                row.bill.clone(),
                                format!("line {line}"),
                            ));
                            continue;
                        }
                        bills_in_chunk.insert(&row.bill, row.line);
                    }
                    let (bill, request_json) = match free_bill(&tx, row, bills)? {
                        Ok(found) => found,
                        Err(key) => {
                            plan.duplicate_bills.push((row.line, row.bill.clone(), key));
                            continue;
                        }
                    };
                    let similar: Option<(String, Option<String>)> = tx
                        .prepare_cached(&similar_sql)?
                        .query_row(
                            params![
                                row.openid,
                                row.amount_fen,
                                row.batch,
                                now - SIMILAR_WINDOW_MS
                            ],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    if let Some((other_key, other_batch)) = similar {
                        plan.similar.push(SimilarPayout {
                            line: row.line,
                            openid: row.openid.clone(),
                            amount_fen: row.amount_fen,
                            other_batch,
                            other_key,
                        });
                    }
                    if !dry_run {
                        insert_payout(&tx, row, &bill, &request_json, now)?;
                    }
                    plan.new.push(row.line);
                }
            }
        }
        if dry_run || plan.is_refused() {
            drop(tx);
            return Ok(plan);
        }
        tx.commit()?;
        plan.committed = true;
        Ok(plan)
    }

    async fn batch(&self, name: &str) -> Result<Option<BatchSpec>, LedgerError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT name, file_name, file_digest, kind FROM batches WHERE name = ?1",
                [name],
                |r| {
                    Ok(BatchSpec {
                        name: r.get(0)?,
                        file_name: r.get(1)?,
                        file_digest: r.get(2)?,
                        kind: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    async fn batches(&self) -> Result<Vec<BatchSpec>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, file_name, file_digest, kind FROM batches ORDER BY created_ms, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BatchSpec {
                name: r.get(0)?,
                file_name: r.get(1)?,
                file_digest: r.get(2)?,
                kind: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<Claimed>, LedgerError> {
        let mut conn = self.conn();
        Self::unsynced(&mut conn, |conn| claim_in(conn, request))
    }

    async fn renew(&self, claims: &[Claim], lease_ms: i64) -> Result<Vec<bool>, LedgerError> {
        let mut conn = self.conn();
        Self::unsynced(&mut conn, |conn| renew_in(conn, claims, lease_ms))
    }

    async fn release(&self, claims: &[Claim]) -> Result<(), LedgerError> {
        let mut conn = self.conn();
        Self::unsynced(&mut conn, |conn| release_in(conn, claims))
    }

    async fn mark_sending(&self, marks: &[(Claim, Vec<u8>)]) -> Result<Vec<bool>, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let marked = mark_sending_in(&tx, marks)?;
        tx.commit()?;
        Ok(marked)
    }

    async fn record(&self, attempts: &[AttemptRecord]) -> Result<Vec<bool>, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let recorded = record_in(&tx, attempts)?;
        tx.commit()?;
        Ok(recorded)
    }

    /// One transaction, one fsync: the records, then the marks in a
    /// savepoint (rolled back alone when they fail, as `mark_sending`
    /// would be, while the records are still committed).
    async fn record_then_mark_sending(
        &self,
        attempts: &[AttemptRecord],
        marks: &[(Claim, Vec<u8>)],
    ) -> Result<(Vec<bool>, Vec<bool>), LedgerError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let recorded = record_in(&tx, attempts)?;
        let marked = if marks.is_empty() {
            Ok(Vec::new())
        } else {
            let savepoint = tx.savepoint()?;
            match mark_sending_in(&savepoint, marks) {
                Ok(marked) => {
                    savepoint.commit()?;
                    Ok(marked)
                }
                // Dropping the savepoint rolls the marks back.
                Err(e) => Err(e),
            }
        };
        tx.commit()?;
        Ok((recorded, marked?))
    }

    async fn reissue(
        &self,
        claim: Claim,
        new_bill: &str,
        new_request_json: &str,
    ) -> Result<bool, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        match fence_of(&tx, claim.payout)? {
            None => return Err(LedgerError::NoSuchPayout(claim.payout)),
            Some(fence) if fence != claim.fence => return Ok(false),
            Some(_) => {}
        }
        if let Some(key) = bill_holder(&tx, new_bill)? {
            return Err(LedgerError::BillTaken {
                bill: new_bill.to_owned(),
                key: format!("payout {key}"),
            });
        }
        let changed = tx.execute(
            "UPDATE payouts SET bill = ?3, request_json = ?4, state = 'planned',
                    err_code = NULL, message = NULL, wechat_id = NULL, next_step = NULL,
                    generated = 1, updated_ms = ?5, owner = NULL, lease_until_ms = NULL,
                    received_ms = NULL, refunded_ms = NULL
             WHERE id = ?1 AND fence = ?2 AND state IN ('not_paid', 'conflict', 'refunded')",
            params![
                claim.payout,
                claim.fence,
                new_bill,
                new_request_json,
                now_ms()
            ],
        )?;
        if changed != 1 {
            return Err(LedgerError::WrongState {
                payout: claim.payout,
                change: "given a new bill number",
            });
        }
        // The body signed under the old bill number goes with it.
        tx.execute("DELETE FROM bodies WHERE payout_id = ?1", [claim.payout])?;
        tx.execute(
            "INSERT INTO bills(bill, payout_id) VALUES (?1, ?2)",
            params![new_bill, claim.payout],
        )?;
        tx.commit()?;
        Ok(true)
    }

    async fn reserve_slot(
        &self,
        name: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, LedgerError> {
        let conn = self.conn();
        let tat: i64 = conn
            .prepare_cached(
                "INSERT INTO quota(name, tat_ms) VALUES (?1, ?2 + ?3)
                 ON CONFLICT(name) DO UPDATE SET tat_ms = max(quota.tat_ms, ?2) + ?3
                 RETURNING tat_ms",
            )?
            .query_row(params![name, now_ms, interval_ms], |r| r.get(0))?;
        Ok(tat - interval_ms)
    }

    async fn payouts(&self, filter: &PayoutFilter) -> Result<Vec<Payout>, LedgerError> {
        let conn = self.conn();
        let mut sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id > ?");
        let mut values: Vec<rusqlite::types::Value> = vec![filter.after_id.into()];
        if let Some(batch) = &filter.batch {
            sql.push_str(" AND batch = ?");
            values.push(batch.clone().into());
        }
        if !filter.states.is_empty() {
            sql.push_str(" AND state IN (");
            sql.push_str(&vec!["?"; filter.states.len()].join(","));
            sql.push(')');
            values.extend(
                filter
                    .states
                    .iter()
                    .map(|s| rusqlite::types::Value::Text(s.as_str().to_owned())),
            );
        }
        sql.push_str(" ORDER BY id");
        if filter.limit > 0 {
            sql.push_str(" LIMIT ?");
            values.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), payout_from_sql)?;
        rows.map(|r| finish(r?)).collect()
    }

    async fn payout(&self, id: i64) -> Result<Payout, LedgerError> {
        let conn = self.conn();
        get_payout(&conn, "id = ?1", &id)?.ok_or(LedgerError::NoSuchPayout(id))
    }

    async fn payout_by_key(&self, key: &str) -> Result<Option<Payout>, LedgerError> {
        let conn = self.conn();
        get_payout(&conn, "key = ?1", &key)
    }

    async fn attempts(&self, payout: i64) -> Result<Vec<AttemptRecord>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT payout_id, fence, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step
             FROM attempts WHERE payout_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([payout], |r| {
            Ok((
                Claim {
                    payout: r.get(0)?,
                    fence: r.get(1)?,
                },
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        rows.map(|r| {
            let (
                claim,
                bill,
                action,
                outcome,
                err_code,
                wechat_id,
                message,
                started,
                finished,
                next,
            ) = r?;
            Ok(AttemptRecord {
                claim,
                bill,
                action: AttemptAction::parse(&action)
                    .ok_or_else(|| LedgerError::Corrupt(format!("attempt action {action:?}")))?,
                outcome: outcome.parse()?,
                err_code,
                wechat_id,
                message,
                started_ms: started,
                finished_ms: finished,
                next_step: next.as_deref().and_then(NextStep::parse),
            })
        })
        .collect()
    }

    async fn summary(&self, batch: Option<&str>) -> Result<Summary, LedgerError> {
        let conn = self.conn();
        let mut summary = Summary::empty();
        let mut stmt = conn.prepare_cached(
            "SELECT state, count(*), COALESCE(sum(amount_fen), 0) FROM payouts
             WHERE (?1 IS NULL OR batch = ?1) GROUP BY state",
        )?;
        let rows = stmt.query_map([batch], group_count_fen)?;
        for r in rows {
            let (state, count, fen) = r?;
            let state: PayoutState = state.parse()?;
            if let Some(slot) = summary.by_state.iter_mut().find(|(s, _, _)| *s == state) {
                slot.1 = count;
                slot.2 = fen;
            }
        }
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE(err_code, '(none)'), count(*), COALESCE(sum(amount_fen), 0)
             FROM payouts WHERE state = 'not_paid' AND (?1 IS NULL OR batch = ?1) GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([batch], group_count_fen)?;
        for r in rows {
            summary.not_paid_by_code.push(r?);
        }
        Ok(summary)
    }

    async fn checkpoint(&self) -> Result<(), LedgerError> {
        let conn = self.conn();
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Ok(());
        }
        checkpoint(&conn, &self.path)
    }
}

fn group_count_fen(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, u64, u64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_store() -> SqliteStore {
        let binding = Binding::new(
            "10000098",
            "wx8888888888888888",
            ServerId::new("sandbox:x", true),
        );
        SqliteStore::in_memory(&binding).expect("store")
    }

    /// Every claim is one index search per due state, in id order, each
    /// stopping after the page: never a scan of the table, never the whole
    /// remaining pass sorted to take one page (what a single `OR` made
    /// SQLite do, so a pass of 100,000 payouts spent most of its store time
    /// claiming).
    #[test]
    fn claims_search_each_due_state_in_id_order_without_sorting_the_ledger() {
        let store = memory_store();
        let conn = store.conn();
        let all = [
            Due::Pay,
            Due::Planned,
            Due::Renumber,
            Due::Reissue,
            Due::Refunded,
            Due::Sent,
            Due::Refresh,
        ];
        for due in all {
            for batch in [false, true] {
                let sql = claim_sql(due, batch);
                let mut stmt = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .expect("plan");
                let plan: Vec<String> = stmt
                    .query_map(
                        rusqlite::params_from_iter([rusqlite::types::Null; 6]),
                        |r| r.get::<_, String>(3),
                    )
                    .expect("rows")
                    .collect::<Result<_, _>>()
                    .expect("plan rows");
                let searches = plan
                    .iter()
                    .filter(|l| {
                        l.contains("SEARCH payouts USING INDEX payouts_state (state=? AND id>?)")
                    })
                    .count();
                assert_eq!(
                    searches,
                    due_arms(due).len(),
                    "{due:?} batch={batch}: {plan:#?}"
                );
                assert!(
                    !plan
                        .iter()
                        .any(|l| l.contains("SCAN payouts") || l.contains("MULTI-INDEX OR")),
                    "{due:?} batch={batch}: {plan:#?}"
                );
            }
        }
    }

    /// Claims, renewals and releases commit without a flush of their own;
    /// every other commit (the bodies marked sending before their requests
    /// leave, the records) must still be flushed: the connection is back to
    /// `synchronous=FULL` after each of them, also after a failure.
    /// The statements run for every payout (mark sending, store the body,
    /// record the answer; an import's search for similar payouts) build no
    /// temporary table: SQLite builds one for an
    /// `IN` list of more than two constants, in a `WHERE` or in the table's
    /// `CHECK` on the state, each time such a statement runs.
    #[test]
    fn statements_run_per_payout_build_no_temporary_table() {
        let store = memory_store();
        let conn = store.conn();
        let store_body = "INSERT INTO bodies(payout_id, body) VALUES (?1, ?2) ON CONFLICT (payout_id) DO NOTHING";
        let similar = similar_sql();
        for sql in [MARK_SQL, RECORD_SQL, store_body, similar.as_str()] {
            let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
            // Unbound: EXPLAIN only compiles the statement.
            let mut rows = stmt.raw_query();
            let mut opcodes: Vec<String> = Vec::new();
            while let Some(row) = rows.next().expect("explain") {
                opcodes.push(row.get(1).expect("opcode"));
            }
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {opcodes:?}"
            );
        }
    }

    #[test]
    fn claims_commit_unflushed_and_leave_the_connection_flushing() {
        let store = memory_store();
        let synchronous = |store: &SqliteStore| -> i64 {
            store
                .conn()
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .expect("pragma")
        };
        assert_eq!(synchronous(&store), 2, "FULL after opening");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let claimed = store
                .claim(&ClaimRequest::new("w", Due::Pay, 10, 60_000))
                .await
                .expect("claim");
            assert!(claimed.is_empty());
            assert_eq!(synchronous(&store), 2, "FULL after a claim");
            store.renew(&[], 60_000).await.expect("renew");
            store.release(&[]).await.expect("release");
            assert_eq!(synchronous(&store), 2, "FULL after renew and release");
        });
        let failed: Result<(), LedgerError> = SqliteStore::unsynced(&mut store.conn(), |conn| {
            assert_eq!(
                conn.pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0))
                    .expect("pragma"),
                1,
                "NORMAL inside"
            );
            Err(LedgerError::Corrupt("test".into()))
        });
        assert!(failed.is_err());
        assert_eq!(synchronous(&store), 2, "FULL after a failure");
    }

    /// The statements an import runs for each row are prepared once per
    /// import, not again for most rows while the import adds rows (the
    /// similar-payout query and the bill-holder lookup were: 1,999
    /// re-preparations in 2,000 rows, most of an import's time).
    #[test]
    fn an_imports_statements_are_not_prepared_again_for_each_row() {
        let store = memory_store();
        let mut conn = store.conn();
        conn.execute(
            "INSERT INTO batches(name, file_name, file_digest, kind, created_ms)
             VALUES ('b', '', '', 'red-packet', 0)",
            [],
        )
        .expect("batch");
        let tx = conn.transaction().expect("transaction");
        let mut similar = 0;
        let mut holders = 0;
        for i in 0..2_000_i64 {
            let bill = format!("1000009820260101{i:012}");
            // As an import: look the row up, then add it.
            holders += usize::from(bill_holder(&tx, &bill).expect("holder").is_some());
            similar += usize::from(
                tx.prepare_cached(&similar_sql())
                    .expect("prepare")
                    .query_row(
                        params![format!("o{}", i % 500), 100 + i % 3, "other", 0],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                    .expect("similar")
                    .is_some(),
            );
            tx.execute(
                "INSERT INTO payouts(key, batch, line, openid, amount_fen, params, bill, state, request_json, created_ms, updated_ms)
                 VALUES (?1, 'b', ?2, ?3, ?4, '', ?5, 'planned', '', 0, 0)",
                params![format!("k{i}"), i, format!("o{}", i % 500), 100 + i % 3, bill],
            )
            .expect("payout");
            tx.execute(
                "INSERT INTO bills(bill, payout_id) VALUES (?1, ?2)",
                params![bill, tx.last_insert_rowid()],
            )
            .expect("bill");
        }
        assert_eq!(holders, 0, "every bill is new");
        // (openid, amount) pairs repeat every 1,500 rows.
        assert_eq!(similar, 500, "the query finds the similar payouts");
        for sql in [
            similar_sql(),
            "SELECT (SELECT p.key FROM payouts p WHERE p.id = b.payout_id) FROM bills b WHERE b.bill = ?1".to_owned(),
        ] {
            let stmt = tx.prepare_cached(&sql).expect("cached");
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
