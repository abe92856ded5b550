//! The client side: `<Svc>Client`, one method per RPC, over `micro::Client`'s tower stack.

use heck::ToSnakeCase;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::docs;
use crate::ir::{Method, RpcKind, Service};
use crate::names;

pub(super) fn render(service: &Service) -> TokenStream {
    let name = names::client_struct(service);
    let full_name = service.full_name();
    let default_service = default_service_name(service);
    let doc = format!(" Calls the `{full_name}` service through a `micro::Client`.");
    let new_doc = format!(
        " Calls the service registered as `{default_service}`; see [`Self::with_service`]."
    );
    let methods = service
        .methods
        .iter()
        .enumerate()
        .map(|(index, method)| client_method(service, index, method));
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub struct #name {
            client: ::micro::codegen::Client,
            service: ::std::sync::Arc<str>,
        }

        impl #name {
            #[doc = #new_doc]
            pub fn new(client: ::micro::codegen::Client) -> Self {
                Self { client, service: ::std::sync::Arc::from(#default_service) }
            }

            /// Calls the service registered under `name` instead.
            pub fn with_service(mut self, name: impl ::core::convert::Into<::std::sync::Arc<str>>) -> Self {
                self.service = name.into();
                self
            }

            /// The name of the service this client calls.
            pub fn service(&self) -> &str {
                &self.service
            }

            #(#methods)*
        }
    }
}

/// The proto package names the service by default, as go-micro's generated clients assume.
fn default_service_name(service: &Service) -> String {
    if service.package.is_empty() {
        service.proto_name.to_snake_case()
    } else {
        service.package.clone()
    }
}

fn client_method(service: &Service, index: usize, method: &Method) -> TokenStream {
    let docs = docs(&method.docs, method.deprecated);
    let name = names::client_method(method);
    let info_static = names::service_info_static(service);
    let index = Literal::usize_unsuffixed(index);
    let (input, output) = (&method.input.plain, &method.output.plain);
    // Anchored where the method's `S` is in scope, for a message named `S`.
    let (s_input, s_output) = (&method.input.anchored, &method.output.anchored);
    let target = quote!(::micro::codegen::CallTarget::new(&self.service, &#info_static, #index));

    let body = match method.kind {
        RpcKind::Unary => quote! {
            pub fn #name(&self, request: #input) -> ::micro::codegen::Call<#output> {
                self.client.unary(#target, request)
            }
        },
        RpcKind::ServerStreaming => quote! {
            pub fn #name(
                &self,
                request: #input,
            ) -> ::micro::codegen::Call<::micro::codegen::Streaming<#output>> {
                self.client.server_streaming(#target, request)
            }
        },
        RpcKind::ClientStreaming => quote! {
            pub fn #name<S>(&self, requests: S) -> ::micro::codegen::Call<#s_output>
            where
                S: ::micro::codegen::Stream<Item = #s_input> + ::core::marker::Send + 'static,
            {
                self.client.client_streaming(#target, requests)
            }
        },
        RpcKind::BidiStreaming => quote! {
            pub fn #name<S>(
                &self,
                requests: S,
            ) -> ::micro::codegen::Call<::micro::codegen::Streaming<#s_output>>
            where
                S: ::micro::codegen::Stream<Item = #s_input> + ::core::marker::Send + 'static,
            {
                self.client.bidi_streaming(#target, requests)
            }
        },
    };
    quote! { #docs #body }
}
