//! The engine: [`Ledger`] (open, submit, import, summaries), [`Worker`]
//! (pays what is due) and reconciliation, on any [`Store`].
//!
//! The worker takes payouts up by their typed state only:
//!
//! 1. `sending` / `unknown` (possibly sent; also payouts taken over from a
//!    worker whose lease expired) go to [`Client::resume`]: a query first,
//!    then the stored request under the same bill number;
//! 2. `not_paid` whose next step keeps the number (`NOTENOUGH`,
//!    `FREQ_LIMIT`, `SIGN_ERROR`…) are sent again under it
//!    ([`Client::execute`], re-signed by the client when the key changed);
//! 3. `planned` payouts are signed, their body stored and their state set
//!    to `sending` in one durable transaction, and only then sent.
//!
//! Every attempt is recorded with the client's [`NextStep`]. A new bill
//! number is issued only for a payout whose next step is
//! [`NextStep::NewBill`]: by itself after a conflict on a number the ledger
//! chose, otherwise only when asked (`reissue_not_paid`), and for a
//! refunded red packet only when asked (`resend_refunded`).
//!
//! A worker renews the leases of the claims it holds (queued, in flight or
//! waiting to be recorded) every third of the lease, in one
//! [`Store::renew`]. A queued claim whose renewal fails is dropped unsent;
//! a payout is sent only while its claim is known to be held (checked, by
//! a renewal if need be, after waiting for its quota slot), so no two
//! workers have one bill in flight at once.

use crate::store::Store;
use crate::{
    AttemptAction, AttemptRecord, BatchSpec, BillFactory, Binding, Claim, ClaimRequest, Claimed,
    Due, ImportPlan, LedgerError, NewPayout, Payout, PayoutState, Submitted, Summary, now_ms,
    params_of,
};
use hongbao::{Client, ClientError, NextStep, Outcome, Prepared};
use hongbao_proto::{AnyRequest, PayoutStatus, RedPacketStatus, UnknownReason};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

/// After this many consecutive refusals that every request of the
/// merchant would get, a worker stops instead of burning the rest.
pub const HALT_AFTER: u32 = 3;

/// Rows per import transaction.
const IMPORT_CHUNK: usize = 1000;

/// The merchant's send budget, shared by every worker of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quota {
    /// Sends per minute (WeChat: 1,800 per merchant).
    pub per_minute: u32,
    /// Time between two payments to one employee (pay to employee: 15 s).
    pub employee_spacing_ms: i64,
}

impl Quota {
    /// `per_minute` sends per minute, and WeChat's 15 s between two
    /// payments to one employee.
    pub fn per_minute(per_minute: u32) -> Self {
        Quota {
            per_minute,
            ..Quota::default()
        }
    }

    /// Sets the time between two payments to one employee (ms).
    pub fn with_employee_spacing_ms(mut self, spacing_ms: i64) -> Self {
        self.employee_spacing_ms = spacing_ms;
        self
    }
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            per_minute: 1800,
            employee_spacing_ms: 15_000,
        }
    }
}

/// How a ledger is used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerOptions {
    /// The namespace of generated bill numbers (after merchant id and date).
    pub bill_prefix: String,
    /// A ledger migrated from a journal that did not record its server is
    /// bound to this run's server (the operator says it is the same).
    pub adopt_unrecorded_server: bool,
    /// The shared send budget (`None`: only the client's own limiter; one
    /// process on SQLite needs nothing more). Several processes paying for
    /// one merchant set it, so that together they stay under WeChat's limit.
    pub quota: Option<Quota>,
    /// How long a claim holds (ms) before another worker may take the
    /// payout over.
    pub lease_ms: i64,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            bill_prefix: String::new(),
            adopt_unrecorded_server: false,
            quota: None,
            lease_ms: 10 * 60 * 1000,
        }
    }
}

impl LedgerOptions {
    /// Sets the bill prefix.
    pub fn bill_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.bill_prefix = prefix.into();
        self
    }
    /// Sets whether an unrecorded server is adopted.
    pub fn adopt_unrecorded_server(mut self, adopt: bool) -> Self {
        self.adopt_unrecorded_server = adopt;
        self
    }
    /// Sets the shared quota.
    pub fn quota(mut self, quota: Option<Quota>) -> Self {
        self.quota = quota;
        self
    }
    /// Sets the lease length (ms).
    pub fn lease_ms(mut self, lease_ms: i64) -> Self {
        self.lease_ms = lease_ms.max(1);
        self
    }
}

/// One merchant's ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
    binding: Binding,
    options: LedgerOptions,
}

impl Ledger {
    /// Opens the ledger at `location` for `binding`: a `postgres://` or
    /// `postgresql://` URL selects PostgreSQL, anything else is a SQLite
    /// file (created if missing, locked for this process, CLI journals
    /// migrated).
    pub async fn open(
        location: &str,
        binding: Binding,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        let store = open_store(location, &binding).await?;
        Ledger::from_store(store, binding, options).await
    }

