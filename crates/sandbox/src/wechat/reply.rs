//! Writing replies: the ordered, signed field list, protocol and business
//! failures with their echo fields, the success reply of a send, and how a
//! fault dresses it.

use std::time::Duration;

use hongbao_proto::{Endpoint, ErrorCode, Family, RawXml, Records, ResultCode, write_document};
use hongbao_sign::Signer;

use super::Answer;
use crate::faults::FaultKind;
use crate::ledger::Payment;
use crate::state::Shared;

/// An ordered list of reply fields.
#[derive(Debug, Default)]
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(super) fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }

    /// Pushes only when `value` is not empty.
    pub(super) fn push_opt(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.push(name, value);
        }
    }

    pub(super) fn render(&self) -> Vec<u8> {
        write_document(&self.pairs(), None)
    }

    /// Renders with nested records (`hblist/hbinfo`) after the flat fields.
    pub(super) fn render_with(&self, records: &Records<'_>) -> Vec<u8> {
        write_document(&self.pairs(), Some(records))
    }

    pub(super) fn pairs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// Appends `sign` over every non-empty field (as WeChat signs replies).
    pub(super) fn sign(&mut self, signer: &Signer) {
        let signature = signer.sign_md5(self.0.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        if let Ok(signature) = signature {
            self.push("sign", signature.as_str());
        }
    }
}

/// A protocol-level failure: `return_code=FAIL` with the code and text.
pub(super) fn protocol_failure(code: &ErrorCode, des: &str) -> Vec<u8> {
    let mut f = Fields::default();
    f.push("return_code", ResultCode::Fail.as_str());
    f.push("return_msg", des);
    f.push("err_code", code.as_str());
    f.push("err_code_des", des);
    f.render()
}

/// A business failure with the endpoint's echo fields.
pub(super) fn business_failure(
    reply_signer: Option<&Signer>,
    echo: &[(String, String)],
    code: &ErrorCode,
    des: &str,
) -> Vec<u8> {
    let mut f = Fields::default();
    f.push("return_code", ResultCode::Success.as_str());
    f.push("return_msg", des);
    f.push("result_code", ResultCode::Fail.as_str());
    f.push("err_code", code.as_str());
    f.push("err_code_des", des);
    for (n, v) in echo {
        f.push_opt(n, v);
    }
    if let Some(signer) = reply_signer {
        f.sign(signer);
    }
    f.render()
}

