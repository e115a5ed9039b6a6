//! The ledger's data: payout states, the binding, payouts as submitted and
//! as stored, claims, attempts, import plans and summaries.

use crate::LedgerError;
use hongbao_proto::NextStep;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The state of one payout (see the crate docs for the transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PayoutState {
    /// Key, parameters and bill number stored; nothing sent.
    Planned,
    /// The signed body is stored durably; a request may be in flight.
    Sending,
    /// An attempt may have been sent and no answer settles it: resolved by
    /// a query, or by resending under the same bill number.
    Unknown,
    /// WeChat accepted it (red packets: sent, not opened yet).
    Paid,
    /// Definite: no payment under its current bill number.
    NotPaid,
    /// Its bill number holds another payment: nothing was paid to this
    /// payee under it.
    Conflict,
    /// A red packet the payee opened (RECEIVED).
    Received,
    /// An unopened red packet that went back to the merchant (RFUND_ING or
    /// REFUND): the payee did not get the money. Paid again under a new
    /// bill number only when asked (`--resend-refunded`).
    Refunded,
}

impl PayoutState {
    /// Every state, in lifecycle order.
    pub const ALL: [PayoutState; 8] = [
        PayoutState::Planned,
        PayoutState::Sending,
        PayoutState::Unknown,
        PayoutState::Paid,
        PayoutState::NotPaid,
        PayoutState::Conflict,
        PayoutState::Received,
        PayoutState::Refunded,
    ];

    /// The name stored in the ledger and printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutState::Planned => "planned",
            PayoutState::Sending => "sending",
            PayoutState::Unknown => "unknown",
            PayoutState::Paid => "paid",
            PayoutState::NotPaid => "not_paid",
            PayoutState::Conflict => "conflict",
            PayoutState::Received => "received",
            PayoutState::Refunded => "refunded",
        }
    }

    /// Whether WeChat accepted the payment (paid, received, or refunded
    /// afterwards: a refunded packet was paid and came back).
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            PayoutState::Paid | PayoutState::Received | PayoutState::Refunded
        )
    }

    /// Whether the outcome is definite (nothing is in flight or unknown).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PayoutState::Paid
                | PayoutState::NotPaid
                | PayoutState::Conflict
                | PayoutState::Received
                | PayoutState::Refunded
        )
    }
}

impl fmt::Display for PayoutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PayoutState {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PayoutState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| LedgerError::Corrupt(format!("unknown payout state {s:?}")))
    }
}

/// The server a ledger pays through: the client's base URL for a
/// configured server, [`ServerId::EMBEDDED_SANDBOX`] for the embedded
/// sandbox. Another server never saw the ledger's payments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct ServerId {
    /// `https://api.mch.weixin.qq.com`, `https://127.0.0.1:8443`, or
    /// `sandbox:embedded`.
    pub id: String,
    /// Whether it is a sandbox (no real money moves).
    pub sandbox: bool,
}

impl ServerId {
    /// The identity of the embedded sandbox.
    pub const EMBEDDED_SANDBOX: &'static str = "sandbox:embedded";

    /// A server by its id, as a backend stored it.
    pub fn new(id: impl Into<String>, sandbox: bool) -> Self {
        ServerId {
            id: id.into(),
            sandbox,
        }
    }

    /// The embedded sandbox.
    pub fn embedded_sandbox() -> Self {
        ServerId {
            id: Self::EMBEDDED_SANDBOX.to_owned(),
            sandbox: true,
        }
    }

    /// A configured server, by the client's base URL (a trailing `/` is
    /// dropped, so `https://h/` and `https://h` are one server).
    pub fn configured(base_url: &str) -> Self {
        ServerId {
            id: base_url.trim_end_matches('/').to_owned(),
            sandbox: false,
        }
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if self.sandbox {
            f.write_str(" (sandbox)")?;
        }
        Ok(())
    }
}

/// What a ledger belongs to: one merchant, one app, one server. Opening a
/// ledger with another binding is refused ([`LedgerError::BindingMismatch`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Binding {
    /// Merchant id.
    pub mch_id: String,
    /// App id the payees' openids belong to.
    pub appid: String,
    /// The server the payments go through.
    pub server: ServerId,
}

impl Binding {
    /// The binding of merchant `mch_id`, app `appid`, paying through `server`.
    pub fn new(mch_id: impl Into<String>, appid: impl Into<String>, server: ServerId) -> Self {
        Binding {
            mch_id: mch_id.into(),
            appid: appid.into(),
            server,
        }
    }
}