    /// A ledger over a store of your own (checks or records the binding).
    pub async fn from_store(
        store: Arc<dyn Store>,
        binding: Binding,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        store
            .bind(&binding, options.adopt_unrecorded_server)
            .await?;
        Ok(Ledger {
            store,
            binding,
            options,
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The binding.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// The options.
    pub fn options(&self) -> &LedgerOptions {
        &self.options
    }

    fn bills_for(&self, request: &AnyRequest) -> BillFactory {
        BillFactory::new(
            &self.binding.mch_id,
            &self.options.bill_prefix,
            request.endpoint(),
        )
    }

    fn new_payout(
        &self,
        key: &str,
        batch: Option<&str>,
        line: u64,
        request: &AnyRequest,
        generate: bool,
    ) -> Result<NewPayout, LedgerError> {
        let bills = self.bills_for(request);
        let request = if generate {
            let bill = bills.generate()?;
            request
                .with_bill(&bill)
                .map_err(|v| LedgerError::Corrupt(format!("bill number {bill}: {v}")))?
        } else {
            request.clone()
        };
        let bill = request
            .bill()
            .ok_or_else(|| LedgerError::Corrupt("a payout needs a bill number".into()))?
            .to_owned();
        Ok(NewPayout {
            key: key.to_owned(),
            batch: batch.map(str::to_owned),
            line,
            openid: request.payee().map(|p| p.into_owned()).unwrap_or_default(),
            amount_fen: request.amount().map_or(0, |a| a.fen()),
            params: params_of(&request),
            bill,
            request_json: serde_json::to_string(&request)
                .map_err(|e| LedgerError::Corrupt(format!("request not serializable: {e}")))?,
            generated: generate,
        })
    }

    /// Stores a payout under `key`, idempotently; the ledger chooses its
    /// bill number (the request's own is replaced). The same key with the
    /// same parameters returns the stored payout; with others,
    /// [`LedgerError::KeyConflict`]. A worker pays it.
    pub async fn submit(&self, key: &str, request: &AnyRequest) -> Result<Submitted, LedgerError> {
        let payout = self.new_payout(key, None, 0, request, true)?;
        self.store.submit(&payout, &self.bills_for(request)).await
    }

    /// As [`Ledger::submit`], keeping the request's bill number (the caller
    /// insists; a number another payout has is [`LedgerError::BillTaken`]).
    pub async fn submit_with_bill(
        &self,
        key: &str,
        request: &AnyRequest,
    ) -> Result<Submitted, LedgerError> {
        let payout = self.new_payout(key, None, 0, request, false)?;
        self.store.submit(&payout, &self.bills_for(request)).await
    }

    /// Starts importing rows into a batch (see [`Importer`]).
    pub fn importer(&self, batch: BatchSpec, dry_run: bool) -> Importer<'_> {
        Importer {
            ledger: self,
            spec: batch,
            dry_run,
            chunk: Vec::new(),
            occurrences: HashMap::new(),
            plan: ImportPlan {
                committed: !dry_run,
                ..ImportPlan::default()
            },
            bills: None,
        }
    }

    /// A worker paying this ledger's due payouts through `client`.
    pub fn worker(&self, client: Client) -> Worker {
        Worker {
            ledger: self.clone(),
            client,
            options: WorkerOptions::default(),
        }
    }

    /// Counts and totals of a batch, or of the whole ledger.
    pub async fn summary(&self, batch: Option<&str>) -> Result<Summary, LedgerError> {
        self.store.summary(batch).await
    }

    /// Makes everything durable in the main store (SQLite: the WAL folded
    /// into the file). Call at exit.
    pub async fn checkpoint(&self) -> Result<(), LedgerError> {
        self.store.checkpoint().await
    }

    /// Queries WeChat for every sent payout (of a batch, or all) and records
    /// the answers; sends nothing. Each answer is checked against the
    /// payout's payee and amount. Unknown and sending payouts take the
    /// answer; a paid payout never goes back, and if WeChat does not confirm
    /// it, that is listed as a disagreement; a query that cannot decide
    /// never undoes a definite answer. Red packets move on to received or
    /// refunded.
    pub async fn reconcile(
        &self,
        client: &Client,
        batch: Option<&str>,
        concurrency: usize,
        events: Option<&UnboundedSender<Event>>,
    ) -> Result<ReconcileReport, LedgerError> {
        self.check(client, batch, concurrency, events, Due::Sent)
            .await
    }

    /// Asks WeChat about sent red packets (state `paid`) and records those
    /// that were opened (received) or came back (refunded), with times.
    pub async fn refresh(
        &self,
        client: &Client,
        batch: Option<&str>,
        concurrency: usize,
        events: Option<&UnboundedSender<Event>>,
    ) -> Result<ReconcileReport, LedgerError> {
        self.check(client, batch, concurrency, events, Due::Refresh)
            .await
    }

    async fn check(
        &self,
        client: &Client,
        batch: Option<&str>,
        concurrency: usize,
        events: Option<&UnboundedSender<Event>>,
        due: Due,
    ) -> Result<ReconcileReport, LedgerError> {
        let before = self.store.summary(batch).await?;
        let total = if due == Due::Refresh {
            before.get(PayoutState::Paid).0
        } else {
            before.payouts() - before.get(PayoutState::Planned).0
        };
        emit(
            events,
            Event::Phase {
                name: if due == Due::Refresh {
                    "refreshing"
                } else {
                    "reconciling"
                },
                total,
            },
        );
        let owner = format!("reconcile-{}-{}", std::process::id(), now_ms());
        let mut disagreements = Vec::new();
        let mut queried = 0u64;
        let mut cursor = 0i64;
        loop {
            let page = self
                .store
                .claim(&ClaimRequest {
                    owner: owner.clone(),
                    due,
                    batch: batch.map(str::to_owned),
                    after_id: cursor,
                    limit: concurrency.max(1) * 4,
                    lease_ms: self.options.lease_ms,
                })
                .await?;
            let Some(last) = page.last() else { break };
            cursor = last.payout.id;
            let mut set: JoinSet<(Claimed, Option<AttemptRecord>, Option<PayoutState>)> =
                JoinSet::new();
            for claimed in page {
                let client = client.clone();
                let endpoint = stored_request(&claimed.payout)?.endpoint();
                let prepared = stored_prepared(&claimed.payout)?;
                set.spawn(async move {
                    let started = now_ms();
                    let bill = claimed.payout.bill.clone();
                    let result = match &prepared {
                        Some(prepared) => client.status(prepared).await,
                        // Never sent under this bill: WeChat can only know
                        // it from someone else; ask by number.
                        None => {
                            client
                                .resolve(endpoint, &bill, tokio::time::Instant::now())
                                .await
                        }
                    };
                    // A payment of the payout's amount whose payee WeChat
                    // does not name (an unopened red packet) agrees with a
                    // payout recorded paid, and settles nothing else.
                    // An unopened packet that came back is named neither:
                    // its status (typed by proto) says refunded.
                    let unnamed = match &result {
                        Ok(Outcome::Unknown(u)) => match &u.reason {
                            UnknownReason::PayeeNotNamed { status } => {
                                Some(match RedPacketStatus::parse(status) {
                                    RedPacketStatus::Refunded
                                    | RedPacketStatus::RefundInProgress => PayoutState::Refunded,
                                    RedPacketStatus::Received => PayoutState::Received,
                                    _ => PayoutState::Paid,
                                })
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    let record = result.ok().map(|outcome| {
                        record_of(
                            claimed.claim,
                            &bill,
                            AttemptAction::Query,
                            started,
                            &outcome,
                        )
                    });
                    (claimed, record, unnamed)
                });
            }
            let mut records = Vec::new();
            let mut unanswered = Vec::new();
            while let Some(joined) = set.join_next().await {
                let Ok((claimed, record, unnamed)) = joined else {
                    continue;
                };
                let Some(mut record) = record else {
                    unanswered.push(claimed.claim);
                    continue;
                };
                let payout = &claimed.payout;
                queried += 1;
                match (payout.state, record.outcome) {
                    // Nothing new: keep received / refunded.
                    (stored, PayoutState::Paid) if stored.was_paid() => record.outcome = stored,
                    (stored, answer) if stored.was_paid() && answer.was_paid() => {}
                    (stored, PayoutState::Unknown) if stored.was_paid() && unnamed.is_some() => {
                        record.outcome = match unnamed {
                            Some(later @ (PayoutState::Refunded | PayoutState::Received)) => later,
                            _ => stored,
                        };
                        record.next_step = Some(NextStep::Done);
                    }
                    (stored, other) if stored.was_paid() => {
                        disagreements.push(format!(
                            "line {} key {} bill {}: ledger says {}, WeChat says {} ({})",
                            payout.line,
                            payout.key,
                            payout.bill,
                            stored,
                            other,
                            record.message.clone().unwrap_or_default()
                        ));
                    }
                    (PayoutState::NotPaid | PayoutState::Conflict, PayoutState::Unknown) => {
                        record.outcome = payout.state;
                        record.err_code = payout.err_code.clone();
                        record.next_step = payout.next_step;
                    }
                    _ => {}
                }
                emit(
                    events,
                    Event::Progress {
                        done: 1,
                        last: record.clone(),
                    },
                );
                records.push(record);
            }
            if !records.is_empty() {
                self.store.record(&records).await?;
            }
            if !unanswered.is_empty() {
                self.store.release(&unanswered).await?;
            }
        }
        emit(events, Event::PhaseDone);
        Ok(ReconcileReport {
            queried,
            disagreements,
            summary: self.store.summary(batch).await?,
        })
    }
}

/// Opens the store a location names: a `postgres://` or `postgresql://`
/// URL is a PostgreSQL ledger (feature `postgres`, see
/// `postgres::PgStore::open`), anything else a SQLite file.
pub async fn open_store(location: &str, binding: &Binding) -> Result<Arc<dyn Store>, LedgerError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = crate::postgres::PgStore::open(location).await?;
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(LedgerError::Unsupported(
            "a PostgreSQL ledger needs hongbao-ledger's `postgres` backend, which this build does not have; use a SQLite file path".into(),
        ));
    }
    #[cfg(feature = "sqlite")]
    {
        let store = crate::sqlite::SqliteStore::open(
            location,
            crate::sqlite::SqliteOptions {
                create: Some(binding.clone()),
                lock: true,
            },
        )?;
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = binding;
        Err(LedgerError::Unsupported(format!(
            "{location}: this build of hongbao-ledger has no SQLite backend (feature `sqlite`)"
        )))
    }
}

/// Imports rows into a batch, in chunks of 1,000 rows per transaction.
///
/// A row's key is the one given, or `<batch>/<openid>/<n>` for the n-th
/// row of that payee added to this importer. Re-importing the same file
/// (or an edited one) into the same batch is idempotent: unchanged rows are
/// the same payouts; see [`crate::Store::import`] for changed rows.
#[derive(Debug)]
pub struct Importer<'l> {
    ledger: &'l Ledger,
    spec: BatchSpec,
    dry_run: bool,
    chunk: Vec<NewPayout>,
    occurrences: HashMap<String, u32>,
    plan: ImportPlan,
    bills: Option<BillFactory>,
}

impl Importer<'_> {
    /// The key of the next row of `openid` without a key of its own.
    pub fn default_key(&mut self, openid: &str) -> String {
        let n = self.occurrences.entry(openid.to_owned()).or_insert(0);
        *n += 1;
        format!("{}/{}/{}", self.spec.name, openid, n)
    }

    /// Adds a row. `generate`: the ledger chooses the bill number (the
    /// request's is replaced); otherwise the request's is kept.
    pub async fn add(
        &mut self,
        line: u64,
        key: Option<String>,
        request: &AnyRequest,
        generate: bool,
    ) -> Result<(), LedgerError> {
        let key = match key {
            Some(key) => key,
            None => {
                let openid = request.payee().map(|p| p.into_owned()).unwrap_or_default();
                self.default_key(&openid)
            }
        };
        if self.bills.is_none() {
            self.bills = Some(self.ledger.bills_for(request));
        }
        let payout =
            self.ledger
                .new_payout(&key, Some(&self.spec.name), line, request, generate)?;
        self.chunk.push(payout);
        if self.chunk.len() >= IMPORT_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), LedgerError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let bills = match &self.bills {
            Some(bills) => bills.clone(),
            None => return Ok(()),
        };
        let plan = self
            .ledger
            .store
            .import(&self.spec, &self.chunk, &bills, self.dry_run, now_ms())
            .await?;
        self.chunk.clear();
        self.plan.merge(plan);
        Ok(())
    }

