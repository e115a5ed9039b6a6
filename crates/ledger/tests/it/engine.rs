//! Batch runs of the engine against the in-process sandbox, through the
//! library (`Ledger::open`, the importer, a worker's pass): exactly once,
//! resume after a simulated crash, not-paid and reissue, the stop handle,
//! and the money-safety defects of the issue. (They were CLI tests going
//! through CSV files; what is left there checks the CLI's own work.)

use hongbao::{Client, NextStep, Timeouts};
use hongbao_ledger::{
    AttemptAction, BatchSpec, ClaimRequest, Due, HALT_AFTER, ImportPlan, Ledger, LedgerOptions,
    PayoutState, RunReport, StopHandle, stored_request,
};
use hongbao_proto::{
    Amount, AnyRequest, BillNo, CheckName, MsgType, OpenId, PayEmployee, RedPacket, TradeNo,
    Transfer,
};
use hongbao_sandbox::{FaultConfig, FaultKind, SandboxHandle};
use hongbao_testkit::{
    FAILING_OPENID as FAILING, assert_ledger_matches, client, client_builder, fast_retry,
    open_ledger, payout, payouts, requests_received, requests_since, sandbox,
};
use std::time::Duration;

/// The kinds of payout the tests pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RedPacket,
    Transfer,
    PayEmployee,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::RedPacket => "red-packet",
            Kind::Transfer => "transfer",
            Kind::PayEmployee => "pay-employee",
        }
    }
}

/// A client of the sandbox with API key `api_key` and WeCom secret
/// `workwx` (none: pay to employee cannot be signed).
fn client_with(
    handle: &SandboxHandle,
    api_key: &str,
    workwx: Option<&str>,
    timeout: Duration,
) -> Client {
    let mut builder = client_builder(handle)
        .api_key(hongbao::ApiKey::new(api_key).unwrap())
        .timeouts(Timeouts::default().with_request(timeout))
        .retry(fast_retry());
    if let Some(secret) = workwx {
        builder = builder.workwx_secret(hongbao::WorkwxSecret::new(secret).unwrap());
    }
    builder.build().unwrap()
}

/// A request of `kind` paying `fen` to `openid` under `bill`.
fn request(kind: Kind, bill: &str, openid: &str, fen: u64) -> AnyRequest {
    let openid = OpenId::new(openid).unwrap();
    let amount = Amount::from_fen(fen);
    match kind {
        Kind::RedPacket => RedPacket::builder(BillNo::new(bill).unwrap(), openid, amount)
            .send_name("Test Shop")
            .wishing("Thanks")
            .act_name("Test")
            .remark("test")
            .client_ip("10.0.0.1")
            .build()
            .unwrap()
            .into(),
        Kind::Transfer => Transfer::builder(TradeNo::new(bill).unwrap(), openid, amount)
            .check_name(CheckName::NoCheck)
            .desc("test payout")
            .spbill_create_ip("10.0.0.1")
            .build()
            .unwrap()
            .into(),
        Kind::PayEmployee => PayEmployee::builder(TradeNo::new(bill).unwrap(), openid, amount)
            .check_name(CheckName::NoCheck)
            .desc("test payout")
            .spbill_create_ip("10.0.0.1")
            .ww_msg_type(MsgType::NormalMsg)
            .act_name("Test")
            .build()
            .unwrap()
            .into(),
    }
}

/// A row of a batch: payee, amount (fen), and the bill number the file
/// chose (`None`: the ledger chooses).
type Row = (String, u64, Option<String>);

/// `n` rows with distinct payees and amounts between 1.00 and 9.99 yuan.
fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let fen = (1 + i as u64 % 9) * 100 + i as u64 % 100;
            (format!("oRow{i:06}abcdefghijklmnop"), fen, None)
        })
        .collect()
}

fn row(openid: &str, fen: u64) -> Row {
    (openid.to_owned(), fen, None)
}

/// Imports `rows` (lines 2, 3, …) into batch `batch`; the plan must commit.
async fn import(ledger: &Ledger, batch: &str, kind: Kind, rows: &[Row]) -> ImportPlan {
    let mut importer = ledger.importer(
        BatchSpec::new(batch, format!("{batch}.csv"), "", kind.as_str()),
        false,
    );
    let placeholder = format!("{}20260101PLACEHOLDER", ledger.binding().mch_id);
    for (line, (openid, fen, bill)) in (2..).zip(rows) {
        let chosen = bill.as_deref();
        let request = request(kind, chosen.unwrap_or(&placeholder), openid, *fen);
        importer
            .add(line, None, &request, chosen.is_none())
            .await
            .unwrap();
    }
    let plan = importer.finish().await.unwrap();
    assert!(plan.committed, "{plan:?}");
    plan
}

