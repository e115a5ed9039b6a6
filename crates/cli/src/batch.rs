//! Batch payouts: plan a CSV file into the journal, then pay every row
//! exactly once, resumably.
//!
//! Planning validates the whole file (every bad row is reported with line,
//! field and rule) and writes each row's bill number and request in one
//! transaction. Paying then works row by row:
//!
//! 1. rows left `sending` or `unknown` by an earlier run are handed to
//!    [`Client::resume`] (a query first, then the stored request under the
//!    same bill number with identical parameters); rows refused with a
//!    keep-the-number code (`NOTENOUGH`, `FREQ_LIMIT`, `SIGN_ERROR`…) are
//!    sent again under their bill number with [`Client::execute`];
//! 2. `planned` rows are signed, their body stored and their state set to
//!    `sending` in one durable transaction, and only then sent;
//! 3. every attempt is recorded with the client's typed decision
//!    ([`NextStep`]): this module never reads error codes to decide.
//!
//! A new bill number is only ever issued for a row whose next step is
//! [`NextStep::NewBill`]: by itself after a bill conflict on a number the
//! tool chose, otherwise only with `reissue_not_paid`.

use crate::config::Texts;
use crate::input::{InputError, RowIssue};
use crate::journal::{
    AttemptAction, AttemptRecord, BatchHeader, Journal, JournalError, JournalRow, PlanAdd,
    PlannedRow, RowState, Summary, now_ms,
};
use crate::payout::{Kind, PayoutInput, build};
use hongbao::{Client, ClientError, NextStep, Outcome, Prepared};
use hongbao_proto::{AnyRequest, BillNo, Date, TradeNo, UnknownReason};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::JoinSet;

/// The merchant and defaults a batch is planned with.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// What to pay.
    pub kind: Kind,
    /// Merchant id.
    pub mch_id: String,
    /// App id.
    pub appid: String,
    /// Default texts.
    pub defaults: Texts,
    /// `client_ip` / `spbill_create_ip`.
    pub client_ip: String,
    /// Plan the valid rows even if some are invalid.
    pub skip_invalid: bool,
    /// The namespace of generated bill numbers (`bill_prefix`).
    pub bill_prefix: String,
}

/// What planning did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanResult {
    /// The file was planned now.
    Planned {
        /// Rows planned.
        rows: u64,
        /// Invalid rows left out (with `skip_invalid`).
        skipped: Vec<RowIssue>,
    },
    /// The journal already holds this file's plan: resuming.
    Resumed,
    /// Invalid rows and no `skip_invalid`: nothing was planned or sent.
    Invalid(Vec<RowIssue>),
}

/// Why a batch could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The CSV file.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The journal.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The CSV file changed while it was being planned.
    #[error("{0} changed while it was being read; nothing was planned")]
    FileChanged(String),
    /// A bill number could not be generated.
    #[error("cannot generate a bill number: {0}")]
    BillNumber(String),
    /// A stored request could not be read back.
    #[error("journal row {row}: stored request unreadable: {message}")]
    StoredRequest {
        /// Row id.
        row: i64,
        /// What failed.
        message: String,
    },
}

fn file_digest(path: &Path) -> Result<String, InputError> {
    use std::io::Read;
    let io = |source| InputError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = hongbao_sign::digest::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.hex())
}

/// Today's date in Beijing time (UTC+8), for bill numbers.
pub fn beijing_today() -> Result<Date, BatchError> {
    Date::beijing_from_unix_seconds(now_ms() / 1000)
        .map_err(|v| BatchError::BillNumber(v.to_string()))
}

/// A generated bill number: `mch_id + yyyymmdd + bill_prefix + random`,
/// the random base-62 tail filling the field (10 characters, about 59 bits,
/// for a red packet of a 10-digit merchant without prefix). Two systems of
/// one merchant meet only by chance, and that chance is about one in 10^9
/// for 10,000 numbers a day; a meeting is caught as a bill conflict anyway.
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

