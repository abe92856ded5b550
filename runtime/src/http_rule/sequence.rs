//! A request body of JSON messages one after another, as client and bidirectional streaming
//! methods take it over a plain HTTP request (grpc-gateway's newline-delimited JSON): one
//! message per line, though any whitespace, or none, between them will do. Messages are taken
//! as soon as they have arrived, so a chunked body can carry a conversation.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::de::IgnoredAny;

use crate::{BoxError, Status};

/// The messages of a body of JSON messages, read as its chunks arrive.
#[derive(Debug, Default)]
pub struct JsonSequence {
    buffer: BytesMut,
    ended: bool,
    count: usize,
}

impl JsonSequence {
    /// Nothing read yet.
    pub fn new() -> JsonSequence {
        JsonSequence::default()
    }

    /// How many messages have been taken.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The next message of `body` (its JSON text, without the whitespace before it), reading as much of it as that takes;
    /// `None` after the last. A message that is not JSON is `INVALID_ARGUMENT` naming it, one
    /// larger than `limit` bytes `RESOURCE_EXHAUSTED`, a body that fails its error.
    pub async fn next_in<B>(&mut self, body: &mut B, limit: usize) -> Result<Option<Bytes>, Status>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: Into<BoxError>,
    {
        let too_large = |count: usize| {
            Status::resource_exhausted(format!(
                "request message {count} exceeds the limit of {limit} bytes; send smaller \
                 messages or raise the limit"
            ))
        };
        loop {
            match self.take()? {
                Some(message) if message.len() > limit => {
                    return Err(too_large(self.count));
                }
                Some(message) => return Ok(Some(message)),
                None if self.ended => return Ok(None),
                // Whitespace between messages does not count.
                None if self.buffer.iter().skip_while(|b| is_space(**b)).count() > limit => {
                    return Err(too_large(self.count + 1));
                }
                None => {}
            }
            match body.frame().await {
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

    /// The whole JSON value at the front of what has arrived, if there is one.
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
                if !self.ended && end == self.buffer.len() && !closed(&self.buffer) {
                    return Ok(None);
                }
                self.count += 1;
                let message = self.buffer.split_to(end).freeze();
                let start = message.iter().take_while(|b| is_space(**b)).count();
                Ok(Some(message.slice(start..)))
            }
            // Cut off by the chunk's end (`[1,`, `tru`, and `-0.`, which serde_json calls an
            // invalid number): the next chunk may finish it.
            Some(Err(err)) if !self.ended && (err.is_eof() || at_end(&self.buffer, &err)) => {
                Ok(None)
            }
            Some(Err(err)) => Err(Status::invalid_argument(format!(
                "request message {} is not JSON: {err}; send one JSON message per line",
                self.count + 1
            ))),
        }
    }
}

/// Whether JSON text ends with a value that cannot go on: an object, an array or a string.
fn closed(text: &[u8]) -> bool {
    let end = text.iter().rposition(|b| !is_space(*b));
    matches!(end.map(|end| text[end]), Some(b'}' | b']' | b'"'))
}

/// Whether `err` is at the last byte of `text`.
fn at_end(text: &[u8], err: &serde_json::Error) -> bool {
    let line_start = match err.line() {
        0 | 1 => 0,
        line => (text.iter().enumerate())
            .filter(|(_, byte)| **byte == b'\n')
            .nth(line - 2)
            .map_or(text.len(), |(newline, _)| newline + 1),
    };
    // Columns count bytes from 1.
    line_start + err.column() >= text.len()
}

/// JSON's whitespace (not form feeds, which `u8::is_ascii_whitespace` counts).
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::StreamBody;

    /// The messages of a body that arrives in `chunks`, or the status that ended them.
    async fn messages(chunks: &[&'static str], limit: usize) -> Result<Vec<String>, Status> {
        let chunks = chunks
            .iter()
            .map(|chunk| Ok::<_, Status>(Frame::data(Bytes::from(*chunk))));
        let mut body = StreamBody::new(stream::iter(chunks.collect::<Vec<_>>()));
        let mut sequence = JsonSequence::new();
        let mut taken = Vec::new();
        while let Some(message) = sequence.next_in(&mut body, limit).await? {
            taken.push(String::from_utf8(message.to_vec()).unwrap());
        }
        assert_eq!(sequence.count(), taken.len());
        Ok(taken)
    }

    #[tokio::test]
    async fn messages_split_across_chunks_arrive_whole() {
        let chunks = [
            "{\"a\": 1}\n{\"a",
            "\": 2",
            "}\n\n  []",
            "\"s\"{}1",
            "2 -0.",
            "5\n-",
            "1e",
            "+2",
        ];
        let taken = messages(&chunks, 1024).await.unwrap();
        let whole = [
            "{\"a\": 1}",
            "{\"a\": 2}",
            "[]",
            "\"s\"",
            "{}",
            "12",
            "-0.5",
            "-1e+2",
        ];
        assert_eq!(taken, whole);
    }

    #[tokio::test]
    async fn an_empty_body_is_no_message() {
        assert!(messages(&[], 1024).await.unwrap().is_empty());
        assert!(messages(&[" \n ", "\n"], 1024).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn text_that_is_not_json_is_an_invalid_argument_naming_the_message() {
        let broken = messages(&["{}\n{\"a\": "], 1024).await.unwrap_err();
        assert_eq!(broken.code(), tonic::Code::InvalidArgument);
        assert!(
            broken.message().contains("request message 2 is not JSON"),
            "{broken:?}"
        );
        let words = messages(&["yes"], 1024).await.unwrap_err();
        assert!(
            words.message().contains("request message 1 is not JSON"),
            "{words:?}"
        );
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_resource_exhausted() {
        let chunks = ["{\"name\": \"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\"}"];
        let big = messages(&chunks, 16).await.unwrap_err();
        assert_eq!(big.code(), tonic::Code::ResourceExhausted);
        assert!(big.message().contains("request message 1"), "{big:?}");
        let whole = messages(&["{}\n{\"name\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"], 16).await;
        let whole = whole.unwrap_err();
        assert_eq!(whole.code(), tonic::Code::ResourceExhausted);
        assert!(whole.message().contains("request message 2"), "{whole:?}");
    }
}
