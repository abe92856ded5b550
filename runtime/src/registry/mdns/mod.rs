//! mDNS registry (placeholder while the wire format is confirmed).

use std::time::Duration;

use super::{BoxFuture, Error, ErrorKind, Registry, Service, Watcher};

/// go-micro's default registry: multicast DNS on the local network.
#[derive(Debug, Default)]
pub struct MdnsRegistry {}

impl MdnsRegistry {
    /// An mDNS registry.
    pub fn new() -> MdnsRegistry {
        MdnsRegistry {}
    }
}

fn todo() -> Error {
    Error::new(ErrorKind::Unavailable, "mdns is not implemented yet")
}

impl Registry for MdnsRegistry {
    fn register<'a>(
        &'a self,
        _: &'a Service,
        _: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Err(todo()) })
    }
    fn deregister<'a>(&'a self, _: &'a Service) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Err(todo()) })
    }
    fn get_service<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<Service>, Error>> {
        Box::pin(async { Err(todo()) })
    }
    fn list_services(&self) -> BoxFuture<'_, Result<Vec<Service>, Error>> {
        Box::pin(async { Err(todo()) })
    }
    fn watch<'a>(&'a self, _: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, Error>> {
        Box::pin(async { Err(todo()) })
    }
    fn name(&self) -> &'static str {
        "mdns"
    }
}
