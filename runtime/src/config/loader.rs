//! [`Config`]: the merged tree of the sources, kept current by one task per watched source.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_stream::StreamExt;

use super::tree::{decode, lookup, merge};
use super::{Error, ErrorKind, Source};

/// The merged config. Clones share it; reloading stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Config {
    shared: Arc<Shared>,
    _tasks: Arc<Tasks>,
}

/// Builds a [`Config`] from sources, merged in the order added (later wins).
#[derive(Debug)]
pub struct Builder {
    sources: Vec<Box<dyn Source>>,
    watch: bool,
}

#[derive(Debug)]
struct Shared {
    sources: Vec<Box<dyn Source>>,
    /// The last good tree of each source, in load order.
    trees: Mutex<Vec<Value>>,
    state: watch::Sender<Snapshot>,
    errors: Mutex<Errors>,
}

/// Each source's pending error: why its newest change was rejected, numbered in order.
#[derive(Debug, Default)]
struct Errors {
    counter: u64,
    by_source: Vec<Option<(u64, String)>>,
}

#[derive(Debug, Clone)]
struct Snapshot {
    version: u64,
    tree: Arc<Value>,
}

/// Aborts the reload tasks when the last [`Config`] clone goes.
#[derive(Debug)]
struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        self.0.iter().for_each(AbortHandle::abort);
    }
}

impl Builder {
    /// Adds a source; it overrides the ones added before it.
    pub fn source(mut self, source: impl Source) -> Builder {
        self.sources.push(Box::new(source));
        self
    }

    /// Adds a boxed source.
    pub fn boxed_source(mut self, source: Box<dyn Source>) -> Builder {
        self.sources.push(source);
        self
    }

    /// Whether to reload on changes (default `true`; go-micro's `WithWatcherDisabled`).
    pub fn watch(mut self, watch: bool) -> Builder {
        self.watch = watch;
        self
    }

    /// Reads every source and, when watching, starts following their changes. Fails with the
    /// first source that cannot be read.
    pub async fn build(self) -> Result<Config, Error> {
        let mut trees = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            trees.push(source.read().await?);
        }
        let tree = merged(&trees);
        let shared = Arc::new(Shared {
            sources: self.sources,
            trees: Mutex::new(trees),
            state: watch::Sender::new(Snapshot {
                version: 1,
                tree: Arc::new(tree),
            }),
            errors: Mutex::new(Errors::default()),
        });
        // Held from the start, so that a source failing to watch stops the ones started.
        let mut tasks = Tasks(Vec::new());
        if self.watch {
            for index in 0..shared.sources.len() {
                let Some(mut changes) = shared.sources[index].watch().await? else {
                    continue;
                };
                let shared = shared.clone();
                let task = tokio::spawn(async move {
                    while let Some(change) = changes.next().await {
                        shared.apply(index, change);
                    }
                });
                tasks.0.push(task.abort_handle());
            }
        }
        Ok(Config {
            shared,
            _tasks: Arc::new(tasks),
        })
    }
}

fn merged(trees: &[Value]) -> Value {
    let mut tree = Value::Object(Map::new());
    for source in trees {
        merge(&mut tree, source.clone());
    }
    tree
}

impl Shared {
    /// Takes a source's new tree, or logs why it was rejected and keeps the last good one.
    fn apply(&self, index: usize, change: Result<Value, Error>) {
        let source = self.sources[index].describe();
        let new = match change {
            Ok(new) => new,
            Err(err) => {
                tracing::error!(%source, error = %err, "config change rejected; keeping the last good config");
                self.set_error(index, Some(err.to_string()));
                return;
            }
        };
        self.set_error(index, None);
        let mut trees = lock(&self.trees);
        if trees[index] == new {
            return;
        }
        trees[index] = new;
        let tree = merged(&trees);
        let changed = self.state.send_if_modified(|snapshot| {
            if *snapshot.tree == tree {
                return false;
            }
            snapshot.version += 1;
            snapshot.tree = Arc::new(tree);
            true
        });
        drop(trees);
        if changed {
            tracing::info!(%source, "config reloaded");
        }
    }
}

