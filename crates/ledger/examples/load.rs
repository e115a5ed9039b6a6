//! Load benchmark of the ledger: imports N red packets into a SQLite
//! ledger and pays them with one worker against the in-process sandbox
//! with its limits off; prints payouts/s and the peak memory (VmHWM) of
//! the process (ledger, client and sandbox together).
//!
//! ```text
//! cargo run --release -p hongbao-ledger --example load -- [PAYOUTS] [CONCURRENCY]
//! ```
//!
//! Defaults: 100,000 payouts, 64 requests in flight.

use hongbao::{Client, ClientIdentity, RateLimits, RetryPolicy};
use hongbao_ledger::{BatchSpec, Binding, Ledger, LedgerOptions, PayoutState, ServerId};
use hongbao_proto::{Amount, AnyRequest, BillNo, OpenId, RedPacket};
use hongbao_sandbox::{Limits, Sandbox};
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Peak resident memory of this process in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);

    let sandbox = Sandbox::builder()
        .limits(Limits::unlimited())
        .start()
        .await?;
    sandbox.set_balance_fen(u64::MAX / 4);
    let client = Client::builder()
        .mch_id(sandbox.mch_id())
        .appid(sandbox.appid())
        .api_key(sandbox.api_key().clone())
        .identity(ClientIdentity::from_pem(
            sandbox.client_cert_pem().as_bytes(),
            sandbox.client_key_pem().as_bytes(),
        )?)
        .extra_ca_pem(sandbox.ca_cert_pem().as_bytes().to_vec())
        .base_url(sandbox.url())
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::unlimited())
        .build()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("load.db");
    let binding = Binding::new(
        sandbox.mch_id(),
        sandbox.appid(),
        ServerId::configured(sandbox.url()),
    );
    let ledger = Ledger::open(
        &path.display().to_string(),
        binding,
        LedgerOptions::default(),
    )
    .await?;

    let started = Instant::now();
    let mut importer = ledger.importer(BatchSpec::new("load", "load.csv", "", "red-packet"), false);
    let placeholder = BillNo::new(format!("{}20260101LOAD000000", sandbox.mch_id()))?;
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
    let report = ledger
        .worker(client)
        .concurrency(concurrency)
        .run_pass()
        .await?;
    let paid_in = started.elapsed();
    let paid = report.summary.get(PayoutState::Paid).0;
    ledger.checkpoint().await?;
    println!(
        "paid {paid} of {n} payouts in {:.2} s: {:.0} payouts/s (concurrency {concurrency}); peak RSS {:.1} MiB",
        paid_in.as_secs_f64(),
        paid as f64 / paid_in.as_secs_f64(),
        peak_rss_mib()
    );
    if paid != n as u64 {
        return Err(format!("not all paid: {:?}", report.summary).into());
    }
    sandbox.shutdown().await;
    Ok(())
}
