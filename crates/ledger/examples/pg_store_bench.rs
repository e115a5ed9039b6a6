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
mod common;

#[cfg(feature = "postgres")]
#[tokio::main]
async fn main() {
    use hongbao_ledger::postgres::PgStore;
    use hongbao_ledger::{AttemptRecord, Claim, ClaimRequest, Due, NewPayout, Store};
    use std::time::Instant;

    let n = common::number(0, 20_000);
    let workers = common::number(1, 4);
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
    let bills = common::bills();
    let rows: Vec<NewPayout> = (0..n).map(|i| common::payout(&bills, i)).collect();
    let spec = common::spec();
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
                let marks: Vec<(Claim, Vec<u8>)> = common::marks(&claimed);
                let (recorded, marked) = store
                    .record_then_mark_sending(&pending, &marks)
                    .await
                    .unwrap();
                assert!(recorded.iter().chain(&marked).all(|held| *held));
                pending = common::paid(&claimed, |id| format!("W{id}"));
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
        common::per_second(n, import),
        work.as_secs_f64(),
        common::per_second(n, work),
        common::micros_per_payout(n, work, workers)
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
