//! What a reply means for the money: [`interpret`] and [`Outcome`].
//!
//! Rules (README "Outcome classification", evaluated top to bottom):
//!
//! 1. HTTP status other than 200, an unparseable body, or no `return_code`:
//!    **Unknown**.
//! 2. A `sign` that does not verify (on any endpoint): **Unknown**
//!    (`BadSignature`). A missing `sign` on an endpoint that signs its
//!    replies (sendworkwxredpack, queryworkwxredpack) when
//!    `return_code=SUCCESS` never yields Paid or NotPaid: such a reply is
//!    **Unknown** (`BadSignature`, or the more precise reason when the
//!    rules below make it unknown anyway, e.g. an unsigned `SYSTEMERROR`).
//!    Endpoints that never sign are never failed for lacking a `sign`.
//! 3. `return_code=FAIL`: **Unknown** (`ReturnFail`), except a send turned
//!    away at the gate with a documented `SIGN_ERROR`, `WORKWX_SIGN_ERROR`,
//!    `CA_ERROR`, `XML_ERROR` or `HTTP_METHOD_ERROR` (a request that fails
//!    these checks is never processed): **NotPaid** with the code's rule
//!    (KEEP: the same bill number, re-signed for the signature codes).
//! 4. An echoed bill number, merchant id, app id, amount or openid that
//!    differs from the request: **Unknown** (`EchoMismatch`).
//! 5. `result_code=SUCCESS`: a send is **Paid**; a query maps its `status`
//!    (SENDING/PROCESSING/unknown → Unknown `InProgress`; SENT, RECEIVED,
//!    RFUND_ING, REFUND, SUCCESS → Paid; FAILED → NotPaid).
//! 6. `result_code=FAIL`: queries give Unknown (`NotFound` for `NOT_FOUND`,
//!    `QueryFailed` otherwise). Sends: no `err_code` → Unknown; pay to
//!    employee → always Unknown (every FAIL is confirmed by query); a code of
//!    class U (unknown or undocumented codes, SYSTEMERROR, PROCESSING,
//!    transfers' SEND_FAILED) or `FATAL_ERROR` → Unknown; any other
//!    documented code → **NotPaid** with its class and bill-number rule.
//! 7. `result_code` missing or another value: **Unknown** (`NoResult`).
//!
//! The sandbox key call moves no money and has no `result_code`: its reply
//! counts as `Paid` (with an empty receipt) when `return_code=SUCCESS` and a
//! `sandbox_signkey` is present, `Unknown` otherwise; read the key with
//! [`SignKeyReply`](crate::SignKeyReply).

use serde::{Deserialize, Serialize};

use hongbao_sign::Signer;

use crate::code::{BillRule, ErrorClass, ErrorCode};
use crate::endpoint::{Endpoint, Family};
use crate::prepared::Prepared;
use crate::values::{Amount, RedPacketStatus, TransferStatus, parse_uint};
use crate::xml::RawXml;

/// What happened to the money, with the next step ([`Outcome::next_step`]).
///
/// Four answers, each definite about what may be done next:
///
/// | outcome | money | next step |
/// |---|---|---|
/// | `Paid` | paid under this bill number | [`NextStep::Done`] |
/// | `NotPaid` | not paid by this attempt | see [`NotPaid::next`]: same bill later, or a new bill |
/// | `Unknown` | may or may not be paid | [`NextStep::Query`]: query, or resend the identical request under the same bill |
/// | `Conflict` | the bill number belongs to **another** payment: nothing was paid to this payee under it | [`NextStep::NewBill`] |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Paid (for red packets: sent; see [`Receipt::status`]).
    Paid(Receipt),
    /// Not paid by this attempt; [`NotPaid::next`] says whether the same bill
    /// number is to be sent again later or a new one may be used.
    NotPaid(NotPaid),
    /// Unknown: query, or resend the identical request with the same bill number.
    Unknown(Unknown),
    /// The bill number belongs to another payment (another payee or another
    /// amount): nothing was paid to this payee under it. WeChat never pays
    /// two payees or two amounts under one bill number, so this is definite
    /// for this request, and paying it under a new bill number is safe.
    Conflict(Conflict),
}