/// A payout to store: its key, payee, amount and request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPayout {
    /// The idempotency key (unique in the ledger).
    pub key: String,
    /// The batch it belongs to (`None` for payouts submitted one by one).
    pub batch: Option<String>,
    /// Line in the batch's file (0 outside batches).
    pub line: u64,
    /// Payee openid.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// The business parameters without the bill number, as canonical text:
    /// what "the same payout" means for idempotency.
    pub params: String,
    /// The bill number.
    pub bill: String,
    /// The request (the proto request type) as JSON, under `bill`.
    pub request_json: String,
    /// Whether the ledger chose the bill number (it may then choose another
    /// by itself after a bill conflict, or when the number is taken).
    pub generated: bool,
}

impl NewPayout {
    /// The payout of `request` under key `key`, outside batches: payee,
    /// amount, parameters and bill number are the request's. `generated`:
    /// whether the ledger chose the bill number (it may then draw another
    /// by itself). A request without a bill number is
    /// [`LedgerError::Corrupt`].
    pub fn new(
        key: impl Into<String>,
        request: &hongbao_proto::AnyRequest,
        generated: bool,
    ) -> Result<Self, LedgerError> {
        let bill = request
            .bill()
            .ok_or_else(|| LedgerError::Corrupt("a payout needs a bill number".into()))?
            .to_owned();
        Ok(NewPayout {
            key: key.into(),
            batch: None,
            line: 0,
            openid: request.payee().map(|p| p.into_owned()).unwrap_or_default(),
            amount_fen: request.amount().map_or(0, |a| a.fen()),
            params: crate::params_of(request),
            bill,
            request_json: serde_json::to_string(request)
                .map_err(|e| LedgerError::Corrupt(format!("request not serializable: {e}")))?,
            generated,
        })
    }

    /// The same payout as row `line` of batch `batch`'s file.
    pub fn in_batch(mut self, batch: impl Into<String>, line: u64) -> Self {
        self.batch = Some(batch.into());
        self.line = line;
        self
    }
}

/// A payout as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Payout {
    /// Ledger id (stable, increasing in insertion order).
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// Batch, if any.
    pub batch: Option<String>,
    /// Line in the batch's file (0 outside batches).
    pub line: u64,
    /// Payee openid.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// Business parameters without the bill number (see [`NewPayout::params`]).
    #[serde(skip)]
    pub params: String,
    /// Current bill number.
    pub bill: String,
    /// Current state.
    pub state: PayoutState,
    /// The request as JSON, under `bill`.
    #[serde(skip)]
    pub request_json: String,
    /// The exact signed body sent (or about to be sent) under `bill`.
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
    /// WeChat's id for the payment (`send_listid`, `payment_no`, `detail_id`).
    pub wechat_id: Option<String>,
    /// Last error code seen.
    pub err_code: Option<String>,
    /// Last human-readable detail.
    pub message: Option<String>,
    /// Attempts (sends and queries) recorded.
    pub attempts: u32,
    /// When it last changed (RFC 3339, Beijing time).
    pub updated_at: String,
    /// The client's decision for the current bill (`None` before the first
    /// answer).
    pub next_step: Option<NextStep>,
    /// Whether the ledger chose the bill number.
    pub generated: bool,
    /// When the payee opened the red packet (unix ms), if known.
    pub received_ms: Option<i64>,
    /// When the red packet went back to the merchant (unix ms), if known.
    pub refunded_ms: Option<i64>,
    /// Claim counter: increased by every claim (the fencing token).
    pub fence: i64,
}

impl Payout {
    /// Payout `id` as `new` stores it: planned, nothing sent, no attempt,
    /// fence 0, updated now. (For a [`Store`](crate::Store) of another
    /// crate: it sets the stored state, times and counters on the fields.)
    pub fn new(id: i64, new: &NewPayout) -> Self {
        Payout {
            id,
            key: new.key.clone(),
            batch: new.batch.clone(),
            line: new.line,
            openid: new.openid.clone(),
            amount_fen: new.amount_fen,
            params: new.params.clone(),
            bill: new.bill.clone(),
            state: PayoutState::Planned,
            request_json: new.request_json.clone(),
            body: None,
            wechat_id: None,
            err_code: None,
            message: None,
            attempts: 0,
            updated_at: rfc3339(now_ms()),
            next_step: None,
            generated: new.generated,
            received_ms: None,
            refunded_ms: None,
            fence: 0,
        }
    }
}

