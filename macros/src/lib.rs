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
/// - `#[micro(subscribe = "topic")]` (and optionally `queue = "group"`) makes a method
///   `(&self, [ctx: Context,] message: T) -> Result<(), E>` a subscriber to the topic, reading
///   JSON messages, sharing the handler's instance with its endpoints.
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
    let served = format_ident!("__Micro{}Handler", type_name);
    let package = options
        .package
        .map_or(type_name.to_lowercase(), |p| p.value());
    let mut endpoints = Vec::new();
    let mut subscribers = Vec::new();
    for item in &mut item.items {
        if let ImplItem::Fn(method) = item
            && method.sig.asyncness.is_some()
            && matches!(method.sig.inputs.first(), Some(FnArg::Receiver(_)))
        {
            match method_of(method)? {
                Method::Endpoint(endpoint) => endpoints.push(*endpoint),
                Method::Subscriber(subscriber) => subscribers.push(*subscriber),
            }
        }
    }
    if endpoints.is_empty() && subscribers.is_empty() {
        return Err(Error::new(
            item.self_ty.span(),
            "#[micro::handler] found no endpoint: write `async fn name(&self, req: T) -> Result<R, Status>`",
        ));
    }
    let subscriptions = subscribers.iter().map(|s| subscription(s, &self_ty));
    let mount_endpoints = (!endpoints.is_empty()).then(
        || quote! { let service = service.handle(#served(::std::sync::Arc::clone(&shared))); },
    );
    let descriptions = endpoints.iter().map(|e| {
        let (name, request, reply) = (&e.name, &e.request, &e.reply);
        let kind = kind(e);
        quote! { ::micro::handler::Endpoint::new::<#request, #reply>(#name, ::micro::server::RpcKind::#kind) }
    });
    let arms = endpoints
        .iter()
        .enumerate()
        .map(|(index, e)| arm(index, e, &self_ty));
    Ok(quote! {
        #item

        const _: () = {
            #[doc(hidden)]
            pub struct #served(::std::sync::Arc<#self_ty>);

            impl ::micro::service::Mount for #self_ty {
                fn mount(self, service: ::micro::Service) -> ::micro::Service {
                    let shared = ::std::sync::Arc::new(self);
                    #mount_endpoints
                    #(let service = #subscriptions;)*
                    let _ = shared;
                    service
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

/// A method of the block: an endpoint, or with `#[micro(subscribe = "topic")]` a subscriber.
enum Method {
    Endpoint(Box<Endpoint>),
    Subscriber(Box<Subscriber>),
}

/// A method subscribed to a topic.
struct Subscriber {
    method: syn::Ident,
    topic: LitStr,
    queue: Option<LitStr>,
    context: bool,
    message: Type,
}

/// Reads a method's signature and takes its `#[micro(…)]` attributes off.
fn method_of(method: &mut ImplItemFn) -> syn::Result<Method> {
    let mut name = upper_camel(&method.sig.ident.to_string());
    let (mut topic, mut queue) = (None, None);
    let mut kept = Vec::new();
    for attr in method.attrs.drain(..) {
        if !attr.path().is_ident("micro") {
            kept.push(attr);
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let value = || meta.value()?.parse::<LitStr>();
            if meta.path.is_ident("name") {
                name = value()?.value();
            } else if meta.path.is_ident("subscribe") {
                topic = Some(value()?);
            } else if meta.path.is_ident("queue") {
                queue = Some(value()?);
            } else {
                return Err(meta.error(
                    "unknown option; expected `name = \"…\"`, `subscribe = \"topic\"` or `queue = \"group\"`",
                ));
            }
            Ok(())
        })?;
    }
    method.attrs = kept;
    match topic {
        Some(topic) => subscriber(method, topic, queue).map(|s| Method::Subscriber(Box::new(s))),
        None => endpoint(method, name).map(|endpoint| Method::Endpoint(Box::new(endpoint))),
    }
}

/// The parameters after `&self`, and whether the first is a `Context` (then taken off).
fn parameters(sig: &syn::Signature) -> (bool, Vec<&Type>) {
    let mut types: Vec<&Type> = sig
        .inputs
        .iter()
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
    (context, types)
}

/// A subscriber: `(&self, [ctx: Context,] message: T) -> Result<(), E>`.
fn subscriber(
    method: &ImplItemFn,
    topic: LitStr,
    queue: Option<LitStr>,
) -> syn::Result<Subscriber> {
    let (context, types) = parameters(&method.sig);
    let [message] = types.as_slice() else {
        return Err(Error::new(
            method.sig.inputs.span(),
            "a subscriber takes `(&self, [ctx: Context,] message: T)` and returns `Result<(), E>`",
        ));
    };
    Ok(Subscriber {
        method: method.sig.ident.clone(),
        topic,
        queue,
        context,
        message: (*message).clone(),
    })
}

/// `service.subscribe_with(…)` for a subscriber, which shares the handler's instance.
fn subscription(subscriber: &Subscriber, self_ty: &Type) -> Tokens {
    let Subscriber {
        method,
        topic,
        queue,
        context,
        message,
    } = subscriber;
    let ctx = context.then(|| quote!(ctx,));
    let param = match context {
        true => format_ident!("ctx"),
        false => format_ident!("_ctx"),
    };
    let queue = queue.as_ref().map(|queue| quote! { .queue(#queue) });
    quote! {
        {
            let handler = ::std::sync::Arc::clone(&shared);
            service.subscribe_with(
                #topic,
                ::micro::broker::SubscribeOptions::default() #queue,
                move |#param: ::micro::Context, ::micro::codec::Json(message): ::micro::codec::Json<#message>| {
                    let handler = ::std::sync::Arc::clone(&handler);
                    async move { <#self_ty>::#method(&*handler, #ctx message).await }
                },
            )
        }
    }
}

/// Reads an endpoint's signature: its kind, request and reply types.
fn endpoint(method: &ImplItemFn, name: String) -> syn::Result<Endpoint> {
    let sig = &method.sig;
    let (context, types) = parameters(sig);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(item: &str) -> Result<String, String> {
        let item: ItemImpl = syn::parse_str(item).unwrap();
        expand(Options::default(), item)
            .map(|tokens| tokens.to_string())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn each_kind_of_method_is_served_by_its_own_dispatch() {
        let code = expanded(
            "impl Shop {
                async fn get(&self, ctx: Context, req: Req) -> Result<Resp, Status> { todo!() }
                async fn list(&self, req: Req, out: Sender<Resp>) -> Result<(), Status> { todo!() }
                async fn put(&self, reqs: Streaming<Req>) -> Result<Resp, Status> { todo!() }
                async fn chat(&self, reqs: Streaming<Req>, out: Sender<Resp>) -> Result<(), Status> { todo!() }
                #[micro(subscribe = \"orders\", queue = \"shop\")]
                async fn on_order(&self, order: Req) -> Result<(), Status> { todo!() }
                fn helper(&self) {}
            }",
        )
        .unwrap();
        for expected in [
            "Endpoint :: new :: < Req , Resp > (\"Get\" , :: micro :: server :: RpcKind :: Unary)",
            "RpcKind :: ServerStreaming",
            "RpcKind :: ClientStreaming",
            "RpcKind :: BidiStreaming",
            "describe (\"shop\" , \"Shop\"",
            "subscribe_with (\"orders\"",
            ". queue (\"shop\")",
        ] {
            assert!(code.contains(expected), "{expected} not in {code}");
        }
        assert!(!code.contains("\"Helper\""), "plain fns are not endpoints");
        assert!(
            !code.contains("\"OnOrder\""),
            "subscribers are not endpoints"
        );
    }

    #[test]
    fn bad_signatures_say_what_is_expected() {
        let err = expanded("impl Shop { async fn get(&self) -> Result<Resp, Status> { todo!() } }");
        assert!(
            err.unwrap_err()
                .contains("expected `(&self, [ctx: Context,] req: T")
        );
        let err = expanded("impl Shop { async fn get(&self, req: Req) -> Resp { todo!() } }");
        assert!(err.unwrap_err().contains("returns `Result<R, Status>`"));
        let err = expanded("impl Shop { fn get(&self) {} }");
        assert!(err.unwrap_err().contains("found no endpoint"));
        let err = expanded(
            "impl<T> Shop<T> { async fn get(&self, req: Req) -> Result<Resp, Status> { todo!() } }",
        );
        assert!(err.unwrap_err().contains("without generic parameters"));
    }
}
