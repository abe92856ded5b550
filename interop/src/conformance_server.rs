//! `connectrpc.conformance.v1.ConformanceService` as connectrpc.com/conformance's
//! `docs/testing_servers.md` describes it: each request says which headers, trailers, messages,
//! delays and error to answer with, and every answer echoes what the server saw.

use std::time::Duration;

use micro::metadata::{KeyAndValueRef, MetadataMap};
use micro::{Context, Sender, Status, Streaming};
use prost::Message;
use prost_types::Any;

use crate::conformance::{
    BidiStreamRequest, BidiStreamResponse, ClientStreamRequest, ClientStreamResponse,
    ConformancePayload, ConformanceServiceHandler, Error, Header, IdempotentUnaryRequest,
    IdempotentUnaryResponse, ServerStreamRequest, ServerStreamResponse, StreamResponseDefinition,
    UnaryRequest, UnaryResponse, UnaryResponseDefinition, UnimplementedRequest,
    UnimplementedResponse, conformance_payload::RequestInfo, unary_response_definition,
};

/// The conformance server.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConformanceServer;

impl ConformanceServiceHandler for ConformanceServer {
    async fn unary(&self, ctx: Context, request: UnaryRequest) -> Result<UnaryResponse, Status> {
        let info = request_info(&ctx, &[any("UnaryRequest", &request)]);
        let payload = answer_unary(&ctx, request.response_definition, info).await?;
        Ok(UnaryResponse { payload })
    }

    async fn server_stream(
        &self,
        ctx: Context,
        request: ServerStreamRequest,
        responses: Sender<ServerStreamResponse>,
    ) -> Result<(), Status> {
        let info = request_info(&ctx, &[any("ServerStreamRequest", &request)]);
        let Some(definition) = request.response_definition else {
            return Ok(());
        };
        set_metadata(
            &ctx,
            &definition.response_headers,
            &definition.response_trailers,
        )?;
        ctx.send_headers();
        let mut info = Some(info);
        for data in &definition.response_data {
            sleep(definition.response_delay_ms).await;
            let payload = payload(data.clone(), info.take());
            responses.send(ServerStreamResponse { payload }).await?;
        }
        match definition.error {
            Some(error) => Err(status(error, info)),
            None => Ok(()),
        }
    }

    async fn client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<ClientStreamRequest>,
    ) -> Result<ClientStreamResponse, Status> {
        let mut received = Vec::new();
        let mut definition = None;
        while let Some(request) = requests.recv().await? {
            if received.is_empty() {
                definition = request.response_definition.clone();
            }
            received.push(any("ClientStreamRequest", &request));
        }
        let info = request_info(&ctx, &received);
        let payload = answer_unary(&ctx, definition, info).await?;
        Ok(ClientStreamResponse { payload })
    }

    async fn bidi_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<BidiStreamRequest>,
        responses: Sender<BidiStreamResponse>,
    ) -> Result<(), Status> {
        let mut received = Vec::new();
        let mut definition: Option<StreamResponseDefinition> = None;
        let mut full_duplex = false;
        let mut sent = 0;
        while let Some(request) = requests.recv().await? {
            if received.is_empty() && sent == 0 {
                full_duplex = request.full_duplex;
                definition = request.response_definition.clone();
                if let Some(definition) = &definition {
                    let (headers, trailers) =
                        (&definition.response_headers, &definition.response_trailers);
                    set_metadata(&ctx, headers, trailers)?;
                    ctx.send_headers();
                }
            }
            received.push(any("BidiStreamRequest", &request));
            if !full_duplex {
                continue;
            }
            let Some(definition) = &definition else {
                continue;
            };
            let Some(data) = definition.response_data.get(sent) else {
                return Err(stream_error(definition, &ctx, &mut received, sent));
            };
            sleep(definition.response_delay_ms).await;
            // Every response echoes the requests received since the one before.
            let info = request_info(&ctx, &std::mem::take(&mut received));
            let payload = payload(data.clone(), Some(info));
            responses.send(BidiStreamResponse { payload }).await?;
            sent += 1;
        }
        let Some(definition) = definition else {
            return Ok(());
        };
        if !full_duplex {
            let mut info = Some(request_info(&ctx, &received));
            for data in &definition.response_data {
                sleep(definition.response_delay_ms).await;
                let payload = payload(data.clone(), info.take());
                responses.send(BidiStreamResponse { payload }).await?;
                sent += 1;
            }
        }
        match definition.error {
            Some(_) => Err(stream_error(&definition, &ctx, &mut received, sent)),
            None => Ok(()),
        }
    }

    async fn unimplemented(
        &self,
        _ctx: Context,
        _request: UnimplementedRequest,
    ) -> Result<UnimplementedResponse, Status> {
        Err(Status::unimplemented(
            "connectrpc.conformance.v1.ConformanceService/Unimplemented is never implemented",
        ))
    }

    async fn idempotent_unary(
        &self,
        ctx: Context,
        request: IdempotentUnaryRequest,
    ) -> Result<IdempotentUnaryResponse, Status> {
        let info = request_info(&ctx, &[any("IdempotentUnaryRequest", &request)]);
        let payload = answer_unary(&ctx, request.response_definition, info).await?;
        Ok(IdempotentUnaryResponse { payload })
    }
}

