//! The PostgreSQL store on its own: schema, binding, idempotent submit,
//! imports, fenced claims by many concurrent "processes" (one store each,
//! each with its own connections), and the shared rates.

use super::fresh_schema;
use hongbao_ledger::params_of;
use hongbao_ledger::postgres::PgStore;
use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, BillSource, Binding, Claim, ClaimRequest, Due,
    LedgerError, NewPayout, PayoutFilter, PayoutState, ServerId, Store,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, NextStep, OpenId, RedPacket};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bill numbers `B<prefix><n>`.
#[derive(Debug)]
struct Counter {
    prefix: &'static str,
    next: AtomicU64,
}

impl Counter {
    fn new(prefix: &'static str) -> Self {
        Counter {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl BillSource for Counter {
    fn next_bill(&self) -> Result<String, LedgerError> {
        Ok(format!(
            "B{}{:08}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

fn payout(key: &str, openid: &str, amount_fen: u64, bill: &str) -> NewPayout {
    let request: AnyRequest = RedPacket::builder(
        BillNo::new(bill).unwrap(),
        OpenId::new(openid).unwrap(),
        Amount::from_fen(amount_fen),
    )
    .send_name("天虹百货")
    .wishing("恭喜发财")
    .act_name("新春")
    .remark("谢谢")
    .client_ip("203.0.113.10")
    .build()
    .unwrap()
    .into();
    NewPayout {
        key: key.to_owned(),
        batch: None,
        line: 0,
        openid: openid.to_owned(),
        amount_fen,
        params: params_of(&request),
        bill: bill.to_owned(),
        request_json: serde_json::to_string(&request).unwrap(),
        generated: true,
    }
}

fn binding() -> Binding {
    Binding {
        mch_id: "1900000109".into(),
        appid: "wx8888888888888888".into(),
        server: ServerId::configured("https://127.0.0.1:8443"),
    }
}

async fn open(url: &str) -> PgStore {
    PgStore::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

fn attempt(claim: Claim, bill: &str, outcome: PayoutState, at: i64) -> AttemptRecord {
    AttemptRecord {
        claim,
        bill: bill.to_owned(),
        action: AttemptAction::Send,
        outcome,
        err_code: None,
        wechat_id: (outcome == PayoutState::Paid).then(|| format!("W{bill}")),
        message: None,
        started_ms: at,
        finished_ms: at + 1,
        next_step: Some(if outcome == PayoutState::Paid {
            NextStep::Done
        } else {
            NextStep::Query
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_is_created_once_by_concurrent_openers_and_binding_is_checked() {
    let Some(url) = fresh_schema("schema_binding").await else {
        return;
    };
    let mut openers = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        openers.push(tokio::spawn(async move { PgStore::open(&url).await }));
    }
    for opener in openers {
        let store = opener.await.expect("task").expect("open");
        assert_eq!(store.schema_version().await.expect("version"), 1);
    }
    let store = open(&url).await;
    assert!(
        store
            .location()
            .starts_with("postgres://postgres@127.0.0.1:")
    );
    assert!(store.binding().await.expect("binding").is_none());
    store.bind(&binding(), false).await.expect("bind");
    store
        .bind(&binding(), false)
        .await
        .expect("same binding again");
    assert_eq!(store.binding().await.expect("binding"), Some(binding()));
    let mut other = binding();
    other.mch_id = "1900000110".into();
    match store.bind(&other, false).await {
        Err(LedgerError::BindingMismatch { field, .. }) => assert_eq!(field, "merchant id"),
        other => panic!("expected a binding mismatch, got {other:?}"),
    }
    let mut other = binding();
    other.server = ServerId::embedded_sandbox();
    match store.bind(&other, false).await {
        Err(LedgerError::BindingMismatch { field, .. }) => assert_eq!(field, "server"),
        other => panic!("expected a binding mismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_is_idempotent_and_bill_numbers_are_unique() {
    let Some(url) = fresh_schema("submit").await else {
        return;
    };
    let store = open(&url).await;
    let bills = Counter::new("S");
    let first = store
        .submit(&payout("k1", "o1", 100, "BILL1"), &bills)
        .await
        .expect("submit");
    assert!(first.created);
    assert_eq!(first.payout.state, PayoutState::Planned);
    assert_eq!(first.payout.bill, "BILL1");
    let again = store
        .submit(&payout("k1", "o1", 100, "BILL1"), &bills)
        .await
        .expect("submit again");
    assert!(!again.created);
    assert_eq!(again.payout.id, first.payout.id);
    match store
        .submit(&payout("k1", "o1", 200, "BILL9"), &bills)
        .await
    {
        Err(LedgerError::KeyConflict {
            key,
            existing,
            given,
        }) => {
            assert_eq!(key, "k1");
            assert!(existing.contains("total_amount=100"), "{existing}");
            assert!(given.contains("total_amount=200"), "{given}");
        }
        other => panic!("expected a key conflict, got {other:?}"),
    }
    // A caller-chosen number that is taken is refused ...
    let mut chosen = payout("k2", "o2", 100, "BILL1");
    chosen.generated = false;
    match store.submit(&chosen, &bills).await {
        Err(LedgerError::BillTaken { bill, key }) => {
            assert_eq!((bill.as_str(), key.as_str()), ("BILL1", "k1"));
        }
        other => panic!("expected a taken bill, got {other:?}"),
    }
    // ... a generated one is drawn again, in the request too.
    let redrawn = store
        .submit(&payout("k2", "o2", 100, "BILL1"), &bills)
        .await
        .expect("redrawn");
    assert_eq!(redrawn.payout.bill, "BS00000001");
    assert!(redrawn.payout.request_json.contains("\"BS00000001\""));

    // Concurrent submits of one key from several stores: one payout.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let store = PgStore::open(&url).await.expect("open");
            store
                .submit(&payout("race", "o3", 300, "RACE1"), &Counter::new("R"))
                .await
                .expect("submit")
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let submitted = task.await.expect("task");
        created += usize::from(submitted.created);
        ids.insert(submitted.payout.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_plans_new_unchanged_replaced_refused_and_similar() {
    let Some(url) = fresh_schema("import").await else {
        return;
    };
    let store = open(&url).await;
    let bills = Counter::new("I");
    let spec = |name: &str| BatchSpec {
        name: name.into(),
        file_name: format!("{name}.csv"),
        file_digest: "d".into(),
        kind: "red-packet".into(),
    };
    let row = |batch: &str, line: u64, openid: &str, amount: u64| {
        let mut p = payout(
            &format!("{batch}/{openid}/1"),
            openid,
            amount,
            &format!("G{batch}{line}"),
        );
        p.batch = Some(batch.into());
        p.line = line;
        p
    };
    let rows: Vec<NewPayout> = (0..5)
        .map(|i| row("a", i + 2, &format!("o{i}"), 100))
        .collect();
    let dry = store
        .import(&spec("a"), &rows, &bills, true)
        .await
        .expect("dry run");
    assert_eq!(dry.new.len(), 5);
    assert!(!dry.committed);
    assert!(
        store
            .payouts(&PayoutFilter::default())
            .await
            .expect("list")
            .is_empty()
    );
    let plan = store
        .import(&spec("a"), &rows, &bills, false)
        .await
        .expect("import");
    assert!(plan.committed);
    assert_eq!(plan.new, vec![2, 3, 4, 5, 6]);

    // o0 is paid; o1 stays planned. Edit both and add o9.
    let claimed = store
        .claim(&ClaimRequest {
            owner: "w".into(),
            due: Due::Pay,
            batch: Some("a".into()),
            after_id: 0,
            limit: 1,
            lease_ms: 60_000,
        })
        .await
        .expect("claim");
    let c = &claimed[0];
    store
        .record(&[attempt(c.claim, &c.payout.bill, PayoutState::Paid, 1)])
        .await
        .expect("record");
    let mut edited = rows.clone();
    edited[0] = row("a", 2, "o0", 150);
    edited[1] = row("a", 3, "o1", 150);
    edited.push(row("a", 7, "o9", 100));
    let refused = store
        .import(&spec("a"), &edited, &bills, false)
        .await
        .expect("edited import");
    assert!(!refused.committed);
    assert_eq!(refused.refused.len(), 1);
    assert_eq!(refused.refused[0].line, 2);
    assert_eq!(refused.refused[0].state, PayoutState::Paid);
    assert_eq!(refused.replaced.len(), 1);
    assert_eq!(refused.new, vec![7]);
    assert_eq!(refused.unchanged, vec![4, 5, 6]);
    // Nothing of a refused import is written.
    assert_eq!(
        store
            .payouts(&PayoutFilter::default())
            .await
            .expect("list")
            .len(),
        5
    );

    edited[0] = row("a", 2, "o0", 100);
    let fixed = store
        .import(&spec("a"), &edited, &bills, false)
        .await
        .expect("fixed import");
    assert!(fixed.committed, "{fixed:?}");
    let o1 = store
        .payout_by_key("a/o1/1")
        .await
        .expect("get")
        .expect("o1");
    assert_eq!(o1.amount_fen, 150);
    assert_ne!(o1.bill, "Ga3", "a replaced payout gets a new bill number");

    // Same payees, same amount, another batch: the plan warns.
    let other: Vec<NewPayout> = (2..4).map(|i| row("b", i, &format!("o{i}"), 100)).collect();
    let plan_b = store
        .import(&spec("b"), &other, &bills, false)
        .await
        .expect("import b");
    assert_eq!(plan_b.similar.len(), 2);
    assert_eq!(plan_b.similar[0].other_batch.as_deref(), Some("a"));
    match store
        .import(
            &BatchSpec {
                kind: "transfer".into(),
                ..spec("b")
            },
            &other,
            &bills,
            false,
        )
        .await
    {
        Err(LedgerError::KindMismatch { .. }) => {}
        other => panic!("expected a kind mismatch, got {other:?}"),
    }
    assert_eq!(store.batches().await.expect("batches").len(), 2);
    let summary = store.summary(Some("a")).await.expect("summary");
    assert_eq!(summary.get(PayoutState::Paid), (1, 100));
    assert_eq!(summary.payouts(), 6);
}

/// Many claimers ("processes": a store each) take payouts concurrently:
/// each payout is claimed by exactly one of them and paid once; records
/// under a lost claim change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_pay_each_payout_once_and_fencing_rejects_stale_owners() {
    let Some(url) = fresh_schema("claims").await else {
        return;
    };
    let store = open(&url).await;
    let bills = Counter::new("C");
    let total = 1_000;
    let rows: Vec<NewPayout> = (0..total)
        .map(|i| {
            let mut p = payout(
                &format!("k{i}"),
                &format!("o{i}"),
                100,
                &format!("CB{i:06}"),
            );
            p.batch = Some("c".into());
            p.line = i + 2;
            p
        })
        .collect();
    let plan = store
        .import(
            &BatchSpec {
                name: "c".into(),
                file_name: "c.csv".into(),
                file_digest: "d".into(),
                kind: "red-packet".into(),
            },
            &rows,
            &bills,
            false,
        )
        .await
        .expect("import");
    assert_eq!(plan.new.len(), 1_000);

    let mut workers = Vec::new();
    for w in 0..8 {
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let store = PgStore::open(&url).await.expect("open");
            let mut paid = Vec::new();
            loop {
                let claimed = store
                    .claim(&ClaimRequest {
                        owner: format!("worker-{w}"),
                        due: Due::Pay,
                        batch: None,
                        after_id: 0,
                        limit: 7,
                        lease_ms: 60_000,
                    })
                    .await
                    .expect("claim");
                if claimed.is_empty() {
                    break;
                }
                let marks: Vec<(Claim, Vec<u8>)> = claimed
                    .iter()
                    .map(|c| (c.claim, c.payout.bill.clone().into_bytes()))
                    .collect();
                assert!(
                    store
                        .mark_sending(&marks)
                        .await
                        .expect("mark")
                        .iter()
                        .all(|h| *h)
                );
                let now = hongbao_ledger::now_ms();
                let records: Vec<AttemptRecord> = claimed
                    .iter()
                    .map(|c| attempt(c.claim, &c.payout.bill, PayoutState::Paid, now))
                    .collect();
                assert!(
                    store
                        .record(&records)
                        .await
                        .expect("record")
                        .iter()
                        .all(|r| *r)
                );
                paid.extend(claimed.iter().map(|c| c.payout.id));
            }
            paid
        }));
    }
    let mut paid_by: HashMap<i64, usize> = HashMap::new();
    for worker in workers {
        for id in worker.await.expect("worker") {
            *paid_by.entry(id).or_default() += 1;
        }
    }
    assert_eq!(paid_by.len(), 1_000);
    assert!(
        paid_by.values().all(|n| *n == 1),
        "a payout was claimed twice"
    );
    let summary = store.summary(None).await.expect("summary");
    assert_eq!(summary.get(PayoutState::Paid), (1_000, 100_000));
    let listed = store
        .payouts(&PayoutFilter {
            states: vec![PayoutState::Paid],
            limit: 10,
            ..PayoutFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 10);
    assert!(listed.iter().all(|p| p.attempts == 1 && p.body.is_some()));

    // Fencing: a claim whose lease expired is taken over; the old owner's
    // writes are refused, the new owner's count.
    let single = store
        .submit(&payout("late", "ol", 100, "LATE1"), &bills)
        .await
        .expect("submit")
        .payout;
    let request = |owner: &str, lease_ms| ClaimRequest {
        owner: owner.into(),
        due: Due::Pay,
        batch: None,
        after_id: single.id - 1,
        limit: 1,
        lease_ms,
    };
    let old = store.claim(&request("old", 1)).await.expect("claim")[0].claim;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store.claim(&request("new", 60_000)).await.expect("claim");
    let new = taken
        .first()
        .expect("the expired claim is taken over")
        .claim;
    assert!(new.fence > old.fence);
    assert_eq!(
        store.renew(&[old, new], 60_000).await.expect("renew"),
        vec![false, true]
    );
    assert_eq!(
        store
            .mark_sending(&[(old, b"old".to_vec())])
            .await
            .expect("mark"),
        vec![false]
    );
    assert_eq!(
        store
            .record(&[attempt(old, "LATE1", PayoutState::NotPaid, 5)])
            .await
            .expect("record"),
        vec![false]
    );
    assert!(!store.reissue(old, "LATE2", "{}").await.expect("reissue"));
    let now = store.payout(single.id).await.expect("payout");
    assert_eq!(now.state, PayoutState::Planned);
    assert_eq!(now.attempts, 0);
    assert!(
        store
            .record(&[attempt(new, "LATE1", PayoutState::Paid, 6)])
            .await
            .expect("record")[0]
    );
    let attempts = store.attempts(single.id).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].claim, new);
    let traces = store.attempt_traces().await.expect("traces");
    assert!(traces.iter().any(|t| t.payout == single.id
        && t.fence == new.fence
        && t.owner.as_deref() == Some("new")));
    // A paid payout is never sent again, nor moved back by a late answer.
    let again = store
        .claim(&ClaimRequest {
            due: Due::Refresh,
            ..request("refresh", 60_000)
        })
        .await
        .expect("claim")[0]
        .claim;
    assert!(matches!(
        store.mark_sending(&[(again, b"x".to_vec())]).await,
        Err(LedgerError::WrongState { .. })
    ));
    assert!(
        store
            .record(&[attempt(again, "LATE1", PayoutState::Unknown, 7)])
            .await
            .expect("record")[0]
    );
    assert_eq!(
        store.payout(single.id).await.expect("payout").state,
        PayoutState::Paid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_paid_payouts_are_reissued_under_a_new_bill_and_old_numbers_stay_taken() {
    let Some(url) = fresh_schema("reissue").await else {
        return;
    };
    let store = open(&url).await;
    let bills = Counter::new("X");
    let p = store
        .submit(&payout("r1", "o1", 100, "RB1"), &bills)
        .await
        .expect("submit")
        .payout;
    let claim = |due| ClaimRequest {
        owner: "w".into(),
        due,
        batch: None,
        after_id: 0,
        limit: 10,
        lease_ms: 60_000,
    };
    let c = store.claim(&claim(Due::Pay)).await.expect("claim")[0].claim;
    // Reissuing a payout that may be paid is refused.
    assert!(matches!(
        store.reissue(c, "RB2", "{}").await,
        Err(LedgerError::WrongState { .. })
    ));
    let mut failed = attempt(c, "RB1", PayoutState::NotPaid, 1);
    failed.next_step = Some(NextStep::NewBill);
    failed.err_code = Some("NOTENOUGH".into());
    store.record(&[failed]).await.expect("record");
    assert!(
        store
            .claim(&claim(Due::Pay))
            .await
            .expect("claim")
            .is_empty()
    );
    let summary = store.summary(None).await.expect("summary");
    assert_eq!(
        summary.not_paid_by_code,
        vec![("NOTENOUGH".to_owned(), 1, 100)]
    );
    let c = store.claim(&claim(Due::Reissue)).await.expect("claim")[0].claim;
    // A number in use is refused ...
    store
        .submit(&payout("r2", "o2", 100, "RB9"), &bills)
        .await
        .expect("submit");
    assert!(matches!(
        store.reissue(c, "RB9", "{}").await,
        Err(LedgerError::BillTaken { .. })
    ));
    assert!(
        store
            .reissue(c, "RB2", r#"{"bill":"RB2"}"#)
            .await
            .expect("reissue")
    );
    let now = store.payout(p.id).await.expect("payout");
    assert_eq!(
        (now.bill.as_str(), now.state),
        ("RB2", PayoutState::Planned)
    );
    assert!(now.body.is_none() && now.err_code.is_none());
    // ... and so is the payout's own old number, for anyone.
    let mut reuse = payout("r3", "o3", 100, "RB1");
    reuse.generated = false;
    assert!(matches!(
        store.submit(&reuse, &bills).await,
        Err(LedgerError::BillTaken { .. })
    ));
}

/// The merchant's quota as a GCRA row: four "processes" reserving slots
/// at once get distinct slots, one interval apart, at the full rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_rate_slots_are_spaced_across_processes() {
    let Some(url) = fresh_schema("rates").await else {
        return;
    };
    let interval_ms = 5;
    let per_process = 100;
    let start = hongbao_ledger::now_ms();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let store = Arc::new(PgStore::open(&url).await.expect("open"));
            let mut slots = Vec::new();
            for _ in 0..per_process {
                let slot = store
                    .reserve_slot("merchant", interval_ms, hongbao_ledger::now_ms())
                    .await
                    .expect("slot");
                slots.push(slot);
                // Wait for the slot, as a sender would.
                let wait = slot - hongbao_ledger::now_ms();
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                }
            }
            slots
        }));
    }
    let began = Instant::now();
    let mut slots = Vec::new();
    for task in tasks {
        slots.extend(task.await.expect("task"));
    }
    let elapsed = began.elapsed();
    slots.sort_unstable();
    assert_eq!(slots.len(), 400);
    for pair in slots.windows(2) {
        assert!(
            pair[1] - pair[0] >= interval_ms,
            "two slots closer than the interval: {pair:?}"
        );
    }
    assert!(slots[0] >= start);
    // 400 slots of 5 ms: 2 s at the full rate; well under 2 × that.
    let span = slots[399] - slots[0];
    assert!((1_995..2_100).contains(&span), "span {span} ms");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    // Another rate (an employee's 15 s spacing) is independent.
    let store = open(&url).await;
    let now = hongbao_ledger::now_ms();
    let first = store
        .reserve_slot("employee:o1", 15_000, now)
        .await
        .expect("slot");
    let second = store
        .reserve_slot("employee:o1", 15_000, now)
        .await
        .expect("slot");
    assert_eq!(first, now);
    assert_eq!(second, now + 15_000);
}

/// A worker renews its leases on PostgreSQL too (see the SQLite test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_while_its_request_is_in_flight_pg() {
    let Some(url) = fresh_schema("lease_renewal").await else {
        return;
    };
    let handle = crate::worker::slow_sandbox().await;
    let store = Arc::new(open(&url).await);
    crate::worker::leases_are_renewed_while_paying(&handle, store).await;
}
