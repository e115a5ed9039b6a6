//! The PostgreSQL store's own behaviour (the rules every store follows are
//! in `conformance`): its schema, created once by concurrent openers, its
//! location without password, the attempt traces of the chaos tests and
//! the cost of a claim.

use super::fresh_schema;
use crate::conformance::{Counter, attempt, binding, claim_one, payout};
use hongbao_ledger::postgres::PgStore;
use hongbao_ledger::{ClaimRequest, Due, PayoutState, Store};

async fn open(url: &str) -> PgStore {
    PgStore::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_is_created_once_by_concurrent_openers_and_binding_is_checked() {
    let Some(url) = fresh_schema("schema_binding").await else {
        return;
    };
    let mut openers = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        openers.push(tokio::spawn(async move { PgStore::open(&url).await }));
    }
    for opener in openers {
        let store = opener.await.expect("task").expect("open");
        assert_eq!(store.schema_version().await.expect("version"), 1);
    }
    let store = open(&url).await;
    assert!(
        store
            .location()
            .starts_with("postgres://postgres@127.0.0.1:")
    );
    // A fresh schema is unbound until the first bind.
    assert!(store.binding().await.expect("binding").is_none());
    store.bind(&binding(), false).await.expect("bind");
    assert_eq!(store.binding().await.expect("binding"), Some(binding()));
    // Another store sees it.
    assert_eq!(
        open(&url).await.binding().await.expect("binding"),
        Some(binding())
    );
}

/// Every attempt keeps the owner and fence of the claim it was made
/// under (the chaos tests check that no bill was in flight from two
/// claims at once with them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_traces_keep_the_claims_owner_and_fence() {
    let Some(url) = fresh_schema("traces").await else {
        return;
    };
    let store = open(&url).await;
    store.bind(&binding(), false).await.expect("bind");
    let p = store
        .submit(&payout("t1", "o1", 100, "TRACE1"), &Counter::new("T"))
        .await
        .expect("submit")
        .payout;
    let c = claim_one(&store, p.id, Due::Pay, "tracer").await;
    let mut failed = attempt(c.claim, "TRACE1", PayoutState::Unknown, 7);
    failed.err_code = Some("SYSTEMERROR".into());
    assert_eq!(store.record(&[failed]).await.expect("record"), vec![true]);
    let traces = store.attempt_traces().await.expect("traces");
    assert_eq!(traces.len(), 1);
    let t = &traces[0];
    assert_eq!(
        (t.payout, t.bill.as_str(), t.fence, t.owner.as_deref()),
        (p.id, "TRACE1", c.claim.fence, Some("tracer"))
    );
    assert_eq!(
        (t.started_ms, t.finished_ms, t.err_code.as_deref()),
        (7, 8, Some("SYSTEMERROR"))
    );
}

/// A client of the test's schema (`url` has its `search_path`) and the
/// task driving its connection.
async fn client(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

/// A bound ledger in batch `b` with payouts `1..=total`, the first `paid`
/// of them paid and the rest planned (written directly: 20,000 through
/// the store would take the test's time for nothing).
async fn ledger_with_paid(url: &str, total: i64, paid: i64) -> PgStore {
    let store = open(url).await;
    store.bind(&binding(), false).await.expect("bind");
    let (client, task) = client(url).await;
    client
        .batch_execute(&format!(
            "INSERT INTO batches(name, file_name, file_digest, kind, created_ms)
                 VALUES ('b', 'b.csv', '', 'red-packet', 0);
             INSERT INTO payouts(key, batch, line, openid, amount_fen, params, bill, state,
                                 request_json, created_ms, updated_ms, generated)
                 SELECT 'k' || g, 'b', g, 'o' || g, 100, '', 'bill' || g,
                        CASE WHEN g <= {paid} THEN 'paid' ELSE 'planned' END, '{{}}', 0, 0,
                        false
                 FROM generate_series(1, {total}) g;
             ANALYZE payouts;"
        ))
        .await
        .expect("fill");
    drop(client);
    let _ = task.await;
    store
}

/// The rows a plan (`EXPLAIN (ANALYZE, FORMAT JSON)`) read and threw
/// away, over all its steps.
fn rows_removed(plan: &serde_json::Value) -> u64 {
    let own: u64 = ["Rows Removed by Filter", "Rows Removed by Join Filter"]
        .iter()
        .filter_map(|k| plan.get(*k).and_then(serde_json::Value::as_u64))
        .sum();
    let steps: u64 = plan
        .get("Plans")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |plans| plans.iter().map(rows_removed).sum());
    own + steps
}

