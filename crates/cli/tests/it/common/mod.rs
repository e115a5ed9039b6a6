//! Shared helpers of the CLI tests: CSV files, plans and runs of a batch,
//! the `hongbao` binary and its config; the sandbox, its client and the
//! ledger-vs-sandbox check come from hongbao-testkit.
#![allow(dead_code, clippy::unwrap_used)]

use hongbao::Client;
use hongbao_cli::batch::{self, NoProgress, PlanResult, PlanSettings, RunOptions};
use hongbao_cli::config::Texts;
use hongbao_cli::payout::Kind;
use hongbao_ledger::{Ledger, LedgerOptions, RunReport};
use hongbao_sandbox::{FaultConfig, SandboxHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

// The sandbox, its client and the ledger-vs-sandbox check are
// hongbao-ledger's too: written once, in hongbao-testkit.
pub(crate) use hongbao_testkit::{
    assert_ledger_matches, assert_rows_match, binding, client, payouts, requests_received,
    sandbox_with,
};

/// A sandbox with `faults` drawn from `seed` (certificates written into
/// `cert_dir`, for a config file), payments in progress for one second.
pub(crate) async fn sandbox(
    faults: FaultConfig,
    seed: u64,
    cert_dir: Option<&Path>,
) -> SandboxHandle {
    sandbox_with(faults, seed, cert_dir, 1).await
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

/// Opens (or creates) the ledger at `path` for `handle`.
pub(crate) async fn open_ledger(path: &Path, handle: &SandboxHandle) -> Ledger {
    hongbao_testkit::open_ledger(path, handle, LedgerOptions::default()).await
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