    /// Imports what is left and returns the plan of the whole import.
    /// After a committed import the store is checkpointed.
    pub async fn finish(mut self) -> Result<ImportPlan, LedgerError> {
        self.flush().await?;
        if self.plan.committed {
            self.ledger.store.checkpoint().await?;
        }
        Ok(self.plan)
    }
}

/// What a worker reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A phase starts with `total` payouts to handle.
    Phase {
        /// `resolving`, `paying`, `reconciling`, `refreshing`.
        name: &'static str,
        /// Payouts to handle.
        total: u64,
    },
    /// `done` more payouts finished; `last` is the last attempt recorded.
    Progress {
        /// How many.
        done: u64,
        /// The last attempt.
        last: AttemptRecord,
    },
    /// The phase ended.
    PhaseDone,
}

fn emit(events: Option<&UnboundedSender<Event>>, event: Event) {
    if let Some(events) = events {
        // A dropped receiver (the UI went away) stops nothing.
        let _ = events.send(event);
    }
}

/// Stops a worker: no new request starts, the ones in flight finish and are
/// recorded.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle not stopped yet.
    pub fn new() -> Self {
        StopHandle::default()
    }
    /// A handle over an existing flag (e.g. set by a Ctrl-C handler).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        StopHandle(flag)
    }
    /// Asks the worker to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether it was asked to stop.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a worker works.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Only this batch (`None`: every due payout of the ledger).
    pub batch: Option<String>,
    /// The worker's name in claims.
    pub owner: String,
    /// Give definitely failed payouts (next step: a new bill) a new bill
    /// number and pay them again.
    pub reissue_not_paid: bool,
    /// Pay refunded red packets again under a new bill number.
    pub resend_refunded: bool,
    /// Where progress events go.
    pub events: Option<UnboundedSender<Event>>,
    /// The stop flag.
    pub stop: StopHandle,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 8,
            batch: None,
            owner: format!("worker-{}-{}", std::process::id(), now_ms()),
            reissue_not_paid: false,
            resend_refunded: false,
            events: None,
            stop: StopHandle::new(),
        }
    }
}

