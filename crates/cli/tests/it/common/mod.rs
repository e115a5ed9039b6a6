//! Shared helpers: an in-process sandbox, a client for it, CSV files, and
//! the ledger-vs-journal check.
#![allow(dead_code, clippy::unwrap_used)]

use hongbao::{Client, ClientIdentity, RateLimits, RetryPolicy, Timeouts};
use hongbao_cli::batch::{self, NoProgress, PlanResult, PlanSettings, RunOptions};
use hongbao_cli::config::Texts;
use hongbao_cli::payout::Kind;
use hongbao_ledger::{
    Binding, Due, Ledger, LedgerOptions, Payout, PayoutFilter, PayoutState, RunReport, ServerId,
};
use hongbao_sandbox::{FaultConfig, Progression, Sandbox, SandboxHandle};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub(crate) async fn sandbox(
    faults: FaultConfig,
    seed: u64,
    cert_dir: Option<&Path>,
) -> SandboxHandle {
    sandbox_with(faults, seed, cert_dir, 1).await
}

pub(crate) async fn sandbox_with(
    faults: FaultConfig,
    seed: u64,
    cert_dir: Option<&Path>,
    processing_secs: u64,
) -> SandboxHandle {
    let mut builder = Sandbox::builder()
        .seed(seed)
        .faults(faults)
        .progression(Progression {
            processing_secs,
            ..Progression::default()
        })
        .failing_openid("oFailing000000000000000001");
    if let Some(dir) = cert_dir {
        builder = builder.cert_dir(dir);
    }
    builder.start().await.expect("sandbox starts")
}

pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_resends(2)
        .with_max_elapsed(Duration::from_secs(4))
        .with_queries(1)
        .with_jitter(0.0)
}

pub(crate) fn client(handle: &SandboxHandle, timeout: Duration) -> Client {
    Client::builder()
        .mch_id(handle.mch_id())
        .appid(handle.appid())
        .api_key(handle.api_key().clone())
        .workwx_secret(
            hongbao_sign::WorkwxSecret::new(hongbao_sandbox::DEFAULT_WORKWX_SECRET).unwrap(),
        )
        .identity(
            ClientIdentity::from_pem(
                handle.client_cert_pem().as_bytes(),
                handle.client_key_pem().as_bytes(),
            )
            .unwrap(),
        )
        .extra_ca_pem(handle.ca_cert_pem().as_bytes().to_vec())
        .base_url(handle.url())
        .timeouts(Timeouts::default().with_request(timeout))
        .retry(fast_retry())
        .rate_limits(RateLimits::unlimited())
        .build()
        .unwrap()
}

pub(crate) fn texts() -> Texts {
    Texts {
        send_name: Some("Test Shop".into()),
        act_name: Some("Test".into()),
        wishing: Some("Thanks".into()),
        remark: Some("test".into()),
        desc: Some("test payout".into()),
        sender_name: Some("Tester".into()),
        ..Texts::default()
    }
}

/// The binding of a ledger paying through `handle`.
pub(crate) fn binding(handle: &SandboxHandle) -> Binding {
    Binding::new(
        handle.mch_id(),
        handle.appid(),
        ServerId::configured(handle.url()),
    )
}

/// Opens (or creates) the ledger at `path` for `handle`.
pub(crate) async fn open_ledger(path: &Path, handle: &SandboxHandle) -> Ledger {
    open_ledger_with(path, handle, LedgerOptions::default()).await
}

pub(crate) async fn open_ledger_with(
    path: &Path,
    handle: &SandboxHandle,
    options: LedgerOptions,
) -> Ledger {
    Ledger::open(&path.display().to_string(), binding(handle), options)
        .await
        .unwrap()
}

/// The payouts in `states` (all: empty), in id order.
pub(crate) async fn payouts(ledger: &Ledger, states: &[PayoutState]) -> Vec<Payout> {
    ledger
        .store()
        .payouts(&PayoutFilter::default().with_states(states.to_vec()))
        .await
        .unwrap()
}

/// Payout `id`.
pub(crate) async fn payout(ledger: &Ledger, id: i64) -> Payout {
    ledger.store().payout(id).await.unwrap()
}

