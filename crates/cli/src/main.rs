//! The `hongbao` binary. See `hongbao --help`; exit codes are documented in
//! [`hongbao_cli::exit`].
// Not a published API (a binary: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

use clap::Parser;
use hongbao_cli::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    hongbao_cli::i18n::init(hongbao_cli::i18n::detect(cli.lang, &|name| {
        std::env::var(name).ok()
    }));
    if !matches!(cli.command, Command::Sandbox(_)) {
        let level = match cli.verbose {
            0 => "warn",
            1 => "debug",
            _ => "trace",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("HONGBAO_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            // No ANSI codes into a file or a pipe (nor with NO_COLOR set).
            .with_ansi(hongbao_cli::output::colour_on_stderr())
            .with_env_filter(filter)
            .try_init();
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
