//! One module per subcommand.

use crate::{Cli, Command, Env};

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    if let Command::New(args) = command {
        anyhow::bail!("`micro new {}` is not built yet", args.name);
    }
    let env = Env::new(&global)?;
    match command {
        Command::New(_) => unreachable!("handled above"),
        Command::Gateway(args) => crate::gateway::serve(env, &args.address).await,
        Command::Dashboard(args) => crate::dashboard::serve(env, &args.address).await,
        other => anyhow::bail!("`{other:?}` is not built yet"),
    }
}
