//! Every request and every reply as one value, chosen by [`Endpoint`]: the
//! only endpoint → type tables outside the declarations themselves.

use std::borrow::Cow;
use std::fmt;

use hongbao_sign::{Signer, WorkwxSigner};
use serde::{Deserialize, Serialize};

use super::{
    GroupRedPacket, Merchant, MiniProgramRedPacket, PayEmployee, PayEmployeeQuery,
    PayEmployeeQueryReply, PayEmployeeReply, RedPacket, RedPacketQuery, RedPacketQueryReply,
    RedPacketReply, Reply, ReplyError, Request, SignKeyReply, SignKeyRequest, Transfer,
    TransferQuery, TransferQueryReply, TransferReply, WireRead, WorkwxRedPacket,
    WorkwxRedPacketQuery, WorkwxRedPacketQueryReply, WorkwxRedPacketReply,
};
use crate::build::{BuildError, build};
use crate::endpoint::Endpoint;
use crate::prepared::Prepared;
use crate::validate::{Rule, Violation, Violations};
use crate::values::{Amount, BillNo, NonceStr, OpenId, SceneId, TradeNo};
use crate::xml::RawXml;

/// Code that works on any typed request ([`AnyRequest::visit`]).
pub trait RequestVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the request inside the [`AnyRequest`].
    fn visit<R: Request>(self, request: &R) -> Self::Output;
}

