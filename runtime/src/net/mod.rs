//! Network addresses as go-micro writes them: listening (`host:port`, `:port`, `[::1]:port`),
//! the address a node advertises, and comma-separated address lists.
//!
//! The service, the HTTP broker and the backends' URIs share these; nothing here depends on them.

mod advertise;
mod backend_tls;
mod coalesce;
mod listen;
#[cfg(any(
    feature = "auth-tls",
    feature = "store-postgres",
    feature = "registry-etcd",
    feature = "sync-etcd",
    feature = "config-etcd",
    feature = "broker-nats",
    feature = "events-nats",
    feature = "events-redis"
))]
pub(crate) mod tls;
#[cfg(any(feature = "auth-tls", feature = "store-postgres"))]
mod verify;

pub(crate) use advertise::advertised_address;
pub use backend_tls::BackendTls;
pub(crate) use coalesce::Coalesce;
pub(crate) use listen::{BindError, bind};
#[cfg(any(feature = "auth-tls", feature = "store-postgres"))]
pub(crate) use verify::ChainOnly;

/// `a,b , c` → `["a", "b", "c"]`, skipping empty parts.
pub(crate) fn split_addresses(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}
