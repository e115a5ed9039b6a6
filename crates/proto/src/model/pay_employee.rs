//! WeCom pay to employee: paywwsptrans2pocket, querywwsptrans2pocket.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::payout::{PayoutWire, payout_of, with_payout};
use super::{Merchant, Request, WireReader, finish_wire, num, push_opt, query_request, reply};
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violations};
use crate::values::{Amount, CheckName, MsgType, OpenId, TradeNo, TransferStatus};
use crate::xml::RawXml;

/// `paywwsptrans2pocket`: pay an employee's WeChat change from WeCom. Needs
/// `workwx_sign`. Every `result_code=FAIL` must be confirmed by a query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayEmployee {
    /// Order number.
    pub partner_trade_no: TradeNo,
    /// Terminal device id (≤ 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_info: Option<String>,
    /// Employee's openid under the corpid (≤ 64 characters).
    pub openid: OpenId,
    /// Whether to verify the real name.
    pub check_name: CheckName,
    /// Real name (≤ 64 characters); required with `FORCE_CHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_user_name: Option<String>,
    /// Amount, at least 1 yuan.
    pub amount: Amount,
    /// Description shown to the employee (≤ 81 characters).
    pub desc: String,
    /// IPv4 address of the calling machine.
    pub spbill_create_ip: String,
    /// Message type.
    pub ww_msg_type: MsgType,
    /// Approval form number; required with `APPROVAL_MSG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_number: Option<String>,
    /// Approval type; must be 1 with `APPROVAL_MSG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_type: Option<u32>,
    /// Project name (≤ 50 characters).
    pub act_name: String,
    /// Pay in the name of this WeCom app (unsigned integer); its secret signs `workwx_sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<String>,
}

impl Request for PayEmployee {
    const ENDPOINT: Endpoint = Endpoint::PayEmployee;
    type Reply = PayEmployeeReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        let mut c = Checker::new();
        payout_of!(self).check(&mut c, 81);
        c.opt_text("approval_number", self.approval_number.as_deref(), 64);
        if self.ww_msg_type == MsgType::ApprovalMsg {
            if self.approval_number.as_deref().is_none_or(str::is_empty) {
                c.push(
                    "approval_number",
                    Rule::RequiredWhen("ww_msg_type is APPROVAL_MSG"),
                    None,
                );
            }
            match self.approval_type {
                None => c.push(
                    "approval_type",
                    Rule::RequiredWhen("ww_msg_type is APPROVAL_MSG"),
                    None,
                ),
                Some(1) => {}
                Some(other) => c.push(
                    "approval_type",
                    Rule::Range { min: 1, max: 1 },
                    Some(&other.to_string()),
                ),
            }
        }
        c.text("act_name", &self.act_name, 50);
        c.opt_digits("agentid", self.agentid.as_deref(), 10);
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.partner_trade_no.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = payout_of!(self).fields(16);
        f.push(("ww_msg_type", Cow::Borrowed(self.ww_msg_type.as_str())));
        push_opt(&mut f, "approval_number", self.approval_number.as_deref());
        if let Some(t) = self.approval_type {
            f.push(("approval_type", num(u64::from(t))));
        }
        f.push(("act_name", Cow::Borrowed(self.act_name.as_str())));
        push_opt(&mut f, "agentid", self.agentid.as_deref());
        f
    }

    fn agentid(&self) -> Option<&str> {
        self.agentid.as_deref().filter(|a| !a.is_empty())
    }
}

impl PayEmployee {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let payout = PayoutWire::read(&mut r);
        let ww_msg_type = r.parsed("ww_msg_type", str::parse::<MsgType>);
        let approval_number = r.opt("approval_number");
        let approval_type = r
            .opt_uint("approval_type")
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let act_name = r.req("act_name");
        let agentid = r.opt("agentid");
        let request = match (payout, ww_msg_type) {
            (Some(payout), Some(ww_msg_type)) => Some(with_payout!(PayEmployee {
                payout;
                ww_msg_type,
                approval_number,
                approval_type,
                act_name,
                agentid,
            })),
            _ => None,
        };
        finish_wire(r, request)
    }
}

reply! {
    /// Reply of `paywwsptrans2pocket` (unsigned).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PayEmployeeReply {
        /// Appid (corpid).
        pub appid: Option<String>,
        /// Merchant id.
        pub mch_id: Option<String>,
        /// Device id.
        pub device_info: Option<String>,
        /// Reply nonce.
        pub nonce_str: Option<String>,
        /// Echoed order number.
        pub partner_trade_no: Option<String>,
        /// WeChat payment number.
        pub payment_no: Option<String>,
        /// Payment time.
        pub payment_time: Option<String>,
    }
}

/// `querywwsptrans2pocket`: query a payment to an employee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayEmployeeQuery {
    /// Order number used when paying.
    pub partner_trade_no: TradeNo,
}

query_request!(PayEmployeeQuery: Endpoint::QueryPayEmployee => PayEmployeeQueryReply, partner_trade_no: TradeNo);

reply! {
    /// Reply of `querywwsptrans2pocket` (unsigned).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PayEmployeeQueryReply {
        /// Echoed order number.
        pub partner_trade_no: Option<String>,
        /// Merchant id.
        pub mch_id: Option<String>,
        /// Appid.
        pub appid: Option<String>,
        /// WeChat internal payment id.
        pub detail_id: Option<String>,
        /// Status.
        pub status: Option<TransferStatus>,
        /// Failure reason (human text).
        pub reason: Option<String>,
        /// Payee.
        pub openid: Option<String>,
        /// Payee name.
        pub transfer_name: Option<String>,
        /// Amount.
        pub payment_amount: Option<Amount>,
        /// Time the transfer was initiated.
        pub transfer_time: Option<String>,
        /// Description.
        pub desc: Option<String>,
    }
}
