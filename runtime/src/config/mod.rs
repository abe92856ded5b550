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
//! | flags | [`CommandLine::new`], [`CommandLine::from_matches`] | no |
//! | etcd | `Etcd::new` (feature `config-etcd`; keys under `/micro/config/`) | yes |
//!
//! [`from_uri`] picks one from a URI (`file:///etc/app.yaml`, `env://MICRO`, `etcd://host:2379`).
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

mod command_line;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod env;
mod error;
#[cfg(feature = "config-etcd")]
mod etcd;
mod file;
mod loader;
mod memory;
mod tree;

use std::fmt;
use std::pin::Pin;

use futures_core::Stream;
use serde_json::Value;

pub use command_line::CommandLine;
pub use env::Env;
pub use error::{Error, ErrorKind};
#[cfg(feature = "config-etcd")]
pub use etcd::Etcd;
pub use file::{File, Format};
pub use loader::{Builder, Config, Watcher};
pub use memory::Memory;

pub use crate::BoxFuture;

/// What [`Source::watch`] yields: the source's whole tree after each change, or why a change
/// could not be read (the [`Config`] then keeps the last good tree and logs the error).
pub type Changes = Pin<Box<dyn Stream<Item = Result<Value, Error>> + Send>>;

/// A source from a URI, as a `--config` flag might give it: `file:///etc/app.yaml` (or just a
/// path ending in `.json`, `.yaml`, `.yml` or `.toml`), `env://` (every variable),
/// `env://MICRO` (`MICRO_*`, prefix stripped), `etcd://host:2379[,host:2379…]` (feature
/// `config-etcd`) or `memory://` (empty).
pub fn from_uri(uri: &str) -> Result<Box<dyn Source>, Error> {
    from_uri_with_tls(uri, &crate::BackendTls::default())
}

/// As [`from_uri`], with TLS to etcd as the `--config-tls-*` flags give it.
pub fn from_uri_with_tls(uri: &str, tls: &crate::BackendTls) -> Result<Box<dyn Source>, Error> {
    let _ = tls; // unused without the etcd source
    let Some((scheme, rest)) = uri.split_once("://") else {
        if file::Format::from_path(std::path::Path::new(uri)).is_some() {
            return Ok(Box::new(File::new(uri)));
        }
        return Err(unknown_uri(uri));
    };
    match scheme {
        "file" if !rest.is_empty() => Ok(Box::new(File::new(rest))),
        "env" if rest.is_empty() => Ok(Box::new(Env::new())),
        "env" => Ok(Box::new(Env::new().strip_prefix(rest))),
        "memory" => Ok(Box::new(Memory::new(Value::Null))),
        #[cfg(feature = "config-etcd")]
        "etcd" => {
            let addresses: Vec<String> = rest
                .split(',')
                .filter(|address| !address.is_empty())
                .map(str::to_owned)
                .collect();
            crate::etcd::check_tls(tls, "--config-tls").map_err(|err| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("etcd config source: {err}"),
                )
            })?;
            Ok(Box::new(Etcd::new(&addresses).tls(tls.clone())))
        }
        #[cfg(not(feature = "config-etcd"))]
        "etcd" => Err(Error::new(
            ErrorKind::InvalidInput,
            crate::error_shape::not_built("etcd", "config source", "config-etcd"),
        )),
        _ => Err(unknown_uri(uri)),
    }
}

fn unknown_uri(uri: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "unknown config source {uri:?}; use file:///path.(json|yaml|toml), env://[PREFIX], \
             etcd://host:2379 or memory://"
        ),
    )
}

/// Where config comes from. Hold one as `Box<dyn Source>`.
pub trait Source: Send + Sync + fmt::Debug + 'static {
    /// The source's tree now: a JSON object.
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>>;

    /// Changes from now on (the first item may repeat the current tree), or `None` for a source
    /// that never changes (the default). The stream ends when dropped.
    fn watch(&self) -> BoxFuture<'_, Result<Option<Changes>, Error>> {
        Box::pin(async { Ok(None) })
    }

    /// What the source is, for logs and errors (`file /etc/app.yaml`, `etcd at 127.0.0.1:2379`).
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_sources() {
        let describe = |uri: &str| from_uri(uri).map(|source| source.describe());
        assert_eq!(
            describe("file:///etc/app.yaml").unwrap(),
            "file /etc/app.yaml"
        );
        assert_eq!(describe("config.toml").unwrap(), "file config.toml");
        assert_eq!(describe("env://MICRO").unwrap(), "environment");
        assert_eq!(describe("memory://").unwrap(), "memory");
        for bad in ["config", "ftp://x", "file://", ""] {
            let err = describe(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        }
        #[cfg(feature = "config-etcd")]
        assert_eq!(
            describe("etcd://10.0.0.1,10.0.0.2:2380").unwrap(),
            "etcd at 10.0.0.1:2379,10.0.0.2:2380 (/micro/config/)"
        );
    }
}
