//! grpc's interop client test cases, made with a micro-rs generated client.
//!
//! Each case follows grpc's `doc/interop-test-descriptions.md`. Rust cancels a call by dropping
//! it, so the cancellation cases check that a dropped call ends at once and that the
//! connection serves the next call.

use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use futures::SinkExt;
use futures::channel::mpsc;
use micro::client::ResponseMetadata;
use micro::{Code, Status};

use crate::grpc_testing::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest,
    StreamingInputCallRequest, StreamingOutputCallRequest, TestServiceClient,
    UnimplementedServiceClient,
};

/// The cases [`Interop::run`] knows, in the spec's order.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// The compression cases: the last four of [`CASES`]. grpc-go's interop programs lack them.
pub const COMPRESSION_CASES: &[&str] = CASES.split_at(CASES.len() - 4).1;

/// Every case but the compression ones: those grpc-go's interop client and server run.
pub const CORE_CASES: &[&str] = CASES.split_at(CASES.len() - 4).0;

/// The interop client's connection to a server.
#[derive(Debug, Clone)]
pub struct Interop {
    test: TestServiceClient,
    unimplemented: UnimplementedServiceClient,
}

impl Interop {
    /// A client for the server at `address` (`host:port`), without retries so that every
    /// status reaches the case as the server sent it.
    pub fn connect(address: &str) -> Result<Interop> {
        let client = micro::Client::builder()
            .address(address)
            .retries(0)
            .build()
            .with_context(|| format!("cannot make a client for {address}"))?;
        Ok(Interop {
            test: TestServiceClient::new(client.clone()),
            unimplemented: UnimplementedServiceClient::new(client),
        })
    }

    /// Runs one case by its spec name.
    pub async fn run(&self, case: &str) -> Result<()> {
        match case {
            "empty_unary" => self.empty_unary().await,
            "large_unary" => self.large_unary().await,
            "client_streaming" => self.client_streaming().await,
            "server_streaming" => self.server_streaming().await,
            "ping_pong" => self.ping_pong().await,
            "empty_stream" => self.empty_stream().await,
            "timeout_on_sleeping_server" => self.timeout_on_sleeping_server().await,
            "cancel_after_begin" => self.cancel_after_begin().await,
            "cancel_after_first_response" => self.cancel_after_first_response().await,
            "custom_metadata" => self.custom_metadata().await,
            "status_code_and_message" => self.status_code_and_message().await,
            "special_status_message" => self.special_status_message().await,
            "unimplemented_method" => self.unimplemented_method().await,
            "unimplemented_service" => self.unimplemented_service().await,
            "client_compressed_unary" => self.client_compressed_unary().await,
            "server_compressed_unary" => self.server_compressed_unary().await,
            "client_compressed_streaming" => self.client_compressed_streaming().await,
            "server_compressed_streaming" => self.server_compressed_streaming().await,
            other => bail!(
                "unknown test case `{other}`; the cases are {}",
                CASES.join(", ")
            ),
        }
    }

    async fn empty_unary(&self) -> Result<()> {
        let reply = self.test.empty_call(Empty {}).await?;
        ensure!(reply == Empty {}, "EmptyCall answered {reply:?}");
        Ok(())
    }

    async fn large_unary(&self) -> Result<()> {
        let reply = self.test.unary_call(large_request()).await?;
        check_payload(reply.payload.as_ref(), 314_159)
    }

    async fn client_streaming(&self) -> Result<()> {
        let sizes = [27_182, 8, 1_828, 45_904];
        let requests = sizes.map(|size| StreamingInputCallRequest {
            payload: Some(zeros(size)),
            expect_compressed: None,
        });
        let reply = self
            .test
            .streaming_input_call(futures::stream::iter(requests))
            .await?;
        ensure!(
            reply.aggregated_payload_size == 74_922,
            "aggregated size {} instead of 74922",
            reply.aggregated_payload_size
        );
        Ok(())
    }

