//! Safety rails of `batch run` (issue 13 §3): the plan is shown before
//! anything is sent, a run that moves money is confirmed (`--yes` in
//! scripts), caps and duplicate payees refuse a file before anything is
//! imported or sent.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common::*;
use hongbao_sandbox::FaultConfig;
use std::path::Path;
use std::process::{Command, Stdio};

/// `hongbao [--config CONFIG] batch run CSV --kind red-packet --journal J EXTRA`,
/// stdin not a terminal.
fn run_with(config: Option<&Path>, csv: &Path, journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = hongbao();
    match config {
        Some(config) => cmd.arg("--config").arg(config),
        None => cmd.arg("--sandbox"),
    };
    cmd.args(["batch", "run"])
        .arg(csv)
        .args(["--kind", "red-packet", "--no-progress", "--journal"])
        .arg(journal)
        .args(extra)
        .stdin(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_plan_is_shown_before_sending_and_sandbox_needs_no_yes() {
    let dir = tempfile::tempdir().unwrap();
    // Amounts 1.00, 2.01, 3.02 on lines 2 to 4.
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");
    let (stdout, stderr, code) = text(&output(run_with(None, &csv, &journal, &[])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "plan: 3 row(s) to pay, 6.03 yuan in all; largest 3.02 yuan (line 4); kind red-packet"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("[y/N]"), "{stderr}");
    assert!(!stderr.contains("duplicate payee"), "{stderr}");
    // A rerun with everything final has nothing to pay and asks nothing.
    let (stdout, stderr, code) = text(&output(run_with(None, &csv, &journal, &[])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("plan: nothing new to pay"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_a_run_without_terminal_needs_yes_and_yes_pays() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 31, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");

    // No terminal, no --yes: refused, naming --yes; nothing sent or kept.
    let (stdout, stderr, code) = text(&output(run_with(Some(&config), &csv, &journal, &[])).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("plan: 3 row(s) to pay, 6.03 yuan"),
        "{stderr}"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(stderr.contains("nothing was imported or sent"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 0);
    assert!(!journal.exists(), "a refused run leaves no journal");

    // A dry run never asks.
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &["--dry-run"])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(handle.ledger().payments.len(), 0);

    // The dry run stored the rows (planned, not final): unchanged, they are
    // still to pay, so the plan counts them and the question stands.
    let (stdout, stderr, code) = text(&output(run_with(Some(&config), &csv, &journal, &[])).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("plan: 3 row(s) to pay, 6.03 yuan"),
        "{stderr}"
    );
    assert_eq!(handle.ledger().payments.len(), 0);

    // --yes confirms: paid.
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &["--yes"])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);

    // Nothing new to pay: no --yes needed.
    let (stdout, stderr, code) = text(&output(run_with(Some(&config), &csv, &journal, &[])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("plan: nothing new to pay"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_caps_refuse_a_file_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 32, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "max_total = 5\n");
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");

    // The config's max_total (5 yuan) refuses 6.03 yuan.
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &["--yes"])).await);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("refused: 3 row(s) pay 6.03 yuan in all, over max_total 5.00 yuan"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported or sent"), "{stderr}");

    // --max-amount names the rows over it (flags over the config).
    let args = ["--yes", "--max-amount", "2.00", "--max-total", "100"];
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &args)).await);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("refused: line 3 pays 2.01 yuan, over max_amount 2.00 yuan"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refused: line 4 pays 3.02 yuan"),
        "{stderr}"
    );
    assert!(!stderr.contains("line 2 pays"), "{stderr}");

    // HONGBAO_MAX_TOTAL over the file; a bad cap is a config error.
    let mut cmd = run_with(Some(&config), &csv, &journal, &["--yes"]);
    cmd.env("HONGBAO_MAX_TOTAL", "6.02");
    let (stdout, stderr, code) = text(&output(cmd).await);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("over max_total 6.02 yuan"), "{stderr}");
    let args = ["--yes", "--max-amount", "1.001"];
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &args)).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stderr.contains("max_amount"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 0);
    assert!(!journal.exists());

    // Within the caps: paid.
    let args = ["--yes", "--max-amount", "3.02", "--max-total", "6.03"];
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &args)).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_duplicate_payees_are_refused_unless_allowed_or_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 33, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let twice = "oDup0000000000000000000001";
    let csv = write(
        dir.path(),
        "dup.csv",
        &format!("openid,amount\n{twice},1.00\noOne0000000000000000000002,2.00\n{twice},3.00\n"),
    );
    let journal = dir.path().join("dup.db");

    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &["--yes"])).await);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("duplicate payee: {twice} appears on lines 2, 4")),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-duplicates"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 0);
    assert!(!journal.exists());

    // Distinct keys tell the rows apart: not duplicates.
    let keyed = write(
        dir.path(),
        "keyed.csv",
        &format!("key,openid,amount\nk1,{twice},1.00\nk2,{twice},3.00\n"),
    );
    let keyed_journal = dir.path().join("keyed.db");
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &keyed, &keyed_journal, &["--yes"])).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("duplicate payee"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 2);

    // --allow-duplicates: flagged in the plan, and paid.
    let args = ["--yes", "--allow-duplicates"];
    let (stdout, stderr, code) =
        text(&output(run_with(Some(&config), &csv, &journal, &args)).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("duplicate payee"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 5);
}

/// On a terminal (a pseudo-terminal from util-linux `script`) the run asks
/// "pay N row(s), X yuan? [y/N]": no pays nothing, y pays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_a_terminal_is_asked_and_only_yes_pays() {
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped: no /usr/bin/script to make a pseudo-terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 34, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let line = format!(
        "{} --config {} batch run {} --kind red-packet --no-progress --journal {}",
        quote(Path::new(env!("CARGO_BIN_EXE_hongbao"))),
        quote(&config),
        quote(&csv),
        quote(&journal)
    );
    let on_terminal = |answer: &'static str| {
        // Without the HONGBAO_* environment and the locale, as `hongbao()`.
        let mut cmd = Command::new(script);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("HONGBAO_") {
                cmd.env_remove(var);
            }
        }
        cmd.env_remove("LANG")
            .env_remove("LC_ALL")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = cmd.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(answer.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
    };

    let (stdout, stderr, code) = text(&on_terminal("n\n").await.unwrap());
    assert!(
        stdout.contains("pay 3 row(s), 6.03 yuan? [y/N]"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("not confirmed"), "{stdout}{stderr}");
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert_eq!(handle.ledger().payments.len(), 0);

    let (stdout, stderr, code) = text(&on_terminal("y\n").await.unwrap());
    assert!(stdout.contains("[y/N]"), "{stdout}{stderr}");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);
}