/// A claim reads the page it takes, not the payouts already done before
/// it: with 15,000 of 20,000 payouts paid, the claim of the first 64
/// planned ones walked the primary key from the cursor past the 15,000
/// (`Rows Removed by Filter: 15000`, 5.9 ms a page: a pass was quadratic).
/// Each due state is now searched in the `(state, id)` index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_search_each_due_state_without_walking_done_payouts() {
    let Some(url) = fresh_schema("claim_plan").await else {
        return;
    };
    let store = ledger_with_paid(&url, 20_000, 15_000).await;
    for batch in [None, Some("b".to_owned())] {
        for after_id in [0, 10_000] {
            let request = ClaimRequest::new("w", Due::Pay, 64, 60_000)
                .with_batch(batch.clone())
                .with_after_id(after_id);
            let text = store.explain_claim(&request).await.expect("explain");
            let plan: serde_json::Value = serde_json::from_str(&text).expect("a JSON plan");
            let removed = rows_removed(&plan[0]["Plan"]);
            assert!(
                removed < 100,
                "batch {batch:?}, after {after_id}: the claim read {removed} rows it did not \
                 take: {plan:#}"
            );
        }
    }
    // The explained claims were rolled back: the page is still there, the
    // smallest ids first.
    let page = store
        .claim(&ClaimRequest::new("w", Due::Pay, 64, 60_000).with_after_id(100))
        .await
        .expect("claim");
    let ids: Vec<i64> = page.iter().map(|c| c.payout.id).collect();
    assert_eq!(ids, (15_001..=15_064).collect::<Vec<_>>());
    assert!(page.iter().all(|c| c.claim.fence == 1));
}

/// A claim passes over the payouts another claim holds locked at that
/// moment and takes the next ones due instead: its page is full while
/// payouts are due (a claim that chose its candidates before skipping the
/// locked ones came back short or empty, and its worker ended its pass).
/// The page stays the smallest ids due, in id order, across the states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_passes_over_locked_payouts_and_fills_its_page() {
    let Some(url) = fresh_schema("claim_locked").await else {
        return;
    };
    let store = ledger_with_paid(&url, 400, 100).await;
    let (mut client, task) = client(&url).await;
    // Some due payouts in other states, between the planned ones.
    client
        .batch_execute(
            "UPDATE payouts SET state = 'unknown' WHERE id IN (150, 151, 260);
             UPDATE payouts SET state = 'not_paid', next_step = 'query' WHERE id = 152;
             UPDATE payouts SET state = 'not_paid', next_step = 'new_bill' WHERE id = 153;",
        )
        .await
        .expect("states");
    // Another claim's transaction holds 101..=150 (and 260) locked.
    let other = client.transaction().await.expect("begin");
    other
        .execute(
            "SELECT id FROM payouts WHERE id BETWEEN 101 AND 150 OR id = 260 FOR UPDATE",
            &[],
        )
        .await
        .expect("lock");
    let page = store
        .claim(&ClaimRequest::new("w", Due::Pay, 20, 60_000).with_after_id(100))
        .await
        .expect("claim");
    let ids: Vec<i64> = page.iter().map(|c| c.payout.id).collect();
    // 153 is not due for Pay (a new bill number is a new payment).
    let want: Vec<i64> = [151, 152].into_iter().chain(154..=171).collect();
    assert_eq!(ids, want);
    // The next page goes on from the last id and passes over 260.
    let next = store
        .claim(&ClaimRequest::new("w", Due::Pay, 200, 60_000).with_after_id(171))
        .await
        .expect("claim");
    let ids: Vec<i64> = next.iter().map(|c| c.payout.id).collect();
    let want: Vec<i64> = (172..=400).filter(|id| *id != 260).take(200).collect();
    assert_eq!(ids, want);
    other.rollback().await.expect("rollback");
    // Once released, 260 (unknown) and 101..=150 are due again.
    let rest = store
        .claim(&ClaimRequest::new("w", Due::Pay, 500, 60_000))
        .await
        .expect("claim");
    let ids: Vec<i64> = rest.iter().map(|c| c.payout.id).collect();
    let mut want: Vec<i64> = (101..=150).collect();
    want.extend((373..=400).chain([260]));
    want.sort_unstable();
    assert_eq!(ids, want);
    drop(client);
    let _ = task.await;
}
