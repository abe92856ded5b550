//! Dynamic config: a tree merged from sources (defaults, files, environment, flags, etcd), read
//! with serde at dotted paths, and reloaded when a file or an etcd key changes.
//!
//! Sources merge in the order given, later ones winning key by key. A change that does not parse
//! keeps the last good config (and logs why); the next good one is applied. See `docs/config.md`.
//!
//! | source | constructor | watched |
//! |---|---|---|
//! | defaults | [`Memory::new`], [`Memory::serialize`] | on [`Memory::set`] |
//! | file (JSON, YAML, TOML) | [`File::new`] | yes (editors' renames too) |
//! | environment | [`Env::new`] (`DATABASE_ADDRESS` → `database.address`) | no |
//! | flags | [`Flags::new`], [`Flags::from_matches`] | no |
//! | etcd | `Etcd::new` (feature `config-etcd`; keys under `/micro/config/`) | yes |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), micro::config::Error> {
//! use micro::config::{Config, Env, Memory};
//! use serde_json::json;
//!
//! let config = Config::builder()
//!     .source(Memory::new(json!({"server": {"port": 8080, "name": "greeter"}})))
//!     .source(Env::new().strip_prefix("MICRO").vars([("MICRO_SERVER_PORT", "9090")]))
//!     .build()
//!     .await?;
//! let port: u16 = config.get("server.port")?;
//! assert_eq!(port, 9090);
//! assert_eq!(config.get_or("server.timeout", 30u64), 30);
//!
//! #[derive(serde::Deserialize)]
//! struct Server { name: String, port: u16 }
//! let server: Server = config.get("server")?;
//! assert_eq!((server.name.as_str(), server.port), ("greeter", 9090));
//! # Ok(())
//! # }
//! ```

pub mod conformance;
mod env;
mod error;
#[cfg(feature = "config-etcd")]
mod etcd;
mod file;
mod flags;
mod loader;
mod memory;
mod tree;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use serde_json::Value;

pub use env::Env;
pub use error::{Error, ErrorKind};
#[cfg(feature = "config-etcd")]
pub use etcd::Etcd;
pub use file::{File, Format};
pub use flags::Flags;
pub use loader::{Builder, Config, Watcher};
pub use memory::Memory;

/// A boxed future, as source methods return them so that `dyn Source` works.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What [`Source::watch`] yields: the source's whole tree after each change, or why a change
/// could not be read (the [`Config`] then keeps the last good tree and logs the error).
pub type Changes = Pin<Box<dyn Stream<Item = Result<Value, Error>> + Send>>;

/// Where config comes from. Hold one as `Box<dyn Source>`.
pub trait Source: Send + Sync + fmt::Debug + 'static {
    /// The source's tree now: a JSON object.
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>>;

    /// Changes from now on (the first item may repeat the current tree), or `None` for a source
    /// that never changes. The stream ends when dropped.
    fn watch(&self) -> BoxFuture<'_, Result<Option<Changes>, Error>>;

    /// What the source is, for logs and errors (`file /etc/app.yaml`, `etcd at 127.0.0.1:2379`).
    fn describe(&self) -> String;
}
