//! Handlers without a `.proto`: plain serde types, as go-micro's `micro.Handle(new(Helloworld))`.
//!
//! Mark an `impl` block with [`#[micro::handler]`](macro@crate::handler); each `async fn` in it
//! becomes an endpoint, `Helloworld.Greeting` for `Helloworld::greeting`:
//!
//! ```no_run
//! use micro::{Context, Service, Status};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Request { name: String }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Response { message: String }
//!
//! struct Helloworld;
//!
//! #[micro::handler]
//! impl Helloworld {
//!     async fn greeting(&self, _ctx: Context, req: Request) -> Result<Response, Status> {
//!         Ok(Response { message: format!("Hello {}", req.name) })
//!     }
//! }
//!
//! # async fn run() -> Result<(), micro::service::Error> {
//! Service::new("helloworld").handle(Helloworld).run().await
//! # }
//! ```
//!
//! The method's parameters say its kind, as in generated handlers: `req: T` or
//! `reqs: Streaming<T>`, and a reply `Result<R, Status>` or a `Sender<R>` (then the method
//! returns `Result<(), Status>`).
//!
//! # What it speaks
//!
//! Messages are JSON as serde writes them (field names, `rename`, `default`, …), on every
//! protocol of the port: go-micro's `Micro-Endpoint` curl, Connect (`application/json`,
//! `application/connect+json`), gRPC and gRPC-Web with the JSON codec
//! (`application/grpc+json`).
//!
//! The types describe themselves too: their serde `Deserialize` impls are traced into protobuf
//! descriptors (structs as messages, `Vec` as repeated fields, maps, `Option`, unit-only enums).
//! With those, the service also speaks protobuf, serves gRPC reflection (`grpcurl`, `buf curl`,
//! `micro call`, the gateway) and registers go-micro's endpoint descriptions. A type protobuf
//! cannot carry as its JSON does (tuples, byte strings, enums with data, lists of lists) leaves
//! its handler JSON-only, with a warning at start saying which field: JSON calls work as
//! before, protobuf calls are refused with `UNIMPLEMENTED`.

mod describe;

use futures_util::{StreamExt, TryFutureExt};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

use serde_reflection::{Format, Registry, Samples, Tracer, TracerConfig};

use crate::codec::{Json, short_name};
use crate::rpc::{MethodInfo, RpcKind, ServiceInfo};
use crate::server::{Incoming, ResponseFuture, dispatch};
use crate::{Context, Sender, Status, Streaming};

/// A type a proto-less endpoint takes or returns: any serde type, sent as JSON.
pub trait Plain: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Plain for T {}

/// One endpoint of a proto-less handler, as `#[micro::handler]` lists it.
#[doc(hidden)]
pub struct Endpoint {
    name: &'static str,
    kind: RpcKind,
    /// Traces the request and reply types into the tracer's registry.
    trace: fn(&mut Tracer) -> serde_reflection::Result<(Format, Format)>,
    /// The Rust names of the request and reply types.
    types: (&'static str, &'static str),
}

impl Endpoint {
    /// Endpoint `name` (`Greeting`) of kind `kind`, taking `Req`s and replying `Resp`s.
    pub fn new<Req: Plain, Resp: Plain>(name: &'static str, kind: RpcKind) -> Endpoint {
        Endpoint {
            name,
            kind,
            trace: trace::<Req, Resp>,
            types: (short_name::<Req>(), short_name::<Resp>()),
        }
    }
}

fn trace<Req: Plain, Resp: Plain>(
    tracer: &mut Tracer,
) -> serde_reflection::Result<(Format, Format)> {
    let samples = Samples::new();
    let (input, _) = tracer.trace_type::<Req>(&samples)?;
    let (output, _) = tracer.trace_type::<Resp>(&samples)?;
    Ok((input, output))
}