/// A worker's hold on one payout: valid while the payout's fence is
/// unchanged (every new claim increases it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
// Exhaustive on purpose: a claim is the fencing token's pair (payout, fence)
// and nothing else; a backend of another crate builds it.
#[allow(clippy::exhaustive_structs)]
pub struct Claim {
    /// The payout's id.
    pub payout: i64,
    /// The fencing token this claim got.
    pub fence: i64,
}

/// A claimed payout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// The claim (give it back with every write).
    pub claim: Claim,
    /// The payout as it was when claimed.
    pub payout: Payout,
}

impl Claimed {
    /// `payout`, held by `claim`.
    pub fn new(claim: Claim, payout: Payout) -> Self {
        Claimed { claim, payout }
    }
}

/// Which payouts a claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Due {
    /// To pay or resolve: `planned`, `sending`, `unknown`, and `not_paid`
    /// whose next step keeps the bill number (`retry_same_bill`, `query`,
    /// or none recorded).
    Pay,
    /// `planned` payouts only (the later rounds of a pass).
    Planned,
    /// `conflict` payouts whose bill number the ledger chose: it gives them
    /// a new one by itself.
    Renumber,
    /// `not_paid` payouts whose next step is a new bill, and every
    /// `conflict`: given a new bill number only when asked.
    Reissue,
    /// `refunded` payouts: paid again under a new bill number only when asked.
    Refunded,
    /// Everything ever sent (reconcile): `sending`, `unknown`, `paid`,
    /// `not_paid`, `conflict`, `received`, `refunded`.
    Sent,
    /// Red packets that may still change (`paid`: sent, not opened yet).
    Refresh,
}

/// What to claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// Who claims (shown in reports; any text unique per worker).
    pub owner: String,
    /// Which payouts.
    pub due: Due,
    /// Only this batch's payouts (`None`: any).
    pub batch: Option<String>,
    /// Only payouts with an id greater than this (a pass over the ledger).
    pub after_id: i64,
    /// At most this many.
    pub limit: usize,
    /// Lease length in milliseconds: after it, another worker may take the
    /// payout over (and treats it as possibly sent).
    pub lease_ms: i64,
}

impl ClaimRequest {
    /// Claims for `owner` of up to `limit` payouts `due`, each held for
    /// `lease_ms`, in any batch, from the first id.
    pub fn new(owner: impl Into<String>, due: Due, limit: usize, lease_ms: i64) -> Self {
        ClaimRequest {
            owner: owner.into(),
            due,
            batch: None,
            after_id: 0,
            limit,
            lease_ms,
        }
    }

    /// Only payouts of `batch` (`None`: any).
    pub fn with_batch(mut self, batch: Option<String>) -> Self {
        self.batch = batch;
        self
    }

    /// Only payouts with an id greater than `after_id`.
    pub fn with_after_id(mut self, after_id: i64) -> Self {
        self.after_id = after_id;
        self
    }
}

/// What an attempt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptAction {
    /// The first send of a body.
    Send,
    /// A resend of the identical stored body.
    Resend,
    /// A status query.
    Query,
    /// A request that may have been sent before, taken up again: a query
    /// first, then the same bill number with identical parameters.
    Resume,
}