/// The fields a failure reply echoes back, per endpoint. Pay-to-employee
/// replies also carry a fresh `nonce_str`, failures included (endpoints.md).
pub(super) fn echo_fields(
    shared: &Shared,
    endpoint: Endpoint,
    raw: &RawXml,
) -> Vec<(String, String)> {
    // Named with the endpoint's own field names (proto's endpoint table).
    let spec = endpoint.spec();
    let names: Vec<&str> = match spec.family {
        Family::RedPacket | Family::WorkwxRedPacket if spec.moves_money => [
            spec.bill_field,
            Some(spec.mch_id_field),
            spec.appid_field,
            spec.openid_field,
            spec.amount_field,
        ]
        .into_iter()
        .flatten()
        .collect(),
        Family::PayEmployee | Family::Transfer if spec.moves_money => [
            spec.appid_field,
            Some(spec.mch_id_field),
            Some("device_info"),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => Vec::new(),
    };
    let mut echo: Vec<(String, String)> = names
        .iter()
        .filter_map(|n| raw.get(n).map(|v| ((*n).to_owned(), v.to_owned())))
        .collect();
    if endpoint == Endpoint::PayEmployee {
        echo.push(("nonce_str".to_owned(), shared.lock().nonce()));
    }
    echo
}

/// The fields of a successful send's reply, unsigned, before a fault
/// dresses them.
pub(super) fn success_reply(
    shared: &Shared,
    nonce: String,
    payment: &Payment,
    raw: &RawXml,
) -> Fields {
    let settings = &shared.settings;
    let mut f = Fields::default();
    let paid_time = payment.paid_at.unwrap_or(payment.created).beijing_string();
    match payment.family() {
        Family::RedPacket | Family::WorkwxRedPacket => {
            f.push("return_code", ResultCode::Success.as_str());
            f.push(
                "return_msg",
                if payment.family() == Family::WorkwxRedPacket {
                    "ok"
                } else {
                    "发放成功"
                },
            );
            f.push("result_code", ResultCode::Success.as_str());
            if payment.family() == Family::RedPacket {
                f.push("err_code", ResultCode::Success.as_str());
                f.push("err_code_des", "发放成功");
            }
            f.push("mch_billno", &payment.bill);
            f.push("mch_id", &settings.mch_id);
            f.push("wxappid", payment.param("wxappid"));
            f.push("re_openid", &payment.openid);
            f.push("total_amount", payment.amount_fen.to_string());
            f.push("send_listid", &payment.wechat_id);
            if payment.family() == Family::WorkwxRedPacket {
                f.push_opt("sender_name", payment.param("sender_name"));
                f.push_opt(
                    "sender_header_media_id",
                    payment.param("sender_header_media_id"),
                );
            } else {
                f.push(
                    "send_time",
                    payment
                        .created
                        .beijing_string()
                        .replace(['-', ' ', ':'], ""),
                );
            }
            if payment.endpoint == Endpoint::SendMiniProgramRedPacket {
                f.push(
                    "package",
                    format!(
                        "sendid={}&ver=8&sign=sandbox&mchid={}",
                        payment.wechat_id, settings.mch_id
                    ),
                );
            }
        }
        family => {
            // Pay-to-employee and transfers reply alike, but each names the
            // merchant fields as its request does.
            let (return_msg, appid_field, mch_id_field) = if family == Family::PayEmployee {
                ("ok", "appid", "mch_id")
            } else {
                ("", "mch_appid", "mchid")
            };
            f.push("return_code", ResultCode::Success.as_str());
            f.push("return_msg", return_msg);
            f.push(appid_field, payment.param(appid_field));
            f.push(mch_id_field, &settings.mch_id);
            f.push_opt("device_info", raw.get("device_info").unwrap_or(""));
            f.push("nonce_str", nonce.clone());
            f.push("result_code", ResultCode::Success.as_str());
            f.push("partner_trade_no", &payment.bill);
            f.push("payment_no", &payment.wechat_id);
            f.push("payment_time", paid_time);
        }
    }
    f
}

pub(super) fn systemerror(echo: &[(String, String)]) -> Vec<u8> {
    // As observed: unsigned even on endpoints that sign replies.
    business_failure(
        None,
        echo,
        &ErrorCode::SystemError,
        "系统繁忙,请稍后使用原单号重试,请勿更换单号 (system busy; retry with the same bill number)",
    )
}

/// Turns a success into what the fault makes the client see.
pub(super) fn dress(
    mut fields: Fields,
    echo: &[(String, String)],
    signer: Option<&Signer>,
    fault: Option<FaultKind>,
    delay: Duration,
) -> Answer {
    match fault {
        None | Some(FaultKind::SystemerrorBeforeCommit) => {
            if let Some(signer) = signer {
                fields.sign(signer);
            }
            Answer::ok(fields.render())
        }
        Some(FaultKind::SystemerrorAfterCommit) => Answer::ok(systemerror(echo)),
        Some(FaultKind::ProcessingAfterCommit) => Answer::ok(business_failure(
            signer,
            echo,
            &ErrorCode::Processing,
            "请求已受理，请稍后使用原单号查询发放结果 (accepted; query with the same bill number later)",
        )),
        Some(FaultKind::DelayAfterCommit) => {
            if let Some(signer) = signer {
                fields.sign(signer);
            }
            Answer::Reply {
                status: 200,
                body: fields.render(),
                delay: Some(delay),
            }
        }
        Some(FaultKind::DropAfterCommit) => Answer::Drop,
        Some(FaultKind::MalformedReply) => {
            let mut full = fields.render();
            full.truncate(full.len() / 2);
            Answer::ok(full)
        }
        Some(FaultKind::UnknownFields) => {
            fields.push("sandbox_future_field", "added-by-a-later-api-version");
            fields.push("risk_level", "LOW");
            if let Some(signer) = signer {
                fields.sign(signer);
            }
            Answer::ok(fields.render())
        }
        Some(FaultKind::UnknownErrorCode) => Answer::ok(business_failure(
            signer,
            echo,
            &ErrorCode::Unknown("268458547".to_owned()),
            "未知错误 (an error code no documentation lists)",
        )),
    }
}
