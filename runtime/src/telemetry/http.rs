//! The HTTP client OTLP/HTTP exports go through: hyper, on the exporter's runtime (the batch
//! processor calls it from a plain thread), so no reqwest.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};

/// How long one export request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body read (collectors answer with a small status message).
const MAX_RESPONSE: usize = 1 << 20;

/// An HTTP/1.1 client whose requests run on `runtime`.
#[derive(Debug, Clone)]
pub(super) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl Http {
    pub(super) fn new(runtime: tokio::runtime::Handle) -> Http {
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Http { client, runtime }
    }
}

#[async_trait::async_trait]
impl HttpClient for Http {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let send = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(TIMEOUT, send).await });
        match task.await? {
            Ok(result) => result,
            Err(_) => Err(format!("the OTLP endpoint did not answer within {TIMEOUT:?}").into()),
        }
    }
}
