//! A request body of JSON messages one after another, as client and bidirectional streaming
//! methods take it over a plain HTTP request (grpc-gateway's newline-delimited JSON): one
//! message per line, though any whitespace, or none, between them will do. Messages are taken
//! as soon as they have arrived, so a chunked body can carry a conversation.
//!
//! Where a message ends is found by a scan that keeps its place between chunks (nesting, and
//! whether it is inside a string), so every byte is looked at a bounded number of times however
//! the body is cut; each message is then checked as JSON once, whole.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::de::IgnoredAny;

use crate::{BoxError, Status};

/// The messages of a body of JSON messages, read as its chunks arrive.
#[derive(Debug, Default)]
pub struct JsonSequence {
    buffer: BytesMut,
    scan: Scan,
    ended: bool,
    count: usize,
}

/// How far the next message has been scanned, and what is open at that point.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes of the buffer scanned.
    at: usize,
    /// Where the message begins (after the whitespace before it), once it has.
    start: Option<usize>,
    /// Objects and arrays open.
    depth: usize,
    in_string: bool,
    escaped: bool,
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

    /// The next message of `body` (its JSON text, without the whitespace around it), reading
    /// as much of the body as that takes; `None` after the last. A message that is not JSON
    /// is `INVALID_ARGUMENT` naming it, one larger than `limit` bytes `RESOURCE_EXHAUSTED`, a
    /// body that fails its error.
    pub async fn next_in<B>(&mut self, body: &mut B, limit: usize) -> Result<Option<Bytes>, Status>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: Into<BoxError>,
    {
        loop {
            if let Some(message) = self.take(limit)? {
                return Ok(Some(message));
            }
            if self.ended {
                return Ok(None);
            }
            let start = self.scan.start.unwrap_or(self.buffer.len());
            if self.buffer.len() - start > limit {
                return Err(self.too_large(limit));
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

    /// The next message, if all of it has arrived.
    fn take(&mut self, limit: usize) -> Result<Option<Bytes>, Status> {
        let end = match self.scan.end_in(&self.buffer) {
            Some(end) => end,
            // The body's end ends a number or a literal (and shows what is left unclosed).
            None if self.ended && self.scan.start.is_some() => self.buffer.len(),
            None => {
                if self.scan.start.is_none() {
                    // Whitespace alone.
                    self.buffer.clear();
                    self.scan.at = 0;
                }
                return Ok(None);
            }
        };
        let start = self.scan.start.unwrap_or(end);
        if end - start > limit {
            return Err(self.too_large(limit));
        }
        let message = self.buffer.split_to(end).freeze().slice(start..);
        self.scan = Scan::default();
        self.count += 1;
        one_value(&message).map_err(|err| {
            Status::invalid_argument(format!(
                "request message {} is not JSON: {err}; send one JSON message per line",
                self.count
            ))
        })?;
        Ok(Some(message))
    }

    /// `RESOURCE_EXHAUSTED` for the next message.
    fn too_large(&self, limit: usize) -> Status {
        Status::resource_exhausted(format!(
            "request message {} exceeds the limit of {limit} bytes; send smaller messages or \
             raise the limit",
            self.count + 1
        ))
    }
}

impl Scan {
    /// Scans `text` on from where it stopped: where the message that began in it ends, if it
    /// has. An object, array or string ends with its closing byte; a number or literal at the
    /// first byte that cannot be part of it (which is left for the next message).
    fn end_in(&mut self, text: &[u8]) -> Option<usize> {
        while self.at < text.len() {
            let (at, byte) = (self.at, text[self.at]);
            self.at += 1;
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => {
                        self.in_string = false;
                        if self.depth == 0 {
                            return Some(self.at);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let scalar = self.start.is_some() && self.depth == 0;
            if scalar && (is_space(byte) || b"\"{}[]".contains(&byte)) {
                // A number or literal ends before this byte.
                self.at = at;
                return Some(at);
            }
            if is_space(byte) {
                continue;
            }
            self.start.get_or_insert(at);
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                // A stray closing byte is a message of its own, which is not JSON.
                b'}' | b']' if self.depth <= 1 => return Some(self.at),
                b'}' | b']' => self.depth -= 1,
                _ => {}
            }
        }
        None
    }
}

/// Checks that `text` is one JSON value and nothing after it (`12a` is not); what the value
/// holds is for the request's reader.
fn one_value(text: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<IgnoredAny>(text).map(|IgnoredAny| ())
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
    async fn brackets_and_quotes_in_strings_do_not_end_a_message() {
        let chunks = [
            "{\"a\": \"}\\",
            "\"]\", \"b\": [[",
            "1], {}]}",
            "\"x\\\"y\"",
        ];
        let taken = messages(&chunks, 1024).await.unwrap();
        assert_eq!(
            taken,
            ["{\"a\": \"}\\\"]\", \"b\": [[1], {}]}", "\"x\\\"y\""]
        );
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
        for text in ["]", "{]", "1,2", "12a"] {
            let stray = messages(&["{}", text], 1024).await.unwrap_err();
            assert!(
                stray.message().contains("request message 2"),
                "{text}: {stray:?}"
            );
        }
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
