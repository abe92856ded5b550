//! The default log output for services that have not set up `tracing` themselves.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs a compact stderr subscriber unless the program already installed one. The level
/// comes from `MICRO_LOG_LEVEL` (`debug`, `info`, …, or a full `RUST_LOG`-style filter), then
/// `RUST_LOG`, then `info`.
pub(crate) fn init() {
    let filter = std::env::var("MICRO_LOG_LEVEL")
        .ok()
        .and_then(|level| EnvFilter::try_new(level).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A closed stderr (`2>&-`, a log collector gone) loses log lines; reporting that on
        // stderr would fail too, and panic.
        .log_internal_errors(false)
        .try_init();
}
