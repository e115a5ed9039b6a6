//! The storage interface of the ledger: what a backend (SQLite, PostgreSQL)
//! provides to the engine.
//!
//! Every write about a payout that a worker holds carries its [`Claim`]: the
//! backend applies it only if the payout's fence is still the claim's
//! (`… WHERE id = $id AND fence = $fence`, in the same statement that
//! writes). A worker whose lease expired and whose payout was taken over
//! gets `false` back and discards its result: the next owner resolves the
//! payout by a query first.
//!
//! The trait is object safe: the ledger holds an `Arc<dyn Store>` chosen at
//! runtime from the location (`postgres://…` or a file path).

// Without a backend (the trait alone, for a backend of another crate) the
// shared rules below have no user.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use crate::{
    AttemptRecord, BatchSpec, Binding, ChangedRow, Claim, ClaimRequest, Claimed, Due, ImportPlan,
    LedgerError, NewPayout, Payout, PayoutFilter, PayoutState, Submitted, Summary,
};
use async_trait::async_trait;

/// Chooses bill numbers for payouts whose number the ledger picks (a
/// random tail after the merchant id, date and `bill_prefix`; see
/// [`crate::BillFactory`]). Called again when a drawn number is taken.
pub trait BillSource: Send + Sync {
    /// A fresh bill number for a payout of the same kind as `request_json`.
    fn next_bill(&self) -> Result<String, LedgerError>;
}