impl AttemptAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptAction::Send => "send",
            AttemptAction::Resend => "resend",
            AttemptAction::Query => "query",
            AttemptAction::Resume => "resume",
        }
    }

    /// The action of a stored name.
    pub fn parse(name: &str) -> Option<AttemptAction> {
        [
            AttemptAction::Send,
            AttemptAction::Resend,
            AttemptAction::Query,
            AttemptAction::Resume,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

/// The result of one attempt, to be recorded under a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// The claim it was made under (the payout and its fence).
    pub claim: Claim,
    /// The bill number the attempt was about.
    pub bill: String,
    /// Send, resend, query or resume.
    pub action: AttemptAction,
    /// The state this attempt leads to.
    pub outcome: PayoutState,
    /// Error code, if any.
    pub err_code: Option<String>,
    /// WeChat's payment id, if any.
    pub wechat_id: Option<String>,
    /// Human-readable detail.
    pub message: Option<String>,
    /// Start time, unix milliseconds.
    pub started_ms: i64,
    /// End time, unix milliseconds.
    pub finished_ms: i64,
    /// The client's decision after this attempt.
    pub next_step: Option<NextStep>,
}

impl AttemptRecord {
    /// An attempt about `bill` under `claim` that leads to `outcome`, made
    /// between `started_ms` and `finished_ms` (unix ms); no error code,
    /// WeChat id, message or next step (see the `with_*` setters).
    pub fn new(
        claim: Claim,
        bill: impl Into<String>,
        action: AttemptAction,
        outcome: PayoutState,
        started_ms: i64,
        finished_ms: i64,
    ) -> Self {
        AttemptRecord {
            claim,
            bill: bill.into(),
            action,
            outcome,
            err_code: None,
            wechat_id: None,
            message: None,
            started_ms,
            finished_ms,
            next_step: None,
        }
    }

    /// Sets the error code.
    pub fn with_err_code(mut self, code: Option<String>) -> Self {
        self.err_code = code;
        self
    }

    /// Sets WeChat's payment id.
    pub fn with_wechat_id(mut self, id: Option<String>) -> Self {
        self.wechat_id = id;
        self
    }

    /// Sets the human-readable detail.
    pub fn with_message(mut self, message: Option<String>) -> Self {
        self.message = message;
        self
    }

    /// Sets the client's decision after the attempt.
    pub fn with_next_step(mut self, step: Option<NextStep>) -> Self {
        self.next_step = step;
        self
    }
}

/// The batch a file is imported into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BatchSpec {
    /// Batch name (unique in the ledger).
    pub name: String,
    /// The file's name, for people.
    pub file_name: String,
    /// SHA-256 (hex) of the file's bytes as last imported.
    pub file_digest: String,
    /// Payout kind (`red-packet`, `transfer`, …).
    pub kind: String,
}

impl BatchSpec {
    /// Batch `name` of payouts of `kind` (`red-packet`, `transfer`, …),
    /// imported from `file_name` whose bytes have SHA-256 `file_digest` (hex).
    pub fn new(
        name: impl Into<String>,
        file_name: impl Into<String>,
        file_digest: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        BatchSpec {
            name: name.into(),
            file_name: file_name.into(),
            file_digest: file_digest.into(),
            kind: kind.into(),
        }
    }
}

/// A row of a file whose key exists with other parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChangedRow {
    /// Line in the file.
    pub line: u64,
    /// The key.
    pub key: String,
    /// The stored parameters.
    pub old: String,
    /// The file's parameters.
    pub new: String,
    /// The stored payout's state.
    pub state: PayoutState,
}

impl ChangedRow {
    /// Row `line` of key `key`: stored parameters `old` (payout in
    /// `state`), the file's `new`.
    pub fn new(
        line: u64,
        key: impl Into<String>,
        old: impl Into<String>,
        new: impl Into<String>,
        state: PayoutState,
    ) -> Self {
        ChangedRow {
            line,
            key: key.into(),
            old: old.into(),
            new: new.into(),
            state,
        }
    }
}

/// A payee paid the same amount in another batch recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SimilarPayout {
    /// Line in the file.
    pub line: u64,
    /// Payee.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// The other batch (`None`: a payout submitted on its own).
    pub other_batch: Option<String>,
    /// The other payout's key.
    pub other_key: String,
}

impl SimilarPayout {
    /// Row `line` pays `openid` `amount_fen`, as payout `other_key` of
    /// `other_batch` (`None`: submitted on its own) does.
    pub fn new(
        line: u64,
        openid: impl Into<String>,
        amount_fen: u64,
        other_batch: Option<String>,
        other_key: impl Into<String>,
    ) -> Self {
        SimilarPayout {
            line,
            openid: openid.into(),
            amount_fen,
            other_batch,
            other_key: other_key.into(),
        }
    }
}

