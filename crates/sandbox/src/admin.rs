//! The admin API: JSON under `/_sandbox/` on the same listener (the table
//! is in the crate docs).

use hongbao_proto::Amount;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::Timestamp;
use crate::faults::FaultConfig;
use crate::ledger::PaymentView;
use crate::server::{ReadBody, read_body, response};
use crate::state::Shared;

const ADMIN_BODY_LIMIT: usize = 64 * 1024;
/// The largest clock step the admin API accepts: 100 years.
const MAX_CLOCK_STEP_SECS: u64 = 100 * 366 * 86_400;

/// Every payment in the ledger, with the sandbox's time and balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerSnapshot {
    /// The sandbox's current time, Beijing time (RFC 3339).
    pub now: String,
    /// The merchant's available balance in fen.
    pub balance_fen: u64,
    /// Every payment and failed bill, in the order they were first accepted.
    pub payments: Vec<PaymentView>,
}

/// A partial fault update: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultPatch {
    systemerror_before_commit: Option<f64>,
    systemerror_after_commit: Option<f64>,
    processing_after_commit: Option<f64>,
    delay_after_commit: Option<f64>,
    drop_after_commit: Option<f64>,
    malformed_reply: Option<f64>,
    unknown_fields: Option<f64>,
    unknown_error_code: Option<f64>,
    delay_ms: Option<u64>,
    seed: Option<u64>,
}

