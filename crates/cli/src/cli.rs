//! Command-line arguments (clap).

use crate::payout::Kind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Pay WeChat red packets, WeCom payouts and transfers — one at a time or a
/// whole CSV file exactly once — and debug SIGN_ERROR.
///
/// Commands that talk to WeChat Pay (send, query, batch run, batch
/// reconcile) need a configuration: `--config FILE` (or HONGBAO_CONFIG), or
/// HONGBAO_MCH_ID and HONGBAO_APPID with the other HONGBAO_* variables.
/// `--sandbox` pays through the built-in sandbox instead (no real money
/// moves; every output says so). Without either they refuse to run.
///
/// Settings come from flags, then `HONGBAO_<SETTING>` environment variables
/// (HONGBAO_MCH_ID, HONGBAO_APPID, HONGBAO_BASE_URL, HONGBAO_CLIENT_CERT,
/// HONGBAO_RATE_PER_MINUTE, … one per config setting), then the config file.
///
/// Secrets never come from flags: the API key is read from the environment
/// variable HONGBAO_API_KEY or from `api_key_file` in the config; the WeCom
/// app secret from HONGBAO_WORKWX_SECRET or `workwx_secret_file`.
///
/// Exit codes: 0 all paid / success; 1 some not paid; 2 invalid input (or
/// a batch over a cap, or with duplicate payees), nothing sent; 3 some
/// outcomes unknown (rerun to resolve); 4 configuration, journal or I/O
/// error, or a batch run not confirmed; 130 interrupted (rerun to resume).
#[derive(Debug, Parser)]
#[command(name = "hongbao", version, about, long_about)]
pub struct Cli {
    /// Config file (TOML). Commands that pay or query refuse to run without
    /// a configuration (this, HONGBAO_CONFIG, or HONGBAO_MCH_ID and
    /// HONGBAO_APPID) unless `--sandbox` is given.
    #[arg(long, global = true, env = "HONGBAO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pay through a sandbox started in-process (no account needed; no real
    /// money moves; every summary, report and JSON output is marked as
    /// sandbox).
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Language of the summary and messages: en or zh (Simplified Chinese).
    /// Default: from LC_ALL / LC_MESSAGES / LANG (zh_* is Chinese), else en.
    #[arg(long, global = true, value_enum, value_name = "LANG")]
    pub lang: Option<crate::i18n::Lang>,
    /// More log output (-v: debug, -vv: trace). Logs go to stderr. At the
    /// default level a batch run warns once with a count per cause (e.g.
    /// "3 payout(s) unknown: SYSTEMERROR 2, …"); -v adds one line per row.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Format of the log lines on stderr (warnings, progress, errors):
    /// `text` for people (the default), or `json`: one JSON object per line
    /// (`ts` RFC 3339, `level`, `event`, `message`, `fields`) for log
    /// collectors. Standard output is unchanged.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        env = "HONGBAO_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: crate::log::LogFormat,
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
    /// mismatch with the request's own sign: wrong algorithm, empty values or
    /// sign_type signed, trimmed values, unsorted fields (XML keeps the body
    /// order), the key appended without `&key=`, URL-encoded values
    /// (quote, quote_plus), text hashed as GBK. Without a key it still prints
    /// the string to sign (and exits 4).
    Sign(SignArgs),
    /// Batch payouts from a CSV or .xlsx file, exactly once, with a journal.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Pay whatever is due in a PostgreSQL ledger, from any process, until
    /// stopped (SIGTERM or Ctrl-C: the requests in flight are recorded
    /// first). Run any number of them, on any number of machines: claims
    /// are fenced leases and the merchant's rate limit is shared.
    Worker(WorkerArgs),
    /// Print a shell completion script, e.g.
    /// `hongbao completions bash > /etc/bash_completion.d/hongbao`.
    Completions(CompletionsArgs),
    /// Write the man pages (hongbao.1 and one per subcommand) into a
    /// directory (used by `cargo xtask man`).
    #[command(hide = true)]
    Man(ManArgs),
}

