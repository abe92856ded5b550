//! The `micro` command: list, describe and call services through the registry (with gRPC
//! reflection, so no generated code is needed), publish messages, check health, scaffold new
//! services, and run the HTTP/JSON API gateway and the web dashboard.
//!
//! The binary is a thin `main` over [`run`]; tests and other tools use the library.

mod cli;
pub mod commands;
pub mod dashboard;
mod endpoint_name;
mod env;
pub mod gateway;
mod go_type;
mod listen;
pub mod mcp;
mod output;
mod reply;
pub mod runner;
pub mod schema;

pub use cli::{Cli, Command, Global};
pub use env::Env;
pub use output::Output;

use std::process::ExitCode;

/// Runs one `micro` command; errors are printed for people (or as JSON with `--output json`)
/// and end in a non-zero exit code.
pub async fn run(cli: Cli) -> ExitCode {
    init_logging(cli.global.verbose);
    let output = cli.global.output;
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output.error(&err);
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MICRO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: log files and pipes get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .try_init();
}