/// One pass of a worker over batch `batch`.
async fn run(ledger: &Ledger, client: &Client, batch: &str, reissue_not_paid: bool) -> RunReport {
    run_with(ledger, client, batch, reissue_not_paid, 16).await
}

async fn run_with(
    ledger: &Ledger,
    client: &Client,
    batch: &str,
    reissue_not_paid: bool,
    concurrency: usize,
) -> RunReport {
    ledger
        .worker(client.clone())
        .concurrency(concurrency)
        .batch(Some(batch.to_owned()))
        .reissue_not_paid(reissue_not_paid)
        .run_pass()
        .await
        .unwrap()
}

/// Imports (again) and runs, as a rerun of the same file does.
async fn import_and_run(
    ledger: &Ledger,
    batch: &str,
    kind: Kind,
    rows: &[Row],
    client: &Client,
) -> RunReport {
    import(ledger, batch, kind, rows).await;
    run(ledger, client, batch, false).await
}

/// Simulates a process that claimed every planned payout, stored their
/// signed bodies and marked them `sending`, then died (its lease expires
/// at once). Returns `(id, prepared)` per payout.
async fn crash_after_marking(ledger: &Ledger, client: &Client) -> Vec<(i64, hongbao::Prepared)> {
    let claimed = ledger
        .store()
        .claim(&ClaimRequest::new("crashed", Due::Planned, 1000, 1))
        .await
        .unwrap();
    let mut stored = Vec::new();
    let mut marks = Vec::new();
    for c in &claimed {
        let prepared = client
            .prepare_any(&stored_request(&c.payout).unwrap())
            .unwrap();
        marks.push((c.claim, serde_json::to_vec(&prepared).unwrap()));
        stored.push((c.payout.id, prepared));
    }
    let marked = ledger.store().mark_sending(&marks).await.unwrap();
    assert!(marked.iter().all(|m| *m));
    tokio::time::sleep(Duration::from_millis(5)).await;
    stored
}

