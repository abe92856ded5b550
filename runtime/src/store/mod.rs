//! Key-value storage: records scoped to a database and table, read exactly or by prefix or
//! suffix, with time to live and metadata.
//!
//! | backend | URI | notes |
//! |---|---|---|
//! | file (default) | `file://<dir>` | embedded (redb), crash-safe; one file per database |
//! | memory | `memory://` | one process; for tests and embedding |
//! | postgres (feature `store-postgres`) | `postgres://user:pass@host:5432/db` | PostgreSQL or CockroachDB, go-micro's schema |
//!
//! ```
//! # async fn demo() -> Result<(), micro::store::Error> {
//! use micro::store::{self, ReadOptions, Record, Store};
//!
//! let store = store::memory();
//! store.write(&Record::new("user/1", "ada"), Default::default()).await?;
//! store.write(&Record::new("user/2", "grace"), Default::default()).await?;
//! let users = store.read("user/", ReadOptions::prefix()).await?;
//! assert_eq!(users.len(), 2);
//! # Ok(())
//! # }
//! ```

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod file;
mod memory;
#[cfg(feature = "store-postgres")]
mod postgres;
mod scoped;
mod types;

use std::fmt;
use std::sync::Arc;

pub use error::{Error, ErrorKind};
pub use file::FileStore;
pub use memory::MemoryStore;
#[cfg(feature = "store-postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use scoped::Scoped;
pub use types::{
    DEFAULT_NAME, ListOptions, Match, ReadOptions, Record, Scope, WriteOptions, validate_key,
    validate_ttl,
};

pub use crate::BoxFuture;

/// Stores records. Hold one as `Arc<dyn Store>`.
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// The records matching `key` (see [`Match`]), in key order; an exact read of a missing
    /// key is [`ErrorKind::NotFound`]. Expired records are never returned.
    fn read<'a>(
        &'a self,
        key: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Record>, Error>>;

    /// Writes `record`, replacing any with its key; `record.expiry` is its time to live.
    fn write<'a>(
        &'a self,
        record: &'a Record,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Deletes the record `key` of `scope`; deleting a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str, scope: &'a Scope) -> BoxFuture<'a, Result<(), Error>>;

    /// The keys matching `options`, in key order.
    fn list(&self, options: ListOptions) -> BoxFuture<'_, Result<Vec<String>, Error>>;

    /// The backend's name (`memory`, `file`, `postgres`).
    fn name(&self) -> &'static str;
}

/// A new in-process store.
pub fn memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

/// A store by name and addresses, as the `--store` and `--store-address` flags give them:
/// `file` (the address is the data directory; default `~/micro/store`), `memory`, or
/// `postgres`/`cockroach` (the address is a connection string; feature `store-postgres`).
pub fn build(name: &str, addresses: &[String]) -> Result<Arc<dyn Store>, Error> {
    match name {
        "memory" => Ok(memory()),
        "file" => {
            let dir = addresses.first().map(std::path::PathBuf::from);
            Ok(Arc::new(FileStore::new(
                dir.unwrap_or_else(FileStore::default_dir),
            )))
        }
        "postgres" | "postgresql" | "cockroach" | "cockroachdb" => sql(name, addresses),
        other => Err(Error::new(
            ErrorKind::Config,
            format!("unknown store `{other}`; use file, memory or postgres"),
        )),
    }
}

#[cfg(feature = "store-postgres")]
fn sql(_name: &str, addresses: &[String]) -> Result<Arc<dyn Store>, Error> {
    let address = addresses.first().map_or("", String::as_str);
    Ok(Arc::new(PostgresStore::new(PostgresOptions::new(address))?))
}

#[cfg(not(feature = "store-postgres"))]
fn sql(name: &str, _addresses: &[String]) -> Result<Arc<dyn Store>, Error> {
    Err(Error::new(
        ErrorKind::Config,
        crate::error_shape::not_built(name, "store", "store-postgres"),
    ))
}

/// A store from a URI: `file:///path/to/dir`, `file://` (the default directory), `memory://`,
/// `postgres://user:password@host:5432/database` (the whole URI is the connection string).
pub fn from_uri(uri: &str) -> Result<Arc<dyn Store>, Error> {
    let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
    let address = match scheme {
        "postgres" | "postgresql" => uri,
        "cockroach" | "cockroachdb" => &format!("postgresql://{rest}"),
        _ => rest,
    };
    let addresses: Vec<String> = (!address.is_empty())
        .then(|| address.to_owned())
        .into_iter()
        .collect();
    build(scheme, &addresses)
}
