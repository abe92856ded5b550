//! The API gateway: HTTP/JSON to any registered service (not built yet).

use crate::Env;

/// Serves the gateway on `address` until interrupted.
pub async fn serve(env: Env, address: &str) -> anyhow::Result<()> {
    let _ = env;
    anyhow::bail!("the gateway is not built yet (asked to listen on {address})")
}