/// Simulates a process that claimed every planned payout, stored their
/// signed bodies and marked them `sending`, then died (its lease expires
/// at once). Returns `(id, body bytes, prepared)` per payout.
pub(crate) async fn crash_after_marking(
    ledger: &Ledger,
    client: &Client,
) -> Vec<(i64, Vec<u8>, hongbao::Prepared)> {
    let claimed = ledger
        .store()
        .claim(&hongbao_ledger::ClaimRequest::new(
            "crashed",
            Due::Planned,
            1000,
            1,
        ))
        .await
        .unwrap();
    let mut stored = Vec::new();
    let mut marks = Vec::new();
    for c in &claimed {
        let request = hongbao_ledger::stored_request(&c.payout).unwrap();
        let prepared = batch::prepare(client, &request).unwrap();
        let bytes = serde_json::to_vec(&prepared).unwrap();
        marks.push((c.claim, bytes.clone()));
        stored.push((c.payout.id, bytes, prepared));
    }
    let marked = ledger.store().mark_sending(&marks).await.unwrap();
    assert!(marked.iter().all(|m| *m));
    tokio::time::sleep(Duration::from_millis(5)).await;
    stored
}

pub(crate) fn settings(kind: Kind, csv: &Path, skip_invalid: bool) -> PlanSettings {
    PlanSettings {
        kind,
        batch: hongbao_ledger::sqlite::batch_name_of(&csv.display().to_string()),
        defaults: texts(),
        client_ip: "10.0.0.1".into(),
        skip_invalid,
        dry_run: false,
        rails: batch::Rails {
            allow_duplicates: true,
            ..Default::default()
        },
    }
}

/// `n` rows with distinct openids and amounts between 1.00 and 9.99 yuan.
pub(crate) fn csv_rows(n: usize) -> String {
    let mut text = String::from("openid,amount\n");
    for i in 0..n {
        text.push_str(&format!(
            "oRow{i:06}abcdefghijklmnop,{}.{:02}\n",
            1 + i % 9,
            i % 100
        ));
    }
    text
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Run options for the batch of `csv`.
pub(crate) fn options(csv: &Path) -> RunOptions {
    RunOptions {
        concurrency: 16,
        reissue_not_paid: false,
        resend_refunded: false,
        batch: hongbao_ledger::sqlite::batch_name_of(&csv.display().to_string()),
    }
}

/// Imports `csv` into its batch with the test settings (invalid rows refused).
pub(crate) async fn plan(
    ledger: &Ledger,
    csv: &Path,
    kind: Kind,
) -> Result<PlanResult, batch::BatchError> {
    batch::plan(ledger, csv, &settings(kind, csv, false)).await
}

/// One run of the batch of `csv` (already imported).
pub(crate) async fn run(ledger: &Ledger, client: &Client, options: &RunOptions) -> RunReport {
    batch::run(
        ledger,
        client,
        options,
        Arc::new(AtomicBool::new(false)),
        &mut NoProgress,
    )
    .await
    .unwrap()
}

/// How many requests the sandbox has received for its payments, resends included.
pub(crate) fn requests_received(handle: &SandboxHandle) -> u32 {
    handle
        .ledger()
        .payments
        .iter()
        .map(|p| p.times_requested)
        .sum()
}

pub(crate) async fn plan_and_run(
    ledger: &Ledger,
    csv: &Path,
    kind: Kind,
    client: &Client,
) -> RunReport {
    let planned = plan(ledger, csv, kind).await.unwrap();
    assert!(matches!(planned, PlanResult::Planned { .. }), "{planned:?}");
    run(ledger, client, &options(csv)).await
}

/// Every payout of the hongbao ledger is in the sandbox's ledger exactly
/// once under its bill, the sandbox holds nothing else, nobody got more
/// payments than payouts name them, and states and WeChat ids agree.
pub(crate) async fn assert_ledger_matches(handle: &SandboxHandle, journal: &Ledger) {
    let rows = payouts(journal, &[]).await;
    assert_rows_match(handle, &rows);
}

/// [`assert_ledger_matches`] on payouts already read.
pub(crate) fn assert_rows_match(handle: &SandboxHandle, rows: &[Payout]) {
    let ledger = handle.ledger();
    let mut by_bill: HashMap<&str, usize> = HashMap::new();
    for payment in &ledger.payments {
        *by_bill.entry(payment.bill.as_str()).or_default() += 1;
    }
    assert!(
        by_bill.values().all(|n| *n == 1),
        "a bill appears twice in the ledger"
    );
    let mut per_openid_rows: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        *per_openid_rows.entry(row.openid.as_str()).or_default() += 1;
    }
    let mut per_openid_paid: HashMap<&str, usize> = HashMap::new();
    for payment in ledger.payments.iter().filter(|p| p.status != "FAILED") {
        *per_openid_paid.entry(payment.openid.as_str()).or_default() += 1;
    }
    for (openid, paid) in &per_openid_paid {
        let expected = per_openid_rows.get(openid).copied().unwrap_or(0);
        assert!(
            *paid <= expected,
            "{openid} paid {paid} times for {expected} row(s)"
        );
    }
    for row in rows {
        let payment = ledger.payments.iter().find(|p| p.bill == row.bill);
        match row.state {
            PayoutState::Paid | PayoutState::Received | PayoutState::Refunded => {
                let payment =
                    payment.unwrap_or_else(|| panic!("paid row {} not in ledger", row.bill));
                assert_ne!(
                    payment.status, "FAILED",
                    "row {} paid, ledger failed",
                    row.bill
                );
                assert_eq!(payment.amount_fen, row.amount_fen);
                assert_eq!(payment.openid, row.openid);
                // Sends report `send_listid`/`payment_no`, queries may report `detail_id`.
                let id = row.wechat_id.as_deref().unwrap_or_default();
                assert!(
                    id == payment.wechat_id || id == payment.detail_id,
                    "wechat id of {}: journal {id}, ledger {} / {}",
                    row.bill,
                    payment.wechat_id,
                    payment.detail_id
                );
            }
            PayoutState::NotPaid => {
                if let Some(payment) = payment {
                    assert_eq!(
                        payment.status, "FAILED",
                        "row {} not paid but ledger {}",
                        row.bill, payment.status
                    );
                }
            }
            PayoutState::Planned => assert!(
                payment.is_none(),
                "planned row {} is in the ledger",
                row.bill
            ),
            PayoutState::Conflict => {
                // The bill is another payment's: never this row's payee.
                if let Some(payment) = payment {
                    assert!(
                        payment.openid != row.openid || payment.amount_fen != row.amount_fen,
                        "row {} in conflict, but the ledger holds its own payment",
                        row.bill
                    );
                }
            }
            _ => {}
        }
    }
    let journal_bills: std::collections::HashSet<&str> =
        rows.iter().map(|r| r.bill.as_str()).collect();
    for payment in &ledger.payments {
        assert!(
            journal_bills.contains(payment.bill.as_str()),
            "ledger bill {} not in journal",
            payment.bill
        );
    }
}

