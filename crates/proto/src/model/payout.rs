//! The payout fields shared by pay-to-employee and transfers: the order
//! number, who is paid (openid, optional real-name check), how much, why and
//! from which machine. Both request types keep their own public fields; the
//! rules, the wire order and the wire reading live here once.

use std::borrow::Cow;

use super::red_packet::check_openid;
use super::{WireReader, num, push_opt};
use crate::validate::{Checker, Rule, Violation};
use crate::values::{Amount, CheckName, OpenId, TradeNo};

/// Smallest payment of pay-to-employee and transfers (1 yuan).
pub(crate) const MIN_PAYMENT_FEN: u64 = 100;

/// The payout fields of a request, borrowed.
pub(crate) struct Payout<'a> {
    pub(crate) partner_trade_no: &'a TradeNo,
    pub(crate) device_info: Option<&'a str>,
    pub(crate) openid: &'a OpenId,
    pub(crate) check_name: CheckName,
    pub(crate) re_user_name: Option<&'a str>,
    pub(crate) amount: Amount,
    pub(crate) desc: &'a str,
    pub(crate) spbill_create_ip: &'a str,
}

/// Borrows the payout fields of a request that has them under their wire names.
macro_rules! payout_of {
    ($request:expr) => {
        $crate::model::payout::Payout {
            partner_trade_no: &$request.partner_trade_no,
            device_info: $request.device_info.as_deref(),
            openid: &$request.openid,
            check_name: $request.check_name,
            re_user_name: $request.re_user_name.as_deref(),
            amount: $request.amount,
            desc: &$request.desc,
            spbill_create_ip: &$request.spbill_create_ip,
        }
    };
}
pub(crate) use payout_of;

impl<'a> Payout<'a> {
    /// Checks `device_info` (≤ 32), `openid` (≤ 64), `re_user_name` (≤ 64,
    /// required with `FORCE_CHECK`), the 1 yuan minimum, `desc` (≤
    /// `desc_max`) and the IPv4 address, in that order.
    pub(crate) fn check(&self, c: &mut Checker, desc_max: usize) {
        c.opt_text("device_info", self.device_info, 32);
        check_openid(c, "openid", self.openid, 64);
        c.opt_text("re_user_name", self.re_user_name, 64);
        if self.check_name == CheckName::ForceCheck && self.re_user_name.is_none_or(str::is_empty) {
            c.push(
                "re_user_name",
                Rule::RequiredWhen("check_name is FORCE_CHECK"),
                None,
            );
        }
        if self.amount.fen() < MIN_PAYMENT_FEN {
            c.violations.push(Violation::new(
                "amount",
                Rule::AmountAtLeast(Amount::from_fen(MIN_PAYMENT_FEN)),
                Some(self.amount.to_string()),
            ));
        }
        c.text("desc", self.desc, desc_max);
        c.ipv4("spbill_create_ip", self.spbill_create_ip);
    }

    /// The payout fields in wire order, in a vector with room for `capacity`
    /// fields (the request's own fields follow).
    pub(crate) fn fields(&self, capacity: usize) -> Vec<(&'static str, Cow<'a, str>)> {
        let mut f = Vec::with_capacity(capacity);
        push_opt(&mut f, "device_info", self.device_info);
        f.push((
            "partner_trade_no",
            Cow::Borrowed(self.partner_trade_no.as_str()),
        ));
        f.push(("openid", Cow::Borrowed(self.openid.as_str())));
        f.push(("check_name", Cow::Borrowed(self.check_name.as_str())));
        push_opt(&mut f, "re_user_name", self.re_user_name);
        f.push(("amount", num(self.amount.fen())));
        f.push(("desc", Cow::Borrowed(self.desc)));
        f.push(("spbill_create_ip", Cow::Borrowed(self.spbill_create_ip)));
        f
    }
}

/// The payout fields read back from a request body, owned.
pub(crate) struct PayoutWire {
    pub(crate) partner_trade_no: TradeNo,
    pub(crate) device_info: Option<String>,
    pub(crate) openid: OpenId,
    pub(crate) check_name: CheckName,
    pub(crate) re_user_name: Option<String>,
    pub(crate) amount: Amount,
    pub(crate) desc: String,
    pub(crate) spbill_create_ip: String,
}

impl PayoutWire {
    /// Reads the payout fields in wire order; `None` when a typed one is
    /// missing or invalid (the reader holds the violations).
    pub(crate) fn read(r: &mut WireReader<'_>) -> Option<PayoutWire> {
        let device_info = r.opt("device_info");
        let partner_trade_no = r.parsed("partner_trade_no", str::parse::<TradeNo>);
        let openid = r.parsed("openid", str::parse::<OpenId>);
        let check_name = r.parsed("check_name", str::parse::<CheckName>);
        let re_user_name = r.opt("re_user_name");
        let amount = r.amount("amount");
        let desc = r.req("desc");
        let spbill_create_ip = r.req("spbill_create_ip");
        Some(PayoutWire {
            partner_trade_no: partner_trade_no?,
            device_info,
            openid: openid?,
            check_name: check_name?,
            re_user_name,
            amount,
            desc,
            spbill_create_ip,
        })
    }
}

/// Builds a request from its payout fields read back from the wire
/// (`PayoutWire`) and its own fields, given by name.
macro_rules! with_payout {
    ($request:ident { $payout:expr; $($field:ident),* $(,)? }) => {{
        let payout: $crate::model::payout::PayoutWire = $payout;
        $request {
            partner_trade_no: payout.partner_trade_no,
            device_info: payout.device_info,
            openid: payout.openid,
            check_name: payout.check_name,
            re_user_name: payout.re_user_name,
            amount: payout.amount,
            desc: payout.desc,
            spbill_create_ip: payout.spbill_create_ip,
            $($field,)*
        }
    }};
}
pub(crate) use with_payout;
