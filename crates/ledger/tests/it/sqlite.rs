//! The SQLite store's own behaviour (the rules every store follows are in
//! `conformance`): the per-process lock, files that are not ledgers, and
//! CLI journals migrated in place.

use crate::conformance::{bills, binding, packet, payout, spec};
use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{ClaimRequest, Due, LedgerError, PayoutState, ServerId, Store};

fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions::new()
            .with_create(Some(binding()))
            .with_lock(true),
    )
    .unwrap()
}

#[tokio::test]
async fn the_lock_names_its_holder_and_an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let store = open(&path);
    store.bind(&binding(), false).await.unwrap();
    let err = SqliteStore::open(
        &path,
        SqliteOptions::new()
            .with_create(Some(binding()))
            .with_lock(true),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(store);
    // Free again once the holder is gone.
    drop(open(&path));
    // An empty file (a copy without its -wal) is refused.
    let copy = dir.path().join("copy.db");
    std::fs::write(&copy, b"").unwrap();
    let err = SqliteStore::open(
        &copy,
        SqliteOptions::new()
            .with_create(Some(binding()))
            .with_lock(true),
    )
    .unwrap_err();
    assert!(matches!(err, LedgerError::NoBatch { .. }), "{err}");
}

/// A ledger file written by an older hongbao: `schema` (SQL) run on a new
/// file named `name`; with the payee and two bill numbers for its rows.
struct OldFile {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    conn: rusqlite::Connection,
    openid: &'static str,
    bills: [String; 2],
}

fn old_file(name: &str, schema: &str) -> OldFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(schema).unwrap();
    OldFile {
        _dir: dir,
        path,
        conn,
        openid: "oxTWIuGaIt6gTKsQRLau2M0yL16E",
        bills: [bills().generate().unwrap(), bills().generate().unwrap()],
    }
}

