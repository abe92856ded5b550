//! An in-memory source: defaults set in code, which the program may replace at run time.

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

use super::{BoxFuture, Changes, Error, ErrorKind, Source};

/// A tree held in memory, e.g. the defaults loaded first. Clones share the tree.
#[derive(Debug, Clone)]
pub struct Memory {
    tree: watch::Sender<Value>,
}

impl Memory {
    /// A source holding `tree` (normally a JSON object; `null` is empty).
    pub fn new(tree: Value) -> Memory {
        Memory {
            tree: watch::Sender::new(tree),
        }
    }

    /// A source holding `value` serialized (a struct of defaults, a map).
    pub fn serialize(value: &impl Serialize) -> Result<Memory, Error> {
        serde_json::to_value(value).map(Memory::new).map_err(|err| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("cannot serialize config defaults: {err}"),
            )
            .with_source(err)
        })
    }

    /// Replaces the tree; a [`Config`](super::Config) built with this source reloads.
    pub fn set(&self, tree: Value) {
        self.tree.send_replace(tree);
    }
}

fn object(tree: Value) -> Result<Value, Error> {
    match tree {
        Value::Object(_) => Ok(tree),
        Value::Null => Ok(Value::Object(Default::default())),
        other => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("config in memory must be an object, not {other}"),
        )),
    }
}

impl Source for Memory {
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>> {
        let tree = self.tree.borrow().clone();
        Box::pin(async move { object(tree) })
    }

    fn watch(&self) -> BoxFuture<'_, Result<Option<Changes>, Error>> {
        let changes = WatchStream::from_changes(self.tree.subscribe()).map(object);
        Box::pin(async move { Ok(Some(Box::pin(changes) as Changes)) })
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
