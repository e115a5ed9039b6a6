//! Payout kinds and building a protocol request from a CSV row or flags.

use crate::config::Texts;
use crate::input::RowIssue;
use clap::ValueEnum;
use hongbao_proto::{
    Amount, AmtType, BillNo, CheckName, Endpoint, GroupRedPacket, MsgType, OpenId, PayEmployee,
    RedPacket, Request, SceneId, TradeNo, Transfer, Violation, Violations, WorkwxRedPacket,
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

/// A payout request of any kind (serialized into the journal as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "request", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)]
pub enum PayoutRequest {
    /// `sendredpack`.
    RedPacket(RedPacket),
    /// `sendgroupredpack`.
    GroupRedPacket(GroupRedPacket),
    /// `sendworkwxredpack`.
    WorkwxRedPacket(WorkwxRedPacket),
    /// `paywwsptrans2pocket`.
    PayEmployee(PayEmployee),
    /// `promotion/transfers`.
    Transfer(Transfer),
}

impl PayoutRequest {
    /// The bill number.
    pub fn bill(&self) -> &str {
        match self {
            PayoutRequest::RedPacket(r) => r.mch_billno.as_str(),
            PayoutRequest::GroupRedPacket(r) => r.mch_billno.as_str(),
            PayoutRequest::WorkwxRedPacket(r) => r.mch_billno.as_str(),
            PayoutRequest::PayEmployee(r) => r.partner_trade_no.as_str(),
            PayoutRequest::Transfer(r) => r.partner_trade_no.as_str(),
        }
    }

    /// The amount in fen.
    pub fn amount_fen(&self) -> u64 {
        match self {
            PayoutRequest::RedPacket(r) => r.total_amount.fen(),
            PayoutRequest::GroupRedPacket(r) => r.total_amount.fen(),
            PayoutRequest::WorkwxRedPacket(r) => r.total_amount.fen(),
            PayoutRequest::PayEmployee(r) => r.amount.fen(),
            PayoutRequest::Transfer(r) => r.amount.fen(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            PayoutRequest::RedPacket(_) => Kind::RedPacket,
            PayoutRequest::GroupRedPacket(_) => Kind::GroupRedPacket,
            PayoutRequest::WorkwxRedPacket(_) => Kind::WorkwxRedPacket,
            PayoutRequest::PayEmployee(_) => Kind::PayEmployee,
            PayoutRequest::Transfer(_) => Kind::Transfer,
        }
    }

    /// The same request under another bill number (a new payment).
    pub fn with_bill(&self, bill: &str) -> Result<PayoutRequest, Violation> {
        let mut next = self.clone();
        match &mut next {
            PayoutRequest::RedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            PayoutRequest::GroupRedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            PayoutRequest::WorkwxRedPacket(r) => r.mch_billno = BillNo::new(bill)?,
            PayoutRequest::PayEmployee(r) => r.partner_trade_no = TradeNo::new(bill)?,
            PayoutRequest::Transfer(r) => r.partner_trade_no = TradeNo::new(bill)?,
        }
        Ok(next)
    }

    /// Local validation (every rule at once).
    pub fn validate(&self) -> Result<(), Violations> {
        match self {
            PayoutRequest::RedPacket(r) => r.validate(),
            PayoutRequest::GroupRedPacket(r) => r.validate(),
            PayoutRequest::WorkwxRedPacket(r) => r.validate(),
            PayoutRequest::PayEmployee(r) => r.validate(),
            PayoutRequest::Transfer(r) => r.validate(),
        }
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
pub fn build(kind: Kind, input: &PayoutInput<'_>) -> Result<PayoutRequest, Vec<RowIssue>> {
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
    let request = match kind {
        Kind::RedPacket => bill_no.zip(openid).map(|(mch_billno, openid)| {
            PayoutRequest::RedPacket(RedPacket {
                mch_billno,
                send_name: text(&t.send_name, &d.send_name),
                re_openid: openid,
                total_amount: amount,
                wishing: text(&t.wishing, &d.wishing),
                client_ip: input.client_ip.to_owned(),
                act_name: text(&t.act_name, &d.act_name),
                remark: text(&t.remark, &d.remark),
                scene_id,
                risk_info: None,
                sub_mch_id: None,
                msgappid: None,
                consume_mch_id: None,
            })
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
                PayoutRequest::GroupRedPacket(GroupRedPacket {
                    mch_billno,
                    send_name: text(&t.send_name, &d.send_name),
                    re_openid: openid,
                    total_amount: amount,
                    total_num,
                    amt_type: AmtType::AllRand,
                    wishing: text(&t.wishing, &d.wishing),
                    act_name: text(&t.act_name, &d.act_name),
                    remark: text(&t.remark, &d.remark),
                    scene_id,
                    risk_info: None,
                    sub_mch_id: None,
                    consume_mch_id: None,
                })
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
                PayoutRequest::WorkwxRedPacket(WorkwxRedPacket {
                    mch_billno,
                    sender_name,
                    agentid,
                    sender_header_media_id: None,
                    re_openid: openid,
                    total_amount: amount,
                    wishing: text(&t.wishing, &d.wishing),
                    act_name: text(&t.act_name, &d.act_name),
                    remark: text(&t.remark, &d.remark),
                    scene_id,
                })
            })
        }
        Kind::PayEmployee => trade_no.zip(openid).map(|(partner_trade_no, openid)| {
            PayoutRequest::PayEmployee(PayEmployee {
                partner_trade_no,
                device_info: None,
                openid,
                check_name,
                re_user_name,
                amount,
                desc: text(&t.desc, &d.desc),
                spbill_create_ip: input.client_ip.to_owned(),
                ww_msg_type: MsgType::NormalMsg,
                approval_number: None,
                approval_type: None,
                act_name: text(&t.act_name, &d.act_name),
                agentid: opt(&t.agentid, &d.agentid),
            })
        }),
        Kind::Transfer => trade_no.zip(openid).map(|(partner_trade_no, openid)| {
            PayoutRequest::Transfer(Transfer {
                partner_trade_no,
                device_info: None,
                openid,
                check_name,
                re_user_name,
                amount,
                desc: text(&t.desc, &d.desc),
                spbill_create_ip: input.client_ip.to_owned(),
                scene: None,
                brand_id: None,
                finder_template_id: None,
            })
        }),
    };
    if let Some(request) = &request {
        if let Err(violations) = request.validate() {
            for v in violations.iter() {
                // The placeholders are valid, so these are all real problems;
                // skip duplicates of a field already reported.
                let found = issue(line, v);
                if !issues.iter().any(|i| i.field == found.field) {
                    issues.push(found);
                }
            }
        }
    }
    match request {
        Some(request) if issues.is_empty() => Ok(request),
        _ => Err(issues),
    }
}
