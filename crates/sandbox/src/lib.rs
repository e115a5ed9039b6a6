//! # hongbao-sandbox
//!
//! A faithful local emulator of the WeChat Pay server for the API v2
//! "marketing transfers" family: cash red packets (normal, group,
//! mini-program), WeCom red packets, WeCom pay to employee, transfers to
//! change, their four queries, and the sandbox-key call. WeChat's own
//! sandbox does not serve these endpoints; this one does, on your machine,
//! with no merchant account and no money.
//!
//! ## What a client sees
//!
//! * **Mutual TLS** with a private CA and a merchant client certificate
//!   (PEM and PKCS#12 with PBES2/AES-256, password = `mch_id`) generated
//!   with rcgen at start, or reloaded from a certificate directory. A client
//!   certificate from another CA fails the handshake; a request without one
//!   gets `CA_ERROR` (the sandbox-key call and the admin API need none).
//!   [`SandboxBuilder::plain_http`] serves plain HTTP instead.
//! * **Checks in WeChat's order, with WeChat's codes**:
//!   1. client certificate → `CA_ERROR`;
//!   2. not `POST` → `HTTP_METHOD_ERROR`;
//!   3. body over the cap → HTTP 413 with `XML_ERROR`; empty, malformed, a
//!      DTD or not UTF-8 → `XML_ERROR`;
//!   4. `sign` missing or wrong, or `sign_type` sent (this family is
//!      MD5-only) → `SIGN_ERROR`;
//!   5. `workwx_sign` wrong → `WORKWX_SIGN_ERROR` (pay to employee) or
//!      `SIGN_ERROR` "企业微信签名失败" (WeCom red packets);
//!   6. missing or invalid fields (malformed bill numbers included) →
//!      `PARAM_ERROR`, with an `err_code_des` naming every problem
//!      (hongbao-proto's validation);
//!   7. another merchant id → `PARAM_ERROR` (`NO_COMPETENCE` on the WeCom
//!      endpoints: red packets and pay to employee); an app id not bound to the
//!      merchant → `PARAM_ERROR` (`WORKWX_MCHID_ERROR` on pay to employee);
//!   8. sends: idempotency, then the business rules, then the ledger;
//!      queries: the ledger (`NOT_FOUND` for an unknown bill number or one
//!      older than [`Limits::query_window_days`]).
//!
//!   Steps 1–5 answer `return_code=FAIL` with `err_code`; later ones
//!   `return_code=SUCCESS`, `result_code=FAIL`, `err_code`.
//! * **Business rules**, each configurable ([`Limits`]): amount range and
//!   `scene_id`, required below 1 yuan as above 200 (`MONEY_LIMIT`),
//!   per-user daily count and amount
//!   (`SENDNUM_LIMIT`, `RCVDAMOUNT_LIMIT`), merchant daily total
//!   (`SENDAMOUNT_LIMIT`), balance (`NOTENOUGH`), 1 800 packets a minute
//!   (`SECOND_OVER_LIMITED`; WeCom red packets have their own quota and
//!   answer `FREQ_LIMIT`), the 00:00–08:00 window (`TIME_LIMITED`, off by
//!   default), pay-to-employee and transfer minimums, caps and the
//!   15-second same-user spacing. Daily counters are keyed by the Beijing date.
//! * **Idempotency by bill number** (per product line): the same number with
//!   the same parameters returns the original result, same ids, no second
//!   payment (the nonce and the caller's IP may change); another openid gets
//!   `FATAL_ERROR`, another amount `PARAM_ERROR` (`FATAL_ERROR` on pay to
//!   employee), any other changed parameter `FATAL_ERROR`. A number that failed definitively (payee set
//!   with [`SandboxBuilder::failing_openid`]) keeps failing with the same
//!   code and queries report `FAILED`; a number refused by a limit can be
//!   retried once the limit allows.
//! * **Replies** with the documented fields: `send_listid` / `payment_no` /
//!   `detail_id`, `nonce_str` on every pay-to-employee reply (failures
//!   too), Beijing-time timestamps, `sign` on the two WeCom red
//!   packet endpoints (with the key the request was signed with).
//! * **A ledger** on a **controllable clock** ([`Clock`], [`ManualClock`],
//!   [`SandboxHandle::advance_clock`]): red packets go `SENT` → `RECEIVED`
//!   after a configurable delay, or `RFUND_ING` → `REFUND` (money back on
//!   the balance) when unopened for 24 h; payments accepted with
//!   `PROCESSING` stay `SENDING` / `PROCESSING` for a while ([`Progression`]).
//! * **Seeded, reproducible faults** ([`FaultKind`], [`FaultConfig`]) for
//!   testing a client's money safety. They apply to the six send endpoints,
//!   after the protocol checks; at most one per request:
//!   `systemerror_before_commit` (nothing paid), `systemerror_after_commit`
//!   (paid, the client told `SYSTEMERROR`), `processing_after_commit`,
//!   `delay_after_commit` (the success reply after [`FaultConfig::delay_ms`]),
//!   `drop_after_commit` (connection closed, no reply), `malformed_reply`
//!   (truncated XML), `unknown_fields` (extra elements, still signed),
//!   `unknown_error_code` (`result_code=FAIL`, `err_code=268458547`). Same
//!   seed and same requests → same faults, on any machine.
//!
//! ## Admin API
//!
//! JSON under `/_sandbox/` on the same listener ([`SandboxHandle::admin_url`]):
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /_sandbox/health` | | `{"status":"ok","now":…,"mch_id":…,"appid":…}` |
//! | `GET /_sandbox/ledger` | | [`LedgerSnapshot`]: every payment (endpoint, bill, openid, amount in fen, status, times requested, created, updated, ids) |
//! | `GET /_sandbox/requests` | | `{"requests":{"sendredpack":N,"gethbinfo":M,…}}`: requests received per endpoint, whatever their answer (refusals, faults and queries included) |
//! | `GET /_sandbox/faults` | | `{"faults":{…},"seed":N}` |
//! | `POST /_sandbox/faults` | any subset of [`FaultConfig`]'s fields, plus `"seed"` to restart the generator | as `GET` |
//! | `GET /_sandbox/clock` | | `{"now":"2024-02-10T10:00:00+08:00"}` |
//! | `POST /_sandbox/clock` | `{"advance_secs":N}` or `{"set":"2024-02-10T20:00:00+08:00"}` | `{"now":…}` |
//! | `GET /_sandbox/balance` | | `{"balance_fen":N}` |
//! | `POST /_sandbox/balance` | `{"balance_fen":N}` or `{"add_fen":N}` | `{"balance_fen":N}` |
//! | `POST /_sandbox/reset` | | `{"status":"reset"}`: empty ledger, starting balance, faults and seed, no requests counted |
//!
//! Bad input gets a 400 with `{"error":"…"}`, an unknown path a 404, a wrong
//! method a 405.
//!
//! ## Binary
//!
//! `hongbao-sandbox --listen 127.0.0.1:8443 [--plain-http] --mch-id 10000098
//! --appid wx8888888888888888 --balance-yuan 100000 --seed N --cert-dir DIR
//! [--fault KIND=P]… [--per-minute N]` prints one JSON line
//! `{"url":…,"admin_url":…,"mch_id":…,"appid":…,"api_key_env":…,"ca_cert":…,"client_cert":…,"client_key":…,"client_p12":…,"temporary_cert_dir":…}`
//! (file paths) and a ready `hongbao.toml` snippet on stderr, and serves
//! until SIGINT/SIGTERM ([`SandboxArgs`], [`run_from_args`]). Without
//! `--cert-dir` the certificates go to a temporary directory removed on exit. The API key comes from `HONGBAO_API_KEY` or
//! `--api-key-file`, WeCom secrets from `HONGBAO_WORKWX_SECRET` and
//! `--workwx-secret-env AGENTID=ENVNAME`; without them the protocol
//! reference's test key and secret are used.
//!
//! ## Example
//!
//! ```
//! use hongbao_sandbox::{ManualClock, Sandbox};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = ManualClock::at_default_start();
//! let sandbox = Sandbox::builder()
//!     .plain_http(true)
//!     .clock(Arc::new(clock.clone()))
//!     .start()
//!     .await?;
//! assert!(sandbox.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(sandbox.mch_id(), "10000098");
//! assert!(sandbox.ca_cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//!
//! // Nothing paid yet; the whole balance is there.
//! let ledger = sandbox.ledger();
//! assert!(ledger.payments.is_empty());
//! assert_eq!(ledger.balance_fen, 10_000_000);
//! assert_eq!(ledger.now, "2024-02-10T10:00:00+08:00");
//!
//! sandbox.advance_clock(3_600);
//! assert_eq!(sandbox.ledger().now, "2024-02-10T11:00:00+08:00");
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
// Not a published API (being reworked to speak proto; its public structs are internal surface): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod admin;
mod cli;
mod clock;
mod error;
mod faults;
mod ledger;
mod limits;
mod server;
mod state;
mod tls;
mod wechat;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hongbao_sign::{ApiKey, Signer, WorkwxSecret, WorkwxSigner};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admin::LedgerSnapshot;
pub use cli::{SandboxArgs, run_from_args};
pub use clock::{
    BEIJING_OFFSET_SECS, BeijingDate, CivilTime, Clock, ManualClock, SandboxClock, SystemClock,
    TimeParseError, Timestamp,
};
pub use error::SandboxError;
pub use faults::{FaultConfig, FaultConfigError, FaultKind};
pub use ledger::{PaymentState, PaymentView};
pub use limits::{Limits, Progression};
pub use tls::{
    CA_CERT_FILE, CA_KEY_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE, CLIENT_P12_FILE, CertPaths,
};

