//! `err_code` values, and what each means per endpoint family (errors.md).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::endpoint::Endpoint;

/// What an error code says about the money (errors.md §0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorClass {
    /// U: the payment may or may not happen; query or resend identically.
    Unknown,
    /// F: WeChat Pay states the payment failed; nothing was paid for this bill number.
    Final,
    /// C: the request was rejected for its content; fix it.
    Caller,
    /// A: rejected because of merchant setup (certificate, permissions, balance).
    Account,
    /// L: rejected by a quota, rate or time window; retry later.
    Limit,
    /// Q: a query did not run; says nothing about the payment.
    Query,
}

impl ErrorClass {
    /// The one-letter name used in errors.md.
    pub fn letter(self) -> char {
        match self {
            ErrorClass::Unknown => 'U',
            ErrorClass::Final => 'F',
            ErrorClass::Caller => 'C',
            ErrorClass::Account => 'A',
            ErrorClass::Limit => 'L',
            ErrorClass::Query => 'Q',
        }
    }
}

/// What to do with the bill number (errors.md §0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BillRule {
    /// KEEP!: the docs explicitly forbid changing the number; retry only with
    /// the original number and the original parameters.
    KeepMandatory,
    /// KEEP: keep the number; after the fix or when the limit resets, resend
    /// the identical request.
    Keep,
    /// NEW: this number failed; a new number may be used (a new payment).
    New,
    /// QUERY: query before ever switching to a new number.
    Query,
}

macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident => $wire:literal),+ $(,)?) => {
        /// An `err_code`: every code documented in errors.md, plus `Unknown`
        /// for anything else (new codes appear without notice; an unknown code
        /// is an unknown outcome, never a failure).
        #[non_exhaustive]
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$meta])* $variant,)+
            /// A code not documented in errors.md, kept as received.
            Unknown(String),
        }

        impl ErrorCode {
            /// Every documented code (not `Unknown`).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// Parses a code; never fails. `PSYSTEMERROR` (a typo on the WeCom
            /// query page) is read as [`ErrorCode::SystemError`].
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($wire => ErrorCode::$variant,)+
                    "PSYSTEMERROR" => ErrorCode::SystemError,
                    other => ErrorCode::Unknown(other.to_owned()),
                }
            }

            /// The code as documented (`SYSTEMERROR` also for `PSYSTEMERROR`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $wire,)+
                    ErrorCode::Unknown(s) => s,
                }
            }
        }
    };
}

