//! Batch runs against the in-process sandbox: exactly once, resume after a
//! simulated crash, invalid input, skip-invalid, not-paid, reissue,
//! reconcile and reports.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common;

use common::*;
use hongbao_cli::batch::{self, NoProgress, PlanResult, RunOptions};
use hongbao_cli::payout::Kind;
use hongbao_cli::report;
use hongbao_ledger::{AttemptAction, LedgerError, LedgerOptions, PayoutState as RowState};
use hongbao_sandbox::{FaultConfig, FaultKind};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_every_row_once_and_rerun_sends_nothing() {
    let handle = sandbox(FaultConfig::none(), 1, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(40));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!(report.sent, 40);
    assert_eq!(report.summary.get(RowState::Paid).0, 40);
    assert_ledger_matches(&handle, &journal).await;
    let requests_before = requests_received(&handle);
    let again = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!((again.sent, again.resumed), (0, 0));
    let requests_after = requests_received(&handle);
    assert_eq!(
        requests_before, requests_after,
        "a rerun of a finished batch sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_sending_and_reply_resolves_by_query_first() {
    let handle = sandbox(FaultConfig::none(), 2, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(6));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let planned = plan(&journal, &csv, Kind::Transfer).await.unwrap();
    assert!(matches!(planned, PlanResult::Planned { ref plan, .. } if plan.new.len() == 6));

    // Simulate the first run: every row is signed and marked `sending`
    // durably; rows 1-3 reach WeChat (paid there), then the process dies
    // before any reply is recorded. Rows 4-6 died before leaving.
    let stored = crash_after_marking(&journal, &client).await;
    for (_, _, prepared) in &stored[..3] {
        assert!(client.execute(prepared).await.unwrap().is_paid());
    }
    drop(journal);

    // The rerun resolves by query first, resends only the bodies WeChat has
    // not seen (the identical stored bytes), and pays nobody twice.
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::Transfer, &client).await;
    assert_eq!((report.resumed, report.sent), (6, 0));
    assert_eq!(report.summary.get(RowState::Paid).0, 6);
    for (id, _, prepared) in &stored {
        // One client call per row: `resume` queries first and resends the
        // same bill only when the query does not settle it (the client's
        // tests show the order; the ledger below shows nobody paid twice).
        let attempts = journal.store().attempts(*id).await.unwrap();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert_eq!(attempts[0].action, AttemptAction::Resume);
        let row = payout(&journal, *id).await;
        let kept: hongbao::Prepared = serde_json::from_slice(row.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            kept.body(),
            prepared.body(),
            "the stored body never changes"
        );
    }
    let ledger = handle.ledger();
    assert_eq!(ledger.payments.len(), 6);
    assert!(ledger.payments.iter().all(|p| p.status != "FAILED"));
    assert_ledger_matches(&handle, &journal).await;
}