/// Pays `openid` `fen` under `bill` directly (another system of the merchant).
async fn pay_directly(client: &Client, kind: Kind, bill: &str, openid: &str, fen: u64) {
    let prepared = client
        .prepare_any(&request(kind, bill, openid, fen))
        .unwrap();
    assert!(client.execute(&prepared).await.unwrap().is_paid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_every_row_once_and_rerun_sends_nothing() {
    let handle = sandbox(FaultConfig::none(), 1).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = rows(40);
    let report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!(report.sent, 40);
    assert_eq!(report.summary.get(PayoutState::Paid).0, 40);
    assert_ledger_matches(&handle, &ledger).await;
    let requests_before = requests_received(&handle);
    let again = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!((again.sent, again.resumed), (0, 0));
    assert_eq!(
        requests_before,
        requests_received(&handle),
        "a rerun of a finished batch sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_sending_and_reply_resolves_by_query_first() {
    let handle = sandbox(FaultConfig::none(), 2).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let ledger = open_ledger(&path, &handle, LedgerOptions::default()).await;
    let rows = rows(6);
    let plan = import(&ledger, "p", Kind::Transfer, &rows).await;
    assert_eq!(plan.new.len(), 6);

    // The first run: every payout is signed and marked `sending` durably;
    // payouts 1-3 reach WeChat (paid there), then the process dies before
    // any reply is recorded. Payouts 4-6 died before leaving.
    let stored = crash_after_marking(&ledger, &client).await;
    for (_, prepared) in &stored[..3] {
        assert!(client.execute(prepared).await.unwrap().is_paid());
    }
    drop(ledger);

    // The rerun resolves by query first, resends only the bodies WeChat has
    // not seen (the identical stored bytes), and pays nobody twice.
    let ledger = open_ledger(&path, &handle, LedgerOptions::default()).await;
    let report = import_and_run(&ledger, "p", Kind::Transfer, &rows, &client).await;
    assert_eq!((report.resumed, report.sent), (6, 0));
    assert_eq!(report.summary.get(PayoutState::Paid).0, 6);
    for (id, prepared) in &stored {
        // One client call per payout: `resume` queries first and resends
        // the same bill only when the query does not settle it.
        let attempts = ledger.store().attempts(*id).await.unwrap();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert_eq!(attempts[0].action, AttemptAction::Resume);
        let row = payout(&ledger, *id).await;
        let kept: hongbao::Prepared = serde_json::from_slice(row.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            kept.body(),
            prepared.body(),
            "the stored body never changes"
        );
    }
    let sandbox = handle.ledger();
    assert_eq!(sandbox.payments.len(), 6);
    assert!(sandbox.payments.iter().all(|p| p.status != "FAILED"));
    assert_ledger_matches(&handle, &ledger).await;
}

/// A payout left `sending` by a crash may have reached WeChat. When the
/// resend of the rerun is refused for this attempt only (here: no
/// balance), it stays unknown, never `not_paid`, and a later rerun settles
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_resend_of_a_crashed_row_stays_unknown() {
    let handle = sandbox(FaultConfig::none(), 9).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let ledger = open_ledger(&path, &handle, LedgerOptions::default()).await;
    let rows = rows(2);
    import(&ledger, "p", Kind::Transfer, &rows).await;
    crash_after_marking(&ledger, &client).await;
    drop(ledger);

    handle.set_balance_fen(0);
    let ledger = open_ledger(&path, &handle, LedgerOptions::default()).await;
    let report = import_and_run(&ledger, "p", Kind::Transfer, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::NotPaid).0, 0, "{report:?}");
    assert_eq!(report.summary.get(PayoutState::Unknown).0, 2, "{report:?}");
    assert!(
        handle
            .ledger()
            .payments
            .iter()
            .all(|p| p.failure_code.is_none())
    );

    handle.set_balance_fen(10_000_000);
    let report = import_and_run(&ledger, "p", Kind::Transfer, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::Paid).0, 2, "{report:?}");
    assert_ledger_matches(&handle, &ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_after_commit_never_pay_twice() {
    let mut faults = FaultConfig::none();
    faults.set(FaultKind::SystemerrorAfterCommit, 0.1);
    faults.set(FaultKind::DropAfterCommit, 0.1);
    faults.set(FaultKind::ProcessingAfterCommit, 0.05);
    faults.set(FaultKind::DelayAfterCommit, 0.05);
    faults.set(FaultKind::UnknownErrorCode, 0.05);
    faults.delay_ms = 1_500;
    let handle = sandbox(faults, 3).await;
    let client = client(&handle, Duration::from_millis(600));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = rows(60);
    let mut report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_ledger_matches(&handle, &ledger).await;
    let mut reruns = 0;
    while report.summary.get(PayoutState::Paid).0 < 60 {
        reruns += 1;
        assert!(
            reruns <= 6,
            "not settled after {reruns} reruns: {:?}",
            report.summary
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
        assert_ledger_matches(&handle, &ledger).await;
    }
    assert_eq!(handle.ledger().payments.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_paid_is_final_until_reissued_with_a_new_bill() {
    let handle = sandbox(FaultConfig::none(), 6).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = [row(FAILING, 100), row("oFine0000000000000000000001", 200)];
    let report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::NotPaid), (1, 100));
    assert_eq!(report.summary.not_paid_by_code.len(), 1);
    let failed = payouts(&ledger, &[PayoutState::NotPaid]).await.remove(0);
    // A rerun leaves the definite failure alone.
    let again = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!((again.sent, again.resumed), (0, 0));
    assert_eq!(payout(&ledger, failed.id).await.bill, failed.bill);
    // Only when asked does it get a new bill number (a new payment).
    let reissued = run(&ledger, &client, "p", true).await;
    assert_eq!((reissued.reissued, reissued.sent), (1, 1));
    let now = payout(&ledger, failed.id).await;
    assert_ne!(now.bill, failed.bill);
    assert_eq!(
        now.state,
        PayoutState::NotPaid,
        "the sandbox keeps failing this openid"
    );
    let bills: Vec<String> = handle
        .ledger()
        .payments
        .iter()
        .map(|p| p.bill.clone())
        .collect();
    assert!(bills.contains(&failed.bill) && bills.contains(&now.bill));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_flag_finishes_in_flight_and_leaves_the_rest_planned() {
    let handle = sandbox(FaultConfig::none(), 9).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = rows(30);
    import(&ledger, "p", Kind::RedPacket, &rows).await;
    let stop = StopHandle::new();
    stop.stop();
    let report = ledger
        .worker(client.clone())
        .concurrency(16)
        .batch(Some("p".into()))
        .with_stop(stop)
        .run_pass()
        .await
        .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.summary.get(PayoutState::Planned).0, 30);
    assert!(handle.ledger().payments.is_empty());
    let report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::Paid).0, 30);
    assert_ledger_matches(&handle, &ledger).await;
}

// ---------------------------------------------------------------------------
// Money safety at the edges: one test per defect of the issue.
// ---------------------------------------------------------------------------

/// Defect 1: a batch whose file chose a bill number another system
/// already paid (another payee) reported the payout paid. The query is
/// checked against the payout's payee and amount: it is a bill conflict,
/// never paid, and a reissue pays it under a new number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect1_a_reused_bill_of_another_payee_is_a_conflict_not_paid() {
    let handle = sandbox(FaultConfig::none(), 21).await;
    let client = client(&handle, Duration::from_secs(5));
    let bill = format!("{}20240210ALICE00001", handle.mch_id());
    pay_directly(
        &client,
        Kind::RedPacket,
        &bill,
        "oAlice0000000000000000001",
        500,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let bob = "oBob00000000000000000000001";
    let rows = [(bob.to_owned(), 700, Some(bill.clone()))];
    let report = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::Paid).0, 0, "{report:?}");
    assert_eq!(report.summary.get(PayoutState::Conflict).0, 1, "{report:?}");
    assert!(report.renumbered.is_empty(), "the file chose that number");
    let conflict = payouts(&ledger, &[PayoutState::Conflict]).await.remove(0);
    assert!(
        conflict
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("belongs to another payment"),
        "{:?}",
        conflict.message
    );
    // Alice's payment is another system's: nothing of it is Bob's.
    assert!(handle.ledger().payments.iter().all(|p| p.openid != bob));
    let again = run(&ledger, &client, "p", true).await;
    assert_eq!(again.summary.get(PayoutState::Paid).0, 1, "{again:?}");
    let paid: Vec<_> = handle
        .ledger()
        .payments
        .into_iter()
        .filter(|p| p.openid == bob)
        .collect();
    assert_eq!(paid.len(), 1);
    assert_ne!(paid[0].bill, bill);
    assert_eq!(paid[0].amount_fen, 700);
}