impl Outcome {
    /// The bill number the outcome is about.
    pub fn bill(&self) -> &str {
        match self {
            Outcome::Paid(r) => &r.bill,
            Outcome::NotPaid(n) => &n.bill,
            Outcome::Unknown(u) => &u.bill,
            Outcome::Conflict(c) => &c.bill,
        }
    }
    /// Whether it is `Paid`.
    pub fn is_paid(&self) -> bool {
        matches!(self, Outcome::Paid(_))
    }
    /// Whether it is `NotPaid`.
    pub fn is_not_paid(&self) -> bool {
        matches!(self, Outcome::NotPaid(_))
    }
    /// Whether it is `Unknown`.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown(_))
    }
    /// Whether it is `Conflict`.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Outcome::Conflict(_))
    }

    /// What to do next with this payment: the one place where the money
    /// rules turn an answer into an action.
    pub fn next_step(&self) -> NextStep {
        match self {
            Outcome::Paid(_) => NextStep::Done,
            Outcome::NotPaid(n) => n.next,
            Outcome::Unknown(_) => NextStep::Query,
            Outcome::Conflict(_) => NextStep::NewBill,
        }
    }
}

impl std::fmt::Display for Outcome {
    /// One line for people: what happened and what to do.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Paid(r) => {
                write!(f, "paid: bill {}", r.bill)?;
                if let Some(id) = &r.wechat_id {
                    write!(f, " (WeChat id {id})")?;
                }
                Ok(())
            }
            Outcome::NotPaid(n) => n.fmt(f),
            Outcome::Unknown(u) => u.fmt(f),
            Outcome::Conflict(c) => c.fmt(f),
        }
    }
}

/// What to do next with a payment, decided by the client from WeChat's
/// answers ([`Outcome::next_step`]). Nothing above the client re-derives it
/// from error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NextStep {
    /// Paid: nothing more to do.
    Done,
    /// Not paid, and nothing is pending under this bill number: after the
    /// cause is fixed or the limit resets (top up the balance, wait for the
    /// rate limit, fix the certificate…), send again under the **same**
    /// bill number with the same parameters. With `resign`, the refusal was
    /// about the signature (`SIGN_ERROR`, `WORKWX_SIGN_ERROR`): sign the
    /// same parameters again with the right key (the client does this by
    /// itself when its key differs from the one the stored body was signed
    /// with).
    RetrySameBill {
        /// Whether the request must be signed again (same parameters, new
        /// nonce and signature) rather than resent byte for byte.
        resign: bool,
    },
    /// The outcome is unknown: query the bill number, or resend the
    /// identical request under it. Never a new bill number.
    Query,
    /// Definitely nothing was paid to this payee under this bill number (a
    /// failure WeChat declared final, confirmed by a query where the rules
    /// ask for one, or a bill conflict): paying again needs a **new** bill
    /// number, which is a new payment.
    NewBill,
}

impl NextStep {
    /// A short lowercase name (`done`, `retry_same_bill`, `resign_same_bill`,
    /// `query`, `new_bill`), for journals and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NextStep::Done => "done",
            NextStep::RetrySameBill { resign: false } => "retry_same_bill",
            NextStep::RetrySameBill { resign: true } => "resign_same_bill",
            NextStep::Query => "query",
            NextStep::NewBill => "new_bill",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(name: &str) -> Option<NextStep> {
        Some(match name {
            "done" => NextStep::Done,
            "retry_same_bill" => NextStep::RetrySameBill { resign: false },
            "resign_same_bill" => NextStep::RetrySameBill { resign: true },
            "query" => NextStep::Query,
            "new_bill" => NextStep::NewBill,
            _ => return None,
        })
    }
}

impl std::fmt::Display for NextStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NextStep::Done => "nothing to do",
            NextStep::RetrySameBill { resign: false } => {
                "not paid yet: retry later with the same bill number"
            }
            NextStep::RetrySameBill { resign: true } => {
                "not paid yet: sign again with the right key and retry with the same bill number"
            }
            NextStep::Query => {
                "keep the bill number: query it, or resend the identical request; never a new number"
            }
            NextStep::NewBill => {
                "nothing was paid under this bill number: pay again only with a NEW bill number"
            }
        })
    }
}

/// A bill conflict: the bill number is WeChat's record of another payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Conflict {
    /// The bill number.
    pub bill: String,
    /// The payee WeChat holds under this bill number, when it said.
    pub openid: Option<String>,
    /// The amount WeChat holds under this bill number, when it said.
    pub amount: Option<Amount>,
    /// What differs (`"openid"`, `"amount"`), or how the conflict was learnt.
    pub field: String,
}