/// A row left `sending` by a crash may have reached WeChat. When the resend
/// of the rerun is refused for this attempt only (here: no balance), the row
/// stays unknown, never `not_paid`, and a later rerun settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_resend_of_a_crashed_row_stays_unknown() {
    let handle = sandbox(FaultConfig::none(), 9, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    plan(&journal, &csv, Kind::Transfer).await.unwrap();
    crash_after_marking(&journal, &client).await;
    drop(journal);

    handle.set_balance_fen(0);
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::Transfer, &client).await;
    assert_eq!(report.summary.get(RowState::NotPaid).0, 0, "{report:?}");
    assert_eq!(report.summary.get(RowState::Unknown).0, 2, "{report:?}");
    assert!(
        handle
            .ledger()
            .payments
            .iter()
            .all(|p| p.failure_code.is_none())
    );

    handle.set_balance_fen(10_000_000);
    let report = plan_and_run(&journal, &csv, Kind::Transfer, &client).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 2, "{report:?}");
    assert_ledger_matches(&handle, &journal).await;
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
    let handle = sandbox(faults, 3, None).await;
    let client = client(&handle, Duration::from_millis(600));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(60));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let mut report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_ledger_matches(&handle, &journal).await;
    let mut reruns = 0;
    while report.summary.get(RowState::Paid).0 < 60 {
        reruns += 1;
        assert!(
            reruns <= 6,
            "not settled after {reruns} reruns: {:?}",
            report.summary
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
        assert_ledger_matches(&handle, &journal).await;
    }
    assert_eq!(handle.ledger().payments.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_reported_and_nothing_is_sent() {
    let handle = sandbox(FaultConfig::none(), 4, None).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "bad.csv",
        "openid,amount,bill,wishing\n\
         oGood000000000000000000001,1.00,,\n\
         oGood000000000000000000002,1.234,,\n\
         bad openid!,2.00,,\n\
         oGood000000000000000000003,abc,,\n\
         oGood000000000000000000004,3.00,B1,\n\
         oGood000000000000000000005,3.00,B1,\n\
         oGood000000000000000000006,3.00,,x\"quoted\n\
         oGood000000000000000000007,3.00,,\n",
    );
    let long = "很".repeat(200);
    std::fs::write(
        &csv,
        format!(
            "{}oGood000000000000000000008,1.00,,{long}\n",
            std::fs::read_to_string(&csv).unwrap()
        ),
    )
    .unwrap();
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let result = plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let PlanResult::Invalid(issues) = result else {
        panic!("expected invalid rows, got {result:?}");
    };
    let seen: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.field.as_str())).collect();
    for expected in [
        (3, "amount"),
        (4, "openid"),
        (5, "amount"),
        (7, "bill"),
        (10, "wishing"),
    ] {
        assert!(
            seen.contains(&expected),
            "missing {expected:?} in {issues:#?}"
        );
    }
    assert!(
        issues
            .iter()
            .any(|i| i.line == 7 && i.rule.contains("line 6")),
        "{issues:#?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.line == 10 && i.rule.contains("128")),
        "{issues:#?}"
    );
    assert!(
        journal.store().batches().await.unwrap().is_empty(),
        "nothing planned"
    );
    assert_eq!(journal.summary(None).await.unwrap().payouts(), 0);
    assert!(handle.ledger().payments.is_empty(), "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_pays_only_the_valid_rows() {
    let handle = sandbox(FaultConfig::none(), 5, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "p.csv",
        "openid,amount\noValid00000000000000000001,1.00\noValid00000000000000000002,0.001\noValid00000000000000000003,2.00\n",
    );
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let PlanResult::Planned { plan, skipped, .. } =
        batch::plan(&journal, &csv, &settings(Kind::Transfer, &csv, true))
            .await
            .unwrap()
    else {
        panic!("planned");
    };
    assert_eq!((plan.new.len(), skipped.len(), skipped[0].line), (2, 1, 3));
    let report = run(&journal, &client, &options(&csv)).await;
    assert_eq!(report.summary.get(RowState::Paid), (2, 300));
    assert_eq!(handle.ledger().payments.len(), 2);
    assert_ledger_matches(&handle, &journal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_paid_is_final_until_reissued_with_a_new_bill() {
    let handle = sandbox(FaultConfig::none(), 6, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "p.csv",
        "openid,amount\noFailing000000000000000001,1.00\noFine0000000000000000000001,2.00\n",
    );
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!(report.summary.get(RowState::NotPaid), (1, 100));
    assert_eq!(report.summary.not_paid_by_code.len(), 1);
    let failed = payouts(&journal, &[RowState::NotPaid]).await.remove(0);
    // A rerun leaves the definite failure alone.
    let again = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!((again.sent, again.resumed), (0, 0));
    assert_eq!(payout(&journal, failed.id).await.bill, failed.bill);
    // Only --reissue-not-paid issues a new bill number (a new payment).
    let options = RunOptions {
        reissue_not_paid: true,
        ..options(&csv)
    };
    let reissued = run(&journal, &client, &options).await;
    assert_eq!((reissued.reissued, reissued.sent), (1, 1));
    let row = payout(&journal, failed.id).await;
    assert_ne!(row.bill, failed.bill);
    assert_eq!(
        row.state,
        RowState::NotPaid,
        "the sandbox keeps failing this openid"
    );
    let bills: Vec<String> = handle
        .ledger()
        .payments
        .iter()
        .map(|p| p.bill.clone())
        .collect();
    assert!(bills.contains(&failed.bill) && bills.contains(&row.bill));
}

/// One ledger holds many batches: another file is another batch. A ledger
/// of another merchant is refused, and so is a batch of another kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_of_another_merchant_or_a_batch_of_another_kind_is_refused() {
    let handle = sandbox(FaultConfig::none(), 7, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "a.csv", &csv_rows(2));
    let other = write(
        dir.path(),
        "b.csv",
        "openid,amount\noOther0000000000000000001,1.00\n",
    );
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    let report = plan_and_run(&journal, &other, Kind::RedPacket, &client).await;
    assert_eq!(
        report.summary.get(RowState::Paid),
        (1, 100),
        "batch b alone"
    );
    assert_eq!(
        journal.summary(None).await.unwrap().get(RowState::Paid).0,
        3
    );
    let err = plan(&journal, &csv, Kind::Transfer).await.unwrap_err();
    assert!(err.to_string().contains("pays red-packet"), "{err}");
    drop(journal);
    let mut foreign = binding(&handle);
    foreign.mch_id = "1900000109".into();
    let err = hongbao_ledger::Ledger::open(
        &dir.path().join("j.db").display().to_string(),
        foreign,
        LedgerOptions::default(),
    )
    .await
    .unwrap_err();
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
    assert_eq!(handle.ledger().payments.len(), 3);
}

/// The fix workflow: a file with one invalid row is run with
/// `--skip-invalid`, the row is fixed and the same command rerun: each
/// payee is paid exactly once. The same file under another batch name
/// warns about payees paid the same amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_rerun_in_its_batch_pays_each_payee_once() {
    let handle = sandbox(FaultConfig::none(), 11, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let rows = |third: &str| {
        format!(
            "openid,amount\noEdit00000000000000000001,1.00\noEdit00000000000000000002,{third}\noEdit00000000000000000003,3.00\n"
        )
    };
    let csv = write(dir.path(), "june.csv", &rows("0.001"));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let planned = batch::plan(&journal, &csv, &settings(Kind::RedPacket, &csv, true))
        .await
        .unwrap();
    assert!(matches!(planned, PlanResult::Planned { ref skipped, .. } if skipped.len() == 1));
    let report = run(&journal, &client, &options(&csv)).await;
    assert_eq!(report.summary.get(RowState::Paid), (2, 400));
    // Fixed, same command.
    write(dir.path(), "june.csv", &rows("2.00"));
    let PlanResult::Planned { plan, skipped, .. } =
        batch::plan(&journal, &csv, &settings(Kind::RedPacket, &csv, true))
            .await
            .unwrap()
    else {
        panic!("planned");
    };
    assert!(skipped.is_empty());
    assert_eq!((plan.new.clone(), plan.unchanged.len()), (vec![3], 2));
    let report = run(&journal, &client, &options(&csv)).await;
    assert_eq!(report.sent, 1);
    assert_eq!(report.summary.get(RowState::Paid), (3, 600));
    assert_eq!(handle.ledger().payments.len(), 3);
    assert_ledger_matches(&handle, &journal).await;
    // A paid row edited to another amount is refused, nothing written.
    write(dir.path(), "june.csv", &rows("9.00"));
    let refused = common::plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let PlanResult::Refused(plan) = refused else {
        panic!("refused: {refused:?}");
    };
    assert_eq!(plan.refused.len(), 1);
    assert_eq!(plan.refused[0].line, 3);
    assert!(
        plan.refused[0].old.contains("total_amount=200"),
        "{:?}",
        plan.refused
    );
    assert!(
        plan.refused[0].new.contains("total_amount=900"),
        "{:?}",
        plan.refused
    );
    // The same file under another batch name: the plan warns.
    write(dir.path(), "june.csv", &rows("2.00"));
    let mut other = settings(Kind::RedPacket, &csv, false);
    other.batch = "june-again".into();
    other.dry_run = true;
    let PlanResult::Planned { plan, .. } = batch::plan(&journal, &csv, &other).await.unwrap()
    else {
        panic!("planned");
    };
    assert_eq!(plan.similar.len(), 3, "{plan:?}");
    assert_eq!(plan.similar[0].other_batch.as_deref(), Some("june"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_settles_unknown_rows_and_reports() {
    let mut faults = FaultConfig::none();
    faults.set(FaultKind::ProcessingAfterCommit, 1.0);
    let handle = sandbox_with(faults, 8, None, 60).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(5));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::Transfer, &client).await;
    let unsettled = report.summary.get(RowState::Unknown).0;
    assert!(
        unsettled > 0,
        "processing replies leave rows unknown: {:?}",
        report.summary
    );
    handle.set_faults(FaultConfig::none()).unwrap();
    handle.advance_clock(120);
    let requests_before = requests_received(&handle);
    let found = batch::reconcile(&journal, &client, None, 4, false, &mut NoProgress)
        .await
        .unwrap();
    assert_eq!(found.queried, 5);
    assert!(found.disagreements.is_empty(), "{:?}", found.disagreements);
    assert_eq!(found.summary.get(RowState::Paid).0, 5);
    let requests_after = requests_received(&handle);
    assert_eq!(requests_before, requests_after, "reconcile only queries");
    assert_ledger_matches(&handle, &journal).await;

    let mut csv_out = Vec::new();
    report::write_csv(journal.store().as_ref(), None, &mut csv_out)
        .await
        .unwrap();
    let text = String::from_utf8(csv_out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[0].starts_with("line,openid,amount,bill,state,wechat_id"));
    assert!(
        lines[1].starts_with("2,oRow000000abcdefghijklmnop,1.00,"),
        "{}",
        lines[1]
    );
    assert!(lines[1..].iter().all(|l| l.contains(",paid,")));

    let mut json_out = Vec::new();
    report::write_json(journal.store().as_ref(), None, &mut json_out)
        .await
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json_out).unwrap();
    assert_eq!(value["summary"]["states"]["paid"]["rows"], 5);
    assert_eq!(value["rows"].as_array().unwrap().len(), 5);
    assert_eq!(value["rows"][0]["state"], "paid");
    let ledger = handle.ledger();
    let first_bill = value["rows"][0]["bill"].as_str().unwrap();
    let payment = ledger
        .payments
        .iter()
        .find(|p| p.bill == first_bill)
        .unwrap();
    let id = value["rows"][0]["wechat_id"].as_str().unwrap();
    assert!(id == payment.wechat_id || id == payment.detail_id, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_flag_finishes_in_flight_and_leaves_the_rest_planned() {
    let handle = sandbox(FaultConfig::none(), 9, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(30));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let stop = Arc::new(AtomicBool::new(true));
    let report = batch::run(&journal, &client, &options(&csv), stop, &mut NoProgress)
        .await
        .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.summary.get(RowState::Planned).0, 30);
    assert!(handle.ledger().payments.is_empty());
    let report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 30);
    assert_ledger_matches(&handle, &journal).await;
}

// ---------------------------------------------------------------------------
// Money safety at the edges: one test per defect of the issue.
// ---------------------------------------------------------------------------

/// A client of the sandbox with another API key and WeCom secret.
fn client_with(
    handle: &hongbao_sandbox::SandboxHandle,
    api_key: &str,
    workwx: Option<&str>,
) -> hongbao::Client {
    let mut builder = hongbao::Client::builder()
        .mch_id(handle.mch_id())
        .appid(handle.appid())
        .api_key(hongbao::ApiKey::new(api_key).unwrap())
        .identity(
            hongbao::ClientIdentity::from_pem(
                handle.client_cert_pem().as_bytes(),
                handle.client_key_pem().as_bytes(),
            )
            .unwrap(),
        )
        .extra_ca_pem(handle.ca_cert_pem().as_bytes().to_vec())
        .base_url(handle.url())
        .retry(fast_retry())
        .rate_limits(hongbao::RateLimits::unlimited());
    if let Some(secret) = workwx {
        builder = builder.workwx_secret(hongbao::WorkwxSecret::new(secret).unwrap());
    }
    builder.build().unwrap()
}

/// Pays `openid` `fen` under `bill` directly (another system of the merchant).
async fn pay_directly(client: &hongbao::Client, kind: Kind, bill: &str, openid: &str, fen: &str) {
    let input = hongbao_cli::payout::PayoutInput {
        line: 0,
        openid,
        amount: fen,
        bill,
        name: None,
        texts: &texts(),
        defaults: &texts(),
        client_ip: "10.0.0.1",
    };
    let request = hongbao_cli::payout::build(kind, &input).unwrap();
    let prepared = batch::prepare(client, &request).unwrap();
    assert!(client.execute(&prepared).await.unwrap().is_paid());
}

/// Defect 1: a batch whose `bill` column reuses a number another system
/// already paid (another payee) reported the row paid. The query is checked
/// against the row's payee and amount: the row is a bill conflict, never
/// paid, and `--reissue-not-paid` pays it under a new number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect1_a_reused_bill_of_another_payee_is_a_conflict_not_paid() {
    let handle = sandbox(FaultConfig::none(), 21, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let bill = format!("{}20240210ALICE00001", handle.mch_id());
    pay_directly(
        &client,
        Kind::RedPacket,
        &bill,
        "oAlice0000000000000000001",
        "5.00",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "p.csv",
        &format!("openid,amount,bill\noBob00000000000000000000001,7.00,{bill}\n"),
    );
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 0, "{report:?}");
    assert_eq!(report.summary.get(RowState::Conflict).0, 1, "{report:?}");
    assert!(report.renumbered.is_empty(), "the file chose that number");
    let row = payouts(&journal, &[RowState::Conflict]).await.remove(0);
    assert!(
        row.message
            .as_deref()
            .unwrap_or_default()
            .contains("belongs to another payment"),
        "{:?}",
        row.message
    );
    // Alice's payment is another system's: nothing of it is this row's.
    assert!(
        handle
            .ledger()
            .payments
            .iter()
            .all(|p| p.openid != "oBob00000000000000000000001")
    );
    let options = RunOptions {
        reissue_not_paid: true,
        ..options(&csv)
    };
    let again = run(&journal, &client, &options).await;
    assert_eq!(again.summary.get(RowState::Paid).0, 1, "{again:?}");
    let bob: Vec<_> = handle
        .ledger()
        .payments
        .into_iter()
        .filter(|p| p.openid == "oBob00000000000000000000001")
        .collect();
    assert_eq!(bob.len(), 1);
    assert_ne!(bob[0].bill, bill);
    assert_eq!(bob[0].amount_fen, 700);
}