/// Storage for one merchant's ledger.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Where the ledger is (a path or a URL without password), for messages.
    fn location(&self) -> &str;

    /// The ledger's binding, if any.
    async fn binding(&self) -> Result<Option<Binding>, LedgerError>;

    /// Binds an unbound ledger to `binding`, or checks that it is bound to
    /// it: another merchant, app or server is
    /// [`LedgerError::BindingMismatch`]. A ledger migrated from a journal
    /// that did not record its server is [`LedgerError::ServerUnrecorded`]
    /// unless `adopt_unrecorded_server` (the operator says it is the same).
    async fn bind(
        &self,
        binding: &Binding,
        adopt_unrecorded_server: bool,
    ) -> Result<(), LedgerError>;

    /// Stores one payout, idempotently by key: the same key with the same
    /// parameters returns the stored payout; with other parameters,
    /// [`LedgerError::KeyConflict`]. A generated bill number that is taken
    /// is drawn again from `bills`; a caller-chosen one that is taken is
    /// [`LedgerError::BillTaken`].
    async fn submit(
        &self,
        payout: &NewPayout,
        bills: &dyn BillSource,
    ) -> Result<Submitted, LedgerError>;

    /// Imports rows (a chunk of a file, in file order) into a batch,
    /// creating the batch if needed (a batch of another kind is
    /// [`LedgerError::KindMismatch`]). Returns the plan: new, unchanged,
    /// replaced (same key, other parameters, existing payout definitely not
    /// paid: it takes the new parameters and a new bill), refused (same
    /// key, other parameters, possibly paid), duplicate caller-chosen bill
    /// numbers, and payees paid the same amount in another batch within 30
    /// days before `now_ms` (see [`ImportPlan::similar`] for which payouts
    /// count). Nothing is written when `dry_run` or when anything is
    /// refused; otherwise the whole chunk is written in one transaction.
    ///
    /// `now_ms` (unix milliseconds) is the time of the import: the end of
    /// the 30-day window, and the time the batch and its new rows are
    /// stamped with. [`crate::Ledger`] passes the system clock; a caller
    /// may pass another time (tests, replaying a file as of a date). Claims
    /// are checked against the store's own clock whatever `now_ms` is.
    async fn import(
        &self,
        batch: &BatchSpec,
        rows: &[NewPayout],
        bills: &dyn BillSource,
        dry_run: bool,
        now_ms: i64,
    ) -> Result<ImportPlan, LedgerError>;

    /// The batch named `name`, if any.
    async fn batch(&self, name: &str) -> Result<Option<BatchSpec>, LedgerError>;

    /// Every batch, oldest first.
    async fn batches(&self) -> Result<Vec<BatchSpec>, LedgerError>;

    /// Claims up to `request.limit` due payouts, in id order, whose lease is
    /// free or expired: sets owner and lease, increases the fence.
    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<Claimed>, LedgerError>;

    /// Extends the leases of claims still held; `false` for a lost one.
    async fn renew(&self, claims: &[Claim], lease_ms: i64) -> Result<Vec<bool>, LedgerError>;

    /// Gives claims back without recording anything (the worker stops).
    async fn release(&self, claims: &[Claim]) -> Result<(), LedgerError>;

    /// Durably stores each payout's signed body (only if none is stored
    /// yet: a stored body is never replaced) and sets it `sending`, in one
    /// transaction, before the requests leave. `false` for a lost claim
    /// (do not send); a payout already paid is
    /// [`LedgerError::WrongState`].
    async fn mark_sending(&self, marks: &[(Claim, Vec<u8>)]) -> Result<Vec<bool>, LedgerError>;

    /// Records attempts and moves each payout to its attempt's outcome, in
    /// one transaction, and releases the claims. A payout that was paid
    /// never goes back to an unpaid state. `false` for a lost claim: the
    /// attempt is not recorded (the next owner queries).
    async fn record(&self, attempts: &[AttemptRecord]) -> Result<Vec<bool>, LedgerError>;

    /// [`Store::record`] of the finished `attempts`, then
    /// [`Store::mark_sending`] of the next `marks`: what a worker does
    /// between two groups of requests. A backend may do both in one durable
    /// transaction (SQLite: one fsync instead of two); the records are
    /// committed even when the marks fail ([`LedgerError::WrongState`]).
    /// The marks are durable when this returns, before any of their
    /// requests leaves. Returns the results of both, in order.
    async fn record_then_mark_sending(
        &self,
        attempts: &[AttemptRecord],
        marks: &[(Claim, Vec<u8>)],
    ) -> Result<(Vec<bool>, Vec<bool>), LedgerError> {
        let recorded = if attempts.is_empty() {
            Vec::new()
        } else {
            self.record(attempts).await?
        };
        let marked = if marks.is_empty() {
            Vec::new()
        } else {
            self.mark_sending(marks).await?
        };
        Ok((recorded, marked))
    }

    /// Gives a claimed payout that is definitely not paid under its bill
    /// (`not_paid`, `conflict`, `refunded`) a new bill number and request
    /// (a new payment): body cleared, state `planned`, claim released. The
    /// old number stays reserved. A taken `new_bill` is
    /// [`LedgerError::BillTaken`]; a lost claim is `Ok(false)`.
    async fn reissue(
        &self,
        claim: Claim,
        new_bill: &str,
        new_request_json: &str,
    ) -> Result<bool, LedgerError>;

    /// Reserves the next send slot of a rate (GCRA): `name` is the rate
    /// (`merchant`, or `employee:<openid>` for the 15 s spacing of pay to
    /// employee), `interval_ms` the time between two sends. Returns the
    /// unix time (ms) at which the caller may send (now or later); the slot
    /// is taken whether or not the caller uses it.
    async fn reserve_slot(
        &self,
        name: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, LedgerError>;

    /// Payouts matching `filter`, in id order.
    async fn payouts(&self, filter: &PayoutFilter) -> Result<Vec<Payout>, LedgerError>;

    /// One payout by id.
    async fn payout(&self, id: i64) -> Result<Payout, LedgerError>;

    /// One payout by key.
    async fn payout_by_key(&self, key: &str) -> Result<Option<Payout>, LedgerError>;

    /// Every attempt recorded for a payout, oldest first (their claims
    /// carry the fence they were made under).
    async fn attempts(&self, payout: i64) -> Result<Vec<AttemptRecord>, LedgerError>;

    /// Counts and totals per state and per not-paid code, of a batch or of
    /// the whole ledger.
    async fn summary(&self, batch: Option<&str>) -> Result<Summary, LedgerError>;

    /// Makes everything committed durable in the main store (SQLite: folds
    /// the WAL into the file). Called after an import and at exit.
    async fn checkpoint(&self) -> Result<(), LedgerError>;
}