impl Conflict {
    /// A conflict on `bill`, learnt from `field`.
    pub fn new(
        bill: impl Into<String>,
        field: impl Into<String>,
        openid: Option<String>,
        amount: Option<Amount>,
    ) -> Self {
        Conflict {
            bill: bill.into(),
            openid,
            amount,
            field: field.into(),
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bill {} belongs to another payment (", self.bill)?;
        match &self.openid {
            Some(openid) => write!(f, "openid {openid}")?,
            None => f.write_str("another openid")?,
        }
        match self.amount {
            Some(amount) => write!(f, ", amount {amount}")?,
            None => f.write_str(", amount not reported")?,
        }
        f.write_str(
            "); nothing was paid to this payee under it: pay again only with a NEW bill number",
        )
    }
}

/// The state of a payment that left the merchant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayoutStatus {
    /// Red packet sent, not (yet) opened.
    Sent,
    /// Red packet opened by the user.
    Received,
    /// Red packet unclaimed; the refund to the merchant is in progress.
    RefundInProgress,
    /// Red packet unclaimed; refunded to the merchant.
    Refunded,
    /// Transfer / payment to employee succeeded.
    Succeeded,
}

/// An unclaimed red packet's refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refund {
    /// Whether the refund is still in progress (`RFUND_ING`).
    pub in_progress: bool,
    /// Refunded amount, if reported.
    pub amount: Option<Amount>,
    /// Refund time, if reported.
    pub time: Option<String>,
}

/// Proof of a payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Receipt {
    /// The bill number.
    pub bill: String,
    /// WeChat's id: `send_listid`, `payment_no` or `detail_id`.
    pub wechat_id: Option<String>,
    /// Amount reported by the reply (or, when the reply has none, the request's).
    pub amount: Option<Amount>,
    /// State of the payment, when known.
    pub status: Option<PayoutStatus>,
    /// Time sent / paid, as reported (Beijing time, opaque text).
    pub paid_at: Option<String>,
    /// Refund details for unclaimed red packets.
    pub refund: Option<Refund>,
    /// The payee, when reported.
    pub openid: Option<String>,
    /// Mini-program red packets: the `package` to pass to `wx.sendBizRedPacket`.
    pub package: Option<String>,
}

impl Receipt {
    /// A receipt for `bill` with nothing else known yet (set the public
    /// fields that are).
    pub fn new(bill: &str) -> Receipt {
        Receipt {
            bill: bill.to_owned(),
            wechat_id: None,
            amount: None,
            status: None,
            paid_at: None,
            refund: None,
            openid: None,
            package: None,
        }
    }
}

/// A definite "not paid by this attempt".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotPaid {
    /// The bill number.
    pub bill: String,
    /// The `err_code`; for a query reporting `status=FAILED` it is
    /// `SEND_FAILED` (the status means the same) and `message` is the `reason`.
    pub code: ErrorCode,
    /// Its class.
    pub class: ErrorClass,
    /// The documented bill-number rule of the code.
    pub bill_rule: BillRule,
    /// What to do next: derived from the rule, and settled by a query where
    /// the rule asks for one (the client does; a bare [`interpret`] leaves
    /// [`NextStep::Query`]).
    pub next: NextStep,
    /// Human text (`err_code_des` / `reason`), never for decisions.
    pub message: Option<String>,
}

impl NotPaid {
    /// A refusal of `bill` with `code`, its class and rule on `endpoint`, and
    /// the next step its rule gives before any query.
    pub fn new(bill: impl Into<String>, endpoint: Endpoint, code: ErrorCode) -> NotPaid {
        let (class, bill_rule) = code.class(endpoint);
        let next = match bill_rule {
            BillRule::New => NextStep::NewBill,
            BillRule::Keep | BillRule::KeepMandatory => NextStep::RetrySameBill {
                resign: matches!(code, ErrorCode::SignError | ErrorCode::WorkwxSignError),
            },
            BillRule::Query => NextStep::Query,
        };
        NotPaid {
            bill: bill.into(),
            code,
            class,
            bill_rule,
            next,
            message: None,
        }
    }

    /// The same, with WeChat's text.
    pub fn with_message(mut self, message: Option<String>) -> NotPaid {
        self.message = message;
        self
    }

