//! `--notify URL`: the summary of a batch run POSTed as JSON to a webhook,
//! in the shape of a WeCom group bot (企业微信群机器人):
//! `{"msgtype":"markdown","markdown":{"content":"…"}}`.
//!
//! A webhook failure is a warning: it never changes the batch's outcome
//! or exit code. The URL is masked in every message (a WeCom bot URL
//! carries its credential in the `key=` query parameter).

use crate::i18n;
use hongbao_ledger::{PayoutState, Summary};
use std::time::Duration;

/// The environment variable naming the webhook (under `--notify`, over the
/// config's `notify_url`).
pub const NOTIFY_URL_ENV: &str = "HONGBAO_NOTIFY_URL";

/// How long the webhook may take (connect, send, reply).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What a run's notice says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunNotice {
    /// The batch.
    pub batch: String,
    /// The server paid through (as recorded in the ledger), if known.
    pub server: Option<String>,
    /// Paid through a sandbox: no real money moved.
    pub sandbox: bool,
    /// `--dry-run`: nothing was sent.
    pub dry_run: bool,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Stopped by itself (every request refused for one reason): why.
    pub halted: Option<String>,
    /// Invalid rows left out by `--skip-invalid`.
    pub skipped_rows: u64,
    /// The batch's summary at the end of the run.
    pub summary: Summary,
}

fn yuan(fen: u64) -> String {
    hongbao_proto::Amount::from_fen(fen).to_string()
}

fn line(id: &str, (rows, fen): (u64, u64)) -> String {
    i18n::text_str(
        id,
        &[("rows", crate::human::count(rows)), ("total", yuan(fen))],
    )
}

/// The markdown content of the notice, in the current language.
pub fn markdown(notice: &RunNotice) -> String {
    let title = if notice.sandbox {
        "notify-title-sandbox"
    } else if notice.dry_run {
        "notify-title-dry-run"
    } else {
        "notify-title"
    };
    let mut lines = vec![i18n::text_str(title, &[("batch", notice.batch.clone())])];
    if notice.sandbox && notice.dry_run {
        lines.push(i18n::text("dry-run"));
    }
    let summary = &notice.summary;
    let get = |state| summary.get(state);
    let sum = |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1);
    // Money that reached WeChat's side: paid, and red packets opened.
    lines.push(line(
        "notify-paid",
        sum(get(PayoutState::Paid), get(PayoutState::Received)),
    ));
    lines.push(line("notify-not-paid", get(PayoutState::NotPaid)));
    let unknown = sum(get(PayoutState::Unknown), get(PayoutState::Sending));
    lines.push(line("notify-unknown", unknown));
    let conflicts = get(PayoutState::Conflict);
    lines.push(line("notify-conflict", conflicts));
    for (state, id) in [
        (PayoutState::Refunded, "notify-refunded"),
        (PayoutState::Planned, "notify-planned"),
    ] {
        if get(state).0 > 0 {
            lines.push(line(id, get(state)));
        }
    }
    lines.push(line("notify-skipped", (notice.skipped_rows, 0)));
    if notice.interrupted {
        lines.push(i18n::text("notify-interrupted"));
    }
    if let Some(why) = &notice.halted {
        lines.push(i18n::text_str("notify-halted", &[("why", why.clone())]));
    }
    if let Some(server) = &notice.server {
        lines.push(i18n::text_str("notify-server", &[("id", server.clone())]));
    }
    // The title stands alone; the figures are quoted lines (`> `), which
    // WeCom shows as a grey block.
    let mut content = lines.remove(0);
    for l in lines {
        content.push_str("\n> ");
        content.push_str(&l);
    }
    content
}

/// The JSON body POSTed to the webhook (WeCom group-bot shape).
pub fn payload(notice: &RunNotice) -> serde_json::Value {
    serde_json::json!({
        "msgtype": "markdown",
        "markdown": { "content": markdown(notice) },
    })
}

/// The URL with every query value and any password replaced by `***`:
/// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***`.
pub fn mask_url(url: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, _)) => (base, "#***"),
        None => (url, ""),
    };
    let (base, query) = match base.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (base, None),
    };
    // `scheme://user:password@host…`: the password goes.
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => {
                    let user = user.split_once(':').map_or(user, |(name, _)| name);
                    format!("{user}:***@{host}")
                }
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    let query = query.map(|query| {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                None => pair.to_owned(),
            })
            .collect();
        format!("?{}", masked.join("&"))
    });
    format!("{base}{}{fragment}", query.unwrap_or_default())
}

