//! Calls with plain serde types, without generated code: `client.call::<Req, Resp>("helloworld",
//! "Helloworld.Greeting", req)`, as go-micro's `client.NewRequest(service, endpoint, req)`.
//! Messages travel as JSON (`application/grpc+json`, or go-micro's `application/json` to mucp
//! nodes) through the same stack as generated clients' calls.

use std::sync::Arc;

use futures_core::Stream;
use futures_util::StreamExt;

use super::{Call, CallTarget, Client};
use crate::Streaming;
use crate::codec::Json;
use crate::handler::{Plain, unwrapped};
use crate::rpc::{OneMethod, RpcKind};

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

/// The call target of `endpoint` of `service`, its description interned as generated code's
/// are static. The gRPC path is go-micro's: `/{service}.{Handler}/{Method}`, which micro
/// servers also route by endpoint name.
fn target(service: &str, endpoint: &str, kind: RpcKind) -> CallTarget {
    let (handler, method) = endpoint.split_once('.').unwrap_or((endpoint, endpoint));
    let info = OneMethod {
        service: format!("{service}.{handler}"),
        package: service.to_owned(),
        handler: handler.to_owned(),
        name: method.to_owned(),
        path: format!("/{service}.{handler}/{method}"),
        endpoint: endpoint.to_owned(),
        kind,
        input: String::new(),
        output: String::new(),
    }
    .interned();
    CallTarget {
        service: Arc::from(service),
        info,
        method: &info.methods[0],
    }
}
