//! The engine against the in-process sandbox: a red packet's life after
//! "sent" (received, refunded, resent only when asked), a worker that
//! takes over a dead worker's payouts, and the shared quota.

use crate::conformance::bills;
use hongbao::{Client, RetryPolicy};
use hongbao_ledger::sqlite::SqliteStore;
use hongbao_ledger::{
    BatchSpec, ClaimRequest, Due, Ledger, LedgerOptions, PayoutFilter, PayoutState, Quota, Store,
    stored_request,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, OpenId, RedPacket};
use hongbao_sandbox::{FaultConfig, FaultKind, Progression, Sandbox, SandboxHandle};
use hongbao_testkit::{binding, client_builder};
use std::sync::Arc;
use std::time::Duration;

async fn sandbox(progression: Progression) -> SandboxHandle {
    Sandbox::builder()
        .seed(7)
        .progression(progression)
        .start()
        .await
        .unwrap()
}

/// The sandbox's client, without retries.
fn client(handle: &SandboxHandle) -> Client {
    client_builder(handle)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn ledger(handle: &SandboxHandle, options: LedgerOptions) -> Ledger {
    let binding = binding(handle);
    let store = Arc::new(SqliteStore::in_memory(&binding).unwrap());
    Ledger::from_store(store, binding, options).await.unwrap()
}

fn packet(i: usize) -> AnyRequest {
    RedPacket::builder(
        BillNo::new(bills().generate().unwrap()).unwrap(),
        OpenId::new(format!("oLife{i:05}abcdefghijklmnop")).unwrap(),
        Amount::from_fen(100 + i as u64),
    )
    .send_name("Shop")
    .wishing("Thanks")
    .act_name("Test")
    .remark("test")
    .client_ip("127.0.0.1")
    .build()
    .unwrap()
    .into()
}

async fn import(ledger: &Ledger, n: usize) {
    let mut importer = ledger.importer(BatchSpec::new("b", "b.csv", "", "red-packet"), false);
    for i in 0..n {
        importer
            .add(i as u64 + 2, None, &packet(i), true)
            .await
            .unwrap();
    }
    assert!(importer.finish().await.unwrap().committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_packets_are_received_or_refunded_and_resent_only_when_asked() {
    // Nobody opens the packets: after 24 h (+1 h refund) they come back.
    let handle = sandbox(Progression {
        receive_after_secs: None,
        ..Progression::default()
    })
    .await;
    let client = client(&handle);
    let ledger = ledger(&handle, LedgerOptions::default()).await;
    import(&ledger, 3).await;
    let report = ledger.worker(client.clone()).run_pass().await.unwrap();
    assert_eq!(report.summary.get(PayoutState::Paid).0, 3, "{report:?}");
    handle.advance_clock(86_400 + 3_600 + 60);
    let refreshed = ledger.refresh(&client, None, 4, None).await.unwrap();
    assert_eq!(refreshed.queried, 3);
    assert!(refreshed.disagreements.is_empty(), "{refreshed:?}");
    assert_eq!(refreshed.summary.get(PayoutState::Refunded).0, 3);
    let payouts = ledger
        .store()
        .payouts(&PayoutFilter::default())
        .await
        .unwrap();
    assert!(payouts.iter().all(|p| p.refunded_ms.is_some()));
    // A plain pass pays nothing again.
    let again = ledger.worker(client.clone()).run_pass().await.unwrap();
    assert_eq!((again.sent, again.resumed, again.reissued), (0, 0, 0));
    assert_eq!(handle.ledger().payments.len(), 3);
    // Asked: a new bill number each, paid again.
    let resent = ledger
        .worker(client.clone())
        .resend_refunded(true)
        .run_pass()
        .await
        .unwrap();
    assert_eq!((resent.reissued, resent.sent), (3, 3), "{resent:?}");
    assert_eq!(resent.summary.get(PayoutState::Paid).0, 3);
    let sandbox_ledger = handle.ledger();
    assert_eq!(sandbox_ledger.payments.len(), 6);
    let after = ledger
        .store()
        .payouts(&PayoutFilter::default())
        .await
        .unwrap();
    for (old, new) in payouts.iter().zip(&after) {
        assert_ne!(old.bill, new.bill, "a new payment has a new bill number");
    }
    // Reconcile agrees with WeChat on every payout.
    let found = ledger.reconcile(&client, None, 4, None).await.unwrap();
    assert!(found.disagreements.is_empty(), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_packets_become_received() {
    let handle = sandbox(Progression::default()).await;
    let client = client(&handle);
    let ledger = ledger(&handle, LedgerOptions::default()).await;
    import(&ledger, 2).await;
    ledger.worker(client.clone()).run_pass().await.unwrap();
    handle.advance_clock(120);
    let refreshed = ledger.refresh(&client, Some("b"), 4, None).await.unwrap();
    assert_eq!(
        refreshed.summary.get(PayoutState::Received).0,
        2,
        "{refreshed:?}"
    );
    let payouts = ledger
        .store()
        .payouts(&PayoutFilter::default())
        .await
        .unwrap();
    assert!(payouts.iter().all(|p| p.received_ms.is_some()));
    // Received is final for refresh: nothing left to ask about.
    let again = ledger.refresh(&client, Some("b"), 4, None).await.unwrap();
    assert_eq!(again.queried, 0);
}

/// A worker claimed payouts, stored their bodies (`sending`), sent some,
/// and died. Its lease expires; another worker takes the payouts over,
/// queries first, resends the same bills, and pays nobody twice. The dead
/// worker's late results are discarded by the fence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_payouts_are_taken_over_without_paying_twice() {
    let handle = sandbox(Progression::default()).await;
    let client = client(&handle);
    let ledger = ledger(&handle, LedgerOptions::default().lease_ms(200)).await;
    import(&ledger, 4).await;
    let store = ledger.store();
    let claimed = store
        .claim(&ClaimRequest::new("dead", Due::Pay, 10, 200))
        .await
        .unwrap();
    let mut marks = Vec::new();
    let mut prepared = Vec::new();
    for c in &claimed {
        let p = client
            .prepare_any(&stored_request(&c.payout).unwrap())
            .unwrap();
        marks.push((c.claim, serde_json::to_vec(&p).unwrap()));
        prepared.push(p);
    }
    assert!(store.mark_sending(&marks).await.unwrap().iter().all(|m| *m));
    // Two requests reached WeChat before the worker died.
    for p in &prepared[..2] {
        assert!(client.execute(p).await.unwrap().is_paid());
    }
    // While its lease holds, nobody else takes them.
    let early = ledger.worker(client.clone()).run_pass().await.unwrap();
    assert_eq!((early.sent, early.resumed), (0, 0));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let report = ledger.worker(client.clone()).run_pass().await.unwrap();
    assert_eq!((report.sent, report.resumed), (0, 4), "{report:?}");
    assert_eq!(report.summary.get(PayoutState::Paid).0, 4);
    assert_eq!(handle.ledger().payments.len(), 4);
    assert!(
        handle
            .ledger()
            .payments
            .iter()
            .all(|p| p.times_requested <= 2)
    );
    // The dead worker's results arrive late: discarded.
    let late = hongbao_ledger::AttemptRecord::new(
        claimed[3].claim,
        claimed[3].payout.bill.clone(),
        hongbao_ledger::AttemptAction::Send,
        PayoutState::NotPaid,
        0,
        0,
    )
    .with_err_code(Some("NOTENOUGH".into()))
    .with_next_step(Some(hongbao::NextStep::NewBill));
    assert_eq!(store.record(&[late]).await.unwrap(), vec![false]);
    assert_eq!(
        store.payout(claimed[3].claim.payout).await.unwrap().state,
        PayoutState::Paid
    );
}

/// With a quota, sends are spaced by the shared GCRA slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_spaces_sends() {
    let handle = sandbox(Progression::default()).await;
    let client = client(&handle);
    let ledger = ledger(
        &handle,
        LedgerOptions::default().quota(Some(Quota::per_minute(600))),
    )
    .await;
    import(&ledger, 6).await;
    let started = std::time::Instant::now();
    let report = ledger
        .worker(client)
        .concurrency(6)
        .run_pass()
        .await
        .unwrap();
    assert_eq!(report.summary.get(PayoutState::Paid).0, 6);
    // 600/min is one send per 100 ms: the sixth leaves 500 ms after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(490),
        "{:?}",
        started.elapsed()
    );
}

/// A sandbox whose every reply comes 700 ms after the payment (the lease
/// of the lease tests is 300 ms).
pub(crate) async fn slow_sandbox() -> SandboxHandle {
    let mut faults = FaultConfig::always(FaultKind::DelayAfterCommit);
    faults.delay_ms = 700;
    Sandbox::builder()
        .seed(7)
        .progression(Progression::default())
        .faults(faults)
        .start()
        .await
        .unwrap()
}

/// A worker renews the leases of the payouts it holds, queued or in
/// flight: with replies slower than the lease, nobody else can claim them
/// meanwhile, and each is paid once, by one request (run on every backend
/// by `conformance`).
pub(crate) async fn leases_are_renewed_while_paying(handle: &SandboxHandle, store: Arc<dyn Store>) {
    let client = client(handle);
    let ledger = Ledger::from_store(
        store,
        binding(handle),
        LedgerOptions::default().lease_ms(300),
    )
    .await
    .unwrap();
    // One in flight at a time: the others wait in the queue, longer than
    // the lease too.
    import(&ledger, 3).await;
    let worker = ledger.worker(client).concurrency(1);
    let paying = tokio::spawn(async move { worker.run_pass().await });
    let store = ledger.store();
    let mut tries = 0;
    while !paying.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let taken = store
            .claim(&ClaimRequest::new("another", Due::Pay, 10, 300))
            .await
            .unwrap();
        if paying.is_finished() {
            // Claimable once the worker is done (a pass ends by releasing).
            store
                .release(&taken.iter().map(|c| c.claim).collect::<Vec<_>>())
                .await
                .unwrap();
            break;
        }
        assert!(taken.is_empty(), "taken from the worker: {taken:?}");
        tries += 1;
    }
    // The pass lasted about three replies (2.1 s), seven leases.
    assert!(tries >= 20, "{tries}");
    let report = paying.await.unwrap().unwrap();
    assert_eq!((report.sent, report.lost_claims), (3, 0), "{report:?}");
    assert_eq!(report.summary.get(PayoutState::Paid).0, 3);
    let payments = handle.ledger().payments;
    assert_eq!(payments.len(), 3);
    assert!(
        payments.iter().all(|p| p.times_requested == 1),
        "{payments:?}"
    );
}
