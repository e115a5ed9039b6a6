//! The query endpoints: a payment of the ledger as WeChat reports it.

use hongbao_proto::{Endpoint, ErrorCode, Family, HbType, RawXml, Records, ResultCode, SendType};
use hongbao_sign::Signer;

use super::reply::{Fields, business_failure};
use crate::clock::Timestamp;
use crate::ledger::{Payment, PaymentState};
use crate::state::Shared;

pub(super) fn query(
    shared: &Shared,
    endpoint: Endpoint,
    raw: &RawXml,
    reply_signer: Option<&Signer>,
) -> Vec<u8> {
    let spec = endpoint.spec();
    let settings = &shared.settings;
    let family = spec.family;
    let bill = spec.bill_field.and_then(|f| raw.get(f)).unwrap_or("");
    let inner = shared.lock();
    let window_secs = i64::from(settings.limits.query_window_days).saturating_mul(86_400);
    let now = shared.clock.now();
    let visible = |p: &&Payment| now < p.created.add_secs(window_secs);
    let Some(p) = inner.ledger.find(family, bill).filter(visible) else {
        return business_failure(
            reply_signer,
            &[],
            &ErrorCode::NotFound,
            "指定单号数据不存在 (no payment with this bill number)",
        );
    };
    let mut f = Fields::default();
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    f.push("return_code", ResultCode::Success.as_str());
    f.push(
        "return_msg",
        match family {
            Family::RedPacket => "OK",
            Family::WorkwxRedPacket => "ok",
            _ => "获取成功",
        },
    );
    f.push("result_code", ResultCode::Success.as_str());
    let reason = p.failure.as_ref().map_or("", |(_, des)| des.as_str());
    match family {
        Family::RedPacket | Family::WorkwxRedPacket => {
            f.push("mch_billno", &p.bill);
            f.push("mch_id", &settings.mch_id);
            f.push("detail_id", &p.detail_id);
            f.push("status", p.wire_status().as_str());
            f.push("send_type", SendType::Api.as_str());
            if family == Family::RedPacket {
                let group = p.endpoint == Endpoint::SendGroupRedPacket;
                f.push(
                    "hb_type",
                    if group { HbType::Group } else { HbType::Normal }.as_str(),
                );
                f.push("total_num", if group { p.param("total_num") } else { "1" });
            }
            f.push("total_amount", p.amount_fen.to_string());
            f.push_opt("reason", reason);
            f.push("send_time", p.created.beijing_string());
            if let Some(t) = p.refunded_at {
                f.push("refund_time", t.beijing_string());
                f.push("refund_amount", p.amount_fen.to_string());
            }
            f.push_opt("wishing", p.param("wishing"));
            f.push_opt("remark", p.param("remark"));
            f.push_opt("act_name", p.param("act_name"));
            if family == Family::WorkwxRedPacket {
                f.push("openid", &p.openid);
                f.push("amount", p.amount_fen.to_string());
                if let Some(t) = p.received_at {
                    f.push("rcv_time", t.beijing_string());
                }
                f.push_opt("sender_name", p.param("sender_name"));
                f.push_opt("sender_header_media_id", p.param("sender_header_media_id"));
            } else if let Some(t) = p.received_at {
                records = receivers(p, t);
            }
        }
        Family::PayEmployee | Family::Transfer => {
            f.push("mch_id", &settings.mch_id);
            f.push("appid", raw.get("appid").unwrap_or(""));
            f.push("detail_id", &p.detail_id);
            f.push("partner_trade_no", &p.bill);
            f.push("status", p.wire_status().as_str());
            f.push_opt("reason", reason);
            f.push("payment_amount", p.amount_fen.to_string());
            f.push("openid", &p.openid);
            f.push("transfer_time", p.created.beijing_string());
            if family == Family::Transfer
                && let (Some(t), PaymentState::Paid) = (p.paid_at, p.state)
            {
                f.push("payment_time", t.beijing_string());
            }
            f.push_opt("transfer_name", p.param("re_user_name"));
            f.push_opt("desc", p.param("desc"));
        }
        _ => {}
    }
    drop(inner);
    if let Some(signer) = reply_signer {
        f.sign(signer);
    }
    if records.is_empty() {
        return f.render();
    }
    let entries: Vec<Vec<(&str, &str)>> = records
        .iter()
        .map(|r| r.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
        .collect();
    f.render_with(&Records::hblist(entries))
}

/// The `hblist` of an opened red packet: one receiver for a normal packet;
/// for a group packet, the seed user first, then made-up friends, sharing
/// the amount evenly (the remainder to the seed user).
pub(super) fn receivers(p: &Payment, at: Timestamp) -> Vec<Vec<(String, String)>> {
    let num: u64 = if p.endpoint == Endpoint::SendGroupRedPacket {
        p.param("total_num").parse().unwrap_or(1).max(1)
    } else {
        1
    };
    let share = p.amount_fen / num;
    let first = p.amount_fen - share * (num - 1);
    (0..num)
        .map(|i| {
            let openid = if i == 0 {
                p.openid.clone()
            } else {
                format!("oSandboxFriend{i:02}")
            };
            vec![
                ("openid".to_owned(), openid),
                (
                    "amount".to_owned(),
                    if i == 0 { first } else { share }.to_string(),
                ),
                ("rcv_time".to_owned(), at.beijing_string()),
            ]
        })
        .collect()
}
