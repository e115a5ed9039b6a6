//! Test helpers shared by the tests of `hongbao-ledger` and `hongbao-cli`
//! (a dev-dependency of both; not published): an in-process
//! [`hongbao_sandbox`] with seeded faults, a [`Client`] of it, the
//! [`Binding`] of a ledger paying through it, its request counters, and
//! [`assert_ledger_matches`], the check that the hongbao ledger agrees with
//! the sandbox row by row. With the `postgres` feature, [`pg`]: a fresh
//! schema of the test PostgreSQL server per test.
//!
//! Every helper panics when something it sets up fails (a test failure),
//! and the `assert_*` helpers panic when the check fails.
#![forbid(unsafe_code)]

#[cfg(feature = "postgres")]
pub mod pg;

use hongbao::{Client, ClientBuilder, ClientIdentity, RateLimits, RetryPolicy, Timeouts};
use hongbao_ledger::{Binding, Ledger, LedgerOptions, Payout, PayoutFilter, PayoutState, ServerId};
use hongbao_sandbox::{FaultConfig, Progression, Sandbox, SandboxHandle};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// The payee the sandboxes of [`sandbox`] and [`sandbox_with`] always
/// refuse (a definite failure).
pub const FAILING_OPENID: &str = "oFailing000000000000000001";

/// A sandbox with `faults` drawn from `seed`, payments in progress for one
/// second, and [`FAILING_OPENID`] refused.
pub async fn sandbox(faults: FaultConfig, seed: u64) -> SandboxHandle {
    sandbox_with(faults, seed, None, 1).await
}

/// [`sandbox`] writing its certificates and keys into `cert_dir` (for a
/// config file), with payments in progress for `processing_secs`.
pub async fn sandbox_with(
    faults: FaultConfig,
    seed: u64,
    cert_dir: Option<&Path>,
    processing_secs: u64,
) -> SandboxHandle {
    let mut builder = Sandbox::builder()
        .seed(seed)
        .faults(faults)
        .progression(Progression {
            processing_secs,
            ..Progression::default()
        })
        .failing_openid(FAILING_OPENID);
    if let Some(dir) = cert_dir {
        builder = builder.cert_dir(dir);
    }
    builder.start().await.expect("the sandbox starts")
}

/// Two resends, one query, at most four seconds, no jitter: a test's
/// retries settle quickly.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_resends(2)
        .with_max_elapsed(Duration::from_secs(4))
        .with_queries(1)
        .with_jitter(0.0)
}

/// A client builder for `handle`: its merchant, app, API key, client
/// certificate, CA and URL, no rate limit; the client's default retries
/// and timeouts, no WeCom secret.
pub fn client_builder(handle: &SandboxHandle) -> ClientBuilder {
    Client::builder()
        .mch_id(handle.mch_id())
        .appid(handle.appid())
        .api_key(handle.api_key().clone())
        .identity(
            ClientIdentity::from_pem(
                handle.client_cert_pem().as_bytes(),
                handle.client_key_pem().as_bytes(),
            )
            .expect("the sandbox's client certificate"),
        )
        .extra_ca_pem(handle.ca_cert_pem().as_bytes().to_vec())
        .base_url(handle.url())
        .rate_limits(RateLimits::unlimited())
}

/// The client of `handle` with its WeCom secret, [`fast_retry`] and
/// requests timing out after `timeout`.
pub fn client(handle: &SandboxHandle, timeout: Duration) -> Client {
    client_builder(handle)
        .workwx_secret(
            hongbao::WorkwxSecret::new(hongbao_sandbox::DEFAULT_WORKWX_SECRET)
                .expect("the sandbox's WeCom secret"),
        )
        .timeouts(Timeouts::default().with_request(timeout))
        .retry(fast_retry())
        .build()
        .expect("the client builds")
}

/// The binding of a ledger paying through `handle`.
pub fn binding(handle: &SandboxHandle) -> Binding {
    Binding::new(
        handle.mch_id(),
        handle.appid(),
        ServerId::configured(handle.url()),
    )
}

/// Opens (or creates) the ledger file at `path` for `handle`.
pub async fn open_ledger(path: &Path, handle: &SandboxHandle, options: LedgerOptions) -> Ledger {
    Ledger::open(&path.display().to_string(), binding(handle), options)
        .await
        .expect("the ledger opens")
}

/// The payouts of `ledger` in `states` (all: empty), in id order.
pub async fn payouts(ledger: &Ledger, states: &[PayoutState]) -> Vec<Payout> {
    ledger
        .store()
        .payouts(&PayoutFilter::default().with_states(states.to_vec()))
        .await
        .expect("the payouts are read")
}

