//! The client under test for `connectconformance --mode client`: each `ClientCompatRequest`
//! names an RPC of `ConformanceService` to make with a micro-rs client, and the result
//! (headers, payloads, error, trailers) goes back as a `ClientCompatResponse`.
//!
//! The micro-rs client speaks gRPC over HTTP/2 (protobuf or JSON messages, identity or gzip),
//! which `interop/conformance/client-config.yaml` declares.

use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use micro::client::ResponseMetadata;
use micro::{Call, Status, Streaming};
use prost::Message;

use crate::conformance::client_compat_request::cancel::CancelTiming;
use crate::conformance::{
    BidiStreamRequest, ClientCompatRequest, ClientCompatResponse, ClientErrorResult,
    ClientResponseResult, ClientStreamRequest, Codec, Compression, ConformancePayload,
    ConformanceServiceClient, Error, IdempotentUnaryRequest, Protocol, ServerStreamRequest,
    StreamType, UnaryRequest, UnimplementedRequest, client_compat_response,
};
use crate::conformance_server::{RpcStatus, headers};

/// Makes the RPC `request` describes and reports what happened.
pub async fn run(request: ClientCompatRequest) -> ClientCompatResponse {
    let test_name = request.test_name.clone();
    let result = match call(request).await {
        Ok(result) => client_compat_response::Result::Response(result),
        Err(message) => client_compat_response::Result::Error(ClientErrorResult { message }),
    };
    ClientCompatResponse {
        test_name,
        result: Some(result),
    }
}

async fn call(request: ClientCompatRequest) -> Result<ClientResponseResult, String> {
    if request.protocol() != Protocol::Grpc {
        return Err(format!(
            "the micro-rs client speaks gRPC, not {:?}",
            request.protocol()
        ));
    }
    if request.raw_request.is_some() {
        return Err("raw requests are not supported".to_owned());
    }
    let codec = match request.codec() {
        Codec::Json => micro::codec::Format::Json,
        _ => micro::codec::Format::Protobuf,
    };
    let mut builder = micro::Client::builder()
        .address(format!("{}:{}", request.host, request.port))
        .retries(0)
        .without_timeout()
        .codec(codec);
    if request.message_receive_limit > 0 {
        builder = builder.max_message_size(request.message_receive_limit as usize);
    }
    let client = builder.build().map_err(|err| err.to_string())?;
    let service = ConformanceServiceClient::new(client);
    let metadata = ResponseMetadata::default();
    let rpc = Rpc {
        request,
        metadata: metadata.clone(),
    };
    let mut outcome = match rpc.request.method.as_deref().unwrap_or("") {
        "Unary" => rpc.unary(|m: UnaryRequest| service.unary(m)).await?,
        "IdempotentUnary" => {
            rpc.unary(|m: IdempotentUnaryRequest| service.idempotent_unary(m))
                .await?
        }
        "Unimplemented" => {
            rpc.unary(|m: UnimplementedRequest| service.unimplemented(m))
                .await?
        }
        "ServerStream" => rpc.server_stream(&service).await?,
        "ClientStream" => rpc.client_stream(&service).await?,
        "BidiStream" => rpc.bidi_stream(&service).await?,
        other => return Err(format!("unknown method `{other}`")),
    };
    outcome.response_headers = headers(&metadata.headers());
    outcome.response_trailers = headers(&metadata.trailers());
    Ok(outcome)
}

/// One RPC to make: the request and where its response metadata goes.
struct Rpc {
    request: ClientCompatRequest,
    metadata: ResponseMetadata,
}

impl Rpc {
    /// The request messages, decoded as `M`.
    fn messages<M: Message + Default>(&self) -> Result<Vec<M>, String> {
        self.request
            .request_messages
            .iter()
            .map(|any| M::decode(any.value.as_slice()).map_err(|err| err.to_string()))
            .collect()
    }

