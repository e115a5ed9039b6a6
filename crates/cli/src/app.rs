//! Running the commands: configuration, the client (real or embedded
//! sandbox), output and exit codes.

use crate::batch::{self, Confirm, PlanResult, PlanSettings, Progress, RunOptions};
use crate::cli::{
    BatchCommand, Cli, Command, JournalArgs, QueryArgs, ReportArgs, RunArgs, SendArgs, SignArgs,
    WorkwxArg,
};
use crate::config::{Config, ConfigError, Texts};
use crate::exit;
use crate::i18n;
use crate::output;
use crate::payout::{Kind, PayoutInput};
use crate::report;
use crate::sign_debug::{self, SignMode};
use hongbao::{Client, ClientIdentity, NextStep, Outcome, RateLimits, Timeouts};
use hongbao_ledger::sqlite::{SqliteOptions, SqliteStore};
use hongbao_ledger::{
    AttemptRecord, Binding, ImportPlan, Ledger, LedgerError, LedgerLock, LedgerOptions,
    PayoutState, ServerId, Store, Summary,
};
use hongbao_sandbox::{Sandbox, SandboxHandle};
use hongbao_sign::Algorithm;
use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A log line on stderr through [`crate::log::emit`] (text, or JSON with
/// `--log-format json`): `say!(Warn, @"event", "format", args…)` (the
/// event defaults to `message`).
macro_rules! say {
    ($level:ident, @$event:literal, $($arg:tt)+) => {
        crate::log::emit(crate::log::Level::$level, $event, &format!($($arg)+), &[])
    };
    ($level:ident, $($arg:tt)+) => {
        crate::log::emit(crate::log::Level::$level, "message", &format!($($arg)+), &[])
    };
}

/// Why a command could not run (exit code 4, or 2 for bad input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Configuration or secrets.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The ledger (the `--journal`).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The batch.
    #[error(transparent)]
    Batch(#[from] batch::BatchError),
    /// Building the client.
    #[error("client: {0}")]
    Client(#[source] hongbao::ConfigError),
    /// Reading the merchant certificate.
    #[error("client: {0}")]
    Identity(#[source] hongbao::TransportError),
    /// The embedded sandbox.
    #[error("embedded sandbox: {0}")]
    Sandbox(String),
    /// Invalid input (exit code 2).
    #[error("{0}")]
    Invalid(String),
    /// A call of the client that sent nothing: the request is invalid (exit
    /// code 2) or the client could not make it (exit code 4).
    #[error(transparent)]
    Request(#[from] hongbao::ClientError),
    /// Output could not be written.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A report.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// A command that talks to WeChat Pay was given no configuration and
    /// no `--sandbox` (exit code 4): never pay through a sandbox unasked.
    /// (The text is the `no-config` message of the current language.)
    #[error("{}", i18n::text("no-config"))]
    NoConfig,
}

impl AppError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Invalid(_) => exit::INVALID,
            AppError::Request(
                hongbao::ClientError::Invalid(_) | hongbao::ClientError::Build(_),
            ) => exit::INVALID,
            // A missing or unreadable file is an I/O error, not bad input.
            AppError::Batch(batch::BatchError::Input(e)) if !e.is_io() => exit::INVALID,
            _ => exit::ERROR,
        }
    }
}

/// A client and, when embedded, the sandbox it talks to (kept alive).
#[derive(Debug)]
pub struct Session {
    /// The client.
    pub client: Client,
    /// Effective configuration (merchant, texts).
    pub config: Config,
    /// The embedded sandbox, if one was started.
    pub sandbox: Option<SandboxHandle>,
}

/// Defaults used with the embedded sandbox and no config file.
pub fn sandbox_defaults() -> Config {
    Config {
        mch_id: hongbao_sandbox::DEFAULT_MCH_ID.to_owned(),
        appid: hongbao_sandbox::DEFAULT_APPID.to_owned(),
        send_name: Some("hongbao sandbox".into()),
        act_name: Some("Quickstart".into()),
        wishing: Some("Thank you!".into()),
        remark: Some("Paid through the embedded sandbox".into()),
        sender_name: Some("hongbao".into()),
        desc: Some("Sandbox payout".into()),
        rate_per_minute: Some(0),
        ..Config::default()
    }
}

/// The file (`--config` / HONGBAO_CONFIG), then the HONGBAO_* variables
/// over it; `None` when there is neither.
fn load_config(cli: &Cli) -> Result<Option<Config>, AppError> {
    Ok(Config::resolve(cli.config.as_deref(), &|name| {
        std::env::var(name).ok()
    })?)
}

fn rate_limits(per_minute: u32) -> RateLimits {
    if per_minute == 0 {
        RateLimits::unlimited()
    } else {
        RateLimits::default()
            .with_sends_per_minute(per_minute)
            .with_burst((per_minute / 60).clamp(1, 30))
    }
}

fn timeouts(config: &Config) -> Timeouts {
    match config.timeout_ms {
        Some(ms) => Timeouts::default().with_request(Duration::from_millis(ms)),
        None => Timeouts::default(),
    }
}

fn retry_policy(config: &Config) -> hongbao::RetryPolicy {
    let mut policy = hongbao::RetryPolicy::default();
    if let Some(n) = config.max_resends {
        policy.max_resends = n;
    }
    if let Some(n) = config.queries {
        policy.queries = n;
    }
    if let Some(n) = config.limit_retries {
        policy.limit_retries = n;
    }
    policy
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(|source| {
        ConfigError::Read {
            path: path.display().to_string(),
            source,
        }
        .into()
    })
}

/// Builds the client: from the config, or against an embedded sandbox when
/// `--sandbox` is given or there is no config at all.
pub async fn connect(cli: &Cli, rate_override: Option<u32>) -> Result<Session, AppError> {
    let config = load_config(cli)?;
    if !cli.sandbox && config.is_none() {
        return Err(AppError::NoConfig);
    }
    if cli.sandbox {
        let mut config = config.unwrap_or_else(sandbox_defaults);
        let defaults = sandbox_defaults();
        if config.rate_per_minute.is_none() {
            config.rate_per_minute = defaults.rate_per_minute;
        }
        let handle = Sandbox::builder()
            .mch_id(&config.mch_id)
            .appid(&config.appid)
            .start()
            .await
            .map_err(|e| AppError::Sandbox(e.to_string()))?;
        let identity = ClientIdentity::from_pem(
            handle.client_cert_pem().as_bytes(),
            handle.client_key_pem().as_bytes(),
        )
        .map_err(|e| AppError::Sandbox(e.to_string()))?;
        let workwx = hongbao_sign::WorkwxSecret::new(hongbao_sandbox::DEFAULT_WORKWX_SECRET)
            .map_err(|e| AppError::Sandbox(e.to_string()))?;
        say!(
            Info, @"sandbox.start",
            "{}",
            tr(
                "sandbox-started",
                &[("banner", &i18n::text("sandbox-banner")), ("url", &handle.url())]
            )
        );
        let client = Client::builder()
            .mch_id(&config.mch_id)
            .appid(&config.appid)
            .api_key(handle.api_key().clone())
            .workwx_secret(workwx)
            .identity(identity)
            .extra_ca_pem(handle.ca_cert_pem().as_bytes().to_vec())
            .base_url(handle.url())
            .timeouts(timeouts(&config))
            .retry(retry_policy(&config))
            .rate_limits(rate_limits(
                rate_override.unwrap_or(config.rate_per_minute()),
            ))
            .build()
            .map_err(AppError::Client)?;
        return Ok(Session {
            client,
            config,
            sandbox: Some(handle),
        });
    }
    let Some(config) = config else {
        return Err(AppError::Invalid("no configuration".into()));
    };
    let mut builder = Client::builder()
        .mch_id(&config.mch_id)
        .appid(&config.appid)
        .api_key(config.api_key()?)
        .timeouts(timeouts(&config))
        .retry(retry_policy(&config))
        .rate_limits(rate_limits(
            rate_override.unwrap_or(config.rate_per_minute()),
        ));
    if let Some(secret) = config.workwx_secret()? {
        builder = builder.workwx_secret(secret);
    }
    if let Some(url) = &config.base_url {
        builder = builder.base_url(url);
    }
    if let Some(ca) = &config.ca_cert {
        builder = builder.extra_ca_pem(read_file(ca)?);
    }
    let identity = match (&config.client_cert, &config.client_key, &config.client_p12) {
        (Some(cert), Some(key), _) => Some(
            ClientIdentity::from_pem(&read_file(cert)?, &read_file(key)?)
                .map_err(AppError::Identity)?,
        ),
        (_, _, Some(p12)) => {
            let password = match &config.client_p12_password_file {
                Some(file) => {
                    let text =
                        std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                            path: file.display().to_string(),
                            source,
                        })?;
                    text.trim_end_matches(['\r', '\n']).to_owned()
                }
                None => config.mch_id.clone(),
            };
            Some(
                ClientIdentity::from_pkcs12(&read_file(p12)?, &password)
                    .map_err(AppError::Identity)?,
            )
        }
        _ => None,
    };
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    let client = builder.build().map_err(AppError::Client)?;
    Ok(Session {
        client,
        config,
        sandbox: None,
    })
}

