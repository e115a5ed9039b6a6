//! The store conformance suite: every rule of the `Store` trait written
//! once ([`rules`]) and run against each backend, SQLite
//! (`conformance::sqlite::<rule>`, in memory) and PostgreSQL
//! (`conformance::postgres::<rule>`, a fresh schema of the server in
//! `HONGBAO_TEST_PG_URL`; see [`crate::postgres`] for what happens without
//! one).
//!
//! A rule is an `async fn(Backend)`: it opens its store(s) through the
//! backend, so that a rule about several processes gets one store per
//! "process" on PostgreSQL (one shared store on SQLite, which has one
//! process per ledger).

mod rules;

use hongbao_ledger::sqlite::SqliteStore;
use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, BillFactory, BillSource, Binding, Claim, ClaimRequest,
    Claimed, Due, LedgerError, NewPayout, PayoutState, ServerId, Store,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, Endpoint, NextStep, OpenId, RedPacket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The merchant of the suite's ledgers.
pub(crate) const MCH: &str = "10000098";

/// The suite's binding.
pub(crate) fn binding() -> Binding {
    Binding::new(
        MCH,
        "wx8888888888888888",
        ServerId::configured("https://127.0.0.1:8443"),
    )
}

/// Generated bill numbers of the suite's merchant.
pub(crate) fn bills() -> BillFactory {
    BillFactory::new(MCH, "", Endpoint::SendRedPacket)
}

/// A backend to run a rule against.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// SQLite, in memory.
    Sqlite,
    /// PostgreSQL, in the schema of this URL.
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl Backend {
    /// A store bound to `binding`.
    pub(crate) async fn open(&self, binding: &Binding) -> Fixture {
        let store: Arc<dyn Store> = match self {
            Backend::Sqlite => Arc::new(SqliteStore::in_memory(binding).unwrap()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                let store = hongbao_ledger::postgres::PgStore::open(url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}"));
                store.bind(binding, false).await.unwrap();
                Arc::new(store)
            }
        };
        Fixture {
            store,
            backend: self.clone(),
        }
    }
}

/// An open store of a backend.
#[derive(Debug)]
pub(crate) struct Fixture {
    /// The store.
    pub(crate) store: Arc<dyn Store>,
    backend: Backend,
}

impl Fixture {
    /// The same ledger as another process sees it: a store of its own on
    /// PostgreSQL, the same store on SQLite.
    pub(crate) async fn another(&self) -> Arc<dyn Store> {
        match &self.backend {
            Backend::Sqlite => Arc::clone(&self.store),
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => Arc::new(
                hongbao_ledger::postgres::PgStore::open(url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}")),
            ),
        }
    }
}

/// Bill numbers `B<prefix><n>` (predictable, unlike [`bills`]).
#[derive(Debug)]
pub(crate) struct Counter {
    prefix: &'static str,
    next: AtomicU64,
}