/// A stream's error, with what the server saw in its details if nothing was sent yet.
fn stream_error(
    definition: &StreamResponseDefinition,
    ctx: &Context,
    received: &mut Vec<Any>,
    sent: usize,
) -> Status {
    let info = (sent == 0).then(|| request_info(ctx, &std::mem::take(received)));
    match definition.error.clone() {
        Some(error) => status(error, info),
        None => Status::ok(""),
    }
}

/// The unary answer a definition asks for, after its headers, trailers and delay.
async fn answer_unary(
    ctx: &Context,
    definition: Option<UnaryResponseDefinition>,
    info: RequestInfo,
) -> Result<Option<ConformancePayload>, Status> {
    let Some(definition) = definition else {
        return Ok(payload(Vec::new(), Some(info)));
    };
    set_metadata(
        ctx,
        &definition.response_headers,
        &definition.response_trailers,
    )?;
    sleep(definition.response_delay_ms).await;
    match definition.response {
        Some(unary_response_definition::Response::Error(error)) => Err(status(error, Some(info))),
        Some(unary_response_definition::Response::ResponseData(data)) => {
            Ok(payload(data, Some(info)))
        }
        None => Ok(payload(Vec::new(), Some(info))),
    }
}

fn payload(data: Vec<u8>, request_info: Option<RequestInfo>) -> Option<ConformancePayload> {
    Some(ConformancePayload { data, request_info })
}

/// What the server saw: the request headers, the timeout and the requests.
fn request_info(ctx: &Context, requests: &[Any]) -> RequestInfo {
    RequestInfo {
        request_headers: headers(ctx.metadata()),
        timeout_ms: ctx.remaining().map(|left| left.as_millis() as i64),
        requests: requests.to_vec(),
        connect_get_info: None,
    }
}

/// Metadata as the conformance protos write headers: one entry per name, values in order.
pub(crate) fn headers(metadata: &MetadataMap) -> Vec<Header> {
    let mut headers: Vec<Header> = Vec::new();
    for entry in metadata.iter() {
        let (name, value) = match entry {
            KeyAndValueRef::Ascii(key, value) => (
                key.as_str().to_owned(),
                String::from_utf8_lossy(value.as_encoded_bytes()).into_owned(),
            ),
            KeyAndValueRef::Binary(key, value) => (
                key.as_str().to_owned(),
                String::from_utf8_lossy(value.as_encoded_bytes()).into_owned(),
            ),
        };
        match headers.iter_mut().find(|header| header.name == name) {
            Some(header) => header.value.push(value),
            None => headers.push(Header {
                name,
                value: vec![value],
            }),
        }
    }
    headers
}

/// Sets the response headers and trailers a definition asks for.
fn set_metadata(ctx: &Context, headers: &[Header], trailers: &[Header]) -> Result<(), Status> {
    ctx.set_header(metadata(headers)?)?;
    ctx.set_trailer(metadata(trailers)?)
}

fn metadata(headers: &[Header]) -> Result<MetadataMap, Status> {
    let mut map = MetadataMap::new();
    for header in headers {
        let name = header.name.to_ascii_lowercase();
        for value in &header.value {
            let invalid = |what: &str| Status::invalid_argument(format!("{what} `{name}`"));
            if name.ends_with("-bin") {
                let key = micro::metadata::MetadataKey::from_bytes(name.as_bytes())
                    .map_err(|_| invalid("invalid binary header name"))?;
                let value = micro::metadata::MetadataValue::from_bytes(value.as_bytes());
                map.append_bin(key, value);
            } else {
                let key = micro::metadata::MetadataKey::from_bytes(name.as_bytes())
                    .map_err(|_| invalid("invalid header name"))?;
                let value = value.parse().map_err(|_| invalid("invalid value for"))?;
                map.append(key, value);
            }
        }
    }
    Ok(map)
}

/// The status an [`Error`] describes, with the request info first in its details.
fn status(error: Error, info: Option<RequestInfo>) -> Status {
    let code = micro::Code::from_i32(error.code);
    let message = error.message.unwrap_or_default();
    let mut details: Vec<Any> = info
        .map(|info| any("ConformancePayload.RequestInfo", &info))
        .into_iter()
        .collect();
    details.extend(error.details);
    let encoded = RpcStatus {
        code: error.code,
        message: message.clone(),
        details,
    }
    .encode_to_vec();
    Status::with_details(code, message, encoded.into())
}

/// `google.rpc.Status`, the message gRPC's `grpc-status-details-bin` holds.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<Any>,
}

/// `message` as an `Any` of the conformance package's type `name`.
fn any<M: Message>(name: &str, message: &M) -> Any {
    Any {
        type_url: format!("type.googleapis.com/connectrpc.conformance.v1.{name}"),
        value: message.encode_to_vec(),
    }
}

async fn sleep(ms: u32) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
    }
}
