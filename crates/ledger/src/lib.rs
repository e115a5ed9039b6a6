//! # hongbao-ledger
//!
//! The exactly-once payout engine of hongbao, as a library: one ledger per
//! merchant, payouts with idempotency keys, named batches imported from
//! files, workers that pay what is due under fenced leases, a quota shared
//! by every worker, reconciliation, and the life of a red packet after it
//! was sent (received, refunded).
//!
//! Storage is behind the object-safe [`Store`] trait: SQLite (feature
//! `sqlite`, default; one process at a time, many requests inside it) and
//! PostgreSQL (feature `postgres`, many processes on many machines).
//!
//! ## A payout's states
//!
//! | state | meaning | leaves by |
//! |---|---|---|
//! | planned | key, parameters and bill number stored; nothing sent | claim → sending |
//! | sending | the signed body is stored durably; a request may be in flight | reply or query |
//! | unknown | an attempt may have been sent and no answer settles it | query, or resend under the same bill |
//! | paid | WeChat accepted it (red packets: sent) | received, refunded |
//! | received | the payee opened the red packet | — |
//! | refunded | an unopened red packet came back | an explicit resend: a new bill |
//! | not_paid | definite: no payment under its bill number | an explicit reissue: a new bill |
//! | conflict | its bill number holds another payment | a new number (by itself when the ledger chose it) |
//!
//! Every transition is decided by the client's typed
//! [`Outcome`](hongbao_proto::Outcome) and its
//! [`NextStep`](hongbao_proto::NextStep); the ledger never parses codes.
//!
//! ## Claims and fences
//!
//! A worker claims due payouts with a lease; each claim increases the
//! payout's fence, and every write under the claim is applied only if the
//! fence is unchanged (in the statement that writes). A worker whose lease
//! expired cannot record over the next owner; the next owner takes a
//! `sending` or `unknown` payout up by a query first, then the same bill
//! number with identical parameters.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod engine;
mod error;
#[cfg(feature = "sqlite")]
mod lock;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
pub mod store;
mod types;

pub use engine::{
    Event, HALT_AFTER, Importer, Ledger, LedgerOptions, Quota, ReconcileReport, RunReport,
    StopHandle, Worker, WorkerOptions, open_store, stored_prepared, stored_request,
};
pub use error::LedgerError;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use lock::LedgerLock;
pub use store::{BillSource, Store};
pub use types::{
    AttemptAction, AttemptRecord, BatchSpec, Binding, ChangedRow, Claim, ClaimRequest, Claimed,
    Due, ImportPlan, NewPayout, Payout, PayoutFilter, PayoutState, ServerId, SimilarPayout,
    Submitted, Summary, now_ms, rfc3339,
};

use hongbao_proto::{AnyRequest, BillNo, Date, TradeNo};

/// The parameters of a request that make it "the same payout": every
/// business field but the bill number, as `name=value` pairs joined by `&`
/// in wire order.
pub fn params_of(request: &AnyRequest) -> String {
    let bill = request.bill();
    request
        .fields()
        .into_iter()
        .filter(|(name, value)| {
            !matches!(*name, "mch_billno" | "partner_trade_no") && Some(value.as_ref()) != bill
        })
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A stored request (JSON) under another bill number.
pub fn rebill(request_json: &str, bill: &str) -> Result<String, LedgerError> {
    let request: AnyRequest = serde_json::from_str(request_json)
        .map_err(|e| LedgerError::Corrupt(format!("stored request unreadable: {e}")))?;
    let request = request
        .with_bill(bill)
        .map_err(|v| LedgerError::Corrupt(format!("bill number {bill}: {v}")))?;
    serde_json::to_string(&request)
        .map_err(|e| LedgerError::Corrupt(format!("request not serializable: {e}")))
}

/// Generated bill numbers: `mch_id + yyyymmdd (Beijing) + bill_prefix +
/// random`, the random base-62 tail filling the field
/// ([`BillNo::random`] / [`TradeNo::random`]). Numbers drawn by two systems
/// of one merchant meet only by chance (about one in 10^9 for 10,000
/// numbers a day); a meeting is caught by the ledger's unique constraint
/// or, across ledgers, as a bill conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillFactory {
    /// Merchant id.
    pub mch_id: String,
    /// The namespace after the date (`bill_prefix`).
    pub prefix: String,
    /// `partner_trade_no` (transfers, pay to employee: up to 32
    /// characters) rather than `mch_billno` (up to 28).
    pub trade_no: bool,
}

impl BillFactory {
    /// Bill numbers for `endpoint`'s payouts of merchant `mch_id`.
    pub fn new(mch_id: &str, prefix: &str, endpoint: hongbao_proto::Endpoint) -> Self {
        use hongbao_proto::Endpoint;
        BillFactory {
            mch_id: mch_id.to_owned(),
            prefix: prefix.to_owned(),
            trade_no: matches!(endpoint, Endpoint::PayEmployee | Endpoint::Transfer),
        }
    }

    /// A fresh number for today (Beijing time).
    pub fn generate(&self) -> Result<String, LedgerError> {
        let date = Date::beijing_from_unix_seconds(now_ms() / 1000)
            .map_err(|v| LedgerError::Corrupt(format!("clock: {v}")))?;
        let entropy: u128 = rand::random();
        let bill = if self.trade_no {
            TradeNo::random(&self.mch_id, date, &self.prefix, entropy)
                .map(|t| t.as_str().to_owned())
        } else {
            BillNo::random(&self.mch_id, date, &self.prefix, entropy).map(|b| b.as_str().to_owned())
        };
        bill.map_err(|v| LedgerError::Corrupt(format!("cannot generate a bill number: {v}")))
    }
}

impl BillSource for BillFactory {
    fn next_bill(&self) -> Result<String, LedgerError> {
        self.generate()
    }
}
