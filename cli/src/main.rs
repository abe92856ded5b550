//! `micro`: the command line of micro-rs. See `micro --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    micro_cli::run(micro_cli::Cli::parse()).await
}
