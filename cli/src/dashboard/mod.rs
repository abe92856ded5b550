//! The web dashboard (not built yet).

use crate::Env;

/// Serves the dashboard on `address` until interrupted.
pub async fn serve(env: Env, address: &str) -> anyhow::Result<()> {
    let _ = env;
    anyhow::bail!("the dashboard is not built yet (asked to listen on {address})")
}
