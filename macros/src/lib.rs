//! `#[micro::handler]`: an `impl` block of `async fn`s over plain serde types, served as a
//! micro service's endpoints without a `.proto`. Used through the `micro` crate; see
//! `micro::handler` for the whole story.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Error, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, LitStr, Meta, PathArguments,
    ReturnType, Token, Type,
};

/// Marks an `impl` block as a proto-less handler: each `async fn(&self, …)` in it is an
/// endpoint, `Helloworld.Greeting` for `Helloworld::greeting`.
///
/// - `#[micro::handler(package = "greeter.v1")]` sets the proto package of the gRPC path
///   (`/greeter.v1.Helloworld/Greeting`); it is the type's name in lowercase by default.
/// - `#[micro::handler(name = "Greeter")]` sets the handler name (the type's name by default).
/// - `#[micro(name = "Hello")]` on a method sets its endpoint name (its name in UpperCamelCase
///   by default).
///
/// A method's parameters say its kind: an optional `Context` first, then `req: T` or
/// `reqs: Streaming<T>`, then an optional `Sender<R>` for a streamed reply. It returns
/// `Result<R, Status>`, or `Result<(), Status>` when it streams its reply.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = syn::parse_macro_input!(attr as Options);
    let item = syn::parse_macro_input!(item as ItemImpl);
    expand(options, item)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// `package = "…"`, `name = "…"`.
#[derive(Default)]
struct Options {
    package: Option<LitStr>,
    name: Option<LitStr>,
}

impl Parse for Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut options = Options::default();
        for meta in Punctuated::<Meta, Token![,]>::parse_terminated(input)? {
            let Meta::NameValue(pair) = &meta else {
                return Err(Error::new(
                    meta.span(),
                    "expected `package = \"…\"` or `name = \"…\"`",
                ));
            };
            let value = match &pair.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(value),
                    ..
                }) => value.clone(),
                other => return Err(Error::new(other.span(), "expected a string")),
            };
            if pair.path.is_ident("package") {
                options.package = Some(value);
            } else if pair.path.is_ident("name") {
                options.name = Some(value);
            } else {
                return Err(Error::new(
                    pair.path.span(),
                    "unknown option; expected `package` or `name`",
                ));
            }
        }
        Ok(options)
    }
}

/// What kind of call a method serves, and its request and reply types.
struct Endpoint {
    method: syn::Ident,
    name: String,
    context: bool,
    request: Type,
    reply: Type,
    client_streams: bool,
    server_streams: bool,
}

fn expand(options: Options, mut item: ItemImpl) -> syn::Result<Tokens> {
    if !item.generics.params.is_empty() || item.trait_.is_some() {
        return Err(Error::new(
            item.impl_token.span(),
            "#[micro::handler] marks an inherent impl of a type without generic parameters",
        ));
    }
    let self_ty = item.self_ty.clone();
    let type_name = match &*self_ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
    .ok_or_else(|| Error::new(self_ty.span(), "expected a type name"))?;
    let handler = options.name.map_or(type_name.clone(), |name| name.value());
    let package = options
        .package
        .map_or(type_name.to_lowercase(), |p| p.value());
    let mut endpoints = Vec::new();
    for item in &mut item.items {
        if let ImplItem::Fn(method) = item
            && method.sig.asyncness.is_some()
            && matches!(method.sig.inputs.first(), Some(FnArg::Receiver(_)))
        {
            endpoints.push(endpoint(method)?);
        }
    }
    if endpoints.is_empty() {
        return Err(Error::new(
            item.self_ty.span(),
            "#[micro::handler] found no endpoint: write `async fn name(&self, req: T) -> Result<R, Status>`",
        ));
    }
    let descriptions = endpoints.iter().map(|e| {
        let (name, request, reply) = (&e.name, &e.request, &e.reply);
        let kind = kind(e);
        quote! { ::micro::handler::Endpoint::new::<#request, #reply>(#name, ::micro::server::RpcKind::#kind) }
    });
    let arms = endpoints
        .iter()
        .enumerate()
        .map(|(index, e)| arm(index, e, &self_ty));
    let served = format_ident!("__Micro{}Handler", type_name);
    Ok(quote! {
        #item

        const _: () = {
            #[doc(hidden)]
            pub struct #served(::std::sync::Arc<#self_ty>);

            impl ::micro::server::IntoHandler for #self_ty {
                type Handler = #served;

                fn into_handler(self) -> #served {
                    #served(::std::sync::Arc::new(self))
                }
            }

            impl ::micro::server::Handler for #served {
                fn info(&self) -> &'static ::micro::server::ServiceInfo {
                    static INFO: ::std::sync::OnceLock<&'static ::micro::server::ServiceInfo> =
                        ::std::sync::OnceLock::new();
                    INFO.get_or_init(|| {
                        ::micro::handler::describe(#package, #handler, &[#(#descriptions),*])
                    })
                }

                fn call(
                    &self,
                    method: usize,
                    call: ::micro::server::Incoming,
                ) -> ::micro::server::ResponseFuture {
                    let handler = ::std::sync::Arc::clone(&self.0);
                    match method {
                        #(#arms)*
                        _ => ::micro::server::unknown_method(call),
                    }
                }
            }
        };
    })
}