error_codes! {
    /// `SYSTEMERROR`: no definite result; keep the number.
    SystemError => "SYSTEMERROR",
    /// `PROCESSING`: accepted, in progress; query in about 20 minutes.
    Processing => "PROCESSING",
    /// `SEND_FAILED`: red packets: failed, a new number is allowed; transfers: query first.
    SendFailed => "SEND_FAILED",
    /// `FATAL_ERROR`: the number was used with different parameters; the original may have paid.
    FatalError => "FATAL_ERROR",
    /// `PARAM_ERROR`: a field is missing or invalid.
    ParamError => "PARAM_ERROR",
    /// `XML_ERROR`: malformed XML or empty body.
    XmlError => "XML_ERROR",
    /// `SIGN_ERROR`: the signature is wrong.
    SignError => "SIGN_ERROR",
    /// `CA_ERROR`: the client certificate is missing or wrong.
    CaError => "CA_ERROR",
    /// `ILLEGAL_APPID`: a mobile-app appid was passed.
    IllegalAppid => "ILLEGAL_APPID",
    /// `OPENID_ERROR`: the openid does not belong to the appid.
    OpenidError => "OPENID_ERROR",
    /// `MSGAPPID_ERROR`: service-provider `msgappid` not bound.
    MsgappidError => "MSGAPPID_ERROR",
    /// `ACCEPTMODE_ERROR`: service-provider relationship check failed.
    AcceptmodeError => "ACCEPTMODE_ERROR",
    /// `NOTENOUGH`: merchant balance insufficient.
    NotEnough => "NOTENOUGH",
    /// `API_METHOD_CLOSED`: API sending switched off in the merchant platform.
    ApiMethodClosed => "API_METHOD_CLOSED",
    /// `NOAUTH` (older spelling): no permission for the API.
    NoAuthLegacy => "NOAUTH",
    /// `NO_AUTH`: red packets: blocked as risky; transfers: no permission.
    NoAuth => "NO_AUTH",
    /// `MONEY_LIMIT`: red packets: amount outside the allowed range; transfers: daily total reached.
    MoneyLimit => "MONEY_LIMIT",
    /// `SENDNUM_LIMIT`: the user's daily count was reached.
    SendNumLimit => "SENDNUM_LIMIT",
    /// `SENDAMOUNT_LIMIT`: the merchant's daily total was reached.
    SendAmountLimit => "SENDAMOUNT_LIMIT",
    /// `RCVDAMOUNT_LIMIT`: the user's daily amount was reached.
    RcvdAmountLimit => "RCVDAMOUNT_LIMIT",
    /// `FREQ_LIMIT`: rate limited.
    FreqLimit => "FREQ_LIMIT",
    /// `SECOND_OVER_LIMITED`: per-minute count exceeded.
    SecondOverLimited => "SECOND_OVER_LIMITED",
    /// `DAY_OVER_LIMITED`: per-day count exceeded.
    DayOverLimited => "DAY_OVER_LIMITED",
    /// `TIME_LIMITED`: no sending between 00:00 and 08:00 Beijing time.
    TimeLimited => "TIME_LIMITED",
    /// `PAYER_ACCOUNT_ABNORMAL`: reported only in public code; treated as unknown.
    PayerAccountAbnormal => "PAYER_ACCOUNT_ABNORMAL",
    /// `NOT_FOUND`: queries: no data for this number (not a failure).
    NotFound => "NOT_FOUND",
    /// `NO_COMPETENCE`: WeCom enterprise payment not enabled for this merchant.
    NoCompetence => "NO_COMPETENCE",
    /// `AMOUNT_LIMIT`: amount below the minimum (or above a limit).
    AmountLimit => "AMOUNT_LIMIT",
    /// `NAME_MISMATCH`: the real-name check failed.
    NameMismatch => "NAME_MISMATCH",
    /// `WORKWX_SIGN_ERROR`: `workwx_sign` is wrong.
    WorkwxSignError => "WORKWX_SIGN_ERROR",
    /// `WORKWX_MCHID_ERROR`: merchant and WeCom corp are not bound.
    WorkwxMchidError => "WORKWX_MCHID_ERROR",
    /// `HTTP_METHOD_ERROR`: not an HTTP POST.
    HttpMethodError => "HTTP_METHOD_ERROR",
    /// `V2_ACCOUNT_SIMPLE_BAN`: the payee is not real-name verified.
    V2AccountSimpleBan => "V2_ACCOUNT_SIMPLE_BAN",
    /// `PARAM_IS_NOT_UTF8`: a parameter is not valid UTF-8.
    ParamIsNotUtf8 => "PARAM_IS_NOT_UTF8",
    /// `RECV_ACCOUNT_NOT_ALLOWED`: payee not in the allowed-payee list.
    RecvAccountNotAllowed => "RECV_ACCOUNT_NOT_ALLOWED",
    /// `PAY_CHANNEL_NOT_ALLOWED`: API initiation not enabled.
    PayChannelNotAllowed => "PAY_CHANNEL_NOT_ALLOWED",
    /// `SEND_MONEY_LIMIT`: merchant's daily payment amount reached (unconfirmed code).
    SendMoneyLimit => "SEND_MONEY_LIMIT",
    /// `RECEIVED_MONEY_LIMIT`: user's daily received amount reached (unconfirmed code).
    ReceivedMoneyLimit => "RECEIVED_MONEY_LIMIT",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ErrorCode::parse(s))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

use BillRule::{Keep, KeepMandatory as KeepM, New, Query as Q};
use ErrorClass::{Account as A, Caller as C, Final as F, Limit as L, Unknown as U};
use ErrorCode as E;

/// errors.md §1: sendredpack, sendgroupredpack, sendminiprogramhb.
static RED_PACKET: &[(ErrorCode, ErrorClass, BillRule)] = &[
    (E::SystemError, U, KeepM),
    (E::Processing, U, KeepM),
    (E::SendFailed, F, New),
    (E::FatalError, C, KeepM),
    (E::ParamError, C, Q),
    (E::XmlError, C, Keep),
    (E::SignError, C, Keep),
    (E::CaError, A, Keep),
    (E::IllegalAppid, C, Q),
    (E::OpenidError, C, Q),
    (E::MsgappidError, A, Keep),
    (E::AcceptmodeError, A, Keep),
    (E::NotEnough, A, Keep),
    (E::ApiMethodClosed, A, Keep),
    (E::NoAuthLegacy, A, Keep),
    (E::NoAuth, F, Q),
    (E::MoneyLimit, C, Q),
    (E::SendNumLimit, L, Keep),
    (E::SendAmountLimit, L, Keep),
    (E::RcvdAmountLimit, L, Keep),
    (E::FreqLimit, L, Keep),
    (E::SecondOverLimited, L, Keep),
    (E::DayOverLimited, L, Keep),
    (E::TimeLimited, L, Keep),
    (E::PayerAccountAbnormal, U, KeepM),
];

