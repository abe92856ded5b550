//! `POST api/stream`: calls an endpoint of any kind (server, client or bidirectional
//! streaming, or unary) and answers with newline-delimited JSON as replies arrive:
//! `{"reply": …}` per reply, then `{"end": "done" | "limit", "replies": n}`, or
//! `{"error": …}` (go-micro's error JSON) when the stream fails midway. Bounded by `max`
//! replies; the call is cancelled as soon as the client stops reading.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use micro::JsonOptions;
use micro::dynamic::{self, DynamicMessage, Method};
use micro::server::RpcKind;
use micro::{Call, Streaming};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Dashboard;
use super::auth::Session;
use super::call::{CallOptions, prepare, request_json};
use super::error::ApiError;

/// Replies sent when the request does not say.
const DEFAULT_MAX: usize = 100;
/// The most replies one request may ask for.
const MOST: usize = 10_000;

/// What to call and with which messages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamRequest {
    service: String,
    endpoint: String,
    /// The one request message (unary and server streaming).
    #[serde(default)]
    request: Option<Value>,
    /// The messages to send (client and bidirectional streaming; the first one only for the
    /// others).
    #[serde(default)]
    requests: Option<Vec<Value>>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<String>,
    /// Stop after this many replies (default 100).
    #[serde(default)]
    max: Option<usize>,
}

pub(crate) async fn stream(
    State(dashboard): State<Dashboard>,
    Extension(session): Extension<Session>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: StreamRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a stream call ({err}); send {{\"service\":\"streaming\",\
             \"endpoint\":\"Streamer.Shout\",\"requests\":[{{\"text\":\"hi\"}}]}}"
        ))
    })?;
    super::services::lookup(&dashboard, &request.service).await?;
    let failed = |status: micro::Status| ApiError::from_status(&status, &request.service);
    let method = dashboard
        .env
        .catalog
        .method(&request.service, &request.endpoint)
        .await
        .map_err(failed)?;
    let messages = messages(&method, &request)?;
    let max = request.max.unwrap_or(DEFAULT_MAX).clamp(1, MOST);
    let replies = start(&dashboard, &session, &method, &request, messages).await?;
    Ok(ndjson(replies, max, request.service))
}

/// The request messages, parsed against the method's input.
fn messages(method: &Method, request: &StreamRequest) -> Result<Vec<DynamicMessage>, ApiError> {
    let texts: Vec<Vec<u8>> = match &request.requests {
        Some(values) => values
            .iter()
            .map(|v| request_json(&Some(v.clone())))
            .collect(),
        None => vec![request_json(&request.request)],
    };
    let single = matches!(method.kind(), RpcKind::Unary | RpcKind::ServerStreaming);
    if single && texts.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "{} takes one request message, not {}",
            request.endpoint,
            texts.len()
        )));
    }
    let options = JsonOptions::default();
    texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            dynamic::from_json(&method.input(), text, &options).map_err(|status| {
                let mut error = ApiError::from_status(&status, &request.service);
                error.0.detail = format!("message {}: {}", index + 1, error.0.detail);
                error
            })
        })
        .collect()
}

/// Where replies come from: a stream, or the one reply of a unary or client-streaming call.
enum Replies {
    Stream(Streaming<DynamicMessage>),
    One(Option<DynamicMessage>),
}

impl Replies {
    async fn recv(&mut self) -> Result<Option<DynamicMessage>, micro::Status> {
        match self {
            Replies::Stream(stream) => stream.recv().await,
            Replies::One(reply) => Ok(reply.take()),
        }
    }
}

/// Makes the call; fails (before any reply is sent) when it cannot start.
async fn start(
    dashboard: &Dashboard,
    session: &Session,
    method: &Method,
    request: &StreamRequest,
    mut messages: Vec<DynamicMessage>,
) -> Result<Replies, ApiError> {
    let client = &dashboard.env.client;
    let service = &request.service;
    let failed = |status: micro::Status| ApiError::from_status(&status, service);
    let outgoing = futures_util::stream::iter(messages.clone());
    Ok(match method.kind() {
        RpcKind::Unary => {
            let call = client.dynamic_unary(service, method, messages.remove(0));
            Replies::One(Some(
                options(dashboard, session, request, call)?
                    .await
                    .map_err(failed)?,
            ))
        }
        RpcKind::ClientStreaming => {
            let call = client.dynamic_client_streaming(service, method, outgoing);
            Replies::One(Some(
                options(dashboard, session, request, call)?
                    .await
                    .map_err(failed)?,
            ))
        }
        RpcKind::ServerStreaming => {
            let call = client.dynamic_server_streaming(service, method, messages.remove(0));
            Replies::Stream(
                options(dashboard, session, request, call)?
                    .await
                    .map_err(failed)?,
            )
        }
        RpcKind::BidiStreaming => {
            let call = client.dynamic_bidi_streaming(service, method, outgoing);
            Replies::Stream(
                options(dashboard, session, request, call)?
                    .await
                    .map_err(failed)?,
            )
        }
    })
}

/// The token, metadata and timeout on a call.
fn options<T: Send + 'static>(
    dashboard: &Dashboard,
    session: &Session,
    request: &StreamRequest,
    call: Call<T>,
) -> Result<Call<T>, ApiError> {
    let options = CallOptions {
        metadata: &request.metadata,
        timeout: request.timeout.as_deref(),
    };
    prepare(dashboard, session, &options, call)
}

/// The replies as JSON lines, read by a task that stops (dropping the call, which cancels it)
/// when the client goes away or `max` replies are sent.
fn ndjson(mut replies: Replies, max: usize, service: String) -> Response {
    let (lines, body) = mpsc::channel::<String>(8);
    tokio::spawn(async move {
        let mut sent = 0;
        let end = loop {
            if sent == max {
                break json!({ "end": "limit", "replies": sent });
            }
            let next = tokio::select! {
                () = lines.closed() => return,
                next = replies.recv() => next,
            };
            let line = match next {
                Ok(Some(reply)) => reply_line(&reply, &service),
                Ok(None) => break json!({ "end": "done", "replies": sent }),
                Err(status) => break error_line(&status, &service),
            };
            if lines.send(line).await.is_err() {
                return;
            }
            sent += 1;
        };
        let _ = lines.send(format!("{end}\n")).await;
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(body).map(Ok::<_, Infallible>);
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

fn reply_line(reply: &DynamicMessage, service: &str) -> String {
    match dynamic::to_json(reply, &JsonOptions::default()) {
        Ok(text) => format!("{{\"reply\":{text}}}\n"),
        Err(status) => error_line(&status, service).to_string() + "\n",
    }
}

fn error_line(status: &micro::Status, service: &str) -> Value {
    let error = micro::errors::Error::from_status(status, service);
    json!({ "error": error })
}