/// Validates the whole file and writes the plan, or checks that the journal
/// already holds this very file's plan (same bytes, kind and merchant).
pub fn plan(
    journal: &mut dyn Journal,
    path: &Path,
    settings: &PlanSettings,
) -> Result<PlanResult, BatchError> {
    let digest = file_digest(path)?;
    let header = BatchHeader {
        file_digest: digest,
        file_name: path.display().to_string(),
        kind: settings.kind.as_str().to_owned(),
        mch_id: settings.mch_id.clone(),
        appid: settings.appid.clone(),
    };
    if let Some(existing) = journal.header()? {
        for (field, journal_value, this_run) in [
            ("merchant id", &existing.mch_id, &header.mch_id),
            ("app id", &existing.appid, &header.appid),
            ("kind", &existing.kind, &header.kind),
            (
                "CSV file (SHA-256)",
                &existing.file_digest,
                &header.file_digest,
            ),
        ] {
            if journal_value != this_run {
                let (journal_value, this_run) = if field.starts_with("CSV") {
                    (
                        format!("{} of {}", journal_value, existing.file_name),
                        format!("{} of {}", this_run, header.file_name),
                    )
                } else {
                    (journal_value.clone(), this_run.clone())
                };
                return Err(JournalError::Mismatch {
                    field,
                    journal: journal_value,
                    this_run,
                }
                .into());
            }
        }
        return Ok(PlanResult::Resumed);
    }
    let date = beijing_today()?;
    let new_bill = || generate_bill(settings.kind, &settings.mch_id, date, &settings.bill_prefix);
    // CSV in any encoding Excel writes, or an .xlsx workbook.
    let (mut rows, _) = crate::input::open(path)?;
    let mut writer = journal.begin_plan(&header)?;
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut planned: u64 = 0;
    for row in rows.by_ref() {
        let row = match row? {
            Ok(row) => row,
            Err(mut found) => {
                issues.append(&mut found);
                continue;
            }
        };
        let (bill, generated) = match &row.bill {
            Some(bill) => (bill.clone(), false),
            None => (new_bill()?, true),
        };
        let input = PayoutInput {
            line: row.line,
            openid: &row.openid,
            amount: &row.amount,
            bill: &bill,
            name: row.name.as_deref(),
            texts: &row.texts,
            defaults: &settings.defaults,
            client_ip: &settings.client_ip,
        };
        let request = match build(settings.kind, &input) {
            Ok(request) => request,
            Err(mut found) => {
                issues.append(&mut found);
                continue;
            }
        };
        let mut planned_row = PlannedRow {
            line: row.line,
            openid: row.openid.clone(),
            amount_fen: request.amount().map_or(0, |a| a.fen()),
            bill,
            request_json: request_json(&request, 0)?,
            generated,
        };
        loop {
            match writer.add(&planned_row)? {
                PlanAdd::Added => {
                    planned += 1;
                    break;
                }
                PlanAdd::DuplicateBill { first_line } if !generated => {
                    issues.push(RowIssue {
                        line: row.line,
                        field: "bill".into(),
                        rule: format!(
                            "bill number {} is already used on line {first_line}; every row needs its own",
                            planned_row.bill
                        ),
                    });
                    break;
                }
                PlanAdd::DuplicateBill { .. } => {
                    // A caller-chosen bill elsewhere took this generated one: another draw.
                    let bill = new_bill()?;
                    let request = request
                        .with_bill(&bill)
                        .map_err(|v| BatchError::BillNumber(v.to_string()))?;
                    planned_row.request_json = request_json(&request, 0)?;
                    planned_row.bill = bill;
                }
            }
        }
    }
    if rows.digest() != header.file_digest {
        drop(writer);
        return Err(BatchError::FileChanged(header.file_name));
    }
    issues.sort_by_key(|i| i.line);
    if !issues.is_empty() && !settings.skip_invalid {
        drop(writer);
        return Ok(PlanResult::Invalid(issues));
    }
    writer.commit()?;
    Ok(PlanResult::Planned {
        rows: planned,
        skipped: issues,
    })
}