/// errors.md §2: sendworkwxredpack.
static WORKWX_RED_PACKET: &[(ErrorCode, ErrorClass, BillRule)] = &[
    (E::SystemError, U, KeepM),
    (E::Processing, U, KeepM),
    (E::SendFailed, F, New),
    (E::FatalError, C, KeepM),
    (E::ParamError, C, Q),
    (E::XmlError, C, Keep),
    (E::SignError, C, Keep),
    (E::CaError, A, Keep),
    (E::IllegalAppid, C, Q),
    (E::OpenidError, C, Q),
    (E::NoCompetence, A, Keep),
    (E::ApiMethodClosed, A, Keep),
    (E::NotEnough, A, Keep),
    (E::NoAuth, F, Q),
    (E::MoneyLimit, C, Q),
    (E::SendNumLimit, L, Keep),
    (E::SendAmountLimit, L, Keep),
    (E::RcvdAmountLimit, L, Keep),
    (E::FreqLimit, L, Keep),
];

/// errors.md §3: paywwsptrans2pocket (every FAIL is confirmed by query anyway).
static PAY_EMPLOYEE: &[(ErrorCode, ErrorClass, BillRule)] = &[
    (E::SystemError, U, KeepM),
    (E::CaError, A, KeepM),
    (E::SendNumLimit, L, KeepM),
    (E::FatalError, C, KeepM),
    (E::NoAuthLegacy, A, Keep),
    (E::AmountLimit, C, Q),
    (E::ParamError, C, Q),
    (E::OpenidError, C, Q),
    (E::NotEnough, A, Keep),
    (E::NameMismatch, C, Q),
    (E::SignError, C, Keep),
    (E::WorkwxSignError, C, Keep),
    (E::WorkwxMchidError, A, Keep),
    (E::XmlError, C, Keep),
    (E::HttpMethodError, C, Keep),
    (E::V2AccountSimpleBan, F, Q),
];

/// errors.md §4: transfers. `SEND_FAILED` is U/QUERY: after two natural days
/// it means "query to confirm", and the reply does not say which case applies.
static TRANSFER: &[(ErrorCode, ErrorClass, BillRule)] = &[
    (E::SystemError, U, KeepM),
    (E::SendFailed, U, Q),
    (E::FatalError, C, KeepM),
    (E::NoAuth, A, Keep),
    (E::AmountLimit, C, Q),
    (E::ParamError, C, Q),
    (E::ParamIsNotUtf8, C, Keep),
    (E::OpenidError, C, Q),
    (E::NameMismatch, C, Q),
    (E::V2AccountSimpleBan, F, Q),
    (E::NotEnough, A, Keep),
    (E::SignError, C, Keep),
    (E::XmlError, C, Keep),
    (E::CaError, A, Keep),
    (E::RecvAccountNotAllowed, A, Keep),
    (E::PayChannelNotAllowed, A, Keep),
    (E::FreqLimit, L, Keep),
    (E::MoneyLimit, L, Keep),
    (E::SendNumLimit, L, Keep),
    (E::SendMoneyLimit, L, Keep),
    (E::ReceivedMoneyLimit, L, Keep),
];

/// errors.md §1a, §2a, §4a: gethbinfo, queryworkwxredpack, gettransferinfo.
static QUERY: &[ErrorCode] = &[
    E::NotFound,
    E::SystemError,
    E::FreqLimit,
    E::CaError,
    E::SignError,
    E::NoAuth,
    E::XmlError,
    E::ParamError,
];

/// errors.md §3a: querywwsptrans2pocket.
static QUERY_PAY_EMPLOYEE: &[ErrorCode] = &[
    E::NotFound,
    E::SystemError,
    E::FreqLimit,
    E::CaError,
    E::SignError,
    E::NoAuth,
    E::XmlError,
    E::ParamError,
    E::WorkwxMchidError,
    E::WorkwxSignError,
];

