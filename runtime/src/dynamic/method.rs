//! [`Method`]: a method found in descriptors, ready to be called.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use prost_reflect::{MessageDescriptor, MethodDescriptor};

use crate::client::CallTarget;
use crate::rpc::{MethodInfo, RpcKind, ServiceInfo};

/// A method of a service, known from its descriptors rather than from generated code.
#[derive(Clone)]
pub struct Method {
    descriptor: MethodDescriptor,
    /// The static description client middleware sees in [`CallTarget`], interned per method.
    info: &'static ServiceInfo,
}

impl Method {
    /// The method `descriptor` describes.
    pub fn new(descriptor: MethodDescriptor) -> Method {
        let info = intern(&descriptor);
        Method { descriptor, info }
    }

    /// Its descriptor: name, messages, options.
    pub fn descriptor(&self) -> &MethodDescriptor {
        &self.descriptor
    }

    /// go-micro's endpoint name, e.g. `Helloworld.Greeting`.
    pub fn endpoint(&self) -> &'static str {
        self.info.methods[0].endpoint
    }

    /// The gRPC path, e.g. `/helloworld.Helloworld/Greeting`.
    pub fn path(&self) -> &'static str {
        self.info.methods[0].path
    }

    /// Which of the four kinds of call it is.
    pub fn kind(&self) -> RpcKind {
        self.info.methods[0].kind
    }

    /// The request message type.
    pub fn input(&self) -> MessageDescriptor {
        self.descriptor.input()
    }

    /// The reply message type.
    pub fn output(&self) -> MessageDescriptor {
        self.descriptor.output()
    }

    /// The call target for this method of the service named `service`.
    pub(crate) fn target(&self, service: &str) -> CallTarget {
        CallTarget {
            service: Arc::from(service),
            info: self.info,
            method: &self.info.methods[0],
        }
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Method")
            .field("path", &self.path())
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

/// Everything that tells methods apart: path, kind and message types.
type Key = (String, RpcKind, String, String);

/// A static [`ServiceInfo`] holding just this method, made once per distinct method and kept
/// for the life of the process, as generated code's are. Their number is bounded by the
/// methods of the services a process calls.
fn intern(descriptor: &MethodDescriptor) -> &'static ServiceInfo {
    static INTERNED: OnceLock<Mutex<HashMap<Key, &'static ServiceInfo>>> = OnceLock::new();
    let service = descriptor.parent_service();
    let kind = kind(descriptor);
    let path = format!("/{}/{}", service.full_name(), descriptor.name());
    let input = descriptor.input().full_name().to_owned();
    let output = descriptor.output().full_name().to_owned();
    let key = (path, kind, input, output);
    let interned = INTERNED.get_or_init(Default::default);
    let mut interned = interned
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(info) = interned.get(&key) {
        return info;
    }
    let leak = |text: &str| -> &'static str { Box::leak(text.into()) };
    let method = MethodInfo {
        name: leak(descriptor.name()),
        path: leak(&key.0),
        endpoint: leak(&format!("{}.{}", service.name(), descriptor.name())),
        kind,
        input: leak(&key.2),
        output: leak(&key.3),
    };
    let info: &'static ServiceInfo = Box::leak(Box::new(ServiceInfo {
        name: leak(service.full_name()),
        package: leak(service.package_name()),
        handler: leak(service.name()),
        methods: Box::leak(Box::new([method])),
        file_descriptor_set: &[],
    }));
    interned.insert(key, info);
    info
}

fn kind(method: &MethodDescriptor) -> RpcKind {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => RpcKind::Unary,
        (false, true) => RpcKind::ServerStreaming,
        (true, false) => RpcKind::ClientStreaming,
        (true, true) => RpcKind::BidiStreaming,
    }
}