impl Shared {
    fn set_error(&self, index: usize, error: Option<String>) {
        let mut errors = lock(&self.errors);
        errors.counter += 1;
        let order = errors.counter;
        if errors.by_source.len() <= index {
            errors.by_source.resize(index + 1, None);
        }
        errors.by_source[index] = error.map(|error| (order, error));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Config {
    /// A builder; add sources in order of precedence, lowest first.
    pub fn builder() -> Builder {
        Builder {
            sources: Vec::new(),
            watch: true,
        }
    }

    /// The value at a dotted `path` (`server.port`, `peers.0.address`; `""` is everything) as
    /// a `T`. Strings read as numbers or bools where `T` asks for them, and the other way round.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let tree = self.tree();
        let value = lookup(&tree, path).ok_or_else(|| Error::not_found(path))?;
        decode(path, value)
    }

    /// The value at `path`, or `default` when it is missing or not a `T` (logged as a warning).
    pub fn get_or<T: DeserializeOwned>(&self, path: &str, default: T) -> T {
        match self.get(path) {
            Ok(value) => value,
            Err(err) if err.kind() == ErrorKind::NotFound => default,
            Err(err) => {
                tracing::warn!(error = %err, "using the default for {path}");
                default
            }
        }
    }

    /// The whole config as a `T` (`get("")`).
    pub fn scan<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.get("")
    }

    /// The merged tree now.
    pub fn tree(&self) -> Arc<Value> {
        self.shared.state.borrow().tree.clone()
    }

    /// Counts merges that changed the tree; starts at 1.
    pub fn version(&self) -> u64 {
        self.shared.state.borrow().version
    }

    /// Why the newest rejected change was rejected (a file or key that does not parse, an
    /// unreachable source), until that source next changes successfully.
    pub fn last_error(&self) -> Option<String> {
        let errors = lock(&self.shared.errors);
        let newest = errors.by_source.iter().flatten();
        let newest = newest.max_by_key(|(order, _)| *order);
        newest.map(|(_, error)| error.clone())
    }

    /// Follows the value at `path` (`""` for the whole config).
    pub fn watch(&self, path: &str) -> Watcher {
        let mut receiver = self.shared.state.subscribe();
        let last = lookup(&receiver.borrow_and_update().tree, path).cloned();
        Watcher {
            path: path.to_owned(),
            receiver,
            last,
        }
    }

    /// Reads every source again now and applies what changed (e.g. for the environment, which
    /// is not watched). A source that cannot be read keeps its last good tree; its error is
    /// returned after the others are applied.
    pub async fn reload(&self) -> Result<(), Error> {
        let mut first_error = None;
        for (index, source) in self.shared.sources.iter().enumerate() {
            let change = source.read().await;
            if let Err(err) = &change {
                first_error.get_or_insert_with(|| Error::new(err.kind(), err.to_string()));
            }
            self.shared.apply(index, change);
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Yields the value at one path each time a reload changes it.
#[derive(Debug)]
pub struct Watcher {
    path: String,
    receiver: watch::Receiver<Snapshot>,
    last: Option<Value>,
}

impl Watcher {
    /// Waits for the value to change and returns it (`Value::Null` when it was removed).
    /// [`ErrorKind::Closed`] once the [`Config`] is dropped.
    pub async fn next(&mut self) -> Result<Value, Error> {
        loop {
            if self.receiver.changed().await.is_err() {
                return Err(Error::new(
                    ErrorKind::Closed,
                    format!("the config watched at {:?} was dropped", self.path),
                ));
            }
            let value = lookup(&self.receiver.borrow_and_update().tree, &self.path).cloned();
            if value != self.last {
                self.last.clone_from(&value);
                return Ok(value.unwrap_or(Value::Null));
            }
        }
    }

    /// Waits for the value to change and returns it as a `T`.
    pub async fn next_as<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let value = self.next().await?;
        decode(&self.path, &value)
    }

    /// The value now, without waiting (`None` when nothing is at the path).
    pub fn current(&self) -> Option<Value> {
        lookup(&self.receiver.borrow().tree, &self.path).cloned()
    }

    /// The path followed.
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::config::Memory;

    async fn eventually(config: &Config, what: &str, check: impl Fn(&Config) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !check(config) {
            assert!(tokio::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn an_error_stays_until_its_own_source_recovers() {
        let (a, b) = (Memory::new(json!({"a": 1})), Memory::new(json!({"b": 1})));
        let config = Config::builder()
            .source(a.clone())
            .source(b.clone())
            .build()
            .await
            .unwrap();
        a.set(json!("broken"));
        eventually(&config, "a's error", |c| c.last_error().is_some()).await;
        b.set(json!({"b": 2}));
        eventually(&config, "b's change", |c| c.get::<u8>("b").ok() == Some(2)).await;
        assert!(
            config.last_error().is_some(),
            "b's success does not hide a's error"
        );
        assert_eq!(config.get::<u8>("a").unwrap(), 1);
        a.set(json!({"a": 3}));
        eventually(&config, "a recovers", |c| c.get::<u8>("a").ok() == Some(3)).await;
        assert_eq!(config.last_error(), None);
        assert_eq!(config.version(), 3, "two merges changed the tree");
    }
}
