//! Batch payouts: plan a CSV file into the journal, then pay every row
//! exactly once, resumably.
//!
//! Planning validates the whole file (every bad row is reported with line,
//! field and rule) and writes each row's bill number and request in one
//! transaction. Paying then works row by row:
//!
//! 1. rows left `sending` or `unknown` by an earlier run are first resolved
//!    by a query; if still not known to be paid (or definitely failed), the
//!    **stored** signed body is resent verbatim (same bill number, same
//!    parameters, same nonce and sign);
//! 2. `planned` rows are signed, their body stored and their state set to
//!    `sending` in one durable transaction, and only then sent;
//! 3. every attempt (send, resend, query) is recorded with its outcome.
//!
//! A new bill number is only ever issued for a definite `not_paid` row, and
//! only with `reissue_not_paid`.

use crate::config::Texts;
use crate::input::{CsvPayouts, InputError, RowIssue};
use crate::journal::{
    AttemptAction, AttemptRecord, BatchHeader, Journal, JournalError, JournalRow, PlanAdd,
    PlannedRow, RowState, Summary, now_ms,
};
use crate::payout::{Kind, PayoutInput, PayoutRequest, build};
use hongbao::{Client, ClientError, Outcome, Prepared};
use hongbao_proto::{BillNo, BillRule, Date, ErrorClass, TradeNo, UnknownReason};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
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
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io = |source| InputError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Today's date in Beijing time (UTC+8), for bill numbers.
pub fn beijing_today() -> Result<Date, BatchError> {
    Date::beijing_from_unix_seconds(now_ms() / 1000)
        .map_err(|v| BatchError::BillNumber(v.to_string()))
}

/// Largest per-journal counter: the 10-digit daily sequence is the journal's
/// 4-digit random prefix followed by a 6-digit counter.
pub const MAX_ROWS_PER_PREFIX: u64 = 999_999;