/// What importing a file into a batch does (or did).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportPlan {
    /// Lines of rows that are new payouts.
    pub new: Vec<u64>,
    /// Lines of rows that are existing payouts, unchanged.
    pub unchanged: Vec<u64>,
    /// Rows whose key exists with other parameters and whose payout is
    /// definitely not paid: replaced by the file's parameters (new bill).
    pub replaced: Vec<ChangedRow>,
    /// Rows whose key exists with other parameters and whose payout may be
    /// paid: refused (nothing of the import is written).
    pub refused: Vec<ChangedRow>,
    /// Rows whose caller-chosen bill number another payout already has:
    /// `(line, bill, who has it: "payout <key>" or "line <n>")`; refused.
    pub duplicate_bills: Vec<(u64, String, String)>,
    /// New rows whose payee is paid the same amount by a payout of another
    /// batch (or one submitted on its own) that was paid within the 30 days
    /// before the import, or that is not settled yet (planned, sending,
    /// unknown: it may still be paid, on top of this row). Payouts
    /// definitely not paid do not count, nor do other payouts of the same
    /// batch. A warning: the rows are imported all the same.
    pub similar: Vec<SimilarPayout>,
    /// Whether the rows were written (no refusal, not a dry run).
    pub committed: bool,
}

impl ImportPlan {
    /// Whether the import was refused (changed rows that may be paid, or
    /// duplicate bill numbers).
    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty() || !self.duplicate_bills.is_empty()
    }

    /// Adds the plan of another chunk of the same file.
    pub fn merge(&mut self, other: ImportPlan) {
        self.new.extend(other.new);
        self.unchanged.extend(other.unchanged);
        self.replaced.extend(other.replaced);
        self.refused.extend(other.refused);
        self.duplicate_bills.extend(other.duplicate_bills);
        self.similar.extend(other.similar);
        self.committed = self.committed && other.committed;
    }
}

/// What submitting one payout did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Submitted {
    /// The payout as stored.
    pub payout: Payout,
    /// Whether it was created now (`false`: it existed with these parameters).
    pub created: bool,
}

impl Submitted {
    /// `payout` as stored; `created`: whether this submit created it.
    pub fn new(payout: Payout, created: bool) -> Self {
        Submitted { payout, created }
    }
}

/// Counts and totals, of a batch or of the whole ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Payouts per state: `(state, count, total fen)`, every state listed.
    pub by_state: Vec<(PayoutState, u64, u64)>,
    /// Not-paid payouts per error code: `(code, count, total fen)`.
    pub not_paid_by_code: Vec<(String, u64, u64)>,
}

impl Summary {
    /// A summary with every state at zero.
    pub fn empty() -> Self {
        Summary {
            by_state: PayoutState::ALL.iter().map(|s| (*s, 0, 0)).collect(),
            not_paid_by_code: Vec::new(),
        }
    }

    /// Count and total (fen) of payouts in `state`.
    pub fn get(&self, state: PayoutState) -> (u64, u64) {
        self.by_state
            .iter()
            .find(|(s, _, _)| *s == state)
            .map(|(_, count, fen)| (*count, *fen))
            .unwrap_or((0, 0))
    }

    /// Number of payouts.
    pub fn payouts(&self) -> u64 {
        self.by_state.iter().map(|(_, count, _)| count).sum()
    }
}

/// Which payouts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayoutFilter {
    /// Only this batch (`None`: all).
    pub batch: Option<String>,
    /// Only these states (empty: all).
    pub states: Vec<PayoutState>,
    /// Only ids greater than this.
    pub after_id: i64,
    /// At most this many (0: no limit).
    pub limit: usize,
}

impl PayoutFilter {
    /// Only payouts of `batch` (`None`: all).
    pub fn with_batch(mut self, batch: Option<String>) -> Self {
        self.batch = batch;
        self
    }

    /// Only payouts in `states` (empty: all).
    pub fn with_states(mut self, states: Vec<PayoutState>) -> Self {
        self.states = states;
        self
    }

    /// Only payouts with an id greater than `after_id`.
    pub fn with_after_id(mut self, after_id: i64) -> Self {
        self.after_id = after_id;
        self
    }

    /// At most `limit` payouts (0: no limit).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 text of a unix-milliseconds time in Beijing time (fixed
/// +08:00, the offset of every time WeChat shows), to the second.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000).clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    );
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .display_with_offset(jiff::tz::Offset::constant(8))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_beijing_time() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T08:00:00+08:00");
        assert_eq!(rfc3339(-1), "1970-01-01T07:59:59+08:00");
        assert!(rfc3339(i64::MAX).starts_with("9999-"));
    }

    #[test]
    fn states_round_trip() {
        for state in PayoutState::ALL {
            assert_eq!(state.as_str().parse::<PayoutState>().ok(), Some(state));
        }
        assert!("paid ".parse::<PayoutState>().is_err());
        assert!(PayoutState::Refunded.was_paid());
        assert!(!PayoutState::Unknown.is_final());
    }
}
