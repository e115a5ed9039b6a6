//! The SQLite store's own behaviour (the rules every store follows are in
//! `conformance`): the per-process lock, files that are not ledgers, and
//! CLI journals migrated in place.

use crate::conformance::{bills, binding, packet, payout, spec};
use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{LedgerError, PayoutState, ServerId, Store};

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

/// A schema-2 journal of the CLI (one batch per file) is migrated in place:
/// batch named after the file's stem, keys `<batch>/<openid>/<n>`.
#[tokio::test]
async fn cli_journals_are_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let a = "oxTWIuGaIt6gTKsQRLau2M0yL16E";
    let bill1 = bills().generate().unwrap();
    let bill2 = bills().generate().unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
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
        )
        .unwrap();
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
    // Reopened: schema 3 now.
    let store = SqliteStore::open(&path, SqliteOptions::new()).unwrap();
    assert_eq!(store.summary(None).await.unwrap().payouts(), 2);
}
