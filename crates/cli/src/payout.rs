//! Payout kinds and building a protocol request from a CSV row or flags.

use crate::config::Texts;
use crate::input::RowIssue;
use clap::ValueEnum;
use hongbao_proto::{
    Amount, AmtType, AnyRequest, BillNo, CheckName, Endpoint, GroupRedPacket, MsgType, OpenId,
    PayEmployee, RedPacket, SceneId, TradeNo, Transfer, Violation, Violations, WorkwxRedPacket,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a payout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Cash red packet (`sendredpack`).
    RedPacket,
    /// Group ("fission") red packet (`sendgroupredpack`; offline since 2024-06-05).
    GroupRedPacket,
    /// WeCom enterprise red packet (`sendworkwxredpack`).
    WorkwxRedPacket,
    /// WeCom pay to employee (`paywwsptrans2pocket`).
    PayEmployee,
    /// Transfer to a user's change (`promotion/transfers`).
    Transfer,
}

impl Kind {
    /// The name used on the command line and in journals.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RedPacket => "red-packet",
            Kind::GroupRedPacket => "group-red-packet",
            Kind::WorkwxRedPacket => "workwx-red-packet",
            Kind::PayEmployee => "pay-employee",
            Kind::Transfer => "transfer",
        }
    }

    /// The send endpoint.
    pub fn endpoint(self) -> Endpoint {
        match self {
            Kind::RedPacket => Endpoint::SendRedPacket,
            Kind::GroupRedPacket => Endpoint::SendGroupRedPacket,
            Kind::WorkwxRedPacket => Endpoint::SendWorkwxRedPacket,
            Kind::PayEmployee => Endpoint::PayEmployee,
            Kind::Transfer => Endpoint::Transfer,
        }
    }

    /// Whether bill numbers are `partner_trade_no` (up to 32 characters)
    /// rather than `mch_billno` (up to 28).
    pub fn uses_trade_no(self) -> bool {
        matches!(self, Kind::PayEmployee | Kind::Transfer)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Kind {
    /// The kind of a payout request (`None` for queries and the key call).
    pub fn of(request: &AnyRequest) -> Option<Kind> {
        // The inverse of `endpoint`: the table is written down once, there.
        let endpoint = request.endpoint();
        Kind::value_variants()
            .iter()
            .copied()
            .find(|kind| kind.endpoint() == endpoint)
    }
}

/// The inputs of one payout (a CSV row, or the flags of `hongbao send`).
#[derive(Debug, Clone, Copy)]
pub struct PayoutInput<'a> {
    /// CSV line (0 for `send`).
    pub line: u64,
    /// Recipient openid.
    pub openid: &'a str,
    /// Amount in yuan as written.
    pub amount: &'a str,
    /// Bill number.
    pub bill: &'a str,
    /// Real name (FORCE_CHECK), if any.
    pub name: Option<&'a str>,
    /// Per-row texts (take precedence).
    pub texts: &'a Texts,
    /// Defaults from the config.
    pub defaults: &'a Texts,
    /// `client_ip` / `spbill_create_ip`.
    pub client_ip: &'a str,
}

/// Maps a wire field name back to the CSV column / flag it comes from.
pub fn column_of(field: &str) -> &str {
    match field {
        "re_openid" | "openid" => "openid",
        "total_amount" | "amount" => "amount",
        "mch_billno" | "partner_trade_no" => "bill",
        "re_user_name" | "check_name" => "name",
        other => other,
    }
}

fn issue(line: u64, v: &Violation) -> RowIssue {
    let mut rule = v.rule.to_string();
    if let Some(value) = &v.value {
        rule.push_str(&format!(" (got {value:?})"));
    }
    let column = column_of(&v.field);
    if column != v.field {
        rule = format!("{rule} [{}]", v.field);
    }
    RowIssue {
        line,
        field: column.to_owned(),
        rule,
    }
}

fn text(row: &Option<String>, default: &Option<String>) -> String {
    row.clone().or_else(|| default.clone()).unwrap_or_default()
}

fn opt(row: &Option<String>, default: &Option<String>) -> Option<String> {
    row.clone().or_else(|| default.clone())
}

