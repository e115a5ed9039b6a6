//! SQLite backend of the journal (WAL, `synchronous=FULL`).

use super::{
    AttemptAction, AttemptRecord, BatchHeader, Journal, JournalError, JournalRow, PlanAdd,
    PlanWriter, PlannedRow, RowState, ServerId, Summary, now_ms, rfc3339,
};
use hongbao_proto::NextStep;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

const SCHEMA_VERSION: &str = "2";
const APPLICATION_ID: i64 = 0x4842_4a31; // "HBJ1"

/// The columns of the `rows` table (schema 2), shared by the schema and
/// the migration that rebuilds the table.
macro_rules! rows_columns {
    () => {
        "(
    id           INTEGER PRIMARY KEY,
    line         INTEGER NOT NULL,
    openid       TEXT NOT NULL,
    amount_fen   INTEGER NOT NULL,
    bill         TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL CHECK (state IN ('planned','sending','paid','not_paid','unknown','conflict')),
    request_json TEXT NOT NULL,
    body         BLOB,
    wechat_id    TEXT,
    err_code     TEXT,
    message      TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    updated_ms   INTEGER NOT NULL,
    next_step    TEXT,
    generated    INTEGER NOT NULL DEFAULT 0
);"
    };
}

const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows ",
    rows_columns!(),
    "
CREATE INDEX IF NOT EXISTS rows_state ON rows(state, id);
CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    row_id      INTEGER NOT NULL REFERENCES rows(id),
    bill        TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    err_code    TEXT,
    wechat_id   TEXT,
    message     TEXT,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    next_step   TEXT
);
CREATE INDEX IF NOT EXISTS attempts_row ON attempts(row_id, id);
"
);

/// Schema 1 (journals of hongbao 0.1's first release) to 2: the typed next
/// step of every row and attempt, whether the tool chose the bill number,
/// and the `conflict` state. Rows keep their state; a row's next step is
/// unknown (NULL) until its next attempt, and such a row is settled by a
/// query before anything else happens to it.
const MIGRATE_1_TO_2: &str = concat!(
    "CREATE TABLE rows_v2 ",
    rows_columns!(),
    "
INSERT INTO rows_v2(id, line, openid, amount_fen, bill, state, request_json, body, wechat_id, err_code, message, attempts, updated_ms)
    SELECT id, line, openid, amount_fen, bill, state, request_json, body, wechat_id, err_code, message, attempts, updated_ms FROM rows;
DROP TABLE rows;
ALTER TABLE rows_v2 RENAME TO rows;
CREATE INDEX IF NOT EXISTS rows_state ON rows(state, id);
ALTER TABLE attempts ADD COLUMN next_step TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"
);

/// A journal in one SQLite file (WAL mode, full fsync on every commit).
///
/// The plan is checkpointed into the main file as soon as it is committed
/// (and [`SqliteJournal::checkpoint`] folds the WAL in at the end of a run),
/// so a copy of the `.db` file alone always holds its batch. An existing
/// file that is empty or has no batch header is refused
/// ([`JournalError::NoBatch`]); only a file this very call creates starts
/// empty.
#[derive(Debug)]
pub struct SqliteJournal {
    conn: Connection,
    path: String,
    /// For a journal being created by [`SqliteJournal::stage`]: its temporary
    /// files, removed on drop unless [`SqliteJournal::publish`] moved them.
    staged: Option<Staged>,
}

/// The temporary file of a journal being created, and where it goes.
#[derive(Debug)]
struct Staged {
    temp: PathBuf,
    target: PathBuf,
    armed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.armed {
            remove_db_files(&self.temp);
        }
    }
}

/// `path` with `suffix` appended to its file name (`pay.db` → `pay.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes a database file and its SQLite side files, if present.
fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

fn classify_open(path: &str, err: rusqlite::Error) -> JournalError {
    match err.sqlite_error_code() {
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => JournalError::ReadOnly {
            path: path.to_owned(),
            detail: err.to_string(),
        },
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            JournalError::Corrupt(format!("{path}: {err}"))
        }
        _ => JournalError::Sqlite(err),
    }
}

/// Folds the WAL into the main database file and empties it; fails if
/// readers kept it from completing within the busy timeout.
fn checkpoint(conn: &Connection, path: &str) -> Result<(), JournalError> {
    if path == ":memory:" {
        return Ok(());
    }
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(|e| classify_open(path, e))?;
    if busy != 0 || done < log {
        return Err(JournalError::Io {
            path: path.to_owned(),
            detail: format!(
                "could not copy its WAL into the main file (busy: {busy}, {done} of {log} pages; another process reading it?); keep its -wal file next to it"
            ),
        });
    }
    Ok(())
}

