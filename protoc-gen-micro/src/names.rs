//! Naming rules: Rust identifiers, constants and doc comments derived from proto names.

use heck::{ToShoutySnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};

use crate::ir::{Method, Service};

/// Methods of the generated client that an RPC must not shadow.
const CLIENT_METHODS: &[&str] = &["new", "with_service", "service"];

/// An identifier from prost's sanitized form, which writes keywords as `r#type`.
pub(crate) fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// A Rust path as prost-build resolved it (`Request`, `super::common::Id`, `::x::Y`).
pub(crate) fn rust_path(path: &str) -> TokenStream {
    // prost-build produced this path from valid proto names, so it always lexes.
    path.parse()
        .unwrap_or_else(|_| panic!("prost-build produced an invalid Rust path: {path}"))
}

/// `<Svc>Handler`: the trait users implement.
pub(crate) fn handler_trait(service: &Service) -> Ident {
    type_ident(service, "Handler")
}

/// `<Svc>Server`: the adapter a `micro::Service` serves.
pub(crate) fn server_struct(service: &Service) -> Ident {
    type_ident(service, "Server")
}

/// `<Svc>Client`: the generated client.
pub(crate) fn client_struct(service: &Service) -> Ident {
    type_ident(service, "Client")
}

/// Every type name generated for a service, to check against message names.
pub(crate) fn generated_types(service_proto_name: &str) -> [String; 3] {
    let base = service_proto_name.to_upper_camel_case();
    ["Handler", "Server", "Client"].map(|suffix| format!("{base}{suffix}"))
}

fn type_ident(service: &Service, suffix: &str) -> Ident {
    Ident::new(
        &format!("{}{suffix}", service.proto_name.to_upper_camel_case()),
        Span::call_site(),
    )
}

/// `HELLOWORLD_SERVICE_NAME`: the full proto name of the service.
pub(crate) fn service_name_const(service: &Service) -> Ident {
    const_ident(&format!(
        "{}_SERVICE_NAME",
        service.proto_name.to_shouty_snake_case()
    ))
}

/// `HELLOWORLD_SERVICE_INFO`: the service's description for the runtime.
pub(crate) fn service_info_static(service: &Service) -> Ident {
    const_ident(&format!(
        "{}_SERVICE_INFO",
        service.proto_name.to_shouty_snake_case()
    ))
}

/// `HELLOWORLD_GREETING_ENDPOINT`: the go-micro endpoint name of one method.
pub(crate) fn endpoint_const(service: &Service, method: &Method) -> Ident {
    const_ident(&format!(
        "{}_{}_ENDPOINT",
        service.proto_name.to_shouty_snake_case(),
        method.proto_name.to_shouty_snake_case()
    ))
}

/// The name every generated constant is prefixed with, for clash checks.
pub(crate) fn const_prefix(service_proto_name: &str) -> String {
    service_proto_name.to_shouty_snake_case()
}

fn const_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// go-micro's endpoint name: `<Svc>.<Method>`, e.g. `Helloworld.Greeting`.
pub(crate) fn endpoint(service: &Service, method: &Method) -> String {
    format!("{}.{}", service.proto_name, method.proto_name)
}

/// The gRPC path: `/pkg.Svc/Method`.
pub(crate) fn grpc_path(service: &Service, method: &Method) -> String {
    format!("/{}/{}", service.full_name(), method.proto_name)
}

/// The client's method for an RPC, renamed `<name>_rpc` where it would shadow a client method.
pub(crate) fn client_method(method: &Method) -> Ident {
    let name = method.ident.to_string();
    if CLIENT_METHODS.contains(&name.as_str()) {
        Ident::new(&format!("{name}_rpc"), Span::call_site())
    } else {
        method.ident.clone()
    }
}

/// Proto comments as rustdoc lines, sanitized the way prost-build sanitizes message docs.
pub(crate) fn doc_lines(comments: &prost_build::Comments) -> Vec<String> {
    let leading_only = prost_build::Comments {
        leading_detached: Vec::new(),
        ..comments.clone()
    };
    let mut rendered = String::new();
    leading_only.append_with_indent(0, &mut rendered);
    rendered
        .lines()
        .map(|line| line.strip_prefix("///").unwrap_or(line).to_owned())
        .collect()
}
