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

use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, BillFactory, Binding, Claim, ClaimRequest, Claimed,
    Due, NewPayout, PayoutState, ServerId, Store,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, Endpoint, NextStep, OpenId, RedPacket};
use std::time::Instant;

fn paid(group: &[Claimed]) -> Vec<AttemptRecord> {
    let now = hongbao_ledger::now_ms();
    group
        .iter()
        .map(|c| {
            AttemptRecord::new(
                c.claim,
                c.payout.bill.clone(),
                AttemptAction::Send,
                PayoutState::Paid,
                now,
                now,
            )
            .with_wechat_id(Some(format!("1000009820260101{:012}", c.payout.id)))
            .with_next_step(Some(NextStep::Done))
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let separate = all.iter().any(|a| a == "--separate");
    let mut args = all.iter().filter(|a| !a.starts_with("--"));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let group_size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);

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
    let bills = BillFactory::new("10000098", "", Endpoint::SendRedPacket);
    let spec = BatchSpec::new("bench", "bench.csv", "00", "red-packet");
    let started = Instant::now();
    let mut chunk = Vec::with_capacity(1000);
    for i in 0..n {
        let bill = bills.generate().unwrap();
        let request: AnyRequest = RedPacket::builder(
            BillNo::new(&bill).unwrap(),
            OpenId::new(format!("oBench{i:08}")).unwrap(),
            Amount::from_fen(100 + (i as u64 % 900)),
        )
        .send_name("bench")
        .wishing("bench")
        .act_name("bench")
        .remark("bench")
        .client_ip("203.0.113.10")
        .build()
        .unwrap()
        .into();
        chunk.push(
            NewPayout::new(format!("bench/{i}"), &request, true)
                .unwrap()
                .in_batch("bench", i as u64 + 2),
        );
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
            let marks: Vec<(Claim, Vec<u8>)> = group
                .iter()
                .map(|c| (c.claim, c.payout.request_json.clone().into_bytes()))
                .collect();
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
    assert_eq!(done, n);
    assert_eq!(
        store.summary(None).await.unwrap().get(PayoutState::Paid).0,
        n as u64
    );
    println!(
        "sqlite store: {n} payouts imported in {:.2} s ({:.0}/s); claim + mark_sending + record \
         in groups of {group_size} ({}, {transactions} commits) in {:.2} s: {:.0} payouts/s, \
         {:.0} µs of ledger time per payout",
        import.as_secs_f64(),
        n as f64 / import.as_secs_f64(),
        if separate {
            "separate transactions"
        } else {
            "record and mark in one transaction"
        },
        work.as_secs_f64(),
        n as f64 / work.as_secs_f64(),
        work.as_secs_f64() * 1e6 / n as f64
    );
}