    async fn server_streaming(&self) -> Result<()> {
        let sizes = [31_415, 9, 2_653, 58_979];
        let request = StreamingOutputCallRequest {
            response_parameters: sizes.iter().map(|&size| parameters(size)).collect(),
            ..Default::default()
        };
        let mut responses = self.test.streaming_output_call(request).await?;
        for size in sizes {
            let response = responses.recv().await?.context("the stream ended early")?;
            check_payload(response.payload.as_ref(), size)?;
        }
        ensure!(
            responses.recv().await?.is_none(),
            "more responses than asked for"
        );
        Ok(())
    }

    async fn ping_pong(&self) -> Result<()> {
        let (mut requests, receiver) = mpsc::unbounded();
        let mut responses = self.test.full_duplex_call(receiver).await?;
        for (response_size, payload_size) in
            [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)]
        {
            requests.send(ping(response_size, payload_size)).await?;
            let response = responses.recv().await?.context("the stream ended early")?;
            check_payload(response.payload.as_ref(), response_size)?;
        }
        requests.close_channel();
        ensure!(
            responses.recv().await?.is_none(),
            "more responses than pings"
        );
        Ok(())
    }

    async fn empty_stream(&self) -> Result<()> {
        let mut responses = self.test.full_duplex_call(futures::stream::empty()).await?;
        ensure!(responses.recv().await?.is_none(), "responses to no request");
        Ok(())
    }

    async fn timeout_on_sleeping_server(&self) -> Result<()> {
        let (mut requests, receiver) = mpsc::unbounded();
        requests.send(ping(31_415, 27_182)).await?;
        let call = self
            .test
            .full_duplex_call(receiver)
            .timeout(Duration::from_millis(1));
        // The request stream stays open, so the call outlives its deadline; a response that
        // beats the deadline (a fast server on loopback) does not end it.
        let status = match call.await {
            Err(status) => status,
            Ok(mut responses) => loop {
                match responses.recv().await {
                    Err(status) => break status,
                    Ok(Some(_)) => continue,
                    Ok(None) => bail!("the call ended OK instead of at its deadline"),
                }
            },
        };
        drop(requests);
        expect_code(&status, Code::DeadlineExceeded)
    }

    async fn cancel_after_begin(&self) -> Result<()> {
        let (_requests, receiver) = mpsc::unbounded::<StreamingInputCallRequest>();
        let call = self.test.streaming_input_call(receiver);
        let task = tokio::spawn(call.into_future());
        tokio::time::sleep(Duration::from_millis(50)).await;
        task.abort();
        let ended = task.await;
        ensure!(
            ended.as_ref().is_err_and(|err| err.is_cancelled()),
            "the call finished before it was cancelled: {ended:?}"
        );
        self.empty_unary()
            .await
            .context("a call after the cancelled one")
    }

    async fn cancel_after_first_response(&self) -> Result<()> {
        let (mut requests, receiver) = mpsc::unbounded();
        requests.send(ping(31_415, 27_182)).await?;
        let mut responses = self.test.full_duplex_call(receiver).await?;
        let first = responses.recv().await?.context("no first response")?;
        check_payload(first.payload.as_ref(), 31_415)?;
        drop(responses);
        // The request stream sees the call is gone: sending fails once hyper drops it.
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while requests.send(ping(9, 8)).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        ensure!(
            closed.is_ok(),
            "the request stream stayed open after the call was dropped"
        );
        self.empty_unary()
            .await
            .context("a call after the cancelled one")
    }

    async fn custom_metadata(&self) -> Result<()> {
        const INITIAL: (&str, &str) = ("x-grpc-test-echo-initial", "test_initial_metadata_value");
        const TRAILING: (&str, &[u8]) = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab");
        let check = |metadata: &ResponseMetadata| -> Result<()> {
            let headers = metadata.headers();
            let trailers = metadata.trailers();
            let initial = headers.get(INITIAL.0).and_then(|v| v.to_str().ok());
            ensure!(initial == Some(INITIAL.1), "initial metadata {headers:?}");
            let trailing = trailers
                .get_bin(TRAILING.0)
                .or_else(|| headers.get_bin(TRAILING.0))
                .and_then(|v| v.to_bytes().ok());
            ensure!(
                trailing.as_deref() == Some(TRAILING.1),
                "trailing metadata {trailers:?}"
            );
            Ok(())
        };
        let metadata = ResponseMetadata::default();
        let reply = self
            .test
            .unary_call(large_request())
            .metadata(INITIAL.0, INITIAL.1)
            .metadata_bin(TRAILING.0, TRAILING.1)
            .response_metadata(&metadata)
            .await?;
        check_payload(reply.payload.as_ref(), 314_159)?;
        check(&metadata).context("UnaryCall")?;

        let metadata = ResponseMetadata::default();
        let request = ping(314_159, 271_828);
        let mut responses = self
            .test
            .full_duplex_call(futures::stream::iter([request]))
            .metadata(INITIAL.0, INITIAL.1)
            .metadata_bin(TRAILING.0, TRAILING.1)
            .response_metadata(&metadata)
            .await?;
        let response = responses.recv().await?.context("no response")?;
        check_payload(response.payload.as_ref(), 314_159)?;
        ensure!(responses.recv().await?.is_none(), "more than one response");
        check(&metadata).context("FullDuplexCall")
    }

    async fn status_code_and_message(&self) -> Result<()> {
        self.echo_status("test status message").await
    }

    async fn special_status_message(&self) -> Result<()> {
        self.echo_status("\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
            .await
    }

    /// Asks for UNKNOWN with `message` from UnaryCall and FullDuplexCall.
    async fn echo_status(&self, message: &str) -> Result<()> {
        let status = EchoStatus {
            code: 2,
            message: message.to_owned(),
        };
        let request = SimpleRequest {
            response_status: Some(status.clone()),
            ..Default::default()
        };
        let failed = self.test.unary_call(request).await.err();
        expect_status(failed, message).context("UnaryCall")?;
        let request = StreamingOutputCallRequest {
            response_status: Some(status),
            ..Default::default()
        };
        let failed = match self
            .test
            .full_duplex_call(futures::stream::iter([request]))
            .await
        {
            Err(status) => Some(status),
            Ok(mut responses) => responses.recv().await.err(),
        };
        expect_status(failed, message).context("FullDuplexCall")
    }

    async fn unimplemented_method(&self) -> Result<()> {
        let status = self.test.unimplemented_call(Empty {}).await.err();
        expect_code(
            &status.context("UnimplementedCall succeeded")?,
            Code::Unimplemented,
        )
    }

    async fn unimplemented_service(&self) -> Result<()> {
        let status = self.unimplemented.unimplemented_call(Empty {}).await.err();
        expect_code(
            &status.context("UnimplementedService succeeded")?,
            Code::Unimplemented,
        )
    }

    async fn client_compressed_unary(&self) -> Result<()> {
        let probe = SimpleRequest {
            expect_compressed: Some(BoolValue { value: true }),
            ..large_request()
        };
        let refused = self.test.unary_call(probe.clone()).await.err();
        expect_code(
            &refused.context("an uncompressed request passed as compressed")?,
            Code::InvalidArgument,
        )?;
        let reply = self.test.unary_call(probe).gzip().await?;
        check_payload(reply.payload.as_ref(), 314_159)?;
        let plain = SimpleRequest {
            expect_compressed: Some(BoolValue { value: false }),
            ..large_request()
        };
        let reply = self.test.unary_call(plain).await?;
        check_payload(reply.payload.as_ref(), 314_159)
    }

    async fn server_compressed_unary(&self) -> Result<()> {
        for compressed in [true, false] {
            let request = SimpleRequest {
                response_compressed: Some(BoolValue { value: compressed }),
                ..large_request()
            };
            let metadata = ResponseMetadata::default();
            let reply = self
                .test
                .unary_call(request)
                .response_metadata(&metadata)
                .await?;
            check_payload(reply.payload.as_ref(), 314_159)?;
            // The per-message flag is not visible through the client; the encoding header
            // says the server compressed (a disabled message may still carry it).
            let encoding = metadata.headers().get("grpc-encoding").cloned();
            if compressed {
                ensure!(
                    encoding.as_ref().is_some_and(|value| value == "gzip"),
                    "a compressed reply was asked for; grpc-encoding is {encoding:?}"
                );
            }
        }
        Ok(())
    }

    async fn client_compressed_streaming(&self) -> Result<()> {
        let probe = StreamingInputCallRequest {
            payload: Some(zeros(27_182)),
            expect_compressed: Some(BoolValue { value: true }),
        };
        let refused = self
            .test
            .streaming_input_call(futures::stream::iter([probe.clone()]))
            .await
            .err();
        expect_code(
            &refused.context("an uncompressed stream passed as compressed")?,
            Code::InvalidArgument,
        )?;
        let second = StreamingInputCallRequest {
            payload: Some(zeros(45_904)),
            expect_compressed: Some(BoolValue { value: true }),
        };
        let reply = self
            .test
            .streaming_input_call(futures::stream::iter([probe, second]))
            .gzip()
            .await?;
        ensure!(
            reply.aggregated_payload_size == 73_086,
            "aggregated size {} instead of 73086",
            reply.aggregated_payload_size
        );
        Ok(())
    }

    async fn server_compressed_streaming(&self) -> Result<()> {
        let request = StreamingOutputCallRequest {
            response_parameters: vec![
                ResponseParameters {
                    compressed: Some(BoolValue { value: true }),
                    ..parameters(31_415)
                },
                ResponseParameters {
                    compressed: Some(BoolValue { value: false }),
                    ..parameters(92_653)
                },
            ],
            ..Default::default()
        };
        let mut responses = self.test.streaming_output_call(request).await?;
        for size in [31_415, 92_653] {
            let response = responses.recv().await?.context("the stream ended early")?;
            check_payload(response.payload.as_ref(), size)?;
        }
        ensure!(
            responses.recv().await?.is_none(),
            "more responses than asked for"
        );
        Ok(())
    }
}