fn kind(endpoint: &Endpoint) -> syn::Ident {
    let name = match (endpoint.client_streams, endpoint.server_streams) {
        (false, false) => "Unary",
        (false, true) => "ServerStreaming",
        (true, false) => "ClientStreaming",
        (true, true) => "BidiStreaming",
    };
    syn::Ident::new(name, Span::call_site())
}

/// The `match` arm serving endpoint `index`.
fn arm(index: usize, endpoint: &Endpoint, self_ty: &Type) -> Tokens {
    let method = &endpoint.method;
    let ctx = endpoint.context.then(|| quote!(ctx,));
    // The context is always handed over; a method that takes none leaves it unused.
    let param = match endpoint.context {
        true => format_ident!("ctx"),
        false => format_ident!("_ctx"),
    };
    let (request, reply) = (&endpoint.request, &endpoint.reply);
    let body = match (endpoint.client_streams, endpoint.server_streams) {
        (false, false) => quote! {
            ::micro::handler::unary(call, move |#param: ::micro::Context, request: #request| async move {
                <#self_ty>::#method(&*handler, #ctx request).await
            })
        },
        (false, true) => quote! {
            ::micro::handler::server_streaming(call, move |#param: ::micro::Context, request: #request, replies: ::micro::Sender<#reply>| async move {
                <#self_ty>::#method(&*handler, #ctx request, replies).await
            })
        },
        (true, false) => quote! {
            ::micro::handler::client_streaming(call, move |#param: ::micro::Context, requests: ::micro::Streaming<#request>| async move {
                <#self_ty>::#method(&*handler, #ctx requests).await
            })
        },
        (true, true) => quote! {
            ::micro::handler::bidi_streaming(call, move |#param: ::micro::Context, requests: ::micro::Streaming<#request>, replies: ::micro::Sender<#reply>| async move {
                <#self_ty>::#method(&*handler, #ctx requests, replies).await
            })
        },
    };
    quote! { #index => #body, }
}

/// Reads a method's signature into an endpoint, and takes its `#[micro(…)]` attributes off.
fn endpoint(method: &mut ImplItemFn) -> syn::Result<Endpoint> {
    let mut name = upper_camel(&method.sig.ident.to_string());
    let mut kept = Vec::new();
    for attr in method.attrs.drain(..) {
        if !attr.path().is_ident("micro") {
            kept.push(attr);
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("unknown option; expected `name = \"…\"`"))
            }
        })?;
    }
    method.attrs = kept;
    let sig = &method.sig;
    let mut types: Vec<&Type> = sig
        .inputs
        .iter()
        .skip(1)
        .filter_map(|arg| match arg {
            FnArg::Typed(arg) => Some(&*arg.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let context = types
        .first()
        .is_some_and(|ty| last_segment(ty).is_some_and(|s| s.ident == "Context"));
    if context {
        types.remove(0);
    }
    let shape = "expected `(&self, [ctx: Context,] req: T [, replies: Sender<R>])` or `(&self, [ctx: Context,] reqs: Streaming<T> [, replies: Sender<R>])`";
    let (request, sender) = match types.as_slice() {
        [request] => (*request, None),
        [request, sender] => (*request, Some(*sender)),
        _ => return Err(Error::new(sig.inputs.span(), shape)),
    };
    let (request, client_streams) = match generic_of(request, "Streaming") {
        Some(inner) => (inner, true),
        None => (request.clone(), false),
    };
    let returned = match &sig.output {
        ReturnType::Type(_, ty) => generic_of(ty, "Result"),
        ReturnType::Default => None,
    }
    .ok_or_else(|| Error::new(sig.output.span(), "an endpoint returns `Result<R, Status>`"))?;
    let (reply, server_streams) = match sender {
        Some(sender) => {
            let reply = generic_of(sender, "Sender").ok_or_else(|| {
                Error::new(
                    sender.span(),
                    format!("{shape}; the last parameter is not a Sender<R>"),
                )
            })?;
            (reply, true)
        }
        None => (returned, false),
    };
    Ok(Endpoint {
        method: sig.ident.clone(),
        name,
        context,
        request,
        reply,
        client_streams,
        server_streams,
    })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) => path.path.segments.last(),
        _ => None,
    }
}

/// `T` in `Wrapper<T, …>`, if `ty` is a `Wrapper`.
fn generic_of(ty: &Type, wrapper: &str) -> Option<Type> {
    let segment = last_segment(ty).filter(|s| s.ident == wrapper)?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    })
}

/// `say_hello` → `SayHello`.
fn upper_camel(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}