/// Whether `open` may create the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    Allowed,
    Never,
}

impl SqliteJournal {
    /// Opens the journal at `path` for reading and writing, creating it if
    /// there is no file there. An existing file must hold a batch.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path_ref = path.as_ref();
        Self::open_file(path_ref, path_ref.display().to_string(), Create::Allowed)
    }

    /// Opens an existing journal; fails if there is none at `path`
    /// ([`JournalError::Empty`]) or if it holds no batch.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path_ref = path.as_ref();
        Self::open_file(path_ref, path_ref.display().to_string(), Create::Never)
    }

    /// Starts a new journal for `path` in the temporary file `<path>.new`
    /// (leftovers of an earlier attempt are removed first). Nothing appears
    /// at `path` until [`SqliteJournal::publish`], so a run interrupted while
    /// planning never leaves a journal without a batch there; dropping the
    /// journal unpublished removes the temporary files.
    ///
    /// The caller must hold the journal's [`JournalLock`](super::JournalLock).
    pub fn stage(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let target = path.as_ref().to_path_buf();
        let shown = target.display().to_string();
        let temp = with_suffix(&target, ".new");
        remove_db_files(&temp);
        let mut journal = Self::open_file(&temp, shown, Create::Allowed)?;
        journal.staged = Some(Staged {
            temp,
            target,
            armed: true,
        });
        Ok(journal)
    }

    /// Moves a journal made by [`SqliteJournal::stage`] to its place, once
    /// its batch is planned: the WAL is folded in, the file synced and
    /// renamed (never over an existing file), and the journal reopened
    /// there. A journal that was not staged is returned as it is.
    pub fn publish(self) -> Result<Self, JournalError> {
        let SqliteJournal { conn, path, staged } = self;
        let Some(mut staged) = staged else {
            return Ok(SqliteJournal {
                conn,
                path,
                staged: None,
            });
        };
        let io = |detail: String| JournalError::Io {
            path: path.clone(),
            detail,
        };
        let planned: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'file_digest'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| classify_open(&path, e))?;
        if planned.is_none() {
            return Err(JournalError::NoBatch { path });
        }
        checkpoint(&conn, &path)?;
        conn.close().map_err(|(_, e)| classify_open(&path, e))?;
        let wal = with_suffix(&staged.temp, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(io(format!(
                "the new journal still has data in {} after closing it",
                wal.display()
            )));
        }
        File::open(&staged.temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(format!("cannot sync {}: {e}", staged.temp.display())))?;
        if std::fs::symlink_metadata(&staged.target).is_ok() {
            return Err(io(
                "a file appeared at this path while the batch was being planned; nothing was sent: rerun"
                    .into(),
            ));
        }
        std::fs::rename(&staged.temp, &staged.target).map_err(|e| {
            io(format!(
                "cannot move {} into place: {e}",
                staged.temp.display()
            ))
        })?;
        staged.armed = false;
        remove_db_files(&staged.temp);
        if let Some(dir) = staged.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename durable (directories cannot be opened for
            // syncing on every platform: best effort).
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Self::open_file(&staged.target, path, Create::Never)
    }

    /// An in-memory journal (tests, dry runs).
    pub fn in_memory() -> Result<Self, JournalError> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, ":memory:".to_owned(), true)
    }

    /// Folds the WAL into the main file (`PRAGMA wal_checkpoint(TRUNCATE)`):
    /// afterwards the `.db` file alone holds everything committed.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        checkpoint(&self.conn, &self.path)
    }

    fn open_file(path_ref: &Path, shown: String, create: Create) -> Result<Self, JournalError> {
        // A new journal may name a directory that does not exist yet
        // (`target/` in a fresh checkout): create it, as `cargo` would.
        if create == Create::Allowed
            && let Some(parent) = path_ref.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|e| JournalError::ReadOnly {
                path: shown.clone(),
                detail: format!("cannot create its directory: {e}"),
            })?;
        }
        // Create the file ourselves, exclusively: then "new" means made by
        // this very call, and anything already there must hold a batch.
        let created = create == Create::Allowed
            && match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path_ref)
            {
                Ok(_) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => {
                    return Err(JournalError::ReadOnly {
                        path: shown,
                        detail: format!("cannot create it: {e}"),
                    });
                }
            };
        if !created {
            match std::fs::metadata(path_ref) {
                Ok(meta) if meta.is_file() && meta.len() == 0 => {
                    return Err(JournalError::NoBatch { path: shown });
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(JournalError::Empty);
                }
                Err(e) => {
                    return Err(JournalError::ReadOnly {
                        path: shown,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let conn = Connection::open_with_flags(
            path_ref,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify_open(&shown, e))?;
        Self::setup(conn, shown, created)
    }

    fn setup(conn: Connection, path: String, created: bool) -> Result<Self, JournalError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| classify_open(&path, e))?;
        // Reading the application id is the first access to the file: a
        // file that is not SQLite fails here.
        let app_id: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| classify_open(&path, e))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| classify_open(&path, e))?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(JournalError::Corrupt(format!(
                "{path} is an SQLite database but not a hongbao journal"
            )));
        }
        if tables == 0 && !created {
            // An SQLite file without even our schema: the 4 KiB main file
            // of a journal whose content is all in a missing -wal file.
            return Err(JournalError::NoBatch { path });
        }
        if path != ":memory:" {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(|e| classify_open(&path, e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(JournalError::ReadOnly {
                    path,
                    detail: format!("cannot switch to WAL (journal_mode is {mode})"),
                });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| classify_open(&path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| classify_open(&path, e))?;
        if created {
            let tx = conn
                .unchecked_transaction()
                .map_err(|e| classify_open(&path, e))?;
            tx.execute_batch(SCHEMA)
                .map_err(|e| classify_open(&path, e))?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(|e| classify_open(&path, e))?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION],
            )
            .map_err(|e| classify_open(&path, e))?;
            tx.commit().map_err(|e| classify_open(&path, e))?;
        }
        let journal = SqliteJournal {
            conn,
            path,
            staged: None,
        };
        let mut version = journal.meta("schema_version")?;
        if version.as_deref() == Some("1") {
            journal.migrate_1_to_2()?;
            version = journal.meta("schema_version")?;
        }
        if version.as_deref() != Some(SCHEMA_VERSION) {
            return Err(JournalError::Corrupt(format!(
                "{}: schema version {version:?}, expected {SCHEMA_VERSION}",
                journal.path
            )));
        }
        if !created && journal.meta("file_digest")?.is_none() {
            return Err(JournalError::NoBatch {
                path: journal.path.clone(),
            });
        }
        Ok(journal)
    }

    fn migrate_1_to_2(&self) -> Result<(), JournalError> {
        // Rebuilding `rows` under `attempts`' foreign key needs the check
        // off; it cannot change inside a transaction.
        self.conn
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(|e| self.classify(e))?;
        let result = self
            .conn
            .execute_batch(&format!("BEGIN IMMEDIATE;{MIGRATE_1_TO_2}COMMIT;"));
        if result.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK;");
        }
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.classify(e))?;
        result.map_err(|e| self.classify(e))
    }

    /// The file path (or `:memory:`).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.classify(e))
    }

    fn classify(&self, err: rusqlite::Error) -> JournalError {
        classify_open(&self.path, err)
    }
}

