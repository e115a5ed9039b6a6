//! Batch payouts from a CSV file: a thin shell over [`hongbao_ledger`].
//!
//! [`plan`] validates the whole file (every bad row is reported with line,
//! field and rule), then imports it into a named batch of the ledger: each
//! row is a payout keyed by its `key` column, or else by (batch, openid,
//! n-th occurrence of that openid). Re-importing the same file is a no-op;
//! an edited file adds its new rows, and a row whose payout may be paid but
//! whose parameters changed is refused with the list of such rows. [`run`]
//! then has a ledger [`Worker`](hongbao_ledger::Worker) pay the batch, and
//! [`reconcile`] asks WeChat about every sent payout.
//!
//! Every money decision is the ledger's, made on the client's typed
//! outcome; this module reads files and shows progress.

use crate::config::Texts;
use crate::input::{InputError, Payouts, RowIssue};
use crate::payout::{Kind, PayoutInput, build};
use hongbao::{Client, ClientError, Prepared};
use hongbao_ledger::{
    AttemptRecord, BatchSpec, Event, ImportPlan, Ledger, LedgerError, ReconcileReport, RunReport,
    StopHandle, now_ms,
};
use hongbao_proto::{AnyRequest, BillNo, Date, TradeNo};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The merchant and defaults a batch is planned with.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// What to pay.
    pub kind: Kind,
    /// The batch name.
    pub batch: String,
    /// Default texts.
    pub defaults: Texts,
    /// `client_ip` / `spbill_create_ip`.
    pub client_ip: String,
    /// Plan the valid rows even if some are invalid.
    pub skip_invalid: bool,
    /// Import only (the caller sends nothing).
    pub dry_run: bool,
    /// Caps, duplicates and what the run will resend.
    pub rails: Rails,
}

/// Safety rails checked before anything of a run is imported or sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rails {
    /// Largest amount of one payout, in fen.
    pub max_amount_fen: Option<u64>,
    /// Largest total of the payouts one run pays, in fen.
    pub max_total_fen: Option<u64>,
    /// Pay a payee who appears more than once in the file (without
    /// distinct `key`s telling the rows apart).
    pub allow_duplicates: bool,
    /// The run gives definitely failed payouts a new bill (they count as
    /// rows to pay).
    pub reissue_not_paid: bool,
    /// The run pays refunded red packets again (they count as rows to pay).
    pub resend_refunded: bool,
}

/// What a run is about to pay, shown before anything is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunPlan {
    /// Rows this run will pay (new, replaced, and stored rows not final yet).
    pub rows: u64,
    /// Their total, in fen.
    pub total_fen: u64,
    /// The largest of them: `(line, fen)`.
    pub largest: Option<(u64, u64)>,
    /// The kind of payout.
    pub kind: String,
    /// Payees appearing more than once in the file (rows not told apart by
    /// distinct keys), with their lines, when one of those rows is paid
    /// in this run.
    pub duplicates: Vec<(String, Vec<u64>)>,
    /// Rows over `max_amount`: `(line, fen)`.
    pub over_amount: Vec<(u64, u64)>,
    /// The cap on one payout, in fen.
    pub max_amount_fen: Option<u64>,
    /// The cap on the run's total, in fen, when the total is over it.
    pub over_total: Option<u64>,
    /// Whether duplicates are allowed (`--allow-duplicates`).
    pub allow_duplicates: bool,
}

impl RunPlan {
    /// Whether a cap or an unallowed duplicate refuses the run.
    pub fn is_refused(&self) -> bool {
        !self.over_amount.is_empty()
            || self.over_total.is_some()
            || (!self.duplicates.is_empty() && !self.allow_duplicates)
    }
}

/// The answer to "pay N rows, X yuan?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Go on.
    Yes,
    /// The person said no.
    No,
    /// No terminal to ask on and no `--yes`.
    NoTerminal,
}

