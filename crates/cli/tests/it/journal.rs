//! Journal state machine, durability rules and refusal of foreign or broken files.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use hongbao_cli::journal::{
    AttemptAction, AttemptRecord, BatchHeader, Journal, JournalError, JournalLock, PlanAdd,
    PlannedRow, RowState, ServerId, SqliteJournal, bind_server,
};

fn header(digest: &str) -> BatchHeader {
    BatchHeader {
        file_digest: digest.into(),
        file_name: "payouts.csv".into(),
        kind: "red-packet".into(),
        mch_id: "10000098".into(),
        appid: "wx8888888888888888".into(),
    }
}

fn planned(line: u64, bill: &str) -> PlannedRow {
    PlannedRow {
        line,
        openid: format!("openid{line}"),
        amount_fen: 100 * line,
        bill: bill.into(),
        request_json: "{}".into(),
        generated: true,
    }
}

fn attempt(row_id: i64, bill: &str, outcome: RowState) -> AttemptRecord {
    AttemptRecord {
        row_id,
        bill: bill.into(),
        action: AttemptAction::Send,
        outcome,
        err_code: (outcome == RowState::NotPaid).then(|| "SEND_FAILED".to_owned()),
        wechat_id: (outcome == RowState::Paid).then(|| "WX1".to_owned()),
        message: None,
        started_ms: 1,
        finished_ms: 2,
        next_step: None,
    }
}

fn planned_journal(path: &std::path::Path) -> SqliteJournal {
    let mut journal = SqliteJournal::open(path).unwrap();
    let mut plan = journal.begin_plan(&header("d1")).unwrap();
    assert_eq!(plan.add(&planned(2, "B1")).unwrap(), PlanAdd::Added);
    assert_eq!(plan.add(&planned(3, "B2")).unwrap(), PlanAdd::Added);
    assert_eq!(
        plan.add(&planned(4, "B1")).unwrap(),
        PlanAdd::DuplicateBill { first_line: 2 }
    );
    plan.commit().unwrap();
    journal
}

#[test]
fn plan_is_atomic_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    {
        let mut journal = SqliteJournal::open(&path).unwrap();
        let mut plan = journal.begin_plan(&header("d1")).unwrap();
        plan.add(&planned(2, "B1")).unwrap();
        // Dropped without commit: nothing, not even the header, is kept.
        drop(plan);
        assert_eq!(journal.header().unwrap(), None);
        assert_eq!(journal.summary().unwrap().rows(), 0);
    }
    // A file without a batch is not reopened as a journal (see defect 8).
    assert!(matches!(
        SqliteJournal::open(&path),
        Err(JournalError::NoBatch { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    drop(planned_journal(&path));
    let reopened = SqliteJournal::open(&path).unwrap();
    assert_eq!(reopened.header().unwrap(), Some(header("d1")));
    assert_eq!(reopened.summary().unwrap().get(RowState::Planned), (2, 500));
    let rows = reopened
        .rows_in_states(&[RowState::Planned], 0, 10)
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.bill.as_str()).collect::<Vec<_>>(),
        ["B1", "B2"]
    );
}

#[test]
fn a_second_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = planned_journal(&dir.path().join("j.db"));
    assert!(matches!(
        journal.begin_plan(&header("other")),
        Err(JournalError::Mismatch { .. })
    ));
}

#[test]
fn body_is_stored_before_sending_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut journal = planned_journal(&path);
    let row = journal
        .rows_in_states(&[RowState::Planned], 0, 1)
        .unwrap()
        .remove(0);
    assert_eq!(row.body, None);
    journal
        .mark_sending(&[(row.id, b"first body".as_slice())])
        .unwrap();
    // Durable: visible from a fresh connection (another process after a crash).
    let other = SqliteJournal::open(&path).unwrap();
    let seen = other.row(row.id).unwrap();
    assert_eq!(seen.state, RowState::Sending);
    assert_eq!(seen.body.as_deref(), Some(b"first body".as_slice()));
    // A second mark (resend path) keeps the original body.
    journal
        .mark_sending(&[(row.id, b"other body".as_slice())])
        .unwrap();
    assert_eq!(
        journal.row(row.id).unwrap().body.as_deref(),
        Some(b"first body".as_slice())
    );
}