/// What a pass of a worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Payouts resolved from an earlier attempt (query, then resend).
    pub resumed: u64,
    /// Payouts sent for the first time (under their current bill).
    pub sent: u64,
    /// Payouts given a new bill number on request.
    pub reissued: u64,
    /// Payouts given a new bill number by the ledger itself after a bill
    /// conflict on a number it had chosen: `(line, old bill, new bill)`.
    pub renumbered: Vec<(u64, String, String)>,
    /// Results discarded because another worker had taken the payout over.
    pub lost_claims: u64,
    /// Stopped early (stop handle).
    pub interrupted: bool,
    /// Stopped by itself: the merchant's requests were all being refused
    /// for one reason (key, certificate, balance…): what to fix.
    pub halted: Option<String>,
    /// The summary at the end (of the worker's batch, or the ledger).
    pub summary: Summary,
}

/// What reconcile (or refresh) found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Payouts queried.
    pub queried: u64,
    /// Payouts the ledger says paid that WeChat does not confirm.
    pub disagreements: Vec<String>,
    /// The summary afterwards.
    pub summary: Summary,
}

/// Pays a ledger's due payouts (see the module docs).
#[derive(Debug, Clone)]
pub struct Worker {
    ledger: Ledger,
    client: Client,
    options: WorkerOptions,
}

