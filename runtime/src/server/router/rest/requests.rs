//! The requests of a client or bidirectional streaming rule: the HTTP body is a sequence of
//! JSON messages ([`JsonSequence`]). Each is put where the rule puts the body, with the query
//! and the path's variables, and goes to the method as one gRPC frame as soon as it has
//! arrived, so a client can keep sending while replies come back.

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::StreamBody;
use prost_reflect::MessageDescriptor;

use crate::Status;
use crate::codec::frame;
use crate::http_rule::{self, Binding, JsonSequence};
use crate::server::Body;

/// What a streamed rule's request messages are made from, besides the body.
pub(super) struct Rule {
    pub(super) input: MessageDescriptor,
    pub(super) binding: Binding,
    pub(super) variables: Vec<(String, String)>,
    pub(super) query: Option<String>,
}

/// The gRPC request body (JSON frames) of the messages in `body`, none larger than `limit`
/// bytes. A message that is not JSON, or cannot be the method's request, ends the requests
/// with an `INVALID_ARGUMENT` status, which the method's request stream returns.
pub(super) fn frames(body: Body, rule: Rule, limit: usize) -> Body {
    let reader = Reader {
        body,
        sequence: JsonSequence::new(),
        rule,
        limit,
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

/// Reads request messages off an HTTP body.
struct Reader {
    body: Body,
    sequence: JsonSequence,
    rule: Rule,
    limit: usize,
}

impl Reader {
    /// The next message as a gRPC frame; `None` after the last.
    async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        let message = self.sequence.next_in(&mut self.body, self.limit).await;
        let Some(message) = message.map_err(with_flag)? else {
            return Ok(None);
        };
        let Rule {
            input,
            binding,
            variables,
            query,
        } = &self.rule;
        let query = query.as_deref();
        let json = http_rule::compose_frame(input, binding, variables, query, Some(&message))
            .map_err(|status| {
                let count = self.sequence.count();
                Status::invalid_argument(format!("request message {count}: {}", status.message()))
            })?;
        frame::framed(&serde_json::to_vec(&json).unwrap_or_default(), false).map(Some)
    }
}

/// Names the flag that raises the message size limit.
fn with_flag(status: Status) -> Status {
    match status.code() {
        tonic::Code::ResourceExhausted => {
            Status::resource_exhausted(format!("{} (--server-max-message-size)", status.message()))
        }
        _ => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_rule::Template;
    use http_body_util::BodyExt;
    use prost_reflect::DescriptorPool;

    /// A rule `post: "/v1/{name}" body: "*"` for `google.protobuf.Field` (the name from the path).
    fn rule() -> Rule {
        Rule {
            input: (DescriptorPool::global())
                .get_message_by_name("google.protobuf.Field")
                .unwrap(),
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

    /// The messages the frames of a body of `text` carry, as JSON, or the status that ended them.
    async fn read(text: &'static str, limit: usize) -> Result<Vec<serde_json::Value>, Status> {
        let mut frames = frames(Body::new(text.to_owned()), rule(), limit);
        let mut messages = Vec::new();
        while let Some(frame) = frames.frame().await {
            let data = frame.map_err(|err| Status::from_error(err.into()))?;
            let data = data.into_data().unwrap();
            messages.push(serde_json::from_slice(&data[frame::PREFIX_LEN..]).unwrap());
        }
        Ok(messages)
    }

    #[tokio::test]
    async fn each_message_is_a_frame_with_the_paths_variables() {
        let messages = read("{\"number\": 1}\n{\"number\": 2}\n", 1024)
            .await
            .unwrap();
        let names_and_numbers: Vec<_> = (messages.iter())
            .map(|message| (message["name"].clone(), message["number"].clone()))
            .collect();
        assert_eq!(
            names_and_numbers,
            [
                ("from-path".into(), 1.into()),
                ("from-path".into(), 2.into())
            ]
        );
    }

    #[tokio::test]
    async fn bad_messages_end_the_frames_with_a_status_naming_which() {
        let not_an_object = read("{}\n[1]", 1024).await.unwrap_err();
        assert_eq!(not_an_object.code(), tonic::Code::InvalidArgument);
        assert!(
            not_an_object.message().contains("request message 2:"),
            "{not_an_object:?}"
        );
        let big = read("{\"name\": \"xxxxxxxxxxxxxxxxxxxxxxxx\"}", 16)
            .await
            .unwrap_err();
        assert_eq!(big.code(), tonic::Code::ResourceExhausted);
        assert!(
            big.message().contains("--server-max-message-size"),
            "{big:?}"
        );
    }
}
