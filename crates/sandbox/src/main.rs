//! `hongbao-sandbox`: a local emulator of the WeChat Pay marketing-transfers
//! server. Prints one JSON line with the URL and certificate files, then
//! serves until SIGINT/SIGTERM. See `hongbao-sandbox --help`.
// Not a published API (a binary: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

use std::process::ExitCode;

use clap::Parser;
use hongbao_sandbox::{SandboxArgs, run_from_args};

/// A faithful local emulator of the WeChat Pay server for red packets,
/// WeCom payouts and transfers.
#[derive(Debug, Parser)]
#[command(name = "hongbao-sandbox", version, about)]
struct Cli {
    #[command(flatten)]
    args: SandboxArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_from_args(cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hongbao-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}