fn request_json(request: &AnyRequest, row: i64) -> Result<String, BatchError> {
    serde_json::to_string(request).map_err(|e| BatchError::StoredRequest {
        row,
        message: e.to_string(),
    })
}

/// Progress events of a run.
pub trait Progress: Send {
    /// The run starts with `total` rows to handle.
    fn start(&mut self, phase: &str, total: u64);
    /// `done` more rows finished; `last` is the last attempt recorded.
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

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Give definitely failed rows (next step: a new bill) a new bill number
    /// and pay them again.
    pub reissue_not_paid: bool,
    /// Merchant id (for new bill numbers).
    pub mch_id: String,
    /// Kind (for new bill numbers).
    pub kind: Kind,
    /// The namespace of generated bill numbers (`bill_prefix`).
    pub bill_prefix: String,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Rows resolved from an earlier run (query, then resend if needed).
    pub resumed: u64,
    /// Rows sent for the first time.
    pub sent: u64,
    /// Rows given a new bill number.
    pub reissued: u64,
    /// Rows given a new bill number by the tool itself, after a bill
    /// conflict on a number it had chosen: `(line, old bill, new bill)`.
    pub renumbered: Vec<(u64, String, String)>,
    /// The run stopped early because of Ctrl-C (or the stop flag).
    pub interrupted: bool,
    /// The run stopped by itself because the merchant's requests were all
    /// being refused for one reason (a wrong key, the certificate, the
    /// balance…): what to fix.
    pub halted: Option<String>,
    /// The journal's summary at the end.
    pub summary: Summary,
}

/// After this many consecutive refusals that every request of the
/// merchant would get, a run stops instead of burning the rest of the file.
pub const HALT_AFTER: u32 = 3;

/// What one row's work produced.
struct Done {
    records: Vec<AttemptRecord>,
    /// Set when the row was refused for a reason every other row would be
    /// refused for too (merchant-wide), with the text to show.
    halt: Option<String>,
}

fn record_of(
    row_id: i64,
    bill: &str,
    action: AttemptAction,
    started_ms: i64,
    outcome: &Outcome,
) -> AttemptRecord {
    let base = AttemptRecord {
        row_id,
        bill: bill.to_owned(),
        action,
        outcome: RowState::Unknown,
        err_code: None,
        wechat_id: None,
        message: None,
        started_ms,
        finished_ms: now_ms(),
        next_step: Some(outcome.next_step()),
    };
    match outcome {
        Outcome::Paid(receipt) => AttemptRecord {
            outcome: RowState::Paid,
            wechat_id: receipt.wechat_id.clone(),
            ..base
        },
        Outcome::NotPaid(not_paid) => AttemptRecord {
            outcome: RowState::NotPaid,
            err_code: Some(not_paid.code.as_str().to_owned()),
            message: not_paid.message.clone(),
            ..base
        },
        Outcome::Unknown(unknown) => AttemptRecord {
            outcome: RowState::Unknown,
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
            outcome: RowState::Conflict,
            message: Some(conflict.to_string()),
            ..base
        },
    }
}

