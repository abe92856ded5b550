//! Message descriptors for generated methods, decoded once per descriptor set and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::http_rule::{Binding, bindings};
use crate::rpc::{MethodInfo, ServiceInfo};

/// The request and response message types of one method.
#[derive(Debug)]
pub(crate) struct MethodTypes {
    pub(crate) input: MessageDescriptor,
    pub(crate) output: MessageDescriptor,
    /// The method is marked `idempotency_level = NO_SIDE_EFFECTS`, so Connect may call it
    /// with GET.
    pub(crate) no_side_effects: bool,
    /// The method's google.api.http bindings (REST routes), most often none.
    pub(crate) http: Vec<Binding>,
}

/// Cache keyed by the address of the static `MethodInfo`, which is unique per method.
type Cache = Mutex<HashMap<usize, Arc<MethodTypes>>>;

/// The message types of `method`, from `service`'s embedded descriptor set.
pub(crate) fn method_types(
    service: &'static ServiceInfo,
    method: &'static MethodInfo,
) -> Result<Arc<MethodTypes>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = method as *const MethodInfo as usize;
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(types) = lock(cache).get(&key) {
        return Ok(types.clone());
    }
    let pool = pool(service)?;
    let find = |name: &str| {
        pool.get_message_by_name(name).ok_or_else(|| {
            format!(
                "the descriptors of {} lack message `{name}`; regenerate the code",
                service.name
            )
        })
    };
    let descriptor = pool
        .get_service_by_name(service.name)
        .and_then(|svc| svc.methods().find(|m| m.name() == method.name));
    let no_side_effects = descriptor
        .as_ref()
        .and_then(|m| m.method_descriptor_proto().options.clone())
        .is_some_and(|options| {
            options.idempotency_level()
                == prost_types::method_options::IdempotencyLevel::NoSideEffects
        });
    let types = Arc::new(MethodTypes {
        input: find(method.input)?,
        output: find(method.output)?,
        no_side_effects,
        http: descriptor.map(|m| http_bindings(&m)).unwrap_or_default(),
    });
    lock(cache).insert(key, types.clone());
    Ok(types)
}

/// `method`'s google.api.http bindings; rules that cannot be served are logged and left out.
fn http_bindings(method: &prost_reflect::MethodDescriptor) -> Vec<Binding> {
    let (found, skipped) = bindings(method);
    for reason in skipped {
        tracing::warn!("google.api.http rule not served: {reason}");
    }
    found
}

/// The descriptor pool of a service's package, decoded once.
fn pool(service: &'static ServiceInfo) -> Result<DescriptorPool, String> {
    static POOLS: OnceLock<Mutex<HashMap<usize, DescriptorPool>>> = OnceLock::new();
    let key = service.file_descriptor_set.as_ptr() as usize;
    let pools = POOLS.get_or_init(Default::default);
    if let Some(pool) = lock(pools).get(&key) {
        return Ok(pool.clone());
    }
    let pool = DescriptorPool::decode(service.file_descriptor_set).map_err(|err| {
        format!(
            "the embedded descriptors of {} are invalid: {err}",
            service.name
        )
    })?;
    lock(pools).insert(key, pool.clone());
    Ok(pool)
}

/// Locks a cache; a poisoned cache is still valid, as entries are inserted whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