/// What planning did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanResult {
    /// The file was imported (or, in a dry run, would be).
    Planned {
        /// What the import did: new, unchanged and replaced rows, and
        /// warnings about payees paid the same amount in another batch.
        plan: ImportPlan,
        /// Invalid rows left out (with `skip_invalid`).
        skipped: Vec<RowIssue>,
        /// What the run will pay.
        run: RunPlan,
    },
    /// A cap or a duplicate payee refused the run: nothing was imported or
    /// sent.
    Stopped(RunPlan),
    /// The run was not confirmed: nothing was imported or sent.
    NotConfirmed {
        /// What the run would have paid.
        run: RunPlan,
        /// The answer.
        answer: Confirm,
    },
    /// Invalid rows and no `skip_invalid`: nothing was imported or sent.
    Invalid(Vec<RowIssue>),
    /// Rows whose payout may be paid but whose parameters changed (or
    /// duplicate bill numbers): nothing was imported or sent.
    Refused(ImportPlan),
}

/// Why a batch could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The CSV file.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The ledger.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The CSV file changed while it was being imported.
    #[error("{0} changed while it was being read; run the same command again")]
    FileChanged(String),
    /// A bill number could not be generated.
    #[error("cannot generate a bill number: {0}")]
    BillNumber(String),
}

/// Today's date in Beijing time (UTC+8), for bill numbers.
pub fn beijing_today() -> Result<Date, BatchError> {
    Date::beijing_from_unix_seconds(now_ms() / 1000)
        .map_err(|v| BatchError::BillNumber(v.to_string()))
}

/// A generated bill number (see [`hongbao_ledger::BillFactory`]).
pub fn generate_bill(
    kind: Kind,
    mch_id: &str,
    date: Date,
    prefix: &str,
) -> Result<String, BatchError> {
    let entropy: u128 = rand::random();
    let generated = if kind.uses_trade_no() {
        TradeNo::random(mch_id, date, prefix, entropy).map(|t| t.as_str().to_owned())
    } else {
        BillNo::random(mch_id, date, prefix, entropy).map(|b| b.as_str().to_owned())
    };
    generated.map_err(|v| BatchError::BillNumber(v.to_string()))
}

/// Signs a request with the client (no I/O).
pub fn prepare(client: &Client, request: &AnyRequest) -> Result<Prepared, ClientError> {
    client.prepare_any(request)
}

/// A valid placeholder bill number for building a row's request before the
/// ledger chooses its number (never sent).
fn placeholder_bill(kind: Kind, mch_id: &str) -> Result<String, BatchError> {
    generate_bill(kind, mch_id, beijing_today()?, "")
}

/// A row ready for the ledger: line, key, request, whether the ledger
/// chooses the bill number.
type ReadyRow = (u64, Option<String>, AnyRequest, bool);

/// Reads a batch file row by row: each row's request, or its issues.
struct RowReader<'s> {
    rows: Payouts,
    placeholder: String,
    settings: &'s PlanSettings,
}

impl<'s> RowReader<'s> {
    fn open(path: &Path, settings: &'s PlanSettings, mch_id: &str) -> Result<Self, BatchError> {
        Ok(RowReader {
            // CSV in any encoding Excel writes, or an .xlsx workbook.
            rows: crate::input::open(path)?.0,
            placeholder: placeholder_bill(settings.kind, mch_id)?,
            settings,
        })
    }

    fn next_row(&mut self) -> Option<Result<Result<ReadyRow, Vec<RowIssue>>, BatchError>> {
        let row = match self.rows.next()? {
            Err(e) => return Some(Err(e.into())),
            Ok(Err(issues)) => return Some(Ok(Err(issues))),
            Ok(Ok(row)) => row,
        };
        let (bill, generated) = match &row.bill {
            Some(bill) => (bill.as_str(), false),
            None => (self.placeholder.as_str(), true),
        };
        let input = PayoutInput {
            line: row.line,
            openid: &row.openid,
            amount: &row.amount,
            bill,
            name: row.name.as_deref(),
            texts: &row.texts,
            defaults: &self.settings.defaults,
            client_ip: &self.settings.client_ip,
        };
        Some(Ok(build(self.settings.kind, &input).map(|request| {
            (row.line, row.key.clone(), request, generated)
        })))
    }

