//! The rules of the `Store` trait, each an `async fn(Backend)` run on
//! every backend (see the module above). Each says what bug it catches.

use super::{Backend, Counter, attempt, binding, chosen, claim_one, payout, send, send_at, spec};
use hongbao_ledger::{
    AttemptAction, Binding, Claim, ClaimRequest, Due, LedgerError, NewPayout, PayoutFilter,
    PayoutState, ServerId, now_ms, rebill,
};
use hongbao_proto::{AnyRequest, NextStep};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Catches: a bind that ignores a field, or that overwrites the binding
/// of a ledger it refused.
pub(crate) async fn binding_is_checked_and_another_is_refused(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let b = binding();
    assert_eq!(store.binding().await.unwrap(), Some(b.clone()));
    store.bind(&b, false).await.unwrap();
    for (other, expected) in [
        (
            Binding::new("10000099", &b.appid, b.server.clone()),
            "merchant id",
        ),
        (
            Binding::new(&b.mch_id, "wx9999999999999999", b.server.clone()),
            "app id",
        ),
    ] {
        match store.bind(&other, false).await {
            Err(LedgerError::BindingMismatch { field, .. }) => assert_eq!(field, expected),
            other => panic!("expected a {expected} mismatch, got {other:?}"),
        }
    }
    for server in [
        ServerId::embedded_sandbox(),
        ServerId::configured("https://127.0.0.1:9"),
    ] {
        let other = Binding::new(&b.mch_id, &b.appid, server);
        match store.bind(&other, true).await {
            Err(LedgerError::ServerMismatch { .. }) => {}
            other => panic!("expected a server mismatch, got {other:?}"),
        }
    }
    // A trailing `/` names the same server.
    let slash = Binding::new(
        &b.mch_id,
        &b.appid,
        ServerId::configured("https://127.0.0.1:8443/"),
    );
    store.bind(&slash, false).await.unwrap();
    assert_eq!(store.binding().await.unwrap(), Some(b));
}

/// Catches: a retried submit creating a second payout (paying twice), or
/// a changed one silently returning the old payout (paying the wrong
/// amount) instead of an error that shows both.
pub(crate) async fn submit_is_idempotent_by_key(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("S");
    let first = store
        .submit(&payout("k1", "o1", 100, "BILL1"), &bills)
        .await
        .unwrap();
    assert!(first.created);
    let p = &first.payout;
    assert_eq!(
        (
            p.key.as_str(),
            p.openid.as_str(),
            p.amount_fen,
            p.bill.as_str()
        ),
        ("k1", "o1", 100, "BILL1")
    );
    assert_eq!(
        (p.state, p.attempts, p.body.as_ref()),
        (PayoutState::Planned, 0, None)
    );
    // Same key and parameters, another generated bill: the same payout.
    let again = store
        .submit(&payout("k1", "o1", 100, "BILL2"), &bills)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(
        (again.payout.id, again.payout.bill.as_str()),
        (p.id, "BILL1")
    );
    // The same with the caller's own (same) bill number.
    let same = store
        .submit(&chosen("k1", "o1", 100, "BILL1"), &bills)
        .await
        .unwrap();
    assert!(!same.created);
    assert_eq!(same.payout.id, p.id);
    // Other parameters: refused, showing both.
    for (other, shows) in [
        (payout("k1", "o1", 200, "BILL3"), "total_amount=200"),
        (payout("k1", "o2", 100, "BILL4"), "re_openid=o2"),
        // A caller-chosen bill number is part of the payout.
        (chosen("k1", "o1", 100, "BILL5"), "BILL5"),
    ] {
        match store.submit(&other, &bills).await {
            Err(LedgerError::KeyConflict {
                key,
                existing,
                given,
            }) => {
                assert_eq!(key, "k1");
                assert!(
                    existing.contains("total_amount=100") && existing.contains("BILL1"),
                    "{existing}"
                );
                assert!(given.contains(shows), "{given}");
            }
            other => panic!("expected a key conflict, got {other:?}"),
        }
    }
    let all = store.payouts(&PayoutFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].amount_fen, 100);
    assert_eq!(store.payout_by_key("k1").await.unwrap().unwrap().id, p.id);
    assert!(store.payout_by_key("k2").await.unwrap().is_none());
}

