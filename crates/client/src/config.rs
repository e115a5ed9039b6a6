//! [`ClientBuilder`]: merchant settings, secrets, transport, timeouts, retries, rate limits.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hongbao_proto::Merchant;
use hongbao_sign::{ApiKey, Signer, WorkwxSecret, WorkwxSigner};
use hongbao_transport::Transport;
#[cfg(feature = "reqwest")]
use hongbao_transport::{ClientIdentity, ReqwestTransport};

use crate::client::{Client, Inner};
use crate::error::ConfigError;
use crate::locks::BillLocks;
use crate::rate::{LocalRateLimiter, RateLimiter, RateLimits};
use crate::retry::RetryPolicy;

/// The production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// How long to wait for the network.
///
/// `connect` only applies to the built-in transport. `request` bounds each
/// attempt (connect, send, wait, read the reply): the built-in transport is
/// built with it, and the client additionally stops waiting for any transport
/// (including a custom one) 1 s after it; an attempt cut short this way is an
/// unknown outcome, never a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// TCP connect + TLS handshake (built-in transport only). Default 5 s.
    pub connect: Duration,
    /// One whole attempt. Default 30 s.
    pub request: Duration,
}

impl Timeouts {
    /// Sets [`connect`](Self::connect).
    #[must_use]
    pub const fn with_connect(mut self, connect: Duration) -> Self {
        self.connect = connect;
        self
    }

    /// Sets [`request`](Self::request).
    #[must_use]
    pub const fn with_request(mut self, request: Duration) -> Self {
        self.request = request;
        self
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

/// Builds a [`Client`]. Obtain one with [`Client::builder`].
///
/// Required: [`mch_id`](Self::mch_id), [`appid`](Self::appid),
/// [`api_key`](Self::api_key), and either [`identity`](Self::identity) (the
/// merchant API certificate; feature `reqwest`) or a custom
/// [`transport`](Self::transport). WeCom endpoints also need
/// [`workwx_secret`](Self::workwx_secret) or
/// [`workwx_secret_for_agent`](Self::workwx_secret_for_agent).
///
/// `Debug` shows which secrets are set, never their values.
#[must_use]
pub struct ClientBuilder {
    mch_id: Option<String>,
    appid: Option<String>,
    api_key: Option<ApiKey>,
    workwx_secret: Option<WorkwxSecret>,
    agent_secrets: BTreeMap<String, WorkwxSecret>,
    #[cfg(feature = "reqwest")]
    identity: Option<ClientIdentity>,
    #[cfg(feature = "reqwest")]
    extra_ca_pem: Vec<Vec<u8>>,
    #[cfg(feature = "reqwest")]
    proxy: Option<String>,
    base_url: String,
    transport: Option<Arc<dyn Transport>>,
    timeouts: Option<Timeouts>,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ClientBuilder");
        s.field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("api_key", &set(self.api_key.is_some()))
            .field("workwx_secret", &set(self.workwx_secret.is_some()))
            .field(
                "workwx_secret_agents",
                &self.agent_secrets.keys().collect::<Vec<_>>(),
            );
        #[cfg(feature = "reqwest")]
        s.field("identity", &self.identity)
            .field("extra_ca_certificates", &self.extra_ca_pem.len())
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"));
        s.field("base_url", &self.base_url)
            .field("transport", &self.transport)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("rate_limits", &self.rate_limits)
            .field("rate_limiter", &self.rate_limiter)
            .finish()
    }
}

fn set(is_set: bool) -> &'static str {
    if is_set { "<redacted>" } else { "<unset>" }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            mch_id: None,
            appid: None,
            api_key: None,
            workwx_secret: None,
            agent_secrets: BTreeMap::new(),
            #[cfg(feature = "reqwest")]
            identity: None,
            #[cfg(feature = "reqwest")]
            extra_ca_pem: Vec::new(),
            #[cfg(feature = "reqwest")]
            proxy: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            transport: None,
            timeouts: None,
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            rate_limiter: None,
        }
    }
}