#[test]
fn state_machine_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = planned_journal(&dir.path().join("j.db"));
    let rows = journal.rows_in_states(&[RowState::Planned], 0, 10).unwrap();
    let (a, b) = (&rows[0], &rows[1]);
    journal
        .mark_sending(&[(a.id, b"a".as_slice()), (b.id, b"b".as_slice())])
        .unwrap();
    journal
        .record(&[
            attempt(a.id, &a.bill, RowState::Unknown),
            attempt(b.id, &b.bill, RowState::NotPaid),
        ])
        .unwrap();
    assert_eq!(journal.row(a.id).unwrap().state, RowState::Unknown);
    assert_eq!(journal.row(b.id).unwrap().state, RowState::NotPaid);
    // unknown -> paid
    journal
        .record(&[attempt(a.id, &a.bill, RowState::Paid)])
        .unwrap();
    let paid = journal.row(a.id).unwrap();
    assert_eq!(
        (paid.state, paid.wechat_id.as_deref(), paid.attempts),
        (RowState::Paid, Some("WX1"), 2)
    );
    // paid is final: a later ambiguous or failed answer never undoes it
    journal
        .record(&[attempt(a.id, &a.bill, RowState::Unknown)])
        .unwrap();
    journal
        .record(&[attempt(a.id, &a.bill, RowState::NotPaid)])
        .unwrap();
    assert_eq!(journal.row(a.id).unwrap().state, RowState::Paid);
    assert_eq!(journal.attempts(a.id).unwrap().len(), 4);
    // a paid row cannot be marked sending again
    assert!(matches!(
        journal.mark_sending(&[(a.id, b"x".as_slice())]),
        Err(JournalError::WrongState { .. })
    ));
    // only not_paid rows can be reissued, and a reissue is a new bill
    assert!(journal.reissue(a.id, "B9", "{}").is_err());
    journal.reissue(b.id, "B3", "{\"new\":1}").unwrap();
    let reissued = journal.row(b.id).unwrap();
    assert_eq!(
        (
            reissued.state,
            reissued.bill.as_str(),
            reissued.body.clone()
        ),
        (RowState::Planned, "B3", None)
    );
    // an answer about the old bill no longer moves the row
    journal
        .record(&[attempt(b.id, "B2", RowState::Paid)])
        .unwrap();
    assert_eq!(journal.row(b.id).unwrap().state, RowState::Planned);
    let summary = journal.summary().unwrap();
    assert_eq!(summary.get(RowState::Paid), (1, 200));
    assert_eq!(summary.get(RowState::Planned), (1, 300));
}

#[test]
fn not_paid_summary_groups_by_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = planned_journal(&dir.path().join("j.db"));
    let rows = journal.rows_in_states(&[RowState::Planned], 0, 10).unwrap();
    for row in &rows {
        journal.mark_sending(&[(row.id, b"x".as_slice())]).unwrap();
        journal
            .record(&[attempt(row.id, &row.bill, RowState::NotPaid)])
            .unwrap();
    }
    let summary = journal.summary().unwrap();
    assert_eq!(
        summary.not_paid_by_code,
        vec![("SEND_FAILED".to_owned(), 2, 500)]
    );
}

#[test]
fn refuses_corrupt_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, just text that is long enough to matter............................................................").unwrap();
    assert!(matches!(
        SqliteJournal::open(&garbage),
        Err(JournalError::Corrupt(_))
    ));

    let foreign = dir.path().join("foreign.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE t(x INTEGER);").unwrap();
    drop(conn);
    let err = SqliteJournal::open(&foreign).unwrap_err();
    assert!(err.to_string().contains("not a hongbao journal"), "{err}");

    assert!(matches!(
        SqliteJournal::open_existing(dir.path().join("missing.db")),
        Err(JournalError::Empty)
    ));
}