/// `hongbao worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The ledger: `postgres://user@host:port/db` (libpq URL options such
    /// as `sslmode=require`, `sslrootcert=FILE`, `pool_size=N`). A SQLite
    /// file works too, but only one process may use it.
    #[arg(long, visible_alias = "ledger", value_name = "URL")]
    pub journal: String,
    /// Requests in flight at once in this process.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Only this batch's payouts (default: every due payout of the ledger).
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// The merchant's rate limit shared by every worker of the ledger
    /// (requests per minute; default: the config's `rate_per_minute`; 0 = off).
    #[arg(long, value_name = "N")]
    pub rate_per_minute: Option<u32>,
    /// How long a claim holds, in seconds: a payout claimed by a worker
    /// that died is taken over (query first) after this.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_secs: u64,
    /// Pause between passes when nothing was due, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub idle_ms: u64,
    /// Give payouts that definitely failed (next step: a new bill) a new
    /// bill number and pay them again.
    #[arg(long)]
    pub reissue_not_paid: bool,
    /// Stop after one pass when nothing is due (for scripts and tests).
    #[arg(long)]
    pub exit_when_idle: bool,
    /// POST the summary (of `--batch`, else of the ledger) as JSON to this
    /// webhook when the worker stops, in the shape of a WeCom group bot
    /// (see `batch run --notify`). Default: HONGBAO_NOTIFY_URL, else the
    /// config's `notify_url`. A webhook failure is only a warning on stderr
    /// (the URL's query masked): it never changes the exit code.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
}

/// `hongbao completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `hongbao man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub out_dir: PathBuf,
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
    /// Group red packets: how many people can open a packet, sharer
    /// included (3–20; default 3 or the config's `total_num`). WeChat splits
    /// `--amount` (the TOTAL of the group) randomly over them, and the
    /// average per person must be 1–200 yuan: e.g. 3 packets need at least
    /// 3.00 yuan and at most 600.00.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(3..=20))]
    pub total_num: Option<u8>,
    /// Text fields.
    #[command(flatten)]
    pub texts: TextArgs,
    /// Print the outcome as JSON (only JSON on stdout).
    #[arg(long)]
    pub json: bool,
}

/// `hongbao query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What kind of payout the bill number belongs to.
    #[arg(value_enum)]
    pub kind: Kind,
    /// The bill number (mch_billno: up to 28, partner_trade_no: up to 32
    /// ASCII letters and digits); checked before anything is sent.
    pub bill: String,
    /// Print the outcome as JSON (only JSON on stdout).
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
    /// Validate, plan and pay a CSV or .xlsx file; rerun the same command to resume.
    Run(RunArgs),
    /// Print the journal's summary table.
    Status(JournalArgs),
    /// Query WeChat for every row that was sent (paid, not paid, sending,
    /// unknown, conflict), record the answers and report where WeChat
    /// disagrees with the journal; sends nothing. Exits 1 on a
    /// disagreement (3 while outcomes stay unknown).
    Reconcile(ReconcileArgs),
    /// Write the per-row report: CSV to stdout, `--json` to stdout,
    /// `--csv FILE` (for Excel: UTF-8 BOM, ids kept as text) and/or
    /// `--xlsx FILE`.
    Report(ReportArgs),
    /// Ask WeChat about sent red packets and record which were opened
    /// (received) or came back unopened (refunded), with their times.
    Refresh(JournalArgs),
}