impl ClientBuilder {
    /// The merchant id (`mch_id` / `mchid`). Required.
    pub fn mch_id(mut self, mch_id: impl Into<String>) -> Self {
        self.mch_id = Some(mch_id.into());
        self
    }

    /// The app id bound to the merchant (`wxappid` / `appid` / `mch_appid`;
    /// the corp id for WeCom). Required.
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self
    }

    /// The merchant API key (v2) used for `sign` and to verify reply signatures. Required.
    pub fn api_key(mut self, api_key: ApiKey) -> Self {
        self.api_key = Some(api_key);
        self
    }

    /// The default WeCom app secret for `workwx_sign` (WeCom red packets and
    /// pay to employee), used when a request names no agent id or one without
    /// its own secret.
    pub fn workwx_secret(mut self, secret: WorkwxSecret) -> Self {
        self.workwx_secret = Some(secret);
        self
    }

    /// The WeCom app secret of the app with this `agentid`, used for requests
    /// that name that agent id.
    pub fn workwx_secret_for_agent(
        mut self,
        agentid: impl Into<String>,
        secret: WorkwxSecret,
    ) -> Self {
        self.agent_secrets.insert(agentid.into(), secret);
        self
    }

    /// The merchant API certificate (mutual TLS) for the built-in
    /// `ReqwestTransport`. Load it with `ClientIdentity::from_pem_files` or
    /// `ClientIdentity::from_pkcs12_file` (the password is the merchant id).
    #[cfg(feature = "reqwest")]
    pub fn identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// An extra trusted root CA (PEM) for the built-in transport, in addition
    /// to the bundled web roots: for a local sandbox. Server certificates are
    /// always verified.
    #[cfg(feature = "reqwest")]
    pub fn extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem.push(pem.into());
        self
    }

    /// An HTTP(S) proxy URL for the built-in transport.
    #[cfg(feature = "reqwest")]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// The base URL the endpoint paths are appended to (default
    /// [`DEFAULT_BASE_URL`]). Must start with `https://`; a trailing `/` is removed.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Use this transport instead of building a `ReqwestTransport` (a custom
    /// transport, a `ReqwestTransport` you configured yourself, or a
    /// `MockTransport` in tests). Cannot be combined with `identity`,
    /// `extra_ca_pem` or `proxy`. An `Arc` of a transport is a transport
    /// too; [`transport_arc`](Self::transport_arc) takes a shared one as is.
    pub fn transport(self, transport: impl Transport + 'static) -> Self {
        self.transport_arc(Arc::new(transport))
    }

    /// [`transport`](Self::transport) for a transport already shared as an
    /// `Arc<dyn Transport>` (no extra indirection).
    pub fn transport_arc(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Connect and per-attempt timeouts (see [`Timeouts`]).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// The automatic retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The limits of the built-in [`LocalRateLimiter`] (default
    /// [`RateLimits::default`]: 1,800 sends/minute, 15 s per employee).
    /// Ignored when [`rate_limiter`](Self::rate_limiter) is given.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// A custom rate limiter (for example one shared between processes).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, ConfigError> {
        let mch_id = self
            .mch_id
            .ok_or(ConfigError::Missing { field: "mch_id" })?;
        check_id("mch_id", &mch_id, 32)?;
        let appid = self.appid.ok_or(ConfigError::Missing { field: "appid" })?;
        check_id("appid", &appid, 128)?;
        let api_key = self
            .api_key
            .ok_or(ConfigError::Missing { field: "api_key" })?;
        for agentid in self.agent_secrets.keys() {
            if agentid.is_empty() || !agentid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::Invalid {
                    field: "workwx_secret_for_agent",
                    reason: format!("agent id {agentid:?} must be a non-empty decimal number"),
                });
            }
        }
        let base_url = normalize_base_url(&self.base_url)?;
        let timeouts = self.timeouts.unwrap_or_default();
        if timeouts.request.is_zero() || timeouts.connect.is_zero() {
            return Err(ConfigError::Invalid {
                field: "timeouts",
                reason: "timeouts must be greater than zero".to_owned(),
            });
        }

        let transport: Arc<dyn Transport> = match self.transport {
            Some(transport) => {
                #[cfg(feature = "reqwest")]
                {
                    if self.identity.is_some() {
                        return Err(ConfigError::TransportConflict {
                            setting: "identity",
                        });
                    }
                    if !self.extra_ca_pem.is_empty() {
                        return Err(ConfigError::TransportConflict {
                            setting: "extra_ca_pem",
                        });
                    }
                    if self.proxy.is_some() {
                        return Err(ConfigError::TransportConflict { setting: "proxy" });
                    }
                }
                transport
            }
            None => {
                #[cfg(feature = "reqwest")]
                {
                    let identity = self.identity.ok_or(ConfigError::NoTransport)?;
                    let mut builder = ReqwestTransport::builder()
                        .identity(identity)
                        .connect_timeout(timeouts.connect)
                        .timeout(timeouts.request);
                    for pem in self.extra_ca_pem {
                        builder = builder.add_root_certificate_pem(pem);
                    }
                    if let Some(proxy) = self.proxy {
                        builder = builder.proxy(proxy);
                    }
                    Arc::new(builder.build().map_err(ConfigError::Transport)?)
                }
                #[cfg(not(feature = "reqwest"))]
                {
                    return Err(ConfigError::NoTransport);
                }
            }
        };

        let rate_limiter = self
            .rate_limiter
            .unwrap_or_else(|| Arc::new(LocalRateLimiter::new(self.rate_limits)));

        Ok(Client::from_inner(Inner {
            merchant: Merchant::new(mch_id, appid),
            signer: Signer::new(api_key),
            workwx_default: self.workwx_secret.map(WorkwxSigner::new),
            workwx_agents: self
                .agent_secrets
                .into_iter()
                .map(|(agent, secret)| (agent, WorkwxSigner::new(secret)))
                .collect(),
            base_url,
            transport,
            attempt_timeout: timeouts.request.saturating_add(Duration::from_secs(1)),
            retry: self.retry,
            rate_limiter,
            bills: BillLocks::default(),
        }))
    }
}