use state::{Settings, Shared};

/// The merchant id the sandbox serves unless told otherwise.
pub const DEFAULT_MCH_ID: &str = "10000098";
/// The app id the sandbox serves unless told otherwise.
pub const DEFAULT_APPID: &str = "wx8888888888888888";
/// The API key of the protocol reference's test vectors, the default key.
pub const DEFAULT_API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
/// The WeCom app secret of the protocol reference's test vectors, the
/// default WeCom secret.
pub const DEFAULT_WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";
/// The merchant's starting balance unless told otherwise: 100 000 yuan.
pub const DEFAULT_BALANCE_FEN: u64 = 10_000_000;
/// The largest request body accepted unless told otherwise (64 KiB); larger
/// bodies get HTTP 413 with `XML_ERROR`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Entry point: [`Sandbox::builder`].
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with every default: merchant [`DEFAULT_MCH_ID`], app
    /// [`DEFAULT_APPID`], key [`DEFAULT_API_KEY`], WeCom secret
    /// [`DEFAULT_WORKWX_SECRET`], balance [`DEFAULT_BALANCE_FEN`], seed 0,
    /// published limits, no faults, the system clock, TLS on
    /// `127.0.0.1:0`, certificates in memory only.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }
}

/// Configures and starts a sandbox. See [`Sandbox::builder`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    mch_id: String,
    appid: String,
    api_key: Option<ApiKey>,
    workwx_secret: Option<WorkwxSecret>,
    no_default_workwx_secret: bool,
    workwx_by_agent: Vec<(String, WorkwxSecret)>,
    balance_fen: u64,
    seed: u64,
    limits: Limits,
    progression: Progression,
    faults: FaultConfig,
    clock: Option<Arc<dyn Clock>>,
    plain_http: bool,
    listen: SocketAddr,
    cert_dir: Option<PathBuf>,
    failing_openids: HashSet<String>,
    max_body_bytes: usize,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            mch_id: DEFAULT_MCH_ID.to_owned(),
            appid: DEFAULT_APPID.to_owned(),
            api_key: None,
            workwx_secret: None,
            no_default_workwx_secret: false,
            workwx_by_agent: Vec::new(),
            balance_fen: DEFAULT_BALANCE_FEN,
            seed: 0,
            limits: Limits::default(),
            progression: Progression::default(),
            faults: FaultConfig::none(),
            clock: None,
            plain_http: false,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            cert_dir: None,
            failing_openids: HashSet::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl SandboxBuilder {
    /// The merchant id served (requests naming another get `PARAM_ERROR`, or
    /// `NO_COMPETENCE` on the WeCom endpoints).
    #[must_use]
    pub fn mch_id(mut self, mch_id: impl Into<String>) -> Self {
        self.mch_id = mch_id.into();
        self
    }

    /// The app id bound to the merchant (others get `PARAM_ERROR`).
    #[must_use]
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = appid.into();
        self
    }

    /// The API key requests must be signed with.
    #[must_use]
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// The default WeCom app secret (`workwx_sign` of requests without an
    /// `agentid`, or with one that has no secret of its own).
    #[must_use]
    pub fn workwx_secret(mut self, secret: WorkwxSecret) -> Self {
        self.workwx_secret = Some(secret);
        self.no_default_workwx_secret = false;
        self
    }

    /// No default WeCom secret: only agents given with
    /// [`workwx_secret_for_agent`](Self::workwx_secret_for_agent) can sign.
    #[must_use]
    pub fn without_default_workwx_secret(mut self) -> Self {
        self.workwx_secret = None;
        self.no_default_workwx_secret = true;
        self
    }

    /// The WeCom app secret of the app `agentid`.
    #[must_use]
    pub fn workwx_secret_for_agent(
        mut self,
        agentid: impl Into<String>,
        secret: WorkwxSecret,
    ) -> Self {
        self.workwx_by_agent.push((agentid.into(), secret));
        self
    }

    /// The merchant's starting balance, in fen.
    #[must_use]
    pub fn balance_fen(mut self, fen: u64) -> Self {
        self.balance_fen = fen;
        self
    }

    /// The seed of the fault generator (same seed, same requests → same faults).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The business rules.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How red packets and in-progress payments move over time.
    #[must_use]
    pub fn progression(mut self, progression: Progression) -> Self {
        self.progression = progression;
        self
    }

    /// The starting fault configuration (validated by [`start`](Self::start)).
    #[must_use]
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// The clock (default: [`SystemClock`]). The sandbox adds an offset on
    /// top that the handle and the admin API can move.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Serve plain HTTP instead of TLS (for tests and for clients in other
    /// languages); the client-certificate check is then skipped.
    #[must_use]
    pub fn plain_http(mut self, plain: bool) -> Self {
        self.plain_http = plain;
        self
    }

    /// The listen address (default `127.0.0.1:0`, any free port).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Where to write `ca.pem`, `ca.key`, `client.pem`, `client.key` and
    /// `client.p12`; if the directory already holds the CA and client files
    /// they are reused, so clients can keep trusting the same CA.
    #[must_use]
    pub fn cert_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_dir = Some(dir.into());
        self
    }

    /// Payments to this openid fail definitively (`SEND_FAILED` for red
    /// packets, `V2_ACCOUNT_SIMPLE_BAN` for payouts); the bill number keeps
    /// failing and queries report `FAILED`.
    #[must_use]
    pub fn failing_openid(mut self, openid: impl Into<String>) -> Self {
        self.failing_openids.insert(openid.into());
        self
    }

    /// The largest request body accepted, in bytes.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    fn prepare(self) -> Result<Prepared, SandboxError> {
        let id_ok = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !id_ok(&self.mch_id, 32) {
            return Err(SandboxError::Config(format!(
                "mch_id {:?} must be 1–32 ASCII letters or digits",
                self.mch_id
            )));
        }
        if self.appid.is_empty()
            || self.appid.len() > 128
            || !self.appid.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(SandboxError::Config(format!(
                "appid {:?} must be 1–128 printable ASCII characters",
                self.appid
            )));
        }
        self.faults.validate()?;
        let api_key = match self.api_key {
            Some(key) => key,
            None => ApiKey::new(DEFAULT_API_KEY)
                .map_err(|e| SandboxError::Config(format!("default API key: {e}")))?,
        };
        let workwx_default = match (self.workwx_secret, self.no_default_workwx_secret) {
            (Some(secret), _) => Some(WorkwxSigner::new(secret)),
            (None, true) => None,
            (None, false) => Some(WorkwxSigner::new(
                WorkwxSecret::new(DEFAULT_WORKWX_SECRET)
                    .map_err(|e| SandboxError::Config(format!("default WeCom secret: {e}")))?,
            )),
        };
        let workwx_by_agent: HashMap<String, WorkwxSigner> = self
            .workwx_by_agent
            .into_iter()
            .map(|(agent, secret)| (agent, WorkwxSigner::new(secret)))
            .collect();
        let signer = Signer::new(api_key.clone());
        let sandbox_key = derive_sandbox_key(&signer, &self.mch_id)?;
        let settings = Settings {
            mch_id: self.mch_id,
            appid: self.appid,
            sandbox_signer: Signer::new(sandbox_key.clone()),
            sandbox_key,
            signer,
            api_key,
            workwx_default,
            workwx_by_agent,
            limits: self.limits,
            progression: self.progression,
            failing_openids: self.failing_openids,
            initial_balance_fen: self.balance_fen,
            initial_faults: self.faults,
            seed: self.seed,
            max_body_bytes: self.max_body_bytes,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(Prepared {
            settings,
            clock,
            plain_http: self.plain_http,
            listen: self.listen,
            cert_dir: self.cert_dir,
        })
    }

    /// Generates or loads the certificates, binds the listener and starts
    /// serving on the current tokio runtime.
    pub async fn start(self) -> Result<SandboxHandle, SandboxError> {
        let Prepared {
            settings,
            clock,
            plain_http,
            listen,
            cert_dir,
        } = self.prepare()?;
        let pki = tls::Pki::load_or_generate(cert_dir.as_deref(), &settings.mch_id)?;
        let acceptor = if plain_http {
            None
        } else {
            Some(tokio_rustls::TlsAcceptor::from(pki.server_config()?))
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: listen,
            source,
        })?;
        let host = if local_addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else if local_addr.is_ipv6() {
            format!("[{}]", local_addr.ip())
        } else {
            local_addr.ip().to_string()
        };
        let scheme = if plain_http { "http" } else { "https" };
        let url = format!("{scheme}://{host}:{}", local_addr.port());
        let clock = SandboxClock::new(clock);
        let shared = Arc::new(Shared::new(settings, clock));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            acceptor,
            Arc::clone(&shared),
            shutdown_rx,
        ));
        tracing::info!(%url, "hongbao-sandbox listening");
        Ok(SandboxHandle {
            admin_url: format!("{url}/_sandbox"),
            url,
            local_addr,
            cert_paths: cert_dir.as_deref().map(CertPaths::in_dir),
            pki,
            shared,
            shutdown: shutdown_tx,
            task,
        })
    }
}

