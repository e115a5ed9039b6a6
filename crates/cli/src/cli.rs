//! Command-line arguments (clap).

use crate::payout::Kind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Pay WeChat red packets, WeCom payouts and transfers — one at a time or a
/// whole CSV file exactly once — and debug SIGN_ERROR.
///
/// Secrets never come from flags: the API key is read from the environment
/// variable HONGBAO_API_KEY or from `api_key_file` in the config; the WeCom
/// app secret from HONGBAO_WORKWX_SECRET or `workwx_secret_file`.
///
/// Exit codes: 0 all paid / success; 1 some not paid; 2 invalid input,
/// nothing sent; 3 some outcomes unknown (rerun to resolve); 4 configuration,
/// journal or I/O error; 130 interrupted (rerun to resume).
#[derive(Debug, Parser)]
#[command(name = "hongbao", version, about, long_about)]
pub struct Cli {
    /// Config file (TOML). Without one (and without HONGBAO_CONFIG), an
    /// embedded sandbox is started and used.
    #[arg(long, global = true, env = "HONGBAO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start the embedded sandbox in-process and pay through it (no account
    /// needed; no real money moves).
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// More log output (-v: debug, -vv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the WeChat Pay emulator (same flags and JSON start line as `hongbao-sandbox`).
    Sandbox(hongbao_sandbox::SandboxArgs),
    /// Make one payout and print its outcome.
    Send(SendArgs),
    /// Ask WeChat for the status of a payout by bill number.
    Query(QueryArgs),
    /// SIGN_ERROR debugger: read a request (XML or JSON object) on stdin, print
    /// the string to sign (key masked) and the signature, and diagnose a
    /// mismatch with the request's own sign.
    Sign(SignArgs),
    /// Batch payouts from a CSV file, exactly once, with a journal.
    #[command(subcommand)]
    Batch(BatchCommand),
}

/// Text fields shared by `send` (flags) and batch rows (columns).
#[derive(Debug, Clone, Default, Args)]
pub struct TextArgs {
    /// Sender name (red packets).
    #[arg(long)]
    pub send_name: Option<String>,
    /// Activity / project name.
    #[arg(long)]
    pub act_name: Option<String>,
    /// Blessing (red packets).
    #[arg(long)]
    pub wishing: Option<String>,
    /// Remark (red packets).
    #[arg(long)]
    pub remark: Option<String>,
    /// WeCom red packets: send in this person's name.
    #[arg(long)]
    pub sender_name: Option<String>,
    /// WeCom: send in the name of this app id.
    #[arg(long)]
    pub agentid: Option<String>,
    /// Description (transfers, pay to employee).
    #[arg(long)]
    pub desc: Option<String>,
    /// scene_id (red packets below 1 or above 200 yuan), e.g. PRODUCT_4.
    #[arg(long)]
    pub scene_id: Option<String>,
}

/// `hongbao send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// What to pay.
    #[arg(value_enum)]
    pub kind: Kind,
    /// Recipient openid.
    #[arg(long, value_name = "OPENID")]
    pub to: String,
    /// Amount in yuan, e.g. 1.00.
    #[arg(long, value_name = "YUAN")]
    pub amount: String,
    /// Bill number (generated when absent). Reuse it to retry the same payment.
    #[arg(long, value_name = "NO")]
    pub bill: Option<String>,
    /// Real name: turns on FORCE_CHECK (transfers, pay to employee).
    #[arg(long)]
    pub name: Option<String>,
    /// Text fields.
    #[command(flatten)]
    pub texts: TextArgs,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `hongbao query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What kind of payout the bill number belongs to.
    #[arg(value_enum)]
    pub kind: Kind,
    /// The bill number (mch_billno / partner_trade_no).
    pub bill: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Which WeCom signature to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkwxArg {
    /// `sendworkwxredpack`.
    RedPacket,
    /// `paywwsptrans2pocket`.
    PayEmployee,
}

/// `hongbao sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Use HMAC-SHA256 instead of MD5 for the main sign.
    #[arg(long, conflicts_with = "workwx")]
    pub hmac: bool,
    /// Compute the WeCom `workwx_sign` (with the WeCom app secret) instead.
    #[arg(long, value_enum)]
    pub workwx: Option<WorkwxArg>,
    /// Print `{"string_to_sign":…,"sign":…}`.
    #[arg(long)]
    pub json: bool,
}

/// `hongbao batch …`.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Validate, plan and pay a CSV file; rerun the same command to resume.
    Run(RunArgs),
    /// Print the journal's summary table.
    Status(JournalArgs),
    /// Query WeChat for every row that is not final (sending, unknown) and
    /// record the answers; sends nothing.
    Reconcile(JournalArgs),
    /// Write the per-row report (`--json` to stdout, or `--csv FILE`).
    Report(JournalArgs),
    /// Ask WeChat about sent red packets and record which were opened
    /// (received) or came back unopened (refunded), with their times.
    Refresh(JournalArgs),
}

/// `hongbao batch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The CSV file: header `openid,amount` plus optional `bill`, `name`, `send_name`,
    /// `act_name`, `wishing`, `remark`, `sender_name`, `agentid`, `desc`, `scene_id`, `total_num`.
    pub file: PathBuf,
    /// What to pay.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The ledger (SQLite file): one per merchant and server, holding any
    /// number of batches; one process at a time (locked through
    /// `<journal>.lock`). Journals of older versions are migrated in place.
    #[arg(long, visible_alias = "ledger", value_name = "FILE")]
    pub journal: PathBuf,
    /// The batch in the ledger (default: the file's stem). Rerunning an
    /// edited file into the same batch pays its new and fixed rows only.
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// Validate and plan (bill numbers are written to the journal); send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Pay the valid rows even if some rows are invalid (the invalid ones are reported and left out).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Give rows that definitely failed (not_paid) a new bill number and pay them again.
    #[arg(long)]
    pub reissue_not_paid: bool,
    /// Pay red packets that came back unopened (refunded) again, under a new bill number.
    #[arg(long)]
    pub resend_refunded: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Override the config's rate limit (requests per minute; 0 = off).
    #[arg(long, value_name = "N")]
    pub rate_per_minute: Option<u32>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the final summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// For a journal written by an older hongbao, which did not record the
    /// server it paid through (such a journal is refused): record this run's
    /// server in it and go on. Only when you are sure it is that server.
    #[arg(long)]
    pub bind_server: bool,
}

/// `hongbao batch status|reconcile|report`.
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// The ledger (SQLite file).
    #[arg(long, visible_alias = "ledger", value_name = "FILE")]
    pub journal: PathBuf,
    /// The batch (default: the ledger's only batch, else the whole ledger).
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Write a CSV report to this file (report only).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Reconcile only. For a journal written by an older hongbao, which did
    /// not record the server it paid through (such a journal is refused):
    /// record this run's server in it and go on. Only when you are sure it
    /// is that server.
    #[arg(long)]
    pub bind_server: bool,
}
