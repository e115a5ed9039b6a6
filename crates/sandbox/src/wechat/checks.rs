//! The gates before any business, in WeChat's order: the WeCom signature,
//! the fields, the merchant and app id (the certificate, the method, the
//! body and the main signature are checked in [`super::handle`]).

use hongbao_proto::{AnyRequest, Endpoint, ErrorCode, Family, Merchant, RawXml, Violations};
use hongbao_sign::WorkwxKind;

use super::{Rejection, reject};
use crate::state::Shared;

pub(super) fn check_workwx(shared: &Shared, kind: WorkwxKind, raw: &RawXml) -> Option<Rejection> {
    let (code, des) = match kind {
        WorkwxKind::PayEmployee => (ErrorCode::WorkwxSignError, "企业微信签名校验失败"),
        WorkwxKind::RedPacket => (ErrorCode::SignError, "企业微信签名失败"),
    };
    let received = raw.get("workwx_sign").unwrap_or("");
    let Some(signer) = shared.settings.workwx_signer(raw.get("agentid")) else {
        return Some(reject(
            code.clone(),
            format!("{des} (the sandbox has no WeCom app secret for this agentid)"),
        ));
    };
    match signer.sign(kind, raw.fields()) {
        Ok(expected) if expected.matches(received) => None,
        _ => Some(reject(
            code,
            format!("{des} (workwx_sign does not match the WeCom app secret)"),
        )),
    }
}

/// Reads the request with proto's declared endpoint model: the typed
/// request and the merchant fields, or the violations WeChat answers with
/// PARAM_ERROR. Amount-range rules (and "`scene_id` required outside 1–200
/// yuan") are left out: the sandbox applies its own configurable limits,
/// with WeChat's limit codes, to the typed request instead
/// ([`super::rules`]). The request is `None` only if every kept rule passed
/// and yet a field had no typed value (never expected).
pub(super) fn read_request(
    endpoint: Endpoint,
    raw: &RawXml,
) -> Result<(Option<AnyRequest>, Merchant), Violations> {
    let read = AnyRequest::read_wire(endpoint, raw).without_amount_limits();
    if read.violations.is_empty() {
        Ok((read.request, read.merchant))
    } else {
        Err(read.violations)
    }
}

pub(super) fn check_merchant(
    shared: &Shared,
    endpoint: Endpoint,
    merchant: &Merchant,
) -> Option<Rejection> {
    let spec = endpoint.spec();
    let settings = &shared.settings;
    if merchant.mch_id != settings.mch_id {
        // WeCom answers an unknown merchant as one that has not enabled
        // WeCom enterprise payment (errors.md §2).
        let code = if matches!(spec.family, Family::WorkwxRedPacket | Family::PayEmployee) {
            ErrorCode::NoCompetence
        } else {
            ErrorCode::ParamError
        };
        return Some(reject(
            code,
            format!(
                "商户号{}有误 (unknown merchant id; this sandbox serves {})",
                spec.mch_id_field, settings.mch_id
            ),
        ));
    }
    let field = spec.appid_field?;
    if merchant.appid == settings.appid {
        return None;
    }
    let code = if spec.family == Family::PayEmployee {
        ErrorCode::WorkwxMchidError
    } else {
        ErrorCode::ParamError
    };
    Some(reject(
        code,
        format!(
            "商户号和{field}不匹配 (the app id is not bound to merchant {}; this sandbox serves {})",
            settings.mch_id, settings.appid
        ),
    ))
}
