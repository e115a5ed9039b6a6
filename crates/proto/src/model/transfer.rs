//! Transfers to change: promotion/transfers, gettransferinfo.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::payout::{PayoutWire, payout_of, with_payout};
use super::{Merchant, Request, WireReader, finish_wire, num, push_opt, query_request, reply};
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
        payout_of!(self).check(&mut c, 100);
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
        let mut f = payout_of!(self).fields(14);
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
        let payout = PayoutWire::read(&mut r);
        let scene = r.opt("scene");
        let brand_id = r.opt_uint("brand_id");
        let finder_template_id = r.opt("finder_template_id");
        let request = payout.map(|payout| {
            with_payout!(Transfer {
                payout;
                scene,
                brand_id,
                finder_template_id,
            })
        });
        finish_wire(r, request)
    }
}

reply! {
    /// Reply of `promotion/transfers` (unsigned).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TransferReply {
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
    }
}

/// `gettransferinfo`: query a transfer (uses `appid` and `mch_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferQuery {
    /// Order number used when transferring.
    pub partner_trade_no: TradeNo,
}

query_request!(TransferQuery: Endpoint::QueryTransfer => TransferQueryReply, partner_trade_no: TradeNo);

reply! {
    /// Reply of `gettransferinfo` (unsigned).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TransferQueryReply {
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
    }
}
