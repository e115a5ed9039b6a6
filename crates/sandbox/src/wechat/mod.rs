//! The WeChat Pay side: checks in WeChat's order (listed in the crate
//! docs), business rules, idempotency by bill number, the ledger, replies,
//! and faults. One module per seam: [`checks`] (the gates before any
//! business: certificate, signatures, fields, merchant), [`send`] (the
//! money-moving endpoints and idempotency), [`rules`] (amounts, limits and
//! quotas), [`query`] and [`reply`] (writing every reply).

mod checks;
mod query;
mod reply;
mod rules;
mod send;

use std::time::Duration;

use hongbao_proto::{Endpoint, ErrorCode, RawXml, ResultCode};

use crate::state::Shared;
use checks::{check_merchant, check_workwx, read_request};
use reply::{Fields, business_failure, echo_fields, protocol_failure, systemerror};
use rules::Facts;

/// What the connection layer does with a request.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Send this reply (after `delay`, if any).
    Reply {
        status: u16,
        body: Vec<u8>,
        delay: Option<Duration>,
    },
    /// Close the connection without replying.
    Drop,
}

impl Answer {
    pub(super) fn ok(body: Vec<u8>) -> Self {
        Answer::Reply {
            status: 200,
            body,
            delay: None,
        }
    }
}

/// Facts about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    /// The connection is TLS.
    pub(crate) tls: bool,
    /// The client presented a certificate our CA signed.
    pub(crate) client_cert: bool,
}

/// A business-level rejection: code and human description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejection {
    pub(super) code: ErrorCode,
    pub(super) des: String,
}

pub(super) fn reject(code: ErrorCode, des: impl Into<String>) -> Rejection {
    Rejection {
        code,
        des: des.into(),
    }
}

/// Handles one request to a WeChat path.
pub(crate) fn handle(
    shared: &Shared,
    endpoint: Endpoint,
    info: ConnInfo,
    method_is_post: bool,
    body: Result<&[u8], BodyProblem>,
) -> Answer {
    let spec = endpoint.spec();
    // 1. Client certificate.
    if spec.needs_client_cert && info.tls && !info.client_cert {
        return Answer::ok(protocol_failure(
            &ErrorCode::CaError,
            "请求未携带证书或证书错误 (no valid merchant API client certificate was presented)",
        ));
    }
    // 2. Method.
    if !method_is_post {
        return Answer::ok(protocol_failure(
            &ErrorCode::HttpMethodError,
            "请使用post方法 (only POST is accepted)",
        ));
    }
    // 3. Body and XML.
    let body = match body {
        Ok(body) => body,
        Err(BodyProblem::TooLarge { limit }) => {
            return Answer::Reply {
                status: 413,
                body: protocol_failure(
                    &ErrorCode::XmlError,
                    &format!("输入xml格式有误 (the body is larger than {limit} bytes)"),
                ),
                delay: None,
            };
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Answer::ok(protocol_failure(
            &ErrorCode::XmlError,
            "输入xml格式有误 (the body is empty)",
        ));
    }
    let raw = match RawXml::parse(body) {
        Ok(raw) => raw,
        Err(e) => {
            return Answer::ok(protocol_failure(
                &ErrorCode::XmlError,
                &format!("输入xml格式有误 ({e})"),
            ));
        }
    };
    // 4. Main signature.
    if raw.get("sign_type").is_some() {
        return Answer::ok(protocol_failure(
            &ErrorCode::SignError,
            "签名错误 (this API is MD5-only: do not send sign_type)",
        ));
    }
    let received = raw.get("sign").unwrap_or("");
    let fields = || raw.fields().filter(|(n, _)| *n != "sign");
    let settings = &shared.settings;
    // The API key, or the sandbox key handed out by getsignkey.
    let signer = [&settings.signer, &settings.sandbox_signer]
        .into_iter()
        .find(|s| received.len() == 32 && s.verify(fields(), received).is_ok());
    let Some(signer) = signer else {
        return Answer::ok(protocol_failure(
            &ErrorCode::SignError,
            "签名错误 (the sign does not match the parameters and the API key)",
        ));
    };
    // 5. WeCom signature.
    if let Some(kind) = spec.workwx
        && let Some(rejection) = check_workwx(shared, kind, &raw)
    {
        return Answer::ok(protocol_failure(&rejection.code, &rejection.des));
    }
    let reply_signer = spec.reply_signed.then_some(signer);
    // 6. Fields, read into proto's typed request.
    let (request, merchant) = match read_request(endpoint, &raw) {
        Ok(read) => read,
        Err(violations) => {
            return Answer::ok(business_failure(
                reply_signer,
                &echo_fields(shared, endpoint, &raw),
                &ErrorCode::ParamError,
                &format!("参数错误 ({violations})"),
            ));
        }
    };
    // 7. Merchant and app id.
    if let Some(rejection) = check_merchant(shared, endpoint, &merchant) {
        if endpoint == Endpoint::GetSignKey {
            return Answer::ok(protocol_failure(&rejection.code, &rejection.des));
        }
        return Answer::ok(business_failure(
            reply_signer,
            &echo_fields(shared, endpoint, &raw),
            &rejection.code,
            &rejection.des,
        ));
    }
    // 8. The operation.
    if endpoint == Endpoint::GetSignKey {
        let mut f = Fields::default();
        f.push("return_code", ResultCode::Success.as_str());
        f.push("return_msg", "ok");
        f.push("mch_id", &shared.settings.mch_id);
        // A key derived from the API key; requests signed with either are
        // accepted, and signed replies use the key the request used.
        f.push("sandbox_signkey", settings.sandbox_key.expose());
        return Answer::ok(f.render());
    }
    if !spec.moves_money {
        return Answer::ok(query::query(shared, endpoint, &raw, reply_signer));
    }
    match request.as_ref().and_then(Facts::of) {
        Some(facts) => send::send(shared, endpoint, &raw, &facts, reply_signer),
        // Validation guarantees a payee and an amount; were one missing,
        // answer as WeChat does when it cannot say (keep the bill number).
        None => Answer::ok(systemerror(&echo_fields(shared, endpoint, &raw))),
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyProblem {
    /// Larger than the cap.
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
}
