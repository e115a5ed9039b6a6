//! Many `hongbao worker` processes on one PostgreSQL ledger, against a real
//! server (`HONGBAO_TEST_PG_URL`; `cargo xtask pg -- …` starts one; without
//! it these tests say so and pass, except under `CI=true`, where they fail).
//!
//! * chaos: 4 worker processes, a sandbox with faults after commit, at
//!   least 10 SIGKILLs of random workers (each restarted), seeded: every
//!   payout paid exactly once, the ledger agrees row by row, and no bill
//!   number was in flight from two claims at once;
//! * shared quota: 4 worker processes under the sandbox's real per-minute
//!   limit (1,800): no refusal, and together at ≥ 95 % of the limit.
#![allow(clippy::unwrap_used)]

use crate::common::{self, hongbao};
use hongbao_cli::batch::PlanResult;
use hongbao_cli::payout::Kind;
use hongbao_ledger::postgres::PgStore;
use hongbao_ledger::{Ledger, LedgerOptions, PayoutState, Store};
use hongbao_sandbox::{FaultConfig, Limits, Progression, Sandbox, SandboxHandle};
use hongbao_testkit::pg::fresh_schema;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

async fn sandbox(faults: FaultConfig, limits: Limits, seed: u64, dir: &Path) -> SandboxHandle {
    Sandbox::builder()
        .seed(seed)
        .faults(faults)
        .limits(limits)
        .progression(Progression {
            processing_secs: 1,
            ..Progression::default()
        })
        .cert_dir(dir.join("certs"))
        .start()
        .await
        .expect("sandbox starts")
}

/// Imports `n` red packets into batch `pay` of the ledger at `url`.
async fn import(url: &str, handle: &SandboxHandle, dir: &Path, n: usize) -> Ledger {
    let ledger = Ledger::open(url, common::binding(handle), LedgerOptions::default())
        .await
        .unwrap();
    let csv = common::write(dir, "pay.csv", &common::csv_rows(n));
    let planned = common::plan(&ledger, &csv, Kind::RedPacket).await.unwrap();
    assert!(matches!(planned, PlanResult::Planned { .. }), "{planned:?}");
    ledger
}