    /// The same refusal, confirmed by a query (`FAILED`, or `NOT_FOUND` when
    /// no attempt had an unknown outcome): definitely nothing was paid under
    /// this bill number. A refusal whose rule keeps the number stays
    /// [`NextStep::RetrySameBill`]; any other becomes [`NextStep::NewBill`].
    pub fn confirmed(mut self) -> NotPaid {
        if !matches!(self.next, NextStep::RetrySameBill { .. }) {
            self.next = NextStep::NewBill;
        }
        self
    }
}

impl std::fmt::Display for NotPaid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not paid: bill {}, {}", self.bill, self.code.as_str())?;
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            write!(f, " ({m})")?;
        }
        write!(f, "; {}", self.next)
    }
}

/// An unknown outcome: the money may or may not move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Unknown {
    /// The bill number: query it or resend the identical request with it.
    pub bill: String,
    /// Why the outcome is unknown.
    pub reason: UnknownReason,
}

impl Unknown {
    /// An unknown outcome for `bill`.
    pub fn new(bill: impl Into<String>, reason: UnknownReason) -> Unknown {
        Unknown {
            bill: bill.into(),
            reason,
        }
    }
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown: bill {} may or may not be paid ({}); {}",
            self.bill,
            self.reason,
            NextStep::Query
        )
    }
}

/// Why an outcome is unknown.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnknownReason {
    /// `result_code=FAIL` with a code that does not settle the question.
    ErrorCode {
        /// The code.
        code: ErrorCode,
        /// `err_code_des`.
        message: Option<String>,
    },
    /// `result_code=FAIL` without an `err_code`.
    FailWithoutCode {
        /// `err_code_des` / `return_msg`.
        message: Option<String>,
    },
    /// `return_code=FAIL`.
    ReturnFail {
        /// `return_msg`.
        message: Option<String>,
    },
    /// `result_code` missing or neither SUCCESS nor FAIL.
    NoResult,
    /// HTTP status other than 200.
    HttpStatus(u16),
    /// The body could not be parsed (or lacks `return_code`).
    Unparseable(String),
    /// The reply's `sign` is missing where required, or does not verify.
    BadSignature(String),
    /// An echoed field differs from the request.
    EchoMismatch {
        /// The field.
        field: String,
    },
    /// A query reports the payment in progress (or an undocumented status).
    InProgress {
        /// The status as received.
        status: String,
    },
    /// A successful query reply without a `status`.
    NoStatus,
    /// A query found no such bill (not a failure: in flight, never landed, or older than 30 days).
    NotFound,
    /// A query did not run (`SYSTEMERROR`, `FREQ_LIMIT`, `SIGN_ERROR`, ...).
    QueryFailed {
        /// The code.
        code: ErrorCode,
    },
    /// The request may have been sent but no complete reply arrived.
    Transport(String),
    /// A query found a payment under the bill number with the request's
    /// amount but did not name its payee (an unopened cash red packet, a
    /// group red packet): it may be this request's payment or another
    /// payee's. Resending the identical request tells (WeChat answers it
    /// as a repeat, or `FATAL_ERROR` when the bill is another payee's).
    PayeeNotNamed {
        /// The status as received.
        status: String,
    },
}

impl std::fmt::Display for UnknownReason {
    /// The text users see.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let with =
            |f: &mut std::fmt::Formatter<'_>, what: &str, message: &Option<String>| match message {
                Some(m) if !m.is_empty() => write!(f, "{what}: {m}"),
                _ => f.write_str(what),
            };
        match self {
            UnknownReason::ErrorCode { code, message } => {
                with(f, &format!("error code {}", code.as_str()), message)
            }
            UnknownReason::FailWithoutCode { message } => {
                with(f, "result_code=FAIL without err_code", message)
            }
            UnknownReason::ReturnFail { message } => with(f, "return_code=FAIL", message),
            UnknownReason::NoResult => f.write_str("reply without result_code"),
            UnknownReason::HttpStatus(status) => write!(f, "HTTP status {status}"),
            UnknownReason::Unparseable(detail) => write!(f, "unreadable reply: {detail}"),
            UnknownReason::BadSignature(detail) => {
                write!(f, "reply signature not verified: {detail}")
            }
            UnknownReason::EchoMismatch { field } => {
                write!(f, "the reply does not carry this request's `{field}`")
            }
            UnknownReason::InProgress { status } => write!(f, "in progress ({status})"),
            UnknownReason::NoStatus => f.write_str("query reply without status"),
            UnknownReason::NotFound => f.write_str("query: no such bill (yet)"),
            UnknownReason::QueryFailed { code } => {
                write!(f, "the query failed: {}", code.as_str())
            }
            UnknownReason::Transport(detail) => write!(f, "no complete reply: {detail}"),
            UnknownReason::PayeeNotNamed { status } => write!(
                f,
                "WeChat holds a payment of this amount under the bill ({status}) but does not say to whom"
            ),
        }
    }
}

