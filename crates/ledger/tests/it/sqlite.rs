//! The SQLite store on its own: binding, idempotent submit, imports and
//! their plans, fenced claims, the quota slot, and CLI journals migrated.

use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, BillFactory, Binding, ClaimRequest, Due, LedgerError,
    NewPayout, PayoutState, ServerId, Store, params_of,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, Endpoint, NextStep, OpenId, RedPacket};

pub(crate) const MCH: &str = "10000098";

pub(crate) fn binding() -> Binding {
    Binding {
        mch_id: MCH.into(),
        appid: "wx8888888888888888".into(),
        server: ServerId::embedded_sandbox(),
    }
}

pub(crate) fn bills() -> BillFactory {
    BillFactory::new(MCH, "", Endpoint::SendRedPacket)
}

fn packet(bill: &str, openid: &str, yuan: &str) -> AnyRequest {
    RedPacket::builder(
        BillNo::new(bill).unwrap(),
        OpenId::new(openid).unwrap(),
        Amount::parse_yuan(yuan).unwrap(),
    )
    .send_name("天虹百货")
    .wishing("恭喜发财")
    .act_name("新春")
    .remark("谢谢")
    .client_ip("203.0.113.10")
    .build()
    .unwrap()
    .into()
}

pub(crate) fn new_payout(
    key: &str,
    batch: Option<&str>,
    line: u64,
    openid: &str,
    yuan: &str,
) -> NewPayout {
    let bill = bills().generate().unwrap();
    let request = packet(&bill, openid, yuan);
    NewPayout {
        key: key.into(),
        batch: batch.map(str::to_owned),
        line,
        openid: openid.into(),
        amount_fen: request.amount().unwrap().fen(),
        params: params_of(&request),
        bill,
        request_json: serde_json::to_string(&request).unwrap(),
        generated: true,
    }
}

fn spec(name: &str) -> BatchSpec {
    BatchSpec {
        name: name.into(),
        file_name: format!("{name}.csv"),
        file_digest: "00".into(),
        kind: "red-packet".into(),
    }
}

fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions {
            create: Some(binding()),
            lock: true,
        },
    )
    .unwrap()
}