/// The server a session pays through, as recorded in journals.
pub fn server_of(session: &Session) -> ServerId {
    if session.sandbox.is_some() {
        ServerId::embedded_sandbox()
    } else {
        ServerId::configured(session.client.base_url())
    }
}

fn texts_of(args: &crate::cli::TextArgs) -> Texts {
    Texts {
        send_name: args.send_name.clone(),
        act_name: args.act_name.clone(),
        wishing: args.wishing.clone(),
        remark: args.remark.clone(),
        sender_name: args.sender_name.clone(),
        agentid: args.agentid.clone(),
        desc: args.desc.clone(),
        scene_id: args.scene_id.clone(),
        total_num: None,
    }
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    let result = match &cli.command {
        Command::Sandbox(args) => match hongbao_sandbox::run_from_args(args.clone()).await {
            Ok(()) => Ok(exit::OK),
            Err(e) => Err(AppError::Sandbox(e.to_string())),
        },
        Command::Sign(args) => sign(&cli, args),
        Command::Send(args) => send(&cli, args).await,
        Command::Query(args) => query(&cli, args).await,
        Command::Batch(BatchCommand::Run(args)) => batch_run(&cli, args).await,
        Command::Batch(BatchCommand::Status(args)) => batch_status(args).await,
        Command::Batch(BatchCommand::Reconcile(args)) => {
            batch_reconcile(&cli, &args.journal, args.bind_server, false).await
        }
        Command::Batch(BatchCommand::Refresh(args)) => {
            batch_reconcile(&cli, args, false, true).await
        }
        Command::Batch(BatchCommand::Report(args)) => batch_report(args).await,
        Command::Worker(args) => crate::worker::run(&cli, args).await,
        Command::Completions(args) => crate::completions::print(args.shell),
        Command::Man(args) => crate::completions::man_pages(&args.out_dir),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::log::emit(
                crate::log::Level::Error,
                "error",
                &format!("{}: {err}", i18n::text("error")),
                &[("exit_code", err.exit_code().into())],
            );
            err.exit_code()
        }
    }
}

fn sign(cli: &Cli, args: &SignArgs) -> Result<u8, AppError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let fields = sign_debug::parse_input(&input).map_err(|e| AppError::Invalid(e.to_string()))?;
    let config = load_config(cli)?;
    let key_file = config.as_ref().and_then(|c| c.api_key_file.clone());
    let secret_file = config.as_ref().and_then(|c| c.workwx_secret_file.clone());
    let api_key = crate::config::load_secret(
        crate::config::API_KEY_ENV,
        key_file.as_deref(),
        hongbao_sign::ApiKey::new,
    )?;
    let workwx = crate::config::load_secret(
        crate::config::WORKWX_SECRET_ENV,
        secret_file.as_deref(),
        hongbao_sign::WorkwxSecret::new,
    )?;
    let mode = match args.workwx {
        Some(WorkwxArg::RedPacket) => SignMode::Workwx(hongbao_sign::WorkwxKind::RedPacket),
        Some(WorkwxArg::PayEmployee) => SignMode::Workwx(hongbao_sign::WorkwxKind::PayEmployee),
        None if args.hmac => SignMode::Main(Algorithm::HmacSha256),
        None => SignMode::Main(Algorithm::Md5),
    };
    let result = sign_debug::debug(&fields, mode, api_key.as_ref(), workwx.as_ref());
    if let Err(sign_debug::SignDebugError::MissingSecret(_)) = &result {
        // Still show the string to sign (secret masked): often enough to
        // spot the mistake. The exit code says the check did not run.
        let report =
            sign_debug::keyless(&fields, mode).map_err(|e| AppError::Invalid(e.to_string()))?;
        let mut out = output::stdout();
        if args.json {
            writeln!(out, "{}", report.to_json())?;
        } else {
            write!(out, "{}", report.to_text())?;
        }
    }
    let report = result.map_err(|e| match e {
        sign_debug::SignDebugError::MissingSecret(_) if matches!(mode, SignMode::Main(_)) => {
            AppError::Config(ConfigError::MissingApiKey)
        }
        // The WeCom app secret is missing: say so, not "no API key".
        sign_debug::SignDebugError::MissingSecret(message) => {
            AppError::Config(ConfigError::Invalid(message.to_owned()))
        }
        other => AppError::Invalid(other.to_string()),
    })?;
    let mut out = output::stdout();
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        write!(out, "{}", report.to_text())?;
    }
    Ok(if report.matches == Some(false) {
        exit::NOT_PAID
    } else {
        exit::OK
    })
}

fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    let next = outcome.next_step().as_str();
    match outcome {
        Outcome::Paid(r) => serde_json::json!({
            "outcome": "paid", "bill": r.bill, "wechat_id": r.wechat_id,
            "amount": r.amount.map(|a| a.to_string()), "next_step": next,
        }),
        Outcome::NotPaid(n) => serde_json::json!({
            "outcome": "not_paid", "bill": n.bill, "code": n.code.as_str(), "message": n.message,
            "next_step": next,
        }),
        Outcome::Unknown(u) => serde_json::json!({
            "outcome": "unknown", "bill": u.bill, "reason": u.reason.to_string(), "next_step": next,
        }),
        Outcome::Conflict(c) => serde_json::json!({
            "outcome": "conflict", "bill": c.bill, "their_openid": c.openid,
            "their_amount": c.amount.map(|a| a.to_string()), "next_step": next,
        }),
    }
}

/// Prints an outcome with what to do next, worded from the client's typed
/// decision ([`NextStep`]) and nothing else.
fn print_outcome(
    cli: &Cli,
    kind: Kind,
    outcome: &Outcome,
    json: bool,
    sandbox: bool,
) -> Result<u8, AppError> {
    let mut out = output::stdout();
    if json {
        let mut value = outcome_json(outcome);
        if let Some(object) = value.as_object_mut() {
            object.insert("sandbox".into(), sandbox.into());
        }
        writeln!(out, "{value}")?;
    } else if sandbox {
        writeln!(out, "{}", i18n::text("sandbox-banner"))?;
    }
    let code = match outcome {
        Outcome::Paid(_) => exit::OK,
        Outcome::Unknown(_) => exit::UNKNOWN,
        Outcome::NotPaid(_) | Outcome::Conflict(_) => exit::NOT_PAID,
    };
    if json {
        return Ok(code);
    }
    let bill = outcome.bill();
    let config = cli
        .config
        .as_ref()
        .map(|p| format!("--config {} ", p.display()))
        .unwrap_or_default();
    match outcome {
        Outcome::Paid(r) => writeln!(
            out,
            "paid: bill {} wechat id {}",
            r.bill,
            r.wechat_id.as_deref().unwrap_or("-")
        )?,
        Outcome::NotPaid(n) => {
            writeln!(
                out,
                "not paid: bill {} code {}{}",
                n.bill,
                n.code.as_str(),
                n.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )?;
            let what = match n.next {
                NextStep::RetrySameBill { resign: false } => format!(
                    "not paid yet and nothing is pending: fix the cause or wait, then retry with the SAME bill number (repeat the command with --bill {bill}); no new bill number is needed"
                ),
                NextStep::RetrySameBill { resign: true } => format!(
                    "the signature was refused: fix the API key (or WeCom secret), then retry with the SAME bill number (--bill {bill})"
                ),
                NextStep::NewBill => "no money moved under this bill number; fix the cause, then pay again only with a NEW bill number".to_owned(),
                _ => format!(
                    "this attempt was refused, but the bill must be queried before anything else: hongbao {config}query {} {bill}; do NOT use a new bill number before that",
                    kind.as_str()
                ),
            };
            writeln!(out, "what to do: {what}")?;
        }
        Outcome::Unknown(u) => writeln!(
            out,
            "unknown: bill {} ({})\nthe money may or may not have moved: do NOT pay again with a new bill number.\nresolve it with: hongbao {config}query {} {}\n(to retry, repeat the same send command with --bill {}: same bill number, same parameters)",
            u.bill,
            u.reason,
            kind.as_str(),
            u.bill,
            u.bill
        )?,
        Outcome::Conflict(c) => writeln!(out, "conflict: {c}")?,
    }
    Ok(code)
}