/// Everything learned from one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interpretation {
    /// What it means for the money.
    pub outcome: Outcome,
    /// The parsed body, when it parsed.
    pub raw: Option<RawXml>,
    /// The `err_code`, if any.
    pub code: Option<ErrorCode>,
}

/// What the request said, for the echo sanity check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expected<'a> {
    /// The bill number.
    pub bill: &'a str,
    /// The merchant id sent.
    pub mch_id: Option<&'a str>,
    /// The app id sent.
    pub appid: Option<&'a str>,
    /// The amount sent.
    pub amount: Option<Amount>,
    /// The payee sent.
    pub openid: Option<&'a str>,
    /// A send under this bill was refused because the bill is held by
    /// another payee (`FATAL_ERROR`): a query that does not name the payee
    /// (an unopened cash red packet) then settles as a [`Conflict`].
    pub other_payee_reported: bool,
}

impl<'a> Expected<'a> {
    /// Only the bill number is known.
    pub fn bill(bill: &'a str) -> Self {
        Expected {
            bill,
            ..Expected::default()
        }
    }

    /// Sets [`mch_id`](Self::mch_id).
    #[must_use]
    pub fn with_mch_id(mut self, mch_id: &'a str) -> Self {
        self.mch_id = Some(mch_id);
        self
    }

    /// Sets [`appid`](Self::appid).
    #[must_use]
    pub fn with_appid(mut self, appid: &'a str) -> Self {
        self.appid = Some(appid);
        self
    }

    /// Sets [`amount`](Self::amount).
    #[must_use]
    pub fn with_amount(mut self, amount: Amount) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets [`openid`](Self::openid).
    #[must_use]
    pub fn with_openid(mut self, openid: &'a str) -> Self {
        self.openid = Some(openid);
        self
    }
}

/// Parses, verifies (see module docs), checks the echoed bill number and
/// classifies a reply to a request for `bill` on `endpoint`.
pub fn interpret(
    endpoint: Endpoint,
    bill: &str,
    http_status: u16,
    body: &[u8],
    signer: &Signer,
) -> Interpretation {
    interpret_expecting(endpoint, &Expected::bill(bill), http_status, body, signer)
}

/// Like [`interpret`], checking every echo against the signed request
/// (bill number, merchant id, app id, amount, openid).
pub fn interpret_signed(
    request: &Prepared,
    http_status: u16,
    body: &[u8],
    signer: &Signer,
) -> Interpretation {
    interpret_expecting(
        request.endpoint(),
        &request.expected(),
        http_status,
        body,
        signer,
    )
}

/// Like [`interpret`] with everything the request said.
pub fn interpret_expecting(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    http_status: u16,
    body: &[u8],
    signer: &Signer,
) -> Interpretation {
    let parsed = RawXml::parse(body);
    if http_status != 200 {
        return Interpretation {
            outcome: unknown(expected.bill, UnknownReason::HttpStatus(http_status)),
            code: parsed
                .as_ref()
                .ok()
                .and_then(|r| r.get_non_empty("err_code"))
                .map(ErrorCode::parse),
            raw: parsed.ok(),
        };
    }
    match parsed {
        Err(e) => Interpretation {
            outcome: unknown(expected.bill, UnknownReason::Unparseable(e.to_string())),
            raw: None,
            code: None,
        },
        Ok(raw) => Interpretation {
            outcome: classify(endpoint, expected, &raw, signer),
            code: raw.get_non_empty("err_code").map(ErrorCode::parse),
            raw: Some(raw),
        },
    }
}

fn unknown(bill: &str, reason: UnknownReason) -> Outcome {
    Outcome::Unknown(Unknown {
        bill: bill.to_owned(),
        reason,
    })
}

fn text(raw: &RawXml, field: &str) -> Option<String> {
    raw.get_non_empty(field).map(str::to_owned)
}

