//! What a call is, for the server, the client and the modules below them: the static
//! descriptions of generated services ([`ServiceInfo`], [`MethodInfo`], [`RpcKind`]), which the
//! runtime routes and registers by, and the HTTP [`Body`] calls travel in. Public as
//! `micro::server::{Body, MethodInfo, RpcKind, ServiceInfo}`.

/// The HTTP body of gRPC requests and responses.
pub type Body = tonic::body::Body;

/// A generated service: its name, methods and encoded descriptors.
///
/// protoc-gen-micro emits one as `<SVC>_SERVICE_INFO` for every proto service.
#[derive(Debug)]
pub struct ServiceInfo {
    /// Full proto name, e.g. `helloworld.Helloworld`.
    pub name: &'static str,
    /// Proto package, e.g. `helloworld` (empty without a package).
    pub package: &'static str,
    /// go-micro's handler name: the proto service name, e.g. `Helloworld`.
    pub handler: &'static str,
    /// The service's RPCs, in proto order.
    pub methods: &'static [MethodInfo],
    /// Encoded `FileDescriptorSet` of the service's package and its imports.
    pub file_descriptor_set: &'static [u8],
}

/// One RPC of a [`ServiceInfo`].
#[derive(Debug)]
pub struct MethodInfo {
    /// Proto method name, e.g. `Greeting`.
    pub name: &'static str,
    /// gRPC path, e.g. `/helloworld.Helloworld/Greeting`.
    pub path: &'static str,
    /// go-micro endpoint name, e.g. `Helloworld.Greeting`.
    pub endpoint: &'static str,
    /// Which of the four kinds of call this is.
    pub kind: RpcKind,
    /// Full proto name of the request message.
    pub input: &'static str,
    /// Full proto name of the response message.
    pub output: &'static str,
}

/// The four kinds of gRPC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    BidiStreaming,
}

impl RpcKind {
    /// Whether the client sends a stream of messages.
    pub fn client_streams(self) -> bool {
        matches!(self, RpcKind::ClientStreaming | RpcKind::BidiStreaming)
    }

    /// Whether the server answers with a stream of messages.
    pub fn server_streams(self) -> bool {
        matches!(self, RpcKind::ServerStreaming | RpcKind::BidiStreaming)
    }
}

/// Stands in for a method where none is known, such as in a [`Context`](crate::Context) built
/// by hand for a unit test.
pub(crate) static UNKNOWN_METHOD: MethodInfo = MethodInfo {
    name: "",
    path: "",
    endpoint: "",
    kind: RpcKind::Unary,
    input: "",
    output: "",
};

/// The names of a method called without generated code (dynamic and typed serde calls), and
/// of its service: what [`OneMethod::interned`] makes a static [`ServiceInfo`] of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OneMethod {
    /// The service's full name, e.g. `helloworld.Helloworld`.
    pub(crate) service: String,
    pub(crate) package: String,
    pub(crate) handler: String,
    /// The method's name, e.g. `Greeting`.
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) endpoint: String,
    pub(crate) kind: RpcKind,
    pub(crate) input: String,
    pub(crate) output: String,
}

impl OneMethod {
    /// A static [`ServiceInfo`] holding just this method, made once per distinct method and
    /// kept for the life of the process, as generated code's are. Their number is bounded by
    /// the methods a process calls.
    pub(crate) fn interned(self) -> &'static ServiceInfo {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};

        static INTERNED: OnceLock<Mutex<HashMap<OneMethod, &'static ServiceInfo>>> =
            OnceLock::new();
        let interned = INTERNED.get_or_init(Default::default);
        let mut interned = interned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(info) = interned.get(&self) {
            return info;
        }
        let leak = |text: &str| -> &'static str { Box::leak(text.into()) };
        let method = MethodInfo {
            name: leak(&self.name),
            path: leak(&self.path),
            endpoint: leak(&self.endpoint),
            kind: self.kind,
            input: leak(&self.input),
            output: leak(&self.output),
        };
        let info: &'static ServiceInfo = Box::leak(Box::new(ServiceInfo {
            name: leak(&self.service),
            package: leak(&self.package),
            handler: leak(&self.handler),
            methods: Box::leak(Box::new([method])),
            file_descriptor_set: &[],
        }));
        interned.insert(self, info);
        info
    }
}