fn row_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<(JournalRow, String)> {
    let updated_ms: i64 = r.get(12)?;
    let state: String = r.get(5)?;
    Ok((
        JournalRow {
            id: r.get(0)?,
            line: r.get(1)?,
            openid: r.get(2)?,
            amount_fen: r.get(3)?,
            bill: r.get(4)?,
            state: RowState::Planned,
            request_json: r.get(6)?,
            body: r.get(7)?,
            wechat_id: r.get(8)?,
            err_code: r.get(9)?,
            message: r.get(10)?,
            attempts: r.get(11)?,
            updated_at: rfc3339(updated_ms),
            next_step: r
                .get::<_, Option<String>>(13)?
                .as_deref()
                .and_then(NextStep::parse),
            generated: r.get(14)?,
        },
        state,
    ))
}

const ROW_COLUMNS: &str = "id, line, openid, amount_fen, bill, state, request_json, body, wechat_id, err_code, message, attempts, updated_ms, next_step, generated";

fn finish_row(pair: (JournalRow, String)) -> Result<JournalRow, JournalError> {
    let (mut row, state) = pair;
    row.state = state.parse()?;
    Ok(row)
}

struct SqlitePlan<'c> {
    tx: Transaction<'c>,
    conn: &'c Connection,
    path: &'c str,
}