/// Defect 2: generated bill numbers fill the field with random characters
/// after the date and the `bill_prefix` namespace; when a number the
/// ledger chose turns out to be another payment's, it takes a new one by
/// itself and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect2_a_tool_chosen_bill_in_conflict_is_renumbered_by_itself() {
    let handle = sandbox(FaultConfig::none(), 22).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(
        &dir.path().join("j.db"),
        &handle,
        LedgerOptions::default().bill_prefix("A7"),
    )
    .await;
    import(&ledger, "p", Kind::RedPacket, &rows(3)).await;
    let planned = payouts(&ledger, &[PayoutState::Planned]).await;
    for p in &planned {
        assert_eq!(p.bill.len(), 28, "{}", p.bill);
        assert!(
            p.bill[handle.mch_id().len() + 8..].starts_with("A7"),
            "{}",
            p.bill
        );
        assert!(p.generated);
    }
    // Another system of the merchant drew the first payout's number.
    let taken = planned[0].bill.clone();
    pay_directly(
        &client,
        Kind::RedPacket,
        &taken,
        "oSomeoneElse00000000000001",
        321,
    )
    .await;
    let report = run(&ledger, &client, "p", false).await;
    assert_eq!(report.summary.get(PayoutState::Paid).0, 3, "{report:?}");
    assert_eq!(report.renumbered.len(), 1, "{report:?}");
    assert_eq!(report.renumbered[0].1, taken);
    let now = payout(&ledger, planned[0].id).await;
    assert_ne!(now.bill, taken);
    let payee: Vec<_> = handle
        .ledger()
        .payments
        .into_iter()
        .filter(|p| p.openid == planned[0].openid)
        .collect();
    assert_eq!(payee.len(), 1, "paid once, under the new number");
    assert_eq!(payee[0].bill, now.bill);
}

