#![no_main]
//! A body of JSON messages one after another (`micro::http_rule::JsonSequence`), as client and
//! bidirectional streaming methods take it over a plain POST (the service's own google.api.http
//! rules, and `micro gateway`).
//!
//! Input: a byte choosing the chunk size (1–16) and the message size limit, then the body.
//! Invariants: no panic; the messages taken, and where an error stops them, do not depend on
//! how the body is cut into chunks (the body in chunks reads as the body in one piece); every
//! message is one whole JSON value within the limit, with no whitespace before it; without an
//! error, the messages are the body's values, all of them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame};
use libfuzzer_sys::fuzz_target;
use micro::http_rule::JsonSequence;

/// A body whose chunks are all there: it is never pending.
struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// What reading the body gives: its messages, and whether an error ended them.
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Vec<u8>>,
    failed: Option<micro::Code>,
}

fn read(body: &[u8], chunk: usize, limit: usize) -> Outcome {
    let chunks = body.chunks(chunk).map(Bytes::copy_from_slice).collect();
    let mut body = Chunks(chunks);
    let mut sequence = JsonSequence::new();
    let mut messages = Vec::new();
    let mut context = Context::from_waker(Waker::noop());
    loop {
        let mut next = std::pin::pin!(sequence.next_in(&mut body, limit));
        let Poll::Ready(next) = next.as_mut().poll(&mut context) else {
            panic!("pending over a body that never is");
        };
        match next {
            Ok(Some(message)) => messages.push(message.to_vec()),
            Ok(None) => {
                return Outcome {
                    messages,
                    failed: None,
                };
            }
            Err(status) => {
                return Outcome {
                    messages,
                    failed: Some(status.code()),
                };
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&choice, body)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(choice & 0x0f) + 1;
    let limit = match choice >> 4 {
        0 => 8,
        1 => 64,
        _ => 1 << 20,
    };
    let whole = read(body, body.len().max(1), limit);
    let chunked = read(body, chunk, limit);
    assert_eq!(
        whole.messages, chunked.messages,
        "the messages depend on the chunking ({chunk} bytes)"
    );
    assert_eq!(
        whole.failed.is_some(),
        chunked.failed.is_some(),
        "an error depends on the chunking ({chunk} bytes): {whole:?} vs {chunked:?}"
    );
    // What a value holds (a string's UTF-8, a number's range) is for the request's JSON reader
    // to refuse: the sequence only finds where values end, and raw values are read so too.
    if std::str::from_utf8(body).is_err() {
        return;
    }
    // Each JSON value of `text`, as its text.
    let values = |text: &[u8]| -> Vec<String> {
        serde_json::Deserializer::from_slice(text)
            .into_iter::<&serde_json::value::RawValue>()
            .map(|value| value.expect("a message that is not JSON").get().to_owned())
            .collect()
    };
    for message in &whole.messages {
        assert_eq!(values(message).len(), 1, "not one JSON value: {message:?}");
        assert!(message.len() <= limit, "over the limit");
        assert!(
            !message.first().is_some_and(u8::is_ascii_whitespace),
            "whitespace before a message: {message:?}"
        );
    }
    if whole.failed.is_none() {
        let taken: Vec<String> = whole.messages.iter().flat_map(|m| values(m)).collect();
        assert_eq!(taken, values(body), "values were lost or added");
    }
});