/// The spec's large unary request: 271828 bytes in, 314159 bytes asked back.
fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: Some(zeros(271_828)),
        ..Default::default()
    }
}

fn ping(response_size: i32, payload_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![parameters(response_size)],
        payload: Some(zeros(payload_size)),
        ..Default::default()
    }
}

fn parameters(size: i32) -> ResponseParameters {
    ResponseParameters {
        size,
        ..Default::default()
    }
}

fn zeros(size: usize) -> Payload {
    Payload {
        r#type: 0,
        body: vec![0; size],
    }
}

fn check_payload(payload: Option<&Payload>, size: i32) -> Result<()> {
    let len = payload.map_or(0, |payload| payload.body.len());
    ensure!(
        usize::try_from(size).is_ok_and(|size| size == len),
        "payload of {len} bytes instead of {size}"
    );
    ensure!(
        payload.is_none_or(|payload| payload.body.iter().all(|&byte| byte == 0)),
        "payload is not all zeros"
    );
    Ok(())
}

fn expect_code(status: &Status, code: Code) -> Result<()> {
    ensure!(
        status.code() == code,
        "expected {code:?}, got {:?}: {}",
        status.code(),
        status.message()
    );
    Ok(())
}

fn expect_status(status: Option<Status>, message: &str) -> Result<()> {
    let status = status.context("the call succeeded instead of failing as asked")?;
    expect_code(&status, Code::Unknown)?;
    ensure!(
        status.message() == message,
        "message {:?} instead of {message:?}",
        status.message()
    );
    Ok(())
}