macro_rules! any_request {
    ($($(#[doc = $doc:literal])* $variant:ident($ty:ty) = $endpoint:ident;)+) => {
        /// A request to any endpoint. Serialized (serde) as
        /// `{"kind": "red-packet", "request": {...}}`, the form the command
        /// line's journals have always stored.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "request", rename_all = "kebab-case")]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyRequest {
            $($(#[doc = $doc])* $variant($ty),)+
        }

        $(
            impl From<$ty> for AnyRequest {
                fn from(request: $ty) -> Self {
                    AnyRequest::$variant(request)
                }
            }
        )+

        impl AnyRequest {
            /// The endpoint it goes to.
            pub fn endpoint(&self) -> Endpoint {
                match self {
                    $(AnyRequest::$variant(_) => Endpoint::$endpoint,)+
                }
            }

            /// Reads a request body sent to `endpoint` (see [`Request::from_wire`]).
            pub fn from_wire(
                endpoint: Endpoint,
                raw: &RawXml,
            ) -> Result<(AnyRequest, Merchant), Violations> {
                match endpoint {
                    $(Endpoint::$endpoint => <$ty>::from_wire(raw)
                        .map(|(request, merchant)| (AnyRequest::$variant(request), merchant)),)+
                }
            }

            /// Reads a request body sent to `endpoint` without refusing it
            /// as a whole: the typed request whenever every field has a typed
            /// value, with every violation (see [`WireRead`]).
            pub fn read_wire(endpoint: Endpoint, raw: &RawXml) -> WireRead<AnyRequest> {
                match endpoint {
                    $(Endpoint::$endpoint => <$ty>::read_wire(raw).map(AnyRequest::$variant),)+
                }
            }

            /// Runs `visitor` on the typed request inside.
            pub fn visit<V: RequestVisitor>(&self, visitor: V) -> V::Output {
                match self {
                    $(AnyRequest::$variant(request) => visitor.visit(request),)+
                }
            }
        }
    };
}

any_request! {
    /// `sendredpack`.
    RedPacket(RedPacket) = SendRedPacket;
    /// `sendgroupredpack`.
    GroupRedPacket(GroupRedPacket) = SendGroupRedPacket;
    /// `sendminiprogramhb`.
    MiniProgramRedPacket(MiniProgramRedPacket) = SendMiniProgramRedPacket;
    /// `gethbinfo`.
    RedPacketQuery(RedPacketQuery) = QueryRedPacket;
    /// `sendworkwxredpack`.
    WorkwxRedPacket(WorkwxRedPacket) = SendWorkwxRedPacket;
    /// `queryworkwxredpack`.
    WorkwxRedPacketQuery(WorkwxRedPacketQuery) = QueryWorkwxRedPacket;
    /// `paywwsptrans2pocket`.
    PayEmployee(PayEmployee) = PayEmployee;
    /// `querywwsptrans2pocket`.
    PayEmployeeQuery(PayEmployeeQuery) = QueryPayEmployee;
    /// `promotion/transfers`.
    Transfer(Transfer) = Transfer;
    /// `gettransferinfo`.
    TransferQuery(TransferQuery) = QueryTransfer;
    /// The sandbox key call.
    SignKey(SignKeyRequest) = GetSignKey;
}

/// Small visitors for the dispatching methods below.
struct Validate;
impl RequestVisitor for Validate {
    type Output = Result<(), Violations>;
    fn visit<R: Request>(self, request: &R) -> Self::Output {
        request.validate()
    }
}

struct Fields;
impl RequestVisitor for Fields {
    type Output = Vec<(&'static str, Cow<'static, str>)>;
    fn visit<R: Request>(self, request: &R) -> Self::Output {
        request
            .fields()
            .into_iter()
            .map(|(name, value)| (name, Cow::Owned(value.into_owned())))
            .collect()
    }
}

struct Build<'a> {
    merchant: &'a Merchant,
    nonce: &'a NonceStr,
    signer: &'a Signer,
    workwx: Option<&'a WorkwxSigner>,
}
impl RequestVisitor for Build<'_> {
    type Output = Result<Prepared, BuildError>;
    fn visit<R: Request>(self, request: &R) -> Self::Output {
        build(request, self.merchant, self.nonce, self.signer, self.workwx)
    }
}

impl AnyRequest {
    /// The query of `query` (a query endpoint) for `bill`; `None` when
    /// `query` is not a query endpoint, a violation when `bill` is not a
    /// valid bill number for it.
    pub fn query(query: Endpoint, bill: &str) -> Option<Result<AnyRequest, Violation>> {
        let request = match query {
            Endpoint::QueryRedPacket => BillNo::new(bill).map(|b| RedPacketQuery::new(b).into()),
            Endpoint::QueryWorkwxRedPacket => {
                BillNo::new(bill).map(|b| WorkwxRedPacketQuery::new(b).into())
            }
            Endpoint::QueryPayEmployee => {
                TradeNo::new(bill).map(|b| PayEmployeeQuery::new(b).into())
            }
            Endpoint::QueryTransfer => TradeNo::new(bill).map(|b| TransferQuery::new(b).into()),
            _ => return None,
        };
        Some(request)
    }

    /// The bill number (`mch_billno` / `partner_trade_no`); `None` for the sandbox key call.
    pub fn bill(&self) -> Option<&str> {
        match self {
            AnyRequest::RedPacket(r) => r.bill(),
            AnyRequest::GroupRedPacket(r) => r.bill(),
            AnyRequest::MiniProgramRedPacket(r) => r.bill(),
            AnyRequest::RedPacketQuery(r) => r.bill(),
            AnyRequest::WorkwxRedPacket(r) => r.bill(),
            AnyRequest::WorkwxRedPacketQuery(r) => r.bill(),
            AnyRequest::PayEmployee(r) => r.bill(),
            AnyRequest::PayEmployeeQuery(r) => r.bill(),
            AnyRequest::Transfer(r) => r.bill(),
            AnyRequest::TransferQuery(r) => r.bill(),
            AnyRequest::SignKey(r) => r.bill(),
        }
    }

    /// The business fields in wire order (see [`Request::fields`]).
    pub fn fields(&self) -> Vec<(&'static str, Cow<'static, str>)> {
        self.visit(Fields)
    }

    /// The value of one business field, if sent.
    pub fn field(&self, name: &str) -> Option<Cow<'static, str>> {
        self.fields()
            .into_iter()
            .find(|(field, value)| *field == name && !value.is_empty())
            .map(|(_, value)| value)
    }

    /// Every rule it breaks (see [`Request::validate`]).
    pub fn validate(&self) -> Result<(), Violations> {
        self.visit(Validate)
    }

    /// The amount it pays (`total_amount` / `amount`), for payouts.
    pub fn amount(&self) -> Option<Amount> {
        match self {
            AnyRequest::RedPacket(r) => Some(r.total_amount),
            AnyRequest::GroupRedPacket(r) => Some(r.total_amount),
            AnyRequest::MiniProgramRedPacket(r) => Some(r.total_amount),
            AnyRequest::WorkwxRedPacket(r) => Some(r.total_amount),
            AnyRequest::PayEmployee(r) => Some(r.amount),
            AnyRequest::Transfer(r) => Some(r.amount),
            _ => None,
        }
    }

    /// The payee's openid (`re_openid` / `openid`), for payouts.
    pub fn payee(&self) -> Option<Cow<'static, str>> {
        self.payee_openid()
            .map(|openid| Cow::Owned(openid.as_str().to_owned()))
    }

    /// The payee (`re_openid` / `openid`) as its typed value, for payouts.
    pub fn payee_openid(&self) -> Option<&OpenId> {
        match self {
            AnyRequest::RedPacket(r) => Some(&r.re_openid),
            AnyRequest::GroupRedPacket(r) => Some(&r.re_openid),
            AnyRequest::MiniProgramRedPacket(r) => Some(&r.re_openid),
            AnyRequest::WorkwxRedPacket(r) => Some(&r.re_openid),
            AnyRequest::PayEmployee(r) => Some(&r.openid),
            AnyRequest::Transfer(r) => Some(&r.openid),
            _ => None,
        }
    }

    /// The usage scene (`scene_id`) of a red packet, when given.
    pub fn scene_id(&self) -> Option<&SceneId> {
        match self {
            AnyRequest::RedPacket(r) => r.scene_id.as_ref(),
            AnyRequest::GroupRedPacket(r) => r.scene_id.as_ref(),
            AnyRequest::MiniProgramRedPacket(r) => r.scene_id.as_ref(),
            AnyRequest::WorkwxRedPacket(r) => r.scene_id.as_ref(),
            _ => None,
        }
    }

    /// How many packets the amount is split into: `total_num` of a group
    /// red packet, 1 for every other payout, `None` for the other requests.
    pub fn packets(&self) -> Option<u32> {
        match self {
            AnyRequest::GroupRedPacket(r) => Some(r.total_num),
            AnyRequest::RedPacket(_)
            | AnyRequest::MiniProgramRedPacket(_)
            | AnyRequest::WorkwxRedPacket(_)
            | AnyRequest::PayEmployee(_)
            | AnyRequest::Transfer(_) => Some(1),
            _ => None,
        }
    }

    /// The same request under another bill number (a new payment): a
    /// violation when `bill` is not a valid bill number for it, or when the
    /// request has none.
    pub fn with_bill(&self, bill: &str) -> Result<AnyRequest, Violation> {
        let mut next = self.clone();
        match &mut next {
            AnyRequest::RedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::GroupRedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::MiniProgramRedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::RedPacketQuery(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::WorkwxRedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::WorkwxRedPacketQuery(r) => r.mch_billno = BillNo::new(bill)?,
            AnyRequest::PayEmployee(r) => r.partner_trade_no = TradeNo::new(bill)?,
            AnyRequest::PayEmployeeQuery(r) => r.partner_trade_no = TradeNo::new(bill)?,
            AnyRequest::Transfer(r) => r.partner_trade_no = TradeNo::new(bill)?,
            AnyRequest::TransferQuery(r) => r.partner_trade_no = TradeNo::new(bill)?,
            AnyRequest::SignKey(_) => {
                return Err(Violation::new("bill", Rule::Unexpected, Some(bill.into())));
            }
        }
        Ok(next)
    }

    /// Validates, signs and writes the body (see [`build()`](crate::build())).
    pub fn build(
        &self,
        merchant: &Merchant,
        nonce: &NonceStr,
        signer: &Signer,
        workwx: Option<&WorkwxSigner>,
    ) -> Result<Prepared, BuildError> {
        self.visit(Build {
            merchant,
            nonce,
            signer,
            workwx,
        })
    }
}