/// Builds and validates the request; every problem is reported (line,
/// column, rule).
pub fn build(kind: Kind, input: &PayoutInput<'_>) -> Result<AnyRequest, Vec<RowIssue>> {
    let line = input.line;
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut take = |v: Violation| issues.push(issue(line, &v));

    // A valid placeholder stands in for a bad openid or amount so that every
    // other field is still checked in the same pass.
    let openid = OpenId::new(input.openid)
        .map_err(&mut take)
        .ok()
        .or_else(|| OpenId::new("placeholder").ok());
    let amount = match Amount::parse_yuan(input.amount) {
        Ok(amount) => amount,
        Err(_) => {
            take(Violation::new(
                "amount",
                hongbao_proto::Rule::Charset("digits with at most two decimals (yuan, e.g. 12.34)"),
                Some(input.amount.to_owned()),
            ));
            Amount::from_fen(100)
        }
    };
    let (bill_no, trade_no) = if kind.uses_trade_no() {
        let t = TradeNo::new(input.bill).map_err(&mut take).ok();
        (None, t)
    } else {
        let b = BillNo::new(input.bill).map_err(&mut take).ok();
        (b, None)
    };
    let (t, d) = (input.texts, input.defaults);
    let scene_id = match opt(&t.scene_id, &d.scene_id) {
        None => None,
        Some(s) => match SceneId::parse(&s) {
            SceneId::Unknown(_) => {
                take(Violation::new(
                    "scene_id",
                    hongbao_proto::Rule::OneOf(SceneId::WIRE),
                    Some(s),
                ));
                None
            }
            known => Some(known),
        },
    };
    let check_name = if input.name.is_some() {
        CheckName::ForceCheck
    } else {
        CheckName::NoCheck
    };
    let re_user_name = input.name.map(str::to_owned);
    let (send_name, wishing) = (
        text(&t.send_name, &d.send_name),
        text(&t.wishing, &d.wishing),
    );
    let (act_name, remark) = (text(&t.act_name, &d.act_name), text(&t.remark, &d.remark));
    let desc = text(&t.desc, &d.desc);
    let built: Option<Result<AnyRequest, Violations>> = match kind {
        Kind::RedPacket => bill_no.zip(openid).map(|(mch_billno, openid)| {
            RedPacket::builder(mch_billno, openid, amount)
                .send_name(send_name)
                .wishing(wishing)
                .client_ip(input.client_ip)
                .act_name(act_name)
                .remark(remark)
                .scene_id(scene_id)
                .build()
                .map(AnyRequest::from)
        }),
        Kind::GroupRedPacket => {
            let total_num = match opt(&t.total_num, &d.total_num) {
                None => 3,
                Some(n) => n.parse().unwrap_or_else(|_| {
                    take(Violation::new(
                        "total_num",
                        hongbao_proto::Rule::Integer,
                        Some(n),
                    ));
                    3
                }),
            };
            bill_no.zip(openid).map(|(mch_billno, openid)| {
                GroupRedPacket::builder(mch_billno, openid, amount, total_num)
                    .send_name(send_name)
                    .amt_type(AmtType::AllRand)
                    .wishing(wishing)
                    .act_name(act_name)
                    .remark(remark)
                    .scene_id(scene_id)
                    .build()
                    .map(AnyRequest::from)
            })
        }
        Kind::WorkwxRedPacket => {
            let sender_name = t.sender_name.clone();
            let agentid = t.agentid.clone();
            // A row that names its sender overrides both defaults.
            let (sender_name, agentid) = if sender_name.is_some() || agentid.is_some() {
                (sender_name, agentid)
            } else {
                (d.sender_name.clone(), d.agentid.clone())
            };
            bill_no.zip(openid).map(|(mch_billno, openid)| {
                WorkwxRedPacket::builder(mch_billno, openid, amount)
                    .sender_name(sender_name)
                    .agentid(agentid)
                    .wishing(wishing)
                    .act_name(act_name)
                    .remark(remark)
                    .scene_id(scene_id)
                    .build()
                    .map(AnyRequest::from)
            })
        }
        Kind::PayEmployee => trade_no.zip(openid).map(|(partner_trade_no, openid)| {
            PayEmployee::builder(partner_trade_no, openid, amount)
                .check_name(check_name)
                .re_user_name(re_user_name)
                .desc(desc)
                .spbill_create_ip(input.client_ip)
                .ww_msg_type(MsgType::NormalMsg)
                .act_name(act_name)
                .agentid(opt(&t.agentid, &d.agentid))
                .build()
                .map(AnyRequest::from)
        }),
        Kind::Transfer => trade_no.zip(openid).map(|(partner_trade_no, openid)| {
            Transfer::builder(partner_trade_no, openid, amount)
                .check_name(check_name)
                .re_user_name(re_user_name)
                .desc(desc)
                .spbill_create_ip(input.client_ip)
                .build()
                .map(AnyRequest::from)
        }),
    };
    let request = match built {
        None => None,
        Some(Ok(request)) => Some(request),
        Some(Err(violations)) => {
            for v in violations.iter() {
                // The placeholders are valid, so these are all real problems;
                // skip duplicates of a field already reported.
                let found = issue(line, v);
                if !issues.iter().any(|i| i.field == found.field) {
                    issues.push(found);
                }
            }
            None
        }
    };
    match request {
        Some(request) if issues.is_empty() => Ok(request),
        _ => Err(issues),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Kind::of` is the inverse of `Kind::endpoint`, and queries have no kind.
    #[test]
    fn kind_of_inverts_endpoint() {
        let query = AnyRequest::query(Endpoint::QueryTransfer, "T1")
            .expect("a query endpoint")
            .expect("valid bill");
        assert_eq!(Kind::of(&query), None);
        let endpoints: std::collections::HashSet<_> = Kind::value_variants()
            .iter()
            .map(|k| k.endpoint())
            .collect();
        assert_eq!(endpoints.len(), Kind::value_variants().len());
    }

    /// Rows stored by earlier versions (`PayoutRequest`, the same
    /// `{"kind", "request"}` shape) still read, and write back the same.
    #[test]
    fn journal_rows_of_the_old_format_still_read() {
        let old = r#"{"kind":"red-packet","request":{"mch_billno":"10000098201411111234567890","send_name":"天虹百货","re_openid":"oxTWIuGaIt6gTKsQRLau2M0yL16E","total_amount":1000,"wishing":"恭喜发财","client_ip":"192.168.0.1","act_name":"猜灯谜","remark":"快来抢","scene_id":"PRODUCT_1"}}"#;
        let request: AnyRequest = serde_json::from_str(old).expect("old row reads");
        assert_eq!(Kind::of(&request), Some(Kind::RedPacket));
        assert_eq!(request.bill(), Some("10000098201411111234567890"));
        assert_eq!(request.amount(), Some(Amount::from_fen(1000)));
        assert_eq!(request.field("scene_id").as_deref(), Some("PRODUCT_1"));
        request.validate().expect("valid");
        let again: AnyRequest =
            serde_json::from_str(&serde_json::to_string(&request).expect("json")).expect("reads");
        assert_eq!(again, request);

        let old = r#"{"kind":"pay-employee","request":{"partner_trade_no":"T1","device_info":null,"openid":"oxTWIuGaIt6gTKsQRLau2M0yL16E","check_name":"FORCE_CHECK","re_user_name":"王小王","amount":10099,"desc":"报销","spbill_create_ip":"10.0.0.1","ww_msg_type":"NORMAL_MSG","act_name":"报销","agentid":"1000002"}}"#;
        let request: AnyRequest = serde_json::from_str(old).expect("old row reads");
        assert_eq!(Kind::of(&request), Some(Kind::PayEmployee));
        assert_eq!(
            request.payee().as_deref(),
            Some("oxTWIuGaIt6gTKsQRLau2M0yL16E")
        );
        assert_eq!(request.field("re_user_name").as_deref(), Some("王小王"));
        let renumbered = request.with_bill("T2").expect("valid bill");
        assert_eq!(renumbered.bill(), Some("T2"));
    }
}
