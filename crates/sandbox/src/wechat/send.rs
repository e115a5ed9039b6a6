//! The money-moving endpoints: idempotency by bill number, the business
//! rules, the ledger commit, and the fault drawn for the reply.

use std::collections::BTreeMap;
use std::time::Duration;

use hongbao_proto::{Endpoint, ErrorCode, Family, RawXml};
use hongbao_sign::Signer;

use super::reply::{business_failure, dress, echo_fields, success_reply, systemerror};
use super::rules::{Facts, business_rules};
use super::{Answer, reject};
use crate::faults::FaultKind;
use crate::ledger::{NewPayment, PaymentState};
use crate::state::Shared;

/// Business parameters compared between retries: everything but the nonce,
/// the signatures and the caller's IP address.
pub(super) fn business_params(raw: &RawXml) -> BTreeMap<String, String> {
    raw.fields()
        .filter(|(n, v)| {
            !v.is_empty()
                && !matches!(
                    *n,
                    "nonce_str" | "sign" | "workwx_sign" | "client_ip" | "spbill_create_ip"
                )
        })
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

pub(super) fn send(
    shared: &Shared,
    endpoint: Endpoint,
    raw: &RawXml,
    facts: &Facts,
    reply_signer: Option<&Signer>,
) -> Answer {
    let spec = endpoint.spec();
    let settings = &shared.settings;
    let family = spec.family;
    let bill = spec.bill_field.and_then(|f| raw.get(f)).unwrap_or("");
    let openid = facts.openid.as_str();
    let amount = facts.amount.fen();
    let params = business_params(raw);
    let echo = echo_fields(shared, endpoint, raw);

    let mut inner = shared.lock();
    let now = shared.clock.now();
    let fault = inner.faults.draw();
    if let Some(kind) = fault {
        tracing::info!(endpoint = endpoint.name(), bill, fault = %kind, "injecting a fault");
    }
    let fault_delay = Duration::from_millis(inner.faults.config.delay_ms);

    if let Some(existing) = inner.ledger.find(family, bill) {
        // Idempotency: compare with the original request.
        let mismatch = if existing.openid != openid {
            Some(reject(
                ErrorCode::FatalError,
                "同一单号openid与原单不一致 (this bill number was used with another openid)",
            ))
        } else if existing.amount_fen != amount {
            // Pay to employee answers any changed parameter, the amount
            // included, with FATAL_ERROR (errors.md §3); the red packets and
            // transfers answer a changed amount with PARAM_ERROR.
            Some(reject(
                if family == Family::PayEmployee {
                    ErrorCode::FatalError
                } else {
                    ErrorCode::ParamError
                },
                "金额和原始单参数不一致 (keep the amount of the original request)",
            ))
        } else if existing.params != params {
            Some(reject(
                ErrorCode::FatalError,
                "参数与原单不一致 (this bill number was used with other parameters)",
            ))
        } else {
            None
        };
        let failure = existing.failure.clone();
        inner.ledger.note_request(family, bill, now);
        if let Some(rejection) = mismatch {
            return Answer::ok(business_failure(
                reply_signer,
                &echo,
                &rejection.code,
                &rejection.des,
            ));
        }
        if let Some((code, des)) = failure {
            return Answer::ok(business_failure(reply_signer, &echo, &code, &des));
        }
        if fault == Some(FaultKind::SystemerrorBeforeCommit) {
            return Answer::ok(systemerror(&echo));
        }
        let nonce = inner.nonce();
        let Some(existing) = inner.ledger.find(family, bill) else {
            return Answer::ok(systemerror(&echo));
        };
        let fault = if existing.state == PaymentState::InProgress && fault.is_none() {
            Some(FaultKind::ProcessingAfterCommit)
        } else {
            fault
        };
        let body = success_reply(shared, nonce, existing, raw);
        drop(inner);
        return dress(body, &echo, reply_signer, fault, fault_delay);
    }

    if fault == Some(FaultKind::SystemerrorBeforeCommit) {
        return Answer::ok(systemerror(&echo));
    }
    if let Err(rejection) = business_rules(shared, &mut inner, endpoint, facts, now) {
        return Answer::ok(business_failure(
            reply_signer,
            &echo,
            &rejection.code,
            &rejection.des,
        ));
    }
    if settings.failing_openids.contains(openid) {
        let (code, des) = match family {
            Family::RedPacket | Family::WorkwxRedPacket => (
                ErrorCode::SendFailed,
                "红包发放失败,请更换单号再重试 (this red packet failed; a new bill number is a new payment)",
            ),
            _ => (
                ErrorCode::V2AccountSimpleBan,
                "无法给未实名用户付款 (the payee has no real-name verified account)",
            ),
        };
        let failed = NewPayment {
            endpoint,
            bill: bill.to_owned(),
            openid: openid.to_owned(),
            amount_fen: amount,
            params,
            in_progress: false,
        };
        inner
            .ledger
            .record_failure(failed, (code.clone(), des.to_owned()), now);
        return Answer::ok(business_failure(reply_signer, &echo, &code, des));
    }
    let new = NewPayment {
        endpoint,
        bill: bill.to_owned(),
        openid: openid.to_owned(),
        amount_fen: amount,
        params,
        in_progress: fault == Some(FaultKind::ProcessingAfterCommit),
    };
    let nonce = inner.nonce();
    let payment = inner.ledger.commit(new, now, &settings.progression);
    let body = success_reply(shared, nonce, payment, raw);
    drop(inner);
    dress(body, &echo, reply_signer, fault, fault_delay)
}
