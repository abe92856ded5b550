//! The requests of a client or bidirectional streaming rule, as grpc-gateway takes them: the
//! HTTP body is a sequence of JSON messages (newline-delimited JSON, or any whitespace between
//! them). Each is put where the rule puts the body, with the query and the path's variables,
//! and goes to the method as one gRPC frame as soon as it has arrived, so a client can keep
//! sending while replies come back.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use prost_reflect::MessageDescriptor;
use serde::de::IgnoredAny;

use crate::Status;
use crate::codec::frame;
use crate::http_rule::{self, Binding};
use crate::server::Body;

/// What a streamed rule's request messages are made from, besides the body.
pub(super) struct Rule {
    pub(super) input: MessageDescriptor,
    pub(super) binding: Binding,
    pub(super) variables: Vec<(String, String)>,
    pub(super) query: Option<String>,
}

/// The gRPC request body (JSON frames) of the messages in `body`, none larger than `limit`
/// bytes. A message that is not JSON, or is not the method's request, ends the requests with
/// an `INVALID_ARGUMENT` status the method's request stream returns.
pub(super) fn frames(body: Body, rule: Rule, limit: usize) -> Body {
    let reader = Reader {
        body,
        buffer: BytesMut::new(),
        rule: Arc::new(rule),
        limit,
        ended: false,
        count: 0,
    };
    let frames = stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        match reader.next().await {
            Ok(Some(frame)) => Some((Ok(Frame::data(frame)), Some(reader))),
            Ok(None) => None,
            Err(status) => Some((Err(status), None)),
        }
    });
    Body::new(StreamBody::new(frames))
}

/// Reads JSON messages off an HTTP body.
struct Reader {
    body: Body,
    buffer: BytesMut,
    rule: Arc<Rule>,
    limit: usize,
    ended: bool,
    /// Messages read so far, to name the one that is wrong.
    count: usize,
}

impl Reader {
    /// The next message as a gRPC frame; `None` after the last.
    async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.take()? {
                self.count += 1;
                return self.frame(&message).map(Some);
            }
            if self.ended {
                return Ok(None);
            }
            if self.buffer.len() > self.limit {
                return Err(Status::resource_exhausted(format!(
                    "request message {} exceeds the limit of {} bytes; send smaller messages \
                     or raise the limit (--server-max-message-size)",
                    self.count + 1,
                    self.limit
                )));
            }
            match self.body.frame().await {
                None => self.ended = true,
                Some(Err(err)) => return Err(Status::from_error(err.into())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The whole JSON value at the front of the buffer, if it has arrived.
    fn take(&mut self) -> Result<Option<Bytes>, Status> {
        let mut values = serde_json::Deserializer::from_slice(&self.buffer).into_iter();
        match values.next() {
            None => {
                // Whitespace alone.
                self.buffer.clear();
                Ok(None)
            }
            Some(Ok(IgnoredAny)) => {
                let end = values.byte_offset();
                // A number or literal at the very end may go on in the next chunk.
                let open = !self.ended && end == self.buffer.len() && !closed(&self.buffer);
                Ok((!open).then(|| self.buffer.split_to(end).freeze()))
            }
            Some(Err(err)) if err.is_eof() && !self.ended => Ok(None),
            Some(Err(err)) => Err(Status::invalid_argument(format!(
                "request message {} is not JSON: {err}; send one JSON message per line",
                self.count + 1
            ))),
        }
    }

    /// `message` put together with the path and query as the rule says, as a gRPC frame.
    fn frame(&self, message: &[u8]) -> Result<Bytes, Status> {
        let Rule {
            input,
            binding,
            variables,
            query,
        } = &*self.rule;
        let json =
            http_rule::compose_frame(input, binding, variables, query.as_deref(), Some(message))
                .map_err(|status| {
                    let detail = status.message();
                    Status::invalid_argument(format!("request message {}: {detail}", self.count))
                })?;
        frame::framed(&serde_json::to_vec(&json).unwrap_or_default(), false)
    }
}

/// Whether the JSON text ends with a value that cannot go on: an object, array or string.
fn closed(text: &[u8]) -> bool {
    matches!(text.trim_ascii_end().last(), Some(b'}' | b']' | b'"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_rule::Template;
    use prost_reflect::DescriptorPool;

    /// A rule `post: "/v1/{name}" body: "*"` for `google.protobuf.Field` (the name from the path).
    fn rule() -> Rule {
        let pool = DescriptorPool::global();
        Rule {
            input: pool.get_message_by_name("google.protobuf.Field").unwrap(),
            binding: Binding {
                method: http::Method::POST,
                template: Template::parse("/v1/{name}").unwrap(),
                body: Some("*".into()),
                response_body: None,
            },
            variables: vec![("name".into(), "from-path".into())],
            query: None,
        }
    }

    /// The body's chunks, as an HTTP body that yields them one at a time.
    fn body(chunks: &[&'static str]) -> Body {
        let chunks: Vec<Result<_, Status>> = (chunks.iter())
            .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk.as_bytes()))))
            .collect();
        Body::new(StreamBody::new(stream::iter(chunks)))
    }

    /// The messages the frames carry, as JSON, or the status that ended them.
    async fn read(chunks: &[&'static str], limit: usize) -> Result<Vec<serde_json::Value>, Status> {
        let mut frames = frames(body(chunks), rule(), limit);
        let mut messages = Vec::new();
        while let Some(frame) = frames.frame().await {
            let data = frame.map_err(|err| Status::from_error(err.into()))?;
            let data = data.into_data().unwrap();
            messages.push(serde_json::from_slice(&data[frame::PREFIX_LEN..]).unwrap());
        }
        Ok(messages)
    }

    #[tokio::test]
    async fn messages_split_across_chunks_arrive_whole_with_the_paths_variables() {
        let messages = read(&["{\"number\": 1}\n{\"num", "ber\": 2", "}\n\n  {}"], 1024).await;
        let names_and_numbers: Vec<_> = (messages.unwrap().iter())
            .map(|message| (message["name"].clone(), message["number"].clone()))
            .collect();
        assert_eq!(
            names_and_numbers,
            [
                ("from-path".into(), 1.into()),
                ("from-path".into(), 2.into()),
                ("from-path".into(), serde_json::Value::Null),
            ]
        );
    }

    #[tokio::test]
    async fn an_empty_body_is_no_message() {
        assert!(read(&[], 1024).await.unwrap().is_empty());
        assert!(read(&[" \n "], 1024).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn messages_that_are_not_json_objects_are_invalid_arguments_naming_which() {
        let broken = read(&["{\"number\": 1}\n{\"number\": "], 1024)
            .await
            .unwrap_err();
        assert_eq!(broken.code(), tonic::Code::InvalidArgument);
        assert!(
            broken.message().contains("request message 2 is not JSON"),
            "{broken:?}"
        );
        let not_an_object = read(&["[1]"], 1024).await.unwrap_err();
        assert_eq!(not_an_object.code(), tonic::Code::InvalidArgument);
        assert!(
            not_an_object.message().contains("request message 1"),
            "{not_an_object:?}"
        );
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused() {
        let big = read(
            &[
                "{\"name\": \"",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "\"}",
            ],
            16,
        )
        .await;
        assert_eq!(big.unwrap_err().code(), tonic::Code::ResourceExhausted);
    }
}