/// A strict amount field: `Err(field)` when present but not an integer.
fn amount(raw: &RawXml, field: &'static str) -> Result<Option<Amount>, String> {
    match raw.get_non_empty(field) {
        None => Ok(None),
        Some(v) => parse_uint(v)
            .map(|f| Some(Amount::from_fen(f)))
            .ok_or_else(|| format!("field `{field}` is not a non-negative integer: {v:?}")),
    }
}

fn echo_mismatch(endpoint: Endpoint, expected: &Expected<'_>, raw: &RawXml) -> Option<String> {
    let spec = endpoint.spec();
    let differs = |field: &str, want: Option<&str>| match (raw.get_non_empty(field), want) {
        (Some(got), Some(want)) => got != want,
        _ => false,
    };
    if let Some(field) = spec.bill_field
        && !expected.bill.is_empty()
        && differs(field, Some(expected.bill))
    {
        return Some(field.to_owned());
    }
    for field in ["mch_id", "mchid"] {
        if differs(field, expected.mch_id) {
            return Some(field.to_owned());
        }
    }
    for field in ["wxappid", "appid", "mch_appid"] {
        if differs(field, expected.appid) {
            return Some(field.to_owned());
        }
    }
    // A query reply's payee and amount are checked by `query_conflict`: a
    // difference there is a bill conflict, not a garbled reply.
    for field in ["re_openid", "openid"] {
        if !endpoint.is_query() && differs(field, expected.openid) {
            return Some(field.to_owned());
        }
    }
    if let (Some(want), Some(field)) = (expected.amount, spec.amount_field) {
        let reply_field = if endpoint.is_query() {
            None
        } else {
            Some(field)
        };
        if let Some(f) = reply_field {
            match raw.get_non_empty(f) {
                Some(got) if parse_uint(got) != Some(want.fen()) => return Some(f.to_owned()),
                _ => {}
            }
        }
    }
    None
}

/// Classifies a parsed reply (rules in the module docs).
pub fn classify(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    raw: &RawXml,
    signer: &Signer,
) -> Outcome {
    let bill = expected.bill;
    let Some(return_code) = raw.get_non_empty("return_code") else {
        return unknown(
            bill,
            UnknownReason::Unparseable("the reply has no return_code".into()),
        );
    };
    let spec = endpoint.spec();
    let unsigned = if raw.get_non_empty("sign").is_some() {
        if let Err(e) = signer.verify_reply(raw.fields()) {
            return unknown(bill, UnknownReason::BadSignature(e.to_string()));
        }
        false
    } else {
        spec.reply_signed && return_code == "SUCCESS"
    };
    let outcome = classify_verified(endpoint, expected, raw, return_code);
    if unsigned && !outcome.is_unknown() {
        // A reply that should be signed and is not never settles the question;
        // an outcome that is unknown anyway keeps its more precise reason.
        return unknown(
            bill,
            UnknownReason::BadSignature(
                "the reply carries no sign, and this endpoint signs its replies".into(),
            ),
        );
    }
    outcome
}

fn classify_verified(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    raw: &RawXml,
    return_code: &str,
) -> Outcome {
    let bill = expected.bill;
    if return_code != "SUCCESS" {
        // A request turned away at the gate (its signature, its certificate,
        // its XML) was never processed: nothing can have been paid by it.
        // The code's rule keeps the bill number (KEEP).
        if let Some(code) = raw.get_non_empty("err_code").map(ErrorCode::parse)
            && !endpoint.is_query()
            && code.is_gate_refusal()
            && code.is_documented_for(endpoint)
        {
            return Outcome::NotPaid(
                NotPaid::new(bill, endpoint, code)
                    .with_message(text(raw, "err_code_des").or_else(|| text(raw, "return_msg"))),
            );
        }
        return unknown(
            bill,
            UnknownReason::ReturnFail {
                message: text(raw, "return_msg"),
            },
        );
    }
    if let Some(field) = echo_mismatch(endpoint, expected, raw) {
        return unknown(bill, UnknownReason::EchoMismatch { field });
    }
    if endpoint == Endpoint::GetSignKey {
        return if raw.get_non_empty("sandbox_signkey").is_some() {
            Outcome::Paid(Receipt::new(bill))
        } else {
            unknown(bill, UnknownReason::NoResult)
        };
    }
    match raw.get_non_empty("result_code") {
        Some("SUCCESS") => {
            let result = if endpoint.is_query() {
                query_success(endpoint, expected, raw)
            } else {
                send_success(endpoint, expected, raw)
            };
            result.unwrap_or_else(|e| unknown(bill, UnknownReason::Unparseable(e)))
        }
        Some("FAIL") => fail(endpoint, bill, raw),
        _ => unknown(bill, UnknownReason::NoResult),
    }
}

