//! Calls with plain serde types, without generated code: `client.call::<Req, Resp>("helloworld",
//! "Helloworld.Greeting", req)`, as go-micro's `client.NewRequest(service, endpoint, req)`.
//! Messages travel as JSON (`application/grpc+json`, or go-micro's `application/json` to mucp
//! nodes) through the same stack as generated clients' calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures_core::Stream;
use futures_util::StreamExt;

use super::{Call, CallTarget, Client};
use crate::Streaming;
use crate::codec::Json;
use crate::handler::{Plain, unwrapped};
use crate::rpc::{MethodInfo, RpcKind, ServiceInfo};

impl Client {
    /// Calls the unary `endpoint` (`Helloworld.Greeting`) of `service` with a serde request;
    /// the reply is read as `Resp`. Any micro service answers (proto-less or generated), and
    /// so does a go-micro one.
    ///
    /// ```no_run
    /// # async fn run(client: micro::Client) -> Result<(), micro::Status> {
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Request { name: String }
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Response { message: String }
    ///
    /// let request = Request { name: "alice".into() };
    /// let reply: Response = client.call("helloworld", "Helloworld.Greeting", request).await?;
    /// assert_eq!(reply.message, "Hello alice");
    /// # Ok(()) }
    /// ```
    pub fn call<Req: Plain, Resp: Plain>(
        &self,
        service: &str,
        endpoint: &str,
        request: Req,
    ) -> Call<Resp> {
        let target = target(service, endpoint, RpcKind::Unary);
        self.unary(target, Json(request)).map(|Json(reply)| reply)
    }

    /// Calls the server-streaming `endpoint` of `service` with a serde request: its replies
    /// arrive on the stream.
    pub fn call_server_streaming<Req: Plain, Resp: Plain>(
        &self,
        service: &str,
        endpoint: &str,
        request: Req,
    ) -> Call<Streaming<Resp>> {
        let target = target(service, endpoint, RpcKind::ServerStreaming);
        self.server_streaming(target, Json(request)).map(unwrapped)
    }

    /// Calls the client-streaming `endpoint` of `service` with the serde requests of
    /// `requests`; the one reply is read as `Resp`.
    pub fn call_client_streaming<Req, Resp, S>(
        &self,
        service: &str,
        endpoint: &str,
        requests: S,
    ) -> Call<Resp>
    where
        Req: Plain,
        Resp: Plain,
        S: Stream<Item = Req> + Send + 'static,
    {
        let target = target(service, endpoint, RpcKind::ClientStreaming);
        (self.client_streaming(target, requests.map(Json))).map(|Json(reply)| reply)
    }

    /// Calls the bidirectional `endpoint` of `service`: `requests` go out as they come, the
    /// replies arrive on the stream.
    pub fn call_bidi_streaming<Req, Resp, S>(
        &self,
        service: &str,
        endpoint: &str,
        requests: S,
    ) -> Call<Streaming<Resp>>
    where
        Req: Plain,
        Resp: Plain,
        S: Stream<Item = Req> + Send + 'static,
    {
        let target = target(service, endpoint, RpcKind::BidiStreaming);
        (self.bidi_streaming(target, requests.map(Json))).map(unwrapped)
    }
}

/// The call target of `endpoint` of `service`, made once per distinct endpoint and kept for
/// the life of the process, as generated code's are. The gRPC path is go-micro's:
/// `/{service}.{Handler}/{Method}`, which micro servers also route by endpoint name.
fn target(service: &str, endpoint: &str, kind: RpcKind) -> CallTarget {
    type Key = (String, String, RpcKind);
    static INTERNED: OnceLock<Mutex<HashMap<Key, &'static ServiceInfo>>> = OnceLock::new();
    let key = (service.to_owned(), endpoint.to_owned(), kind);
    let interned = INTERNED.get_or_init(Default::default);
    let mut interned = interned
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let info = *interned
        .entry(key)
        .or_insert_with(|| describe(service, endpoint, kind));
    CallTarget {
        service: Arc::from(service),
        info,
        method: &info.methods[0],
    }
}

fn describe(service: &str, endpoint: &str, kind: RpcKind) -> &'static ServiceInfo {
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    let (handler, method) = endpoint.split_once('.').unwrap_or((endpoint, endpoint));
    let method = MethodInfo {
        name: leak(method.to_owned()),
        path: leak(format!("/{service}.{handler}/{method}")),
        endpoint: leak(endpoint.to_owned()),
        kind,
        input: "",
        output: "",
    };
    Box::leak(Box::new(ServiceInfo {
        name: leak(format!("{service}.{handler}")),
        package: leak(service.to_owned()),
        handler: leak(handler.to_owned()),
        methods: Box::leak(Box::new([method])),
        file_descriptor_set: &[],
    }))
}