fn check_id(field: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::Missing { field });
    }
    if value.chars().count() > max || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ConfigError::Invalid {
            field,
            reason: format!("{value:?} must be at most {max} ASCII letters and digits"),
        });
    }
    Ok(())
}

fn normalize_base_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    let host = trimmed.strip_prefix("https://").unwrap_or("");
    if host.is_empty()
        || url
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(ConfigError::Invalid {
            field: "base_url",
            reason: format!("{url:?} must be an https:// URL without query or fragment"),
        });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert_eq!(
            normalize_base_url("https://api.mch.weixin.qq.com/")
                .ok()
                .as_deref(),
            Some("https://api.mch.weixin.qq.com")
        );
        assert_eq!(
            normalize_base_url("https://127.0.0.1:8443/sandboxnew")
                .ok()
                .as_deref(),
            Some("https://127.0.0.1:8443/sandboxnew")
        );
        for bad in [
            "http://api.mch.weixin.qq.com",
            "https://",
            "api.mch.weixin.qq.com",
            "https://a b",
            "https://x/?q",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_rules() {
        assert!(check_id("mch_id", "1900000109", 32).is_ok());
        assert!(matches!(
            check_id("mch_id", "", 32),
            Err(ConfigError::Missing { field: "mch_id" })
        ));
        assert!(check_id("mch_id", "19 00", 32).is_err());
        assert!(check_id("mch_id", &"1".repeat(33), 32).is_err());
    }
}