#[test]
fn unwritable_location_is_a_clear_error() {
    // procfs refuses new files even to root.
    let err = SqliteJournal::open("/proc/hongbao-journal-test.db").expect_err("cannot create");
    assert!(matches!(err, JournalError::ReadOnly { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/proc/hongbao-journal-test.db"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn read_only_journal_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        // Permissions do not bind root; `unwritable_location_is_a_clear_error` covers it.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    drop(planned_journal(&path));
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let ro_path = ro.join("j.db");
    std::fs::copy(&path, &ro_path).unwrap();
    std::fs::set_permissions(&ro_path, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let result = SqliteJournal::open(&ro_path).and_then(|mut j| {
        let row = j.rows_in_states(&[RowState::Planned], 0, 1)?.remove(0);
        j.mark_sending(&[(row.id, b"x".as_slice())])
    });
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = result.expect_err("a read-only journal must be refused");
    assert!(matches!(err, JournalError::ReadOnly { .. }), "{err:?}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn a_new_journal_in_a_missing_directory_creates_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target").join("nested").join("j.db");
    drop(planned_journal(&path));
    assert!(path.exists());
    // …and reopening it finds the same journal.
    let reopened = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(reopened.header().unwrap(), Some(header("d1")));
}

#[test]
fn defect8_a_copy_of_the_db_file_alone_holds_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pay.db");
    // The journal stays open (a run in progress, or killed: its -wal file
    // is not folded in by a clean close).
    let journal = planned_journal(&path);
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    assert!(!dir.path().join("copy.db-wal").exists());
    let copied = SqliteJournal::open(&copy).expect("the copy is a journal with its batch");
    assert_eq!(copied.header().unwrap(), Some(header("d1")));
    assert_eq!(copied.summary().unwrap().get(RowState::Planned), (2, 500));
    // The end-of-run checkpoint folds later changes in too.
    let mut journal = journal;
    let row = journal
        .rows_in_states(&[RowState::Planned], 0, 1)
        .unwrap()
        .remove(0);
    journal
        .mark_sending(&[(row.id, b"body".as_slice())])
        .unwrap();
    journal.checkpoint().unwrap();
    let copy2 = dir.path().join("copy2.db");
    std::fs::copy(&path, &copy2).unwrap();
    let copied = SqliteJournal::open(&copy2).unwrap();
    assert_eq!(copied.row(row.id).unwrap().state, RowState::Sending);
}

#[test]
fn defect8_an_existing_empty_or_headerless_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let no_batch = |result: Result<SqliteJournal, JournalError>, path: &std::path::Path| {
        let err = result.expect_err("an existing file without a batch is refused");
        assert!(matches!(err, JournalError::NoBatch { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains(&format!(
                "journal {} exists but holds no batch (a copy without its -wal file?)",
                path.display()
            )),
            "{shown}"
        );
    };
    // Zero bytes: left untouched.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    no_batch(SqliteJournal::open(&empty), &empty);
    no_batch(SqliteJournal::open_existing(&empty), &empty);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    // The 4 KiB main file of a WAL database whose content was in the -wal.
    let bare = dir.path().join("bare.db");
    let conn = rusqlite::Connection::open(&bare).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    no_batch(SqliteJournal::open(&bare), &bare);
    // A journal schema without a batch header.
    let headerless = dir.path().join("headerless.db");
    drop(SqliteJournal::open(&headerless).unwrap());
    no_batch(SqliteJournal::open(&headerless), &headerless);
    // A file created by this very call is fine.
    let fresh = dir.path().join("fresh.db");
    assert_eq!(SqliteJournal::open(&fresh).unwrap().header().unwrap(), None);
}

#[test]
fn defect8_a_staged_journal_appears_only_once_planned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pay.db");
    let new = dir.path().join("pay.db.new");
    // Dropped before its plan: nothing is left behind.
    {
        let _lock = JournalLock::acquire(&path).unwrap();
        let journal = SqliteJournal::stage(&path).unwrap();
        assert!(new.exists() && !path.exists());
        drop(journal);
        assert!(!new.exists() && !path.exists());
    }
    // Planned and published: in place, with its plan in the main file.
    let _lock = JournalLock::acquire(&path).unwrap();
    let mut journal = SqliteJournal::stage(&path).unwrap();
    let mut plan = journal.begin_plan(&header("d1")).unwrap();
    plan.add(&planned(2, "B1")).unwrap();
    plan.commit().unwrap();
    let journal = journal.publish().unwrap();
    assert!(path.exists() && !new.exists());
    assert!(!dir.path().join("pay.db.new-wal").exists());
    assert_eq!(journal.header().unwrap(), Some(header("d1")));
    drop(journal);
    assert_eq!(
        SqliteJournal::open_existing(&path)
            .unwrap()
            .summary()
            .unwrap()
            .get(RowState::Planned),
        (1, 200)
    );
}

#[test]
fn defect7_a_second_lock_on_a_journal_is_refused_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pay.db");
    let first = JournalLock::acquire(&path).unwrap();
    // Another acquisition with its own file handle, as another process has.
    let err = JournalLock::acquire(&path).expect_err("the journal is locked");
    let shown = err.to_string();
    assert!(matches!(err, JournalError::InUse { .. }), "{err:?}");
    let expected = format!(
        "journal {} is in use by pid {} on host ",
        path.display(),
        std::process::id()
    );
    assert!(shown.starts_with(&expected), "{shown}");
    assert!(shown.contains(" since 20"), "{shown}");
    assert!(JournalLock::holder(&path).is_some());
    drop(first);
    // Released with its handle.
    assert!(JournalLock::holder(&path).is_none());
    let again = JournalLock::acquire(&path).unwrap();
    assert_eq!(again.path(), JournalLock::lock_path(&path));
}

#[test]
fn defect6_journal_refuses_another_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pay.db");
    let shown = path.display().to_string();
    let sandbox = ServerId::embedded_sandbox();
    let real = ServerId::configured("https://api.mch.weixin.qq.com/");
    let mut journal = SqliteJournal::open(&path).unwrap();
    bind_server(&mut journal, &shown, &sandbox, false).unwrap();
    let mut plan = journal.begin_plan(&header("d1")).unwrap();
    plan.add(&planned(2, "B1")).unwrap();
    plan.commit().unwrap();
    drop(journal);

    let mut journal = SqliteJournal::open_existing(&path).unwrap();
    assert_eq!(journal.server().unwrap(), Some(sandbox.clone()));
    // The same server (the embedded sandbox again): fine.
    bind_server(&mut journal, &shown, &sandbox, false).unwrap();
    // Another one: refused, naming both, even when asked to adopt.
    for adopt in [false, true] {
        let err = bind_server(&mut journal, &shown, &real, adopt).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, JournalError::ServerMismatch { .. }),
            "{err:?}"
        );
        assert!(
            text.contains("sandbox:embedded") && text.contains("https://api.mch.weixin.qq.com"),
            "{text}"
        );
        assert!(text.contains("use another journal file"), "{text}");
    }
    assert_eq!(journal.server().unwrap(), Some(sandbox));
}

