//! `grpc.testing.TestService` as grpc's interop spec describes the server side.

use std::time::Duration;

use micro::metadata::MetadataMap;
use micro::{Context, Sender, Status, Streaming};

use crate::grpc_testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse, TestServiceHandler,
};

/// The header a client asks to be echoed in the response headers.
const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// The binary header a client asks to be echoed in the response trailers.
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// The interop test server.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestServer;

impl TestServiceHandler for TestServer {
    async fn empty_call(&self, ctx: Context, _request: Empty) -> Result<Empty, Status> {
        echo_metadata(&ctx)?;
        Ok(Empty {})
    }

    async fn unary_call(
        &self,
        ctx: Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        echo_metadata(&ctx)?;
        fail_if_asked(request.response_status.as_ref())?;
        check_compressed(&ctx, request.expect_compressed.as_ref().map(|b| b.value))?;
        if !request.response_compressed.is_some_and(|b| b.value) {
            ctx.skip_response_compression();
        }
        Ok(SimpleResponse {
            payload: Some(payload(request.response_size)?),
            ..SimpleResponse::default()
        })
    }

    async fn cacheable_unary_call(
        &self,
        ctx: Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.unary_call(ctx, request).await
    }

    async fn streaming_output_call(
        &self,
        ctx: Context,
        request: StreamingOutputCallRequest,
        responses: Sender<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        fail_if_asked(request.response_status.as_ref())?;
        respond(&request.response_parameters, &responses).await
    }

    async fn streaming_input_call(
        &self,
        ctx: Context,
        mut requests: Streaming<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        echo_metadata(&ctx)?;
        let mut aggregated_payload_size = 0;
        while let Some(request) = requests.recv().await? {
            check_compressed(&ctx, request.expect_compressed.as_ref().map(|b| b.value))?;
            let size = request.payload.map_or(0, |payload| payload.body.len());
            aggregated_payload_size += i32::try_from(size).unwrap_or(i32::MAX);
        }
        Ok(StreamingInputCallResponse {
            aggregated_payload_size,
        })
    }

    async fn full_duplex_call(
        &self,
        ctx: Context,
        mut requests: Streaming<StreamingOutputCallRequest>,
        responses: Sender<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        while let Some(request) = requests.recv().await? {
            fail_if_asked(request.response_status.as_ref())?;
            respond(&request.response_parameters, &responses).await?;
        }
        Ok(())
    }

    async fn half_duplex_call(
        &self,
        ctx: Context,
        mut requests: Streaming<StreamingOutputCallRequest>,
        responses: Sender<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_metadata(&ctx)?;
        let mut buffered = Vec::new();
        while let Some(request) = requests.recv().await? {
            buffered.push(request);
        }
        for request in buffered {
            fail_if_asked(request.response_status.as_ref())?;
            respond(&request.response_parameters, &responses).await?;
        }
        Ok(())
    }

    async fn unimplemented_call(&self, _ctx: Context, _request: Empty) -> Result<Empty, Status> {
        Err(Status::unimplemented(
            "grpc.testing.TestService/UnimplementedCall is never implemented",
        ))
    }
}

/// Echoes the spec's two metadata entries: the initial one as a header, the binary one as a
/// trailer.
fn echo_metadata(ctx: &Context) -> Result<(), Status> {
    let metadata = ctx.metadata();
    if let Some(value) = metadata.get(ECHO_INITIAL) {
        let mut headers = MetadataMap::new();
        headers.insert(ECHO_INITIAL, value.clone());
        ctx.set_header(headers)?;
    }
    if let Some(value) = metadata.get_bin(ECHO_TRAILING) {
        let mut trailers = MetadataMap::new();
        trailers.insert_bin(ECHO_TRAILING, value.clone());
        ctx.set_trailer(trailers)?;
    }
    Ok(())
}

/// Fails with the status the request asks for, if any.
fn fail_if_asked(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => Err(Status::new(
            micro::Code::from_i32(status.code),
            status.message.clone(),
        )),
        _ => Ok(()),
    }
}

/// `expect_compressed`: the request must have arrived compressed.
fn check_compressed(ctx: &Context, expected: Option<bool>) -> Result<(), Status> {
    let compressed = ctx
        .get("grpc-encoding")
        .is_some_and(|encoding| encoding != "identity");
    if expected == Some(true) && !compressed {
        return Err(Status::invalid_argument(
            "expected a compressed request (expect_compressed), got an uncompressed one",
        ));
    }
    Ok(())
}

/// A payload of `size` zero bytes.
fn payload(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("negative payload size {size}")))?;
    Ok(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

/// Sends one response per parameter, each after its interval.
async fn respond(
    parameters: &[ResponseParameters],
    responses: &Sender<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    for parameter in parameters {
        if parameter.interval_us > 0 {
            let interval = Duration::from_micros(parameter.interval_us.unsigned_abs().into());
            tokio::time::sleep(interval).await;
        }
        responses
            .send(StreamingOutputCallResponse {
                payload: Some(payload(parameter.size)?),
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}
