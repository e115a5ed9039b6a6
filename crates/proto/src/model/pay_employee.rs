//! WeCom pay to employee: paywwsptrans2pocket, querywwsptrans2pocket.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::red_packet::check_openid;
use super::{
    Envelope, Merchant, Reply, ReplyError, Request, WireReader, finish_wire, num, opt, opt_amount,
    push_opt,
};
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violation, Violations};
use crate::values::{Amount, CheckName, MsgType, OpenId, TradeNo, TransferStatus};
use crate::xml::RawXml;

/// Smallest payment of pay-to-employee and transfers (1 yuan).
pub(crate) const MIN_PAYMENT_FEN: u64 = 100;

/// `check_name=FORCE_CHECK` needs `re_user_name`; the payment is at least 1 yuan.
pub(crate) fn check_payee(
    c: &mut Checker,
    check_name: CheckName,
    re_user_name: Option<&str>,
    amount: Amount,
) {
    c.opt_text("re_user_name", re_user_name, 64);
    if check_name == CheckName::ForceCheck && re_user_name.is_none_or(str::is_empty) {
        c.push(
            "re_user_name",
            Rule::RequiredWhen("check_name is FORCE_CHECK"),
            None,
        );
    }
    if amount.fen() < MIN_PAYMENT_FEN {
        c.violations.push(Violation::new(
            "amount",
            Rule::AmountAtLeast(Amount::from_fen(MIN_PAYMENT_FEN)),
            Some(amount.to_string()),
        ));
    }
}

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
        c.opt_text("device_info", self.device_info.as_deref(), 32);
        check_openid(&mut c, "openid", &self.openid, 64);
        check_payee(
            &mut c,
            self.check_name,
            self.re_user_name.as_deref(),
            self.amount,
        );
        c.text("desc", &self.desc, 81);
        c.ipv4("spbill_create_ip", &self.spbill_create_ip);
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
        let mut f = Vec::with_capacity(16);
        push_opt(&mut f, "device_info", self.device_info.as_deref());
        f.push((
            "partner_trade_no",
            Cow::Borrowed(self.partner_trade_no.as_str()),
        ));
        f.push(("openid", Cow::Borrowed(self.openid.as_str())));
        f.push(("check_name", Cow::Borrowed(self.check_name.as_str())));
        push_opt(&mut f, "re_user_name", self.re_user_name.as_deref());
        f.push(("amount", num(self.amount.fen())));
        f.push(("desc", Cow::Borrowed(self.desc.as_str())));
        f.push((
            "spbill_create_ip",
            Cow::Borrowed(self.spbill_create_ip.as_str()),
        ));
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
        let device_info = r.opt("device_info");
        let partner_trade_no = r.parsed("partner_trade_no", str::parse::<TradeNo>);
        let openid = r.parsed("openid", str::parse::<OpenId>);
        let check_name = r.parsed("check_name", str::parse::<CheckName>);
        let re_user_name = r.opt("re_user_name");
        let amount = r.amount("amount");
        let desc = r.req("desc");
        let spbill_create_ip = r.req("spbill_create_ip");
        let ww_msg_type = r.parsed("ww_msg_type", str::parse::<MsgType>);
        let approval_number = r.opt("approval_number");
        let approval_type = r
            .opt_uint("approval_type")
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let act_name = r.req("act_name");
        let agentid = r.opt("agentid");
        let request = match (partner_trade_no, openid, check_name, ww_msg_type) {
            (Some(partner_trade_no), Some(openid), Some(check_name), Some(ww_msg_type)) => {
                Some(PayEmployee {
                    partner_trade_no,
                    device_info,
                    openid,
                    check_name,
                    re_user_name,
                    amount,
                    desc,
                    spbill_create_ip,
                    ww_msg_type,
                    approval_number,
                    approval_type,
                    act_name,
                    agentid,
                })
            }
            _ => None,
        };
        finish_wire(r, request)
    }
}

/// Reply of `paywwsptrans2pocket` (unsigned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayEmployeeReply {
    /// Envelope.
    pub envelope: Envelope,
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
    /// Every field as received.
    pub raw: RawXml,
}

impl Reply for PayEmployeeReply {
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError> {
        Ok(PayEmployeeReply {
            envelope: Envelope::from_raw(raw)?,
            appid: opt(raw, "appid"),
            mch_id: opt(raw, "mch_id"),
            device_info: opt(raw, "device_info"),
            nonce_str: opt(raw, "nonce_str"),
            partner_trade_no: opt(raw, "partner_trade_no"),
            payment_no: opt(raw, "payment_no"),
            payment_time: opt(raw, "payment_time"),
            raw: raw.clone(),
        })
    }
}

/// `querywwsptrans2pocket`: query a payment to an employee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayEmployeeQuery {
    /// Order number used when paying.
    pub partner_trade_no: TradeNo,
}

impl Request for PayEmployeeQuery {
    const ENDPOINT: Endpoint = Endpoint::QueryPayEmployee;
    type Reply = PayEmployeeQueryReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        Ok(())
    }

    fn bill(&self) -> Option<&str> {
        Some(self.partner_trade_no.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        vec![(
            "partner_trade_no",
            Cow::Borrowed(self.partner_trade_no.as_str()),
        )]
    }
}

impl PayEmployeeQuery {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let no = r.parsed("partner_trade_no", str::parse::<TradeNo>);
        let request = no.map(|partner_trade_no| PayEmployeeQuery { partner_trade_no });
        finish_wire(r, request)
    }
}

/// Reply of `querywwsptrans2pocket` (unsigned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayEmployeeQueryReply {
    /// Envelope.
    pub envelope: Envelope,
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
    /// Every field as received.
    pub raw: RawXml,
}

impl Reply for PayEmployeeQueryReply {
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError> {
        Ok(PayEmployeeQueryReply {
            envelope: Envelope::from_raw(raw)?,
            partner_trade_no: opt(raw, "partner_trade_no"),
            mch_id: opt(raw, "mch_id"),
            appid: opt(raw, "appid"),
            detail_id: opt(raw, "detail_id"),
            status: raw.get_non_empty("status").map(TransferStatus::parse),
            reason: opt(raw, "reason"),
            openid: opt(raw, "openid"),
            transfer_name: opt(raw, "transfer_name"),
            payment_amount: opt_amount(raw, "payment_amount")?,
            transfer_time: opt(raw, "transfer_time"),
            desc: opt(raw, "desc"),
            raw: raw.clone(),
        })
    }
}