/// The description of proto-less handler `handler` in `package`: names, methods and, if its
/// types can describe themselves, protobuf descriptors. Made once per handler type (by the
/// code `#[micro::handler]` writes) and kept for the life of the process.
#[doc(hidden)]
pub fn describe(
    package: &'static str,
    handler: &'static str,
    endpoints: &[Endpoint],
) -> &'static ServiceInfo {
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    let name = leak(format!("{package}.{handler}"));
    let (descriptors, names) = match descriptors(package, handler, endpoints) {
        Ok((set, names)) => (&*Box::leak(set.into_boxed_slice()), names),
        Err(why) => {
            tracing::warn!(
                service = name,
                "the handler's types have no protobuf description, so it speaks JSON only: {why}"
            );
            let names = endpoints
                .iter()
                .map(|e| (e.types.0.into(), e.types.1.into()));
            (&[][..], names.collect())
        }
    };
    let methods = endpoints
        .iter()
        .zip(names)
        .map(|(endpoint, (input, output))| MethodInfo {
            name: endpoint.name,
            path: leak(format!("/{name}/{}", endpoint.name)),
            endpoint: leak(format!("{handler}.{}", endpoint.name)),
            kind: endpoint.kind,
            input: leak(input),
            output: leak(output),
        });
    Box::leak(Box::new(ServiceInfo {
        name,
        package,
        handler,
        methods: Box::leak(methods.collect::<Vec<_>>().into_boxed_slice()),
        file_descriptor_set: descriptors,
    }))
}

/// The full names of an endpoint's request and reply messages.
type MessageNames = (String, String);

/// The encoded descriptor set of the handler, checked by building a pool from it, and the
/// full names of each endpoint's request and reply messages.
fn descriptors(
    package: &str,
    handler: &str,
    endpoints: &[Endpoint],
) -> Result<(Vec<u8>, Vec<MessageNames>), String> {
    let (formats, registry) = traced(endpoints)?;
    let methods: Vec<_> = endpoints
        .iter()
        .zip(&formats)
        .map(|(endpoint, (input, output))| describe::DescribedMethod {
            name: endpoint.name,
            input,
            output,
            client_streaming: endpoint.kind.client_streams(),
            server_streaming: endpoint.kind.server_streams(),
        })
        .collect();
    let file = describe::file(package, handler, &methods, &registry)?;
    let service = &file.service[0];
    let names = (service.method.iter())
        .map(|method| {
            let name = |full: &str| full.trim_start_matches('.').to_owned();
            (name(method.input_type()), name(method.output_type()))
        })
        .collect();
    let set = prost_types::FileDescriptorSet { file: vec![file] }.encode_to_vec();
    prost_reflect::DescriptorPool::decode(set.as_slice())
        .map_err(|err| format!("the derived descriptors are invalid: {err}"))?;
    Ok((set, names))
}

/// Passes over all the endpoints' types, at most, to find every variant of the enums inside
/// them: serde-reflection finds one more variant of an enum per pass.
const MAX_PASSES: usize = 256;

/// The endpoints' request and reply formats, and the registry of every type inside them.
///
/// serde-reflection explores the variants of the enums nested in a type only when told their
/// names, which its registry's error gives: so tracing restarts once knowing them.
fn traced(endpoints: &[Endpoint]) -> Result<(Vec<(Format, Format)>, Registry), String> {
    let mut enums: BTreeSet<String> = BTreeSet::new();
    loop {
        let mut tracer = Tracer::new(TracerConfig::default().is_human_readable(true));
        let formats = trace_all(&mut tracer, endpoints)?;
        for _ in 0..MAX_PASSES {
            let incomplete = (enums.iter())
                .filter(|name| tracer.check_incomplete_enum(name).is_some())
                .count();
            if incomplete == 0 {
                break;
            }
            trace_all(&mut tracer, endpoints)?;
        }
        match tracer.registry() {
            Ok(registry) => return Ok((formats, registry)),
            Err(serde_reflection::Error::MissingVariants(names))
                if names.iter().any(|name| !enums.contains(name)) =>
            {
                enums.extend(names);
            }
            Err(err) => return Err(format!("serde cannot trace the types: {err}")),
        }
    }
}

fn trace_all(tracer: &mut Tracer, endpoints: &[Endpoint]) -> Result<Vec<(Format, Format)>, String> {
    let trace = |endpoint: &Endpoint| {
        (endpoint.trace)(tracer).map_err(|err| {
            let (input, output) = endpoint.types;
            format!("serde cannot trace {input} or {output}: {err}")
        })
    };
    endpoints.iter().map(trace).collect()
}

/// Serves a unary call of a proto-less endpoint.
#[doc(hidden)]
pub fn unary<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Plain,
    Resp: Plain,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    dispatch::unary(call, move |ctx, Json(request): Json<Req>| {
        handler(ctx, request).map_ok(Json)
    })
}

