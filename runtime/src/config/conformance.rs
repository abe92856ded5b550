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
    let get = |path: &str| config.get::<Value>(path).unwrap_or(Value::Null);
    assert_eq!(
        get("server.port"),
        json!(1),
        "{name}: the source overrides the defaults"
    );
    assert_eq!(
        get("server.timeout"),
        json!(5),
        "{name}: defaults fill what the source lacks"
    );

    let mut port = config.watch("server.port");
    let mut all = config.watch("");
    let version = config.version();
    fixture
        .set(&json!({"server": {"port": 2, "name": "a"}}))
        .await;
    wait_for(
        &mut port,
        json!(2),
        &name,
        "a changed value reaches a watcher",
    )
    .await;
    let whole = json!({"server": {"port": 2, "name": "a", "timeout": 5}});
    wait_for(
        &mut all,
        whole,
        &name,
        "the whole-config watcher sees the change",
    )
    .await;
    assert!(
        config.version() > version,
        "{name}: a change bumps the version"
    );
    assert_eq!(
        get("server.timeout"),
        json!(5),
        "{name}: a reload keeps the other sources"
    );

    fixture.set(&json!({"server": {"name": "a"}})).await;
    wait_for(
        &mut port,
        json!(0),
        &name,
        "a removed value falls back to the defaults",
    )
    .await;

    fixture
        .set(&json!({"server": {"port": 3, "name": "b"}}))
        .await;
    wait_for(
        &mut port,
        json!(3),
        &name,
        "a value set again reaches the watcher",
    )
    .await;
    if fixture.corrupt().await {
        wait_until(
            || async { config.last_error().is_some() },
            &name,
            "a broken change is reported by last_error",
        )
        .await;
        assert_eq!(
            get("server.port"),
            json!(3),
            "{name}: a broken change keeps the last good config"
        );
        assert_eq!(
            get("server.name"),
            json!("b"),
            "{name}: a broken change keeps the last good config"
        );
        fixture
            .set(&json!({"server": {"port": 4, "name": "b"}}))
            .await;
        wait_for(
            &mut port,
            json!(4),
            &name,
            "the next good change after a broken one is applied",
        )
        .await;
        assert_eq!(
            config.last_error(),
            None,
            "{name}: a good change clears last_error"
        );
    }

    drop(config);
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match port.next().await {
                Err(err) => return err.kind(),
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(
        closed.ok(),
        Some(ErrorKind::Closed),
        "{name}: a watcher ends when its config is dropped"
    );
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