/// A typed reply of any endpoint ([`AnyReply::from_raw`]). Its `Debug`
/// and its serialized form (serde) are the typed reply's own.
#[derive(Clone)]
#[non_exhaustive]
pub enum AnyReply {
    /// `sendredpack`, `sendgroupredpack`, `sendminiprogramhb`.
    RedPacket(RedPacketReply),
    /// `gethbinfo`.
    RedPacketQuery(RedPacketQueryReply),
    /// `sendworkwxredpack`.
    WorkwxRedPacket(WorkwxRedPacketReply),
    /// `queryworkwxredpack`.
    WorkwxRedPacketQuery(WorkwxRedPacketQueryReply),
    /// `paywwsptrans2pocket`.
    PayEmployee(PayEmployeeReply),
    /// `querywwsptrans2pocket`.
    PayEmployeeQuery(PayEmployeeQueryReply),
    /// `promotion/transfers`.
    Transfer(TransferReply),
    /// `gettransferinfo`.
    TransferQuery(TransferQueryReply),
    /// The sandbox key call.
    SignKey(SignKeyReply),
}

impl fmt::Debug for AnyReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReply::RedPacket(r) => r.fmt(f),
            AnyReply::RedPacketQuery(r) => r.fmt(f),
            AnyReply::WorkwxRedPacket(r) => r.fmt(f),
            AnyReply::WorkwxRedPacketQuery(r) => r.fmt(f),
            AnyReply::PayEmployee(r) => r.fmt(f),
            AnyReply::PayEmployeeQuery(r) => r.fmt(f),
            AnyReply::Transfer(r) => r.fmt(f),
            AnyReply::TransferQuery(r) => r.fmt(f),
            AnyReply::SignKey(r) => r.fmt(f),
        }
    }
}

