//! Typed requests and replies, one file per endpoint family.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::code::ErrorCode;
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violation, Violations};
use crate::values::{
    Amount, HbType, RedPacketStatus, ResultCode, SendType, TransferStatus, parse_uint,
};
use crate::xml::{RawXml, XmlError};

mod any;
pub(crate) mod declare;
mod pay_employee;
mod payout;
mod red_packet;
mod signkey;
mod transfer;
mod workwx;

pub use any::{AnyReply, AnyRequest, RequestVisitor};
pub use declare::{BuilderField, FieldSpec, OptionalText};
pub use pay_employee::{
    PayEmployee, PayEmployeeBuilder, PayEmployeeQuery, PayEmployeeQueryBuilder,
    PayEmployeeQueryReply, PayEmployeeReply,
};
pub use red_packet::{
    GroupRedPacket, GroupRedPacketBuilder, HbInfo, MiniProgramRedPacket,
    MiniProgramRedPacketBuilder, RedPacket, RedPacketBuilder, RedPacketQuery,
    RedPacketQueryBuilder, RedPacketQueryReply, RedPacketReply,
};
pub use signkey::{SignKeyReply, SignKeyRequest};
pub use transfer::{
    Transfer, TransferBuilder, TransferQuery, TransferQueryBuilder, TransferQueryReply,
    TransferReply,
};
pub use workwx::{
    WorkwxRedPacket, WorkwxRedPacketBuilder, WorkwxRedPacketQuery, WorkwxRedPacketQueryBuilder,
    WorkwxRedPacketQueryReply, WorkwxRedPacketReply,
};

/// A request to one endpoint.
pub trait Request {
    /// The endpoint it is sent to.
    const ENDPOINT: Endpoint;
    /// The typed reply.
    type Reply: Reply;
    /// Checks every rule that can be checked locally; returns **all** violations.
    fn validate(&self) -> Result<(), Violations>;
    /// The bill number (`mch_billno` / `partner_trade_no`); `None` for the sandbox key call.
    fn bill(&self) -> Option<&str>;
    /// Business fields, without mch_id/appid (added from [`Merchant`]),
    /// nonce_str, sign, workwx_sign. Optional fields that are absent or empty
    /// are left out.
    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)>;
    /// Reads a request body back into the typed request and the merchant
    /// identity (for emulators and the sign debugger). Reports every
    /// violation at once, including fields this endpoint does not have (such
    /// as `sign_type`); `nonce_str`, `sign` and `workwx_sign` are not checked.
    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations>
    where
        Self: Sized;
    /// For WeCom endpoints: which WeCom app signs (agentid), if the request names one.
    fn agentid(&self) -> Option<&str> {
        None
    }
}

/// A typed reply.
pub trait Reply: Sized {
    /// Maps a parsed body to the typed reply. Every payload field is optional;
    /// numeric fields parse strictly (an error names the field).
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError>;
}

/// Why a parsed body could not be mapped to a typed reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The body is not acceptable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A required envelope field is missing.
    #[error("the reply has no `{field}`")]
    Missing {
        /// The missing field.
        field: &'static str,
    },
    /// A numeric field is not a non-negative decimal integer.
    #[error("field `{field}` is not a non-negative integer: {value:?}")]
    Number {
        /// The field.
        field: String,
        /// Its value.
        value: String,
    },
}

/// The merchant identity added to every request (`mch_id`/`mchid`,
/// `wxappid`/`appid`/`mch_appid`, depending on the endpoint).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Merchant {
    /// The merchant id (`mch_id`, or `mchid` on transfers).
    pub mch_id: String,
    /// The app id (official account, mini program, WeCom corpid...).
    pub appid: String,
}

impl Merchant {
    /// A merchant identity.
    pub fn new(mch_id: impl Into<String>, appid: impl Into<String>) -> Self {
        Merchant {
            mch_id: mch_id.into(),
            appid: appid.into(),
        }
    }

