//! Naming rules: Rust identifiers, constants and doc comments derived from proto names.

use heck::{ToShoutySnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};

use crate::Error;
use crate::ir::{Method, Service};

/// Methods of the generated client that an RPC must not shadow.
///
/// `clone` is here because the client is `Clone`: `client.clone()` must stay the trait's.
pub(crate) const CLIENT_METHODS: &[&str] = &["new", "with_service", "service", "clone"];

/// The constant holding each package's encoded descriptors.
pub(crate) const FILE_DESCRIPTOR_SET: &str = "FILE_DESCRIPTOR_SET";

/// An identifier from prost's sanitized form, which writes keywords as `r#type`.
pub(crate) fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// A Rust path as prost-build resolved it (`Request`, `super::common::Id`, `::x::Y`, `u32` for
/// a wrapper type). With `anchored`, a message named by one segment is written `self::Request`,
/// so that a message named like a generic parameter of the generated code (`H`, `S`) still means
/// the message; longer paths and primitive types cannot be mistaken for one.
pub(crate) fn rust_path(path: &str, anchored: bool) -> Result<TokenStream, Error> {
    const PRIMITIVES: &[&str] = &["()", "bool", "i32", "i64", "u32", "u64", "f32", "f64"];
    let written = if anchored && !path.contains("::") && !PRIMITIVES.contains(&path) {
        format!("self::{path}")
    } else {
        path.to_owned()
    };
    written.parse().map_err(|_| {
        Error::new(format!(
            "`{path}` is not a Rust path; check the extern_path options that apply to it"
        ))
    })
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
    const_ident(&service_constant(&service.proto_name, "SERVICE_NAME"))
}

/// `HELLOWORLD_SERVICE_INFO`: the service's description for the runtime.
pub(crate) fn service_info_static(service: &Service) -> Ident {
    const_ident(&service_constant(&service.proto_name, "SERVICE_INFO"))
}

/// `HELLOWORLD_GREETING_ENDPOINT`: the go-micro endpoint name of one method.
pub(crate) fn endpoint_const(service: &Service, method: &Method) -> Ident {
    const_ident(&endpoint_constant(&service.proto_name, &method.proto_name))
}

/// The constant and static generated for a service itself, for clash checks (besides the
/// package's [`FILE_DESCRIPTOR_SET`] and each method's [`endpoint_constant`]).
pub(crate) fn service_constants(service: &str) -> [String; 2] {
    [
        service_constant(service, "SERVICE_NAME"),
        service_constant(service, "SERVICE_INFO"),
    ]
}

fn service_constant(service: &str, suffix: &str) -> String {
    format!("{}_{suffix}", service.to_shouty_snake_case())
}

/// `HELLOWORLD_GREETING_ENDPOINT` from proto names.
pub(crate) fn endpoint_constant(service: &str, method: &str) -> String {
    format!(
        "{}_{}_ENDPOINT",
        service.to_shouty_snake_case(),
        method.to_shouty_snake_case()
    )
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
        ident(&client_method_name(&name))
    } else {
        method.ident.clone()
    }
}

/// [`client_method`] for a Rust method name as prost-build writes it.
pub(crate) fn client_method_name(rust_name: &str) -> String {
    if CLIENT_METHODS.contains(&rust_name) {
        format!("{rust_name}_rpc")
    } else {
        rust_name.to_owned()
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

/// The Rust names prost-build gives proto names. prost-build does not export its `ident`
/// module, so its rules are restated here for the clash checks in `validate`.
pub(crate) mod prost {
    use heck::{ToSnakeCase, ToUpperCamelCase};

    /// A field, module or method name: `fooBar` → `foo_bar`, `type` → `r#type`.
    pub(crate) fn snake(name: &str) -> String {
        sanitize(&name.to_snake_case())
    }

    /// A type or variant name: `HTTPServer` → `HttpServer`, `Self` → `Self_`.
    pub(crate) fn upper_camel(name: &str) -> String {
        sanitize(&name.to_upper_camel_case())
    }

    /// An enum variant: the value in upper camel case without the enum's name as a prefix.
    pub(crate) fn enum_variant(enum_name: &str, value: &str) -> String {
        let (prefix, name) = (upper_camel(enum_name), value.to_upper_camel_case());
        let stripped = name.strip_prefix(prefix.as_str()).unwrap_or(&name);
        if stripped.starts_with(char::is_uppercase) {
            sanitize(stripped)
        } else {
            sanitize(&name)
        }
    }

    fn sanitize(ident: &str) -> String {
        match ident {
            "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for"
            | "if" | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub"
            | "ref" | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe"
            | "use" | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do"
            | "final" | "macro" | "override" | "priv" | "typeof" | "unsized" | "virtual"
            | "yield" | "async" | "await" | "try" | "gen" => format!("r#{ident}"),
            "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
            s if s.starts_with(|c: char| c.is_numeric()) => format!("_{ident}"),
            _ => ident.to_owned(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn matches_prost_build() {
            assert_eq!(snake("fooBar"), "foo_bar");
            assert_eq!(snake("type"), "r#type");
            assert_eq!(snake("self"), "self_");
            assert_eq!(upper_camel("HTTPServer"), "HttpServer");
            assert_eq!(upper_camel("Self"), "Self_");
            assert_eq!(enum_variant("Color", "COLOR_RED"), "Red");
            assert_eq!(enum_variant("Color", "COLORFUL"), "Colorful");
            assert_eq!(enum_variant("Kind", "KIND_SELF"), "Self_");
        }
    }
}