/// An attempt that sent nothing (`Err` from the client): the row keeps the
/// state it had (`planned` if it was never sent, else as unknown as before).
fn not_sent(
    row: &JournalRow,
    action: AttemptAction,
    started_ms: i64,
    err: &ClientError,
) -> AttemptRecord {
    let (outcome, next_step) = match row.state {
        RowState::Planned => (RowState::Planned, None),
        RowState::NotPaid => (RowState::NotPaid, row.next_step),
        _ if row.body.is_none() => (RowState::Planned, None),
        _ => (RowState::Unknown, Some(NextStep::Query)),
    };
    AttemptRecord {
        row_id: row.id,
        bill: row.bill.clone(),
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

/// Whether an answer (or an error) stops the run: a refusal that every
/// other request of the merchant would get as well (typed in the proto
/// crate), or a configuration the client cannot sign with.
fn halt_reason(
    endpoint: hongbao_proto::Endpoint,
    result: Result<&Outcome, &ClientError>,
) -> Option<String> {
    match result {
        Ok(Outcome::NotPaid(n)) if n.code.is_merchant_wide(endpoint) => Some(format!(
            "WeChat refuses this merchant's requests with {}{}: fix it (key, certificate, balance, permissions), then rerun the same command; the rows not sent yet are still planned",
            n.code.as_str(),
            n.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        Err(ClientError::Config(e)) => Some(format!(
            "configuration: {e}; fix it, then rerun the same command (nothing was sent for these rows)"
        )),
        _ => None,
    }
}

fn stored_prepared(row: &JournalRow) -> Result<Option<Prepared>, BatchError> {
    match &row.body {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(bytes)
                .map(Some)
                .map_err(|e| BatchError::StoredRequest {
                    row: row.id,
                    message: e.to_string(),
                })
        }
    }
}

fn stored_request(row: &JournalRow) -> Result<AnyRequest, BatchError> {
    serde_json::from_str(&row.request_json).map_err(|e| BatchError::StoredRequest {
        row: row.id,
        message: e.to_string(),
    })
}

fn prepared_bytes(row: &JournalRow, prepared: &Prepared) -> Result<Vec<u8>, BatchError> {
    serde_json::to_vec(prepared).map_err(|e| BatchError::StoredRequest {
        row: row.id,
        message: e.to_string(),
    })
}

/// Signs a request with the client (no I/O).
pub fn prepare(client: &Client, request: &AnyRequest) -> Result<Prepared, ClientError> {
    client.prepare_any(request)
}

/// How a row with a stored request is taken up again.
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

/// Runs the work of rows in `states` with at most `concurrency` in flight,
/// recording finished attempts in groups. `launch` turns a page of rows
/// into work items (it may write to the journal first) and returns them.
async fn windowed<F>(
    journal: &mut dyn Journal,
    states: &[RowState],
    concurrency: usize,
    stop: &AtomicBool,
    halt: &mut Halt,
    progress: &mut dyn Progress,
    mut launch: F,
) -> Result<(u64, bool), BatchError>
where
    F: FnMut(&mut dyn Journal, Vec<JournalRow>) -> Result<Vec<Work>, BatchError>,
{
    let mut inflight: JoinSet<Done> = JoinSet::new();
    let mut cursor = 0i64;
    let mut exhausted = false;
    let mut handled = 0u64;
    loop {
        let stopping = stop.load(Ordering::SeqCst) || halt.reason.is_some();
        if !stopping && !exhausted && inflight.len() < concurrency {
            let page = journal.rows_in_states(states, cursor, concurrency - inflight.len())?;
            match page.last() {
                None => exhausted = true,
                Some(last) => {
                    cursor = last.id;
                    for work in launch(journal, page)? {
                        inflight.spawn(work.run());
                    }
                    continue;
                }
            }
        }
        let Some(first) = inflight.join_next().await else {
            return Ok((handled, stopping && !exhausted));
        };
        let mut records: Vec<AttemptRecord> = Vec::new();
        let mut finished = 0u64;
        let mut push = |joined: Result<Done, tokio::task::JoinError>| {
            if let Ok(done) = joined {
                finished += 1;
                halt.see(done.halt);
                records.extend(done.records);
            }
        };
        push(first);
        while let Some(more) = inflight.try_join_next() {
            push(more);
        }
        journal.record(&records)?;
        handled += finished;
        if let Some(last) = records.last() {
            progress.advance(finished, last);
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

/// Pays every row of a planned journal that is not final yet.
///
/// `stop` is checked between requests: once set (Ctrl-C), no new request
/// starts, the ones in flight finish and are recorded, and the run returns
/// with `interrupted`. After [`HALT_AFTER`] consecutive merchant-wide
/// refusals the run stops the same way, with `halted`.
pub async fn run(
    journal: &mut dyn Journal,
    client: &Client,
    options: &RunOptions,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<RunReport, BatchError> {
    if journal.header()?.is_none() {
        return Err(JournalError::Empty.into());
    }
    let concurrency = options.concurrency.max(1);
    let mut halt = Halt::default();
    let mut renumbered = Vec::new();
    let mut reissued = 0;
    if options.reissue_not_paid {
        reissued = reissue(journal, options, false, &mut Vec::new())?;
    }

    // 1. Rows an earlier run left in flight, unknown, or refused with a
    //    keep-the-number code.
    let pending = journal.summary()?;
    let to_resolve = pending.get(RowState::Sending).0
        + pending.get(RowState::Unknown).0
        + pending.get(RowState::NotPaid).0;
    progress.start("resolving", to_resolve);
    let (resumed, mut interrupted) = windowed(
        journal,
        &[RowState::Sending, RowState::Unknown, RowState::NotPaid],
        concurrency,
        &stop,
        &mut halt,
        progress,
        |journal, rows| launch(journal, client, rows),
    )
    .await?;
    progress.finish();

    // 2. Planned rows: sign, store body + `sending` durably, then send;
    //    rows whose tool-chosen bill number turned out to be another
    //    payment's get a new one and go round again.
    let mut sent = 0;
    // At most three rounds: a number drawn again meets another payment
    // only by a chance of about one in 10^17.
    for _ in 0..3 {
        if interrupted || halt.reason.is_some() {
            break;
        }
        reissue(journal, options, true, &mut renumbered)?;
        let planned = journal.summary()?.get(RowState::Planned).0;
        if planned == 0 {
            break;
        }
        progress.start("paying", planned);
        let (count, stopped) = windowed(
            journal,
            &[RowState::Planned],
            concurrency,
            &stop,
            &mut halt,
            progress,
            |journal, rows| launch(journal, client, rows),
        )
        .await?;
        progress.finish();
        sent += count;
        interrupted = stopped && halt.reason.is_none();
    }
    Ok(RunReport {
        resumed,
        sent,
        reissued,
        renumbered,
        interrupted,
        halted: halt.reason,
        summary: journal.summary()?,
    })
}

/// Turns a page of rows into work: decides from each row's typed state
/// how it is taken up, stores the body to send (durably, `sending`) and
/// returns the requests to make.
fn launch(
    journal: &mut dyn Journal,
    client: &Client,
    rows: Vec<JournalRow>,
) -> Result<Vec<Work>, BatchError> {
    let mut ready: Vec<(JournalRow, Prepared, Take, Vec<u8>)> = Vec::with_capacity(rows.len());
    let mut refused: Vec<AttemptRecord> = Vec::new();
    let mut halts: Vec<Option<String>> = Vec::new();
    for row in rows {
        let take = match (row.state, row.next_step, &row.body) {
            (RowState::Planned, _, _) | (_, _, None) => Take::Fresh,
            (RowState::NotPaid, Some(NextStep::RetrySameBill { .. }), Some(_)) => Take::Again,
            // A definite failure waits for `--reissue-not-paid`.
            (RowState::NotPaid, Some(NextStep::NewBill | NextStep::Done), _) => continue,
            _ => Take::Resume,
        };
        let endpoint = stored_request(&row)?.endpoint();
        let started = now_ms();
        let prepared = match (take, stored_prepared(&row)?) {
            (Take::Fresh, _) | (_, None) => prepare(client, &stored_request(&row)?),
            // The stored body is sent again as stored; one signed with
            // another key is signed again by the client (same parameters).
            // Checked here so that a body the client cannot send counts
            // towards the halt without a request.
            (_, Some(stored)) => client.refresh(&stored).map(|_| stored),
        };
        match prepared {
            Ok(prepared) => {
                let bytes = prepared_bytes(&row, &prepared)?;
                ready.push((row, prepared, take, bytes));
            }
            Err(err) => {
                // Nothing was sent: the row keeps its state (a planned row
                // is simply sent by a later run).
                halts.push(halt_reason(endpoint, Err(&err)));
                refused.push(not_sent(&row, AttemptAction::Send, started, &err));
            }
        }
    }
    if !refused.is_empty() {
        journal.record(&refused)?;
    }
    let marks: Vec<(i64, &[u8])> = ready
        .iter()
        .map(|(row, _, _, bytes)| (row.id, bytes.as_slice()))
        .collect();
    if !marks.is_empty() {
        journal.mark_sending(&marks)?;
    }
    let mut work = Vec::with_capacity(ready.len() + halts.len());
    for halt in halts {
        // Signing failed locally: counted towards the halt like a refusal.
        work.push(Work::Local(halt));
    }
    for (row, prepared, take, _) in ready {
        work.push(Work::Send(Box::new(SendWork {
            client: client.clone(),
            row,
            prepared,
            take,
        })));
    }
    Ok(work)
}

/// One row's work.
enum Work {
    /// Nothing to send (it failed locally).
    Local(Option<String>),
    /// A request to make.
    Send(Box<SendWork>),
}

/// A request to make for one row.
struct SendWork {
    client: Client,
    row: JournalRow,
    prepared: Prepared,
    take: Take,
}

impl Work {
    async fn run(self) -> Done {
        let (client, row, prepared, take) = match self {
            Work::Local(halt) => {
                return Done {
                    records: Vec::new(),
                    halt,
                };
            }
            Work::Send(send) => {
                let SendWork {
                    client,
                    row,
                    prepared,
                    take,
                } = *send;
                (client, row, prepared, take)
            }
        };
        let started = now_ms();
        let (action, result) = match take {
            Take::Fresh => (AttemptAction::Send, client.execute(&prepared).await),
            Take::Again => (AttemptAction::Resend, client.execute(&prepared).await),
            Take::Resume => (AttemptAction::Resume, client.resume(&prepared).await),
        };
        let halt = halt_reason(prepared.endpoint(), result.as_ref());
        let record = match &result {
            Ok(outcome) => record_of(row.id, &row.bill, action, started, outcome),
            Err(err) => {
                // Nothing sent by this call: the row is as it was before it
                // was marked `sending` (planned if never sent).
                let before = JournalRow {
                    state: if take == Take::Fresh {
                        RowState::Planned
                    } else {
                        row.state
                    },
                    ..row.clone()
                };
                not_sent(&before, action, started, err)
            }
        };
        Done {
            records: vec![record],
            halt,
        }
    }
}

/// Gives rows whose next step is a new bill number one, and plans them
/// again: with `conflicts_only`, only rows in `conflict` whose bill number
/// the tool chose (it may choose another by itself); otherwise every row
/// whose decision is [`NextStep::NewBill`] (`--reissue-not-paid`).
fn reissue(
    journal: &mut dyn Journal,
    options: &RunOptions,
    conflicts_only: bool,
    renumbered: &mut Vec<(u64, String, String)>,
) -> Result<u64, BatchError> {
    let date = beijing_today()?;
    let mut count = 0;
    let mut cursor = 0;
    let states: &[RowState] = if conflicts_only {
        &[RowState::Conflict]
    } else {
        &[RowState::NotPaid, RowState::Conflict]
    };
    loop {
        let page = journal.rows_in_states(states, cursor, 500)?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        cursor = last.id;
        for row in page {
            let new_bill_allowed =
                row.state == RowState::Conflict || row.next_step == Some(NextStep::NewBill);
            if !new_bill_allowed || (conflicts_only && !row.generated) {
                // Not a definite failure of this bill: it is resent, never replaced.
                continue;
            }
            let request = stored_request(&row)?;
            let bill = generate_bill(options.kind, &options.mch_id, date, &options.bill_prefix)?;
            let request = request
                .with_bill(&bill)
                .map_err(|v| BatchError::BillNumber(v.to_string()))?;
            journal.reissue(row.id, &bill, &request_json(&request, row.id)?)?;
            if conflicts_only {
                renumbered.push((row.line, row.bill.clone(), bill));
            }
            count += 1;
        }
    }
}

/// Queries WeChat for every row that was ever sent (paid, not paid, sending,
/// unknown, conflict) and records the answers; sends nothing. Each answer is
/// checked against the row's payee and amount. Unknown and sending rows take
/// the answer; a paid row never changes, and if WeChat does not confirm it,
/// that is reported as a disagreement; a query that cannot decide never
/// undoes a definite answer.
pub async fn reconcile(
    journal: &mut dyn Journal,
    client: &Client,
    concurrency: usize,
    progress: &mut dyn Progress,
) -> Result<ReconcileReport, BatchError> {
    if journal.header()?.is_none() {
        return Err(JournalError::Empty.into());
    }
    let before = journal.summary()?;
    let mut disagreements: Vec<String> = Vec::new();
    let mut queried = 0u64;
    let total = before.rows() - before.get(RowState::Planned).0;
    progress.start("reconciling", total);
    let mut cursor = 0i64;
    loop {
        let page = journal.rows_in_states(
            &[
                RowState::Paid,
                RowState::NotPaid,
                RowState::Sending,
                RowState::Unknown,
                RowState::Conflict,
            ],
            cursor,
            concurrency.max(1) * 4,
        )?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        let mut set: JoinSet<(JournalRow, Option<AttemptRecord>, bool)> = JoinSet::new();
        for row in page {
            let client = client.clone();
            let endpoint = stored_request(&row)?.endpoint();
            let prepared = stored_prepared(&row)?;
            set.spawn(async move {
                let started = now_ms();
                let result = match &prepared {
                    Some(prepared) => client.status(prepared).await,
                    // Never sent under this bill: WeChat can only know it
                    // from someone else; ask by number.
                    None => {
                        client
                            .resolve(endpoint, &row.bill, tokio::time::Instant::now())
                            .await
                    }
                };
                // A payment of the row's amount whose payee WeChat does not
                // name (an unopened red packet) agrees with a row recorded
                // paid (that came from a verified answer), and settles
                // nothing else.
                let unnamed = matches!(
                    &result,
                    Ok(Outcome::Unknown(u)) if matches!(u.reason, UnknownReason::PayeeNotNamed { .. })
                );
                let record = result.ok().map(|outcome| {
                    record_of(row.id, &row.bill, AttemptAction::Query, started, &outcome)
                });
                (row, record, unnamed)
            });
        }
        let mut records = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((row, Some(mut record), unnamed)) = joined else {
                continue;
            };
            queried += 1;
            match (row.state, record.outcome) {
                (RowState::Paid, RowState::Paid) => {}
                (RowState::Paid, RowState::Unknown) if unnamed => {
                    record.outcome = RowState::Paid;
                    record.next_step = Some(NextStep::Done);
                }
                (RowState::Paid, other) => {
                    disagreements.push(format!(
                        "line {} bill {}: journal says paid, WeChat says {} ({})",
                        row.line,
                        row.bill,
                        other,
                        record.message.clone().unwrap_or_default()
                    ));
                }
                (RowState::NotPaid | RowState::Conflict, RowState::Unknown) => {
                    // A query that cannot decide never undoes a definite answer.
                    record.outcome = row.state;
                    record.err_code = row.err_code.clone();
                    record.next_step = row.next_step;
                }
                _ => {}
            }
            progress.advance(1, &record);
            records.push(record);
        }
        journal.record(&records)?;
    }
    progress.finish();
    let after = journal.summary()?;
    Ok(ReconcileReport {
        queried,
        disagreements,
        summary: after,
    })
}

/// What `batch reconcile` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Rows queried.
    pub queried: u64,
    /// Rows where the journal says paid but WeChat does not confirm it.
    pub disagreements: Vec<String>,
    /// The journal's summary afterwards.
    pub summary: Summary,
}