    /// Checks `mch_id` (1–32 ASCII letters and digits) and, when the endpoint
    /// sends one, the app id (1–32 characters, 128 on pay-to-employee and
    /// transfers; prefixes are not checked).
    pub fn validate(&self, endpoint: Endpoint) -> Result<(), Violations> {
        let spec = endpoint.spec();
        let mut c = Checker::new();
        c.ascii(
            spec.mch_id_field,
            &self.mch_id,
            32,
            crate::validate::alnum,
            crate::validate::ALNUM,
        );
        if let Some(field) = spec.appid_field {
            let max = match endpoint {
                Endpoint::PayEmployee
                | Endpoint::QueryPayEmployee
                | Endpoint::Transfer
                | Endpoint::QueryTransfer => 128,
                _ => 32,
            };
            c.ascii(
                field,
                &self.appid,
                max,
                |b| b.is_ascii_graphic(),
                "printable ASCII without spaces",
            );
        }
        c.finish()
    }
}

/// The envelope common to every reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Envelope {
    /// `return_code`: whether the request was received (not the business result).
    pub return_code: ResultCode,
    /// `return_msg`: human text.
    pub return_msg: Option<String>,
    /// `result_code`: the business result (present when `return_code=SUCCESS`).
    pub result_code: Option<ResultCode>,
    /// `err_code`.
    pub err_code: Option<ErrorCode>,
    /// `err_code_des`: human text, never branch on it.
    pub err_code_des: Option<String>,
}

impl Envelope {
    /// Reads the envelope fields.
    pub fn from_raw(raw: &RawXml) -> Result<Envelope, ReplyError> {
        Ok(Envelope {
            return_code: return_code(raw)?,
            return_msg: opt(raw, "return_msg"),
            result_code: raw.get_non_empty("result_code").map(ResultCode::parse),
            err_code: raw.get_non_empty("err_code").map(ErrorCode::parse),
            err_code_des: opt(raw, "err_code_des"),
        })
    }

    /// Whether both `return_code` and `result_code` are `SUCCESS`.
    pub fn is_success(&self) -> bool {
        self.return_code == ResultCode::Success && self.result_code == Some(ResultCode::Success)
    }
}

/// The required `return_code`.
pub(crate) fn return_code(raw: &RawXml) -> Result<ResultCode, ReplyError> {
    raw.get_non_empty("return_code")
        .map(ResultCode::parse)
        .ok_or(ReplyError::Missing {
            field: "return_code",
        })
}

/// A non-empty text field.
pub(crate) fn opt(raw: &RawXml, field: &str) -> Option<String> {
    raw.get_non_empty(field).map(str::to_owned)
}

/// A strict non-negative integer field (empty = absent).
pub(crate) fn opt_uint(raw: &RawXml, field: &str) -> Result<Option<u64>, ReplyError> {
    match raw.get_non_empty(field) {
        None => Ok(None),
        Some(v) => parse_uint(v).map(Some).ok_or_else(|| ReplyError::Number {
            field: field.into(),
            value: v.into(),
        }),
    }
}

/// A strict amount field in fen (empty = absent).
pub(crate) fn opt_amount(raw: &RawXml, field: &str) -> Result<Option<Amount>, ReplyError> {
    Ok(opt_uint(raw, field)?.map(Amount::from_fen))
}

/// A reply payload field: how one optional field is read from a parsed body.
pub(crate) trait ReplyField: Sized {
    /// Reads `field` (empty = absent).
    fn read(raw: &RawXml, field: &str) -> Result<Option<Self>, ReplyError>;
}

impl ReplyField for String {
    fn read(raw: &RawXml, field: &str) -> Result<Option<Self>, ReplyError> {
        Ok(opt(raw, field))
    }
}

impl ReplyField for u64 {
    fn read(raw: &RawXml, field: &str) -> Result<Option<Self>, ReplyError> {
        opt_uint(raw, field)
    }
}

impl ReplyField for Amount {
    fn read(raw: &RawXml, field: &str) -> Result<Option<Self>, ReplyError> {
        opt_amount(raw, field)
    }
}

/// Open enums parse any value (unknown ones are kept as received).
macro_rules! open_reply_field {
    ($($ty:ty),+) => {
        $(impl ReplyField for $ty {
            fn read(raw: &RawXml, field: &str) -> Result<Option<Self>, ReplyError> {
                Ok(raw.get_non_empty(field).map(<$ty>::parse))
            }
        })+
    };
}

