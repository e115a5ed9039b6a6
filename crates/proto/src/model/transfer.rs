//! Transfers to change: promotion/transfers, gettransferinfo.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::pay_employee::check_payee;
use super::red_packet::check_openid;
use super::{
    Envelope, Merchant, Reply, ReplyError, Request, WireReader, finish_wire, num, opt, opt_amount,
    push_opt,
};
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violations};
use crate::values::{Amount, CheckName, OpenId, TradeNo, TransferStatus};
use crate::xml::RawXml;

/// The `scene` value that turns a transfer into a brand red packet.
pub const BRAND_REDPACKET: &str = "BRAND_REDPACKET";

/// `promotion/transfers`: pay a user's WeChat change (uses `mch_appid` and `mchid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Order number.
    pub partner_trade_no: TradeNo,
    /// Terminal device id (≤ 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_info: Option<String>,
    /// User's openid under `mch_appid` (≤ 64 characters).
    pub openid: OpenId,
    /// Whether to verify the real name.
    pub check_name: CheckName,
    /// Real name (≤ 64 characters); required with `FORCE_CHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_user_name: Option<String>,
    /// Amount, at least 1 yuan.
    pub amount: Amount,
    /// Remark shown to the user (≤ 100 characters).
    pub desc: String,
    /// IPv4 address (client's or server's).
    pub spbill_create_ip: String,
    /// `BRAND_REDPACKET` for a brand red packet; anything else is an ordinary transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
    /// Brand id; required with `scene=BRAND_REDPACKET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<u64>,
    /// Message template id; required with `scene=BRAND_REDPACKET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finder_template_id: Option<String>,
}

impl Request for Transfer {
    const ENDPOINT: Endpoint = Endpoint::Transfer;
    type Reply = TransferReply;

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
        c.text("desc", &self.desc, 100);
        c.ipv4("spbill_create_ip", &self.spbill_create_ip);
        c.opt_text("scene", self.scene.as_deref(), 32);
        c.opt_text(
            "finder_template_id",
            self.finder_template_id.as_deref(),
            128,
        );
        if self.scene.as_deref() == Some(BRAND_REDPACKET) {
            if self.brand_id.is_none() {
                c.push(
                    "brand_id",
                    Rule::RequiredWhen("scene is BRAND_REDPACKET"),
                    None,
                );
            }
            if self.finder_template_id.as_deref().is_none_or(str::is_empty) {
                c.push(
                    "finder_template_id",
                    Rule::RequiredWhen("scene is BRAND_REDPACKET"),
                    None,
                );
            }
        }
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.partner_trade_no.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = Vec::with_capacity(14);
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
        push_opt(&mut f, "scene", self.scene.as_deref());
        if let Some(id) = self.brand_id {
            f.push(("brand_id", num(id)));
        }
        push_opt(
            &mut f,
            "finder_template_id",
            self.finder_template_id.as_deref(),
        );
        f
    }
}

impl Transfer {
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
        let scene = r.opt("scene");
        let brand_id = r.opt_uint("brand_id");
        let finder_template_id = r.opt("finder_template_id");
        let request = match (partner_trade_no, openid, check_name) {
            (Some(partner_trade_no), Some(openid), Some(check_name)) => Some(Transfer {
                partner_trade_no,
                device_info,
                openid,
                check_name,
                re_user_name,
                amount,
                desc,
                spbill_create_ip,
                scene,
                brand_id,
                finder_template_id,
            }),
            _ => None,
        };
        finish_wire(r, request)
    }
}

/// Reply of `promotion/transfers` (unsigned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferReply {
    /// Envelope.
    pub envelope: Envelope,
    /// Appid.
    pub mch_appid: Option<String>,
    /// Merchant id.
    pub mchid: Option<String>,
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

impl Reply for TransferReply {
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError> {
        Ok(TransferReply {
            envelope: Envelope::from_raw(raw)?,
            mch_appid: opt(raw, "mch_appid"),
            mchid: opt(raw, "mchid"),
            device_info: opt(raw, "device_info"),
            nonce_str: opt(raw, "nonce_str"),
            partner_trade_no: opt(raw, "partner_trade_no"),
            payment_no: opt(raw, "payment_no"),
            payment_time: opt(raw, "payment_time"),
            raw: raw.clone(),
        })
    }
}

/// `gettransferinfo`: query a transfer (uses `appid` and `mch_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferQuery {
    /// Order number used when transferring.
    pub partner_trade_no: TradeNo,
}

impl Request for TransferQuery {
    const ENDPOINT: Endpoint = Endpoint::QueryTransfer;
    type Reply = TransferQueryReply;

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

impl TransferQuery {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let no = r.parsed("partner_trade_no", str::parse::<TradeNo>);
        let request = no.map(|partner_trade_no| TransferQuery { partner_trade_no });
        finish_wire(r, request)
    }
}

/// Reply of `gettransferinfo` (unsigned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferQueryReply {
    /// Envelope.
    pub envelope: Envelope,
    /// Echoed order number.
    pub partner_trade_no: Option<String>,
    /// Appid.
    pub appid: Option<String>,
    /// Merchant id.
    pub mch_id: Option<String>,
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
    /// Time initiated.
    pub transfer_time: Option<String>,
    /// Time of success.
    pub payment_time: Option<String>,
    /// Remark.
    pub desc: Option<String>,
    /// Every field as received.
    pub raw: RawXml,
}

impl Reply for TransferQueryReply {
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError> {
        Ok(TransferQueryReply {
            envelope: Envelope::from_raw(raw)?,
            partner_trade_no: opt(raw, "partner_trade_no"),
            appid: opt(raw, "appid"),
            mch_id: opt(raw, "mch_id"),
            detail_id: opt(raw, "detail_id"),
            status: raw.get_non_empty("status").map(TransferStatus::parse),
            reason: opt(raw, "reason"),
            openid: opt(raw, "openid"),
            transfer_name: opt(raw, "transfer_name"),
            payment_amount: opt_amount(raw, "payment_amount")?,
            transfer_time: opt(raw, "transfer_time"),
            payment_time: opt(raw, "payment_time"),
            desc: opt(raw, "desc"),
            raw: raw.clone(),
        })
    }
}
