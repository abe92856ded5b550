//! Rendering: IR → tokens, one function per RPC kind; prost-build formats the result.

mod client;
mod server;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::ir::{RpcKind, Service};
use crate::names;
use crate::{Error, Options};

/// Where the generator leaves the first error it meets: prost-build's hook cannot return one.
pub(crate) type ErrorSlot = Rc<RefCell<Option<Error>>>;

/// prost-build's hook: it hands over each service and each finished package.
pub(crate) struct MicroServiceGenerator {
    options: Options,
    /// Encoded descriptor sets by proto package.
    descriptor_sets: HashMap<String, Vec<u8>>,
    error: ErrorSlot,
}

impl MicroServiceGenerator {
    pub(crate) fn new(
        options: Options,
        descriptor_sets: HashMap<String, Vec<u8>>,
        error: ErrorSlot,
    ) -> Self {
        MicroServiceGenerator {
            options,
            descriptor_sets,
            error,
        }
    }
}

impl prost_build::ServiceGenerator for MicroServiceGenerator {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let service = match Service::from_prost(service) {
            Ok(service) => service,
            Err(err) => {
                self.error.borrow_mut().get_or_insert(err);
                return;
            }
        };
        let info = info(&service);
        let server = self.options.server.then(|| server::render(&service));
        let client = self.options.client.then(|| client::render(&service));
        buf.push_str(&quote! { #info #server #client }.to_string());
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        let set = self
            .descriptor_sets
            .get(package)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let literal = Literal::byte_string(set);
        buf.push_str(
            &quote! {
                /// Encoded `FileDescriptorSet` of this package and its imports, for reflection and
                /// JSON transcoding.
                pub const FILE_DESCRIPTOR_SET: &[u8] = #literal;
            }
            .to_string(),
        );
    }
}

/// Constants naming the service and its endpoints, and its `ServiceInfo` for the runtime.
fn info(service: &Service) -> TokenStream {
    let full_name = service.full_name();
    let name_const = names::service_name_const(service);
    let info_static = names::service_info_static(service);
    let package = &service.package;
    let handler = &service.proto_name;
    let name_doc = format!(" Full proto name of the `{full_name}` service.");
    let info_doc = format!(" Describes `{full_name}` to the micro runtime.");
    let endpoints = service.methods.iter().map(|method| {
        let ident = names::endpoint_const(service, method);
        let endpoint = names::endpoint(service, method);
        let doc = format!(
            " go-micro endpoint name of `{full_name}.{}`.",
            method.proto_name
        );
        quote! {
            #[doc = #doc]
            pub const #ident: &str = #endpoint;
        }
    });
    let methods = service.methods.iter().map(|method| {
        let name = &method.proto_name;
        let path = names::grpc_path(service, method);
        let endpoint = names::endpoint_const(service, method);
        let kind = kind(method.kind);
        let (input, output) = (&method.input_proto, &method.output_proto);
        quote! {
            ::micro::codegen::MethodInfo {
                name: #name,
                path: #path,
                endpoint: #endpoint,
                kind: #kind,
                input: #input,
                output: #output,
            }
        }
    });
    quote! {
        #[doc = #name_doc]
        pub const #name_const: &str = #full_name;
        #(#endpoints)*
        #[doc = #info_doc]
        pub static #info_static: ::micro::codegen::ServiceInfo = ::micro::codegen::ServiceInfo {
            name: #name_const,
            package: #package,
            handler: #handler,
            methods: &[#(#methods),*],
            file_descriptor_set: FILE_DESCRIPTOR_SET,
        };
    }
}

fn kind(kind: RpcKind) -> TokenStream {
    match kind {
        RpcKind::Unary => quote!(::micro::codegen::RpcKind::Unary),
        RpcKind::ServerStreaming => quote!(::micro::codegen::RpcKind::ServerStreaming),
        RpcKind::ClientStreaming => quote!(::micro::codegen::RpcKind::ClientStreaming),
        RpcKind::BidiStreaming => quote!(::micro::codegen::RpcKind::BidiStreaming),
    }
}

/// `#[doc]` attributes for proto comments, then `#[deprecated]` if the proto says so.
fn docs(lines: &[String], deprecated: bool) -> TokenStream {
    let deprecated = deprecated.then(|| quote!(#[deprecated]));
    quote! {
        #(#[doc = #lines])*
        #deprecated
    }
}
