//! [`Method`]: a method found in descriptors, ready to be called.

use std::fmt;
use std::sync::Arc;

use prost_reflect::{MessageDescriptor, MethodDescriptor};

use crate::client::CallTarget;
use crate::rpc::{OneMethod, RpcKind, ServiceInfo};

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

/// The static [`ServiceInfo`] of just this method, interned ([`OneMethod::interned`]).
fn intern(descriptor: &MethodDescriptor) -> &'static ServiceInfo {
    let service = descriptor.parent_service();
    OneMethod {
        service: service.full_name().to_owned(),
        package: service.package_name().to_owned(),
        handler: service.name().to_owned(),
        name: descriptor.name().to_owned(),
        path: format!("/{}/{}", service.full_name(), descriptor.name()),
        endpoint: format!("{}.{}", service.name(), descriptor.name()),
        kind: kind(descriptor),
        input: descriptor.input().full_name().to_owned(),
        output: descriptor.output().full_name().to_owned(),
    }
    .interned()
}

fn kind(method: &MethodDescriptor) -> RpcKind {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => RpcKind::Unary,
        (false, true) => RpcKind::ServerStreaming,
        (true, false) => RpcKind::ClientStreaming,
        (true, true) => RpcKind::BidiStreaming,
    }
}