/// Defect 2: generated bill numbers fill the field with random characters
/// after the date and the `bill_prefix` namespace; when a number the tool
/// chose turns out to be another payment's, it takes a new one by itself
/// and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect2_a_tool_chosen_bill_in_conflict_is_renumbered_by_itself() {
    let handle = sandbox(FaultConfig::none(), 22, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = open_ledger_with(
        &dir.path().join("j.db"),
        &handle,
        LedgerOptions::default().bill_prefix("A7"),
    )
    .await;
    plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let rows = payouts(&journal, &[RowState::Planned]).await;
    for row in &rows {
        assert_eq!(row.bill.len(), 28, "{}", row.bill);
        assert!(
            row.bill[handle.mch_id().len() + 8..].starts_with("A7"),
            "{}",
            row.bill
        );
        assert!(row.generated);
    }
    // Another system of the merchant drew the first row's number.
    let taken = rows[0].bill.clone();
    pay_directly(
        &client,
        Kind::RedPacket,
        &taken,
        "oSomeoneElse00000000000001",
        "3.21",
    )
    .await;
    let report = run(&journal, &client, &options(&csv)).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 3, "{report:?}");
    assert_eq!(report.renumbered.len(), 1, "{report:?}");
    assert_eq!(report.renumbered[0].1, taken);
    let row = payout(&journal, rows[0].id).await;
    assert_ne!(row.bill, taken);
    let payee: Vec<_> = handle
        .ledger()
        .payments
        .into_iter()
        .filter(|p| p.openid == rows[0].openid)
        .collect();
    assert_eq!(payee.len(), 1, "paid once, under the new number");
    assert_eq!(payee[0].bill, row.bill);
}