    fn digest(&self) -> String {
        self.rows.digest()
    }
}

/// A valid row of the file, as the rails see it.
#[derive(Debug)]
struct FileRow {
    line: u64,
    explicit_key: Option<String>,
    openid: String,
    fen: u64,
}

/// Feeds every valid row of the file to an importer; returns the issues
/// of the invalid ones (sorted by line) and the file's digest.
async fn import_file(
    path: &Path,
    settings: &PlanSettings,
    mch_id: &str,
    skip: &std::collections::HashSet<u64>,
    importer: &mut hongbao_ledger::Importer<'_>,
    mut seen: Option<&mut Vec<FileRow>>,
) -> Result<(Vec<RowIssue>, String), BatchError> {
    let mut reader = RowReader::open(path, settings, mch_id)?;
    let mut issues = Vec::new();
    while let Some(row) = reader.next_row() {
        let row = row?;
        if let (Some(seen), Ok((line, key, request, _))) = (seen.as_deref_mut(), &row) {
            seen.push(FileRow {
                line: *line,
                explicit_key: key.clone(),
                openid: request.payee().map(|p| p.into_owned()).unwrap_or_default(),
                fen: request.amount().map_or(0, |a| a.fen()),
            });
        }
        match row {
            Ok((line, key, request, _)) if skip.contains(&line) => {
                // Left out, but counted: the keys of the payee's later rows
                // stay the same as in the first pass.
                if key.is_none() {
                    let openid = request.payee().map(|p| p.into_owned()).unwrap_or_default();
                    importer.default_key(&openid);
                }
            }
            Ok((line, key, request, generated)) => {
                importer.add(line, key, &request, generated).await?;
            }
            Err(mut found) => issues.append(&mut found),
        }
    }
    issues.sort_by_key(|i| i.line);
    Ok((issues, reader.digest()))
}

/// Validates the whole file, then imports it into the batch
/// `settings.batch`: first as a dry run (nothing is written if any row is
/// invalid without `skip_invalid`, or refused), then for real, in chunks
/// of 1,000 rows. The file is read twice, one row at a time.
pub async fn plan(
    ledger: &Ledger,
    path: &Path,
    settings: &PlanSettings,
) -> Result<PlanResult, BatchError> {
    plan_with(ledger, path, settings, &mut |_| Confirm::Yes).await
}

/// [`plan`], with the rails: after the dry pass, the rows this run will
/// pay ([`RunPlan`]) are checked against the caps and for duplicate payees
/// (refused: [`PlanResult::Stopped`]), then `confirm` is asked (it also
/// shows the plan); only a [`Confirm::Yes`] imports the file.
pub async fn plan_with(
    ledger: &Ledger,
    path: &Path,
    settings: &PlanSettings,
    confirm: &mut (dyn FnMut(&RunPlan) -> Confirm + Send),
) -> Result<PlanResult, BatchError> {
    let mch_id = ledger.binding().mch_id.clone();
    let spec = |digest: String| {
        BatchSpec::new(
            settings.batch.clone(),
            path.display().to_string(),
            digest,
            settings.kind.as_str(),
        )
    };
    // Pass 1: validate and see what the import would do.
    let mut importer = ledger.importer(spec(String::new()), true);
    let mut rows = Vec::new();
    let (issues, digest) = import_file(
        path,
        settings,
        &mch_id,
        &Default::default(),
        &mut importer,
        Some(&mut rows),
    )
    .await?;
    let mut dry = importer.finish().await?;
    // A bill number used twice is an invalid row (of the file, or against
    // the ledger).
    let mut issues = issues;
    let duplicates: std::collections::HashSet<u64> = dry
        .duplicate_bills
        .iter()
        .map(|(line, _, _)| *line)
        .collect();
    for (line, bill, holder) in std::mem::take(&mut dry.duplicate_bills) {
        issues.push(RowIssue {
            line,
            field: "bill".into(),
            rule: format!(
                "bill number {bill} is already used on {holder}; every row needs its own"
            ),
        });
    }
    issues.sort_by_key(|i| i.line);
    if !issues.is_empty() && !settings.skip_invalid {
        return Ok(PlanResult::Invalid(issues));
    }
    if dry.is_refused() {
        return Ok(PlanResult::Refused(dry));
    }
    let run = run_plan(ledger, settings, &rows, &dry, &duplicates).await?;
    if run.is_refused() {
        return Ok(PlanResult::Stopped(run));
    }
    match confirm(&run) {
        Confirm::Yes => {}
        answer => return Ok(PlanResult::NotConfirmed { run, answer }),
    }
    // Pass 2: write (a dry run too: it shows the plan and sends nothing).
    let mut importer = ledger.importer(spec(digest.clone()), false);
    let (_, again) = import_file(path, settings, &mch_id, &duplicates, &mut importer, None).await?;
    if again != digest {
        return Err(BatchError::FileChanged(path.display().to_string()));
    }
    let mut plan = importer.finish().await?;
    if plan.is_refused() {
        // Another writer changed the ledger in between.
        return Ok(PlanResult::Refused(plan));
    }
    plan.similar = dry.similar;
    Ok(PlanResult::Planned {
        plan,
        skipped: issues,
        run,
    })
}

