#![no_main]
//! The Connect protocol's request parsing: streaming envelopes (read as the server reads them:
//! `FrameLimit`, then tonic's stream decoder with micro's codec, protobuf or JSON, gzip or not),
//! Connect GET queries (`?encoding=…&message=…&base64=1&compression=gzip`) and gzip-compressed
//! unary bodies.
//!
//! Input: one control byte (mode, format, message type, chunking, limit), then the envelopes,
//! the query, or the unary body.
//! Invariants: no panic; an envelope declaring more than the limit ends the stream with an error and is
//! never allocated;
//! every decoded message re-encodes into an envelope that decodes to the same message; GET and
//! unary bodies never inflate past the limit.

mod common;

use libfuzzer_sys::fuzz_target;
use micro::codec::{Codable, Format};
use micro::fuzzing;

#[global_allocator]
static WATCH: common::Watch = common::Watch;

const LIMITS: [usize; 4] = [16, 1024, 65536, 4 << 20];

fn stream<M: Codable + prost::Message + std::fmt::Debug>(name: &str, control: u8, body: &[u8]) {
    let descriptor = common::descriptor(name);
    let format = match control & 0x04 != 0 {
        true => Format::Json,
        false => Format::Protobuf,
    };
    let gzip = control & 0x08 != 0;
    let limit = LIMITS[usize::from(control >> 6)];
    let chunk = common::chunk_size(control >> 3);
    let bound = 4 * (body.len() + limit) + (1 << 20);
    // The chunks are the harness's own allocation (up to one per byte), made before the watch.
    let chunks = common::chunks(body, chunk);
    let messages = common::allocates_at_most(bound, "the envelope stream", || {
        fuzzing::framed_stream::<M>(chunks, format, Some(&descriptor), gzip, limit)
    });
    // An envelope declaring more than the limit ends the stream with an error before its data.
    let mut at = 0;
    let mut index = 0;
    while let Some(&[_, a, b, c, d]) = body.get(at..at + 5) {
        if index >= fuzzing::MAX_STREAMED {
            // Reading stopped before this envelope.
            break;
        }
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > limit {
            // Messages in the same chunk as the oversized prefix may be refused with it.
            let decoded = messages.iter().filter(|m| m.is_ok()).count();
            assert!(
                decoded <= index && matches!(messages.last(), Some(Err(_))),
                "envelope {index} of {len} bytes (limit {limit}) was not refused: {} messages, \
                 the last {:?}",
                messages.len(),
                messages.last()
            );
            break;
        }
        index += 1;
        at += 5 + len;
    }
    for message in messages.into_iter().map_while(Result::ok) {
        let frame = fuzzing::message_frame(&message, format, Some(&descriptor), usize::MAX)
            .unwrap_or_else(|status| panic!("{name} decoded but does not encode: {status:?}"));
        let again = fuzzing::framed_stream::<M>(
            vec![frame.clone()],
            format,
            Some(&descriptor),
            false,
            frame.len(),
        );
        match again.as_slice() {
            [Ok(again)] => assert_eq!(
                common::encoded(&message),
                common::encoded(again),
                "{name}: the envelope round trip changed the message"
            ),
            other => panic!("{name}: a re-encoded envelope decodes to {other:?}"),
        }
    }
}

/// The seed corpus: envelopes micro makes of sample messages (protobuf and JSON, one and
/// several), a Connect GET for each (plain and base64 of gzip) and gzip-compressed unary bodies.
fn seeds() {
    use base64::Engine;
    let gzip = |data: &[u8]| {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    };
    let mut seeds = Vec::new();
    for (selector, proto, json) in common::samples() {
        let proto_frame = fuzzing::grpc_framed(&proto, false).expect("frames");
        let json_frame = fuzzing::grpc_framed(&json, false).expect("frames");
        let gzipped = fuzzing::grpc_framed(&proto, true).expect("frames");
        seeds.push([&[0xf0, selector][..], &proto_frame, &proto_frame].concat());
        seeds.push([&[0xf4, selector][..], &json_frame].concat());
        seeds.push([&[0xf8, selector][..], &gzipped].concat());
        let message: String = url_escape(&json);
        let query = format!("encoding=json&message={message}&connect=v1");
        seeds.push([&[0xc2, selector][..], query.as_bytes()].concat());
        let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gzip(&proto));
        seeds.push(
            [
                &[0xc2, selector][..],
                format!("encoding=proto&base64=1&compression=gzip&message={packed}").as_bytes(),
            ]
            .concat(),
        );
        seeds.push([&[0xc3, selector][..], &gzip(&json)].concat());
    }
    common::write_seeds("connect_envelope", seeds);
}

/// `data` percent-encoded for a query.
fn url_escape(data: &[u8]) -> String {
    data.iter()
        .map(|&b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let [control, selector, body @ ..] = data else {
        return;
    };
    let (control, selector) = (*control, *selector);
    let limit = LIMITS[usize::from(control >> 6)];
    match control & 0x03 {
        // Envelopes of a streaming call.
        0 | 1 => each_message!(selector, stream(control, body)),
        // A Connect GET: the query after the path.
        2 => {
            let query = String::from_utf8_lossy(body);
            let uri = format!("/fuzz.Fuzz/Call?{query}");
            if let Ok((message, _json)) = fuzzing::connect_get(&uri, limit) {
                assert!(message.len() <= limit.max(uri.len()), "a GET message past the limit");
            }
        }
        // A unary body, gzip-compressed.
        _ => {
            let bound = 4 * (body.len() + limit) + (1 << 20);
            let inflated = common::allocates_at_most(bound, "a gzip body", || {
                fuzzing::connect_unary_body(body.to_vec().into(), Some("gzip"), limit)
            });
            if let Ok(inflated) = inflated {
                assert!(inflated.len() <= limit, "inflated past the limit");
            }
        }
    }
}
);
