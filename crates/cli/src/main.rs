//! The `hongbao` binary. See `hongbao --help`; exit codes are documented in
//! [`hongbao_cli::exit`].
// Not a published API (a binary: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

use clap::FromArgMatches;
use hongbao_cli::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    // The language first: `--help` is written in it.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let lang = hongbao_cli::i18n::detect(hongbao_cli::help::lang_in_args(&args), &|name| {
        std::env::var(name).ok()
    });
    hongbao_cli::i18n::init(lang);
    let mut command = hongbao_cli::help::command(lang);
    let matches = command
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| e.exit());
    if let Some(e) = hongbao_cli::help::check_sandbox_args(&mut command, &matches) {
        e.exit();
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit());
    hongbao_cli::log::init(cli.log_format);
    if !matches!(cli.command, Command::Sandbox(_)) {
        init_tracing(cli.verbose);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(hongbao_cli::exit::ERROR);
        }
    };
    let code = runtime.block_on(hongbao_cli::app::run(cli));
    std::process::ExitCode::from(code)
}

/// Library logs on stderr: `warn` by default (`-v` debug, `-vv` trace, or
/// HONGBAO_LOG), as text or as JSON lines (`--log-format json`). At the
/// default level the client's per-row outcome warnings are left out: the
/// batch run warns once with a count per cause instead (`-v` shows them).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let from_env = tracing_subscriber::EnvFilter::try_from_env("HONGBAO_LOG");
    let per_row_hidden = verbose == 0 && from_env.is_err();
    let filter = from_env.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let per_row = tracing_subscriber::filter::filter_fn(move |meta| {
        !(per_row_hidden
            && meta.is_event()
            && meta.target() == "hongbao::client"
            && meta.fields().field("outcome").is_some())
    });
    let json = hongbao_cli::log::is_json();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // No ANSI codes into a file or a pipe (nor with NO_COLOR set).
        .with_ansi(!json && hongbao_cli::output::colour_on_stderr());
    let layer = if json {
        layer.event_format(hongbao_cli::log::JsonFormat).boxed()
    } else {
        layer.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(per_row))
        .try_init();
}
