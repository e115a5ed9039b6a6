//! The PostgreSQL ledger's own time per payout, without any HTTPS: import
//! N payouts, then W "workers" (a store each, as separate processes would
//! have) claim pages of 64 and, as the engine does between two groups of
//! requests, record the previous page paid and mark this one sending in
//! one `record_then_mark_sending` call.
//!
//! ```sh
//! cargo xtask pg -- cargo run --release -p hongbao-ledger --features postgres \
//!     --example pg_store_bench -- 20000 4
//! ```
//! (N payouts, W workers; the URL comes from `HONGBAO_TEST_PG_URL`.)
#![allow(clippy::unwrap_used)]

#[cfg(feature = "postgres")]
#[tokio::main]
async fn main() {
    use hongbao_ledger::postgres::PgStore;
    use hongbao_ledger::{
        AttemptAction, AttemptRecord, BatchSpec, BillFactory, Claim, ClaimRequest, Due, NewPayout,
        PayoutState, Store,
    };
    use hongbao_proto::{Amount, AnyRequest, BillNo, Endpoint, NextStep, OpenId, RedPacket};
    use std::time::Instant;

    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let Ok(base) = std::env::var("HONGBAO_TEST_PG_URL") else {
        eprintln!("set HONGBAO_TEST_PG_URL (cargo xtask pg -- …)");
        std::process::exit(2);
    };
    let schema = format!("bench_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");

    let store = PgStore::open(&url).await.unwrap();
    let bills = BillFactory::new("10000098", "", Endpoint::SendRedPacket);
    let rows: Vec<NewPayout> = (0..n)
        .map(|i| {
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
            NewPayout::new(format!("bench/{i}"), &request, true)
                .unwrap()
                .in_batch("bench", i as u64 + 2)
        })
        .collect();
    let spec = BatchSpec::new("bench", "bench.csv", "00", "red-packet");
    let started = Instant::now();
    for chunk in rows.chunks(1000) {
        store
            .import(&spec, chunk, &bills, false, hongbao_ledger::now_ms())
            .await
            .unwrap();
    }
    let import = started.elapsed();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let store = PgStore::open(&url).await.unwrap();
            let mut done = 0usize;
            // As the engine does: the attempts of one page are recorded
            // in the same call that marks the next page sending.
            let mut pending: Vec<AttemptRecord> = Vec::new();
            loop {
                let claimed = store
                    .claim(&ClaimRequest::new(
                        format!("bench-{w}"),
                        Due::Pay,
                        64,
                        60_000,
                    ))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    if !pending.is_empty() {
                        store.record(&pending).await.unwrap();
                    }
                    return done;
                }
                let marks: Vec<(Claim, Vec<u8>)> = claimed
                    .iter()
                    .map(|c| (c.claim, c.payout.request_json.clone().into_bytes()))
                    .collect();
                let (recorded, marked) = store
                    .record_then_mark_sending(&pending, &marks)
                    .await
                    .unwrap();
                assert!(recorded.iter().chain(&marked).all(|held| *held));
                let now = hongbao_ledger::now_ms();
                pending = claimed
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
                        .with_wechat_id(Some(format!("W{}", c.payout.id)))
                        .with_next_step(Some(NextStep::Done))
                    })
                    .collect();
                done += claimed.len();
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    let work = started.elapsed();
    assert_eq!(total, n);
    println!(
        "pg store: {n} payouts imported in {:.2} s ({:.0}/s); claim+record_then_mark_sending by {workers} \
         workers in {:.2} s: {:.0} payouts/s, {:.0} µs of ledger time per payout per worker",
        import.as_secs_f64(),
        n as f64 / import.as_secs_f64(),
        work.as_secs_f64(),
        n as f64 / work.as_secs_f64(),
        work.as_secs_f64() * 1e6 * workers as f64 / n as f64
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[cfg(not(feature = "postgres"))]
fn main() {
    eprintln!("needs --features postgres");
}
