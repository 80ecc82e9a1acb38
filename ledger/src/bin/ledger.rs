//! `ledger`: checks the oracle's reward ledger and hotspots' claims offline, without the
//! oracle or its dependencies.

use clap::Parser;
use ledger::cli::{run, LedgerCommand};

/// Checks the signed, hash-chained reward ledger offline.
#[derive(Parser)]
#[command(name = "ledger", version, about)]
struct Cli {
    #[command(subcommand)]
    command: LedgerCommand,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
