//! A tool call: arguments checked, scopes checked, the method called through the client stack
//! with the caller's token, and the reply (or replies) as JSON.

use micro::dynamic::{self, DynamicMessage};
use micro::errors::Error;
use micro::server::RpcKind;
use micro::{Call, JsonOptions, Status, Streaming};
use serde_json::{Map, Value, json};

use super::arguments::{self, Requests};
use super::toolbox::MAX_REPLIES;
use super::{Callee, Caller, MCP_ID, Tool, Toolbox};

/// Metadata naming the tool a call was made for (go-micro's `Mcp-Tool-Name`).
const TOOL_NAME: &str = "mcp-tool-name";
/// Metadata with an id for the tool call (go-micro's `Mcp-Trace-Id`).
const TRACE_ID: &str = "mcp-trace-id";
/// Metadata with the account whose scopes were checked (go-micro's `Mcp-Account-Id`).
const ACCOUNT_ID: &str = "mcp-account-id";

impl Toolbox {
    /// Calls `tool` with `arguments` for `caller`: the reply as JSON (for streams,
    /// `{"replies": […], "truncated": bool}`), or the go-micro error that ended it: a bad
    /// argument (400), a missing scope (401/403), or the service's own error.
    pub async fn call(
        &self,
        tool: &Tool,
        arguments: Option<Map<String, Value>>,
        caller: &Caller,
    ) -> Result<Value, Error> {
        let trace = uuid::Uuid::new_v4().to_string();
        self.call_traced(tool, arguments, caller, &trace).await
    }

    /// Like [`call`](Self::call), with `trace` as the call's `Mcp-Trace-Id`.
    pub async fn call_traced(
        &self,
        tool: &Tool,
        arguments: Option<Map<String, Value>>,
        caller: &Caller,
        trace: &str,
    ) -> Result<Value, Error> {
        let account = self.scopes().check(tool, caller).await?;
        let requests = arguments::read(tool, arguments)?;
        let account = account.as_ref().map(|account| account.id.as_str());
        let client = &self.env.client;
        let service = &tool.service;
        let fail = |status: Status| Error::from_status(&status, service);
        let (method, requests) = match (&tool.callee, requests) {
            (Callee::Method(method), requests) => (method, requests),
            (Callee::Registered(endpoint), Requests::Json(request)) => {
                let call = client.call::<Value, Value>(service, &endpoint.name, request);
                let reply = self.prepare(call, (tool, trace), caller, account).await;
                return reply.map(structured).map_err(fail);
            }
            (Callee::Registered(_), _) => return Err(misread()),
        };
        match (method.kind(), requests) {
            (RpcKind::Unary, Requests::One(request)) => {
                let reply = self
                    .prepare(
                        client.dynamic_unary(service, method, request),
                        (tool, trace),
                        caller,
                        account,
                    )
                    .await
                    .map_err(fail)?;
                to_value(&reply)
            }
            (RpcKind::ServerStreaming, Requests::One(request)) => {
                let call = client.dynamic_server_streaming(service, method, request);
                collect(
                    self.prepare(call, (tool, trace), caller, account)
                        .await
                        .map_err(fail)?,
                    service,
                )
                .await
            }
            (RpcKind::ClientStreaming, Requests::Many(requests)) => {
                let requests = futures_util::stream::iter(requests);
                let call = client.dynamic_client_streaming(service, method, requests);
                to_value(
                    &self
                        .prepare(call, (tool, trace), caller, account)
                        .await
                        .map_err(fail)?,
                )
            }
            (RpcKind::BidiStreaming, Requests::Many(requests)) => {
                let requests = futures_util::stream::iter(requests);
                let call = client.dynamic_bidi_streaming(service, method, requests);
                collect(
                    self.prepare(call, (tool, trace), caller, account)
                        .await
                        .map_err(fail)?,
                    service,
                )
                .await
            }
            _ => Err(misread()),
        }
    }

    /// The caller's token, the tool's name, the trace id and the checked account as metadata,
    /// and `--timeout`.
    fn prepare<T: Send + 'static>(
        &self,
        call: Call<T>,
        (tool, trace): (&Tool, &str),
        caller: &Caller,
        account: Option<&str>,
    ) -> Call<T> {
        let mut call = call
            .metadata(TOOL_NAME, &tool.name)
            .metadata(TRACE_ID, trace)
            .timeout(self.env.global.timeout);
        if let Some(account) = account {
            call = call.metadata(ACCOUNT_ID, account);
        }
        match &caller.token {
            Some(token) => call.metadata("authorization", &format!("Bearer {token}")),
            None => call,
        }
    }
}

fn misread() -> Error {
    Error::internal_server_error(MCP_ID, "the arguments were read for another kind of call")
}

/// A reply as a tool's structured result, which must be an object: a reply that is not one
/// (a registered endpoint may answer a bare value) is `{"reply": …}`.
fn structured(reply: Value) -> Value {
    match reply {
        Value::Object(_) => reply,
        other => json!({ "reply": other }),
    }
}

/// The replies of a stream, up to [`MAX_REPLIES`] (then the stream is stopped).
async fn collect(mut replies: Streaming<DynamicMessage>, service: &str) -> Result<Value, Error> {
    let mut collected = Vec::new();
    while let Some(reply) = replies
        .recv()
        .await
        .map_err(|status| Error::from_status(&status, service))?
    {
        if collected.len() == MAX_REPLIES {
            return Ok(json!({ "replies": collected, "truncated": true }));
        }
        collected.push(to_value(&reply)?);
    }
    Ok(json!({ "replies": collected, "truncated": false }))
}

fn to_value(reply: &DynamicMessage) -> Result<Value, Error> {
    dynamic::to_json_value(reply, &JsonOptions::default())
        .map_err(|status| Error::from_status(&status, MCP_ID))
}