/// The rows of the file this run will pay (new and replaced rows, and
/// unchanged rows whose payout is not final yet), checked against the
/// rails.
async fn run_plan(
    ledger: &Ledger,
    settings: &PlanSettings,
    rows: &[FileRow],
    dry: &ImportPlan,
    left_out: &std::collections::HashSet<u64>,
) -> Result<RunPlan, BatchError> {
    use std::collections::{HashMap, HashSet};
    let rails = &settings.rails;
    let mut to_pay: HashSet<u64> = dry.new.iter().copied().collect();
    to_pay.extend(dry.replaced.iter().map(|r| r.line));
    if !dry.unchanged.is_empty() {
        // Stored payouts of the batch that the worker will still pay.
        let stored = ledger
            .store()
            .payouts(
                &hongbao_ledger::PayoutFilter::default().with_batch(Some(settings.batch.clone())),
            )
            .await?;
        let due: HashSet<String> = stored
            .into_iter()
            .filter(|p| {
                !p.state.is_final()
                    || (rails.reissue_not_paid
                        && p.state == hongbao_ledger::PayoutState::NotPaid
                        && matches!(p.next_step, Some(hongbao::NextStep::NewBill)))
                    || (rails.resend_refunded && p.state == hongbao_ledger::PayoutState::Refunded)
            })
            .map(|p| p.key)
            .collect();
        let unchanged: HashSet<u64> = dry.unchanged.iter().copied().collect();
        // The importer's default key: `<batch>/<openid>/<n>`.
        let mut occurrences: HashMap<&str, u32> = HashMap::new();
        for row in rows {
            let key = match &row.explicit_key {
                Some(key) => key.clone(),
                None => {
                    let n = occurrences.entry(row.openid.as_str()).or_insert(0);
                    *n += 1;
                    format!("{}/{}/{}", settings.batch, row.openid, n)
                }
            };
            if unchanged.contains(&row.line) && due.contains(&key) {
                to_pay.insert(row.line);
            }
        }
    }
    let mut plan = RunPlan {
        kind: settings.kind.as_str().to_owned(),
        max_amount_fen: rails.max_amount_fen,
        allow_duplicates: rails.allow_duplicates,
        ..RunPlan::default()
    };
    let mut by_payee: HashMap<&str, Vec<&FileRow>> = HashMap::new();
    for row in rows.iter().filter(|r| !left_out.contains(&r.line)) {
        by_payee.entry(row.openid.as_str()).or_default().push(row);
        if !to_pay.contains(&row.line) {
            continue;
        }
        plan.rows += 1;
        plan.total_fen = plan.total_fen.saturating_add(row.fen);
        if plan.largest.is_none_or(|(_, fen)| row.fen > fen) {
            plan.largest = Some((row.line, row.fen));
        }
        if rails.max_amount_fen.is_some_and(|cap| row.fen > cap) {
            plan.over_amount.push((row.line, row.fen));
        }
    }
    if let Some(cap) = rails.max_total_fen
        && plan.total_fen > cap
    {
        plan.over_total = Some(cap);
    }
    for (openid, group) in by_payee {
        if group.len() < 2 || !group.iter().any(|r| to_pay.contains(&r.line)) {
            continue;
        }
        // Rows with distinct keys of their own are different payouts.
        let keys: HashSet<&str> = group
            .iter()
            .filter_map(|r| r.explicit_key.as_deref())
            .collect();
        if keys.len() == group.len() {
            continue;
        }
        let mut lines: Vec<u64> = group.iter().map(|r| r.line).collect();
        lines.sort_unstable();
        plan.duplicates.push((openid.to_owned(), lines));
    }
    plan.duplicates
        .sort_by_key(|(_, lines)| lines.first().copied());
    Ok(plan)
}