#[test]
fn defect6_a_journal_without_a_server_is_refused_unless_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let shown = path.display().to_string();
    // Planned without a server, as hongbao did before it recorded one.
    let mut journal = planned_journal(&path);
    assert_eq!(journal.server().unwrap(), None);
    let real = ServerId::configured("https://api.mch.weixin.qq.com");
    let err = bind_server(&mut journal, &shown, &real, false).unwrap_err();
    assert!(
        matches!(err, JournalError::ServerUnrecorded { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--bind-server"), "{err}");
    assert_eq!(journal.server().unwrap(), None, "refusing records nothing");
    bind_server(&mut journal, &shown, &real, true).unwrap();
    assert_eq!(journal.server().unwrap(), Some(real.clone()));
    // From now on it is bound like any other.
    assert!(matches!(
        bind_server(&mut journal, &shown, &ServerId::embedded_sandbox(), true),
        Err(JournalError::ServerMismatch { .. })
    ));
}

/// A journal written by the first release (schema 1: no next step, no
/// `conflict` state) is migrated in place when opened: every row keeps its
/// state, bill number, stored body and attempts; its next step is unknown
/// (`None`), so the batch settles such a row by a query before anything
/// else (`Take::Resume`).
#[test]
fn a_schema_1_journal_is_migrated_in_place() {
    const SCHEMA_1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE rows (
    id INTEGER PRIMARY KEY, line INTEGER NOT NULL, openid TEXT NOT NULL,
    amount_fen INTEGER NOT NULL, bill TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('planned','sending','paid','not_paid','unknown')),
    request_json TEXT NOT NULL, body BLOB, wechat_id TEXT, err_code TEXT, message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL);
CREATE INDEX rows_state ON rows(state, id);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL REFERENCES rows(id),
    bill TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, err_code TEXT,
    wechat_id TEXT, message TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);
CREATE INDEX attempts_row ON attempts(row_id, id);
PRAGMA application_id = 1212303921;
INSERT INTO meta(key, value) VALUES ('schema_version', '1'), ('bill_prefix', '42'), ('sequence', '2'),
    ('file_digest', 'd1'), ('file_name', 'p.csv'), ('kind', 'red-packet'),
    ('mch_id', '10000098'), ('appid', 'wx8888888888888888');
INSERT INTO rows VALUES
    (1, 2, 'oPaid', 100, '10000098202402100042000001', 'paid', '{}', X'7B7D', 'WX1', NULL, NULL, 2, 1),
    (2, 3, 'oUnknown', 200, '10000098202402100042000002', 'unknown', '{}', X'7B7D', NULL, 'SYSTEMERROR', 'x', 1, 1);
INSERT INTO attempts(row_id, bill, action, outcome, err_code, wechat_id, message, started_ms, finished_ms)
    VALUES (1, '10000098202402100042000001', 'send', 'paid', NULL, 'WX1', NULL, 1, 2);
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_1).unwrap();
    }
    let journal = SqliteJournal::open(&path).unwrap();
    let rows = journal.rows_in_states(&RowState::ALL, 0, 10).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].state, RowState::Paid);
    assert_eq!(rows[0].wechat_id.as_deref(), Some("WX1"));
    assert_eq!(rows[0].body.as_deref(), Some(&b"{}"[..]));
    assert_eq!(rows[1].state, RowState::Unknown);
    assert_eq!(rows[1].bill, "10000098202402100042000002");
    assert!(rows.iter().all(|r| r.next_step.is_none() && !r.generated));
    assert_eq!(journal.attempts(1).unwrap().len(), 1);
    assert_eq!(journal.summary().unwrap().get(RowState::Paid), (1, 100));
    drop(journal);
    // Opened again: already schema 2, nothing to migrate.
    let journal = SqliteJournal::open(&path).unwrap();
    assert_eq!(
        journal.rows_in_states(&RowState::ALL, 0, 10).unwrap().len(),
        2
    );
}
