//! Batch runs against the in-process sandbox: exactly once, resume after a
//! simulated crash, invalid input, skip-invalid, not-paid, reissue,
//! reconcile and reports.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use hongbao_cli::batch::{self, NoProgress, PlanResult, RunOptions};
use hongbao_cli::journal::{AttemptAction, Journal, JournalError, RowState, SqliteJournal};
use hongbao_cli::payout::{Kind, PayoutRequest};
use hongbao_cli::report;
use hongbao_sandbox::{FaultConfig, FaultKind};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn no_stop() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_every_row_once_and_rerun_sends_nothing() {
    let handle = sandbox(FaultConfig::none(), 1, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(40));
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let report = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    assert_eq!(report.sent, 40);
    assert_eq!(report.summary.get(RowState::Paid).0, 40);
    assert_ledger_matches(&handle, &journal);
    let requests_before = requests_received(&handle);
    let again = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let planned = plan(&mut journal, &csv, Kind::Transfer, &handle).unwrap();
    assert!(matches!(planned, PlanResult::Planned { rows: 6, .. }));

    // Simulate the first run: every row is signed and marked `sending`
    // durably; rows 1-3 reach WeChat (paid there), then the process dies
    // before any reply is recorded. Rows 4-6 died before leaving.
    let rows = journal.rows_in_states(&[RowState::Planned], 0, 10).unwrap();
    let mut stored = Vec::new();
    for row in &rows {
        let request: PayoutRequest = serde_json::from_str(&row.request_json).unwrap();
        let prepared = batch::prepare(&client, &request).unwrap();
        stored.push((row.id, serde_json::to_vec(&prepared).unwrap(), prepared));
    }
    let marks: Vec<(i64, &[u8])> = stored
        .iter()
        .map(|(id, bytes, _)| (*id, bytes.as_slice()))
        .collect();
    journal.mark_sending(&marks).unwrap();
    for (_, _, prepared) in &stored[..3] {
        assert!(client.execute(prepared).await.unwrap().is_paid());
    }
    drop(journal);

    // The rerun resolves by query first, resends only the bodies WeChat has
    // not seen (the identical stored bytes), and pays nobody twice.
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let report = plan_and_run(&mut journal, &csv, Kind::Transfer, &handle, &client).await;
    assert_eq!((report.resumed, report.sent), (6, 0));
    assert_eq!(report.summary.get(RowState::Paid).0, 6);
    for (id, _, prepared) in &stored {
        // One client call per row: `resume` queries first and resends the
        // same bill only when the query does not settle it (the client's
        // tests show the order; the ledger below shows nobody paid twice).
        let attempts = journal.attempts(*id).unwrap();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert_eq!(attempts[0].action, AttemptAction::Resume);
        let row = journal.row(*id).unwrap();
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
    assert_ledger_matches(&handle, &journal);
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    plan(&mut journal, &csv, Kind::Transfer, &handle).unwrap();
    let rows = journal.rows_in_states(&[RowState::Planned], 0, 10).unwrap();
    let mut stored = Vec::new();
    for row in &rows {
        let request: PayoutRequest = serde_json::from_str(&row.request_json).unwrap();
        let prepared = batch::prepare(&client, &request).unwrap();
        stored.push((row.id, serde_json::to_vec(&prepared).unwrap()));
    }
    let marks: Vec<(i64, &[u8])> = stored.iter().map(|(id, b)| (*id, b.as_slice())).collect();
    journal.mark_sending(&marks).unwrap();
    drop(journal);

    handle.set_balance_fen(0);
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let report = plan_and_run(&mut journal, &csv, Kind::Transfer, &handle, &client).await;
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
    let report = plan_and_run(&mut journal, &csv, Kind::Transfer, &handle, &client).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 2, "{report:?}");
    assert_ledger_matches(&handle, &journal);
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let mut report = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    assert_ledger_matches(&handle, &journal);
    let mut reruns = 0;
    while report.summary.get(RowState::Paid).0 < 60 {
        reruns += 1;
        assert!(
            reruns <= 6,
            "not settled after {reruns} reruns: {:?}",
            report.summary
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        report = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
        assert_ledger_matches(&handle, &journal);
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let result = plan(&mut journal, &csv, Kind::RedPacket, &handle).unwrap();
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
    assert_eq!(journal.header().unwrap(), None, "nothing planned");
    assert_eq!(journal.summary().unwrap().rows(), 0);
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let PlanResult::Planned { rows, skipped } =
        batch::plan(&mut journal, &csv, &settings(Kind::Transfer, &handle, true)).unwrap()
    else {
        panic!("planned");
    };
    assert_eq!((rows, skipped.len(), skipped[0].line), (2, 1, 3));
    let report = batch::run(
        &mut journal,
        &client,
        &options(Kind::Transfer, &handle),
        no_stop(),
        &mut NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(report.summary.get(RowState::Paid), (2, 300));
    assert_eq!(handle.ledger().payments.len(), 2);
    assert_ledger_matches(&handle, &journal);
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let report = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    assert_eq!(report.summary.get(RowState::NotPaid), (1, 100));
    assert_eq!(report.summary.not_paid_by_code.len(), 1);
    let failed = journal
        .rows_in_states(&[RowState::NotPaid], 0, 1)
        .unwrap()
        .remove(0);
    // A rerun leaves the definite failure alone.
    let again = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    assert_eq!((again.sent, again.resumed), (0, 0));
    assert_eq!(journal.row(failed.id).unwrap().bill, failed.bill);
    // Only --reissue-not-paid issues a new bill number (a new payment).
    let options = RunOptions {
        reissue_not_paid: true,
        ..options(Kind::RedPacket, &handle)
    };
    let reissued = batch::run(&mut journal, &client, &options, no_stop(), &mut NoProgress)
        .await
        .unwrap();
    assert_eq!((reissued.reissued, reissued.sent), (1, 1));
    let row = journal.row(failed.id).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_of_another_file_or_merchant_is_refused() {
    let handle = sandbox(FaultConfig::none(), 7, None).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "a.csv", &csv_rows(2));
    let other = write(dir.path(), "b.csv", &csv_rows(3));
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    let err = plan(&mut journal, &other, Kind::RedPacket, &handle).unwrap_err();
    assert!(err.to_string().contains("CSV file"), "{err}");
    let mut foreign = settings(Kind::RedPacket, &handle, false);
    foreign.mch_id = "1900000109".into();
    let err = batch::plan(&mut journal, &csv, &foreign).unwrap_err();
    assert!(
        matches!(
            err,
            batch::BatchError::Journal(JournalError::Mismatch {
                field: "merchant id",
                ..
            })
        ),
        "{err}"
    );
    let err = plan(&mut journal, &csv, Kind::Transfer, &handle).unwrap_err();
    assert!(err.to_string().contains("kind"), "{err}");
    assert_eq!(handle.ledger().payments.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_settles_unknown_rows_and_reports() {
    let mut faults = FaultConfig::none();
    faults.set(FaultKind::ProcessingAfterCommit, 1.0);
    let handle = sandbox_with(faults, 8, None, 60).await;
    let client = client(&handle, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(5));
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    let report = plan_and_run(&mut journal, &csv, Kind::Transfer, &handle, &client).await;
    let unsettled = report.summary.get(RowState::Unknown).0;
    assert!(
        unsettled > 0,
        "processing replies leave rows unknown: {:?}",
        report.summary
    );
    handle.set_faults(FaultConfig::none()).unwrap();
    handle.advance_clock(120);
    let requests_before = requests_received(&handle);
    let found = batch::reconcile(&mut journal, &client, 4, &mut NoProgress)
        .await
        .unwrap();
    assert_eq!(found.queried, 5);
    assert!(found.disagreements.is_empty(), "{:?}", found.disagreements);
    assert_eq!(found.summary.get(RowState::Paid).0, 5);
    let requests_after = requests_received(&handle);
    assert_eq!(requests_before, requests_after, "reconcile only queries");
    assert_ledger_matches(&handle, &journal);

    let mut csv_out = Vec::new();
    report::write_csv(&journal, &mut csv_out).unwrap();
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
    report::write_json(&journal, &mut json_out).unwrap();
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
    let mut journal = SqliteJournal::open(dir.path().join("j.db")).unwrap();
    plan(&mut journal, &csv, Kind::RedPacket, &handle).unwrap();
    let stop = Arc::new(AtomicBool::new(true));
    let report = batch::run(
        &mut journal,
        &client,
        &options(Kind::RedPacket, &handle),
        stop,
        &mut NoProgress,
    )
    .await
    .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.summary.get(RowState::Planned).0, 30);
    assert!(handle.ledger().payments.is_empty());
    let report = plan_and_run(&mut journal, &csv, Kind::RedPacket, &handle, &client).await;
    assert_eq!(report.summary.get(RowState::Paid).0, 30);
    assert_ledger_matches(&handle, &journal);
}