impl Serialize for AnyReply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyReply::RedPacket(r) => r.serialize(s),
            AnyReply::RedPacketQuery(r) => r.serialize(s),
            AnyReply::WorkwxRedPacket(r) => r.serialize(s),
            AnyReply::WorkwxRedPacketQuery(r) => r.serialize(s),
            AnyReply::PayEmployee(r) => r.serialize(s),
            AnyReply::PayEmployeeQuery(r) => r.serialize(s),
            AnyReply::Transfer(r) => r.serialize(s),
            AnyReply::TransferQuery(r) => r.serialize(s),
            AnyReply::SignKey(r) => r.serialize(s),
        }
    }
}

impl AnyReply {
    /// Maps a parsed reply of `endpoint` to its typed reply (see [`Reply::from_raw`]).
    pub fn from_raw(endpoint: Endpoint, raw: &RawXml) -> Result<AnyReply, ReplyError> {
        Ok(match endpoint {
            Endpoint::SendRedPacket
            | Endpoint::SendGroupRedPacket
            | Endpoint::SendMiniProgramRedPacket => AnyReply::RedPacket(Reply::from_raw(raw)?),
            Endpoint::QueryRedPacket => AnyReply::RedPacketQuery(Reply::from_raw(raw)?),
            Endpoint::SendWorkwxRedPacket => AnyReply::WorkwxRedPacket(Reply::from_raw(raw)?),
            Endpoint::QueryWorkwxRedPacket => AnyReply::WorkwxRedPacketQuery(Reply::from_raw(raw)?),
            Endpoint::PayEmployee => AnyReply::PayEmployee(Reply::from_raw(raw)?),
            Endpoint::QueryPayEmployee => AnyReply::PayEmployeeQuery(Reply::from_raw(raw)?),
            Endpoint::Transfer => AnyReply::Transfer(Reply::from_raw(raw)?),
            Endpoint::QueryTransfer => AnyReply::TransferQuery(Reply::from_raw(raw)?),
            Endpoint::GetSignKey => AnyReply::SignKey(Reply::from_raw(raw)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_reads_back_into_its_variant() {
        let raw = RawXml::parse(b"<xml><return_code>SUCCESS</return_code></xml>").expect("xml");
        for endpoint in Endpoint::ALL {
            // An empty body is a violation for every endpoint but the key call.
            let read = AnyRequest::from_wire(endpoint, &raw);
            match endpoint {
                Endpoint::GetSignKey => assert!(read.is_err(), "mch_id is missing"),
                _ => assert!(read.is_err(), "{endpoint}"),
            }
            assert!(AnyReply::from_raw(endpoint, &raw).is_ok(), "{endpoint}");
        }
    }

    #[test]
    fn queries_are_built_for_query_endpoints_only() {
        for endpoint in Endpoint::ALL {
            let query = AnyRequest::query(endpoint, "10000098201411111234567890");
            assert_eq!(query.is_some(), endpoint.is_query(), "{endpoint}");
            if let Some(query) = query {
                let query = query.expect("valid bill");
                assert_eq!(query.endpoint(), endpoint);
                assert_eq!(query.bill(), Some("10000098201411111234567890"));
            }
        }
        assert!(matches!(
            AnyRequest::query(Endpoint::QueryRedPacket, "not-a-bill"),
            Some(Err(_))
        ));
    }

    /// A reply serializes as the typed reply it holds; the sandbox key never
    /// appears (only `***`), the received fields do, in order.
    #[test]
    fn replies_serialize_as_the_typed_reply_without_the_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let body = format!(
            "<xml><return_code>SUCCESS</return_code><mch_id>10000098</mch_id><sandbox_signkey>{key}</sandbox_signkey></xml>"
        );
        let raw = RawXml::parse(body.as_bytes()).expect("xml");
        let reply = AnyReply::from_raw(Endpoint::GetSignKey, &raw).expect("typed");
        let json = serde_json::to_value(&reply).expect("json");
        assert_eq!(json["mch_id"], "10000098");
        assert_eq!(json["sandbox_signkey"], "***");
        assert!(!json.to_string().contains(key), "{json}");

        let reply = AnyReply::from_raw(Endpoint::Transfer, &raw).expect("typed");
        let json = serde_json::to_value(&reply).expect("json");
        assert_eq!(json["envelope"]["return_code"], "SUCCESS");
        assert_eq!(
            json["raw"]["fields"][1],
            serde_json::json!(["mch_id", "10000098"])
        );
        assert_eq!(json["raw"]["records"], serde_json::json!([]));
    }

    /// A body that breaks only the default amount range is still typed;
    /// dropping the amount rules leaves nothing, while a broken field stays
    /// a violation.
    #[test]
    fn read_wire_keeps_the_typed_request_beside_its_violations() {
        let body = |amount: &str| {
            format!(
                "<xml><mch_billno>10000098201411111234567890</mch_billno><mch_id>10000098</mch_id>\
                 <wxappid>wx8888888888888888</wxappid><send_name>s</send_name>\
                 <re_openid>oxTWIuGaIt6gTKsQRLau2M0yL16E</re_openid><total_amount>{amount}</total_amount>\
                 <total_num>1</total_num><wishing>w</wishing><client_ip>192.168.0.1</client_ip>\
                 <act_name>a</act_name><remark>r</remark><nonce_str>n</nonce_str><sign>s</sign></xml>"
            )
        };
        let raw = RawXml::parse(body("30000").as_bytes()).expect("xml");
        let read = AnyRequest::read_wire(Endpoint::SendRedPacket, &raw);
        assert!(
            read.violations.has_field("scene_id"),
            "{:?}",
            read.violations
        );
        let request = read.request.clone().expect("typed despite the amount rule");
        assert_eq!(request.amount(), Some(Amount::from_fen(30_000)));
        assert_eq!(
            request.payee_openid().map(OpenId::as_str),
            Some("oxTWIuGaIt6gTKsQRLau2M0yL16E")
        );
        assert_eq!(request.packets(), Some(1));
        assert_eq!(request.scene_id(), None);
        assert!(read.clone().into_result().is_err());
        let relaxed = read.without_amount_limits();
        assert!(relaxed.violations.is_empty(), "{:?}", relaxed.violations);
        assert!(relaxed.into_result().is_ok());

        let raw = RawXml::parse(body("12x").as_bytes()).expect("xml");
        let read = AnyRequest::read_wire(Endpoint::SendRedPacket, &raw).without_amount_limits();
        assert!(read.violations.has_field("total_amount"));
        assert!(read.into_result().is_err());
    }

    /// The `kind` names are a stored format (CLI journals): pinned here.
    #[test]
    fn kind_names_are_stable() {
        let bill = "10000098201411111234567890";
        let mut kinds = Vec::new();
        for endpoint in Endpoint::ALL {
            if let Some(query) = AnyRequest::query(endpoint, bill) {
                let json = serde_json::to_value(query.expect("valid")).expect("json");
                kinds.push(json["kind"].as_str().expect("kind").to_owned());
            }
        }
        assert_eq!(
            kinds,
            [
                "red-packet-query",
                "workwx-red-packet-query",
                "pay-employee-query",
                "transfer-query"
            ]
        );
        let key = serde_json::to_value(AnyRequest::from(SignKeyRequest)).expect("json");
        assert_eq!(key["kind"], "sign-key");
        let old = r#"{"kind":"transfer","request":{"partner_trade_no":"T1","openid":"o1","check_name":"NO_CHECK","amount":100,"desc":"d","spbill_create_ip":"10.0.0.1"}}"#;
        let read: AnyRequest = serde_json::from_str(old).expect("reads");
        assert_eq!(read.endpoint(), Endpoint::Transfer);
        assert_eq!(read.amount(), Some(Amount::from_fen(100)));
        assert_eq!(read.payee().as_deref(), Some("o1"));
    }
}
