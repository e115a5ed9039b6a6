//! The WeChat Pay side: checks in WeChat's order (listed in the crate
//! docs), business rules, idempotency by bill number, the ledger, replies,
//! and faults.

use std::collections::BTreeMap;
use std::time::Duration;

use hongbao_proto::{
    Amount, AnyRequest, Endpoint, ErrorCode, Family, HbType, OpenId, RawXml, Records, ResultCode,
    Rule, SceneId, SendType, Violations, write_document,
};
use hongbao_sign::{Signer, WorkwxKind};

use crate::clock::Timestamp;
use crate::faults::FaultKind;
use crate::ledger::{NewPayment, Payment, PaymentState, Quota};
use crate::state::{Inner, Shared};

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
    fn ok(body: Vec<u8>) -> Self {
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

/// An ordered list of reply fields.
#[derive(Debug, Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }

    /// Pushes only when `value` is not empty.
    fn push_opt(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.push(name, value);
        }
    }

    fn render(&self) -> Vec<u8> {
        write_document(&self.pairs(), None)
    }

    /// Renders with nested records (`hblist/hbinfo`) after the flat fields.
    fn render_with(&self, records: &Records<'_>) -> Vec<u8> {
        write_document(&self.pairs(), Some(records))
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// Appends `sign` over every non-empty field (as WeChat signs replies).
    fn sign(&mut self, signer: &Signer) {
        let signature = signer.sign_md5(self.0.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        if let Ok(signature) = signature {
            self.push("sign", signature.as_str());
        }
    }
}

/// A protocol-level failure: `return_code=FAIL` with the code and text.
fn protocol_failure(code: &ErrorCode, des: &str) -> Vec<u8> {
    let mut f = Fields::default();
    f.push("return_code", ResultCode::Fail.as_str());
    f.push("return_msg", des);
    f.push("err_code", code.as_str());
    f.push("err_code_des", des);
    f.render()
}

/// A business failure with the endpoint's echo fields.
fn business_failure(
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
fn echo_fields(shared: &Shared, endpoint: Endpoint, raw: &RawXml) -> Vec<(String, String)> {
    let names: &[&str] = match endpoint.spec().family {
        Family::RedPacket | Family::WorkwxRedPacket if endpoint.spec().moves_money => &[
            "mch_billno",
            "mch_id",
            "wxappid",
            "re_openid",
            "total_amount",
        ],
        Family::PayEmployee if endpoint.spec().moves_money => &["appid", "mch_id", "device_info"],
        Family::Transfer if endpoint.spec().moves_money => &["mch_appid", "mchid", "device_info"],
        _ => &[],
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

/// A business-level rejection: code and human description.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rejection {
    code: ErrorCode,
    des: String,
}

fn reject(code: ErrorCode, des: impl Into<String>) -> Rejection {
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
    // 6. Fields.
    if let Err(violations) = validate_fields(endpoint, &raw) {
        return Answer::ok(business_failure(
            reply_signer,
            &echo_fields(shared, endpoint, &raw),
            &ErrorCode::ParamError,
            &format!("参数错误 ({violations})"),
        ));
    }
    // 7. Merchant and app id.
    if let Some(rejection) = check_merchant(shared, endpoint, &raw) {
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
        return Answer::ok(query(shared, endpoint, &raw, reply_signer));
    }
    match Facts::read(endpoint, &raw) {
        Some(facts) => send(shared, endpoint, &raw, &facts, reply_signer),
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

fn check_workwx(shared: &Shared, kind: WorkwxKind, raw: &RawXml) -> Option<Rejection> {
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

/// What the business rules need of a money-moving request, read from the
/// typed proto request (never from the raw text).
#[derive(Debug, Clone)]
struct Facts {
    /// The payee (`re_openid` / `openid`).
    openid: OpenId,
    /// The amount (`total_amount` / `amount`).
    amount: Amount,
    /// The usage scene, if any (red packets).
    scene_id: Option<SceneId>,
    /// Packets the amount is split into (`total_num` of a group red
    /// packet; 1 otherwise).
    packets: u32,
}

impl Facts {
    /// Reads the facts of a money-moving request whose fields passed
    /// validation, with proto's value types (`OpenId`, `Amount`, `SceneId`).
    /// Read from the wire rather than from the typed request because the
    /// typed request is refused as a whole when only an amount rule fails,
    /// and those rules are the sandbox's to apply (with WeChat's codes).
    fn read(endpoint: Endpoint, raw: &RawXml) -> Option<Facts> {
        let spec = endpoint.spec();
        let openid = OpenId::new(raw.get(spec.openid_field?)?).ok()?;
        let amount = Amount::parse_fen(raw.get(spec.amount_field?)?).ok()?;
        let packets = match raw.get_non_empty("total_num") {
            Some(n) => n.parse::<u32>().ok()?.max(1),
            None => 1,
        };
        Some(Facts {
            openid,
            amount,
            scene_id: raw.get_non_empty("scene_id").map(SceneId::parse),
            packets,
        })
    }
}

/// Typed parsing and validation with the proto models. Amount-range rules
/// (and "`scene_id` required outside 1–200 yuan") are left out: the sandbox
/// applies its own configurable limits, with WeChat's limit codes, instead.
fn validate_fields(endpoint: Endpoint, raw: &RawXml) -> Result<(), Violations> {
    // `from_wire` applies every rule of the typed request, amount rules included.
    let Err(violations) = AnyRequest::from_wire(endpoint, raw) else {
        return Ok(());
    };
    let mut kept = Violations::new();
    for v in violations {
        let amount_rule = matches!(
            v.rule,
            Rule::AmountRange { .. } | Rule::AmountAtLeast(_) | Rule::AverageAmountRange { .. }
        ) || (v.field == "scene_id" && matches!(v.rule, Rule::RequiredWhen(_)));
        if !amount_rule {
            kept.push(v);
        }
    }
    kept.into_result()
}

fn check_merchant(shared: &Shared, endpoint: Endpoint, raw: &RawXml) -> Option<Rejection> {
    let spec = endpoint.spec();
    let settings = &shared.settings;
    if raw.get(spec.mch_id_field).unwrap_or("") != settings.mch_id {
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
    if raw.get(field).unwrap_or("") == settings.appid {
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

/// Business parameters compared between retries: everything but the nonce,
/// the signatures and the caller's IP address.
fn business_params(raw: &RawXml) -> BTreeMap<String, String> {
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

fn send(
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

/// The fields of a successful send's reply, unsigned, before a fault
/// dresses them.
fn success_reply(shared: &Shared, nonce: String, payment: &Payment, raw: &RawXml) -> Fields {
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

fn systemerror(echo: &[(String, String)]) -> Vec<u8> {
    // As observed: unsigned even on endpoints that sign replies.
    business_failure(
        None,
        echo,
        &ErrorCode::SystemError,
        "系统繁忙,请稍后使用原单号重试,请勿更换单号 (system busy; retry with the same bill number)",
    )
}

/// Turns a success into what the fault makes the client see.
fn dress(
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

fn secs(value: u32) -> i64 {
    i64::from(value)
}

fn business_rules(
    shared: &Shared,
    inner: &mut Inner,
    endpoint: Endpoint,
    facts: &Facts,
    now: Timestamp,
) -> Result<(), Rejection> {
    let openid = facts.openid.as_str();
    let amount = facts.amount.fen();
    let limits = &shared.settings.limits;
    let family = endpoint.spec().family;
    let Some(quota) = Quota::of(family) else {
        return Ok(());
    };
    let today = now.beijing_date();
    let yuan = Amount::from_fen;
    match quota {
        Quota::RedPacket | Quota::WorkwxRedPacket => {
            let has_scene = facts.scene_id.is_some();
            // Outside the default range a scene_id is required, below it as
            // above it (endpoints.md #1: "above 200 yuan or below 1 yuan");
            // with one, only the merchant's own ceiling applies.
            let (min, max) = if has_scene {
                (1, limits.red_packet_max_with_scene_fen)
            } else {
                (limits.red_packet_min_fen, limits.red_packet_max_fen)
            };
            if endpoint == Endpoint::SendGroupRedPacket {
                let average = amount / u64::from(facts.packets);
                if average < min || average > max {
                    return Err(reject(
                        ErrorCode::MoneyLimit,
                        format!(
                            "每个红包的平均金额必须在{}元到{}元之间.",
                            yuan(min),
                            yuan(max)
                        ),
                    ));
                }
            } else if !has_scene && !(min..=max).contains(&amount) {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    format!(
                        "红包金额小于{}元或大于{}元时必须设置scene_id (outside {} to {} yuan a scene_id is required)",
                        yuan(min),
                        yuan(max),
                        yuan(min),
                        yuan(max)
                    ),
                ));
            } else if amount > max {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    format!(
                        "红包金额不能大于{}元 (above the largest amount per packet)",
                        yuan(max)
                    ),
                ));
            }
            if limits.red_packet_night_ban && now.beijing().hour < 8 {
                return Err(reject(
                    ErrorCode::TimeLimited,
                    "北京时间0点至8点不能发红包 (no sending between 00:00 and 08:00 Beijing time)",
                ));
            }
            let per_minute = usize::try_from(limits.red_packet_per_minute).unwrap_or(usize::MAX);
            if inner.ledger.recent_count(quota, now, 60_000) >= per_minute {
                // Cash red packets name the per-minute count with their own
                // code (errors.md §1); WeCom red packets list only FREQ_LIMIT.
                let code = if quota == Quota::RedPacket {
                    ErrorCode::SecondOverLimited
                } else {
                    ErrorCode::FreqLimit
                };
                return Err(reject(
                    code,
                    "超过频率限制,请稍后再试 (too many red packets this minute)",
                ));
            }
            let user = inner.ledger.user_tally(quota, openid, today);
            if user.count >= limits.red_packet_user_daily_count {
                return Err(reject(
                    ErrorCode::SendNumLimit,
                    "该用户今日领取红包个数超过限制 (this user reached today's packet count)",
                ));
            }
            if user.fen.saturating_add(amount) > limits.red_packet_user_daily_fen {
                return Err(reject(
                    ErrorCode::RcvdAmountLimit,
                    "该用户今日领取金额超过限制 (this user reached today's amount)",
                ));
            }
            let merchant = inner.ledger.merchant_tally(quota, today);
            if merchant.fen.saturating_add(amount) > limits.red_packet_merchant_daily_fen {
                return Err(reject(
                    ErrorCode::SendAmountLimit,
                    "商户今日发放金额超过限制 (the merchant reached today's total)",
                ));
            }
        }
        Quota::PayEmployee | Quota::Transfer => {
            let (min, single_max, user_daily_fen, user_daily_count, merchant_daily) =
                if quota == Quota::PayEmployee {
                    (
                        limits.employee_min_fen,
                        limits.employee_single_max_fen,
                        limits.employee_user_daily_fen,
                        limits.employee_user_daily_count,
                        limits.employee_merchant_daily_fen,
                    )
                } else {
                    (
                        limits.transfer_min_fen,
                        limits.transfer_single_max_fen,
                        limits.transfer_user_daily_fen,
                        limits.transfer_user_daily_count,
                        limits.transfer_merchant_daily_fen,
                    )
                };
            if amount < min {
                return Err(reject(
                    ErrorCode::AmountLimit,
                    format!(
                        "付款金额不能小于最低限额{}元 (below the minimum)",
                        yuan(min)
                    ),
                ));
            }
            if amount > single_max {
                return Err(reject(
                    ErrorCode::AmountLimit,
                    format!(
                        "付款金额超出单笔限额{}元 (above the single-payment limit)",
                        yuan(single_max)
                    ),
                ));
            }
            if quota == Quota::Transfer {
                let per_second = usize::try_from(limits.transfer_per_second).unwrap_or(usize::MAX);
                if inner.ledger.recent_count(quota, now, 1_000) >= per_second {
                    return Err(reject(
                        ErrorCode::FreqLimit,
                        "超过频率限制,请稍后再试 (too many transfers this second)",
                    ));
                }
            }
            if limits.same_user_interval_secs > 0
                && inner
                    .ledger
                    .last_paid(quota, openid)
                    .is_some_and(|t| now < t.add_secs(secs(limits.same_user_interval_secs)))
            {
                return Err(reject(
                    ErrorCode::FreqLimit,
                    format!(
                        "同一用户付款间隔不能少于{}秒 (pay the same user at most once per {} s)",
                        limits.same_user_interval_secs, limits.same_user_interval_secs
                    ),
                ));
            }
            let user = inner.ledger.user_tally(quota, openid, today);
            if user.count >= user_daily_count {
                return Err(reject(
                    ErrorCode::SendNumLimit,
                    "该用户今日付款次数超过限制 (this user reached today's payment count)",
                ));
            }
            if user.fen.saturating_add(amount) > user_daily_fen {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    "已达到付款给此用户额度上限 (this user reached today's amount)",
                ));
            }
            let merchant = inner.ledger.merchant_tally(quota, today);
            if merchant.fen.saturating_add(amount) > merchant_daily {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    "已达到今日商户付款额度上限 (the merchant reached today's total)",
                ));
            }
        }
    }
    if inner.ledger.balance_fen() < amount {
        return Err(reject(
            ErrorCode::NotEnough,
            "帐号余额不足，请到商户平台充值后再重试 (balance insufficient)",
        ));
    }
    Ok(())
}

fn query(
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
fn receivers(p: &Payment, at: Timestamp) -> Vec<Vec<(String, String)>> {
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