impl Worker {
    /// Sets the options.
    pub fn with_options(mut self, options: WorkerOptions) -> Self {
        self.options = options;
        self
    }
    /// Sets how many requests are in flight at once (default 8). The
    /// client's transport should keep at least as many idle connections
    /// (the default transport keeps 256): a request beyond its pool opens a
    /// new TLS connection.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options.concurrency = n.max(1);
        self
    }
    /// Only this batch.
    pub fn batch(mut self, batch: Option<String>) -> Self {
        self.options.batch = batch;
        self
    }
    /// Progress events to this channel.
    pub fn events(mut self, events: UnboundedSender<Event>) -> Self {
        self.options.events = Some(events);
        self
    }
    /// Reissue definitely failed payouts under new bill numbers.
    pub fn reissue_not_paid(mut self, yes: bool) -> Self {
        self.options.reissue_not_paid = yes;
        self
    }
    /// Pay refunded red packets again under new bill numbers.
    pub fn resend_refunded(mut self, yes: bool) -> Self {
        self.options.resend_refunded = yes;
        self
    }
    /// The stop handle (clone it to stop the worker from elsewhere).
    pub fn stop_handle(&self) -> StopHandle {
        self.options.stop.clone()
    }
    /// Uses this stop handle.
    pub fn with_stop(mut self, stop: StopHandle) -> Self {
        self.options.stop = stop;
        self
    }

    /// Pays until stopped: passes over the due payouts, pausing `idle`
    /// when a pass found nothing to do. Returns the last pass's report.
    pub async fn run_until_stopped(&self, idle: Duration) -> Result<RunReport, LedgerError> {
        loop {
            let report = self.run_pass().await?;
            if report.interrupted || report.halted.is_some() || self.options.stop.is_stopped() {
                return Ok(report);
            }
            if report.sent + report.resumed == 0 {
                let deadline = tokio::time::Instant::now() + idle;
                while tokio::time::Instant::now() < deadline {
                    if self.options.stop.is_stopped() {
                        return Ok(report);
                    }
                    tokio::time::sleep(Duration::from_millis(50).min(idle)).await;
                }
            }
        }
    }

    /// One pass: resolves what earlier attempts left open, then pays every
    /// planned payout (renumbering conflicts on bill numbers the ledger
    /// chose, up to three rounds).
    ///
    /// The pass runs as a task of the current tokio runtime (required, as
    /// for the requests), whatever thread polls this future: the requests'
    /// tasks then wake it on the runtime's own threads. Polled by a thread
    /// outside the runtime (a `block_on` in `main`, as the CLI does), each
    /// finished request had to wake that thread: 3–5% fewer payouts per
    /// second (the ledger README's figures). Dropping this future stops the
    /// pass where it awaits, as before (the task is aborted); a panic in
    /// the pass is raised here.
    pub async fn run_pass(&self) -> Result<RunReport, LedgerError> {
        /// Aborts the pass when the caller's future is dropped.
        struct Abort(tokio::task::AbortHandle);
        impl Drop for Abort {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let worker = self.clone();
        let task = tokio::spawn(async move { worker.pass().await });
        let _abort = Abort(task.abort_handle());
        match task.await {
            Ok(report) => report,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: the runtime is shutting down (the guard above
                // aborts only once this future is gone).
                Err(_) => Err(LedgerError::Io {
                    path: self.ledger.store.location().to_owned(),
                    detail: "the worker's pass was cancelled: the runtime is shutting down".into(),
                }),
            },
        }
    }

    async fn pass(&self) -> Result<RunReport, LedgerError> {
        let store = &self.ledger.store;
        let batch = self.options.batch.as_deref();
        let mut halt = Halt::default();
        let mut renumbered = Vec::new();
        let mut reissued = 0;
        if self.options.reissue_not_paid {
            reissued += self.reissue(Due::Reissue, &mut Vec::new()).await?;
        }
        if self.options.resend_refunded {
            reissued += self.reissue(Due::Refunded, &mut Vec::new()).await?;
        }
        let mut lost = 0;
        let pending = store.summary(batch).await?;
        let to_resolve = pending.get(PayoutState::Sending).0
            + pending.get(PayoutState::Unknown).0
            + pending.get(PayoutState::NotPaid).0;
        let mut resumed = 0;
        let mut sent = 0;
        let mut interrupted = false;
        // At most three rounds: a number drawn again meets another payment
        // only by a chance of about one in 10^17.
        for round in 0..3 {
            if interrupted || halt.reason.is_some() {
                break;
            }
            if round > 0 {
                self.reissue(Due::Renumber, &mut renumbered).await?;
            }
            let summary = store.summary(batch).await?;
            let planned = summary.get(PayoutState::Planned).0;
            if round > 0 && planned == 0 {
                break;
            }
            let (name, total) = if round == 0 {
                ("paying", planned + to_resolve)
            } else {
                ("paying", planned)
            };
            emit(self.options.events.as_ref(), Event::Phase { name, total });
            let due = if round == 0 { Due::Pay } else { Due::Planned };
            let pass = self.windowed(due, &mut halt).await?;
            emit(self.options.events.as_ref(), Event::PhaseDone);
            resumed += pass.resumed;
            sent += pass.sent;
            lost += pass.lost;
            interrupted = pass.stopped && halt.reason.is_none();
            if round == 0 && !interrupted && halt.reason.is_none() {
                // Conflicts of this round are renumbered in the next.
                let conflicts = store.summary(batch).await?.get(PayoutState::Conflict).0;
                if conflicts == 0 {
                    break;
                }
            }
        }
        Ok(RunReport {
            resumed,
            sent,
            reissued,
            renumbered,
            lost_claims: lost,
            interrupted,
            halted: halt.reason,
            summary: store.summary(batch).await?,
        })
    }

    fn claim_request(&self, due: Due, after_id: i64, limit: usize) -> ClaimRequest {
        ClaimRequest {
            owner: self.options.owner.clone(),
            due,
            batch: self.options.batch.clone(),
            after_id,
            limit,
            lease_ms: self.ledger.options.lease_ms,
        }
    }

    /// Gives due payouts a new bill number and plans them again:
    /// `Renumber`: conflicts on numbers the ledger chose; `Reissue`: every
    /// payout whose decision is a new bill; `Refunded`: refunded packets.
    async fn reissue(
        &self,
        due: Due,
        renumbered: &mut Vec<(u64, String, String)>,
    ) -> Result<u64, LedgerError> {
        let store = &self.ledger.store;
        let mut count = 0;
        let mut cursor = 0;
        loop {
            let page = store.claim(&self.claim_request(due, cursor, 500)).await?;
            let Some(last) = page.last() else {
                return Ok(count);
            };
            cursor = last.payout.id;
            for claimed in page {
                let payout = &claimed.payout;
                let request = stored_request(payout)?;
                let bills = self.ledger.bills_for(&request);
                let mut done = false;
                for _ in 0..3 {
                    let bill = bills.generate()?;
                    let json = crate::rebill(&payout.request_json, &bill)?;
                    match store.reissue(claimed.claim, &bill, &json).await {
                        Ok(true) => {
                            if due == Due::Renumber {
                                renumbered.push((payout.line, payout.bill.clone(), bill));
                            }
                            count += 1;
                            done = true;
                            break;
                        }
                        Ok(false) => {
                            done = true;
                            break;
                        }
                        Err(LedgerError::BillTaken { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                if !done {
                    store.release(&[claimed.claim]).await?;
                }
            }
        }
    }

    /// Works through the due payouts once, at most `concurrency` requests
    /// in flight, claiming in pages and recording finished attempts in
    /// groups.
    async fn windowed(&self, due: Due, halt: &mut Halt) -> Result<Pass, LedgerError> {
        let store = &self.ledger.store;
        let concurrency = self.options.concurrency.max(1);
        let page_size = (concurrency * 4).max(64);
        // Group commit: new requests are launched (one durable
        // `mark_sending`) when at least half the window is free, and the
        // finished ones are recorded (one durable `record`) just before.
        // A result waiting in memory is safe: its payout stays `sending`
        // until recorded, and a crash leaves it to a query.
        let refill_at = (concurrency / 2).max(1);
        let mut queue: VecDeque<Claimed> = VecDeque::new();
        let mut inflight: JoinSet<Done> = JoinSet::new();
        let mut pending: Vec<AttemptRecord> = Vec::new();
        let mut cursor = 0i64;
        let mut exhausted = false;
        let mut pass = Pass::default();
        // Every claim held is renewed every third of the lease.
        let lease_ms = self.ledger.options.lease_ms;
        let renew_every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(0).max(1));
        let mut next_renewal = tokio::time::Instant::now() + renew_every;
        let mut leases: HashMap<i64, Lease> = HashMap::new();
        let mut flying: HashMap<i64, Claim> = HashMap::new();
        loop {
            if tokio::time::Instant::now() >= next_renewal {
                let held = Held {
                    queue: &mut queue,
                    flying: &flying,
                    pending: &pending,
                };
                self.renew(held, &mut leases, &mut pass).await?;
                next_renewal = tokio::time::Instant::now() + renew_every;
            }
            let stopping = self.options.stop.is_stopped() || halt.reason.is_some();
            let free = concurrency - inflight.len();
            if !stopping && (free >= refill_at || inflight.is_empty()) {
                if queue.is_empty() && !exhausted {
                    let asked = now_ms();
                    let page = store
                        .claim(&self.claim_request(due, cursor, page_size))
                        .await?;
                    match page.last() {
                        None => exhausted = true,
                        Some(last) => cursor = last.payout.id,
                    }
                    for claimed in &page {
                        leases.insert(claimed.payout.id, Lease::until(asked + lease_ms));
                    }
                    queue.extend(page);
                }
                if !queue.is_empty() {
                    let n = free.min(queue.len());
                    let group: Vec<Claimed> = queue.drain(..n).collect();
                    // The finished attempts are recorded in the transaction
                    // that marks the group sending.
                    for work in self.launch(group, &leases, &mut pending, &mut pass).await? {
                        if let Work::Send(send) = &work {
                            flying.insert(send.claimed.payout.id, send.claimed.claim);
                        }
                        inflight.spawn(work.run());
                    }
                    continue;
                }
            }
            if inflight.is_empty() {
                self.flush(&mut pending, &mut pass).await?;
            }
            let joined = tokio::select! {
                joined = inflight.join_next() => joined,
                () = tokio::time::sleep_until(next_renewal), if !inflight.is_empty() => continue,
            };
            let Some(first) = joined else {
                if !queue.is_empty() {
                    let claims: Vec<Claim> = queue.iter().map(|c| c.claim).collect();
                    store.release(&claims).await?;
                }
                pass.stopped = stopping && !(exhausted && queue.is_empty());
                return Ok(pass);
            };
            let mut finished = 0u64;
            let before = pending.len();
            let mut push = |joined: Result<Done, tokio::task::JoinError>| {
                if let Ok(done) = joined {
                    finished += 1;
                    if let Some(payout) = done.payout {
                        flying.remove(&payout);
                    }
                    if done.lost {
                        // Nothing was asked of WeChat: no news for the halt.
                        pass.lost += 1;
                    } else {
                        halt.see(done.halt);
                    }
                    if let Some(take) = done.take {
                        if take == Take::Fresh {
                            pass.sent += 1;
                        } else {
                            pass.resumed += 1;
                        }
                    }
                    pending.extend(done.records);
                }
            };
            push(first);
            while let Some(more) = inflight.try_join_next() {
                push(more);
            }
            if let Some(last) = pending.get(before..).and_then(|new| new.last()) {
                emit(
                    self.options.events.as_ref(),
                    Event::Progress {
                        done: finished,
                        last: last.clone(),
                    },
                );
            }
        }
    }

    /// Renews every claim the window holds in one transaction and notes
    /// until when each is held. A queued claim that was lost is dropped
    /// (it is another worker's now); one in flight is sent only after a
    /// check of its own (see [`Work::run`]) and its result is discarded by
    /// the fence.
    async fn renew(
        &self,
        held: Held<'_>,
        leases: &mut HashMap<i64, Lease>,
        pass: &mut Pass,
    ) -> Result<(), LedgerError> {
        let claims: Vec<Claim> = held
            .queue
            .iter()
            .map(|c| c.claim)
            .chain(held.flying.values().copied())
            .chain(held.pending.iter().map(|r| r.claim))
            .collect();
        let ids: HashSet<i64> = claims.iter().map(|c| c.payout).collect();
        leases.retain(|id, _| ids.contains(id));
        if claims.is_empty() {
            return Ok(());
        }
        let lease_ms = self.ledger.options.lease_ms;
        let asked = now_ms();
        let renewed = self.ledger.store.renew(&claims, lease_ms).await?;
        let mut lost = HashSet::new();
        for (claim, renewed) in claims.iter().zip(renewed) {
            let until = if renewed {
                asked + lease_ms
            } else {
                lost.insert(claim.payout);
                Lease::LOST
            };
            leases
                .entry(claim.payout)
                .or_insert_with(|| Lease::until(Lease::LOST))
                .set(until);
        }
        let before = held.queue.len();
        held.queue.retain(|c| !lost.contains(&c.payout.id));
        pass.lost += (before - held.queue.len()) as u64;
        Ok(())
    }

    /// Records the finished attempts waiting in memory, in one transaction.
    async fn flush(
        &self,
        pending: &mut Vec<AttemptRecord>,
        pass: &mut Pass,
    ) -> Result<(), LedgerError> {
        if pending.is_empty() {
            return Ok(());
        }
        let held = self.ledger.store.record(pending).await?;
        pass.lost += held.iter().filter(|h| !**h).count() as u64;
        pending.clear();
        Ok(())
    }

    /// Turns claimed payouts into work: decides from each one's typed state
    /// how it is taken up, stores the bodies to send (durably, `sending`)
    /// and returns the requests to make.
    ///
    /// The finished attempts waiting in `pending` are recorded in the same
    /// transaction (one durable commit for both).
    async fn launch(
        &self,
        group: Vec<Claimed>,
        leases: &HashMap<i64, Lease>,
        pending: &mut Vec<AttemptRecord>,
        pass: &mut Pass,
    ) -> Result<Vec<Work>, LedgerError> {
        let store = &self.ledger.store;
        let client = &self.client;
        let mut ready: Vec<(Claimed, Prepared, Take, Vec<u8>)> = Vec::with_capacity(group.len());
        let mut refused: Vec<AttemptRecord> = Vec::new();
        let mut skipped: Vec<Claim> = Vec::new();
        let mut halts: Vec<Option<String>> = Vec::new();
        for claimed in group {
            let payout = &claimed.payout;
            let take = match (payout.state, payout.next_step, &payout.body) {
                (PayoutState::Planned, _, _) | (_, _, None) => Take::Fresh,
                (PayoutState::NotPaid, Some(NextStep::RetrySameBill { .. }), Some(_)) => {
                    Take::Again
                }
                // A definite failure waits for `reissue_not_paid`.
                (PayoutState::NotPaid, Some(NextStep::NewBill | NextStep::Done), _) => {
                    skipped.push(claimed.claim);
                    continue;
                }
                _ => Take::Resume,
            };
            let request = stored_request(payout)?;
            let endpoint = request.endpoint();
            let started = now_ms();
            let prepared = match (take, stored_prepared(payout)?) {
                (Take::Fresh, _) | (_, None) => client.prepare_any(&request),
                // The stored body is sent again as stored; one signed with
                // another key is signed again by the client (same
                // parameters). Checked here so that a body the client
                // cannot send counts towards the halt without a request.
                (_, Some(stored)) => client.refresh(&stored).map(|_| stored),
            };
            match prepared {
                Ok(prepared) => {
                    let bytes = serde_json::to_vec(&prepared).map_err(|e| {
                        LedgerError::Corrupt(format!("payout {}: body: {e}", payout.id))
                    })?;
                    ready.push((claimed, prepared, take, bytes));
                }
                Err(err) => {
                    // Nothing was sent: the payout keeps its state.
                    halts.push(halt_reason(endpoint, Err(&err)));
                    refused.push(not_sent(
                        &claimed,
                        payout.state,
                        AttemptAction::Send,
                        started,
                        &err,
                    ));
                }
            }
        }
        if !skipped.is_empty() {
            store.release(&skipped).await?;
        }
        let marks: Vec<(Claim, Vec<u8>)> = ready
            .iter_mut()
            .map(|(claimed, _, _, bytes)| (claimed.claim, std::mem::take(bytes)))
            .collect();
        let finished = pending.len();
        pending.extend(refused);
        let (recorded, marked) = store.record_then_mark_sending(pending, &marks).await?;
        pass.lost += recorded
            .iter()
            .take(finished)
            .filter(|held| !**held)
            .count() as u64;
        pending.clear();
        let mut work = Vec::with_capacity(ready.len() + halts.len());
        for halt in halts {
            // Signing failed locally: counted towards the halt like a refusal.
            work.push(Work::Local(halt));
        }
        for ((claimed, prepared, take, _), marked) in ready.into_iter().zip(marked) {
            if !marked {
                // Another worker took it over: it is theirs.
                continue;
            }
            let slot = self.slot(&claimed.payout, &prepared).await?;
            // Unknown here: checked by a renewal before sending.
            let lease = leases
                .get(&claimed.payout.id)
                .cloned()
                .unwrap_or_else(|| Lease::until(Lease::LOST));
            work.push(Work::Send(Box::new(SendWork {
                client: client.clone(),
                store: Arc::clone(store),
                lease_ms: self.ledger.options.lease_ms,
                lease,
                claimed,
                prepared,
                take,
                send_at_ms: slot,
            })));
        }
        Ok(work)
    }

    /// The time this payout may be sent under the shared quota (and the
    /// spacing of payments to one employee); `None` without a quota.
    async fn slot(&self, payout: &Payout, prepared: &Prepared) -> Result<Option<i64>, LedgerError> {
        let Some(quota) = self.ledger.options.quota else {
            return Ok(None);
        };
        let store = &self.ledger.store;
        let now = now_ms();
        // Rounded up: 1,800/min is one send per 33.4 ms, and 33 ms
        // would be 1,818/min, over the limit.
        let per_minute = i64::from(quota.per_minute.max(1));
        let interval = (60_000 + per_minute - 1) / per_minute;
        let mut at = store.reserve_slot("merchant", interval.max(1), now).await?;
        if prepared.endpoint() == hongbao_proto::Endpoint::PayEmployee {
            let employee = store
                .reserve_slot(
                    &format!("employee:{}", payout.openid),
                    quota.employee_spacing_ms,
                    now,
                )
                .await?;
            at = at.max(employee);
        }
        Ok(Some(at))
    }
}

/// The claims a window holds: queued, in flight, finished but not yet
/// recorded.
struct Held<'a> {
    queue: &'a mut VecDeque<Claimed>,
    flying: &'a HashMap<i64, Claim>,
    pending: &'a [AttemptRecord],
}

/// Until when (ms since the epoch, by this machine's clock, measured from
/// before the claim or renewal was asked) a claim is surely held; shared
/// between the window, which renews it, and the payout's work, which sends
/// only while it holds.
#[derive(Debug, Clone)]
struct Lease(Arc<AtomicI64>);

impl Lease {
    /// Lost (or not known to be held).
    const LOST: i64 = 0;

    fn until(ms: i64) -> Self {
        Lease(Arc::new(AtomicI64::new(ms)))
    }
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    fn get(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What one pass of the window did.
#[derive(Debug, Default)]
struct Pass {
    resumed: u64,
    sent: u64,
    lost: u64,
    stopped: bool,
}

/// How a payout with a stored request is taken up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    /// Never sent: sign and send.
    Fresh,
    /// Refused with a keep-the-number code and nothing uncertain: send the
    /// same bill again (re-signed by the client if the key changed).
    Again,
    /// May have been sent: query first, then the same bill again.
    Resume,
}

/// What one payout's work produced.
struct Done {
    records: Vec<AttemptRecord>,
    /// Set when refused for a reason every other payout would be refused
    /// for too (merchant-wide), with the text to show.
    halt: Option<String>,
    /// How it was taken up (`None`: nothing was sent).
    take: Option<Take>,
    /// The payout it was about (`None`: nothing to send).
    payout: Option<i64>,
    /// Not sent: its claim was lost before the request could leave.
    lost: bool,
}

/// One payout's work.
enum Work {
    /// Nothing to send (it failed locally).
    Local(Option<String>),
    /// A request to make.
    Send(Box<SendWork>),
}

struct SendWork {
    client: Client,
    store: Arc<dyn Store>,
    lease_ms: i64,
    lease: Lease,
    claimed: Claimed,
    prepared: Prepared,
    take: Take,
    send_at_ms: Option<i64>,
}

impl Work {
    async fn run(self) -> Done {
        let send = match self {
            Work::Local(halt) => {
                return Done {
                    records: Vec::new(),
                    halt,
                    take: None,
                    payout: None,
                    lost: false,
                };
            }
            Work::Send(send) => *send,
        };
        let SendWork {
            client,
            store,
            lease_ms,
            lease,
            claimed,
            prepared,
            take,
            send_at_ms,
        } = send;
        let payout = Some(claimed.payout.id);
        if let Some(at) = send_at_ms {
            let wait = at - now_ms();
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
            }
        }
        // Sent only while surely held: the window renews every third of
        // the lease; with less than that left (a renewal late, or the
        // claim lost), the claim is renewed here, and a lost one (or one
        // the store cannot confirm) is not sent: it is another worker's.
        if lease.get() - now_ms() < lease_ms / 3 {
            let asked = now_ms();
            let held = matches!(
                store.renew(&[claimed.claim], lease_ms).await.as_deref(),
                Ok([true])
            );
            if !held {
                lease.set(Lease::LOST);
                return Done {
                    records: Vec::new(),
                    halt: None,
                    take: None,
                    payout,
                    lost: true,
                };
            }
            lease.set(asked + lease_ms);
        }
        let started = now_ms();
        let (action, result) = match take {
            Take::Fresh => (AttemptAction::Send, client.execute(&prepared).await),
            Take::Again => (AttemptAction::Resend, client.execute(&prepared).await),
            Take::Resume => (AttemptAction::Resume, client.resume(&prepared).await),
        };
        let halt = halt_reason(prepared.endpoint(), result.as_ref());
        let record = match &result {
            Ok(outcome) => record_of(
                claimed.claim,
                &claimed.payout.bill,
                action,
                started,
                outcome,
            ),
            Err(err) => {
                // Nothing sent by this call: the payout is as it was before
                // it was marked `sending` (planned if never sent).
                let before = if take == Take::Fresh {
                    PayoutState::Planned
                } else {
                    claimed.payout.state
                };
                not_sent(&claimed, before, action, started, err)
            }
        };
        Done {
            records: vec![record],
            halt,
            take: Some(take),
            payout,
            lost: false,
        }
    }
}

/// Counts consecutive merchant-wide refusals.
#[derive(Debug, Default)]
struct Halt {
    streak: u32,
    reason: Option<String>,
}

impl Halt {
    fn see(&mut self, refusal: Option<String>) {
        match refusal {
            Some(why) => {
                self.streak += 1;
                if self.streak >= HALT_AFTER && self.reason.is_none() {
                    self.reason = Some(why);
                }
            }
            None => self.streak = 0,
        }
    }
}

/// The record of an answer: the state follows the typed outcome; a paid
/// red packet that WeChat reports opened or refunded is `received` or
/// `refunded`.
fn record_of(
    claim: Claim,
    bill: &str,
    action: AttemptAction,
    started_ms: i64,
    outcome: &Outcome,
) -> AttemptRecord {
    let base = AttemptRecord {
        claim,
        bill: bill.to_owned(),
        action,
        outcome: PayoutState::Unknown,
        err_code: None,
        wechat_id: None,
        message: None,
        started_ms,
        finished_ms: now_ms(),
        next_step: Some(outcome.next_step()),
    };
    match outcome {
        Outcome::Paid(receipt) => AttemptRecord {
            outcome: match receipt.status {
                Some(PayoutStatus::Received) => PayoutState::Received,
                Some(PayoutStatus::Refunded | PayoutStatus::RefundInProgress) => {
                    PayoutState::Refunded
                }
                _ => PayoutState::Paid,
            },
            wechat_id: receipt.wechat_id.clone(),
            ..base
        },
        Outcome::NotPaid(not_paid) => AttemptRecord {
            outcome: PayoutState::NotPaid,
            err_code: Some(not_paid.code.as_str().to_owned()),
            message: not_paid.message.clone(),
            ..base
        },
        Outcome::Unknown(unknown) => AttemptRecord {
            outcome: PayoutState::Unknown,
            err_code: match &unknown.reason {
                UnknownReason::ErrorCode { code, .. } | UnknownReason::QueryFailed { code } => {
                    Some(code.as_str().to_owned())
                }
                _ => None,
            },
            message: Some(unknown.reason.to_string()),
            ..base
        },
        Outcome::Conflict(conflict) => AttemptRecord {
            outcome: PayoutState::Conflict,
            message: Some(conflict.to_string()),
            ..base
        },
    }
}

/// An attempt that sent nothing (`Err` from the client): the payout keeps
/// the state it had (`planned` if it was never sent, else as unknown as
/// before).
fn not_sent(
    claimed: &Claimed,
    before: PayoutState,
    action: AttemptAction,
    started_ms: i64,
    err: &ClientError,
) -> AttemptRecord {
    let payout = &claimed.payout;
    let (outcome, next_step) = match before {
        PayoutState::Planned => (PayoutState::Planned, None),
        PayoutState::NotPaid => (PayoutState::NotPaid, payout.next_step),
        _ if payout.body.is_none() => (PayoutState::Planned, None),
        _ => (PayoutState::Unknown, Some(NextStep::Query)),
    };
    AttemptRecord {
        claim: claimed.claim,
        bill: payout.bill.clone(),
        action,
        outcome,
        err_code: None,
        wechat_id: None,
        message: Some(format!("not sent: {err}")),
        started_ms,
        finished_ms: now_ms(),
        next_step,
    }
}

/// Whether an answer (or an error) stops the worker: a refusal that every
/// other request of the merchant would get as well (typed in the proto
/// crate), or a configuration the client cannot sign with.
fn halt_reason(
    endpoint: hongbao_proto::Endpoint,
    result: Result<&Outcome, &ClientError>,
) -> Option<String> {
    match result {
        Ok(Outcome::NotPaid(n)) if n.code.is_merchant_wide(endpoint) => Some(format!(
            "WeChat refuses this merchant's requests with {}{}: fix it (key, certificate, balance, permissions), then rerun the same command; the payouts not sent yet are still planned",
            n.code.as_str(),
            n.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        Err(ClientError::Config(e)) => Some(format!(
            "configuration: {e}; fix it, then rerun the same command (nothing was sent for these payouts)"
        )),
        _ => None,
    }
}

/// The signed request stored for a payout, if any.
pub fn stored_prepared(payout: &Payout) -> Result<Option<Prepared>, LedgerError> {
    match &payout.body {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(bytes).map(Some).map_err(|e| {
            LedgerError::Corrupt(format!("payout {}: stored body unreadable: {e}", payout.id))
        }),
    }
}

/// The request stored for a payout.
pub fn stored_request(payout: &Payout) -> Result<AnyRequest, LedgerError> {
    serde_json::from_str(&payout.request_json).map_err(|e| {
        LedgerError::Corrupt(format!(
            "payout {}: stored request unreadable: {e}",
            payout.id
        ))
    })
}
