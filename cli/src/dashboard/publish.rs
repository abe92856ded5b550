//! `POST api/publish`: a JSON message to a topic through the `--broker`, with go-micro's
//! headers, as go-micro's dashboard `POST /api/client/publish` and `micro publish` do.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use micro::broker::{self, Message, TOPIC_HEADER};
use micro::errors::Error;
use serde::Deserialize;

use super::Dashboard;
use super::error::{ApiError, ID};

/// What to publish where.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishRequest {
    /// The topic, e.g. `events`.
    topic: String,
    /// The message as JSON, or a string holding it.
    message: serde_json::Value,
    /// Headers sent with the message.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

pub(crate) async fn publish(
    State(dashboard): State<Dashboard>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request: PublishRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a publication ({err}); send {{\"topic\":\"events\",\
             \"message\":{{\"id\":1}}}}"
        ))
    })?;
    if request.topic.trim().is_empty() {
        return Err(ApiError::bad_request("name the topic to publish to"));
    }
    let body = message_json(&request.message)?;
    let id = uuid::Uuid::new_v4().to_string();
    send(&dashboard, &request, message(&request, body, &id)).await?;
    Ok(Json(
        serde_json::json!({ "topic": request.topic, "id": id }),
    ))
}

/// The message's JSON bytes: a string is taken as JSON text and must parse.
fn message_json(message: &serde_json::Value) -> Result<Vec<u8>, ApiError> {
    let value = match message {
        serde_json::Value::String(text) => serde_json::from_str(text).map_err(|err| {
            ApiError::bad_request(format!("the message is not JSON ({err}): {text}"))
        })?,
        value => value.clone(),
    };
    Ok(value.to_string().into_bytes())
}

/// The message with go-micro's headers, then the request's metadata.
fn message(request: &PublishRequest, body: Vec<u8>, id: &str) -> Message {
    let mut message = Message::new(body)
        .header("Content-Type", "application/json")
        .header(TOPIC_HEADER, &request.topic)
        .header("Micro-Id", id)
        .header("Micro-From-Service", "micro")
        .header(
            micro::trace::TRACEPARENT,
            micro::trace::TraceContext::start().traceparent(),
        );
    for (key, value) in &request.metadata {
        message = message.header(key, value);
    }
    message
}

async fn send(
    dashboard: &Dashboard,
    request: &PublishRequest,
    message: Message,
) -> Result<(), ApiError> {
    let global = &dashboard.env.global;
    let broker = broker::build(
        &global.broker,
        &global.broker_address,
        dashboard.env.registry.clone(),
    )
    .map_err(|err| unavailable(format!("cannot open the {} broker: {err}", global.broker)))?;
    let published = broker.publish(&request.topic, &message).await;
    let _ = broker.disconnect().await;
    published.map_err(|err| {
        unavailable(format!(
            "cannot publish to {} through the {} broker at {}: {err}; are --broker and \
             --broker-address the ones the services use?",
            request.topic,
            broker.name(),
            broker.address()
        ))
    })
}

fn unavailable(detail: String) -> ApiError {
    ApiError(Error::new(ID, detail, 503))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_may_be_json_or_a_string_of_json() {
        let object = serde_json::json!({"id": 1});
        assert_eq!(message_json(&object).unwrap(), br#"{"id":1}"#);
        let text = serde_json::json!("{\"id\": 2}");
        assert_eq!(message_json(&text).unwrap(), br#"{"id":2}"#);
        let error = message_json(&serde_json::json!("not json")).unwrap_err();
        assert!(error.0.detail.contains("not JSON"), "{error:?}");
    }
}
