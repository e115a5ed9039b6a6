//! Batch runs of the CLI against the in-process sandbox: invalid input,
//! skip-invalid, the fix workflow of an edited file, ledgers and batches
//! refused, reconcile and reports. (The engine's own behaviour — exactly
//! once, resume after a crash, not-paid and reissue, the stop flag, the
//! money-safety defects — is tested through the library in
//! hongbao-ledger's `tests/it/engine.rs`.)
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common;

use common::*;
use hongbao_cli::batch::{self, NoProgress, PlanResult};
use hongbao_cli::payout::Kind;
use hongbao_cli::report;
use hongbao_ledger::{LedgerError, LedgerOptions, PayoutState as RowState};
use hongbao_sandbox::{FaultConfig, FaultKind};
use std::time::Duration;

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