/// Progress events of a run.
pub trait Progress: Send {
    /// A phase starts with `total` payouts to handle.
    fn start(&mut self, phase: &str, total: u64);
    /// `done` more payouts finished; `last` is the last attempt recorded.
    fn advance(&mut self, done: u64, last: &AttemptRecord);
    /// The phase ended.
    fn finish(&mut self);
}

/// Progress that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _phase: &str, _total: u64) {}
    fn advance(&mut self, _done: u64, _last: &AttemptRecord) {}
    fn finish(&mut self) {}
}

fn show(progress: &mut dyn Progress, event: Event) {
    match event {
        Event::Phase { name, total } => progress.start(name, total),
        Event::Progress { done, last } => progress.advance(done, &last),
        Event::PhaseDone => progress.finish(),
        _ => {}
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Give definitely failed payouts (next step: a new bill) a new bill
    /// number and pay them again.
    pub reissue_not_paid: bool,
    /// Pay refunded red packets again under a new bill number.
    pub resend_refunded: bool,
    /// The batch to pay.
    pub batch: String,
}

/// Pays every payout of the batch that is not final yet (one worker pass).
///
/// `stop` is checked between requests: once set (Ctrl-C), no new request
/// starts, the ones in flight finish and are recorded, and the run returns
/// with `interrupted`. After [`hongbao_ledger::HALT_AFTER`] consecutive
/// merchant-wide refusals the run stops the same way, with `halted`.
pub async fn run(
    ledger: &Ledger,
    client: &Client,
    options: &RunOptions,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<RunReport, BatchError> {
    if ledger.store().batch(&options.batch).await?.is_none() {
        return Err(LedgerError::NoSuchBatch(options.batch.clone()).into());
    }
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let worker = ledger
        .worker(client.clone())
        .concurrency(options.concurrency)
        .batch(Some(options.batch.clone()))
        .reissue_not_paid(options.reissue_not_paid)
        .resend_refunded(options.resend_refunded)
        .events(events)
        .with_stop(StopHandle::from_flag(stop));
    let work = worker.run_pass();
    tokio::pin!(work);
    let report = loop {
        tokio::select! {
            report = &mut work => break report?,
            Some(event) = received.recv() => show(progress, event),
        }
    };
    while let Ok(event) = received.try_recv() {
        show(progress, event);
    }
    Ok(report)
}

/// Queries WeChat for every sent payout of the batch and records the
/// answers (see [`Ledger::reconcile`]); with `refresh_only`, only sent red
/// packets, to learn which were opened or refunded.
pub async fn reconcile(
    ledger: &Ledger,
    client: &Client,
    batch: Option<&str>,
    concurrency: usize,
    refresh_only: bool,
    progress: &mut dyn Progress,
) -> Result<ReconcileReport, BatchError> {
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let work = async {
        if refresh_only {
            ledger
                .refresh(client, batch, concurrency, Some(&events))
                .await
        } else {
            ledger
                .reconcile(client, batch, concurrency, Some(&events))
                .await
        }
    };
    tokio::pin!(work);
    let report = loop {
        tokio::select! {
            report = &mut work => break report?,
            Some(event) = received.recv() => show(progress, event),
        }
    };
    while let Ok(event) = received.try_recv() {
        show(progress, event);
    }
    Ok(report)
}