open_reply_field!(RedPacketStatus, SendType, HbType, TransferStatus);

/// Defines a reply type: the given payload fields (each read from the
/// element of the same name, see [`ReplyField`]) between `envelope` (first)
/// and `raw` (every field as received, last), and its [`Reply`] impl. An
/// optional `extra` field, read by the given function before anything else,
/// goes just before `raw`.
macro_rules! reply {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$field_attr:meta])* pub $field:ident: Option<$ty:ty>,)*
        }
        $($(#[$extra_attr:meta])* extra $extra:ident: $extra_ty:ty = $read_extra:path;)?
    ) => {
        $(#[$attr])*
        #[derive(serde::Serialize)]
        #[non_exhaustive]
        pub struct $name {
            /// Envelope.
            pub envelope: $crate::model::Envelope,
            $($(#[$field_attr])* pub $field: Option<$ty>,)*
            $($(#[$extra_attr])* pub $extra: $extra_ty,)?
            /// Every field as received.
            pub raw: $crate::xml::RawXml,
        }

        impl $crate::model::Reply for $name {
            fn from_raw(
                raw: &$crate::xml::RawXml,
            ) -> Result<Self, $crate::model::ReplyError> {
                $(let $extra = $read_extra(raw)?;)?
                Ok($name {
                    envelope: $crate::model::Envelope::from_raw(raw)?,
                    $($field: $crate::model::ReplyField::read(raw, stringify!($field))?,)*
                    $($extra,)?
                    raw: raw.clone(),
                })
            }
        }
    };
}
pub(crate) use reply;

/// An integer written as text.
pub(crate) fn num(n: u64) -> Cow<'static, str> {
    Cow::Owned(itoa::Buffer::new().format(n).to_owned())
}

/// Reads a request body back into typed values (for emulators and the sign
/// debugger), collecting every violation.
pub(crate) struct WireReader<'a> {
    raw: &'a RawXml,
    endpoint: Endpoint,
    known: Vec<&'static str>,
    pub(crate) violations: Violations,
}

impl<'a> WireReader<'a> {
    pub(crate) fn new(raw: &'a RawXml, endpoint: Endpoint) -> Self {
        WireReader {
            raw,
            endpoint,
            known: vec!["nonce_str", "sign", "workwx_sign"],
            violations: Violations::new(),
        }
    }

    /// An optional field (absent or empty → `None`).
    pub(crate) fn opt(&mut self, field: &'static str) -> Option<String> {
        self.known.push(field);
        self.raw.get_non_empty(field).map(str::to_owned)
    }

    /// A required field; a violation and `""` if missing.
    pub(crate) fn req(&mut self, field: &'static str) -> String {
        match self.opt(field) {
            Some(v) => v,
            None => {
                self.violations
                    .push(Violation::new(field, Rule::Required, None));
                String::new()
            }
        }
    }

    /// A required field parsed with `parse`; violations are renamed to `field`.
    pub(crate) fn parsed<T>(
        &mut self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Violation>,
    ) -> Option<T> {
        let value = self.req(field);
        if value.is_empty() {
            return None;
        }
        self.parse(field, &value, parse)
    }

    /// An optional field parsed with `parse`.
    pub(crate) fn opt_parsed<T>(
        &mut self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Violation>,
    ) -> Option<T> {
        let value = self.opt(field)?;
        self.parse(field, &value, parse)
    }

    /// Parses a present value; a violation is renamed to `field` and kept.
    fn parse<T>(
        &mut self,
        field: &'static str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, Violation>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(mut v) => {
                v.field = field.into();
                self.violations.push(v);
                None
            }
        }
    }

    /// A required integer.
    pub(crate) fn uint(&mut self, field: &'static str) -> Option<u64> {
        self.parsed(field, |s| {
            parse_uint(s).ok_or_else(|| Violation::new(field, Rule::Integer, Some(s.into())))
        })
    }

    /// An optional integer.
    pub(crate) fn opt_uint(&mut self, field: &'static str) -> Option<u64> {
        self.opt_parsed(field, |s| {
            parse_uint(s).ok_or_else(|| Violation::new(field, Rule::Integer, Some(s.into())))
        })
    }

    /// A required amount in fen.
    pub(crate) fn amount(&mut self, field: &'static str) -> Amount {
        Amount::from_fen(self.uint(field).unwrap_or(0))
    }

    /// A field that must equal a constant.
    pub(crate) fn fixed(&mut self, field: &'static str, expected: &'static str) {
        let value = self.req(field);
        if !value.is_empty() && value != expected {
            self.violations
                .push(Violation::new(field, Rule::Fixed(expected), Some(value)));
        }
    }

    /// Reads the merchant fields, flags unknown fields, and returns the
    /// merchant with every violation collected so far.
    pub(crate) fn finish(mut self) -> (Merchant, Violations) {
        let spec = self.endpoint.spec();
        let mch_id = self.req(spec.mch_id_field);
        let appid = match spec.appid_field {
            Some(f) => self.req(f),
            None => String::new(),
        };
        for (name, _) in self.raw.fields() {
            if !self.known.contains(&name) {
                self.violations.push(Violation::new(
                    name.to_owned(),
                    Rule::Unexpected,
                    self.raw.get(name).map(str::to_owned),
                ));
            }
        }
        (Merchant { mch_id, appid }, self.violations)
    }
}

/// A request body read back with every violation, without refusing it as
/// a whole: the typed request whenever every field has a typed value, even
/// when some of its rules fail (see [`AnyRequest::read_wire`]). Emulators
/// use it to answer WeChat's codes for some violations and apply the rest
/// of their rules to typed fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireRead<R> {
    /// The typed request; `None` when a field is missing or cannot be
    /// typed. A field whose violation is listed may hold a placeholder (an
    /// unreadable amount reads as zero): use the request only when every
    /// listed violation is one the caller chose to set aside.
    pub request: Option<R>,
    /// The merchant fields as sent.
    pub merchant: Merchant,
    /// Every rule the body breaks (empty when it is valid).
    pub violations: Violations,
}

