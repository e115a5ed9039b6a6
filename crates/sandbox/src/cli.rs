//! Command-line arguments (shared by the `hongbao-sandbox` binary and
//! `hongbao sandbox`) and the run loop that prints the start line and serves
//! until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hongbao_proto::Amount;
use hongbao_sign::{ApiKey, WorkwxSecret};

use crate::error::SandboxError;
use crate::faults::FaultConfig;
use crate::limits::{Limits, Progression};
use crate::{CertPaths, Sandbox, SystemClock};

/// Environment variable holding the API key.
pub(crate) const API_KEY_ENV: &str = "HONGBAO_API_KEY";
/// Environment variable holding the default WeCom app secret.
pub(crate) const WORKWX_SECRET_ENV: &str = "HONGBAO_WORKWX_SECRET";

/// Arguments of `hongbao-sandbox` (and of `hongbao sandbox`).
///
/// Secrets never come from the command line (other users can read it): the
/// API key comes from `HONGBAO_API_KEY` or `--api-key-file`, WeCom secrets
/// from `HONGBAO_WORKWX_SECRET` and `--workwx-secret-env AGENTID=ENVNAME`.
/// Without them the test key and secret of the protocol reference are used.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Serve plain HTTP instead of mutual TLS (tests, clients in other languages).
    #[arg(long)]
    pub plain_http: bool,
    /// Merchant id served.
    #[arg(long, default_value = crate::DEFAULT_MCH_ID)]
    pub mch_id: String,
    /// App id bound to the merchant.
    #[arg(long, default_value = crate::DEFAULT_APPID)]
    pub appid: String,
    /// File holding the API key (instead of the HONGBAO_API_KEY variable).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// WeCom app secret of one app, read from an environment variable:
    /// AGENTID=ENVNAME (repeatable).
    #[arg(long, value_name = "AGENTID=ENVNAME")]
    pub workwx_secret_env: Vec<String>,
    /// Starting balance in yuan (at most two decimals).
    #[arg(long, default_value = "100000", value_name = "YUAN")]
    pub balance_yuan: String,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory for ca.pem, ca.key, client.pem, client.key, client.p12
    /// (reused if present). Default: a new directory under the system temp dir.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// A fault probability, KIND=P (repeatable), e.g. drop_after_commit=0.1.
    #[arg(long, value_name = "KIND=P")]
    pub fault: Vec<String>,
    /// How long delay_after_commit holds a reply, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub fault_delay_ms: u64,
    /// Seconds after sending when a red packet is opened.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub receive_after_secs: u64,
    /// Nobody opens red packets: they are refunded after 24 h.
    #[arg(long)]
    pub never_open: bool,
    /// Refuse red packets between 00:00 and 08:00 Beijing time (TIME_LIMITED).
    #[arg(long)]
    pub night_ban: bool,
    /// Turn off every daily cap and rate limit (amount ranges still apply).
    #[arg(long)]
    pub unlimited: bool,
    /// Payments to this openid fail definitively (repeatable).
    #[arg(long, value_name = "OPENID")]
    pub failing_openid: Vec<String>,
    /// Red packets per rolling minute (default 1800, WeChat's quota); raise
    /// it for load tests, e.g. 6000.
    #[arg(long, value_name = "N")]
    pub per_minute: Option<u32>,
    /// Transfers per second (default 100, WeChat's quota).
    #[arg(long, value_name = "N")]
    pub transfer_per_second: Option<u32>,
}

/// Parses a yuan amount such as `100000`, `12.3` or `12.34` into fen,
/// exactly, with proto's [`Amount::parse_yuan`].
pub(crate) fn parse_yuan(text: &str) -> Option<u64> {
    Amount::parse_yuan(text).ok().map(Amount::fen)
}

fn read_secret_file(path: &std::path::Path) -> Result<String, SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|source| SandboxError::File {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    // One trailing newline is what editors add; anything else is kept and
    // refused by the secret type.
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(text.to_owned())
}

/// The start line: where to connect and which files to use.
#[derive(Debug, serde::Serialize)]
struct StartLine<'a> {
    url: &'a str,
    admin_url: &'a str,
    mch_id: &'a str,
    appid: &'a str,
    /// The environment variable the client reads the API key from.
    api_key_env: &'static str,
    ca_cert: String,
    client_cert: String,
    client_key: String,
    client_p12: String,
    /// Whether the certificate directory is removed on exit (no `--cert-dir`).
    temporary_cert_dir: bool,
}