/// One `hongbao worker` process; its stderr goes to `log`.
fn spawn_worker(config: &Path, url: &str, log: &Path, extra: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    hongbao()
        .arg("--config")
        .arg(config)
        .args(["worker", "--journal", url, "--idle-ms", "100"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("hongbao worker starts")
}

/// Asks a worker to stop (SIGTERM) and waits for it.
fn terminate(mut child: Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until every payout of the ledger is paid (or the deadline).
async fn wait_all_paid(store: &dyn Store, n: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if store.summary(None).await.unwrap().get(PayoutState::Paid).0 == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

fn logs(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_killed_at_random_pay_each_payout_exactly_once() {
    let Some(url) = fresh_schema("chaos").await else {
        return;
    };
    const PAYOUTS: usize = 2_000;
    const WORKERS: usize = 4;
    const KILLS: usize = 12;
    let seed = 0x5eed_0012;
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultConfig {
        systemerror_after_commit: 0.03,
        drop_after_commit: 0.02,
        delay_after_commit: 0.01,
        processing_after_commit: 0.02,
        delay_ms: 2_500,
        ..FaultConfig::default()
    };
    let handle = sandbox(faults, Limits::unlimited(), seed, dir.path()).await;
    let config = common::write_config(
        dir.path(),
        &handle,
        "timeout_ms = 1500\nmax_resends = 1\nqueries = 1\n",
    );
    let ledger = import(&url, &handle, dir.path(), PAYOUTS).await;
    let store = PgStore::open(&url).await.unwrap();

    let logs_of: Vec<PathBuf> = (0..WORKERS)
        .map(|i| dir.path().join(format!("worker{i}.log")))
        .collect();
    let args = [
        "--concurrency",
        "8",
        "--lease-secs",
        "5",
        "--rate-per-minute",
        "0",
    ];
    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|i| spawn_worker(&config, &url, &logs_of[i], &args))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..900))).await;
        let victim = rng.random_range(0..WORKERS);
        workers[victim].kill().unwrap();
        workers[victim].wait().unwrap();
        workers[victim] = spawn_worker(&config, &url, &logs_of[victim], &args);
    }
    let all_paid = wait_all_paid(&store, PAYOUTS as u64, Duration::from_secs(200)).await;
    for worker in workers {
        terminate(worker);
    }
    assert!(
        all_paid,
        "not all paid after {:?}: {:?}\n{}",
        started.elapsed(),
        store.summary(None).await.unwrap(),
        logs(&logs_of)
    );
    eprintln!(
        "chaos: {PAYOUTS} payouts, {KILLS} kills, all paid in {:?}",
        started.elapsed()
    );

    // Exactly once, row by row, against the sandbox's ledger.
    let rows = common::payouts(&ledger, &[]).await;
    assert_eq!(rows.len(), PAYOUTS);
    assert!(rows.iter().all(|r| r.state == PayoutState::Paid));
    common::assert_rows_match(&handle, &rows);
    let paid = handle
        .ledger()
        .payments
        .iter()
        .filter(|p| p.status != "FAILED")
        .count();
    assert_eq!(paid, PAYOUTS, "the sandbox holds other payments");

    // No bill number was in flight under two claims at once: per bill, the
    // attempts of each claim (fence) span an interval, and the intervals
    // of different claims do not overlap.
    /// Per claim (fence): first start, last end, owner.
    type Spans = HashMap<i64, (i64, i64, Option<String>)>;
    let mut spans: HashMap<String, Spans> = HashMap::new();
    for t in store.attempt_traces().await.unwrap() {
        let span = spans.entry(t.bill).or_default().entry(t.fence).or_insert((
            t.started_ms,
            t.finished_ms,
            t.owner,
        ));
        span.0 = span.0.min(t.started_ms);
        span.1 = span.1.max(t.finished_ms);
    }
    let mut taken_over = 0;
    for (bill, claims) in &spans {
        let mut claims: Vec<_> = claims.iter().collect();
        claims.sort_by_key(|(_, (start, _, _))| *start);
        taken_over += claims.len() - 1;
        for pair in claims.windows(2) {
            let (fence_a, (_, end_a, owner_a)) = pair[0];
            let (fence_b, (start_b, _, owner_b)) = pair[1];
            assert!(
                end_a <= start_b,
                "bill {bill} in flight from two claims at once: fence {fence_a} ({owner_a:?}) \
                 until {end_a}, fence {fence_b} ({owner_b:?}) from {start_b}"
            );
        }
    }
    eprintln!("chaos: {taken_over} payout(s) taken over by another claim");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_share_the_merchants_per_minute_limit() {
    let Some(url) = fresh_schema("quota").await else {
        return;
    };
    const PAYOUTS: usize = 2_000;
    const PER_MINUTE: u32 = 1_800;
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        red_packet_per_minute: PER_MINUTE,
        ..Limits::unlimited()
    };
    let handle = sandbox(FaultConfig::default(), limits, 7, dir.path()).await;
    // A refusal is recorded as it is (no silent resend inside the client).
    let config = common::write_config(dir.path(), &handle, "limit_retries = 0\n");
    let ledger = import(&url, &handle, dir.path(), PAYOUTS).await;
    let store = PgStore::open(&url).await.unwrap();
    let logs_of: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("worker{i}.log")))
        .collect();
    let rate = PER_MINUTE.to_string();
    let args = ["--concurrency", "8", "--rate-per-minute", rate.as_str()];
    let workers: Vec<Child> = logs_of
        .iter()
        .map(|log| spawn_worker(&config, &url, log, &args))
        .collect();
    let all_paid = wait_all_paid(&store, PAYOUTS as u64, Duration::from_secs(150)).await;
    for worker in workers {
        terminate(worker);
    }
    assert!(
        all_paid,
        "not all paid: {:?}\n{}",
        store.summary(None).await.unwrap(),
        logs(&logs_of)
    );
    let attempts = store.attempt_traces().await.unwrap();
    let refusals = attempts
        .iter()
        .filter(|a| {
            matches!(
                a.err_code.as_deref(),
                Some("FREQ_LIMIT" | "SECOND_OVER_LIMITED")
            )
        })
        .count();
    assert_eq!(refusals, 0, "rate-limit refusals");
    assert_eq!(attempts.len(), PAYOUTS, "one attempt per payout");
    let owners: std::collections::HashSet<_> = attempts.iter().map(|a| a.owner.clone()).collect();
    assert!(owners.len() >= 2, "the work was shared: {owners:?}");
    let first = attempts.iter().map(|a| a.started_ms).min().unwrap();
    let last = attempts.iter().map(|a| a.started_ms).max().unwrap();
    let per_minute = (PAYOUTS as f64 - 1.0) * 60_000.0 / ((last - first).max(1) as f64);
    eprintln!(
        "shared quota: {PAYOUTS} payouts by {} workers at {per_minute:.0}/min (limit {PER_MINUTE})",
        owners.len()
    );
    assert!(
        per_minute >= 0.95 * f64::from(PER_MINUTE),
        "aggregate rate {per_minute:.0}/min is under 95% of {PER_MINUTE}"
    );
    assert!(
        per_minute <= f64::from(PER_MINUTE) * 1.001,
        "{per_minute:.0}/min"
    );
    common::assert_rows_match(&handle, &common::payouts(&ledger, &[]).await);
    handle.shutdown().await;
}

/// `batch reconcile` and `batch refresh` take a PostgreSQL ledger too
/// (no lock file: the database is shared safely).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reconcile_and_refresh_accept_a_postgres_ledger() {
    let Some(url) = fresh_schema("reconcile").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), Limits::unlimited(), 5, dir.path()).await;
    let config = common::write_config(dir.path(), &handle, "");
    let ledger = import(&url, &handle, dir.path(), 3).await;
    let report = ledger
        .worker(common::client(&handle, Duration::from_secs(10)))
        .run_pass()
        .await
        .unwrap();
    assert_eq!(report.summary.get(PayoutState::Paid).0, 3, "{report:?}");
    for what in ["reconcile", "refresh"] {
        let mut cmd = hongbao();
        cmd.arg("--config")
            .arg(&config)
            .args(["batch", what, "--journal", &url]);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        assert!(stderr.contains("queried 3 row(s)"), "{what}: {stderr}");
    }
    handle.shutdown().await;
}
