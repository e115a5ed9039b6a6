//! Load benchmark of the ledger: imports N red packets into a SQLite
//! ledger and pays them with one worker against the sandbox with its
//! limits off, over HTTPS; prints payouts/s, the peak memory (VmHWM) and
//! the CPU time of the ledger's process.
//!
//! ```text
//! cargo run --release -p hongbao-ledger --example load -- [PAYOUTS] [CONCURRENCY] [--in-process]
//! ```
//!
//! Defaults: 100,000 payouts, 64 requests in flight. The sandbox runs in a
//! process of its own (this example started again with a hidden argument),
//! so the memory and CPU printed for the ledger are the ledger's own
//! (ledger, client, SQLite); `--in-process` runs it inside, as before.

// The store benchmarks' helpers (written for benchmarks: they unwrap);
// this one takes the CPU time only.
#[allow(dead_code, clippy::unwrap_used)]
mod common;

use common::cpu_seconds;
use hongbao::{ApiKey, Client, ClientIdentity, RateLimits, RetryPolicy};
use hongbao_ledger::{BatchSpec, Binding, Ledger, LedgerOptions, PayoutState, ServerId};
use hongbao_proto::{Amount, AnyRequest, BillNo, OpenId, RedPacket};
use hongbao_sandbox::{DEFAULT_API_KEY, Limits, Sandbox, SandboxHandle};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The hidden argument that makes this example serve the sandbox.
const SERVE: &str = "--serve-sandbox";

/// What the sandbox process tells the benchmark (one JSON line).
#[derive(Serialize, Deserialize)]
struct Served {
    url: String,
    mch_id: String,
    appid: String,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Served {
    fn of(sandbox: &SandboxHandle) -> Served {
        Served {
            url: sandbox.url().to_owned(),
            mch_id: sandbox.mch_id().to_owned(),
            appid: sandbox.appid().to_owned(),
            ca_pem: sandbox.ca_cert_pem().to_owned(),
            cert_pem: sandbox.client_cert_pem().to_owned(),
            key_pem: sandbox.client_key_pem().to_owned(),
        }
    }
}

/// A field of `/proc/<pid>/status` in MiB (Linux; 0 elsewhere).
fn status_mib(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn start_sandbox() -> Result<SandboxHandle, BoxError> {
    let sandbox = Sandbox::builder()
        .limits(Limits::unlimited())
        .start()
        .await?;
    sandbox.set_balance_fen(u64::MAX / 4);
    Ok(sandbox)
}

/// The sandbox process: serves until its standard input closes (the
/// benchmark ended or died).
async fn serve() -> Result<(), BoxError> {
    let sandbox = start_sandbox().await?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &Served::of(&sandbox))?;
    writeln!(out)?;
    out.flush()?;
    drop(out);
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    sandbox.shutdown().await;
    Ok(())
}

/// The sandbox in a process of its own.
struct SandboxProcess {
    child: Child,
}

impl SandboxProcess {
    fn start() -> Result<(SandboxProcess, Served), BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SERVE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout of the sandbox")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let served: Served = serde_json::from_str(&line)
            .map_err(|e| format!("sandbox process said {line:?}: {e}"))?;
        Ok((SandboxProcess { child }, served))
    }

    fn peak_rss_mib(&self) -> f64 {
        status_mib(&self.child.id().to_string(), "VmHWM:")
    }

    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.child.id().to_string())
    }

    fn stop(mut self) -> Result<(), BoxError> {
        drop(self.child.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.iter().any(|a| a == SERVE) {
        return serve().await;
    }
    let in_process = all.iter().any(|a| a == "--in-process");
    let mut args = all.iter().filter(|a| !a.starts_with("--"));
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);

    let (local, remote, served) = if in_process {
        let sandbox = start_sandbox().await?;
        let served = Served::of(&sandbox);
        (Some(sandbox), None, served)
    } else {
        let (process, served) = SandboxProcess::start()?;
        (None, Some(process), served)
    };
    let client = Client::builder()
        .mch_id(&served.mch_id)
        .appid(&served.appid)
        .api_key(ApiKey::new(DEFAULT_API_KEY)?)
        .identity(ClientIdentity::from_pem(
            served.cert_pem.as_bytes(),
            served.key_pem.as_bytes(),
        )?)
        .extra_ca_pem(served.ca_pem.as_bytes().to_vec())
        .base_url(&served.url)
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::unlimited())
        .build()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("load.db");
    let binding = Binding::new(
        served.mch_id.clone(),
        served.appid.clone(),
        ServerId::configured(&served.url),
    );
    let ledger = Ledger::open(
        &path.display().to_string(),
        binding,
        LedgerOptions::default(),
    )
    .await?;

    let started = Instant::now();
    let mut importer = ledger.importer(BatchSpec::new("load", "load.csv", "", "red-packet"), false);
    let placeholder = BillNo::new(format!("{}20260101LOAD000000", served.mch_id))?;
    for i in 0..n {
        let request: AnyRequest = RedPacket::builder(
            placeholder.clone(),
            OpenId::new(format!("oLoad{i:09}abcdefghijklm"))?,
            Amount::from_fen(100 + (i % 900) as u64),
        )
        .send_name("load")
        .wishing("hello")
        .act_name("load")
        .remark("load")
        .client_ip("127.0.0.1")
        .build()?
        .into();
        importer.add(i as u64 + 2, None, &request, true).await?;
    }
    let plan = importer.finish().await?;
    let imported = started.elapsed();
    println!(
        "imported {} payouts in {:.2} s ({:.0}/s)",
        plan.new.len(),
        imported.as_secs_f64(),
        plan.new.len() as f64 / imported.as_secs_f64()
    );

    let started = Instant::now();
    let cpu_before = cpu_seconds("self");
    let sandbox_cpu_before = remote.as_ref().map_or(0.0, SandboxProcess::cpu_seconds);
    let report = ledger
        .worker(client)
        .concurrency(concurrency)
        .run_pass()
        .await?;
    let paid_in = started.elapsed();
    let cpu = cpu_seconds("self") - cpu_before;
    let sandbox_cpu = remote.as_ref().map_or(0.0, SandboxProcess::cpu_seconds) - sandbox_cpu_before;
    let load = load_average();
    let paid = report.summary.get(PayoutState::Paid).0;
    ledger.checkpoint().await?;
    let whose = if in_process {
        "ledger, client and sandbox"
    } else {
        "ledger and client; sandbox in its own process"
    };
    println!(
        "paid {paid} of {n} payouts in {:.2} s: {:.0} payouts/s (concurrency {concurrency}); \
         this process ({whose}): peak RSS {:.1} MiB, CPU {:.0} µs/payout; load average {load}",
        paid_in.as_secs_f64(),
        paid as f64 / paid_in.as_secs_f64(),
        status_mib("self", "VmHWM:"),
        cpu * 1e6 / paid.max(1) as f64,
    );
    if let Some(remote) = &remote {
        println!(
            "sandbox process: peak RSS {:.1} MiB, CPU {:.0} µs/payout",
            remote.peak_rss_mib(),
            sandbox_cpu * 1e6 / paid.max(1) as f64
        );
    }
    if paid != n as u64 {
        return Err(format!("not all paid: {:?}", report.summary).into());
    }
    if let Some(sandbox) = local {
        sandbox.shutdown().await;
    }
    if let Some(remote) = remote {
        remote.stop()?;
    }
    Ok(())
}