fn send_success(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    raw: &RawXml,
) -> Result<Outcome, String> {
    let mut receipt = Receipt::new(expected.bill);
    match endpoint.spec().family {
        Family::RedPacket | Family::WorkwxRedPacket => {
            receipt.wechat_id = text(raw, "send_listid");
            receipt.amount = amount(raw, "total_amount")?;
            receipt.status = Some(PayoutStatus::Sent);
            receipt.paid_at = text(raw, "send_time");
            receipt.openid = text(raw, "re_openid");
            receipt.package = text(raw, "package");
        }
        Family::PayEmployee | Family::Transfer | Family::SignKey => {
            receipt.wechat_id = text(raw, "payment_no");
            receipt.amount = amount(raw, "amount")?;
            receipt.status = Some(PayoutStatus::Succeeded);
            receipt.paid_at = text(raw, "payment_time");
            receipt.openid = text(raw, "openid");
        }
    }
    if receipt.amount.is_none() {
        receipt.amount = expected.amount;
    }
    if receipt.openid.is_none() {
        receipt.openid = expected.openid.map(str::to_owned);
    }
    Ok(Outcome::Paid(receipt))
}

/// A query's `FAILED`: final for the bill whatever the family's table says
/// of `SEND_FAILED` (transfers class it U), since the status is about the
/// bill itself.
fn failed_status(bill: &str, raw: &RawXml) -> Outcome {
    Outcome::NotPaid(NotPaid {
        bill: bill.to_owned(),
        code: ErrorCode::SendFailed,
        class: ErrorClass::Final,
        bill_rule: BillRule::New,
        next: NextStep::NewBill,
        message: text(raw, "reason"),
    })
}

fn is_failed(endpoint: Endpoint, status: &str) -> bool {
    match endpoint {
        Endpoint::QueryRedPacket | Endpoint::QueryWorkwxRedPacket => {
            RedPacketStatus::parse(status) == RedPacketStatus::Failed
        }
        _ => TransferStatus::parse(status) == TransferStatus::Failed,
    }
}

/// The payee a query reply names: `openid` (WeCom red packets, payments to
/// employees, transfers) or the receiver of a cash red packet's single
/// `hblist` record. `None` when it names none (an unopened cash red packet)
/// or several (a group red packet).
fn query_payee(raw: &RawXml) -> Option<String> {
    text(raw, "openid").or_else(|| match raw.records() {
        [only] => only
            .iter()
            .find(|(n, _)| n == "openid")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty()),
        _ => None,
    })
}

/// Rule 0a.1 of errors.md: a query answers for the bill number, not for the
/// request. A settling answer whose payee or amount differs from the
/// request's is a [`Conflict`]; `Err` when the reply lacks the amount the
/// check needs (then it cannot tell whose payment it is).
fn query_conflict(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    raw: &RawXml,
) -> Result<QueryMatch, String> {
    let amount_field = match endpoint {
        Endpoint::QueryRedPacket | Endpoint::QueryWorkwxRedPacket => "total_amount",
        _ => "payment_amount",
    };
    let theirs = amount(raw, amount_field)?;
    let payee = query_payee(raw);
    let mut differs = None;
    if let Some(want) = expected.amount {
        match theirs {
            None => {
                return Err(format!(
                    "the query reply has no `{amount_field}`, so it cannot tell whose payment bill {} is",
                    expected.bill
                ));
            }
            Some(got) if got != want => differs = Some("amount"),
            Some(_) => {}
        }
    }
    let mut unnamed = false;
    if let Some(want) = expected.openid {
        match payee.as_deref() {
            Some(got) if got != want => differs = differs.or(Some("openid")),
            None if expected.other_payee_reported => {
                differs = differs.or(Some("openid (FATAL_ERROR)"))
            }
            None => unnamed = true,
            Some(_) => {}
        }
    }
    Ok(match differs {
        Some(field) => QueryMatch::Conflict(Conflict::new(expected.bill, field, payee, theirs)),
        None if unnamed => QueryMatch::PayeeNotNamed,
        None => QueryMatch::Same,
    })
}