impl PlanWriter for SqlitePlan<'_> {
    fn add(&mut self, row: &PlannedRow) -> Result<PlanAdd, JournalError> {
        let existing: Option<u64> = self
            .tx
            .query_row("SELECT line FROM rows WHERE bill = ?1", [&row.bill], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(first_line) = existing {
            return Ok(PlanAdd::DuplicateBill { first_line });
        }
        self.tx.execute(
            "INSERT INTO rows(line, openid, amount_fen, bill, state, request_json, updated_ms, generated)
             VALUES (?1, ?2, ?3, ?4, 'planned', ?5, ?6, ?7)",
            params![
                row.line,
                row.openid,
                row.amount_fen,
                row.bill,
                row.request_json,
                now_ms(),
                row.generated
            ],
        )?;
        Ok(PlanAdd::Added)
    }

    fn commit(self: Box<Self>) -> Result<(), JournalError> {
        self.tx.commit()?;
        // The plan must not live only in the -wal file: a copy of the .db
        // alone would open without it and plan (and pay) again.
        checkpoint(self.conn, self.path)
    }
}

impl Journal for SqliteJournal {
    fn header(&self) -> Result<Option<BatchHeader>, JournalError> {
        let Some(file_digest) = self.meta("file_digest")? else {
            return Ok(None);
        };
        let get = |key: &str| -> Result<String, JournalError> {
            self.meta(key)?
                .ok_or_else(|| JournalError::Corrupt(format!("header field {key} missing")))
        };
        Ok(Some(BatchHeader {
            file_digest,
            file_name: get("file_name")?,
            kind: get("kind")?,
            mch_id: get("mch_id")?,
            appid: get("appid")?,
        }))
    }