    /// `call` with the request's headers, timeout, compression and metadata capture.
    fn options<T: Send + 'static>(&self, mut call: Call<T>) -> Call<T> {
        for header in &self.request.request_headers {
            let name = header.name.to_ascii_lowercase();
            for value in &header.value {
                call = match name.ends_with("-bin") {
                    true => call.metadata_bin(&name, value.as_bytes()),
                    false => call.metadata(&name, value),
                };
            }
        }
        if let Some(ms) = self.request.timeout_ms {
            call = call.timeout(Duration::from_millis(ms.into()));
        }
        if self.request.compression() == Compression::Gzip {
            call = call.gzip();
        }
        call.response_metadata(&self.metadata)
    }

    fn cancel(&self) -> Option<CancelTiming> {
        self.request.cancel.as_ref()?.cancel_timing
    }

    async fn unary<M, R>(
        &self,
        make: impl FnOnce(M) -> Call<R>,
    ) -> Result<ClientResponseResult, String>
    where
        M: Message + Default,
        R: Payload + Send + 'static,
    {
        let message = self.messages::<M>()?.into_iter().next().unwrap_or_default();
        let call = self.options(make(message));
        let result = match self.cancel() {
            Some(CancelTiming::AfterCloseSendMs(ms)) => {
                match tokio::time::timeout(Duration::from_millis(ms.into()), call).await {
                    Ok(result) => result,
                    Err(_) => Err(Status::cancelled("canceled by the test")),
                }
            }
            Some(_) => Err(Status::cancelled("canceled by the test")),
            None => call.await,
        };
        Ok(outcome(result.map(|reply| vec![reply.payload()])))
    }

    async fn server_stream(
        &self,
        service: &ConformanceServiceClient,
    ) -> Result<ClientResponseResult, String> {
        let message = self.messages::<ServerStreamRequest>()?.into_iter().next();
        let call = self.options(service.server_stream(message.unwrap_or_default()));
        if matches!(self.cancel(), Some(CancelTiming::BeforeCloseSend(_))) {
            return Ok(outcome(Err(Status::cancelled("canceled by the test"))));
        }
        // The request is closed as it goes out: the cancel clock starts now, not once the
        // response headers are in (which, on a busy machine, can be later than the cancel).
        let cancel_at = self.cancel_at();
        let call = match cancel_at {
            Some(at) => tokio::time::timeout_at(at, call)
                .await
                .unwrap_or_else(|_| Err(Status::cancelled("canceled by the test"))),
            None => call.await,
        };
        Ok(match call {
            Ok(mut responses) => self.drain(&mut responses, Vec::new(), cancel_at).await,
            Err(status) => outcome(Err(status)),
        })
    }

    async fn client_stream(
        &self,
        service: &ConformanceServiceClient,
    ) -> Result<ClientResponseResult, String> {
        let messages = self.messages::<ClientStreamRequest>()?;
        let total = messages.len();
        let (requests, sent) = self.sending(messages);
        let call = self.options(service.client_stream(requests));
        let result = self.cancelled_or(call).await;
        let mut result = outcome(result.map(|reply| vec![reply.payload.unwrap_or_default()]));
        result.num_unsent_requests = (total - sent.count()) as i32;
        Ok(result)
    }

    async fn bidi_stream(
        &self,
        service: &ConformanceServiceClient,
    ) -> Result<ClientResponseResult, String> {
        let messages = self.messages::<BidiStreamRequest>()?;
        let full_duplex = self.request.stream_type() == StreamType::FullDuplexBidiStream;
        if !full_duplex {
            let (requests, _) = self.sending(messages);
            let call = self.options(service.bidi_stream(requests));
            return Ok(self.collect(call.await).await);
        }
        // Full duplex: one request, then one response, in turn.
        let (mut sender, receiver) = mpsc::unbounded();
        let call = self.options(service.bidi_stream(receiver));
        let mut responses = match call.await {
            Ok(responses) => responses,
            Err(status) => return Ok(outcome(Err(status))),
        };
        let mut payloads = Vec::new();
        let total = messages.len();
        let mut unsent = total;
        for message in messages {
            self.delay().await;
            if sender.send(message).await.is_err() {
                break;
            }
            unsent -= 1;
            match responses.recv().await {
                Ok(Some(reply)) => payloads.push(reply.payload.unwrap_or_default()),
                Ok(None) => break,
                Err(status) => {
                    let mut result = failed(payloads, status);
                    result.num_unsent_requests = unsent as i32;
                    return Ok(result);
                }
            }
            if let Some(CancelTiming::AfterNumResponses(n)) = self.cancel()
                && payloads.len() >= n as usize
            {
                return Ok(failed(payloads, Status::cancelled("canceled by the test")));
            }
        }
        if matches!(self.cancel(), Some(CancelTiming::BeforeCloseSend(_))) {
            return Ok(failed(payloads, Status::cancelled("canceled by the test")));
        }
        sender.close_channel();
        let rest = self.drain(&mut responses, payloads, self.cancel_at()).await;
        Ok(rest)
    }

    /// The request stream: the messages with the request delay before each, then the end
    /// (or, to cancel before closing, no end). `Sent` counts what was taken.
    fn sending<M: Send + 'static>(
        &self,
        messages: Vec<M>,
    ) -> (impl Stream<Item = M> + Send + 'static, Sent) {
        let sent = Sent::default();
        let counter = sent.clone();
        let delay = Duration::from_millis(self.request.request_delay_ms.into());
        let hold_open = matches!(self.cancel(), Some(CancelTiming::BeforeCloseSend(_)));
        let stream = futures::stream::iter(messages)
            .then(move |message| {
                let counter = counter.clone();
                async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    counter.add();
                    message
                }
            })
            .chain(
                futures::stream::once(async move {
                    if hold_open {
                        std::future::pending::<()>().await;
                    }
                })
                .filter_map(|()| async { None }),
            );
        (stream, sent)
    }

    /// Awaits `call` unless the test cancels it first.
    async fn cancelled_or<T>(&self, call: Call<T>) -> Result<T, Status>
    where
        T: Send + 'static,
    {
        let wait = match self.cancel() {
            None | Some(CancelTiming::AfterNumResponses(_)) => return call.await,
            // The messages go out, the stream never closes: cancel once they are sent.
            Some(CancelTiming::BeforeCloseSend(_)) => self.sending_time(),
            Some(CancelTiming::AfterCloseSendMs(ms)) => Duration::from_millis(ms.into()),
        };
        match tokio::time::timeout(wait, call).await {
            Ok(result) => result,
            Err(_) => Err(Status::cancelled("canceled by the test")),
        }
    }

    async fn delay(&self) {
        if self.request.request_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.request.request_delay_ms.into())).await;
        }
    }

    /// Reads a response stream to its end (or the test's cancellation).
    async fn collect<R: Payload>(
        &self,
        call: Result<Streaming<R>, Status>,
    ) -> ClientResponseResult {
        match call {
            Ok(mut responses) => {
                self.drain(&mut responses, Vec::new(), self.cancel_at())
                    .await
            }
            Err(status) => outcome(Err(status)),
        }
    }

    /// When the test cancels a call whose requests are closed now, if it does.
    fn cancel_at(&self) -> Option<tokio::time::Instant> {
        let wait = match self.cancel() {
            Some(CancelTiming::AfterCloseSendMs(ms)) => Duration::from_millis(ms.into()),
            Some(CancelTiming::BeforeCloseSend(_)) => self.sending_time(),
            _ => return None,
        };
        Some(tokio::time::Instant::now() + wait)
    }

    /// Reads the rest of a response stream after the requests were sent (or were to be
    /// closed), cancelling at `cancel_at`.
    async fn drain<R: Payload>(
        &self,
        responses: &mut Streaming<R>,
        mut payloads: Vec<ConformancePayload>,
        cancel_at: Option<tokio::time::Instant>,
    ) -> ClientResponseResult {
        let read = async {
            loop {
                if let Some(CancelTiming::AfterNumResponses(n)) = self.cancel()
                    && payloads.len() >= n as usize
                {
                    return Err(Status::cancelled("canceled by the test"));
                }
                match responses.recv().await {
                    Ok(Some(reply)) => payloads.push(reply.payload()),
                    Ok(None) => return Ok(()),
                    Err(status) => return Err(status),
                }
            }
        };
        let ended = match cancel_at {
            Some(at) => tokio::time::timeout_at(at, read)
                .await
                .unwrap_or_else(|_| Err(Status::cancelled("canceled by the test"))),
            None => read.await,
        };
        match ended {
            Ok(()) => outcome(Ok(payloads)),
            Err(status) => failed(payloads, status),
        }
    }

    /// About how long sending every request takes, with its delays.
    fn sending_time(&self) -> Duration {
        let total = self.request.request_messages.len() as u64;
        Duration::from_millis(u64::from(self.request.request_delay_ms) * total + 100)
    }
}

