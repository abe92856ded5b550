//! Readiness checks the program adds: what `GET /health/ready` runs (see the server's probes).

use std::future::Future;

use super::Service;
use super::hooks::erased;
use crate::BoxError;

impl Service {
    /// Adds a readiness check named `name`: `GET /health/ready` (and `/health`) answers 503,
    /// naming it and its error, while it fails or takes more than 2 s. Checks run on each
    /// probe, concurrently.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), micro::service::Error> {
    /// micro::Service::new("orders")
    ///     .check("db", || async { ping_the_database().await })
    ///     .run()
    ///     .await
    /// # }
    /// # async fn ping_the_database() -> Result<(), std::io::Error> { Ok(()) }
    /// ```
    pub fn check<F, Fut, E>(mut self, name: impl Into<String>, check: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.checks.push((name.into(), erased(check)));
        self
    }
}