impl StartLine<'_> {
    /// A `hongbao.toml` pointing the command line at this sandbox, with the
    /// API key left in the environment (never in a file), and the line
    /// that sets it when the key is the protocol reference's public test key.
    fn config_snippet(&self, test_key: bool, plain_http: bool) -> String {
        let mut out = String::from(
            "# hongbao.toml for this sandbox (the API key stays in the environment)\n",
        );
        let quoted = |v: &str| toml_string(v);
        out.push_str(&format!("mch_id = {}\n", quoted(self.mch_id)));
        out.push_str(&format!("appid = {}\n", quoted(self.appid)));
        out.push_str(&format!("base_url = {}\n", quoted(self.url)));
        if !plain_http {
            out.push_str(&format!("ca_cert = {}\n", quoted(&self.ca_cert)));
            out.push_str(&format!("client_cert = {}\n", quoted(&self.client_cert)));
            out.push_str(&format!("client_key = {}\n", quoted(&self.client_key)));
        }
        if test_key {
            out.push_str(&format!(
                "# then: export {}={} (the protocol reference's public test key)\n",
                self.api_key_env,
                crate::DEFAULT_API_KEY
            ));
        } else {
            out.push_str(&format!(
                "# then: export {} with the key this sandbox was started with\n",
                self.api_key_env
            ));
        }
        out
    }
}

/// A TOML basic string (quotes, backslashes and control characters escaped).
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Removes a certificate directory the sandbox made itself (the CA private
/// key included) when dropped: on a normal exit, on SIGINT/SIGTERM (both
/// end the run loop normally) and on a start-up error.
#[derive(Debug)]
struct TempDirGuard(Option<PathBuf>);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take()
            && let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove the certificate directory");
        }
    }
}

/// Starts a sandbox from `args`, prints one JSON line to stdout
/// (`{"url":…,"admin_url":…,"mch_id":…,"appid":…,"api_key_env":…,"ca_cert":…,"client_cert":…,"client_key":…,"client_p12":…,"temporary_cert_dir":…}`,
/// the certificates being file paths), prints a ready `hongbao.toml`
/// snippet and logs to stderr, and serves until SIGINT or SIGTERM. Without
/// `--cert-dir` the certificates go to a new temporary directory, removed
/// (CA private key included) on exit.
pub async fn run_from_args(args: SandboxArgs) -> Result<(), SandboxError> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();

    let mut builder = Sandbox::builder()
        .listen(args.listen)
        .plain_http(args.plain_http)
        .mch_id(args.mch_id.clone())
        .appid(args.appid.clone())
        .seed(args.seed)
        .clock(Arc::new(SystemClock));

    let mut test_key = false;
    let api_key = match (&args.api_key_file, std::env::var(API_KEY_ENV)) {
        (Some(path), _) => Some(read_secret_file(path)?),
        (None, Ok(value)) => Some(value),
        (None, Err(_)) => None,
    };
    match api_key {
        Some(value) => {
            let key =
                ApiKey::new(value).map_err(|e| SandboxError::Config(format!("API key: {e}")))?;
            builder = builder.api_key(key);
        }
        None => {
            test_key = true;
            tracing::warn!(
                "no {API_KEY_ENV} and no --api-key-file: using the protocol reference's test key"
            );
        }
    }
    if let Ok(value) = std::env::var(WORKWX_SECRET_ENV) {
        let secret = WorkwxSecret::new(value)
            .map_err(|e| SandboxError::Config(format!("{WORKWX_SECRET_ENV}: {e}")))?;
        builder = builder.workwx_secret(secret);
    }
    for spec in &args.workwx_secret_env {
        let (agent, env) = spec.split_once('=').ok_or_else(|| {
            // The value is not echoed: it may be a secret passed by mistake.
            SandboxError::Config(
                "--workwx-secret-env expects AGENTID=ENVNAME (an agent id and the name of an environment variable)"
                    .to_owned(),
            )
        })?;
        if agent.is_empty() || !agent.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SandboxError::Config(format!(
                "--workwx-secret-env: agentid {agent:?} is not a number"
            )));
        }
        let value = std::env::var(env).map_err(|_| {
            SandboxError::Config(format!(
                "--workwx-secret-env: environment variable {env} is not set"
            ))
        })?;
        let secret =
            WorkwxSecret::new(value).map_err(|e| SandboxError::Config(format!("{env}: {e}")))?;
        builder = builder.workwx_secret_for_agent(agent, secret);
    }
    let balance = parse_yuan(&args.balance_yuan).ok_or_else(|| {
        SandboxError::Config(format!(
            "--balance-yuan {:?} is not an amount in yuan with at most two decimals",
            args.balance_yuan
        ))
    })?;
    builder = builder.balance_fen(balance);

    let mut faults = FaultConfig {
        delay_ms: args.fault_delay_ms,
        ..FaultConfig::none()
    };
    for spec in &args.fault {
        faults.apply_spec(spec)?;
    }
    builder = builder.faults(faults);
    builder = builder.progression(Progression {
        receive_after_secs: (!args.never_open).then_some(args.receive_after_secs),
        ..Progression::default()
    });
    let mut limits = if args.unlimited {
        Limits::unlimited()
    } else {
        Limits::default()
    };
    limits.red_packet_night_ban = args.night_ban;
    if let Some(n) = args.per_minute {
        limits.red_packet_per_minute = n;
    }
    if let Some(n) = args.transfer_per_second {
        limits.transfer_per_second = n;
    }
    builder = builder.limits(limits);
    for openid in &args.failing_openid {
        builder = builder.failing_openid(openid.clone());
    }
    let (cert_dir, temporary) = match &args.cert_dir {
        Some(dir) => (dir.clone(), false),
        None => (new_temp_dir()?, true),
    };
    let _guard = TempDirGuard(temporary.then(|| cert_dir.clone()));
    builder = builder.cert_dir(cert_dir.clone());

    let signal = ShutdownSignal::install()?;
    let sandbox = builder.start().await?;
    let paths = CertPaths::in_dir(&cert_dir);
    let line = StartLine {
        url: sandbox.url(),
        admin_url: sandbox.admin_url(),
        mch_id: sandbox.mch_id(),
        appid: sandbox.appid(),
        api_key_env: API_KEY_ENV,
        temporary_cert_dir: temporary,
        ca_cert: paths.ca_cert.display().to_string(),
        client_cert: paths.client_cert.display().to_string(),
        client_key: paths.client_key.display().to_string(),
        client_p12: paths.client_p12.display().to_string(),
    };
    let json = serde_json::to_string(&line)
        .map_err(|e| SandboxError::Config(format!("start line: {e}")))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{json}").map_err(SandboxError::Stdout)?;
        stdout.flush().map_err(SandboxError::Stdout)?;
    }
    {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{}", line.config_snippet(test_key, args.plain_http));
        if temporary {
            let _ = writeln!(
                stderr,
                "# the certificates are removed on exit; pass --cert-dir DIR to keep them"
            );
        }
    }
    tracing::info!(
        url = sandbox.url(),
        mch_id = sandbox.mch_id(),
        appid = sandbox.appid(),
        "serving; SIGINT or SIGTERM stops"
    );
    signal.wait().await?;
    tracing::info!("shutting down");
    sandbox.shutdown().await;
    Ok(())
}

