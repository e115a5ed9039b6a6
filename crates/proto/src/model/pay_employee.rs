//! WeCom pay to employee: paywwsptrans2pocket, querywwsptrans2pocket.

use super::declare::request;
use super::payout::{MIN_PAYMENT_FEN, real_name_rule};
use super::reply;
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule};
use crate::values::{Amount, CheckName, MsgType, OpenId, TradeNo, TransferStatus};

request! {
    /// `paywwsptrans2pocket`: pay an employee's WeChat change from WeCom. Needs
    /// `workwx_sign`. Every `result_code=FAIL` must be confirmed by a query.
    /// The builder starts with `check_name=NO_CHECK` and `ww_msg_type=NORMAL_MSG`.
    pub struct PayEmployee / PayEmployeeBuilder {
        endpoint: Endpoint::PayEmployee,
        reply: PayEmployeeReply,
        bill: partner_trade_no,
        builder(partner_trade_no: TradeNo, openid: OpenId, amount: Amount),
        check: pay_employee_rules,
        agentid: agentid,
    }
    fields {
        /// Terminal device id (≤ 32 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_info: Option<String> => Text(32);
        /// Order number.
        (workwx) partner_trade_no: TradeNo => Typed;
        /// Employee's openid under the corpid (≤ 64 characters).
        (workwx) openid: OpenId => MaxLen(64);
        /// Whether to verify the real name.
        check_name: CheckName => Typed;
        /// Real name (≤ 64 characters); required with `FORCE_CHECK`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re_user_name: Option<String> => Text(64);
        /// Amount, at least 1 yuan.
        (workwx) amount: Amount => FenAtLeast(MIN_PAYMENT_FEN);
        /// Description shown to the employee (≤ 81 characters).
        (workwx) desc: String => Text(81);
        /// IP address (IPv4 or IPv6, ≤ 32 characters) of the calling machine.
        spbill_create_ip: String => Ip(32);
        /// Message type.
        (workwx) ww_msg_type: MsgType => Typed;
        /// Approval form number; required with `APPROVAL_MSG`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_number: Option<String> => FreeText;
        /// Approval type; must be 1 with `APPROVAL_MSG`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_type: Option<u32> => Typed;
        /// Project name (≤ 50 characters).
        act_name: String => Text(50);
        /// Pay in the name of this WeCom app (unsigned integer); its secret signs `workwx_sign`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agentid: Option<String> => Digits(10);
    }
}

/// `re_user_name` with `FORCE_CHECK`; approval fields with `APPROVAL_MSG`.
fn pay_employee_rules(p: &PayEmployee, c: &mut Checker) {
    real_name_rule(c, p.check_name, p.re_user_name.as_deref());
    if p.ww_msg_type == MsgType::ApprovalMsg {
        if p.approval_number.as_deref().is_none_or(str::is_empty) {
            c.push(
                "approval_number",
                Rule::RequiredWhen("ww_msg_type is APPROVAL_MSG"),
                None,
            );
        }
        match p.approval_type {
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

request! {
    /// `querywwsptrans2pocket`: query a payment to an employee.
    pub struct PayEmployeeQuery / PayEmployeeQueryBuilder {
        endpoint: Endpoint::QueryPayEmployee,
        reply: PayEmployeeQueryReply,
        bill: partner_trade_no,
        builder(partner_trade_no: TradeNo),
    }
    fields {
        /// Order number used when paying.
        partner_trade_no: TradeNo => Typed;
    }
}

impl PayEmployeeQuery {
    /// The query for `partner_trade_no` (always valid).
    pub fn new(partner_trade_no: TradeNo) -> Self {
        PayEmployeeQuery { partner_trade_no }
    }
}

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