/// Defect 3: a run with a wrong API key stops after a few SIGN_ERRORs
/// instead of burning the file; a rerun with the right key signs the same
/// parameters again under the same bill numbers and pays everyone once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect3_rows_refused_for_a_wrong_key_are_resigned_and_paid() {
    let handle = sandbox(FaultConfig::none(), 23, None).await;
    let wrong = client_with(&handle, "0123456789abcdef0123456789abcdef", None);
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(30));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let mut one_at_a_time = options(&csv);
    one_at_a_time.concurrency = 1;
    let report = run(&journal, &wrong, &one_at_a_time).await;
    let halted = report.halted.clone().expect("the run stops by itself");
    assert!(halted.contains("SIGN_ERROR"), "{halted}");
    assert_eq!(
        report.summary.get(RowState::NotPaid).0,
        u64::from(hongbao_ledger::HALT_AFTER)
    );
    assert_eq!(
        report.summary.get(RowState::Planned).0,
        30 - u64::from(hongbao_ledger::HALT_AFTER)
    );
    let refused = payouts(&journal, &[RowState::NotPaid]).await;
    assert!(
        refused
            .iter()
            .all(|r| r.next_step == Some(hongbao::NextStep::RetrySameBill { resign: true }))
    );
    assert!(handle.ledger().payments.is_empty());

    let right = client(&handle, Duration::from_secs(5));
    let again = plan_and_run(&journal, &csv, Kind::RedPacket, &right).await;
    assert_eq!(again.summary.get(RowState::Paid).0, 30, "{again:?}");
    for row in &refused {
        assert_eq!(
            payout(&journal, row.id).await.bill,
            row.bill,
            "same bill number"
        );
    }
    assert_ledger_matches(&handle, &journal).await;
}

