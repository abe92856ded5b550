//! `micro <name> …`: runs the plugin `micro-<name>` from `PATH`, as go-micro's CLI does
//! (before trying `<name>` as a service, [`super::dynamic`]).

use std::process::Command;

use anyhow::{Context as _, anyhow, bail};

/// Runs `micro-<words[0]>` with the other words as its arguments, with this process's
/// environment and standard streams, and fails as it fails; `false` if there is no such
/// plugin on `PATH`.
pub(super) fn run(words: &[String]) -> anyhow::Result<bool> {
    let (name, args) = words
        .split_first()
        .ok_or_else(|| anyhow!("no command given; `micro --help` lists them"))?;
    let program = format!("micro-{name}");
    let status = match Command::new(&program).args(args).status() {
        Ok(status) => status,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).with_context(|| format!("cannot run {program}")),
    };
    if !status.success() {
        bail!("{program} failed ({status})");
    }
    Ok(true)
}
