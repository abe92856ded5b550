//! Distributed locks and leader election (go-micro's `sync`): one holder of an id at a time,
//! held until unlocked or until the holder has been dead for the lock's TTL.
//!
//! | backend | URI | [`Fence`] | notes |
//! |---|---|---|---|
//! | memory | `memory://` | a counter its nodes share | one process; for tests and embedding |
//! | etcd | `etcd://host:2379[,host:2379…]` | the holder's key's create revision | feature `sync-etcd`; go-micro's key layout |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), micro::sync::Error> {
//! use std::time::Duration;
//! use micro::sync::{self, ErrorKind, LockOptions};
//!
//! let sync = sync::memory();
//! let options = LockOptions::default().ttl(Duration::from_secs(10));
//! let fence = sync.lock("invoice/7", options).await?;
//! let busy = sync.lock("invoice/7", options.wait(Duration::from_millis(10))).await;
//! assert_eq!(busy.unwrap_err().kind(), ErrorKind::LockTimeout);
//! sync.unlock("invoice/7").await?;
//! let next = sync.lock("invoice/7", options).await?;
//! assert!(next > fence, "each holder's fence is higher than the last");
//! sync.unlock("invoice/7").await?;
//!
//! let leader = sync.leader("billing", LockOptions::default()).await?;
//! assert!(leader.is_leader());
//! leader.resign().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Each hold comes with a [`Fence`], a token that grows each time an id changes hands: send it
//! with writes, and have the resource refuse lower ones ([`Fenced`]), so that a holder paused
//! past its TTL cannot overwrite a newer holder's work. The guide is `docs/sync.md`.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
#[cfg(feature = "sync-etcd")]
mod etcd;
mod fence;
mod guard;
#[cfg(feature = "sync-etcd")]
mod lease;
mod memory;
mod types;

use std::fmt;
use std::sync::Arc;

pub use error::{Error, ErrorKind};
#[cfg(feature = "sync-etcd")]
pub use etcd::EtcdSync;
pub use fence::{Fence, Fenced};
pub use guard::Guard;
pub use memory::MemorySync;
pub use types::{
    DEFAULT_TTL, Leader, LeaderOptions, LockOptions, MIN_TTL, Resign, validate_id, validate_ttl,
};

pub use crate::BoxFuture;

/// Locks and leader election; go-micro's `sync.Sync` (renamed so as not to shadow
/// [`std::marker::Sync`]). Hold one as `Arc<dyn Coordinator>`.
///
/// A coordinator is one participant (a node): locks it takes are its own until it unlocks
/// them ([`Guard`] unlocks on drop). Ids name locks and elections in one namespace, as in
/// go-micro.
///
/// Every hold (a lock, a leadership) has a [`Fence`] higher than every earlier hold's of the
/// same id on the same backend.
pub trait Coordinator: Send + Sync + fmt::Debug + 'static {
    /// Takes the lock `id`, waiting up to `options.wait` while another holder has it
    /// ([`ErrorKind::LockTimeout`] after that), and resolves to the hold's [`Fence`]. Not
    /// reentrant: locking an id this node holds waits too.
    fn lock<'a>(&'a self, id: &'a str, options: LockOptions)
    -> BoxFuture<'a, Result<Fence, Error>>;

    /// Releases the lock `id` this node holds ([`ErrorKind::NotHeld`] if it holds none).
    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// Runs for leader of `id` and resolves once elected (or [`ErrorKind::LockTimeout`] after
    /// `options.wait`), with the leadership's [`Fence`] in [`Leader::fence`]. On etcd,
    /// candidates are elected in the order they ran.
    fn leader<'a>(
        &'a self,
        id: &'a str,
        options: LeaderOptions,
    ) -> BoxFuture<'a, Result<Leader, Error>>;

    /// The backend's name (`memory`, `etcd`).
    fn name(&self) -> &'static str;
}

/// A new in-process coordinator.
pub fn memory() -> Arc<dyn Coordinator> {
    Arc::new(MemorySync::new())
}

/// A coordinator by name and addresses, as `--sync`-style flags give them: `memory`, or `etcd`
/// (addresses `host:port`; none means `127.0.0.1:2379`).
pub fn build(name: &str, addresses: &[String]) -> Result<Arc<dyn Coordinator>, Error> {
    build_with_tls(name, addresses, &crate::BackendTls::default())
}

/// As [`build`], with TLS to the backend as the `--sync-tls-*` flags give it; a file that
/// cannot be read is a `Config` error naming it.
pub fn build_with_tls(
    name: &str,
    addresses: &[String],
    tls: &crate::BackendTls,
) -> Result<Arc<dyn Coordinator>, Error> {
    match name {
        "memory" => Ok(memory()),
        #[cfg(feature = "sync-etcd")]
        "etcd" => {
            crate::etcd::check_tls(tls, "--sync-tls")
                .map_err(|err| Error::new(ErrorKind::Config, format!("etcd sync: {err}")))?;
            Ok(Arc::new(EtcdSync::new(addresses).with_tls(tls.clone())))
        }
        #[cfg(not(feature = "sync-etcd"))]
        "etcd" => {
            let _ = (addresses, tls);
            Err(Error::new(
                ErrorKind::Config,
                crate::error_shape::not_built("etcd", "sync", "sync-etcd"),
            ))
        }
        other => Err(Error::new(
            ErrorKind::Config,
            format!("unknown sync backend `{other}`; use etcd or memory"),
        )),
    }
}

/// A coordinator from a URI: `memory://`, `etcd://host:port[,host:port…]`, or a bare name.
pub fn from_uri(uri: &str) -> Result<Arc<dyn Coordinator>, Error> {
    let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
    let addresses: Vec<String> = rest
        .split(',')
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
        .collect();
    build(scheme, &addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_from_names_and_uris() {
        assert_eq!(from_uri("memory://").unwrap().name(), "memory");
        assert_eq!(build("memory", &[]).unwrap().name(), "memory");
        let err = from_uri("zookeeper://127.0.0.1:2181").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("use etcd or memory"), "{err}");
        let etcd = from_uri("etcd://127.0.0.1:1,127.0.0.1:2");
        #[cfg(feature = "sync-etcd")]
        assert_eq!(etcd.unwrap().name(), "etcd");
        #[cfg(not(feature = "sync-etcd"))]
        assert_eq!(etcd.unwrap_err().kind(), ErrorKind::Config);
    }
}