// The rules every backend applies when a key is met again, written once:
// a backend only reads and writes rows.

/// Whether `given` is the payout `stored` already is: the same business
/// parameters, and the same bill number unless the ledger chose it.
pub(crate) fn is_same_payout(stored: &Payout, given: &NewPayout) -> bool {
    stored.params == given.params && (given.generated || stored.bill == given.bill)
}

/// `submit` with a key that exists: the stored payout when `given` is the
/// same payout, else the conflict showing both.
pub(crate) fn same_or_conflict(
    stored: Payout,
    given: &NewPayout,
) -> Result<Submitted, LedgerError> {
    if is_same_payout(&stored, given) {
        return Ok(Submitted {
            payout: stored,
            created: false,
        });
    }
    Err(LedgerError::KeyConflict {
        key: given.key.clone(),
        existing: format!("{} (bill {})", stored.params, stored.bill),
        given: if given.generated {
            given.params.clone()
        } else {
            format!("{} (bill {})", given.params, given.bill)
        },
    })
}

/// A re-imported row whose key holds a payout with other parameters.
pub(crate) fn changed_row(stored: &Payout, row: &NewPayout) -> ChangedRow {
    ChangedRow {
        line: row.line,
        key: row.key.clone(),
        old: format!("{} (bill {})", stored.params, stored.bill),
        new: row.params.clone(),
        state: stored.state,
    }
}

/// How far back a payout of another batch makes an imported row "similar":
/// 30 days.
pub(crate) const SIMILAR_WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// The condition (SQL, the same on both backends, over `payouts p` and
/// `attempts`) under which payout `p` makes a new row paying its payee its
/// amount "similar", given `since` (now minus [`SIMILAR_WINDOW_MS`]) as
/// the parameter written `{since}`:
///
/// - paid (`paid`, `received`, `refunded`): when it was paid — the first
///   attempt that found it paid (the stored payout's last change if no
///   attempt says so) — is at or after `since`. When it was planned does
///   not count: a batch planned long ago and paid yesterday warns.
/// - not settled (`planned`, `sending`, `unknown`): always — it may still
///   be paid, from now on, on top of the new row.
/// - definitely not paid (`not_paid`, `conflict`): never.
///
/// States are compared one by one: SQLite builds a temporary table for an
/// `IN` list of more than two constants each time the statement runs (for
/// every row of an import, here).
pub(crate) fn similar_condition(since: &str) -> String {
    format!(
        "(p.state = 'planned' OR p.state = 'sending' OR p.state = 'unknown'
          OR ((p.state = 'paid' OR p.state = 'received' OR p.state = 'refunded')
              AND COALESCE((SELECT min(a.finished_ms) FROM attempts a
                            WHERE a.payout_id = p.id
                              AND (a.outcome = 'paid' OR a.outcome = 'received' OR a.outcome = 'refunded')),
                           p.updated_ms) >= {since}))"
    )
}

/// Whether an edited row may replace `stored` (new parameters, new bill
/// number): only when no bill number of it can hold a payment — definitely
/// not paid, in conflict, or planned and never signed for sending — and no
/// worker holds its claim (`held`).
pub(crate) fn may_replace(stored: &Payout, held: bool) -> bool {
    let definitely_unpaid = match stored.state {
        PayoutState::NotPaid | PayoutState::Conflict => true,
        PayoutState::Planned => stored.body.is_none(),
        _ => false,
    };
    definitely_unpaid && !held
}

