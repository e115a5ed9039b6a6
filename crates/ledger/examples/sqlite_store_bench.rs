//! The SQLite ledger's own time per payout, without any HTTPS: imports N
//! payouts into a ledger file (WAL, `synchronous=FULL`), then claims them
//! in pages and, group by group as the worker does, records the previous
//! group paid and marks the next one sending with its signed body, in one
//! durable transaction (`record_then_mark_sending`), or in two
//! (`--separate`: `record`, then `mark_sending`).
//!
//! ```sh
//! cargo run --release -p hongbao-ledger --example sqlite_store_bench -- 20000 32 [--separate]
//! ```
//! (N payouts, G payouts per group: the worker's concurrency / 2.)
#![allow(clippy::unwrap_used)]

mod common;

use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{Binding, Claim, ClaimRequest, Claimed, Due, PayoutState, ServerId, Store};
use std::time::Instant;

/// The records of `group` paid, with WeChat-shaped ids.
fn paid(group: &[Claimed]) -> Vec<hongbao_ledger::AttemptRecord> {
    common::paid(group, |id| format!("1000009820260101{id:012}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let separate = std::env::args().skip(1).any(|a| a == "--separate");
    let n = common::number(0, 20_000);
    let group_size = common::number(1, 32);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let binding = Binding::new(
        "10000098",
        "wx8888888888888888",
        ServerId::embedded_sandbox(),
    );
    let store = SqliteStore::open(
        &path,
        SqliteOptions::new()
            .with_create(Some(binding))
            .with_lock(true),
    )
    .unwrap();
    let bills = common::bills();
    let spec = common::spec();
    let started = Instant::now();
    let mut chunk = Vec::with_capacity(1000);
    for i in 0..n {
        chunk.push(common::payout(&bills, i));
        if chunk.len() == 1000 || i + 1 == n {
            store
                .import(&spec, &chunk, &bills, false, hongbao_ledger::now_ms())
                .await
                .unwrap();
            chunk.clear();
        }
    }
    store.checkpoint().await.unwrap();
    let import = started.elapsed();

    let started = Instant::now();
    let cpu_before = common::cpu_seconds("self");
    let mut cursor = 0;
    let mut flying: Vec<Claimed> = Vec::new();
    let mut transactions = 0u64;
    let mut done = 0usize;
    loop {
        let page = store
            .claim(
                &ClaimRequest::new("bench", Due::Pay, group_size * 8, 60_000).with_after_id(cursor),
            )
            .await
            .unwrap();
        transactions += 1;
        let Some(last) = page.last() else { break };
        cursor = last.payout.id;
        let mut page = page.into_iter();
        loop {
            let group: Vec<Claimed> = page.by_ref().take(group_size).collect();
            if group.is_empty() {
                break;
            }
            // The body to store: as large as a signed request.
            let marks: Vec<(Claim, Vec<u8>)> = common::marks(&group);
            let records = paid(&flying);
            if separate {
                if !records.is_empty() {
                    store.record(&records).await.unwrap();
                    transactions += 1;
                }
                store.mark_sending(&marks).await.unwrap();
                transactions += 1;
            } else {
                store
                    .record_then_mark_sending(&records, &marks)
                    .await
                    .unwrap();
                transactions += 1;
            }
            done += flying.len();
            flying = group;
        }
    }
    store.record(&paid(&flying)).await.unwrap();
    transactions += 1;
    done += flying.len();
    let work = started.elapsed();
    let cpu = common::cpu_seconds("self") - cpu_before;
    assert_eq!(done, n);
    assert_eq!(
        store.summary(None).await.unwrap().get(PayoutState::Paid).0,
        n as u64
    );
    println!(
        "sqlite store: {n} payouts imported in {:.2} s ({:.0}/s); claim + mark_sending + record \
         in groups of {group_size} ({}, {transactions} commits) in {:.2} s: {:.0} payouts/s, \
         {:.0} µs of ledger time per payout ({:.0} µs of CPU)",
        import.as_secs_f64(),
        common::per_second(n, import),
        if separate {
            "separate transactions"
        } else {
            "record and mark in one transaction"
        },
        work.as_secs_f64(),
        common::per_second(n, work),
        common::micros_per_payout(n, work, 1),
        cpu * 1e6 / n.max(1) as f64
    );
}
