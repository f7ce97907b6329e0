//! The `devsim` command: parses arguments and dispatches to a subcommand.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = devsim::cli::Cli::parse();
    devsim::cli::init_tracing(&cli.log);
    devsim::cli::dispatch(cli)
}
