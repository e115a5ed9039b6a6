//! Transfers to change: promotion/transfers, gettransferinfo.

use super::declare::request;
use super::payout::{MIN_PAYMENT_FEN, real_name_rule};
use super::reply;
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule};
use crate::values::{Amount, CheckName, OpenId, TradeNo, TransferStatus};

/// The `scene` value that turns a transfer into a brand red packet.
pub(super) const BRAND_REDPACKET: &str = "BRAND_REDPACKET";

request! {
    /// `promotion/transfers`: pay a user's WeChat change (uses `mch_appid` and
    /// `mchid`). The builder starts with `check_name=NO_CHECK`.
    pub struct Transfer / TransferBuilder {
        endpoint: Endpoint::Transfer,
        reply: TransferReply,
        bill: partner_trade_no,
        builder(partner_trade_no: TradeNo, openid: OpenId, amount: Amount),
        check: transfer_rules,
    }
    fields {
        /// Terminal device id (≤ 32 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_info: Option<String> => Text(32);
        /// Order number.
        partner_trade_no: TradeNo => Typed;
        /// User's openid under `mch_appid` (≤ 64 characters).
        openid: OpenId => MaxLen(64);
        /// Whether to verify the real name.
        check_name: CheckName => Typed;
        /// Real name (≤ 64 characters); required with `FORCE_CHECK`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re_user_name: Option<String> => Text(64);
        /// Amount, at least 1 yuan.
        amount: Amount => FenAtLeast(MIN_PAYMENT_FEN);
        /// Remark shown to the user (≤ 100 characters).
        desc: String => Text(100);
        /// IP address, IPv4 or IPv6 (≤ 32 characters; client's or server's).
        spbill_create_ip: String => Ip(32);
        /// `BRAND_REDPACKET` for a brand red packet; anything else is an ordinary transfer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene: Option<String> => Text(32);
        /// Brand id; required with `scene=BRAND_REDPACKET`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        brand_id: Option<u64> => Typed;
        /// Message template id; required with `scene=BRAND_REDPACKET`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finder_template_id: Option<String> => Text(128);
    }
}

/// `re_user_name` with `FORCE_CHECK`; brand fields with `BRAND_REDPACKET`.
fn transfer_rules(t: &Transfer, c: &mut Checker) {
    real_name_rule(c, t.check_name, t.re_user_name.as_deref());
    if t.scene.as_deref() == Some(BRAND_REDPACKET) {
        if t.brand_id.is_none() {
            c.push(
                "brand_id",
                Rule::RequiredWhen("scene is BRAND_REDPACKET"),
                None,
            );
        }
        if t.finder_template_id.as_deref().is_none_or(str::is_empty) {
            c.push(
                "finder_template_id",
                Rule::RequiredWhen("scene is BRAND_REDPACKET"),
                None,
            );
        }
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

request! {
    /// `gettransferinfo`: query a transfer (uses `appid` and `mch_id`).
    pub struct TransferQuery / TransferQueryBuilder {
        endpoint: Endpoint::QueryTransfer,
        reply: TransferQueryReply,
        bill: partner_trade_no,
        builder(partner_trade_no: TradeNo),
    }
    fields {
        /// Order number used when transferring.
        partner_trade_no: TradeNo => Typed;
    }
}

impl TransferQuery {
    /// The query for `partner_trade_no` (always valid).
    pub fn new(partner_trade_no: TradeNo) -> Self {
        TransferQuery { partner_trade_no }
    }
}

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