/// `hongbao batch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The payout file: CSV (UTF-8, UTF-8 with BOM, or GB18030/GBK as Excel
    /// saves it on Chinese Windows) or an .xlsx workbook (first sheet).
    ///
    /// Header: `openid,amount` plus optional `bill`, `name`, `send_name`,
    /// `act_name`, `wishing`, `remark`, `sender_name`, `agentid`, `desc`,
    /// `scene_id`, `total_num`. Chinese headers are accepted: 收款人openid,
    /// 用户openid (openid); 金额, 金额(元), 金额（元）, 红包金额, 付款金额
    /// (amount); 单号, 商户订单号 (bill); 姓名, 真实姓名, 收款人姓名 (name);
    /// 商户名称 (send_name); 活动名称 (act_name); 祝福语 (wishing); 备注
    /// (remark); 发送者名称 (sender_name); 付款说明, 付款备注 (desc); 场景id
    /// (scene_id); 红包个数 (total_num). Other columns are ignored (with one
    /// note); empty rows and a trailing comma are fine.
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
    /// Pay the valid rows even if some rows are invalid (the invalid ones
    /// are reported, counted in the summary and left out; the exit code is
    /// then 1 at best).
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
    /// Print the final summary as JSON (only JSON on stdout; with fields
    /// `dry_run`, `sandbox`, `interrupted`, `skipped_invalid_rows`).
    #[arg(long)]
    pub json: bool,
    /// For a journal written by an older hongbao, which did not record the
    /// server it paid through (such a journal is refused): record this run's
    /// server in it and go on. Only when you are sure it is that server.
    #[arg(long)]
    pub bind_server: bool,
    /// Confirm the plan without being asked (for scripts). Before sending,
    /// the run shows its plan (rows, total, largest amount, kind, duplicate
    /// payees) and, on a terminal, asks "pay N rows, X yuan? [y/N]";
    /// without a terminal and without --yes it refuses (exit 4). Not needed
    /// with --dry-run or --sandbox (no money moves).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Refuse the file (exit 2, nothing sent) if a row to pay is over this
    /// amount in yuan (default: the config's `max_amount`, HONGBAO_MAX_AMOUNT).
    #[arg(long, value_name = "YUAN")]
    pub max_amount: Option<String>,
    /// Refuse the run (exit 2, nothing sent) if the rows to pay total more
    /// than this in yuan (default: the config's `max_total`, HONGBAO_MAX_TOTAL).
    #[arg(long, value_name = "YUAN")]
    pub max_total: Option<String>,
    /// Pay a payee (openid) who appears more than once in the file. Without
    /// it such a file is refused (exit 2, nothing sent), unless a `key`
    /// column gives the rows distinct keys.
    #[arg(long)]
    pub allow_duplicates: bool,
    /// POST the run's summary as JSON to this webhook when the run ends,
    /// in the shape of a WeCom group bot (`{"msgtype":"markdown",…}`: batch,
    /// paid, not paid, unknown, conflicts, skipped rows; marked SANDBOX for
    /// a sandbox run). Default: HONGBAO_NOTIFY_URL, else the config's
    /// `notify_url` (prefer those: a URL on the command line is visible to
    /// other users of the machine). A webhook failure is only a warning on
    /// stderr (the URL's query masked): it never changes the exit code.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
}

/// `hongbao batch status` (and the journal part of reconcile and report).
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// The ledger (SQLite file).
    #[arg(long, visible_alias = "ledger", value_name = "FILE")]
    pub journal: PathBuf,
    /// The batch (default: the ledger's only batch, else the whole ledger).
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// JSON output (only JSON on stdout).
    #[arg(long)]
    pub json: bool,
}

/// `hongbao batch reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The journal and output.
    #[command(flatten)]
    pub journal: JournalArgs,
    /// For a journal written by an older hongbao, which did not record the
    /// server it paid through (such a journal is refused): record this run's
    /// server in it and go on. Only when you are sure it is that server.
    #[arg(long)]
    pub bind_server: bool,
}

/// `hongbao batch report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal and output.
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Write the report as CSV for Excel to this file: UTF-8 with a BOM,
    /// bill numbers and WeChat ids written as ="…" so that Excel keeps
    /// every digit (stdout CSV stays plain, for scripts).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the report as an Excel workbook (.xlsx) to this file, ids as text.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
}
