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
//! 3. `return_code=FAIL`: **Unknown** (`ReturnFail`).
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

use crate::build::SignedRequest;
use crate::code::{BillRule, ErrorClass, ErrorCode};
use crate::endpoint::{Endpoint, Family};
use crate::values::{Amount, RedPacketStatus, TransferStatus, parse_uint};
use crate::xml::RawXml;

/// What happened to the money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Paid (for red packets: sent; see [`Receipt::status`]).
    Paid(Receipt),
    /// Definitely not paid by this attempt; see [`NotPaid::bill_rule`] before
    /// using a new bill number.
    NotPaid(NotPaid),
    /// Unknown: query, or resend the identical request with the same bill number.
    Unknown(Unknown),
}

impl Outcome {
    /// The bill number the outcome is about.
    pub fn bill(&self) -> &str {
        match self {
            Outcome::Paid(r) => &r.bill,
            Outcome::NotPaid(n) => &n.bill,
            Outcome::Unknown(u) => &u.bill,
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
    fn new(bill: &str) -> Receipt {
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
pub struct NotPaid {
    /// The bill number.
    pub bill: String,
    /// The `err_code`; for a query reporting `status=FAILED` it is
    /// `SEND_FAILED` (the status means the same) and `message` is the `reason`.
    pub code: ErrorCode,
    /// Its class.
    pub class: ErrorClass,
    /// What to do with the bill number.
    pub bill_rule: BillRule,
    /// Human text (`err_code_des` / `reason`), never for decisions.
    pub message: Option<String>,
}

/// An unknown outcome: the money may or may not move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    /// The bill number: query it or resend the identical request with it.
    pub bill: String,
    /// Why the outcome is unknown.
    pub reason: UnknownReason,
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
}

/// Everything learned from one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl<'a> Expected<'a> {
    /// Only the bill number is known.
    pub fn bill(bill: &'a str) -> Self {
        Expected {
            bill,
            ..Expected::default()
        }
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
    request: &SignedRequest,
    http_status: u16,
    body: &[u8],
    signer: &Signer,
) -> Interpretation {
    let bill = request.bill.as_deref().unwrap_or_default();
    let spec = request.endpoint.spec();
    let sent = RawXml::parse(&request.body).ok();
    let get =
        |field: Option<&str>| field.and_then(|f| sent.as_ref().and_then(|s| s.get_non_empty(f)));
    let expected = Expected {
        bill,
        mch_id: get(Some(spec.mch_id_field)),
        appid: get(spec.appid_field),
        amount: get(spec.amount_field)
            .and_then(parse_uint)
            .map(Amount::from_fen),
        openid: get(spec.openid_field),
    };
    interpret_expecting(request.endpoint, &expected, http_status, body, signer)
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
    if let Some(field) = spec.bill_field {
        if !expected.bill.is_empty() && differs(field, Some(expected.bill)) {
            return Some(field.to_owned());
        }
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
    for field in ["re_openid", "openid"] {
        if differs(field, expected.openid) {
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
                query_success(endpoint, bill, raw)
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

fn failed_status(bill: &str, raw: &RawXml) -> Outcome {
    Outcome::NotPaid(NotPaid {
        bill: bill.to_owned(),
        code: ErrorCode::SendFailed,
        class: ErrorClass::Final,
        bill_rule: BillRule::New,
        message: text(raw, "reason"),
    })
}

fn query_success(endpoint: Endpoint, bill: &str, raw: &RawXml) -> Result<Outcome, String> {
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
    let mut receipt = Receipt::new(bill);
    receipt.wechat_id = text(raw, "detail_id");
    if matches!(
        endpoint,
        Endpoint::QueryRedPacket | Endpoint::QueryWorkwxRedPacket
    ) {
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
        receipt.openid = text(raw, "openid").or_else(|| {
            raw.records()
                .first()
                .filter(|_| raw.records().len() == 1)
                .and_then(|r| r.iter().find(|(n, _)| n == "openid"))
                .map(|(_, v)| v.clone())
        });
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
    let (class, bill_rule) = code.class(endpoint);
    if endpoint == Endpoint::PayEmployee
        || class == ErrorClass::Unknown
        || code == ErrorCode::FatalError
    {
        return unknown(bill, UnknownReason::ErrorCode { code, message });
    }
    Outcome::NotPaid(NotPaid {
        bill: bill.to_owned(),
        code,
        class,
        bill_rule,
        message,
    })
}