/// Whether a settling query answer is about the request's payment.
enum QueryMatch {
    /// Same payee (or not asked) and same amount.
    Same,
    /// Another payment.
    Conflict(Conflict),
    /// Same amount, payee not named.
    PayeeNotNamed,
}

fn query_success(
    endpoint: Endpoint,
    expected: &Expected<'_>,
    raw: &RawXml,
) -> Result<Outcome, String> {
    let bill = expected.bill;
    let Some(status) = raw.get_non_empty("status") else {
        return Ok(unknown(bill, UnknownReason::NoStatus));
    };
    let in_progress = || {
        unknown(
            bill,
            UnknownReason::InProgress {
                status: status.to_owned(),
            },
        )
    };
    let red_packet = matches!(
        endpoint,
        Endpoint::QueryRedPacket | Endpoint::QueryWorkwxRedPacket
    );
    let settled = if red_packet {
        !matches!(
            RedPacketStatus::parse(status),
            RedPacketStatus::Sending | RedPacketStatus::Unknown(_)
        )
    } else {
        matches!(
            TransferStatus::parse(status),
            TransferStatus::Success | TransferStatus::Failed
        )
    };
    if settled {
        match query_conflict(endpoint, expected, raw)? {
            QueryMatch::Conflict(conflict) => return Ok(Outcome::Conflict(conflict)),
            // A FAILED payment of unnamed payee: nothing was paid under the
            // bill to anyone, so not to this payee either.
            QueryMatch::PayeeNotNamed if !is_failed(endpoint, status) => {
                return Ok(unknown(
                    bill,
                    UnknownReason::PayeeNotNamed {
                        status: status.to_owned(),
                    },
                ));
            }
            _ => {}
        }
    }
    let mut receipt = Receipt::new(bill);
    receipt.wechat_id = text(raw, "detail_id");
    if red_packet {
        let payout = match RedPacketStatus::parse(status) {
            RedPacketStatus::Failed => return Ok(failed_status(bill, raw)),
            RedPacketStatus::Sent => PayoutStatus::Sent,
            RedPacketStatus::Received => PayoutStatus::Received,
            RedPacketStatus::RefundInProgress => PayoutStatus::RefundInProgress,
            RedPacketStatus::Refunded => PayoutStatus::Refunded,
            _ => return Ok(in_progress()),
        };
        receipt.amount = amount(raw, "total_amount")?;
        receipt.status = Some(payout);
        receipt.paid_at = text(raw, "send_time");
        receipt.openid = query_payee(raw);
        if matches!(
            payout,
            PayoutStatus::RefundInProgress | PayoutStatus::Refunded
        ) {
            receipt.refund = Some(Refund {
                in_progress: payout == PayoutStatus::RefundInProgress,
                amount: amount(raw, "refund_amount")?,
                time: text(raw, "refund_time"),
            });
        }
    } else {
        match TransferStatus::parse(status) {
            TransferStatus::Success => {}
            TransferStatus::Failed => return Ok(failed_status(bill, raw)),
            _ => return Ok(in_progress()),
        }
        receipt.amount = amount(raw, "payment_amount")?;
        receipt.status = Some(PayoutStatus::Succeeded);
        receipt.paid_at = text(raw, "payment_time").or_else(|| text(raw, "transfer_time"));
        receipt.openid = text(raw, "openid");
    }
    Ok(Outcome::Paid(receipt))
}

fn fail(endpoint: Endpoint, bill: &str, raw: &RawXml) -> Outcome {
    let message = text(raw, "err_code_des");
    let Some(code) = raw.get_non_empty("err_code").map(ErrorCode::parse) else {
        return unknown(
            bill,
            UnknownReason::FailWithoutCode {
                message: message.or_else(|| text(raw, "return_msg")),
            },
        );
    };
    if endpoint.is_query() {
        return if code == ErrorCode::NotFound {
            unknown(bill, UnknownReason::NotFound)
        } else {
            unknown(bill, UnknownReason::QueryFailed { code })
        };
    }
    let (class, _) = code.class(endpoint);
    if endpoint == Endpoint::PayEmployee
        || class == ErrorClass::Unknown
        || code == ErrorCode::FatalError
    {
        return unknown(bill, UnknownReason::ErrorCode { code, message });
    }
    Outcome::NotPaid(NotPaid::new(bill, endpoint, code).with_message(message))
}
