//! The PostgreSQL store's own behaviour (the rules every store follows are
//! in `conformance`): its schema, created once by concurrent openers, its
//! location without password, and the attempt traces of the chaos tests.

use super::fresh_schema;
use crate::conformance::{Counter, attempt, binding, claim_one, payout};
use hongbao_ledger::postgres::PgStore;
use hongbao_ledger::{Due, PayoutState, Store};

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
