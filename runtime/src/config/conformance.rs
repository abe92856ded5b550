//! The hot-reload contract every watched [`Source`] must keep, as one suite to run against each
//! (memory in the unit tests, files and etcd in `runtime/tests/config_*.rs`).
//!
//! It panics with a description of the first behaviour that is wrong.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use super::{BoxFuture, Config, ErrorKind, Memory, Source, Watcher};

/// How long a change may take to arrive.
const DEADLINE: Duration = Duration::from_secs(10);

/// A source under test whose content the suite can change.
pub trait Fixture: Send + Sync {
    /// A new source reading the fixture's content.
    fn source(&self) -> Box<dyn Source>;

    /// Replaces the content with `tree` (a JSON object).
    fn set<'a>(&'a self, tree: &'a Value) -> BoxFuture<'a, ()>;

    /// Makes the content unparsable; `false` when this source cannot hold broken content.
    fn corrupt(&self) -> BoxFuture<'_, bool>;
}

/// Runs every check against the source `fixture` makes.
pub async fn run(fixture: &dyn Fixture) {
    let name = fixture.source().describe();
    fixture
        .set(&json!({"server": {"port": 1, "name": "a"}}))
        .await;
    let config = Config::builder()
        .source(Memory::new(json!({"server": {"port": 0, "timeout": 5}})))
        .boxed_source(fixture.source())
        .build()
        .await
        .unwrap_or_else(|err| panic!("config conformance ({name}): build failed: {err}"));
    let mut run = Run {
        fixture,
        port: config.watch("server.port"),
        config,
        name,
    };
    run.sources_merge_over_defaults();
    run.changes_reach_watchers().await;
    run.broken_changes_keep_the_last_good().await;
    run.watchers_end_with_their_config().await;
}

struct Run<'a> {
    fixture: &'a dyn Fixture,
    config: Config,
    port: Watcher,
    name: String,
}

impl Run<'_> {
    fn get(&self, path: &str) -> Value {
        self.config.get::<Value>(path).unwrap_or(Value::Null)
    }

    /// Sets `tree` and waits for `server.port` to become `port`.
    async fn set_and_wait(&mut self, tree: Value, port: Value, what: &str) {
        self.fixture.set(&tree).await;
        wait_for(&mut self.port, port, &self.name, what).await;
    }

    fn sources_merge_over_defaults(&self) {
        let name = &self.name;
        let (port, timeout) = (self.get("server.port"), self.get("server.timeout"));
        assert_eq!(port, json!(1), "{name}: the source overrides the defaults");
        assert_eq!(
            timeout,
            json!(5),
            "{name}: defaults fill what the source lacks"
        );
    }

    async fn changes_reach_watchers(&mut self) {
        let mut all = self.config.watch("");
        let version = self.config.version();
        let changed = json!({"server": {"port": 2, "name": "a"}});
        self.set_and_wait(changed, json!(2), "a changed value reaches a watcher")
            .await;
        let whole = json!({"server": {"port": 2, "name": "a", "timeout": 5}});
        let what = "the whole-config watcher sees the change";
        wait_for(&mut all, whole, &self.name, what).await;
        let name = &self.name;
        assert!(
            self.config.version() > version,
            "{name}: a change bumps the version"
        );

        let removed = json!({"server": {"name": "a"}});
        self.set_and_wait(
            removed,
            json!(0),
            "a removed value falls back to the defaults",
        )
        .await;
        let again = json!({"server": {"port": 3, "name": "b"}});
        self.set_and_wait(again, json!(3), "a value set again reaches the watcher")
            .await;
    }

    async fn broken_changes_keep_the_last_good(&mut self) {
        if !self.fixture.corrupt().await {
            return;
        }
        let config = &self.config;
        let what = "a broken change is reported by last_error";
        wait_until(|| async { config.last_error().is_some() }, &self.name, what).await;
        let name = &self.name;
        let last_good = (self.get("server.port"), self.get("server.name"));
        assert_eq!(
            last_good,
            (json!(3), json!("b")),
            "{name}: a broken change keeps the last good config"
        );
        let good = json!({"server": {"port": 4, "name": "b"}});
        let what = "the next good change after a broken one is applied";
        self.set_and_wait(good, json!(4), what).await;
        let name = &self.name;
        let error = self.config.last_error();
        assert_eq!(error, None, "{name}: a good change clears last_error");
    }

    async fn watchers_end_with_their_config(self) {
        let Run {
            config,
            mut port,
            name,
            ..
        } = self;
        drop(config);
        let closed = tokio::time::timeout(DEADLINE, async {
            loop {
                if let Err(err) = port.next().await {
                    return err.kind();
                }
            }
        })
        .await;
        let closed = closed.ok();
        let expected = Some(ErrorKind::Closed);
        assert_eq!(
            closed, expected,
            "{name}: a watcher ends when its config is dropped"
        );
    }
}

/// Waits until the watcher yields `expected` (values on the way are skipped).
async fn wait_for(watcher: &mut Watcher, expected: Value, name: &str, what: &str) {
    if watcher.current().as_ref() == Some(&expected) {
        return;
    }
    let mut seen = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            match watcher.next().await {
                Ok(value) if value == expected => return true,
                Ok(value) => seen.push(value),
                Err(_) => return false,
            }
        }
    })
    .await;
    assert!(
        found == Ok(true),
        "config conformance ({name}): {what}: expected {expected} at {}, saw {seen:?}",
        watcher.path()
    );
}

/// Polls `check` until it holds.
async fn wait_until<F: Future<Output = bool>>(
    mut check: impl FnMut() -> F,
    name: &str,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "config conformance ({name}): {what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct MemoryFixture(Memory);

    impl Fixture for MemoryFixture {
        fn source(&self) -> Box<dyn Source> {
            Box::new(self.0.clone())
        }

        fn set<'a>(&'a self, tree: &'a Value) -> BoxFuture<'a, ()> {
            self.0.set(tree.clone());
            Box::pin(async {})
        }

        fn corrupt(&self) -> BoxFuture<'_, bool> {
            // Memory refuses a top level that is not an object, as a parse error would be.
            self.0.set(json!("not an object"));
            Box::pin(async { true })
        }
    }

    #[tokio::test]
    async fn memory_keeps_the_contract() {
        run(&MemoryFixture(Memory::new(json!({})))).await;
    }
}
