//! One module per subcommand.

pub mod auth;
mod auth_rules;
mod call;
pub mod config;
mod describe;
mod dynamic;
mod health;
mod mcp;
mod mucp;
mod new;
mod plugin;
mod publish;
mod services;
pub mod store;
mod stream;

use micro::Code;
use micro::dynamic::Method;

use crate::cli::CallArgs;
use crate::{Cli, Command, Env};

/// Runs the command `cli` names.
pub(super) async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    match &command {
        Command::New(args) => return new::run(global.output, args),
        Command::External(words) if plugin::run(words)? => return Ok(()),
        Command::Store(args) => return store::run(global.output, args).await,
        Command::Config(args) => return config::run(global.output, args).await,
        Command::Auth(args) => return auth::run(global.output, args).await,
        _ => {}
    }
    let env = Env::new(&global)?;
    match command {
        Command::New(_) | Command::Store(_) | Command::Config(_) | Command::Auth(_) => Ok(()),
        Command::External(words) => dynamic::run(&env, &words).await,
        Command::Services => services::run(&env).await,
        Command::Describe(args) => describe::run(&env, &args).await,
        Command::Call(args) => call::run(&env, &args).await,
        Command::Stream(args) => stream::run(&env, &args).await,
        Command::Publish(args) => publish::run(&env, &args).await,
        Command::Health(args) => health::run(&env, &args).await,
        Command::Gateway(args) => crate::gateway::serve(env, &args).await,
        Command::Dashboard(args) => crate::dashboard::serve(env, &args).await,
        Command::Mcp(args) => mcp::run(env, args).await,
        Command::Run(args) => crate::runner::run(env, args).await,
    }
}

/// The method a call names, with descriptors fetched by reflection from a node (the one at
/// `--address`, if given).
async fn method(env: &Env, args: &CallArgs) -> anyhow::Result<Method> {
    let fail = |status: micro::Status| call_error(env, &args.service, &status);
    match &args.address {
        Some(address) => {
            micro::dynamic::Descriptors::fetch(&env.client, &args.service, Some(address))
                .await
                .map_err(fail)?
                .method(&args.endpoint)
                .map_err(fail)
        }
        None => env
            .catalog
            .method(&args.service, &args.endpoint)
            .await
            .map_err(fail),
    }
}

/// A failed call as an error for people: the status, and what to do about a service that
/// cannot be found.
fn call_error(env: &Env, service: &str, status: &micro::Status) -> anyhow::Error {
    let code = status.code();
    let message = status.message();
    match code {
        Code::NotFound if message.contains("registry") => {
            anyhow::anyhow!("{message}\n{}", env.not_found_hint())
        }
        Code::Unavailable if message.contains(service) => {
            anyhow::anyhow!(
                "{message}\n(is {service} running? `micro health {service}` checks its nodes)"
            )
        }
        _ => anyhow::anyhow!("{}: {message}", code_name(code)),
    }
}

/// gRPC's name for a code, e.g. `NOT_FOUND`.
fn code_name(code: Code) -> String {
    let name = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