/// Payout `id` of `ledger`.
pub async fn payout(ledger: &Ledger, id: i64) -> Payout {
    ledger.store().payout(id).await.expect("the payout is read")
}

/// How many payment requests the sandbox has received for the payments it
/// holds, resends included.
pub fn requests_received(handle: &SandboxHandle) -> u32 {
    handle
        .ledger()
        .payments
        .iter()
        .map(|p| p.times_requested)
        .sum()
}

/// The requests the sandbox received since its counters read `before`
/// ([`SandboxHandle::requests`]), per endpoint (`sendredpack`,
/// `gethbinfo`, …); endpoints with none are left out.
pub fn requests_since(
    handle: &SandboxHandle,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    handle
        .requests()
        .into_iter()
        .map(|(name, n)| {
            let earlier = before.get(&name).copied().unwrap_or(0);
            (name, n.saturating_sub(earlier))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The hongbao ledger agrees with the sandbox row by row: every payout the
/// ledger says is paid was paid exactly once by the sandbox under its
/// bill, to its payee and amount, with its WeChat id; a payout not paid
/// was not paid there; a planned one never reached it; a payout in
/// conflict is not the sandbox's payment under its bill; nobody got more
/// payments than payouts name them; the sandbox holds no other bill.
pub async fn assert_ledger_matches(handle: &SandboxHandle, ledger: &Ledger) {
    let rows = payouts(ledger, &[]).await;
    assert_rows_match(handle, &rows);
}

/// [`assert_ledger_matches`] on payouts already read.
pub fn assert_rows_match(handle: &SandboxHandle, rows: &[Payout]) {
    let sandbox = handle.ledger();
    let mut by_bill: HashMap<&str, usize> = HashMap::new();
    for payment in &sandbox.payments {
        *by_bill.entry(payment.bill.as_str()).or_default() += 1;
    }
    assert!(
        by_bill.values().all(|n| *n == 1),
        "a bill appears twice in the sandbox"
    );
    let mut per_openid_rows: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        *per_openid_rows.entry(row.openid.as_str()).or_default() += 1;
    }
    let mut per_openid_paid: HashMap<&str, usize> = HashMap::new();
    for payment in sandbox.payments.iter().filter(|p| p.status != "FAILED") {
        *per_openid_paid.entry(payment.openid.as_str()).or_default() += 1;
    }
    for (openid, paid) in &per_openid_paid {
        let expected = per_openid_rows.get(openid).copied().unwrap_or(0);
        assert!(
            *paid <= expected,
            "{openid} paid {paid} times for {expected} payout(s)"
        );
    }
    for row in rows {
        let payment = sandbox.payments.iter().find(|p| p.bill == row.bill);
        match row.state {
            PayoutState::Paid | PayoutState::Received | PayoutState::Refunded => {
                let payment =
                    payment.unwrap_or_else(|| panic!("paid payout {} not in sandbox", row.bill));
                assert_ne!(
                    payment.status, "FAILED",
                    "{} paid, sandbox failed",
                    row.bill
                );
                assert_eq!(payment.amount_fen, row.amount_fen, "amount of {}", row.bill);
                assert_eq!(payment.openid, row.openid, "payee of {}", row.bill);
                // Sends report `send_listid`/`payment_no`, queries may report `detail_id`.
                let id = row.wechat_id.as_deref().unwrap_or_default();
                assert!(
                    id == payment.wechat_id || id == payment.detail_id,
                    "wechat id of {}: ledger {id}, sandbox {} / {}",
                    row.bill,
                    payment.wechat_id,
                    payment.detail_id
                );
            }
            PayoutState::NotPaid => {
                if let Some(payment) = payment {
                    assert_eq!(
                        payment.status, "FAILED",
                        "{} not paid but sandbox {}",
                        row.bill, payment.status
                    );
                }
            }
            PayoutState::Planned => {
                assert!(payment.is_none(), "planned {} was sent", row.bill);
            }
            PayoutState::Conflict => {
                // The bill is another payment's: never this payout's payee.
                if let Some(payment) = payment {
                    assert!(
                        payment.openid != row.openid || payment.amount_fen != row.amount_fen,
                        "{} in conflict, but the sandbox holds its own payment",
                        row.bill
                    );
                }
            }
            _ => {}
        }
    }
    let bills: HashSet<&str> = rows.iter().map(|r| r.bill.as_str()).collect();
    for payment in &sandbox.payments {
        assert!(
            bills.contains(payment.bill.as_str()),
            "sandbox bill {} not in the ledger",
            payment.bill
        );
    }
}