impl Counter {
    pub(crate) fn new(prefix: &'static str) -> Self {
        Counter {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl BillSource for Counter {
    fn next_bill(&self) -> Result<String, LedgerError> {
        Ok(format!(
            "B{}{:08}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

/// A red packet of `fen` to `openid` under `bill`.
pub(crate) fn packet(bill: &str, openid: &str, fen: u64) -> AnyRequest {
    RedPacket::builder(
        BillNo::new(bill).unwrap(),
        OpenId::new(openid).unwrap(),
        Amount::from_fen(fen),
    )
    .send_name("天虹百货")
    .wishing("恭喜发财")
    .act_name("新春")
    .remark("谢谢")
    .client_ip("203.0.113.10")
    .build()
    .unwrap()
    .into()
}

/// A payout whose bill number the ledger chose.
pub(crate) fn payout(key: &str, openid: &str, fen: u64, bill: &str) -> NewPayout {
    NewPayout::new(key, &packet(bill, openid, fen), true).unwrap()
}

/// A payout whose bill number the caller chose.
pub(crate) fn chosen(key: &str, openid: &str, fen: u64, bill: &str) -> NewPayout {
    NewPayout::new(key, &packet(bill, openid, fen), false).unwrap()
}

/// A batch of red packets.
pub(crate) fn spec(name: &str) -> BatchSpec {
    BatchSpec::new(name, format!("{name}.csv"), "00", "red-packet")
}

/// The attempt a worker records: `outcome`, WeChat's id when paid, and
/// the next step the client would decide.
pub(crate) fn attempt(claim: Claim, bill: &str, outcome: PayoutState, at: i64) -> AttemptRecord {
    let step = match outcome {
        PayoutState::Paid | PayoutState::Received | PayoutState::Refunded => NextStep::Done,
        PayoutState::NotPaid | PayoutState::Conflict => NextStep::NewBill,
        _ => NextStep::Query,
    };
    AttemptRecord::new(claim, bill, AttemptAction::Send, outcome, at, at + 1)
        .with_wechat_id((outcome == PayoutState::Paid).then(|| format!("W{bill}")))
        .with_next_step(Some(step))
}

/// Claims payout `id` (it must be the first one `due` from it on).
pub(crate) async fn claim_one(store: &dyn Store, id: i64, due: Due, owner: &str) -> Claimed {
    let mut claimed = store
        .claim(&ClaimRequest::new(owner, due, 1, 60_000).with_after_id(id - 1))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.payout.id).collect::<Vec<_>>(),
        vec![id],
        "payout {id} is not the next one due ({due:?})"
    );
    claimed.remove(0)
}

/// Sends planned payout `id` (claim, signed body stored) and records
/// `outcome` now; returns the claim it was made under.
pub(crate) async fn send(store: &dyn Store, id: i64, outcome: PayoutState) -> Claim {
    send_at(store, id, outcome, hongbao_ledger::now_ms()).await
}

/// [`send`], the attempt made at `at` (unix ms; finished at `at + 1`).
pub(crate) async fn send_at(store: &dyn Store, id: i64, outcome: PayoutState, at: i64) -> Claim {
    let c = claim_one(store, id, Due::Pay, "sender").await;
    assert_eq!(
        store
            .mark_sending(&[(c.claim, b"signed".to_vec())])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .record(&[attempt(c.claim, &c.payout.bill, outcome, at)])
            .await
            .unwrap(),
        vec![true]
    );
    c.claim
}

/// Runs each rule of `rules` as a test per backend.
macro_rules! conformance {
    ($($rule:ident),* $(,)?) => {
        /// The suite on SQLite.
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $rule() {
                    super::rules::$rule(super::Backend::Sqlite).await;
                }
            )*
        }

        /// The suite on PostgreSQL.
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $rule() {
                    let Some(url) = crate::postgres::fresh_schema(stringify!($rule)).await else {
                        return;
                    };
                    super::rules::$rule(super::Backend::Postgres(url)).await;
                }
            )*
        }
    };
}

conformance!(
    binding_is_checked_and_another_is_refused,
    submit_is_idempotent_by_key,
    concurrent_submits_of_one_key_store_one_payout,
    bill_numbers_are_unique,
    the_same_key_twice_in_one_file_is_one_payout_or_refused,
    import_plans_new_unchanged_replaced_refused_and_similar,
    similar_payouts_warn_only_within_thirty_days,
    an_expired_claims_owner_cannot_write_over_the_next_owner,
    concurrent_claimers_never_get_the_same_payout,
    a_paid_payout_never_goes_back,
    a_stored_body_is_never_replaced,
    red_packets_are_received_or_refunded,
    reissue_gives_a_new_bill_and_old_numbers_stay_taken,
    conflicts_are_renumbered_only_when_the_ledger_chose_the_bill,
    quota_slots_are_spaced_and_never_shared,
    summary_and_listing_count_every_state,
    a_lease_is_renewed_while_its_request_is_in_flight,
);