/// Serves a server-streaming call of a proto-less endpoint.
#[doc(hidden)]
pub fn server_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Plain,
    Resp: Plain,
    F: FnOnce(Context, Req, Sender<Resp>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    dispatch::server_streaming_as::<Json<Req>, Json<Resp>, Resp, _, _>(
        call,
        move |ctx, Json(request), responses| handler(ctx, request, responses),
    )
}

/// Serves a client-streaming call of a proto-less endpoint.
#[doc(hidden)]
pub fn client_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Plain,
    Resp: Plain,
    F: FnOnce(Context, Streaming<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    dispatch::client_streaming(call, move |ctx, requests: Streaming<Json<Req>>| {
        handler(ctx, unwrapped(requests)).map_ok(Json)
    })
}

/// Serves a bidirectional streaming call of a proto-less endpoint.
#[doc(hidden)]
pub fn bidi_streaming<Req, Resp, F, Fut>(call: Incoming, handler: F) -> ResponseFuture
where
    Req: Plain,
    Resp: Plain,
    F: FnOnce(Context, Streaming<Req>, Sender<Resp>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    dispatch::bidi_streaming_as::<Json<Req>, Json<Resp>, Resp, _, _>(
        call,
        move |ctx, requests, responses| handler(ctx, unwrapped(requests), responses),
    )
}

/// The serde values of a stream of [`Json`] messages.
pub(crate) fn unwrapped<T: Send + 'static>(requests: Streaming<Json<T>>) -> Streaming<T> {
    Streaming::new(requests.map(|request| request.map(|Json(value)| value)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use prost_reflect::DescriptorPool;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize)]
    enum Kind {
        Small,
        Large,
    }

    #[derive(Serialize, Deserialize)]
    struct Id(u64);

    #[derive(Serialize, Deserialize)]
    struct Request {
        id: Id,
        kinds: Vec<Kind>,
        counts: HashMap<String, Line>,
        note: Option<String>,
        line: Option<Line>,
        maybe: Option<Vec<String>>,
    }

    #[derive(Serialize, Deserialize)]
    struct Line {
        sku: String,
        next: Option<Box<Line>>,
    }

    #[derive(Serialize, Deserialize)]
    struct WithData {
        kind: Result<u32, String>,
    }

    fn pool(endpoints: &[Endpoint]) -> Result<DescriptorPool, String> {
        let (set, _) = descriptors("shop", "Shop", endpoints)?;
        Ok(DescriptorPool::decode(set.as_slice()).unwrap())
    }

    #[test]
    fn structs_lists_maps_options_enums_and_recursion_describe_themselves() {
        let endpoints = [Endpoint::new::<Request, Line>("Get", RpcKind::Unary)];
        let pool = pool(&endpoints).unwrap();
        let method = pool
            .get_service_by_name("shop.Shop")
            .unwrap()
            .methods()
            .next()
            .unwrap();
        assert_eq!(method.input().full_name(), "shop.Request");
        assert_eq!(method.output().full_name(), "shop.Line");
        let request = method.input();
        let field = |name| request.get_field_by_name(name).unwrap();
        assert_eq!(field("id").kind(), prost_reflect::Kind::Uint64);
        assert!(field("kinds").is_list());
        assert!(field("kinds").kind().as_enum().is_some());
        assert!(field("counts").is_map());
        assert!(field("note").supports_presence());
        assert!(field("line").kind().as_message().is_some());
        assert!(field("maybe").is_list());
        let line = method.output();
        assert_eq!(
            line.get_field_by_name("next")
                .unwrap()
                .kind()
                .as_message()
                .unwrap()
                .full_name(),
            "shop.Line"
        );
    }

    #[test]
    fn an_enum_with_data_leaves_the_handler_json_only_and_says_why() {
        let endpoints = [Endpoint::new::<WithData, Line>("Get", RpcKind::Unary)];
        let why = pool(&endpoints).unwrap_err();
        assert!(
            why.contains("WithData.kind") || why.contains("Result"),
            "{why}"
        );
        let info = describe("shop", "Odd", &endpoints);
        assert!(info.file_descriptor_set.is_empty());
        assert_eq!(info.methods[0].endpoint, "Odd.Get");
        assert_eq!(info.methods[0].path, "/shop.Odd/Get");
    }
}
