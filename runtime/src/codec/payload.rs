//! Typed pub/sub payloads: how a published message is encoded, and decoded from the
//! `Content-Type` it arrives with.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// go-micro's content type for protobuf messages, the default for publishing.
pub const PROTOBUF: &str = "application/protobuf";

/// The JSON content type.
pub const JSON: &str = "application/json";

/// A type that can be published and subscribed to.
///
/// Every prost message is one (protobuf, the default, as in go-micro); for JSON wrap a serde
/// type in [`Json`].
pub trait Payload: Sized + Send + 'static {
    /// The content type and bytes to publish.
    fn encode(&self) -> (&'static str, Bytes);

    /// The value from a message body that arrived with `content_type`.
    fn decode(content_type: &str, body: Bytes) -> Result<Self, String>;
}

fn is_protobuf(content_type: &str) -> bool {
    matches!(
        media_type(content_type).as_str(),
        "" | "application/protobuf"
            | "application/x-protobuf"
            | "application/proto"
            | "application/octet-stream"
    )
}

fn is_json(content_type: &str) -> bool {
    matches!(
        media_type(content_type).as_str(),
        "application/json" | "text/json"
    )
}

/// `application/json; charset=utf-8` → `application/json`.
fn media_type(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

impl<M: prost::Message + Default + 'static> Payload for M {
    fn encode(&self) -> (&'static str, Bytes) {
        (PROTOBUF, Bytes::from(self.encode_to_vec()))
    }

    fn decode(content_type: &str, body: Bytes) -> Result<Self, String> {
        if !is_protobuf(content_type) {
            return Err(format!(
                "a message with content type `{content_type}` cannot be decoded as protobuf; \
                 publish it as application/protobuf, or subscribe with micro::codec::Json<T>"
            ));
        }
        M::decode(body).map_err(|err| format!("invalid protobuf: {err}"))
    }
}

/// A payload published and read as JSON with serde.
///
/// ```
/// use micro::codec::{Json, Payload};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Signup { email: String }
///
/// let (content_type, body) = Json(Signup { email: "a@b.c".into() }).encode();
/// assert_eq!(content_type, "application/json");
/// let Json(back) = Json::<Signup>::decode(content_type, body).unwrap();
/// assert_eq!(back.email, "a@b.c");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Json<T> {
        Json(value)
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for Json<T> {
    fn encode(&self) -> (&'static str, Bytes) {
        (
            JSON,
            Bytes::from(serde_json::to_vec(&self.0).unwrap_or_default()),
        )
    }

    fn decode(content_type: &str, body: Bytes) -> Result<Self, String> {
        if !is_json(content_type) && !content_type.is_empty() {
            return Err(format!(
                "a message with content type `{content_type}` cannot be decoded as JSON"
            ));
        }
        serde_json::from_slice(&body)
            .map(Json)
            .map_err(|err| format!("invalid JSON: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_by_default_and_json_refused_with_a_hint() {
        let value = prost_types::Duration {
            seconds: 3,
            nanos: 0,
        };
        let (content_type, body) = value.encode();
        assert_eq!(content_type, PROTOBUF);
        assert_eq!(
            <prost_types::Duration as Payload>::decode("", body.clone()).unwrap(),
            value
        );
        let err = <prost_types::Duration as Payload>::decode("application/json", body).unwrap_err();
        assert!(err.contains("Json<T>"), "{err}");
    }

    #[test]
    fn json_reads_parameters_and_rejects_garbage() {
        let Json(n) = Json::<u32>::decode("application/json; charset=utf-8", "7".into()).unwrap();
        assert_eq!(n, 7);
        assert!(
            Json::<u32>::decode(JSON, "x".into())
                .unwrap_err()
                .contains("invalid JSON")
        );
    }
}