/// A new, private directory under the system temp dir for the certificates.
fn new_temp_dir() -> Result<PathBuf, SandboxError> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for attempt in 0..16u32 {
        let dir = base.join(format!("hongbao-sandbox-{pid}-{nanos:x}-{attempt}"));
        // `create_dir` fails if it exists: never reuse someone else's.
        match create_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some((dir, e)),
        }
    }
    let (path, source) = last.unwrap_or_else(|| {
        (
            base,
            std::io::Error::other("no temporary directory could be created"),
        )
    });
    Err(SandboxError::File {
        action: "create",
        path,
        source,
    })
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)
}

/// SIGINT/SIGTERM listeners, installed before the start line is printed so
/// a signal sent right after reading it is never missed.
struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    #[cfg(unix)]
    fn install() -> Result<Self, SandboxError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignal {
            term: signal(SignalKind::terminate()).map_err(SandboxError::Signal)?,
            int: signal(SignalKind::interrupt()).map_err(SandboxError::Signal)?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, SandboxError> {
        Ok(ShutdownSignal {})
    }

    #[cfg(unix)]
    async fn wait(mut self) -> Result<(), SandboxError> {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        Ok(())
    }

    #[cfg(not(unix))]
    async fn wait(self) -> Result<(), SandboxError> {
        tokio::signal::ctrl_c().await.map_err(SandboxError::Signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_parsing_is_exact() {
        assert_eq!(parse_yuan("100000"), Some(10_000_000));
        assert_eq!(parse_yuan("12.3"), Some(1_230));
        assert_eq!(parse_yuan("12.34"), Some(1_234));
        assert_eq!(parse_yuan("0.01"), Some(1));
        for bad in ["", ".5", "12.", "12.345", "-1", "1e3", "12,34", "１２"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }
}