async fn send(cli: &Cli, args: &SendArgs) -> Result<u8, AppError> {
    let session = connect(cli, None).await?;
    let mut bill = match &args.bill {
        Some(bill) => bill.clone(),
        None => new_bill(&session, args.kind)?,
    };
    let mut texts = texts_of(&args.texts);
    texts.total_num = args.total_num.map(|n| n.to_string());
    let defaults = session.config.texts();
    // A number the tool chose that turns out to be another payment's is
    // replaced by the tool, at most a few times (a second meeting is
    // astronomically unlikely; a third means something else is wrong).
    let mut renumbered = 0;
    let outcome = loop {
        let input = PayoutInput {
            line: 0,
            openid: &args.to,
            amount: &args.amount,
            bill: &bill,
            name: args.name.as_deref(),
            texts: &texts,
            defaults: &defaults,
            client_ip: session.config.client_ip(),
        };
        let request = crate::payout::build(args.kind, &input).map_err(|issues| {
            AppError::Invalid(
                issues
                    .iter()
                    .map(|i| format!("--{}: {}", i.field.replace('_', "-"), i.rule))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let prepared = batch::prepare(&session.client, &request)?;
        let outcome = match session.client.execute(&prepared).await {
            Ok(outcome) => outcome,
            // `Err` means this call sent nothing. With a bill number given by
            // hand this may be a retry of an earlier send that ended unknown:
            // that one is still unknown, so do not claim nothing was paid.
            Err(e) if args.bill.is_some() => {
                say!(
                    Error, @"send.error",
                    "error: {e} (nothing was sent by this call; if an earlier send of bill {bill} ended unknown, it is still unknown: resolve it with `hongbao query`)"
                );
                return Ok(exit::ERROR);
            }
            Err(e) => {
                say!(Error, @"send.error", "error: {e} (nothing was paid)");
                return Ok(exit::ERROR);
            }
        };
        match &outcome {
            Outcome::Conflict(conflict) if args.bill.is_none() && renumbered < 3 => {
                renumbered += 1;
                let fresh = new_bill(&session, args.kind)?;
                say!(
                    Info, @"send.renumbered",
                    "note: {conflict}. The tool chose that number, so it takes a new one: {fresh}"
                );
                bill = fresh;
            }
            _ => break outcome,
        }
    };
    let code = print_outcome(
        cli,
        args.kind,
        &outcome,
        args.json,
        session.sandbox.is_some(),
    )?;
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(code)
}

fn new_bill(session: &Session, kind: Kind) -> Result<String, AppError> {
    let date = batch::beijing_today()?;
    Ok(batch::generate_bill(
        kind,
        &session.config.mch_id,
        date,
        session.config.bill_prefix(),
    )?)
}

/// Checks a bill number's format for `kind` (letters and digits, at most
/// 28 for red packets, 32 for transfers) before anything is sent.
fn check_bill(kind: Kind, bill: &str) -> Result<(), AppError> {
    let checked = if kind.uses_trade_no() {
        hongbao_proto::TradeNo::new(bill).map(|_| ())
    } else {
        hongbao_proto::BillNo::new(bill).map(|_| ())
    };
    checked.map_err(|v| {
        AppError::Invalid(format!(
            "not a bill number for {}: {v} (nothing was sent)",
            kind.as_str()
        ))
    })
}

async fn query(cli: &Cli, args: &QueryArgs) -> Result<u8, AppError> {
    check_bill(args.kind, &args.bill)?;
    let session = connect(cli, None).await?;
    let outcome = session
        .client
        .resolve(
            args.kind.endpoint(),
            &args.bill,
            tokio::time::Instant::now(),
        )
        .await?;
    let code = print_outcome(
        cli,
        args.kind,
        &outcome,
        args.json,
        session.sandbox.is_some(),
    )?;
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(code)
}

/// Progress on a terminal (indicatif) or as log lines (every 2 s; JSON
/// objects with `--log-format json`), humanised: `paying: 1,234 / 9,018 ·
/// 29.8/s · about 5 min left`.
pub struct ConsoleProgress {
    bar: Option<indicatif::ProgressBar>,
    phase: String,
    total: u64,
    done: u64,
    phase_started: std::time::Instant,
    last_line: std::time::Instant,
    /// When the first phase started (for the run's overall rate).
    first_started: Option<std::time::Instant>,
    /// Payouts handled over every phase.
    handled: u64,
}

impl std::fmt::Debug for ConsoleProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleProgress")
            .field("phase", &self.phase)
            .finish()
    }
}

impl ConsoleProgress {
    /// A progress bar when stderr is a terminal (and `bar` allows, and log
    /// lines are text), log lines otherwise.
    pub fn new(bar: bool) -> Self {
        let now = std::time::Instant::now();
        ConsoleProgress {
            bar: (bar && std::io::stderr().is_terminal() && !crate::log::is_json())
                .then(indicatif::ProgressBar::hidden),
            phase: String::new(),
            total: 0,
            done: 0,
            phase_started: now,
            last_line: now,
            first_started: None,
            handled: 0,
        }
    }

    /// Payouts handled over every phase, and the time since the first
    /// phase started (`None` when nothing was handled).
    pub fn overall(&self) -> Option<(u64, Duration)> {
        let started = self.first_started?;
        (self.handled > 0).then(|| (self.handled, started.elapsed()))
    }

    fn line(&self) -> String {
        crate::human::progress_line(
            &self.phase,
            self.done,
            self.total,
            self.phase_started.elapsed(),
        )
    }

    fn log_line(&self) {
        let elapsed = self.phase_started.elapsed();
        crate::log::emit(
            crate::log::Level::Info,
            "progress",
            &self.line(),
            &[
                ("phase", self.phase.clone().into()),
                ("done", self.done.into()),
                ("total", self.total.into()),
                (
                    "per_second",
                    serde_json::Value::from(
                        (self.done as f64 / elapsed.as_secs_f64().max(0.001) * 10.0).round() / 10.0,
                    ),
                ),
                (
                    "eta_seconds",
                    crate::human::eta(self.done, self.total, elapsed)
                        .map_or(serde_json::Value::Null, |d| d.as_secs().into()),
                ),
            ],
        );
    }
}

impl Progress for ConsoleProgress {
    fn start(&mut self, phase: &str, total: u64) {
        self.phase = phase.to_owned();
        self.total = total;
        self.done = 0;
        self.phase_started = std::time::Instant::now();
        if total == 0 {
            return;
        }
        self.first_started.get_or_insert(self.phase_started);
        match &self.bar {
            Some(_) => {
                let bar = indicatif::ProgressBar::new(total);
                if let Ok(style) = indicatif::ProgressStyle::with_template("[{bar:30}] {msg}") {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(self.line());
                self.bar = Some(bar);
            }
            None => self.log_line(),
        }
    }

    fn advance(&mut self, done: u64, _last: &AttemptRecord) {
        self.done += done;
        self.handled += done;
        match &self.bar {
            Some(bar) => {
                bar.inc(done);
                bar.set_message(self.line());
            }
            None => {
                if self.done == self.total || self.last_line.elapsed() >= Duration::from_secs(2) {
                    self.log_line();
                    self.last_line = std::time::Instant::now();
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A payout state as the summary names it, in the current language.
fn state_name(state: PayoutState) -> String {
    i18n::text(&format!("state-{}", state.as_str()))
}

/// The catalog message `id` with text variables, in the current language.
fn tr(id: &str, vars: &[(&str, &dyn std::fmt::Display)]) -> String {
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
    i18n::text_str(id, &vars)
}

fn exit_code_of(summary: &Summary, interrupted: bool) -> u8 {
    if summary.get(PayoutState::Unknown).0 + summary.get(PayoutState::Sending).0 > 0 {
        exit::UNKNOWN
    } else if interrupted {
        exit::INTERRUPTED
    } else if summary.get(PayoutState::NotPaid).0
        + summary.get(PayoutState::Conflict).0
        + summary.get(PayoutState::Planned).0
        > 0
    {
        exit::NOT_PAID
    } else {
        exit::OK
    }
}

fn print_issues(issues: &[crate::input::RowIssue]) {
    for issue in issues {
        say!(Warn, @"batch.invalid_row", "{}: {issue}", i18n::text("invalid"));
    }
}

/// The batch a run imports into: `--batch`, else the file's stem.
fn batch_name(args: &RunArgs) -> String {
    args.batch
        .clone()
        .unwrap_or_else(|| hongbao_ledger::sqlite::batch_name_of(&args.file.display().to_string()))
}

fn print_plan(plan: &ImportPlan) {
    for row in &plan.refused {
        say!(
            Warn, @"batch.refused_row",
            "{}: {}",
            i18n::text("refused"),
            tr(
                "row-refused",
                &[
                    ("line", &row.line),
                    ("key", &row.key),
                    ("state", &state_name(row.state)),
                    ("old", &row.old),
                    ("new", &row.new)
                ]
            )
        );
    }
    for (line, bill, holder) in &plan.duplicate_bills {
        say!(
            Warn, @"batch.refused_row",
            "{}: {}",
            i18n::text("refused"),
            tr(
                "bill-taken",
                &[("line", line), ("bill", bill), ("holder", holder)]
            )
        );
    }
    for row in &plan.replaced {
        say!(
            Info, @"batch.replaced_row",
            "{}: {}",
            i18n::text("note"),
            tr(
                "row-replaced",
                &[
                    ("line", &row.line),
                    ("key", &row.key),
                    ("state", &state_name(row.state))
                ]
            )
        );
    }
    for similar in &plan.similar {
        let place = similar
            .other_batch
            .as_deref()
            .map(|b| tr("similar-batch", &[("batch", &b)]))
            .unwrap_or_else(|| i18n::text("similar-single"));
        say!(
            Warn, @"batch.similar_payee",
            "{}: {}",
            i18n::text("warning"),
            tr(
                "similar-payout",
                &[
                    ("line", &similar.line),
                    ("openid", &similar.openid),
                    (
                        "amount",
                        &hongbao_proto::Amount::from_fen(similar.amount_fen)
                    ),
                    ("key", &similar.other_key),
                    ("where", &place)
                ]
            )
        );
    }
}

/// A cap in fen: the flag's, else the configuration's (environment over
/// file).
fn cap(
    flag: Option<&str>,
    setting: Option<&crate::config::Yuan>,
    name: &str,
) -> Result<Option<u64>, AppError> {
    let fen = match flag {
        Some(text) => Some(crate::config::Yuan::Text(text.to_owned()).fen(name)?),
        None => setting.map(|y| y.fen(name)).transpose()?,
    };
    Ok(fen)
}

fn yuan(fen: u64) -> String {
    hongbao_proto::Amount::from_fen(fen).to_string()
}

/// The plan of a run, on stderr, before anything is sent.
fn print_run_plan(run: &batch::RunPlan) {
    if run.rows == 0 {
        say!(Info, @"batch.plan", "{}", i18n::text("plan-nothing"));
    } else {
        let (line, largest) = run.largest.unwrap_or_default();
        say!(
            Info, @"batch.plan",
            "{}",
            i18n::text_str(
                "plan-rows",
                &[
                    ("rows", run.rows.to_string()),
                    ("total", yuan(run.total_fen)),
                    ("largest", yuan(largest)),
                    ("line", line.to_string()),
                    ("kind", run.kind.clone()),
                ]
            )
        );
    }
    for (openid, lines) in &run.duplicates {
        let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
        say!(
            Info, @"batch.duplicate_payee",
            "{}",
            i18n::text_str(
                "plan-duplicate",
                &[("openid", openid.clone()), ("lines", lines.join(", "))]
            )
        );
    }
}

/// Why the rails refused a run.
fn print_refusals(run: &batch::RunPlan) {
    for (line, fen) in &run.over_amount {
        say!(
            Warn, @"batch.over_amount",
            "{}",
            i18n::text_str(
                "over-amount",
                &[
                    ("line", line.to_string()),
                    ("amount", yuan(*fen)),
                    ("cap", yuan(run.max_amount_fen.unwrap_or_default())),
                ]
            )
        );
    }
    if let Some(cap) = run.over_total {
        say!(
            Warn, @"batch.over_total",
            "{}",
            i18n::text_str(
                "over-total",
                &[
                    ("rows", run.rows.to_string()),
                    ("total", yuan(run.total_fen)),
                    ("cap", yuan(cap)),
                ]
            )
        );
    }
    if !run.duplicates.is_empty() && !run.allow_duplicates {
        say!(
            Warn, @"batch.duplicates_refused",
            "{}",
            i18n::text_with(
                "duplicates-refused",
                &[("payees", run.duplicates.len() as u64)]
            )
        );
    }
    if !run.over_amount.is_empty() || run.over_total.is_some() {
        say!(Warn, @"batch.caps_refused", "{}", i18n::text("caps-refused"));
    }
}

/// Asks "pay N rows, X yuan? [y/N]" when stdin and stderr are terminals.
fn ask_to_pay(run: &batch::RunPlan) -> Confirm {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Confirm::NoTerminal;
    }
    eprint!(
        "{} ",
        i18n::text_str(
            "confirm-pay",
            &[
                ("rows", run.rows.to_string()),
                ("total", yuan(run.total_fen))
            ]
        )
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return Confirm::No;
    }
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" | "是" => Confirm::Yes,
        _ => Confirm::No,
    }
}

async fn batch_run(cli: &Cli, args: &RunArgs) -> Result<u8, AppError> {
    let session = connect(cli, args.rate_per_minute).await?;
    let notify_url = notify_url(args.notify.as_deref(), &session.config);
    for note in crate::input::notes(&args.file).map_err(batch::BatchError::Input)? {
        say!(Info, @"input.note", "{}: {note}", i18n::text("note"));
    }
    // The caps are checked before the ledger is opened (a bad cap leaves
    // nothing behind).
    let rails = batch::Rails {
        max_amount_fen: cap(
            args.max_amount.as_deref(),
            session.config.max_amount.as_ref(),
            "max_amount",
        )?,
        max_total_fen: cap(
            args.max_total.as_deref(),
            session.config.max_total.as_ref(),
            "max_total",
        )?,
        allow_duplicates: args.allow_duplicates,
        reissue_not_paid: args.reissue_not_paid,
        resend_refunded: args.resend_refunded,
    };
    let binding = Binding::new(
        session.config.mch_id.clone(),
        session.config.appid.clone(),
        server_of(&session),
    );
    let options = LedgerOptions::default()
        .bill_prefix(session.config.bill_prefix())
        .adopt_unrecorded_server(args.bind_server)
        .quota(crate::worker::shared_quota(
            &args.journal.display().to_string(),
            args.rate_per_minute
                .unwrap_or_else(|| session.config.rate_per_minute()),
        ));
    // One process at a time, for the whole run (released on every way out,
    // and by the OS if the process dies).
    let existed = std::fs::symlink_metadata(&args.journal).is_ok();
    let ledger = Ledger::open(&args.journal.display().to_string(), binding, options).await?;
    // A ledger this run created and imported nothing into is removed, so a
    // fixed file starts afresh (nothing was sent through it).
    let discard = |ledger: Ledger| {
        drop(ledger);
        if !existed {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = args.journal.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(std::path::PathBuf::from(name));
            }
        }
    };
    let batch = batch_name(args);
    let settings = PlanSettings {
        kind: args.kind,
        batch: batch.clone(),
        defaults: session.config.texts(),
        client_ip: session.config.client_ip().to_owned(),
        skip_invalid: args.skip_invalid,
        dry_run: args.dry_run,
        rails,
    };
    // No question when no money can move (dry run, sandbox) or when the
    // script said yes.
    let confirmed = args.yes || args.dry_run || session.sandbox.is_some();
    let mut confirm = |run: &batch::RunPlan| {
        print_run_plan(run);
        if confirmed || run.rows == 0 {
            return Confirm::Yes;
        }
        ask_to_pay(run)
    };
    let planned = match batch::plan_with(&ledger, &args.file, &settings, &mut confirm).await {
        Ok(planned) => planned,
        Err(e) => {
            discard(ledger);
            return Err(e.into());
        }
    };
    // Rows left out by --skip-invalid (counted as rows, not problems).
    let skipped_rows;
    match planned {
        PlanResult::Invalid(issues) => {
            discard(ledger);
            print_issues(&issues);
            say!(
                Warn, @"batch.invalid",
                "{}",
                i18n::text_with(
                    "invalid-rows",
                    &[("rows", crate::input::rows_with_issues(&issues) as u64)]
                )
            );
            return Ok(exit::INVALID);
        }
        PlanResult::Refused(plan) => {
            discard(ledger);
            print_plan(&plan);
            say!(
                Warn, @"batch.refused",
                "{}",
                tr(
                    "rows-refused",
                    &[("rows", &(plan.refused.len() + plan.duplicate_bills.len()))]
                )
            );
            return Ok(exit::INVALID);
        }
        PlanResult::Stopped(run) => {
            discard(ledger);
            print_run_plan(&run);
            print_refusals(&run);
            return Ok(exit::INVALID);
        }
        PlanResult::NotConfirmed { answer, .. } => {
            discard(ledger);
            let id = if answer == Confirm::NoTerminal {
                "no-terminal"
            } else {
                "not-confirmed"
            };
            say!(Warn, @"batch.not_confirmed", "{}", i18n::text(id));
            return Ok(exit::ERROR);
        }
        PlanResult::Planned { plan, skipped, .. } => {
            print_issues(&skipped);
            skipped_rows = crate::input::rows_with_issues(&skipped) as u64;
            print_plan(&plan);
            let skipped_note = if skipped.is_empty() {
                String::new()
            } else {
                tr("batch-skipped", &[("rows", &skipped_rows)])
            };
            say!(
                Info, @"batch.imported",
                "{}",
                tr(
                    if plan.unchanged.is_empty() {
                        "batch-planned"
                    } else {
                        "batch-resuming"
                    },
                    &[
                        ("batch", &batch),
                        ("journal", &args.journal.display()),
                        ("new", &plan.new.len()),
                        ("unchanged", &plan.unchanged.len()),
                        ("replaced", &plan.replaced.len()),
                        ("skipped", &skipped_note)
                    ]
                )
            );
        }
    }
    if args.dry_run {
        let summary = ledger.summary(Some(&batch)).await?;
        if !args.json {
            writeln!(output::stdout(), "{}", i18n::text("dry-run"))?;
        }
        let facts = RunFacts {
            dry_run: true,
            interrupted: false,
            skipped_rows,
        };
        print_summary(ledger.store().as_ref(), &summary, args.json, &facts).await?;
        if let Some(url) = &notify_url {
            let notice = run_notice(ledger.store().as_ref(), &batch, summary, &facts, None).await?;
            crate::notify::send(url, &notice).await;
        }
        return Ok(if skipped_rows > 0 {
            exit::NOT_PAID
        } else {
            exit::OK
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            say!(
                Info, @"batch.interrupting",
                "{}",
                i18n::text("ctrl-c")
            );
            flag.store(true, Ordering::SeqCst);
        }
    });
    let mut progress = ConsoleProgress::new(!args.no_progress);
    let options = RunOptions {
        concurrency: usize::from(args.concurrency),
        reissue_not_paid: args.reissue_not_paid,
        resend_refunded: args.resend_refunded,
        batch: batch.clone(),
    };
    let report = batch::run(&ledger, &session.client, &options, stop, &mut progress).await?;
    ctrl_c.abort();
    for (line, old, new) in &report.renumbered {
        crate::log::warn(
            "batch.renumbered",
            &format!(
                "{}: {}",
                i18n::text("note"),
                tr("renumbered", &[("line", line), ("old", old), ("new", new)])
            ),
        );
    }
    if let Some(why) = &report.halted {
        crate::log::emit(
            crate::log::Level::Error,
            "batch.halted",
            &format!("{}: {why}", i18n::text("stopped-early")),
            &[("why", why.clone().into())],
        );
    }
    final_checkpoint(ledger.store().as_ref()).await;
    warn_by_cause(ledger.store().as_ref(), &batch, cli.verbose).await?;
    if let Some((handled, elapsed)) = progress.overall() {
        crate::log::emit(
            crate::log::Level::Info,
            "batch.rate",
            &crate::human::run_rate_line(handled, elapsed),
            &[
                ("handled", handled.into()),
                ("elapsed_ms", (elapsed.as_millis() as u64).into()),
            ],
        );
    }
    let facts = RunFacts {
        dry_run: false,
        interrupted: report.interrupted,
        skipped_rows,
    };
    print_summary(ledger.store().as_ref(), &report.summary, args.json, &facts).await?;
    let mut code = exit_code_of(&report.summary, report.interrupted);
    if code == exit::OK && skipped_rows > 0 {
        code = exit::NOT_PAID;
    }
    if let Some(url) = &notify_url {
        let notice = run_notice(
            ledger.store().as_ref(),
            &batch,
            report.summary.clone(),
            &facts,
            report.halted.clone(),
        )
        .await?;
        // A failure is a warning: the exit code stays the batch's.
        crate::notify::send(url, &notice).await;
    }
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(code)
}

/// The webhook of a run: `--notify`, else HONGBAO_NOTIFY_URL, else the
/// config's `notify_url` (empty values count as none).
pub(crate) fn notify_url(flag: Option<&str>, config: &Config) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(crate::notify::NOTIFY_URL_ENV).ok())
        .or_else(|| config.notify_url.as_ref().map(|u| u.0.clone()))
        .filter(|url| !url.trim().is_empty())
}

/// What the webhook is told about a run.
async fn run_notice(
    store: &dyn Store,
    batch: &str,
    summary: Summary,
    facts: &RunFacts,
    halted: Option<String>,
) -> Result<crate::notify::RunNotice, AppError> {
    let server = recorded_server(store).await?;
    Ok(crate::notify::RunNotice {
        batch: batch.to_owned(),
        sandbox: server.as_ref().is_some_and(|s| s.sandbox),
        server: server.map(|s| s.id),
        dry_run: facts.dry_run,
        interrupted: facts.interrupted,
        halted,
        skipped_rows: facts.skipped_rows,
        summary,
    })
}

/// Why a payout is unknown, for people: its error code, else the first
/// words of its last message (`no complete reply`, `in progress
/// (PROCESSING)`), else "no answer recorded". For display only: every
/// decision about the payout is the client's typed outcome.
fn unknown_cause(payout: &hongbao_ledger::Payout) -> String {
    if let Some(code) = payout.err_code.as_deref().filter(|c| !c.is_empty()) {
        return code.to_owned();
    }
    match payout.message.as_deref().map(str::trim) {
        Some(message) if !message.is_empty() => message
            .split(':')
            .next()
            .unwrap_or(message)
            .chars()
            .take(60)
            .collect(),
        _ => i18n::text("cause-sending"),
    }
}

/// Counts per cause, most frequent first: `SYSTEMERROR 9, timeout 3`.
fn causes_text(causes: &[String]) -> String {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for cause in causes {
        match counts.iter_mut().find(|(c, _)| c == cause) {
            Some((_, n)) => *n += 1,
            None => counts.push((cause.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(cause, n)| format!("{cause} {}", crate::human::count(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One warning for the batch's unknown payouts, counted by cause (and one
/// for its conflicts); with `-v`, one line per unknown row too.
async fn warn_by_cause(store: &dyn Store, batch: &str, verbose: u8) -> Result<(), AppError> {
    let payouts = store
        .payouts(&hongbao_ledger::PayoutFilter::default().with_batch(Some(batch.to_owned())))
        .await?;
    let unknown: Vec<&hongbao_ledger::Payout> = payouts
        .iter()
        .filter(|p| matches!(p.state, PayoutState::Unknown | PayoutState::Sending))
        .collect();
    if verbose > 0 {
        for payout in &unknown {
            crate::log::emit(
                crate::log::Level::Warn,
                "batch.unknown_row",
                &i18n::text_str(
                    "unknown-row",
                    &[
                        ("line", payout.line.to_string()),
                        ("bill", payout.bill.clone()),
                        ("cause", unknown_cause(payout)),
                    ],
                ),
                &[
                    ("line", payout.line.into()),
                    ("bill", payout.bill.clone().into()),
                    ("cause", unknown_cause(payout).into()),
                ],
            );
        }
    }
    if !unknown.is_empty() {
        let causes: Vec<String> = unknown.iter().map(|p| unknown_cause(p)).collect();
        let text = causes_text(&causes);
        crate::log::emit(
            crate::log::Level::Warn,
            "batch.unknown",
            &i18n::text_str(
                "unknown-by-cause",
                &[
                    ("rows", crate::human::count(unknown.len() as u64)),
                    ("causes", text.clone()),
                ],
            ),
            &[
                ("unknown", (unknown.len() as u64).into()),
                ("causes", text.into()),
            ],
        );
    }
    let conflicts = payouts
        .iter()
        .filter(|p| p.state == PayoutState::Conflict)
        .count() as u64;
    if conflicts > 0 {
        crate::log::emit(
            crate::log::Level::Warn,
            "batch.conflict",
            &i18n::text_str(
                "conflict-count",
                &[("rows", crate::human::count(conflicts))],
            ),
            &[("conflicts", conflicts.into())],
        );
    }
    Ok(())
}

/// Folds the WAL into the ledger file at the end of a command that wrote
/// it. Everything is already durable (in the -wal file), so a failure here
/// is only a warning.
async fn final_checkpoint(store: &dyn Store) {
    if let Err(e) = store.checkpoint().await {
        say!(Warn, @"journal.checkpoint", "{}: {e}", i18n::text("warning"));
    }
}

/// `server` and `sandbox` of a ledger as JSON (`null` when not recorded).
fn server_json(server: Option<&ServerId>) -> (serde_json::Value, serde_json::Value) {
    match server {
        Some(s) => (s.id.as_str().into(), s.sandbox.into()),
        None => (serde_json::Value::Null, serde_json::Value::Null),
    }
}

/// The `server:` line of status, reconcile and run output.
fn server_line(server: Option<&ServerId>) -> String {
    match server {
        Some(s) if s.sandbox => i18n::text_str("server-sandbox", &[("id", s.id.clone())]),
        Some(s) => i18n::text_str("server-real", &[("id", s.id.clone())]),
        None => i18n::text("server-unknown"),
    }
}

/// The server a ledger records (`None` for a migrated journal that did not).
async fn recorded_server(store: &dyn Store) -> Result<Option<ServerId>, AppError> {
    Ok(store
        .binding()
        .await?
        .map(|b| b.server)
        .filter(|s| !s.id.is_empty()))
}

/// What a summary says beside the ledger's counts.
#[derive(Debug, Default)]
struct RunFacts {
    /// Nothing was sent (`--dry-run`).
    dry_run: bool,
    /// The run was stopped by Ctrl-C.
    interrupted: bool,
    /// Rows left out by `--skip-invalid` (not in the ledger).
    skipped_rows: u64,
}

async fn print_summary(
    store: &dyn Store,
    summary: &Summary,
    json: bool,
    facts: &RunFacts,
) -> Result<(), AppError> {
    let server = recorded_server(store).await?;
    let sandbox = server.as_ref().is_some_and(|s| s.sandbox);
    let mut out = output::stdout();
    if json {
        let mut value = report::summary_json(summary);
        let (id, sandbox) = server_json(server.as_ref());
        if let Some(object) = value.as_object_mut() {
            object.insert("server".into(), id);
            object.insert("sandbox".into(), sandbox);
            object.insert("dry_run".into(), facts.dry_run.into());
            object.insert("interrupted".into(), facts.interrupted.into());
            object.insert("skipped_invalid_rows".into(), facts.skipped_rows.into());
        }
        writeln!(out, "{value}")?;
    } else {
        if sandbox {
            writeln!(out, "{}", i18n::text("sandbox-banner"))?;
        }
        writeln!(out, "{}", server_line(server.as_ref()))?;
        write!(out, "{}", i18n::summary_table(summary))?;
        if facts.skipped_rows > 0 {
            writeln!(
                out,
                "{:<22} {:>8}   {}",
                i18n::text("skipped"),
                facts.skipped_rows,
                i18n::text("skipped-why")
            )?;
        }
        if facts.interrupted {
            writeln!(out, "{}", i18n::text("interrupted"))?;
        }
    }
    Ok(())
}

/// Opens an existing ledger to read it (no lock). When there is none (or
/// it holds nothing yet) and another process holds its lock, that process
/// is creating it: say so instead.
/// The ledger a status or report reads: a PostgreSQL URL, or an existing
/// SQLite file.
async fn open_for_reading(args: &JournalArgs) -> Result<Box<dyn Store>, AppError> {
    if let Some(store) = open_existing_pg(args).await? {
        return Ok(store);
    }
    Ok(Box::new(open_existing(args)?))
}

/// An existing PostgreSQL ledger when `--journal` is a `postgres://` URL
/// (no lock: its transactions and fenced claims are safe to share);
/// `None` for a SQLite file.
async fn open_existing_pg(args: &JournalArgs) -> Result<Option<Box<dyn Store>>, AppError> {
    let location = args.journal.display().to_string();
    if !(location.starts_with("postgres://") || location.starts_with("postgresql://")) {
        return Ok(None);
    }
    #[cfg(feature = "postgres")]
    {
        let store = hongbao_ledger::postgres::PgStore::open(&location).await?;
        if store.binding().await?.is_none() {
            return Err(LedgerError::Empty {
                path: store.location().to_owned(),
            }
            .into());
        }
        Ok(Some(Box::new(store)))
    }
    #[cfg(not(feature = "postgres"))]
    Err(
        LedgerError::Unsupported("this hongbao was built without the `postgres` feature".into())
            .into(),
    )
}

fn open_existing(args: &JournalArgs) -> Result<SqliteStore, AppError> {
    match SqliteStore::open(&args.journal, SqliteOptions::default()) {
        Ok(store) => Ok(store),
        // A journal of an older hongbao: migrated in place (under the lock).
        Err(LedgerError::Schema { found, .. })
            if found
                .parse::<u32>()
                .is_ok_and(|v| (1..hongbao_ledger::sqlite::SCHEMA_VERSION).contains(&v)) =>
        {
            Ok(SqliteStore::open(
                &args.journal,
                SqliteOptions::new().with_lock(true),
            )?)
        }
        Err(e @ (LedgerError::Empty { .. } | LedgerError::NoBatch { .. })) => {
            Err(LedgerLock::holder(&args.journal).unwrap_or(e).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The batch a status, report or reconcile is about: `--batch`, else the
/// ledger's only batch, else the whole ledger.
async fn chosen_batch(store: &dyn Store, args: &JournalArgs) -> Result<Option<String>, AppError> {
    if let Some(batch) = &args.batch {
        if store.batch(batch).await?.is_none() {
            return Err(LedgerError::NoSuchBatch(batch.clone()).into());
        }
        return Ok(Some(batch.clone()));
    }
    let batches = store.batches().await?;
    Ok(match batches.as_slice() {
        [only] => Some(only.name.clone()),
        _ => None,
    })
}

async fn batch_status(args: &JournalArgs) -> Result<u8, AppError> {
    let opened = open_for_reading(args).await?;
    let store: &dyn Store = opened.as_ref();
    let batch = chosen_batch(store, args).await?;
    let summary = store.summary(batch.as_deref()).await?;
    print_summary(store, &summary, args.json, &RunFacts::default()).await?;
    Ok(exit_code_of(&summary, false))
}

async fn batch_reconcile(
    cli: &Cli,
    args: &JournalArgs,
    bind_server: bool,
    refresh_only: bool,
) -> Result<u8, AppError> {
    // Reconcile writes the ledger. A PostgreSQL ledger is shared safely
    // (fenced claims); a SQLite file is locked like a run, and a missing
    // one is reported before any lock file is made for it.
    let store: Arc<dyn Store> = match open_existing_pg(args).await? {
        Some(store) => Arc::from(store),
        None => {
            if std::fs::symlink_metadata(&args.journal).is_err() {
                return Err(LedgerLock::holder(&args.journal)
                    .unwrap_or(LedgerError::Empty {
                        path: args.journal.display().to_string(),
                    })
                    .into());
            }
            Arc::new(SqliteStore::open(
                &args.journal,
                SqliteOptions::new().with_lock(true),
            )?)
        }
    };
    let session = connect(cli, None).await?;
    let binding = Binding::new(
        session.config.mch_id.clone(),
        session.config.appid.clone(),
        server_of(&session),
    );
    let ledger = Ledger::from_store(
        store,
        binding,
        LedgerOptions::default()
            .bill_prefix(session.config.bill_prefix())
            .adopt_unrecorded_server(bind_server),
    )
    .await?;
    let batch = chosen_batch(ledger.store().as_ref(), args).await?;
    let mut progress = ConsoleProgress::new(true);
    let found = batch::reconcile(
        &ledger,
        &session.client,
        batch.as_deref(),
        8,
        refresh_only,
        &mut progress,
    )
    .await?;
    final_checkpoint(ledger.store().as_ref()).await;
    for line in &found.disagreements {
        say!(Warn, @"reconcile.disagreement", "{}: {line}", i18n::text("disagreement"));
    }
    say!(Info, @"reconcile.queried", "{}", tr("queried", &[("rows", &found.queried)]));
    print_summary(
        ledger.store().as_ref(),
        &found.summary,
        args.json,
        &RunFacts::default(),
    )
    .await?;
    let mut code = exit_code_of(&found.summary, false);
    if code == exit::OK && !found.disagreements.is_empty() {
        say!(
            Warn, @"reconcile.disagreements",
            "{}",
            tr("disagreements", &[("rows", &found.disagreements.len())])
        );
        code = exit::NOT_PAID;
    }
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(code)
}

async fn batch_report(report_args: &ReportArgs) -> Result<u8, AppError> {
    let args = &report_args.journal;
    let opened = open_for_reading(args).await?;
    let store: &dyn Store = opened.as_ref();
    let batch = chosen_batch(store, args).await?;
    // The CSV keeps its columns; the server goes to stderr (and into --json).
    let server = recorded_server(store).await?;
    if server.as_ref().is_some_and(|s| s.sandbox) {
        say!(Info, @"report.sandbox", "{}", i18n::text("sandbox-banner"));
    }
    say!(Info, @"report.server", "{}", server_line(server.as_ref()));
    if let Some(path) = &report_args.csv {
        output::write_excel_csv(store, batch.as_deref(), path).await?;
        say!(Info, @"report.written", "{}", tr("wrote", &[("path", &path.display())]));
    }
    if let Some(path) = &report_args.xlsx {
        output::write_xlsx(store, batch.as_deref(), path).await?;
        say!(Info, @"report.written", "{}", tr("wrote", &[("path", &path.display())]));
    }
    if args.json {
        report::write_json(store, batch.as_deref(), output::stdout()).await?;
    } else if report_args.csv.is_none() && report_args.xlsx.is_none() {
        report::write_csv(store, batch.as_deref(), output::stdout()).await?;
    }
    Ok(exit::OK)
}