/// Defect 3(b): without the WeCom secret nothing can be signed; the rows
/// were never sent, so they stay planned (no query, no "unknown") and a
/// later run with the secret simply sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect3_rows_never_sent_for_a_missing_secret_are_sent_later() {
    let handle = sandbox(FaultConfig::none(), 24, None).await;
    let no_secret = client_with(&handle, handle.api_key().expose(), None);
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(12));
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    plan(&journal, &csv, Kind::PayEmployee).await.unwrap();
    let report = run(&journal, &no_secret, &options(&csv)).await;
    let halted = report
        .halted
        .clone()
        .expect("stops on the configuration error");
    assert!(halted.contains("configuration"), "{halted}");
    assert_eq!(report.summary.get(RowState::Planned).0, 12, "{report:?}");
    assert_eq!(report.summary.get(RowState::Unknown).0, 0);
    assert!(handle.ledger().payments.is_empty());
    let with_secret = client(&handle, Duration::from_secs(5));
    let again = plan_and_run(&journal, &csv, Kind::PayEmployee, &with_secret).await;
    assert_eq!(again.summary.get(RowState::Paid).0, 12, "{again:?}");
    assert_ledger_matches(&handle, &journal).await;
}

/// Defect 10: a payment to an employee that a query confirmed FAILED is a
/// definite failure with a new bill allowed, and `--reissue-not-paid`
/// reissues it (it used to be skipped silently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect10_a_pay_employee_row_confirmed_failed_is_reissued() {
    let handle = sandbox(FaultConfig::none(), 25, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "p.csv",
        "openid,amount\noFailing000000000000000001,1.00\noFine0000000000000000000001,2.00\n",
    );
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    let report = plan_and_run(&journal, &csv, Kind::PayEmployee, &client).await;
    assert_eq!(report.summary.get(RowState::NotPaid).0, 1, "{report:?}");
    let failed = payouts(&journal, &[RowState::NotPaid]).await.remove(0);
    assert_eq!(failed.next_step, Some(hongbao::NextStep::NewBill));
    let options = RunOptions {
        reissue_not_paid: true,
        ..options(&csv)
    };
    let again = run(&journal, &client, &options).await;
    assert_eq!(again.reissued, 1, "{again:?}");
    assert_ne!(payout(&journal, failed.id).await.bill, failed.bill);
}