/// Why a webhook was not notified. The text never holds the URL's query
/// (nor anything else of the URL but its masked form).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The URL is not an `http://` or `https://` URL.
    #[error("not an http(s) URL")]
    BadUrl,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// TLS could not be configured.
    #[error("cannot configure TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// No reply (connection refused, timeout, TLS…).
    #[error("{0}")]
    Send(#[source] reqwest::Error),
    /// The webhook answered with an HTTP error status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The webhook answered `{"errcode":N,"errmsg":"…"}` with N ≠ 0 (WeCom).
    #[error("errcode {code}: {message}")]
    Refused {
        /// `errcode`.
        code: i64,
        /// `errmsg`.
        message: String,
    },
}

fn tls_config() -> Result<rustls::ClientConfig, NotifyError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(NotifyError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// POSTs `body` as JSON to `url` (within `timeout`). A reply `2xx` whose
/// JSON has a non-zero `errcode` (WeCom's way of refusing) is an error.
pub async fn post(
    url: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(), NotifyError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(NotifyError::BadUrl);
    }
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        // reqwest's errors carry the URL: strip it.
        .map_err(|e| NotifyError::Client(e.without_url()))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| NotifyError::Send(e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(NotifyError::Status(status.as_u16()));
    }
    let reply = response.bytes().await.unwrap_or_default();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&reply)
        && let Some(code) = value.get("errcode").and_then(serde_json::Value::as_i64)
        && code != 0
    {
        let message = value
            .get("errmsg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        return Err(NotifyError::Refused { code, message });
    }
    Ok(())
}

/// The error's text with its causes, without any URL.
fn describe(error: &NotifyError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    // The first source is the error itself for `Send` / `Client`.
    let mut seen = text.clone();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !seen.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
            seen.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Sends the notice; a failure is a warning on stderr (the URL masked),
/// never an error of the command.
pub async fn send(url: &str, notice: &RunNotice) {
    let masked = mask_url(url);
    match post(url, &payload(notice), TIMEOUT).await {
        Ok(()) => crate::log::emit(
            crate::log::Level::Info,
            "notify.sent",
            &i18n::text_str("notify-sent", &[("url", masked.clone())]),
            &[("url", masked.into())],
        ),
        Err(e) => {
            let error = describe(&e);
            crate::log::emit(
                crate::log::Level::Warn,
                "notify.failed",
                &i18n::text_str(
                    "notify-failed",
                    &[("url", masked.clone()), ("error", error.clone())],
                ),
                &[("url", masked.into()), ("error", error.into())],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_a_wecom_url_is_masked() {
        assert_eq!(
            mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(
            mask_url("http://ops:s3cret@127.0.0.1:9/hook?a=1&token=x&flag#frag"),
            "http://ops:***@127.0.0.1:9/hook?a=***&token=***&flag#***"
        );
        assert_eq!(mask_url("http://host/path"), "http://host/path");
    }

    #[test]
    fn the_notice_has_the_figures_and_marks_a_sandbox() {
        let mut summary = Summary::empty();
        for (state, count, fen) in &mut summary.by_state {
            match state {
                PayoutState::Paid => (*count, *fen) = (1_234, 123_400),
                PayoutState::Unknown => (*count, *fen) = (2, 300),
                _ => {}
            }
        }
        let notice = RunNotice {
            batch: "march".into(),
            sandbox: true,
            skipped_rows: 1,
            summary,
            ..RunNotice::default()
        };
        let content = markdown(&notice);
        assert!(
            content.starts_with("**[SANDBOX — no real money moved]**"),
            "{content}"
        );
        assert!(content.contains("paid: 1,234 (1234.00 yuan)"), "{content}");
        assert!(content.contains("unknown: 2 (3.00 yuan)"), "{content}");
        assert!(content.contains("invalid rows skipped: 1"), "{content}");
        let body = payload(&notice);
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["content"], content.as_str());
        let real = markdown(&RunNotice {
            sandbox: false,
            ..notice
        });
        assert!(!real.contains("SANDBOX"), "{real}");
    }
}