/// The `hongbao` binary with no secrets, config or locale inherited from the environment.
pub(crate) fn hongbao() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hongbao"));
    // HONGBAO_CONFIG, the secrets, HONGBAO_LOG and every HONGBAO_<SETTING>.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("HONGBAO_") {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("NO_COLOR");
    cmd
}

/// A config file for a sandbox started with a `cert_dir`; the API key is
/// in a file next to it. `extra` is appended verbatim.
pub(crate) fn write_config(dir: &Path, handle: &SandboxHandle, extra: &str) -> PathBuf {
    let certs = handle
        .cert_paths()
        .expect("sandbox started with a cert_dir");
    std::fs::write(
        dir.join("api_key"),
        format!("{}\n", handle.api_key().expose()),
    )
    .unwrap();
    let text = format!(
        "mch_id = \"{}\"\nappid = \"{}\"\nbase_url = \"{}\"\nca_cert = {:?}\nclient_cert = {:?}\nclient_key = {:?}\napi_key_file = \"api_key\"\nrate_per_minute = 0\nsend_name = \"Test Shop\"\nact_name = \"Test\"\nwishing = \"Thanks\"\nremark = \"test\"\ndesc = \"test payout\"\n{extra}",
        handle.mch_id(),
        handle.appid(),
        handle.url(),
        certs.ca_cert,
        certs.client_cert,
        certs.client_key,
    );
    let path = dir.join("hongbao.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a command off the async runtime (the sandbox keeps serving).
pub(crate) async fn output(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("hongbao runs"))
        .await
        .unwrap()
}

pub(crate) fn text(output: &std::process::Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}
