//! The generator's view of a service: names resolved, Rust paths known, comments ready to emit.

use proc_macro2::{Ident, TokenStream};

use crate::{Error, names};

/// One proto `service`.
#[derive(Debug)]
pub(crate) struct Service {
    /// The proto name, e.g. `Helloworld`; also go-micro's handler name.
    pub(crate) proto_name: String,
    /// The proto package, e.g. `helloworld` (may be empty).
    pub(crate) package: String,
    /// Doc lines from the proto comments.
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
    pub(crate) methods: Vec<Method>,
}

/// One `rpc` of a service.
#[derive(Debug)]
pub(crate) struct Method {
    /// The proto name, e.g. `Greeting`.
    pub(crate) proto_name: String,
    /// The Rust method name, e.g. `greeting` (a raw identifier for keywords).
    pub(crate) ident: Ident,
    pub(crate) kind: RpcKind,
    /// Rust path of the request message, relative to the package module.
    pub(crate) input: RustPath,
    /// Rust path of the response message, relative to the package module.
    pub(crate) output: RustPath,
    /// Fully qualified proto names of the messages, without the leading dot.
    pub(crate) input_proto: String,
    pub(crate) output_proto: String,
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
}

/// A message's Rust path, as written and anchored (see [`names::rust_path`]).
#[derive(Debug)]
pub(crate) struct RustPath {
    /// As prost-build wrote it: `Request`, `super::common::Id`, `::x::Y`.
    pub(crate) plain: TokenStream,
    /// Relative paths start with `self::`, for code where generic parameters are in scope.
    pub(crate) anchored: TokenStream,
}

impl RustPath {
    fn new(path: &str) -> Result<RustPath, Error> {
        Ok(RustPath {
            plain: names::rust_path(path, false)?,
            anchored: names::rust_path(path, true)?,
        })
    }
}

/// The four kinds of gRPC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RpcKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    BidiStreaming,
}

impl Service {
    pub(crate) fn from_prost(service: prost_build::Service) -> Result<Service, Error> {
        Ok(Service {
            docs: names::doc_lines(&service.comments),
            deprecated: service.options.deprecated(),
            methods: service
                .methods
                .into_iter()
                .map(Method::from_prost)
                .collect::<Result<_, _>>()?,
            proto_name: service.proto_name,
            package: service.package,
        })
    }

    /// `pkg.Svc`, or `Svc` without a package.
    pub(crate) fn full_name(&self) -> String {
        if self.package.is_empty() {
            self.proto_name.clone()
        } else {
            format!("{}.{}", self.package, self.proto_name)
        }
    }
}

impl Method {
    fn from_prost(method: prost_build::Method) -> Result<Method, Error> {
        let kind = match (method.client_streaming, method.server_streaming) {
            (false, false) => RpcKind::Unary,
            (false, true) => RpcKind::ServerStreaming,
            (true, false) => RpcKind::ClientStreaming,
            (true, true) => RpcKind::BidiStreaming,
        };
        Ok(Method {
            ident: names::ident(&method.name),
            kind,
            input: RustPath::new(&method.input_type)?,
            output: RustPath::new(&method.output_type)?,
            input_proto: method.input_proto_type.trim_start_matches('.').to_owned(),
            output_proto: method.output_proto_type.trim_start_matches('.').to_owned(),
            docs: names::doc_lines(&method.comments),
            deprecated: method.options.deprecated(),
            proto_name: method.proto_name,
        })
    }
}