/// The requests the sandbox received since `before`, per endpoint.
fn requests_since(
    handle: &hongbao_sandbox::SandboxHandle,
    before: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    handle
        .requests()
        .into_iter()
        .map(|(name, n)| {
            let earlier = before.get(&name).copied().unwrap_or(0);
            (name, n - earlier)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Issue 13: a batch stops by itself on a merchant-wide refusal
/// (NOTENOUGH); the rerun after a top-up sends every remaining row exactly
/// once and queries nothing. A row refused with NOTENOUGH by its only
/// attempt was definitely not paid, so it is sent again under its bill
/// without a query; the rows never sent are simply sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_a_top_up_sends_each_remaining_row_once_and_queries_nothing() {
    let handle = sandbox(FaultConfig::none(), 26, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    // 300 red packets of 1.00 yuan; the balance pays 100 of them.
    let mut text = String::from("openid,amount\n");
    for i in 0..300 {
        text.push_str(&format!("oTopUp{i:06}abcdefghijklmnop,1.00\n"));
    }
    let csv = write(dir.path(), "p.csv", &text);
    let journal = open_ledger(&dir.path().join("j.db"), &handle).await;
    handle.set_balance_fen(100 * 100);
    plan(&journal, &csv, Kind::RedPacket).await.unwrap();
    let mut one_at_a_time = options(&csv);
    one_at_a_time.concurrency = 1;
    let before = handle.requests();
    let first = run(&journal, &client, &one_at_a_time).await;
    let halted = first.halted.clone().expect("the run stops by itself");
    assert!(halted.contains("NOTENOUGH"), "{halted}");
    let halt_after = u64::from(hongbao_ledger::HALT_AFTER);
    assert_eq!(first.summary.get(RowState::Paid).0, 100, "{first:?}");
    assert_eq!(first.summary.get(RowState::NotPaid).0, halt_after);
    assert_eq!(first.summary.get(RowState::Planned).0, 200 - halt_after);
    let sent = requests_since(&handle, &before);
    assert_eq!(
        sent,
        [("sendredpack".to_owned(), 100 + halt_after)].into(),
        "one request per row sent, no query"
    );
    let refused = payouts(&journal, &[RowState::NotPaid]).await;
    assert!(
        refused
            .iter()
            .all(|r| matches!(r.next_step, Some(hongbao::NextStep::RetrySameBill { .. }))),
        "{refused:?}"
    );

    // Top up and rerun the same command.
    handle.set_balance_fen(10_000_000);
    let before = handle.requests();
    let again = plan_and_run(&journal, &csv, Kind::RedPacket, &client).await;
    assert_eq!(again.summary.get(RowState::Paid).0, 300, "{again:?}");
    assert_eq!(
        requests_since(&handle, &before),
        [("sendredpack".to_owned(), 200)].into(),
        "exactly one send per remaining row and no query"
    );
    for row in &refused {
        let attempts = journal.store().attempts(row.id).await.unwrap();
        let actions: Vec<AttemptAction> = attempts.iter().map(|a| a.action).collect();
        assert_eq!(
            actions,
            [AttemptAction::Send, AttemptAction::Resend],
            "{attempts:?}"
        );
        assert_eq!(payout(&journal, row.id).await.bill, row.bill, "same bill");
    }
    for row in payouts(&journal, &[]).await {
        let attempts = journal.store().attempts(row.id).await.unwrap();
        assert!(
            attempts.iter().all(|a| a.action != AttemptAction::Resume),
            "{attempts:?}"
        );
    }
    assert_ledger_matches(&handle, &journal).await;
}