/// The documented `(code, class, bill rule)` rows of a send endpoint, or
/// `None` for queries and the sandbox key call.
pub(crate) fn send_table(
    endpoint: Endpoint,
) -> Option<&'static [(ErrorCode, ErrorClass, BillRule)]> {
    match endpoint {
        Endpoint::SendRedPacket
        | Endpoint::SendGroupRedPacket
        | Endpoint::SendMiniProgramRedPacket => Some(RED_PACKET),
        Endpoint::SendWorkwxRedPacket => Some(WORKWX_RED_PACKET),
        Endpoint::PayEmployee => Some(PAY_EMPLOYEE),
        Endpoint::Transfer => Some(TRANSFER),
        _ => None,
    }
}

/// The documented codes of a query endpoint, or `None` for other endpoints.
pub(crate) fn query_table(endpoint: Endpoint) -> Option<&'static [ErrorCode]> {
    match endpoint {
        Endpoint::QueryRedPacket | Endpoint::QueryWorkwxRedPacket | Endpoint::QueryTransfer => {
            Some(QUERY)
        }
        Endpoint::QueryPayEmployee => Some(QUERY_PAY_EMPLOYEE),
        _ => None,
    }
}

impl ErrorCode {
    /// Whether this code is documented for `endpoint`.
    pub fn is_documented_for(&self, endpoint: Endpoint) -> bool {
        send_table(endpoint).is_some_and(|t| t.iter().any(|(c, _, _)| c == self))
            || query_table(endpoint).is_some_and(|t| t.contains(self))
    }

    /// The class and bill-number rule of this code on `endpoint`, from the
    /// tables of errors.md. A code not documented for the endpoint (including
    /// `Unknown`) is `(Unknown, KeepMandatory)`. On query endpoints every
    /// documented code is `Query`; `NOT_FOUND` is `KeepMandatory` (never a
    /// reason to switch numbers), the others `Keep`.
    pub fn class(&self, endpoint: Endpoint) -> (ErrorClass, BillRule) {
        if let Some(table) = send_table(endpoint) {
            if let Some((_, class, rule)) = table.iter().find(|(c, _, _)| c == self) {
                return (*class, *rule);
            }
        } else if let Some(table) = query_table(endpoint)
            && table.contains(self)
        {
            let rule = if *self == ErrorCode::NotFound {
                BillRule::KeepMandatory
            } else {
                BillRule::Keep
            };
            return (ErrorClass::Query, rule);
        }
        (ErrorClass::Unknown, BillRule::KeepMandatory)
    }
}

impl ErrorCode {
    /// A rate limit that lifts within seconds (`FREQ_LIMIT`,
    /// `SECOND_OVER_LIMITED`): nothing was paid, and the identical request
    /// may be resent after a pause (the client's retry policy does).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, ErrorCode::FreqLimit | ErrorCode::SecondOverLimited)
    }

    /// A refusal at the gate, before WeChat processes the request at all:
    /// its signature (`SIGN_ERROR`, `WORKWX_SIGN_ERROR`), its certificate
    /// (`CA_ERROR`), its body (`XML_ERROR`, `HTTP_METHOD_ERROR`). Such a
    /// request cannot have paid anything, whether the reply says
    /// `return_code=FAIL` or `result_code=FAIL`.
    pub fn is_gate_refusal(&self) -> bool {
        matches!(
            self,
            ErrorCode::SignError
                | ErrorCode::WorkwxSignError
                | ErrorCode::CaError
                | ErrorCode::XmlError
                | ErrorCode::HttpMethodError
        )
    }

    /// Whether every other request of this merchant on `endpoint` would be
    /// refused the same way right now: the merchant's setup (certificate,
    /// balance, permissions: class A), the signing key (`SIGN_ERROR`,
    /// `WORKWX_SIGN_ERROR`), or a merchant-wide daily total or time window.
    /// A batch stops on these instead of sending every remaining payment
    /// into the same refusal.
    pub fn is_merchant_wide(&self, endpoint: Endpoint) -> bool {
        matches!(
            self,
            ErrorCode::SignError
                | ErrorCode::WorkwxSignError
                | ErrorCode::SendAmountLimit
                | ErrorCode::SendMoneyLimit
                | ErrorCode::DayOverLimited
                | ErrorCode::TimeLimited
        ) || self.class(endpoint).0 == ErrorClass::Account
    }
}