    fn begin_plan(
        &mut self,
        header: &BatchHeader,
    ) -> Result<Box<dyn PlanWriter + '_>, JournalError> {
        if let Some(existing) = self.header()? {
            return Err(JournalError::Mismatch {
                field: "plan",
                journal: existing.file_name,
                this_run: header.file_name.clone(),
            });
        }
        let path = self.path.as_str();
        let conn = &self.conn;
        let tx = conn
            .unchecked_transaction()
            .map_err(|e| classify_open(path, e))?;
        for (key, value) in [
            ("file_digest", &header.file_digest),
            ("file_name", &header.file_name),
            ("kind", &header.kind),
            ("mch_id", &header.mch_id),
            ("appid", &header.appid),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(|e| classify_open(path, e))?;
        }
        Ok(Box::new(SqlitePlan { tx, conn, path }))
    }

    fn rows_in_states(
        &self,
        states: &[RowState],
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<JournalRow>, JournalError> {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let placeholders = vec!["?"; names.len()].join(",");
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM rows WHERE id > ? AND state IN ({placeholders}) ORDER BY id LIMIT ?"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(names.len() + 2);
        values.push(after_id.into());
        values.extend(
            names
                .iter()
                .map(|n| rusqlite::types::Value::Text((*n).to_owned())),
        );
        values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        let rows = stmt.query_map(rusqlite::params_from_iter(values), row_from_sql)?;
        rows.map(|r| finish_row(r?)).collect()
    }

    fn row(&self, id: i64) -> Result<JournalRow, JournalError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM rows WHERE id = ?1");
        let pair = self
            .conn
            .query_row(&sql, [id], row_from_sql)
            .optional()?
            .ok_or(JournalError::NoSuchRow(id))?;
        finish_row(pair)
    }

    fn mark_sending(&mut self, rows: &[(i64, &[u8])]) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE rows SET body = COALESCE(body, ?2), state = 'sending', updated_ms = ?3
                 WHERE id = ?1 AND state IN ('planned', 'sending', 'unknown', 'not_paid')",
            )?;
            let now = now_ms();
            for (id, body) in rows {
                if stmt.execute(params![id, body, now])? != 1 {
                    return Err(JournalError::WrongState {
                        row: *id,
                        change: "marked sending",
                    });
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn record(&mut self, attempts: &[AttemptRecord]) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO attempts(row_id, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            // A paid row stays paid; the bill must still be the row's bill.
            let mut update = tx.prepare_cached(
                "UPDATE rows SET state = ?2, err_code = ?3, message = ?4,
                        wechat_id = COALESCE(?5, wechat_id), attempts = attempts + 1, updated_ms = ?6,
                        next_step = ?8
                 WHERE id = ?1 AND bill = ?7 AND state <> 'paid'",
            )?;
            let mut bump = tx.prepare_cached(
                "UPDATE rows SET attempts = attempts + 1, wechat_id = COALESCE(wechat_id, ?2) WHERE id = ?1",
            )?;
            for a in attempts {
                insert.execute(params![
                    a.row_id,
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
                let changed = update.execute(params![
                    a.row_id,
                    a.outcome.as_str(),
                    a.err_code,
                    a.message,
                    a.wechat_id,
                    a.finished_ms,
                    a.bill,
                    a.next_step.map(NextStep::as_str)
                ])?;
                if changed == 0 {
                    bump.execute(params![a.row_id, a.wechat_id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn reissue(
        &mut self,
        row_id: i64,
        new_bill: &str,
        new_request_json: &str,
    ) -> Result<(), JournalError> {
        let changed = self.conn.execute(
            "UPDATE rows SET bill = ?2, request_json = ?3, body = NULL, state = 'planned',
                    err_code = NULL, message = NULL, wechat_id = NULL, next_step = NULL,
                    generated = 1, updated_ms = ?4
             WHERE id = ?1 AND state IN ('not_paid', 'conflict')",
            params![row_id, new_bill, new_request_json, now_ms()],
        )?;
        if changed == 1 {
            Ok(())
        } else {
            Err(JournalError::WrongState {
                row: row_id,
                change: "given a new bill number",
            })
        }
    }

    fn attempts(&self, row_id: i64) -> Result<Vec<AttemptRecord>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT row_id, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms, next_step
             FROM attempts WHERE row_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([row_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })?;
        rows.map(|r| {
            let (
                row_id,
                bill,
                action,
                outcome,
                err_code,
                wechat_id,
                message,
                started_ms,
                finished_ms,
                next_step,
            ) = r?;
            let action = match action.as_str() {
                "send" => AttemptAction::Send,
                "resend" => AttemptAction::Resend,
                "query" => AttemptAction::Query,
                "resume" => AttemptAction::Resume,
                other => return Err(JournalError::Corrupt(format!("attempt action {other:?}"))),
            };
            Ok(AttemptRecord {
                row_id,
                bill,
                action,
                outcome: outcome.parse()?,
                err_code,
                wechat_id,
                message,
                started_ms,
                finished_ms,
                next_step: next_step.as_deref().and_then(NextStep::parse),
            })
        })
        .collect()
    }

    fn server(&self) -> Result<Option<ServerId>, JournalError> {
        let Some(id) = self.meta("server")? else {
            return Ok(None);
        };
        let sandbox = match self.meta("sandbox")?.as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => {
                return Err(JournalError::Corrupt(format!(
                    "{}: sandbox mark {other:?}",
                    self.path
                )));
            }
        };
        Ok(Some(ServerId { id, sandbox }))
    }

    fn set_server(&mut self, server: &ServerId) -> Result<(), JournalError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| classify_open(&self.path, e))?;
        for (key, value) in [
            ("server", server.id.as_str()),
            ("sandbox", if server.sandbox { "true" } else { "false" }),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| classify_open(&self.path, e))?;
        }
        tx.commit().map_err(|e| classify_open(&self.path, e))?;
        Ok(())
    }

    fn summary(&self) -> Result<Summary, JournalError> {
        let mut summary = Summary {
            by_state: RowState::ALL.iter().map(|s| (*s, 0, 0)).collect(),
            not_paid_by_code: Vec::new(),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, count(*), COALESCE(sum(amount_fen), 0) FROM rows GROUP BY state",
        )?;
        let rows = stmt.query_map([], group_count_fen)?;
        for r in rows {
            let (state, count, fen) = r?;
            let state: RowState = state.parse()?;
            if let Some(slot) = summary.by_state.iter_mut().find(|(s, _, _)| *s == state) {
                slot.1 = count;
                slot.2 = fen;
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(err_code, '(none)'), count(*), COALESCE(sum(amount_fen), 0)
             FROM rows WHERE state = 'not_paid' GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([], group_count_fen)?;
        for r in rows {
            summary.not_paid_by_code.push(r?);
        }
        Ok(summary)
    }
}

/// A `(group key, count, total fen)` row of the summary queries.
fn group_count_fen(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, u64, u64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}