/// A row of an import whose key an earlier row of the same chunk has
/// (`first`): `None` when it is the same payout (unchanged), else the
/// changed row to refuse — a file that names one key twice with other
/// parameters is refused, never resolved by taking one of the rows.
pub(crate) fn repeated_key(first: &NewPayout, row: &NewPayout) -> Option<ChangedRow> {
    let same = first.params == row.params && (row.generated || first.bill == row.bill);
    (!same).then(|| ChangedRow {
        line: row.line,
        key: row.key.clone(),
        old: format!("{} (bill {})", first.params, first.bill),
        new: row.params.clone(),
        state: PayoutState::Planned,
    })
}

/// The rule for a payout whose bill number may be taken, written once for
/// both backends: a free number is kept; a taken number the caller chose
/// is refused (naming the holder); a taken number the ledger chose is
/// drawn again (and the stored request re-billed), at most eight times.
#[derive(Debug)]
pub(crate) struct BillDraw {
    bill: String,
    request_json: String,
    generated: bool,
    draws: u8,
}

impl BillDraw {
    pub(crate) fn new(payout: &NewPayout) -> Self {
        BillDraw {
            bill: payout.bill.clone(),
            request_json: payout.request_json.clone(),
            generated: payout.generated,
            draws: 0,
        }
    }

    /// The number to look up.
    pub(crate) fn bill(&self) -> &str {
        &self.bill
    }

    /// The number is free: it and the request under it.
    pub(crate) fn free(self) -> (String, String) {
        (self.bill, self.request_json)
    }

    /// The number is held by `holder`: `Some(holder)` when the caller chose
    /// it (refused), `None` once another number is drawn (look it up).
    pub(crate) fn taken(
        &mut self,
        holder: String,
        bills: &dyn BillSource,
    ) -> Result<Option<String>, LedgerError> {
        if !self.generated {
            return Ok(Some(holder));
        }
        if self.draws == 8 {
            return Err(LedgerError::Corrupt(
                "eight bill numbers drawn in a row were all taken".into(),
            ));
        }
        self.draws += 1;
        self.bill = bills.next_bill()?;
        self.request_json = crate::rebill(&self.request_json, &self.bill)?;
        Ok(None)
    }
}

/// The payouts a claim takes, as (state, further SQL condition) pairs.
/// The SQLite store searches its `payouts_state (state, id)` index once per
/// pair, in id order, and stops after a page: a claim costs the same
/// wherever the cursor is and however many payouts are done. (One `OR` of
/// the states made SQLite sort every due payout after the cursor for each
/// page: a pass was quadratic in its size.) The PostgreSQL store searches
/// the same index once per pair too, each search locking as it goes
/// (`FOR UPDATE SKIP LOCKED`), and takes the smallest ids of them all; one
/// `OR` made it walk its primary key from the cursor past every payout
/// already done (see the README).
pub(crate) fn due_arms(due: Due) -> &'static [(&'static str, &'static str)] {
    const NEXT_KEEPS_BILL: &str = "AND (next_step IS NULL OR next_step = 'retry_same_bill' OR next_step = 'resign_same_bill' OR next_step = 'query')";
    match due {
        Due::Pay => &[
            ("planned", ""),
            ("sending", ""),
            ("unknown", ""),
            ("not_paid", NEXT_KEEPS_BILL),
        ],
        Due::Planned => &[("planned", "")],
        Due::Renumber => &[("conflict", "AND generated = TRUE")],
        Due::Reissue => &[("not_paid", "AND next_step = 'new_bill'"), ("conflict", "")],
        Due::Refunded => &[("refunded", "")],
        Due::Sent => &[
            ("sending", ""),
            ("unknown", ""),
            ("paid", ""),
            ("not_paid", ""),
            ("conflict", ""),
            ("received", ""),
            ("refunded", ""),
        ],
        Due::Refresh => &[("paid", "")],
    }
}
