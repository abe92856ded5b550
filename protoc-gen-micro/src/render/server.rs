//! The server side: the `<Svc>Handler` trait and the `<Svc>Server<H>` adapter.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

use super::docs;
use crate::ir::{Method, RpcKind, Service};
use crate::names;

pub(super) fn render(service: &Service) -> TokenStream {
    let handler_trait = render_trait(service);
    let adapter = render_adapter(service);
    quote! { #handler_trait #adapter }
}

fn render_trait(service: &Service) -> TokenStream {
    let name = names::handler_trait(service);
    let server = names::server_struct(service);
    let docs = docs(&service.docs, service.deprecated);
    let separator = (!service.docs.is_empty()).then(|| quote!(#[doc = ""]));
    let usage = format!(
        " Implement it and serve it with `micro::Service::handle({server}::new(handler))`."
    );
    let methods = service.methods.iter().map(trait_method);
    quote! {
        #docs
        #separator
        #[doc = #usage]
        pub trait #name: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#methods)*
        }
    }
}

/// One trait method; its shape depends on the RPC kind.
fn trait_method(method: &Method) -> TokenStream {
    let docs = docs(&method.docs, method.deprecated);
    let name = &method.ident;
    let (input, output) = (&method.input.plain, &method.output.plain);
    let (params, ok) = match method.kind {
        RpcKind::Unary => (quote!(request: #input), quote!(#output)),
        RpcKind::ServerStreaming => (
            quote!(request: #input, responses: ::micro::codegen::Sender<#output>),
            quote!(()),
        ),
        RpcKind::ClientStreaming => (
            quote!(requests: ::micro::codegen::Streaming<#input>),
            quote!(#output),
        ),
        RpcKind::BidiStreaming => (
            quote! {
                requests: ::micro::codegen::Streaming<#input>,
                responses: ::micro::codegen::Sender<#output>
            },
            quote!(()),
        ),
    };
    quote! {
        #docs
        fn #name(&self, ctx: ::micro::codegen::Context, #params) -> impl ::core::future::Future<
            Output = ::core::result::Result<#ok, ::micro::codegen::Status>,
        > + ::core::marker::Send;
    }
}

fn render_adapter(service: &Service) -> TokenStream {
    let name = names::server_struct(service);
    let handler_trait = names::handler_trait(service);
    let info_static = names::service_info_static(service);
    let name_str = name.to_string();
    let doc =
        format!(" Serves a [`{handler_trait}`]: `micro::Service::handle({name}::new(handler))`.");
    let arms = service
        .methods
        .iter()
        .enumerate()
        .map(|(index, method)| dispatch_arm(&handler_trait, index, method));
    quote! {
        #[doc = #doc]
        pub struct #name<H> {
            handler: ::std::sync::Arc<H>,
        }

        impl<H: #handler_trait> #name<H> {
            /// Wraps a handler.
            pub fn new(handler: H) -> Self {
                Self::from_arc(::std::sync::Arc::new(handler))
            }

            /// Wraps a handler that other code holds too.
            pub fn from_arc(handler: ::std::sync::Arc<H>) -> Self {
                Self { handler }
            }
        }

        impl<H> ::core::clone::Clone for #name<H> {
            fn clone(&self) -> Self {
                Self { handler: ::std::sync::Arc::clone(&self.handler) }
            }
        }

        impl<H> ::core::fmt::Debug for #name<H> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_str).finish_non_exhaustive()
            }
        }

        #[allow(deprecated)]
        impl<H: #handler_trait> ::micro::codegen::Handler for #name<H> {
            fn info(&self) -> &'static ::micro::codegen::ServiceInfo {
                &#info_static
            }

            fn call(
                &self,
                method: usize,
                call: ::micro::codegen::Incoming,
            ) -> ::micro::codegen::ResponseFuture {
                let handler = ::std::sync::Arc::clone(&self.handler);
                match method {
                    #(#arms)*
                    _ => ::micro::codegen::unknown_method(call),
                }
            }
        }
    }
}

/// `index => ::micro::codegen::<kind>(call, |ctx, ..| Trait::method(&*handler, ctx, ..))`.
///
/// The call names the trait: method syntax on the `Arc` would find `Arc::clone` before a
/// handler method named `clone`.
fn dispatch_arm(handler_trait: &Ident, index: usize, method: &Method) -> TokenStream {
    let index = Literal::usize_unsuffixed(index);
    let name = &method.ident;
    // Anchored: the adapter's `H` is in scope, and a message may be named `H`.
    let (input, output) = (&method.input.anchored, &method.output.anchored);
    let call = match method.kind {
        RpcKind::Unary => quote! {
            ::micro::codegen::unary(call, move |ctx: ::micro::codegen::Context, request: #input| async move {
                #handler_trait::#name(&*handler, ctx, request).await
            })
        },
        RpcKind::ServerStreaming => quote! {
            ::micro::codegen::server_streaming(
                call,
                move |ctx: ::micro::codegen::Context, request: #input, responses: ::micro::codegen::Sender<#output>| async move {
                    #handler_trait::#name(&*handler, ctx, request, responses).await
                },
            )
        },
        RpcKind::ClientStreaming => quote! {
            ::micro::codegen::client_streaming(
                call,
                move |ctx: ::micro::codegen::Context, requests: ::micro::codegen::Streaming<#input>| async move {
                    #handler_trait::#name(&*handler, ctx, requests).await
                },
            )
        },
        RpcKind::BidiStreaming => quote! {
            ::micro::codegen::bidi_streaming(
                call,
                move |ctx: ::micro::codegen::Context,
                      requests: ::micro::codegen::Streaming<#input>,
                      responses: ::micro::codegen::Sender<#output>| async move {
                    #handler_trait::#name(&*handler, ctx, requests, responses).await
                },
            )
        },
    };
    quote! { #index => #call, }
}