/// A generated bill number: `mch_id + yyyymmdd + prefix(4) + counter(6)`.
pub fn generate_bill(
    kind: Kind,
    mch_id: &str,
    date: Date,
    prefix: u32,
    counter: u64,
) -> Result<String, BatchError> {
    if counter > MAX_ROWS_PER_PREFIX {
        return Err(BatchError::BillNumber(format!(
            "more than {MAX_ROWS_PER_PREFIX} generated bill numbers in one journal; split the file"
        )));
    }
    let seq = u64::from(prefix) * (MAX_ROWS_PER_PREFIX + 1) + counter;
    let generated = if kind.uses_trade_no() {
        TradeNo::generate(mch_id, date, seq).map(|t| t.as_str().to_owned())
    } else {
        BillNo::generate(mch_id, date, seq).map(|b| b.as_str().to_owned())
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
    let prefix = journal.bill_prefix()?;
    let file = std::fs::File::open(path).map_err(|source| InputError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut rows = CsvPayouts::new(std::io::BufReader::new(file), &header.file_name)?;
    let mut writer = journal.begin_plan(&header)?;
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut planned: u64 = 0;
    let mut counter: u64 = 0;
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
            None => {
                counter += 1;
                (
                    generate_bill(settings.kind, &settings.mch_id, date, prefix, counter)?,
                    true,
                )
            }
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
        let request_json =
            serde_json::to_string(&request).map_err(|e| BatchError::StoredRequest {
                row: 0,
                message: e.to_string(),
            })?;
        let mut planned_row = PlannedRow {
            line: row.line,
            openid: row.openid.clone(),
            amount_fen: request.amount_fen(),
            bill,
            request_json,
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
                    // A caller-chosen bill elsewhere took this generated one: next number.
                    counter += 1;
                    let bill =
                        generate_bill(settings.kind, &settings.mch_id, date, prefix, counter)?;
                    let request = request
                        .with_bill(&bill)
                        .map_err(|v| BatchError::BillNumber(v.to_string()))?;
                    planned_row.request_json =
                        serde_json::to_string(&request).map_err(|e| BatchError::StoredRequest {
                            row: 0,
                            message: e.to_string(),
                        })?;
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
    writer.set_sequence(counter)?;
    writer.commit()?;
    Ok(PlanResult::Planned {
        rows: planned,
        skipped: issues,
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
    /// Give definitely failed rows a new bill number and pay them again.
    pub reissue_not_paid: bool,
    /// Merchant id (for reissued bill numbers).
    pub mch_id: String,
    /// Kind (for reissued bill numbers).
    pub kind: Kind,
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
    /// The run stopped early because of Ctrl-C (or the stop flag).
    pub interrupted: bool,
    /// The journal's summary at the end.
    pub summary: Summary,
}

fn to_record(
    row_id: i64,
    bill: &str,
    action: AttemptAction,
    started_ms: i64,
    result: &Result<Outcome, ClientError>,
) -> AttemptRecord {
    let finished_ms = now_ms();
    let base = AttemptRecord {
        row_id,
        bill: bill.to_owned(),
        action,
        outcome: RowState::Unknown,
        err_code: None,
        wechat_id: None,
        message: None,
        started_ms,
        finished_ms,
    };
    match result {
        Ok(Outcome::Paid(receipt)) => AttemptRecord {
            outcome: RowState::Paid,
            wechat_id: receipt.wechat_id.clone(),
            ..base
        },
        Ok(Outcome::NotPaid(not_paid)) => AttemptRecord {
            outcome: RowState::NotPaid,
            err_code: Some(not_paid.code.as_str().to_owned()),
            message: not_paid.message.clone(),
            ..base
        },
        Ok(Outcome::Unknown(unknown)) => AttemptRecord {
            outcome: RowState::Unknown,
            err_code: unknown_code(&unknown.reason),
            message: Some(describe_unknown(&unknown.reason)),
            ..base
        },
        Err(err) => AttemptRecord {
            // Nothing can have been paid by this attempt, but the row was
            // marked `sending`: keep it unknown so a rerun queries first.
            outcome: RowState::Unknown,
            err_code: Some("NOT_SENT".into()),
            message: Some(err.to_string()),
            ..base
        },
    }
}

/// A human description of why an outcome is unknown.
pub fn describe_unknown(reason: &UnknownReason) -> String {
    let with = |what: &str, message: &Option<String>| match message {
        Some(m) if !m.is_empty() => format!("{what}: {m}"),
        _ => what.to_owned(),
    };
    match reason {
        UnknownReason::ErrorCode { code, message } => {
            with(&format!("error code {}", code.as_str()), message)
        }
        UnknownReason::FailWithoutCode { message } => {
            with("result_code=FAIL without err_code", message)
        }
        UnknownReason::ReturnFail { message } => with("return_code=FAIL", message),
        UnknownReason::NoResult => "reply without result_code".to_owned(),
        UnknownReason::HttpStatus(status) => format!("HTTP status {status}"),
        UnknownReason::Unparseable(detail) => format!("unreadable reply: {detail}"),
        UnknownReason::BadSignature(detail) => format!("reply signature not verified: {detail}"),
        UnknownReason::EchoMismatch { field } => format!("reply echoes a different `{field}`"),
        UnknownReason::InProgress { status } => format!("in progress ({status})"),
        UnknownReason::NoStatus => "query reply without status".to_owned(),
        UnknownReason::NotFound => "query: no such bill (yet)".to_owned(),
        UnknownReason::QueryFailed { code } => format!("query failed: {}", code.as_str()),
        UnknownReason::Transport(detail) => format!("no complete reply: {detail}"),
        other => format!("{other:?}"),
    }
}

fn unknown_code(reason: &UnknownReason) -> Option<String> {
    match reason {
        UnknownReason::ErrorCode { code, .. } => Some(code.as_str().to_owned()),
        UnknownReason::QueryFailed { code } => Some(code.as_str().to_owned()),
        UnknownReason::NotFound => Some("NOT_FOUND".into()),
        UnknownReason::InProgress { .. } => Some("IN_PROGRESS".into()),
        _ => None,
    }
}

/// Whether a `not_paid` row must keep its bill number and be resent
/// identically (rejections such as `FREQ_LIMIT` or `NOTENOUGH`: nothing was
/// paid, and the docs say to retry with the same number), rather than being
/// a definite failure that only a new bill number can follow.
pub fn resend_same_bill(endpoint: hongbao_proto::Endpoint, err_code: Option<&str>) -> bool {
    match err_code {
        None => false,
        Some(code) => matches!(
            hongbao_proto::ErrorCode::parse(code).class(endpoint).1,
            hongbao_proto::BillRule::Keep | hongbao_proto::BillRule::KeepMandatory
        ),
    }
}

/// Sends a prepared body; rate-limit rejections (nothing paid, same bill
/// number to be reused) are retried a few times with growing pauses.
async fn execute_with_limit_retries(
    client: &Client,
    prepared: &Prepared,
    row: &JournalRow,
    first_action: AttemptAction,
) -> Vec<AttemptRecord> {
    let mut records = Vec::new();
    let mut action = first_action;
    let mut pause = Duration::from_millis(1_000);
    for attempt in 0..LIMIT_RETRIES {
        let started = now_ms();
        let result = client.execute(prepared).await;
        let limited = matches!(&result, Ok(Outcome::NotPaid(n)) if n.class == ErrorClass::Limit
            && matches!(n.bill_rule, BillRule::Keep | BillRule::KeepMandatory));
        let mut record = to_record(row.id, &row.bill, action, started, &result);
        if limited && attempt + 1 < LIMIT_RETRIES {
            // Recorded as an attempt; the row stays `sending` until the resend.
            record.outcome = RowState::Sending;
            records.push(record);
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
            action = AttemptAction::Resend;
            continue;
        }
        records.push(record);
        break;
    }
    records
}

/// How many times a rate-limited send is tried within one run.
const LIMIT_RETRIES: u32 = 4;

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

fn stored_request(row: &JournalRow) -> Result<PayoutRequest, BatchError> {
    serde_json::from_str(&row.request_json).map_err(|e| BatchError::StoredRequest {
        row: row.id,
        message: e.to_string(),
    })
}

/// Signs a request with the client (no I/O).
pub fn prepare(client: &Client, request: &PayoutRequest) -> Result<Prepared, ClientError> {
    match request {
        PayoutRequest::RedPacket(r) => client.prepare(r),
        PayoutRequest::GroupRedPacket(r) => client.prepare(r),
        PayoutRequest::WorkwxRedPacket(r) => client.prepare(r),
        PayoutRequest::PayEmployee(r) => client.prepare(r),
        PayoutRequest::Transfer(r) => client.prepare(r),
    }
}

/// Runs `work` over rows in `states` with at most `concurrency` in flight,
/// recording finished attempts in groups. `launch` turns a page of rows
/// into work items (it may write to the journal first) and returns them.
async fn windowed<F, Fut>(
    journal: &mut dyn Journal,
    states: &[RowState],
    concurrency: usize,
    stop: &AtomicBool,
    progress: &mut dyn Progress,
    mut launch: F,
) -> Result<(u64, bool), BatchError>
where
    F: FnMut(&mut dyn Journal, Vec<JournalRow>) -> Result<Vec<Fut>, BatchError>,
    Fut: Future<Output = Vec<AttemptRecord>> + Send + 'static,
{
    let mut inflight: JoinSet<Vec<AttemptRecord>> = JoinSet::new();
    let mut cursor = 0i64;
    let mut exhausted = false;
    let mut handled = 0u64;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && !exhausted && inflight.len() < concurrency {
            let page = journal.rows_in_states(states, cursor, concurrency - inflight.len())?;
            match page.last() {
                None => exhausted = true,
                Some(last) => {
                    cursor = last.id;
                    for work in launch(journal, page)? {
                        inflight.spawn(work);
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
        let mut push = |joined: Result<Vec<AttemptRecord>, tokio::task::JoinError>| {
            if let Ok(mut r) = joined {
                finished += 1;
                records.append(&mut r);
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

/// Pays every row of a planned journal that is not final yet.
///
/// `stop` is checked between requests: once set (Ctrl-C), no new request
/// starts, the ones in flight finish and are recorded, and the run returns
/// with `interrupted`.
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
    let mut reissued = 0;
    if options.reissue_not_paid {
        reissued = reissue(journal, options)?;
    }

    // 1. Rows an earlier run left in flight or unknown: query, then resend
    //    the stored body if the query does not settle it.
    //    `not_paid` rows rejected with a keep-the-number code (FREQ_LIMIT,
    //    NOTENOUGH, ...) are resent identically too.
    let pending = journal.summary()?;
    let to_resolve = pending.get(RowState::Sending).0 + pending.get(RowState::Unknown).0;
    progress.start("resolving", to_resolve);
    let (resumed, interrupted) = windowed(
        journal,
        &[RowState::Sending, RowState::Unknown, RowState::NotPaid],
        concurrency,
        &stop,
        progress,
        |journal, rows| {
            let mut work = Vec::with_capacity(rows.len());
            let mut rejected: Vec<(i64, Vec<u8>)> = Vec::new();
            for row in rows {
                let endpoint = stored_request(&row)?.kind().endpoint();
                if row.state == RowState::NotPaid {
                    if !resend_same_bill(endpoint, row.err_code.as_deref()) {
                        continue;
                    }
                    if let Some(body) = &row.body {
                        rejected.push((row.id, body.clone()));
                    }
                }
                let prepared = stored_prepared(&row)?;
                let client = client.clone();
                work.push(async move { resolve_row(&client, endpoint, row, prepared).await });
            }
            // Back to `sending` (durably) before the identical body is resent.
            let marks: Vec<(i64, &[u8])> =
                rejected.iter().map(|(id, b)| (*id, b.as_slice())).collect();
            if !marks.is_empty() {
                journal.mark_sending(&marks)?;
            }
            Ok(work)
        },
    )
    .await?;
    progress.finish();

    // 2. Planned rows: sign, store body + `sending` durably, then send.
    let mut sent = 0;
    let mut interrupted = interrupted;
    if !interrupted {
        let planned = journal.summary()?.get(RowState::Planned).0;
        progress.start("paying", planned);
        let (count, stopped) = windowed(
            journal,
            &[RowState::Planned],
            concurrency,
            &stop,
            progress,
            |journal, rows| {
                let mut ready: Vec<(JournalRow, Prepared, Vec<u8>)> =
                    Vec::with_capacity(rows.len());
                let mut failed: Vec<AttemptRecord> = Vec::new();
                for row in rows {
                    let request = stored_request(&row)?;
                    let started = now_ms();
                    match prepare(client, &request) {
                        Ok(prepared) => {
                            let bytes = serde_json::to_vec(&prepared).map_err(|e| {
                                BatchError::StoredRequest {
                                    row: row.id,
                                    message: e.to_string(),
                                }
                            })?;
                            ready.push((row, prepared, bytes));
                        }
                        Err(err) => {
                            // Never sent: a definite failure of this row.
                            let mut record = to_record(
                                row.id,
                                &row.bill,
                                AttemptAction::Send,
                                started,
                                &Err(err),
                            );
                            record.outcome = RowState::NotPaid;
                            failed.push(record);
                        }
                    }
                }
                if !failed.is_empty() {
                    journal.record(&failed)?;
                }
                let marks: Vec<(i64, &[u8])> = ready
                    .iter()
                    .map(|(row, _, bytes)| (row.id, bytes.as_slice()))
                    .collect();
                journal.mark_sending(&marks)?;
                let mut work = Vec::with_capacity(ready.len());
                for (row, prepared, _) in ready {
                    let client = client.clone();
                    work.push(async move {
                        execute_with_limit_retries(&client, &prepared, &row, AttemptAction::Send)
                            .await
                    });
                }
                Ok(work)
            },
        )
        .await?;
        progress.finish();
        sent = count;
        interrupted = stopped;
    }
    Ok(RunReport {
        resumed,
        sent,
        reissued,
        interrupted,
        summary: journal.summary()?,
    })
}

async fn resolve_row(
    client: &Client,
    endpoint: hongbao_proto::Endpoint,
    row: JournalRow,
    prepared: Option<Prepared>,
) -> Vec<AttemptRecord> {
    let started = now_ms();
    let queried = client
        .resolve(endpoint, &row.bill, tokio::time::Instant::now())
        .await;
    let mut query = to_record(row.id, &row.bill, AttemptAction::Query, started, &queried);
    if matches!(queried, Ok(Outcome::Paid(_)) | Ok(Outcome::NotPaid(_))) {
        return vec![query];
    }
    let Some(prepared) = prepared else {
        // Nothing stored means nothing was ever sent under this bill.
        return vec![query];
    };
    // Not known to be paid: resend the identical stored body.
    query.outcome = RowState::Sending;
    let mut records = vec![query];
    let mut resent =
        execute_with_limit_retries(client, &prepared, &row, AttemptAction::Resend).await;
    if matches!(row.state, RowState::Sending | RowState::Unknown) {
        // An earlier attempt may have reached WeChat. A refusal of this
        // resend (a limit, the certificate, ...) says nothing about that one,
        // so the row stays unknown and the next run queries it again. Only a
        // `Final` code (SEND_FAILED, ...) is about the bill itself.
        for record in &mut resent {
            if record.outcome == RowState::NotPaid
                && !is_final(endpoint, record.err_code.as_deref())
            {
                record.outcome = RowState::Unknown;
                record.message = Some(format!(
                    "{} (refused resend; an earlier attempt may have been sent, rerun to query)",
                    record.message.as_deref().unwrap_or("refused")
                ));
            }
        }
    }
    records.extend(resent);
    records
}

/// Whether `err_code` is a definite failure of the bill itself on this endpoint
/// (class `Final`), as opposed to a refusal of one attempt.
fn is_final(endpoint: hongbao_proto::Endpoint, err_code: Option<&str>) -> bool {
    err_code.is_some_and(|code| {
        hongbao_proto::ErrorCode::parse(code).class(endpoint).0 == ErrorClass::Final
    })
}

fn reissue(journal: &mut dyn Journal, options: &RunOptions) -> Result<u64, BatchError> {
    let date = beijing_today()?;
    let prefix = journal.bill_prefix()?;
    let mut count = 0;
    let mut cursor = 0;
    loop {
        let page = journal.rows_in_states(&[RowState::NotPaid], cursor, 500)?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        cursor = last.id;
        for row in page {
            let request = stored_request(&row)?;
            if resend_same_bill(request.kind().endpoint(), row.err_code.as_deref()) {
                // Not a definite failure of this bill: it is resent, never replaced.
                continue;
            }
            let counter = journal.next_sequence()?;
            let bill = generate_bill(options.kind, &options.mch_id, date, prefix, counter)?;
            let request = request
                .with_bill(&bill)
                .map_err(|v| BatchError::BillNumber(v.to_string()))?;
            let json = serde_json::to_string(&request).map_err(|e| BatchError::StoredRequest {
                row: row.id,
                message: e.to_string(),
            })?;
            journal.reissue(row.id, &bill, &json)?;
            count += 1;
        }
    }
}

/// Queries WeChat for every row that was ever sent (paid, not paid, sending,
/// unknown) and records the answers; sends nothing. Unknown and sending rows
/// take the answer; a paid row never changes, and if WeChat does not confirm
/// it, that is reported as a disagreement; a query that cannot decide never
/// undoes a definite not-paid.
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
    // Paid rows are confirmed one page at a time (they never change state).
    loop {
        let page = journal.rows_in_states(
            &[
                RowState::Paid,
                RowState::NotPaid,
                RowState::Sending,
                RowState::Unknown,
            ],
            cursor,
            concurrency.max(1) * 4,
        )?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        let mut set: JoinSet<(JournalRow, AttemptRecord)> = JoinSet::new();
        for row in page {
            let client = client.clone();
            let endpoint = stored_request(&row)?.kind().endpoint();
            set.spawn(async move {
                let started = now_ms();
                let result = client
                    .resolve(endpoint, &row.bill, tokio::time::Instant::now())
                    .await;
                let record = to_record(row.id, &row.bill, AttemptAction::Query, started, &result);
                (row, record)
            });
        }
        let mut records = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((row, mut record)) = joined else {
                continue;
            };
            queried += 1;
            match (row.state, record.outcome) {
                (RowState::Paid, RowState::Paid) => {}
                (RowState::Paid, other) => {
                    disagreements.push(format!(
                        "line {} bill {}: journal says paid, WeChat says {} ({})",
                        row.line,
                        row.bill,
                        other,
                        record
                            .message
                            .clone()
                            .or(record.err_code.clone())
                            .unwrap_or_default()
                    ));
                }
                (RowState::NotPaid, RowState::Unknown) => {
                    // A query that cannot decide never undoes a definite answer.
                    record.outcome = RowState::NotPaid;
                    record.err_code = row.err_code.clone();
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