/// The sandbox signing key `getsignkey` returns: 32 lowercase hex characters
/// derived from the API key and the merchant id (a keyed MD5), so it is
/// stable across runs and reveals nothing about the API key.
fn derive_sandbox_key(signer: &Signer, mch_id: &str) -> Result<ApiKey, SandboxError> {
    let derived = signer
        .sign_md5([("hongbao_sandbox_signkey", mch_id)])
        .map_err(|e| SandboxError::Config(format!("sandbox key: {e}")))?;
    ApiKey::new(derived.as_str().to_ascii_lowercase())
        .map_err(|e| SandboxError::Config(format!("sandbox key: {e}")))
}

/// A validated builder, ready to start.
struct Prepared {
    settings: Settings,
    clock: Arc<dyn Clock>,
    plain_http: bool,
    listen: SocketAddr,
    cert_dir: Option<PathBuf>,
}

/// A running sandbox. Dropping it stops the server; [`shutdown`](Self::shutdown)
/// stops it and waits for requests in flight (at most 5 s).
#[derive(Debug)]
pub struct SandboxHandle {
    url: String,
    admin_url: String,
    local_addr: SocketAddr,
    cert_paths: Option<CertPaths>,
    pki: tls::Pki,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SandboxHandle {
    /// The base URL: `https://127.0.0.1:PORT` (or `http://` with plain HTTP).
    /// Endpoint paths are appended to it, as to `https://api.mch.weixin.qq.com`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin API's base URL: `<url>/_sandbox`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The CA certificate (PEM) clients must trust for the server.
    pub fn ca_cert_pem(&self) -> &str {
        &self.pki.ca_cert_pem
    }

    /// The merchant client certificate (PEM).
    pub fn client_cert_pem(&self) -> &str {
        &self.pki.client_cert_pem
    }

    /// The merchant client private key (PKCS#8 PEM).
    pub fn client_key_pem(&self) -> &str {
        &self.pki.client_key_pem
    }

    /// The client certificate and key as PKCS#12 (PBES2/AES-256, HMAC-SHA256
    /// MAC), and its password: the merchant id, as WeChat's `apiclient_cert.p12`.
    pub fn client_p12(&self) -> (&[u8], &str) {
        (&self.pki.client_p12, &self.shared.settings.mch_id)
    }

    /// The certificate files, when a certificate directory was given.
    pub fn cert_paths(&self) -> Option<&CertPaths> {
        self.cert_paths.as_ref()
    }

    /// The merchant id served.
    pub fn mch_id(&self) -> &str {
        &self.shared.settings.mch_id
    }

    /// The app id bound to the merchant.
    pub fn appid(&self) -> &str {
        &self.shared.settings.appid
    }

    /// The API key requests must be signed with (for in-process clients).
    pub fn api_key(&self) -> &ApiKey {
        &self.shared.settings.api_key
    }

    /// The key `getsignkey` returns; requests signed with it are accepted too.
    pub fn sandbox_signkey(&self) -> &ApiKey {
        &self.shared.settings.sandbox_key
    }

    /// The sandbox's current time.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Moves the sandbox's time forward by `secs` seconds (back if negative);
    /// due status changes happen at the next request or read.
    pub fn advance_clock(&self, secs: i64) {
        self.shared.clock.advance_secs(secs);
    }

    /// Sets the sandbox's time.
    pub fn set_clock(&self, at: Timestamp) {
        self.shared.clock.set(at);
    }

    /// Replaces the fault configuration (the generator's position is kept).
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), FaultConfigError> {
        self.shared.set_faults(faults, None)
    }

    /// Restarts the fault generator from `seed`.
    pub fn reseed_faults(&self, seed: u64) {
        let (config, _) = self.shared.faults();
        // The current config is valid, so this cannot fail.
        let _ = self.shared.set_faults(config, Some(seed));
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.shared.faults().0
    }

    /// Every payment, the balance and the time.
    pub fn ledger(&self) -> LedgerSnapshot {
        self.shared.snapshot()
    }

    /// The requests received so far per endpoint name (`sendredpack`,
    /// `gethbinfo`, …), whatever their answer: refusals, faults and queries
    /// are counted too (the ledger only holds accepted payments).
    pub fn requests(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.requests()
    }

    /// Sets the merchant's balance, in fen.
    pub fn set_balance_fen(&self, fen: u64) {
        self.shared.set_balance_fen(fen);
    }

    /// Empties the ledger and restores the starting balance, faults and seed,
    /// and forgets the requests counted (the clock is left where it is).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting connections, lets requests in flight finish (at most
    /// 5 s) and waits for the server to stop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// The certificate directory, if one was given.
    pub fn cert_dir(&self) -> Option<&Path> {
        self.cert_paths.as_ref().and_then(|p| p.ca_cert.parent())
    }
}