impl FaultPatch {
    fn apply(&self, mut config: FaultConfig) -> FaultConfig {
        let pairs = [
            (
                &mut config.systemerror_before_commit,
                self.systemerror_before_commit,
            ),
            (
                &mut config.systemerror_after_commit,
                self.systemerror_after_commit,
            ),
            (
                &mut config.processing_after_commit,
                self.processing_after_commit,
            ),
            (&mut config.delay_after_commit, self.delay_after_commit),
            (&mut config.drop_after_commit, self.drop_after_commit),
            (&mut config.malformed_reply, self.malformed_reply),
            (&mut config.unknown_fields, self.unknown_fields),
            (&mut config.unknown_error_code, self.unknown_error_code),
        ];
        for (slot, value) in pairs {
            if let Some(v) = value {
                *slot = v;
            }
        }
        if let Some(ms) = self.delay_ms {
            config.delay_ms = ms;
        }
        config
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_secs: Option<i64>,
    set: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceRequest {
    balance_fen: Option<u64>,
    add_fen: Option<u64>,
}

type Reply = hyper::Response<http_body_util::Full<bytes::Bytes>>;

fn json_reply(status: StatusCode, value: &serde_json::Value) -> Reply {
    response(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json_reply(status, &json!({ "error": message.into() }))
}

impl Shared {
    pub(crate) fn snapshot(&self) -> LedgerSnapshot {
        let inner = self.lock();
        LedgerSnapshot {
            now: self.clock.now().rfc3339_beijing(),
            balance_fen: inner.ledger.balance_fen(),
            payments: inner
                .ledger
                .payments()
                .iter()
                .map(PaymentView::from)
                .collect(),
        }
    }

    pub(crate) fn faults(&self) -> (FaultConfig, u64) {
        let inner = self.lock();
        (inner.faults.config.clone(), inner.faults.seed())
    }

    /// Replaces the fault configuration (validated first); `seed` restarts
    /// the generator.
    pub(crate) fn set_faults(
        &self,
        config: FaultConfig,
        seed: Option<u64>,
    ) -> Result<(), crate::faults::FaultConfigError> {
        config.validate()?;
        let mut inner = self.lock();
        inner.faults.config = config;
        if let Some(seed) = seed {
            inner.faults.reseed(seed);
        }
        Ok(())
    }

    pub(crate) fn set_balance_fen(&self, fen: u64) {
        self.lock().ledger.set_balance_fen(fen);
    }

    pub(crate) fn add_balance_fen(&self, fen: u64) -> u64 {
        let mut inner = self.lock();
        let balance = inner.ledger.balance_fen().saturating_add(fen);
        inner.ledger.set_balance_fen(balance);
        balance
    }
}

fn faults_json(shared: &Shared) -> serde_json::Value {
    let (config, seed) = shared.faults();
    json!({ "faults": config, "seed": seed })
}

async fn json_body<T: for<'de> Deserialize<'de>>(req: Request<Incoming>) -> Result<T, Reply> {
    let bytes = match read_body(req.into_body(), ADMIN_BODY_LIMIT).await {
        ReadBody::Complete(bytes) => bytes,
        ReadBody::TooLarge => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {ADMIN_BODY_LIMIT} bytes"),
            ));
        }
        ReadBody::Failed => {
            return Err(error(StatusCode::BAD_REQUEST, "the body could not be read"));
        }
    };
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// Handles one admin request.
pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let method = req.method().clone();
    let name = path.strip_prefix("/_sandbox/").unwrap_or("");
    let allowed: &[Method] = match name {
        "health" | "ledger" | "requests" => &[Method::GET],
        "faults" | "clock" => &[Method::GET, Method::POST],
        "balance" => &[Method::GET, Method::POST],
        "reset" => &[Method::POST],
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "no admin endpoint {path:?}; known: /_sandbox/health, /_sandbox/ledger, /_sandbox/requests, /_sandbox/faults, /_sandbox/clock, /_sandbox/balance, /_sandbox/reset"
                ),
            );
        }
    };
    if !allowed.contains(&method) {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path}"),
        );
    }
    let now = || shared.clock.now().rfc3339_beijing();
    match (name, method == Method::POST) {
        ("health", _) => json_reply(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "now": now(),
                "mch_id": shared.settings.mch_id,
                "appid": shared.settings.appid,
            }),
        ),
        ("ledger", _) => match serde_json::to_value(shared.snapshot()) {
            Ok(value) => json_reply(StatusCode::OK, &value),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        ("requests", _) => json_reply(StatusCode::OK, &json!({ "requests": shared.requests() })),
        ("faults", false) => json_reply(StatusCode::OK, &faults_json(shared)),
        ("faults", true) => {
            let patch: FaultPatch = match json_body(req).await {
                Ok(p) => p,
                Err(reply) => return reply,
            };
            let (current, _) = shared.faults();
            match shared.set_faults(patch.apply(current), patch.seed) {
                Ok(()) => json_reply(StatusCode::OK, &faults_json(shared)),
                Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        ("clock", false) => json_reply(StatusCode::OK, &json!({ "now": now() })),
        ("clock", true) => {
            let request: ClockRequest = match json_body(req).await {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            match (request.advance_secs, request.set) {
                (Some(secs), None) if secs.unsigned_abs() <= MAX_CLOCK_STEP_SECS => {
                    shared.clock.advance_secs(secs);
                }
                (Some(_), None) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("advance_secs must be within ±{MAX_CLOCK_STEP_SECS} (100 years)"),
                    );
                }
                (None, Some(text)) => match Timestamp::parse_rfc3339(&text) {
                    Ok(at) => shared.clock.set(at),
                    Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
                },
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        r#"give exactly one of {"advance_secs":N} or {"set":"2024-02-10T20:00:00+08:00"}"#,
                    );
                }
            }
            json_reply(StatusCode::OK, &json!({ "now": now() }))
        }
        ("balance", false) => {
            json_reply(StatusCode::OK, &balance_json(shared.snapshot().balance_fen))
        }
        ("balance", true) => {
            let request: BalanceRequest = match json_body(req).await {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            let balance = match (request.balance_fen, request.add_fen) {
                (Some(fen), None) => {
                    shared.set_balance_fen(fen);
                    fen
                }
                (None, Some(fen)) => shared.add_balance_fen(fen),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        r#"give exactly one of {"balance_fen":N} or {"add_fen":N}"#,
                    );
                }
            };
            json_reply(StatusCode::OK, &balance_json(balance))
        }
        ("reset", _) => {
            shared.reset();
            json_reply(StatusCode::OK, &json!({ "status": "reset" }))
        }
        _ => error(StatusCode::NOT_FOUND, format!("no admin endpoint {path:?}")),
    }
}

/// The balance as the admin API shows it: fen, and yuan as proto's
/// [`Amount`] writes it (`1234.56`).
fn balance_json(fen: u64) -> serde_json::Value {
    json!({ "balance_fen": fen, "balance_yuan": Amount::from_fen(fen).to_string() })
}