impl<R> WireRead<R> {
    /// The request and merchant when nothing is violated (what `from_wire` returns).
    pub fn into_result(self) -> Result<(R, Merchant), Violations> {
        match self.request {
            Some(request) if self.violations.is_empty() => Ok((request, self.merchant)),
            _ => Err(self.violations),
        }
    }

    /// The same read with the request mapped.
    pub fn map<T>(self, f: impl FnOnce(R) -> T) -> WireRead<T> {
        WireRead {
            request: self.request.map(f),
            merchant: self.merchant,
            violations: self.violations,
        }
    }

    /// Drops the violations of the documented default amount ranges (per
    /// payment, per packet on average, the minimum payment, and "`scene_id`
    /// is required outside 1–200 yuan"): for an emulator that applies a
    /// merchant's own, configurable limits with WeChat's limit codes.
    pub fn without_amount_limits(mut self) -> Self {
        let mut kept = Violations::new();
        for v in self.violations {
            let amount_rule = matches!(
                v.rule,
                Rule::AmountRange { .. } | Rule::AmountAtLeast(_) | Rule::AverageAmountRange { .. }
            ) || (v.field == red_packet::SCENE_FIELD
                && matches!(v.rule, Rule::RequiredWhen(_)));
            if !amount_rule {
                kept.push(v);
            }
        }
        self.violations = kept;
        self
    }
}

/// Reads the rest of a body: merges the reader's violations with the
/// request's own validation and the merchant's.
pub(crate) fn read_wire<R: Request>(reader: WireReader<'_>, request: Option<R>) -> WireRead<R> {
    let (merchant, mut violations) = reader.finish();
    merge_new_fields(&mut violations, merchant.validate(R::ENDPOINT));
    if let Some(request) = &request {
        merge_new_fields(&mut violations, request.validate());
    }
    WireRead {
        request,
        merchant,
        violations,
    }
}

/// Adds the violations of `checked` whose field has none in `violations` yet.
fn merge_new_fields(violations: &mut Violations, checked: Result<(), Violations>) {
    if let Err(more) = checked {
        for violation in more {
            if !violations.has_field(&violation.field) {
                violations.push(violation);
            }
        }
    }
}