/// Defect 3: a run with a wrong API key stops after a few SIGN_ERRORs
/// instead of burning the batch; a rerun with the right key signs the same
/// parameters again under the same bill numbers and pays everyone once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect3_rows_refused_for_a_wrong_key_are_resigned_and_paid() {
    let handle = sandbox(FaultConfig::none(), 23).await;
    let wrong = client_with(
        &handle,
        "0123456789abcdef0123456789abcdef",
        None,
        Duration::from_secs(30),
    );
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = rows(30);
    import(&ledger, "p", Kind::RedPacket, &rows).await;
    let report = run_with(&ledger, &wrong, "p", false, 1).await;
    let halted = report.halted.clone().expect("the run stops by itself");
    assert!(halted.contains("SIGN_ERROR"), "{halted}");
    assert_eq!(
        report.summary.get(PayoutState::NotPaid).0,
        u64::from(HALT_AFTER)
    );
    assert_eq!(
        report.summary.get(PayoutState::Planned).0,
        30 - u64::from(HALT_AFTER)
    );
    let refused = payouts(&ledger, &[PayoutState::NotPaid]).await;
    assert!(
        refused
            .iter()
            .all(|r| r.next_step == Some(NextStep::RetrySameBill { resign: true }))
    );
    assert!(handle.ledger().payments.is_empty());

    let right = client(&handle, Duration::from_secs(5));
    let again = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &right).await;
    assert_eq!(again.summary.get(PayoutState::Paid).0, 30, "{again:?}");
    for p in &refused {
        assert_eq!(payout(&ledger, p.id).await.bill, p.bill, "same bill number");
    }
    assert_ledger_matches(&handle, &ledger).await;
}

/// Defect 3(b): without the WeCom secret nothing can be signed; the
/// payouts were never sent, so they stay planned (no query, no "unknown")
/// and a later run with the secret simply sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect3_rows_never_sent_for_a_missing_secret_are_sent_later() {
    let handle = sandbox(FaultConfig::none(), 24).await;
    let no_secret = client_with(
        &handle,
        handle.api_key().expose(),
        None,
        Duration::from_secs(30),
    );
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = rows(12);
    import(&ledger, "p", Kind::PayEmployee, &rows).await;
    let report = run(&ledger, &no_secret, "p", false).await;
    let halted = report
        .halted
        .clone()
        .expect("stops on the configuration error");
    assert!(halted.contains("configuration"), "{halted}");
    assert_eq!(report.summary.get(PayoutState::Planned).0, 12, "{report:?}");
    assert_eq!(report.summary.get(PayoutState::Unknown).0, 0);
    assert!(handle.ledger().payments.is_empty());
    let with_secret = client(&handle, Duration::from_secs(5));
    let again = import_and_run(&ledger, "p", Kind::PayEmployee, &rows, &with_secret).await;
    assert_eq!(again.summary.get(PayoutState::Paid).0, 12, "{again:?}");
    assert_ledger_matches(&handle, &ledger).await;
}

/// Defect 10: a payment to an employee that a query confirmed FAILED is a
/// definite failure with a new bill allowed, and a reissue pays it again
/// (it used to be skipped silently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect10_a_pay_employee_row_confirmed_failed_is_reissued() {
    let handle = sandbox(FaultConfig::none(), 25).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    let rows = [row(FAILING, 100), row("oFine0000000000000000000001", 200)];
    let report = import_and_run(&ledger, "p", Kind::PayEmployee, &rows, &client).await;
    assert_eq!(report.summary.get(PayoutState::NotPaid).0, 1, "{report:?}");
    let failed = payouts(&ledger, &[PayoutState::NotPaid]).await.remove(0);
    assert_eq!(failed.next_step, Some(NextStep::NewBill));
    let again = run(&ledger, &client, "p", true).await;
    assert_eq!(again.reissued, 1, "{again:?}");
    assert_ne!(payout(&ledger, failed.id).await.bill, failed.bill);
}