/// Catches: a check-then-insert race between processes (two payouts, or
/// an error, for one retried request).
pub(crate) async fn concurrent_submits_of_one_key_store_one_payout(backend: Backend) {
    let f = backend.open(&binding()).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = f.another().await;
        tasks.push(tokio::spawn(async move {
            store
                .submit(&payout("race", "o3", 300, "RACE1"), &Counter::new("R"))
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let submitted = task.await.unwrap();
        created += usize::from(submitted.created);
        ids.insert(submitted.payout.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(f.store.summary(None).await.unwrap().payouts(), 1);
}

/// Catches: two payouts under one bill number (WeChat would see one
/// payment for two payees), a generated number not redrawn, or a redrawn
/// number missing from the stored request (the request would be sent
/// under the taken number).
pub(crate) async fn bill_numbers_are_unique(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("S");
    store
        .submit(&payout("k1", "o1", 100, "BILL1"), &bills)
        .await
        .unwrap();
    match store
        .submit(&chosen("k2", "o2", 100, "BILL1"), &bills)
        .await
    {
        Err(LedgerError::BillTaken { bill, key }) => {
            assert_eq!((bill.as_str(), key.as_str()), ("BILL1", "payout k1"));
        }
        other => panic!("expected a taken bill, got {other:?}"),
    }
    let redrawn = store
        .submit(&payout("k2", "o2", 100, "BILL1"), &bills)
        .await
        .unwrap()
        .payout;
    assert_eq!(redrawn.bill, "BS00000001");
    let request: AnyRequest = serde_json::from_str(&redrawn.request_json).unwrap();
    assert_eq!(request.bill(), Some("BS00000001"));
    // In an import: a caller-chosen number another payout has, or another
    // row of the file has, refuses the import.
    let rows = vec![
        chosen("b/1", "o5", 100, "BILL1").in_batch("b", 2),
        chosen("b/2", "o6", 100, "BILL7").in_batch("b", 3),
        chosen("b/3", "o7", 100, "BILL7").in_batch("b", 4),
    ];
    let plan = store
        .import(&spec("b"), &rows, &bills, false, now_ms())
        .await
        .unwrap();
    assert!(plan.is_refused() && !plan.committed, "{plan:?}");
    assert_eq!(
        plan.duplicate_bills,
        vec![
            (2, "BILL1".to_owned(), "payout k1".to_owned()),
            (4, "BILL7".to_owned(), "line 3".to_owned()),
        ]
    );
    assert_eq!(store.summary(None).await.unwrap().payouts(), 2);
    assert!(store.payout_by_key("b/2").await.unwrap().is_none());
}

/// Catches: a file naming one key twice, planned as two new payouts in a
/// dry run (the plan shown would not be the import done), or resolved by
/// silently taking one of two different rows.
pub(crate) async fn the_same_key_twice_in_one_file_is_one_payout_or_refused(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("D");
    let same = [
        payout("d/1", "o1", 100, "D1").in_batch("d", 2),
        payout("d/1", "o1", 100, "D2").in_batch("d", 3),
    ];
    let other = [
        payout("d/2", "o2", 100, "D3").in_batch("d", 4),
        payout("d/2", "o2", 200, "D4").in_batch("d", 5),
    ];
    let chosen_twice = [
        chosen("d/3", "o3", 100, "D5").in_batch("d", 6),
        chosen("d/3", "o3", 100, "D6").in_batch("d", 7),
    ];
    for dry_run in [true, false] {
        let plan = store
            .import(&spec("d"), &same, &bills, dry_run, now_ms())
            .await
            .unwrap();
        assert_eq!(
            (plan.new.clone(), plan.unchanged.clone()),
            (vec![2], vec![3]),
            "{plan:?}"
        );
        assert!(!plan.is_refused());
        for rows in [&other, &chosen_twice] {
            let plan = store
                .import(&spec("d"), rows, &bills, dry_run, now_ms())
                .await
                .unwrap();
            assert!(plan.is_refused() && !plan.committed, "{plan:?}");
            assert_eq!(plan.refused.len(), 1, "{plan:?}");
            assert_eq!(plan.refused[0].line, rows[1].line);
            assert_eq!(plan.refused[0].key, rows[1].key);
        }
    }
    let stored = store.payouts(&PayoutFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!((stored[0].key.as_str(), stored[0].line), ("d/1", 2));
}

/// Catches: an edited file that changes a payout which may be paid (a
/// second payment, or the wrong amount recorded for the first), a
/// replaced payout keeping its old bill number (WeChat would answer with
/// the old payment), a refused import writing part of the file, and a
/// payee paid the same amount elsewhere going unmentioned.
pub(crate) async fn import_plans_new_unchanged_replaced_refused_and_similar(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("I");
    let row = |batch: &str, line: u64, openid: &str, fen: u64| {
        payout(
            &format!("{batch}/{openid}/1"),
            openid,
            fen,
            &format!("G{batch}{line}"),
        )
        .in_batch(batch, line)
    };
    // A payout submitted on its own, to o7.
    store
        .submit(&payout("solo", "o7", 100, "SOLO1"), &bills)
        .await
        .unwrap();
    let rows: Vec<NewPayout> = (0..5)
        .map(|i| row("a", i + 2, &format!("o{i}"), 100))
        .collect();
    let dry = store
        .import(&spec("a"), &rows, &bills, true, now_ms())
        .await
        .unwrap();
    assert_eq!(
        (dry.new.clone(), dry.committed),
        (vec![2, 3, 4, 5, 6], false)
    );
    assert_eq!(
        store.summary(Some("a")).await.unwrap().payouts(),
        0,
        "dry run wrote"
    );
    let plan = store
        .import(&spec("a"), &rows, &bills, false, now_ms())
        .await
        .unwrap();
    assert!(plan.committed);
    assert_eq!(plan.new, vec![2, 3, 4, 5, 6]);
    assert!(plan.similar.is_empty(), "{plan:?}");
    let batch = store.batch("a").await.unwrap().unwrap();
    assert_eq!(
        (batch.file_name.as_str(), batch.kind.as_str()),
        ("a.csv", "red-packet")
    );
    // The same file again: nothing new, nothing written.
    let again = store
        .import(&spec("a"), &rows, &bills, false, now_ms())
        .await
        .unwrap();
    assert_eq!(
        (again.new.len(), again.unchanged.clone()),
        (0, vec![2, 3, 4, 5, 6])
    );
    assert!(
        again.similar.is_empty(),
        "its own batch is not 'another batch'"
    );

    let id = |key: &'static str| {
        let store = Arc::clone(store);
        async move { store.payout_by_key(key).await.unwrap().unwrap() }
    };
    // o0 paid; o1 planned but held by a live claim; o2 definitely not
    // paid; o3 unknown; o4 untouched.
    send(&**store, id("a/o0/1").await.id, PayoutState::Paid).await;
    let held = claim_one(&**store, id("a/o1/1").await.id, Due::Pay, "holder").await;
    send(&**store, id("a/o2/1").await.id, PayoutState::NotPaid).await;
    send(&**store, id("a/o3/1").await.id, PayoutState::Unknown).await;
    let o2_bill = id("a/o2/1").await.bill;

    let mut edited: Vec<NewPayout> = (0..4)
        .map(|i| row("a", i + 2, &format!("o{i}"), 150))
        .collect();
    edited.push(row("a", 6, "o4", 100));
    edited.push(row("a", 7, "o9", 100));
    let refused = store
        .import(&spec("a"), &edited, &bills, false, now_ms())
        .await
        .unwrap();
    assert!(refused.is_refused() && !refused.committed);
    let lines =
        |rows: &[hongbao_ledger::ChangedRow]| rows.iter().map(|r| r.line).collect::<Vec<_>>();
    assert_eq!(lines(&refused.refused), vec![2, 3, 5], "{refused:?}");
    assert_eq!(lines(&refused.replaced), vec![4]);
    assert_eq!(
        (refused.new.clone(), refused.unchanged.clone()),
        (vec![7], vec![6])
    );
    let paid = &refused.refused[0];
    assert_eq!(
        (paid.key.as_str(), paid.state),
        ("a/o0/1", PayoutState::Paid)
    );
    assert!(
        paid.old.contains("total_amount=100") && paid.old.contains("Ga2"),
        "{paid:?}"
    );
    assert!(paid.new.contains("total_amount=150"), "{paid:?}");
    assert_eq!(refused.refused[2].state, PayoutState::Unknown);
    // Nothing of a refused import is written.
    assert_eq!(store.summary(Some("a")).await.unwrap().payouts(), 5);
    let o2 = id("a/o2/1").await;
    assert_eq!((o2.amount_fen, o2.state), (100, PayoutState::NotPaid));

    // The holder lets go; the paid and unknown rows are put back.
    store.release(&[held.claim]).await.unwrap();
    edited[0] = row("a", 2, "o0", 100);
    edited[3] = row("a", 5, "o3", 100);
    let fixed = store
        .import(&spec("a"), &edited, &bills, false, now_ms())
        .await
        .unwrap();
    assert!(fixed.committed, "{fixed:?}");
    assert_eq!(lines(&fixed.replaced), vec![3, 4]);
    assert_eq!(
        (fixed.unchanged.clone(), fixed.new.clone()),
        (vec![2, 5, 6], vec![7])
    );
    let o1 = id("a/o1/1").await;
    assert_eq!((o1.amount_fen, o1.state), (150, PayoutState::Planned));
    assert_ne!(o1.bill, "Ga3", "a replaced payout gets a new bill number");
    let o2 = id("a/o2/1").await;
    assert_eq!((o2.amount_fen, o2.state), (150, PayoutState::Planned));
    assert_ne!(o2.bill, o2_bill, "a replaced payout gets a new bill number");
    assert!(o2.body.is_none() && o2.err_code.is_none() && o2.next_step.is_none());
    let request: AnyRequest = serde_json::from_str(&o2.request_json).unwrap();
    assert_eq!(request.bill(), Some(o2.bill.as_str()));
    assert_eq!(request.amount().unwrap().fen(), 150);
    // The replaced payouts' old numbers stay taken.
    assert!(matches!(
        store
            .submit(&chosen("x", "ox", 100, &o2_bill), &bills)
            .await,
        Err(LedgerError::BillTaken { .. })
    ));

    // Another batch paying o0 (paid), o4 (planned) and o7 (alone) the same
    // amount warns; o2 (another amount now) and o8 (new) do not.
    let other: Vec<NewPayout> = ["o0", "o4", "o2", "o8", "o7"]
        .iter()
        .zip(2..)
        .map(|(openid, line)| row("b", line, openid, 100))
        .collect();
    let plan_b = store
        .import(&spec("b"), &other, &bills, false, now_ms())
        .await
        .unwrap();
    assert!(plan_b.committed, "a warning does not refuse");
    let similar = similar_of(&plan_b);
    assert_eq!(
        similar,
        vec![
            (2, "o0", Some("a"), "a/o0/1"),
            (3, "o4", Some("a"), "a/o4/1"),
            (6, "o7", None, "solo"),
        ]
    );
    let transfer = hongbao_ledger::BatchSpec::new("b", "b.csv", "00", "transfer");
    match store
        .import(&transfer, &other, &bills, false, now_ms())
        .await
    {
        Err(LedgerError::KindMismatch { batch, .. }) => assert_eq!(batch, "b"),
        other => panic!("expected a kind mismatch, got {other:?}"),
    }
    let names: Vec<String> = store
        .batches()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let summary = store.summary(Some("a")).await.unwrap();
    assert_eq!(summary.get(PayoutState::Paid), (1, 100));
    assert_eq!(summary.payouts(), 6);
}

/// Catches: the 30-day window of similar payouts gone (a payee paid
/// months ago warned about, so the warning is noise) or measured from the
/// wrong time (a batch planned long ago but paid last week not warned; a
/// payout paid long ago and found paid again by a reconcile yesterday
/// warned), the store's own clock used instead of the import's time, and a
/// payout
/// definitely not paid, another amount or the same batch warned about.
pub(crate) async fn similar_payouts_warn_only_within_thirty_days(backend: Backend) {
    const DAY: i64 = 24 * 60 * 60 * 1000;
    // 2025-01-01T00:00:00Z: far from the machine's clock, so a store that
    // looks at its own clock instead of the import's time fails.
    const NOW: i64 = 1_735_689_600_000;
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("W");
    let row = |batch: &str, n: u32, line: u64, openid: &str, fen: u64| {
        payout(
            &format!("{batch}/{openid}/{n}"),
            openid,
            fen,
            &format!("G{batch}{line}"),
        )
        .in_batch(batch, line)
    };
    // Batch "old", planned 60 days before NOW.
    let payees = ["p29", "p31", "p30", "pnot", "pplanned", "pamount"];
    let old: Vec<NewPayout> = payees
        .iter()
        .zip(2..)
        .map(|(openid, line)| row("old", 1, line, openid, 100))
        .collect();
    let plan = store
        .import(&spec("old"), &old, &bills, false, NOW - 60 * DAY)
        .await
        .unwrap();
    assert!(plan.committed && plan.similar.is_empty(), "{plan:?}");
    let id = |key: &'static str| {
        let store = Arc::clone(store);
        async move { store.payout_by_key(key).await.unwrap().unwrap().id }
    };
    // Paid 29 days, 31 days and exactly 30 days before NOW; definitely not
    // paid yesterday; still planned; paid 29 days ago (another amount
    // below). Another payout, planned by itself long ago: what counts is
    // when it was paid.
    send_at(
        &**store,
        id("old/p29/1").await,
        PayoutState::Paid,
        NOW - 29 * DAY,
    )
    .await;
    send_at(
        &**store,
        id("old/p31/1").await,
        PayoutState::Paid,
        NOW - 31 * DAY,
    )
    .await;
    // `send_at` records the attempt as finished 1 ms after `at`.
    send_at(
        &**store,
        id("old/p30/1").await,
        PayoutState::Paid,
        NOW - 30 * DAY - 1,
    )
    .await;
    send_at(
        &**store,
        id("old/pnot/1").await,
        PayoutState::NotPaid,
        NOW - DAY,
    )
    .await;
    send_at(
        &**store,
        id("old/pamount/1").await,
        PayoutState::Paid,
        NOW - 29 * DAY,
    )
    .await;
    // p31 found paid again by a reconcile yesterday: it was still paid 31
    // days ago (the first attempt that found it paid counts).
    let p31 = claim_one(&**store, id("old/p31/1").await, Due::Sent, "reconciler").await;
    let query = hongbao_ledger::AttemptRecord::new(
        p31.claim,
        &p31.payout.bill,
        AttemptAction::Query,
        PayoutState::Paid,
        NOW - DAY,
        NOW - DAY + 1,
    )
    .with_next_step(Some(NextStep::Done));
    assert_eq!(store.record(&[query]).await.unwrap(), vec![true]);

    // A new batch at NOW paying each the same amount (pamount: another).
    let new: Vec<NewPayout> = payees
        .iter()
        .zip(2..)
        .map(|(openid, line)| {
            row(
                "new",
                1,
                line,
                openid,
                if *openid == "pamount" { 150 } else { 100 },
            )
        })
        .collect();
    let plan = store
        .import(&spec("new"), &new, &bills, true, NOW)
        .await
        .unwrap();
    let warned = similar_of(&plan);
    assert_eq!(
        warned,
        vec![
            (2, "p29", Some("old"), "old/p29/1"),
            (4, "p30", Some("old"), "old/p30/1"),
            (6, "pplanned", Some("old"), "old/pplanned/1"),
        ],
        "paid within 30 days, or not settled yet, warns; paid 31 days ago, \
         definitely not paid, or another amount does not"
    );
    assert_eq!(plan.new.len(), payees.len(), "a warning refuses nothing");

    // The same import a day later: p29 was paid 30 days ago, still warned;
    // two days later, no longer.
    let later = |days: i64| {
        let store = Arc::clone(store);
        let new = new.clone();
        async move {
            let plan = store
                .import(
                    &spec("new"),
                    &new,
                    &Counter::new("L"),
                    true,
                    NOW + days * DAY,
                )
                .await
                .unwrap();
            plan.similar
                .iter()
                .map(|s| s.openid.clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(later(1).await, vec!["p29", "pplanned"]);
    assert_eq!(later(2).await, vec!["pplanned"]);

    // More rows for the same payees in the old batch itself: its own batch
    // is not "another batch".
    let more: Vec<NewPayout> = payees
        .iter()
        .zip(20..)
        .map(|(openid, line)| row("old", 2, line, openid, 100))
        .collect();
    let plan = store
        .import(&spec("old"), &more, &bills, false, NOW)
        .await
        .unwrap();
    assert!(plan.committed, "{plan:?}");
    assert_eq!(plan.new.len(), payees.len());
    assert!(plan.similar.is_empty(), "the same batch warned: {plan:?}");
}

/// Catches: a worker whose lease expired writing over the next owner
/// (a stale "not paid" recorded over a payout being paid, a body
/// replaced, the next owner's claim released), and a live lease taken.
pub(crate) async fn an_expired_claims_owner_cannot_write_over_the_next_owner(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let p = store
        .submit(&payout("late", "ol", 100, "LATE1"), &Counter::new("L"))
        .await
        .unwrap()
        .payout;
    let request = |owner: &str, lease_ms| ClaimRequest::new(owner, Due::Pay, 10, lease_ms);
    let old = store.claim(&request("old", 1)).await.unwrap()[0].claim;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store.claim(&request("new", 60_000)).await.unwrap();
    let new = taken.first().expect("an expired claim is taken over").claim;
    assert!(new.fence > old.fence);
    assert_eq!(store.payout(p.id).await.unwrap().fence, new.fence);
    // While the new lease holds, nobody else claims it.
    assert!(
        store
            .claim(&request("third", 60_000))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.renew(&[old, new], 60_000).await.unwrap(),
        vec![false, true]
    );
    assert_eq!(
        store.mark_sending(&[(old, b"old".to_vec())]).await.unwrap(),
        vec![false]
    );
    let mut stale = attempt(old, "LATE1", PayoutState::NotPaid, 5);
    stale.err_code = Some("NOTENOUGH".into());
    assert_eq!(store.record(&[stale]).await.unwrap(), vec![false]);
    let json = rebill(&p.request_json, "LATE2").unwrap();
    assert!(!store.reissue(old, "LATE2", &json).await.unwrap());
    // Releasing the old claim gives nothing back: the new owner holds on.
    store.release(&[old]).await.unwrap();
    assert!(
        store
            .claim(&request("third", 60_000))
            .await
            .unwrap()
            .is_empty()
    );
    let now = store.payout(p.id).await.unwrap();
    assert_eq!(
        (now.state, now.attempts, now.bill.as_str()),
        (PayoutState::Planned, 0, "LATE1")
    );
    assert!(now.body.is_none() && now.err_code.is_none());
    assert!(store.attempts(p.id).await.unwrap().is_empty());

    // The new owner's writes count.
    assert_eq!(
        store.mark_sending(&[(new, b"new".to_vec())]).await.unwrap(),
        vec![true]
    );
    let sending = store.payout(p.id).await.unwrap();
    assert_eq!(
        (sending.state, sending.body.as_deref()),
        (PayoutState::Sending, Some(&b"new"[..]))
    );
    assert_eq!(
        store
            .record(&[attempt(new, "LATE1", PayoutState::Unknown, 6)])
            .await
            .unwrap(),
        vec![true]
    );
    let attempts = store.attempts(p.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].claim, attempts[0].outcome),
        (new, PayoutState::Unknown)
    );
    assert_eq!(
        store.payout(p.id).await.unwrap().state,
        PayoutState::Unknown
    );
    // A record releases the claim; so does `release`: due at once again.
    let c = store.claim(&request("fourth", 60_000)).await.unwrap()[0].claim;
    store.release(&[c]).await.unwrap();
    assert_eq!(
        store.claim(&request("fifth", 60_000)).await.unwrap().len(),
        1
    );
}

/// Catches: a claim that is not exclusive (SKIP LOCKED missing, a read
/// then an update): two workers would send the same payout.
pub(crate) async fn concurrent_claimers_never_get_the_same_payout(backend: Backend) {
    let f = backend.open(&binding()).await;
    let total = 400;
    let rows: Vec<NewPayout> = (0..total)
        .map(|i| {
            payout(
                &format!("k{i}"),
                &format!("o{i}"),
                100,
                &format!("CB{i:06}"),
            )
            .in_batch("c", i + 2)
        })
        .collect();
    let plan = f
        .store
        .import(&spec("c"), &rows, &Counter::new("C"), false, now_ms())
        .await
        .unwrap();
    assert_eq!(plan.new.len(), 400);
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = f.another().await;
        workers.push(tokio::spawn(async move {
            let mut paid = Vec::new();
            loop {
                let claimed = store
                    .claim(&ClaimRequest::new(
                        format!("worker-{w}"),
                        Due::Pay,
                        7,
                        60_000,
                    ))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                let marks: Vec<(Claim, Vec<u8>)> = claimed
                    .iter()
                    .map(|c| (c.claim, c.payout.bill.clone().into_bytes()))
                    .collect();
                assert!(store.mark_sending(&marks).await.unwrap().iter().all(|h| *h));
                let records: Vec<_> = claimed
                    .iter()
                    .map(|c| attempt(c.claim, &c.payout.bill, PayoutState::Paid, 1))
                    .collect();
                assert!(store.record(&records).await.unwrap().iter().all(|r| *r));
                paid.extend(claimed.iter().map(|c| c.payout.id));
            }
            paid
        }));
    }
    let mut paid_by: HashMap<i64, usize> = HashMap::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            *paid_by.entry(id).or_default() += 1;
        }
    }
    assert_eq!(paid_by.len(), 400);
    assert!(
        paid_by.values().all(|n| *n == 1),
        "a payout was claimed twice"
    );
    let summary = f.store.summary(None).await.unwrap();
    assert_eq!(summary.get(PayoutState::Paid), (400, 40_000));
    let listed = f
        .store
        .payouts(&PayoutFilter::default().with_limit(10))
        .await
        .unwrap();
    assert!(listed.iter().all(|p| p.attempts == 1 && p.body.is_some()));
}

/// Catches: a record SQL that lets a later, worse-looking answer (a
/// timeout, an error of a query, a stale attempt in the same call) move a
/// paid payout back to unpaid: it would be paid again.
pub(crate) async fn a_paid_payout_never_goes_back(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("P");
    let worse = [
        PayoutState::Unknown,
        PayoutState::NotPaid,
        PayoutState::Conflict,
        PayoutState::Sending,
        PayoutState::Planned,
    ];
    for (i, outcome) in worse.into_iter().enumerate() {
        let bill = format!("PAID{i}");
        let p = store
            .submit(
                &payout(&format!("k{i}"), &format!("o{i}"), 100, &bill),
                &bills,
            )
            .await
            .unwrap()
            .payout;
        send(&**store, p.id, PayoutState::Paid).await;
        let c = claim_one(&**store, p.id, Due::Refresh, "late").await;
        let mut late = attempt(c.claim, &bill, outcome, 20);
        late.err_code = Some("SYSTEMERROR".into());
        assert_eq!(
            store.record(&[late]).await.unwrap(),
            vec![true],
            "the attempt is kept"
        );
        let now = store.payout(p.id).await.unwrap();
        assert_eq!(now.state, PayoutState::Paid, "paid went back to {outcome}");
        assert_eq!(now.wechat_id, Some(format!("W{bill}")));
        assert_eq!((now.err_code, now.next_step), (None, Some(NextStep::Done)));
        let attempts = store.attempts(p.id).await.unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(now.attempts, 2);
        assert_eq!(attempts[1].outcome, outcome);
    }
    // Two attempts of one payout in one call apply in order: paid, then a
    // worse one, stays paid; a worse one, then paid, ends paid.
    for (key, order) in [
        ("pair1", [PayoutState::Paid, PayoutState::Unknown]),
        ("pair2", [PayoutState::NotPaid, PayoutState::Paid]),
    ] {
        let p = store
            .submit(&payout(key, &format!("o{key}"), 100, key), &bills)
            .await
            .unwrap()
            .payout;
        let c = claim_one(&**store, p.id, Due::Pay, "w").await;
        store
            .mark_sending(&[(c.claim, b"b".to_vec())])
            .await
            .unwrap();
        let records: Vec<_> = order
            .iter()
            .map(|o| attempt(c.claim, &p.bill, *o, 30))
            .collect();
        assert_eq!(store.record(&records).await.unwrap(), vec![true, true]);
        assert_eq!(
            store.payout(p.id).await.unwrap().state,
            PayoutState::Paid,
            "{order:?}"
        );
    }
    // A paid payout is never signed for sending again.
    let id = store.payout_by_key("k0").await.unwrap().unwrap().id;
    let c = claim_one(&**store, id, Due::Refresh, "again").await;
    assert!(matches!(
        store.mark_sending(&[(c.claim, b"x".to_vec())]).await,
        Err(LedgerError::WrongState { .. })
    ));
    // Nor given a new bill number (a new payment).
    let json = rebill(&c.payout.request_json, "NEWBILL1").unwrap();
    assert!(matches!(
        store.reissue(c.claim, "NEWBILL1", &json).await,
        Err(LedgerError::WrongState { .. })
    ));
    assert_eq!(store.payout(id).await.unwrap().bill, "PAID0");
}

/// Catches: a resume that signs a new body (another nonce and signature
/// under the same bill: WeChat may see two different requests).
pub(crate) async fn a_stored_body_is_never_replaced(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let p = store
        .submit(&payout("k", "o1", 100, "BODY1"), &Counter::new("B"))
        .await
        .unwrap()
        .payout;
    let c = claim_one(&**store, p.id, Due::Pay, "w1").await;
    store
        .mark_sending(&[(c.claim, b"first".to_vec())])
        .await
        .unwrap();
    store
        .record(&[attempt(c.claim, "BODY1", PayoutState::Unknown, 1)])
        .await
        .unwrap();
    let c = claim_one(&**store, p.id, Due::Pay, "w2").await;
    assert_eq!(c.payout.body.as_deref(), Some(&b"first"[..]));
    assert_eq!(
        store
            .mark_sending(&[(c.claim, b"second".to_vec())])
            .await
            .unwrap(),
        vec![true]
    );
    let now = store.payout(p.id).await.unwrap();
    assert_eq!(
        (now.state, now.body.as_deref()),
        (PayoutState::Sending, Some(&b"first"[..]))
    );
}

/// Catches: refresh asking about packets that cannot change, a received
/// packet moved to refunded (or back to paid) by a later answer, a
/// refunded one paid again without being asked, or a resend under the
/// old bill number.
pub(crate) async fn red_packets_are_received_or_refunded(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("R");
    let mut ids = Vec::new();
    for i in 1..=3 {
        let p = store
            .submit(
                &payout(&format!("k{i}"), &format!("o{i}"), 100, &format!("RP{i}")),
                &bills,
            )
            .await
            .unwrap()
            .payout;
        send(&**store, p.id, PayoutState::Paid).await;
        ids.push(p.id);
    }
    let due = store
        .claim(&ClaimRequest::new("refresh", Due::Refresh, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(due.iter().map(|c| c.payout.id).collect::<Vec<_>>(), ids);
    let records = [
        attempt(due[0].claim, "RP1", PayoutState::Received, 1_000),
        attempt(due[1].claim, "RP2", PayoutState::Refunded, 2_000),
        attempt(due[2].claim, "RP3", PayoutState::Paid, 3_000),
    ];
    assert_eq!(store.record(&records).await.unwrap(), vec![true; 3]);
    let p1 = store.payout(ids[0]).await.unwrap();
    assert_eq!(
        (p1.state, p1.received_ms, p1.refunded_ms),
        (PayoutState::Received, Some(1_001), None)
    );
    let p2 = store.payout(ids[1]).await.unwrap();
    assert_eq!(
        (p2.state, p2.received_ms, p2.refunded_ms),
        (PayoutState::Refunded, None, Some(2_001))
    );
    assert_eq!(store.payout(ids[2]).await.unwrap().state, PayoutState::Paid);
    // Only the unopened packet is asked about again.
    let due = store
        .claim(&ClaimRequest::new("refresh", Due::Refresh, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|c| c.payout.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    store.release(&[due[0].claim]).await.unwrap();
    // Received is final: a later answer (reconcile) does not move it.
    for later in [
        PayoutState::Refunded,
        PayoutState::Paid,
        PayoutState::Unknown,
    ] {
        let c = claim_one(&**store, ids[0], Due::Sent, "reconcile").await;
        store
            .record(&[attempt(c.claim, "RP1", later, 4_000)])
            .await
            .unwrap();
        let p1 = store.payout(ids[0]).await.unwrap();
        assert_eq!(
            (p1.state, p1.refunded_ms),
            (PayoutState::Received, None),
            "{later}"
        );
    }
    // Refunded is not due for paying; it is for a resend when asked.
    assert!(
        store
            .claim(&ClaimRequest::new("pay", Due::Pay, 10, 60_000))
            .await
            .unwrap()
            .is_empty()
    );
    let c = store
        .claim(&ClaimRequest::new("resend", Due::Refunded, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(
        c.iter().map(|c| c.payout.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    let json = rebill(&c[0].payout.request_json, "RP2AGAIN").unwrap();
    assert!(store.reissue(c[0].claim, "RP2AGAIN", &json).await.unwrap());
    let p2 = store.payout(ids[1]).await.unwrap();
    assert_eq!(
        (p2.state, p2.bill.as_str()),
        (PayoutState::Planned, "RP2AGAIN")
    );
    assert_eq!((p2.refunded_ms, p2.wechat_id, p2.body), (None, None, None));
    claim_one(&**store, ids[1], Due::Pay, "pay").await;
}

/// Catches: a reissue of a payout that may be paid (a second payment), a
/// new number that is taken, an old number freed (a later payout under it
/// would meet the old payment), and an answer about the old number
/// moving the reissued payout.
pub(crate) async fn reissue_gives_a_new_bill_and_old_numbers_stay_taken(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("X");
    let p = store
        .submit(&payout("r1", "o1", 100, "RB1"), &bills)
        .await
        .unwrap()
        .payout;
    let c = claim_one(&**store, p.id, Due::Pay, "w").await;
    let json = |bill: &str| rebill(&p.request_json, bill).unwrap();
    // A payout that may be paid is never given a new number.
    assert!(matches!(
        store.reissue(c.claim, "RB2", &json("RB2")).await,
        Err(LedgerError::WrongState { .. })
    ));
    store
        .mark_sending(&[(c.claim, b"b".to_vec())])
        .await
        .unwrap();
    let mut failed = attempt(c.claim, "RB1", PayoutState::NotPaid, 1);
    failed.err_code = Some("NOTENOUGH".into());
    store.record(&[failed]).await.unwrap();
    // A definite failure is not due for paying, only for a reissue.
    assert!(
        store
            .claim(&ClaimRequest::new("w", Due::Pay, 10, 60_000))
            .await
            .unwrap()
            .is_empty()
    );
    let c = claim_one(&**store, p.id, Due::Reissue, "w").await;
    store
        .submit(&payout("r2", "o2", 100, "RB9"), &bills)
        .await
        .unwrap();
    match store.reissue(c.claim, "RB9", &json("RB9")).await {
        Err(LedgerError::BillTaken { bill, key }) => {
            assert_eq!((bill.as_str(), key.as_str()), ("RB9", "payout r2"));
        }
        other => panic!("expected a taken bill, got {other:?}"),
    }
    assert!(store.reissue(c.claim, "RB2", &json("RB2")).await.unwrap());
    let now = store.payout(p.id).await.unwrap();
    assert_eq!(
        (now.bill.as_str(), now.state),
        ("RB2", PayoutState::Planned)
    );
    assert!(now.body.is_none() && now.err_code.is_none() && now.next_step.is_none());
    assert!(now.generated);
    assert_eq!(now.request_json, json("RB2"));
    // A late answer about the old number does not move it.
    store
        .record(&[attempt(c.claim, "RB1", PayoutState::Paid, 2)])
        .await
        .unwrap();
    assert_eq!(
        store.payout(p.id).await.unwrap().state,
        PayoutState::Planned
    );
    // The old number stays taken, for anyone.
    for (key, bill) in [("r3", "RB1"), ("r4", "RB2")] {
        match store.submit(&chosen(key, "o3", 100, bill), &bills).await {
            Err(LedgerError::BillTaken { key, .. }) => assert_eq!(key, "payout r1"),
            other => panic!("expected {bill} taken, got {other:?}"),
        }
    }
    // And the payout is due for paying under its new number.
    let c = claim_one(&**store, p.id, Due::Pay, "w").await;
    assert_eq!(c.payout.bill, "RB2");
}

/// Catches: the ledger renumbering by itself a bill number the caller
/// chose (their own reference), or never renumbering its own.
pub(crate) async fn conflicts_are_renumbered_only_when_the_ledger_chose_the_bill(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("N");
    let generated = store
        .submit(&payout("g", "o1", 100, "NB1"), &bills)
        .await
        .unwrap()
        .payout;
    let mine = store
        .submit(&chosen("c", "o2", 100, "NB2"), &bills)
        .await
        .unwrap()
        .payout;
    send(&**store, generated.id, PayoutState::Conflict).await;
    send(&**store, mine.id, PayoutState::Conflict).await;
    let renumber = store
        .claim(&ClaimRequest::new("w", Due::Renumber, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(
        renumber.iter().map(|c| c.payout.id).collect::<Vec<_>>(),
        vec![generated.id]
    );
    store.release(&[renumber[0].claim]).await.unwrap();
    let reissue = store
        .claim(&ClaimRequest::new("w", Due::Reissue, 10, 60_000))
        .await
        .unwrap();
    assert_eq!(
        reissue.iter().map(|c| c.payout.id).collect::<Vec<_>>(),
        vec![generated.id, mine.id]
    );
    assert!(
        store
            .claim(&ClaimRequest::new("w", Due::Pay, 10, 60_000))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Catches: a lost update of the shared rate (two senders in one slot:
/// the merchant's limit exceeded), idle time banked as a burst, or one
/// employee's spacing slowing the merchant.
pub(crate) async fn quota_slots_are_spaced_and_never_shared(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
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
    assert_eq!(
        store
            .reserve_slot("employee:o2", 15_000, now)
            .await
            .unwrap(),
        now
    );
    // Four "processes" reserving at once get every slot once, no gap.
    let start = 2_000_000;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = f.another().await;
        tasks.push(tokio::spawn(async move {
            let mut slots = Vec::new();
            for _ in 0..50 {
                slots.push(store.reserve_slot("shared", 5, start).await.unwrap());
            }
            slots
        }));
    }
    let mut slots = Vec::new();
    for task in tasks {
        slots.extend(task.await.unwrap());
    }
    slots.sort_unstable();
    assert_eq!(slots, (0..200).map(|k| start + 5 * k).collect::<Vec<_>>());
}

/// Catches: a summary that misses a state or a code, mixes batches, or
/// a listing whose paging skips or repeats payouts.
pub(crate) async fn summary_and_listing_count_every_state(backend: Backend) {
    let f = backend.open(&binding()).await;
    let store = &f.store;
    let bills = Counter::new("M");
    let rows = |batch: &str, list: &[(&str, u64)]| -> Vec<NewPayout> {
        list.iter()
            .zip(2..)
            .map(|((openid, fen), line)| {
                payout(
                    &format!("{batch}/{openid}"),
                    openid,
                    *fen,
                    &format!("M{batch}{openid}"),
                )
                .in_batch(batch, line)
            })
            .collect()
    };
    store
        .import(
            &spec("a"),
            &rows("a", &[("o1", 100), ("o2", 200), ("o3", 300)]),
            &bills,
            false,
            now_ms(),
        )
        .await
        .unwrap();
    store
        .import(
            &spec("b"),
            &rows("b", &[("o4", 400), ("o5", 150), ("o6", 160)]),
            &bills,
            false,
            now_ms(),
        )
        .await
        .unwrap();
    let solo = store
        .submit(&payout("solo", "o7", 700, "MSOLO"), &bills)
        .await
        .unwrap()
        .payout;
    let id = |key: &'static str| {
        let store = Arc::clone(store);
        async move { store.payout_by_key(key).await.unwrap().unwrap().id }
    };
    send(&**store, id("a/o1").await, PayoutState::Paid).await;
    for (key, code) in [
        ("a/o2", "NOTENOUGH"),
        ("b/o5", "NOTENOUGH"),
        ("b/o6", "SENDNUM_LIMIT"),
    ] {
        let c = claim_one(&**store, id(key).await, Due::Pay, "w").await;
        let mut failed = attempt(c.claim, &c.payout.bill, PayoutState::NotPaid, 1);
        failed.err_code = Some(code.into());
        store.record(&[failed]).await.unwrap();
    }
    send(&**store, id("b/o4").await, PayoutState::Unknown).await;
    send(&**store, solo.id, PayoutState::Paid).await;
    let c = claim_one(&**store, solo.id, Due::Refresh, "w").await;
    store
        .record(&[attempt(c.claim, "MSOLO", PayoutState::Received, 2)])
        .await
        .unwrap();

    let all = store.summary(None).await.unwrap();
    assert_eq!(
        all.by_state.len(),
        PayoutState::ALL.len(),
        "every state listed"
    );
    assert_eq!(all.payouts(), 7);
    let expected = [
        (PayoutState::Planned, (1, 300)),
        (PayoutState::Sending, (0, 0)),
        (PayoutState::Unknown, (1, 400)),
        (PayoutState::Paid, (1, 100)),
        (PayoutState::NotPaid, (3, 510)),
        (PayoutState::Conflict, (0, 0)),
        (PayoutState::Received, (1, 700)),
        (PayoutState::Refunded, (0, 0)),
    ];
    for (state, counts) in expected {
        assert_eq!(all.get(state), counts, "{state}");
    }
    let mut codes = all.not_paid_by_code.clone();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            ("NOTENOUGH".to_owned(), 2, 350),
            ("SENDNUM_LIMIT".to_owned(), 1, 160)
        ]
    );
    let a = store.summary(Some("a")).await.unwrap();
    assert_eq!((a.payouts(), a.get(PayoutState::NotPaid)), (3, (1, 200)));
    assert_eq!(a.not_paid_by_code, vec![("NOTENOUGH".to_owned(), 1, 200)]);
    assert_eq!(store.summary(Some("none")).await.unwrap().payouts(), 0);

    // Listing: by batch and state, in id order, page by page.
    let keys =
        |list: Vec<hongbao_ledger::Payout>| list.into_iter().map(|p| p.key).collect::<Vec<_>>();
    let b = store
        .payouts(&PayoutFilter::default().with_batch(Some("b".into())))
        .await
        .unwrap();
    assert_eq!(keys(b), vec!["b/o4", "b/o5", "b/o6"]);
    let not_paid = store
        .payouts(&PayoutFilter::default().with_states(vec![PayoutState::NotPaid]))
        .await
        .unwrap();
    assert_eq!(keys(not_paid), vec!["a/o2", "b/o5", "b/o6"]);
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .payouts(&PayoutFilter::default().with_after_id(after).with_limit(3))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 3);
        after = last.id;
        seen.extend(page.into_iter().map(|p| p.id));
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert!(matches!(
        store.payout(i64::MAX).await,
        Err(LedgerError::NoSuchPayout(_))
    ));
    // Attempts are listed oldest first, with their claims.
    let attempts = store.attempts(solo.id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.outcome, a.action))
            .collect::<Vec<_>>(),
        vec![
            (PayoutState::Paid, AttemptAction::Send),
            (PayoutState::Received, AttemptAction::Send)
        ]
    );
    assert!(attempts[1].claim.fence > attempts[0].claim.fence);
}

/// The engine on each backend: a worker renews the leases of the payouts
/// it holds, queued or in flight. Catches: a lease that runs out while a
/// slow request is in flight (another worker would send it again).
pub(crate) async fn a_lease_is_renewed_while_its_request_is_in_flight(backend: Backend) {
    let handle = crate::worker::slow_sandbox().await;
    let f = backend.open(&hongbao_testkit::binding(&handle)).await;
    crate::worker::leases_are_renewed_while_paying(&handle, f.store).await;
}

/// The similar payouts a plan warns about, as (line, openid, other batch,
/// other key); every one of them for 100 fen in these rules.
fn similar_of(plan: &hongbao_ledger::ImportPlan) -> Vec<(u64, &str, Option<&str>, &str)> {
    plan.similar
        .iter()
        .map(|s| {
            assert_eq!(s.amount_fen, 100, "{s:?}");
            (
                s.line,
                s.openid.as_str(),
                s.other_batch.as_deref(),
                s.other_key.as_str(),
            )
        })
        .collect()
}
