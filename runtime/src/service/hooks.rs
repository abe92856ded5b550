//! Lifecycle hooks, as go-micro's `BeforeStart`, `AfterStart`, `BeforeStop` and `AfterStop`:
//! async functions a service runs around starting and stopping.
//!
//! A failing start hook stops the start with an error naming the hook; a failing stop hook is
//! logged, and the shutdown goes on.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::{Error, ErrorKind, Service};
use crate::BoxError;
use crate::server::Check;

/// One hook, type-erased: the same shape as a readiness check.
type Hook = Check;

/// `f` type-erased, its error boxed: a hook or a readiness check.
pub(super) fn erased<F, Fut, E>(f: F) -> Check
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Arc::new(move || {
        let run = f();
        Box::pin(async move { run.await.map_err(Into::into) })
    })
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Before the port opens; a failure aborts the start.
    BeforeStart,
    /// Once the service serves, is registered and its subscribers run; a failure stops it
    /// and fails the start.
    AfterStart,
    /// When stopping, before health turns `NOT_SERVING` and the node deregisters.
    BeforeStop,
    /// Once the server has drained and stopped.
    AfterStop,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::BeforeStart => "before_start",
            Stage::AfterStart => "after_start",
            Stage::BeforeStop => "before_stop",
            Stage::AfterStop => "after_stop",
        })
    }
}

/// A service's hooks, by stage, in the order they were added.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    hooks: Vec<(Stage, Hook)>,
}

impl Hooks {
    /// Runs the hooks of `stage` in order; the first failure ends the run, and is the error.
    pub(crate) async fn run(&self, stage: Stage, service: &str) -> Result<(), Error> {
        for (index, hook) in self.of(stage).enumerate() {
            hook().await.map_err(|err| {
                let message = format!(
                    "the {stage} hook #{} of service {service} failed: {err}",
                    index + 1
                );
                Error::new(ErrorKind::Hook, message).with_source(err)
            })?;
        }
        Ok(())
    }

    /// Runs every hook of `stage`, logging failures: a stop goes on whatever they say.
    pub(crate) async fn run_logged(&self, stage: Stage, service: &str) {
        for (index, hook) in self.of(stage).enumerate() {
            if let Err(err) = hook().await {
                tracing::warn!(
                    service,
                    hook = index + 1,
                    error = %err,
                    "the {stage} hook failed; stopping goes on"
                );
            }
        }
    }

    fn of(&self, stage: Stage) -> impl Iterator<Item = &Hook> {
        (self.hooks.iter())
            .filter(move |(of, _)| *of == stage)
            .map(|(_, hook)| hook)
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stages: Vec<Stage> = self.hooks.iter().map(|(stage, _)| *stage).collect();
        f.debug_struct("Hooks").field("stages", &stages).finish()
    }
}

impl Service {
    /// Runs `hook` before the service starts, after earlier `before_start` hooks; if it fails,
    /// the service does not start and [`start`](Self::start) returns its error.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), micro::service::Error> {
    /// micro::Service::new("orders")
    ///     .before_start(|| async { check_the_database().await })
    ///     .after_stop(|| async { Ok::<_, std::io::Error>(()) })
    ///     .run()
    ///     .await
    /// # }
    /// # async fn check_the_database() -> Result<(), std::io::Error> { Ok(()) }
    /// ```
    pub fn before_start<F, Fut, E>(self, hook: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hook(Stage::BeforeStart, hook)
    }

    /// Runs `hook` once the service serves, is registered and runs its subscribers; if it
    /// fails, the service is stopped and [`start`](Self::start) returns its error.
    pub fn after_start<F, Fut, E>(self, hook: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hook(Stage::AfterStart, hook)
    }

    /// Runs `hook` when the service starts stopping, while it still serves and is registered;
    /// a failure is logged and stopping goes on.
    pub fn before_stop<F, Fut, E>(self, hook: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hook(Stage::BeforeStop, hook)
    }

    /// Runs `hook` once the service has drained and stopped; a failure is logged.
    pub fn after_stop<F, Fut, E>(self, hook: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hook(Stage::AfterStop, hook)
    }

    fn hook<F, Fut, E>(mut self, stage: Stage, hook: F) -> Service
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hooks.hooks.push((stage, erased(hook)));
        self
    }
}