#[tokio::test]
async fn binding_is_checked_and_the_lock_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let store = open(&path);
    store.bind(&binding(), false).await.unwrap();
    let mut other = binding();
    other.mch_id = "10000099".into();
    let err = store.bind(&other, false).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::BindingMismatch {
                field: "merchant id",
                ..
            }
        ),
        "{err}"
    );
    let mut other = binding();
    other.server = ServerId::configured("https://127.0.0.1:9/");
    let err = store.bind(&other, false).await.unwrap_err();
    assert!(matches!(err, LedgerError::ServerMismatch { .. }), "{err}");
    let err = SqliteStore::open(
        &path,
        SqliteOptions {
            create: Some(binding()),
            lock: true,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(store);
    // An empty file (a copy without its -wal) is refused.
    let copy = dir.path().join("copy.db");
    std::fs::write(&copy, b"").unwrap();
    let err = SqliteStore::open(
        &copy,
        SqliteOptions {
            create: Some(binding()),
            lock: true,
        },
    )
    .unwrap_err();
    assert!(matches!(err, LedgerError::NoBatch { .. }), "{err}");
}

#[tokio::test]
async fn submit_is_idempotent_by_key() {
    let store = SqliteStore::in_memory(&binding()).unwrap();
    let first = store
        .submit(
            &new_payout("prize-1", None, 0, "oxTWIuGaIt6gTKsQRLau2M0yL16E", "1.00"),
            &bills(),
        )
        .await
        .unwrap();
    assert!(first.created);
    // Same key, same parameters (another generated bill): the same payout.
    let again = store
        .submit(
            &new_payout("prize-1", None, 0, "oxTWIuGaIt6gTKsQRLau2M0yL16E", "1.00"),
            &bills(),
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.payout.id, first.payout.id);
    assert_eq!(again.payout.bill, first.payout.bill);
    // Same key, other amount: refused, showing both.
    let err = store
        .submit(
            &new_payout("prize-1", None, 0, "oxTWIuGaIt6gTKsQRLau2M0yL16E", "2.00"),
            &bills(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LedgerError::KeyConflict { .. }), "{text}");
    assert!(
        text.contains("total_amount=100") && text.contains("total_amount=200"),
        "{text}"
    );
}

#[tokio::test]
async fn import_plans_new_unchanged_replaced_refused_and_similar() {
    let store = SqliteStore::in_memory(&binding()).unwrap();
    let a = "oxTWIuGaIt6gTKsQRLau2M0yL16E";
    let b = "oxTWIuGaIt6gTKsQRLau2M0yL17F";
    let rows = vec![
        new_payout("june/a/1", Some("june"), 2, a, "1.00"),
        new_payout("june/b/1", Some("june"), 3, b, "2.00"),
    ];
    let plan = store
        .import(&spec("june"), &rows, &bills(), true)
        .await
        .unwrap();
    assert_eq!(plan.new, vec![2, 3]);
    assert!(!plan.committed);
    assert_eq!(
        store.summary(Some("june")).await.unwrap().payouts(),
        0,
        "dry run wrote"
    );
    let plan = store
        .import(&spec("june"), &rows, &bills(), false)
        .await
        .unwrap();
    assert!(plan.committed);
    // Row a is paid, row b definitely not paid.
    let claimed = store
        .claim(&ClaimRequest {
            owner: "w1".into(),
            due: Due::Pay,
            batch: Some("june".into()),
            after_id: 0,
            limit: 10,
            lease_ms: 60_000,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let marks = claimed
        .iter()
        .map(|c| (c.claim, b"{}".to_vec()))
        .collect::<Vec<_>>();
    assert_eq!(store.mark_sending(&marks).await.unwrap(), vec![true, true]);
    let record = |i: usize, outcome, next| AttemptRecord {
        claim: claimed[i].claim,
        bill: claimed[i].payout.bill.clone(),
        action: AttemptAction::Send,
        outcome,
        err_code: None,
        wechat_id: None,
        message: None,
        started_ms: 1,
        finished_ms: 2,
        next_step: Some(next),
    };
    store
        .record(&[
            record(0, PayoutState::Paid, NextStep::Done),
            record(1, PayoutState::NotPaid, NextStep::NewBill),
        ])
        .await
        .unwrap();
    // The edited file: both amounts changed, one row added.
    let edited = vec![
        new_payout("june/a/1", Some("june"), 2, a, "5.00"),
        new_payout("june/b/1", Some("june"), 3, b, "3.00"),
        new_payout("june/a/2", Some("june"), 4, a, "1.00"),
    ];
    let plan = store
        .import(&spec("june"), &edited, &bills(), false)
        .await
        .unwrap();
    assert!(plan.is_refused() && !plan.committed);
    assert_eq!(plan.refused.len(), 1);
    assert_eq!(plan.refused[0].key, "june/a/1");
    assert_eq!(plan.refused[0].state, PayoutState::Paid);
    assert_eq!(plan.replaced.len(), 1);
    // Without the paid row's change, the import goes through.
    let edited = vec![
        new_payout("june/a/1", Some("june"), 2, a, "1.00"),
        new_payout("june/b/1", Some("june"), 3, b, "3.00"),
    ];
    let plan = store
        .import(&spec("june"), &edited, &bills(), false)
        .await
        .unwrap();
    assert!(plan.committed, "{plan:?}");
    assert_eq!((plan.unchanged.clone(), plan.replaced.len()), (vec![2], 1));
    let replaced = store.payout_by_key("june/b/1").await.unwrap().unwrap();
    assert_eq!(
        (replaced.state, replaced.amount_fen),
        (PayoutState::Planned, 300)
    );
    assert_ne!(
        replaced.bill, claimed[1].payout.bill,
        "a new payment needs a new bill"
    );
    // The same file under another batch name: warned about.
    let other: Vec<NewPayout> = vec![new_payout("july/a/1", Some("july"), 2, a, "1.00")];
    let plan = store
        .import(&spec("july"), &other, &bills(), true)
        .await
        .unwrap();
    assert_eq!(plan.similar.len(), 1);
    assert_eq!(plan.similar[0].other_batch.as_deref(), Some("june"));
}

#[tokio::test]
async fn a_lost_claim_cannot_write() {
    let store = SqliteStore::in_memory(&binding()).unwrap();
    store
        .submit(
            &new_payout("k", None, 0, "oxTWIuGaIt6gTKsQRLau2M0yL16E", "1.00"),
            &bills(),
        )
        .await
        .unwrap();
    let request = |owner: &str| ClaimRequest {
        owner: owner.into(),
        due: Due::Pay,
        batch: None,
        after_id: 0,
        limit: 10,
        lease_ms: 0,
    };
    let first = store.claim(&request("w1")).await.unwrap();
    assert_eq!(first.len(), 1);
    // Lease 0: expired at once, the next worker takes it over.
    let second = store.claim(&request("w2")).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(second[0].claim.fence > first[0].claim.fence);
    assert_eq!(
        store
            .mark_sending(&[(first[0].claim, b"old".to_vec())])
            .await
            .unwrap(),
        vec![false]
    );
    let attempt = |claim| AttemptRecord {
        claim,
        bill: first[0].payout.bill.clone(),
        action: AttemptAction::Send,
        outcome: PayoutState::NotPaid,
        err_code: Some("NOTENOUGH".into()),
        wechat_id: None,
        message: None,
        started_ms: 1,
        finished_ms: 2,
        next_step: Some(NextStep::NewBill),
    };
    assert_eq!(
        store.record(&[attempt(first[0].claim)]).await.unwrap(),
        vec![false]
    );
    assert!(
        store
            .attempts(first[0].claim.payout)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.renew(&[first[0].claim], 1000).await.unwrap(),
        vec![false]
    );
    assert_eq!(
        store.renew(&[second[0].claim], 1000).await.unwrap(),
        vec![true]
    );
    // While the lease holds, nobody else claims it.
    assert!(store.claim(&request("w3")).await.unwrap().is_empty());
    assert_eq!(
        store.record(&[attempt(second[0].claim)]).await.unwrap(),
        vec![true]
    );
    let payout = store.payout(second[0].claim.payout).await.unwrap();
    assert_eq!(payout.state, PayoutState::NotPaid);
    // A definite failure is not due for paying; it is for a reissue.
    assert!(store.claim(&request("w3")).await.unwrap().is_empty());
    let again = store
        .claim(&ClaimRequest {
            due: Due::Reissue,
            ..request("w3")
        })
        .await
        .unwrap();
    let new_bill = bills().generate().unwrap();
    let json = hongbao_ledger::rebill(&payout.request_json, &new_bill).unwrap();
    assert!(
        store
            .reissue(again[0].claim, &new_bill, &json)
            .await
            .unwrap()
    );
    let err = store
        .reissue(again[0].claim, &new_bill, &json)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::BillTaken { .. }), "{err}");
}

#[tokio::test]
async fn quota_slots_are_spaced() {
    let store = SqliteStore::in_memory(&binding()).unwrap();
    let now = 1_000_000;
    assert_eq!(store.reserve_slot("merchant", 34, now).await.unwrap(), now);
    assert_eq!(
        store.reserve_slot("merchant", 34, now).await.unwrap(),
        now + 34
    );
    assert_eq!(
        store.reserve_slot("merchant", 34, now + 10).await.unwrap(),
        now + 68
    );
    // Idle time is not banked: after a pause the next slot is "now".
    assert_eq!(
        store
            .reserve_slot("merchant", 34, now + 5_000)
            .await
            .unwrap(),
        now + 5_000
    );
    assert_eq!(
        store
            .reserve_slot("employee:o1", 15_000, now)
            .await
            .unwrap(),
        now
    );
    assert_eq!(
        store
            .reserve_slot("employee:o1", 15_000, now)
            .await
            .unwrap(),
        now + 15_000
    );
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
            let json = serde_json::to_string(&packet(bill, a, "1.00")).unwrap();
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
    let store = SqliteStore::open(
        &path,
        SqliteOptions {
            create: None,
            lock: true,
        },
    )
    .unwrap();
    store.bind(&binding(), false).await.unwrap();
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
    let mut same = new_payout(&format!("june/{a}/1"), Some("june"), 2, a, "1.00");
    same.bill = bill1.clone();
    let plan = store
        .import(
            &BatchSpec {
                name: "june".into(),
                file_name: "pay/june.csv".into(),
                file_digest: "ab".into(),
                kind: "red-packet".into(),
            },
            &[same],
            &bills(),
            true,
        )
        .await
        .unwrap();
    assert_eq!(plan.unchanged, vec![2], "{plan:?}");
    drop(store);
    // Reopened: schema 3 now.
    let store = SqliteStore::open(
        &path,
        SqliteOptions {
            create: None,
            lock: false,
        },
    )
    .unwrap();
    assert_eq!(store.summary(None).await.unwrap().payouts(), 2);
}