/// How many request messages went out.
#[derive(Clone, Default)]
struct Sent(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Sent {
    fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A conformance response message: its payload (empty if it has none).
trait Payload {
    fn payload(self) -> ConformancePayload;
}

macro_rules! payload {
    ($($response:ident),*) => {$(
        impl Payload for crate::conformance::$response {
            fn payload(self) -> ConformancePayload {
                self.payload.unwrap_or_default()
            }
        }
    )*};
}
payload!(
    UnaryResponse,
    IdempotentUnaryResponse,
    ServerStreamResponse,
    ClientStreamResponse,
    BidiStreamResponse
);

impl Payload for crate::conformance::UnimplementedResponse {
    fn payload(self) -> ConformancePayload {
        ConformancePayload::default()
    }
}

fn outcome(result: Result<Vec<ConformancePayload>, Status>) -> ClientResponseResult {
    match result {
        Ok(payloads) => ClientResponseResult {
            payloads,
            ..Default::default()
        },
        Err(status) => failed(Vec::new(), status),
    }
}

fn failed(payloads: Vec<ConformancePayload>, status: Status) -> ClientResponseResult {
    let details = RpcStatus::decode(status.details())
        .map(|status| status.details)
        .unwrap_or_default();
    let message = (!status.message().is_empty()).then(|| status.message().to_owned());
    ClientResponseResult {
        payloads,
        error: Some(Error {
            code: status.code() as i32,
            message,
            details,
        }),
        ..Default::default()
    }
}