/// A schema-2 journal of the CLI (one batch per file) is migrated in place:
/// batch named after the file's stem, keys `<batch>/<openid>/<n>`.
#[tokio::test]
async fn cli_journals_are_migrated_in_place() {
    let OldFile {
        _dir,
        path,
        conn,
        openid: a,
        bills: [bill1, bill2],
    } = old_file(
        "journal.db",
            "PRAGMA application_id = 1212303921;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE rows (id INTEGER PRIMARY KEY, line INTEGER NOT NULL, openid TEXT NOT NULL,
                amount_fen INTEGER NOT NULL, bill TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
                request_json TEXT NOT NULL, body BLOB, wechat_id TEXT, err_code TEXT, message TEXT,
                attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL, next_step TEXT,
                generated INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL REFERENCES rows(id),
                bill TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, err_code TEXT, wechat_id TEXT,
                message TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, next_step TEXT);
             INSERT INTO meta VALUES ('schema_version', '2'), ('file_digest', 'ab'), ('file_name', 'pay/june.csv'),
                ('kind', 'red-packet'), ('mch_id', '10000098'), ('appid', 'wx8888888888888888'),
                ('server', 'sandbox:embedded'), ('sandbox', 'true');",
    );
    {
        for (id, bill, state) in [(1, &bill1, "paid"), (2, &bill2, "unknown")] {
            let json = serde_json::to_string(&packet(bill, a, 100)).unwrap();
            conn.execute(
                "INSERT INTO rows(id, line, openid, amount_fen, bill, state, request_json, body, attempts, updated_ms, next_step, generated)
                 VALUES (?1, ?1 + 1, ?2, 100, ?3, ?4, ?5, x'7b7d', 1, 5, 'done', 1)",
                rusqlite::params![id, a, bill, state, json],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO attempts(row_id, bill, action, outcome, started_ms, finished_ms, next_step)
                 VALUES (?1, ?2, 'send', ?3, 1, 2, 'done')",
                rusqlite::params![id, bill, state],
            )
            .unwrap();
        }
    }
    drop(conn);
    let store = SqliteStore::open(&path, SqliteOptions::new().with_lock(true)).unwrap();
    // The journal paid through the embedded sandbox.
    let mut sandbox = binding();
    sandbox.server = ServerId::embedded_sandbox();
    store.bind(&sandbox, false).await.unwrap();
    let batch = store.batch("june").await.unwrap().unwrap();
    assert_eq!(batch.file_name, "pay/june.csv");
    let first = store
        .payout_by_key(&format!("june/{a}/1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.state, first.bill.as_str()),
        (PayoutState::Paid, bill1.as_str())
    );
    let second = store
        .payout_by_key(&format!("june/{a}/2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.state, PayoutState::Unknown);
    assert_eq!(second.body.as_deref(), Some(&b"{}"[..]));
    assert_eq!(store.attempts(second.id).await.unwrap().len(), 1);
    // The parameters were computed: re-importing the same rows changes nothing.
    let same = payout(&format!("june/{a}/1"), a, 100, &bill1).in_batch("june", 2);
    let mut june = spec("june");
    june.file_name = "pay/june.csv".into();
    let plan = store
        .import(&june, &[same], &bills(), true, hongbao_ledger::now_ms())
        .await
        .unwrap();
    assert_eq!(plan.unchanged, vec![2], "{plan:?}");
    drop(store);
    // Reopened: migrated to the current schema.
    let store = SqliteStore::open(&path, SqliteOptions::new()).unwrap();
    assert_eq!(store.summary(None).await.unwrap().payouts(), 2);
}

/// A ledger of schema 3 (signed bodies in the payouts' rows) is migrated
/// in place when opened for writing: each body moves to the `bodies`
/// table and is the same payout's body afterwards, never replaced by a
/// later mark; opened for reading only, it is refused with a message that
/// says how to migrate it (the CLI does so under the lock).
#[tokio::test]
async fn ledgers_of_schema_3_are_migrated_with_their_bodies() {
    let OldFile {
        _dir,
        path,
        conn,
        openid: a,
        bills: [bill1, bill2],
    } = old_file(
        "ledger.db",
        // Schema 3 as hongbao 0.1 wrote it.
            "PRAGMA application_id = 1212303921;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT,
                payout_id INTEGER NOT NULL REFERENCES payouts(id), fence INTEGER NOT NULL DEFAULT 0,
                bill TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, err_code TEXT,
                wechat_id TEXT, message TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL,
                next_step TEXT);
             CREATE INDEX attempts_payout ON attempts(payout_id, id);
             CREATE TABLE batches (name TEXT PRIMARY KEY, file_name TEXT NOT NULL,
                file_digest TEXT NOT NULL, kind TEXT NOT NULL, created_ms INTEGER NOT NULL);
             CREATE TABLE payouts (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
                batch TEXT REFERENCES batches(name), line INTEGER NOT NULL DEFAULT 0,
                openid TEXT NOT NULL, amount_fen INTEGER NOT NULL, params TEXT NOT NULL,
                bill TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL CHECK (state IN ('planned','sending','unknown','paid','not_paid','conflict','received','refunded')),
                request_json TEXT NOT NULL, body BLOB, wechat_id TEXT, err_code TEXT, message TEXT,
                attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL, next_step TEXT, generated INTEGER NOT NULL DEFAULT 0,
                owner TEXT, lease_until_ms INTEGER, fence INTEGER NOT NULL DEFAULT 0,
                received_ms INTEGER, refunded_ms INTEGER);
             CREATE INDEX payouts_state ON payouts(state, id);
             CREATE INDEX payouts_batch ON payouts(batch, id);
             CREATE INDEX payouts_payee ON payouts(openid, amount_fen);
             CREATE TABLE bills (bill TEXT PRIMARY KEY, payout_id INTEGER NOT NULL);
             CREATE TABLE quota (name TEXT PRIMARY KEY, tat_ms INTEGER NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '3'), ('mch_id', '10000098'),
                ('appid', 'wx8888888888888888'), ('server', 'https://127.0.0.1:8443'), ('sandbox', 'false');
             INSERT INTO batches VALUES ('june', 'june.csv', '00', 'red-packet', 1);",
    );
    {
        // Payout 1 was marked sending with its body; payout 2 is planned.
        for (id, bill, state, body) in [
            (1, &bill1, "sending", Some(&b"{\"sent\":1}"[..])),
            (2, &bill2, "planned", None),
        ] {
            let json = serde_json::to_string(&packet(bill, a, 100 * id)).unwrap();
            conn.execute(
                "INSERT INTO payouts(id, key, batch, line, openid, amount_fen, params, bill, state,
                                     request_json, body, created_ms, updated_ms, generated)
                 VALUES (?1, 'june/' || ?1, 'june', ?1 + 1, ?2, 100 * ?1, '', ?3, ?4, ?5, ?6, 1, 1, 1)",
                rusqlite::params![id, a, bill, state, json, body],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO bills(bill, payout_id) VALUES (?1, ?2)",
                rusqlite::params![bill, id],
            )
            .unwrap();
        }
    }
    drop(conn);
    // For reading only: refused, saying how to migrate it.
    let err = SqliteStore::open(&path, SqliteOptions::new()).unwrap_err();
    match &err {
        LedgerError::Schema { found, path, .. } => {
            assert_eq!(found, "3");
            assert!(path.contains("opening it for writing migrates it"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    let store = SqliteStore::open(&path, SqliteOptions::new().with_lock(true)).unwrap();
    store.bind(&binding(), false).await.unwrap();
    assert_eq!(
        store.payout(1).await.unwrap().body.as_deref(),
        Some(&b"{\"sent\":1}"[..])
    );
    assert_eq!(store.payout(2).await.unwrap().body, None);
    // Both are due; the claim brings the body that may have been sent.
    let claimed = store
        .claim(&ClaimRequest::new("w", Due::Pay, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(
        claimed[0].payout.body.as_deref(),
        Some(&b"{\"sent\":1}"[..])
    );
    // Marked sending again, the stored body stays; the planned payout's
    // body is stored.
    let marks = vec![
        (claimed[0].claim, b"{\"other\":1}".to_vec()),
        (claimed[1].claim, b"{\"new\":2}".to_vec()),
    ];
    assert_eq!(store.mark_sending(&marks).await.unwrap(), vec![true, true]);
    assert_eq!(
        store.payout(1).await.unwrap().body.as_deref(),
        Some(&b"{\"sent\":1}"[..])
    );
    assert_eq!(
        store.payout(2).await.unwrap().body.as_deref(),
        Some(&b"{\"new\":2}"[..])
    );
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, hongbao_ledger::sqlite::SCHEMA_VERSION.to_string());
    let body_columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('payouts') WHERE name = 'body'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(body_columns, 0, "the bodies left the payouts' rows");
    // The same schema as a ledger created now.
    let fresh = dir_of(&path).join("fresh.db");
    drop(open(&fresh));
    assert_eq!(schema_of(&path), schema_of(&fresh));
}

fn dir_of(path: &std::path::Path) -> &std::path::Path {
    path.parent().expect("in a directory")
}

/// Every table and index of a ledger file, as `CREATE` statements without
/// their white space (the schema 3 above is written more compactly).
fn schema_of(path: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| {
        let sql: String = r.get(1)?;
        Ok((r.get(0)?, sql.split_whitespace().collect()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}