/// Issue 13: a batch stops by itself on a merchant-wide refusal
/// (NOTENOUGH); the rerun after a top-up sends every remaining payout
/// exactly once and queries nothing. A payout refused with NOTENOUGH by
/// its only attempt was definitely not paid, so it is sent again under its
/// bill without a query; the payouts never sent are simply sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_a_top_up_sends_each_remaining_row_once_and_queries_nothing() {
    let handle = sandbox(FaultConfig::none(), 26).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, LedgerOptions::default()).await;
    // 300 red packets of 1.00 yuan; the balance pays 100 of them.
    let rows: Vec<Row> = (0..300)
        .map(|i| row(&format!("oTopUp{i:06}abcdefghijklmnop"), 100))
        .collect();
    handle.set_balance_fen(100 * 100);
    import(&ledger, "p", Kind::RedPacket, &rows).await;
    let before = handle.requests();
    let first = run_with(&ledger, &client, "p", false, 1).await;
    let halted = first.halted.clone().expect("the run stops by itself");
    assert!(halted.contains("NOTENOUGH"), "{halted}");
    let halt_after = u64::from(HALT_AFTER);
    assert_eq!(first.summary.get(PayoutState::Paid).0, 100, "{first:?}");
    assert_eq!(first.summary.get(PayoutState::NotPaid).0, halt_after);
    assert_eq!(first.summary.get(PayoutState::Planned).0, 200 - halt_after);
    assert_eq!(
        requests_since(&handle, &before),
        [("sendredpack".to_owned(), 100 + halt_after)].into(),
        "one request per payout sent, no query"
    );
    let refused = payouts(&ledger, &[PayoutState::NotPaid]).await;
    assert!(
        refused
            .iter()
            .all(|r| matches!(r.next_step, Some(NextStep::RetrySameBill { .. }))),
        "{refused:?}"
    );

    // Top up and rerun the same batch.
    handle.set_balance_fen(10_000_000);
    let before = handle.requests();
    let again = import_and_run(&ledger, "p", Kind::RedPacket, &rows, &client).await;
    assert_eq!(again.summary.get(PayoutState::Paid).0, 300, "{again:?}");
    assert_eq!(
        requests_since(&handle, &before),
        [("sendredpack".to_owned(), 200)].into(),
        "exactly one send per remaining payout and no query"
    );
    for payout_refused in &refused {
        let attempts = ledger.store().attempts(payout_refused.id).await.unwrap();
        let actions: Vec<AttemptAction> = attempts.iter().map(|a| a.action).collect();
        assert_eq!(
            actions,
            [AttemptAction::Send, AttemptAction::Resend],
            "{attempts:?}"
        );
        assert_eq!(
            payout(&ledger, payout_refused.id).await.bill,
            payout_refused.bill,
            "same bill"
        );
    }
    for p in payouts(&ledger, &[]).await {
        let attempts = ledger.store().attempts(p.id).await.unwrap();
        assert!(
            attempts.iter().all(|a| a.action != AttemptAction::Resume),
            "{attempts:?}"
        );
    }
    assert_ledger_matches(&handle, &ledger).await;
}

/// A pass runs as a task of the runtime, but it is still the caller's:
/// dropping its future (here by a timeout) stops it where it awaits, and
/// nothing more is sent; once its claims lapse the next pass resolves what
/// was in flight and pays the rest, each payout once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_pass_stops_it_and_the_next_pass_pays_the_rest_once() {
    let handle = sandbox(FaultConfig::none(), 41).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    // Leases of a second: the claims the dropped pass held lapse quickly.
    let options = LedgerOptions::default().lease_ms(1_000);
    let ledger = open_ledger(&dir.path().join("j.db"), &handle, options).await;
    let rows = rows(400);
    import(&ledger, "p", Kind::RedPacket, &rows).await;
    let worker = ledger
        .worker(client.clone())
        .concurrency(1)
        .batch(Some("p".to_owned()));
    let cut = tokio::time::timeout(Duration::from_millis(300), worker.run_pass()).await;
    assert!(cut.is_err(), "the pass was cut short: {cut:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_drop = requests_received(&handle);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        requests_received(&handle),
        after_drop,
        "nothing is sent once the pass's future is gone"
    );
    assert!(after_drop > 0 && after_drop < 400, "{after_drop}");
    // The dropped pass's claims (queued and in flight) lapse.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let report = run(&ledger, &client, "p", false).await;
    assert_eq!(report.summary.get(PayoutState::Paid).0, 400, "{report:?}");
    assert_eq!(handle.ledger().payments.len(), 400);
    assert_ledger_matches(&handle, &ledger).await;
}
