#![no_main]
//! gRPC-Web request framing, as the server reads it: tonic-web's translation (binary, or
//! base64 for `-text`) with micro's `+json` handling around it, then `FrameLimit` and the
//! stream decoder.
//!
//! Input: one control byte (content type, chunking), one message-type byte, then the body.
//! Invariants: no panic; nothing allocated from a declared length; a binary body and its
//! base64 (`grpc-web-text`) decode to the same messages (where one fails, to a prefix of the
//! other's).

mod common;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use micro::codec::Codable;
use micro::fuzzing;

#[global_allocator]
static WATCH: common::Watch = common::Watch;

const LIMIT: usize = 65536;

fn web<M: Codable + prost::Message>(name: &str, control: u8, body: &[u8]) {
    let descriptor = common::descriptor(name);
    let json = control & 0x01 != 0;
    let text = control & 0x02 != 0;
    let suffix = if json { "+json" } else { "" };
    let content_type = match text {
        true => format!("application/grpc-web-text{suffix}"),
        false => format!("application/grpc-web{suffix}"),
    };
    let chunk = common::chunk_size(control >> 2);
    let bound = 4 * (body.len() + LIMIT) + (1 << 20);
    // The chunks are the harness's own allocation (up to one per byte), made before the watch.
    let chunks = common::chunks(body, chunk);
    let messages = common::allocates_at_most(bound, "gRPC-Web", || {
        fuzzing::grpc_web::<M>(&content_type, chunks, Some(&descriptor), LIMIT)
    });
    if text {
        return;
    }
    // The same body as base64 text decodes to the same messages.
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let content_type = format!("application/grpc-web-text{suffix}");
    let as_text = fuzzing::grpc_web::<M>(
        &content_type,
        common::chunks(encoded.as_bytes(), chunk),
        Some(&descriptor),
        LIMIT,
    );
    let oks = |list: &[Result<M, micro::Status>]| -> Vec<Vec<u8>> {
        list.iter()
            .map_while(|m| m.as_ref().ok())
            .map(common::encoded)
            .collect()
    };
    let (binary, text) = (oks(&messages), oks(&as_text));
    // Where a stream fails, the messages that arrived in the failing chunk may be lost with it,
    // and base64 arrives in other chunks: then one list need only start the other.
    let failed = |list: &[Result<M, micro::Status>]| list.iter().any(Result::is_err);
    match failed(&messages) || failed(&as_text) {
        false => assert_eq!(
            binary, text,
            "{name}: binary and base64 bodies decode differently"
        ),
        true => assert!(
            binary.starts_with(&text) || text.starts_with(&binary),
            "{name}: binary and base64 bodies decode to different messages"
        ),
    }
}

/// The seed corpus: frames micro makes of sample messages, binary and base64, protobuf and
/// JSON.
fn seeds() {
    let mut seeds = Vec::new();
    for (selector, proto, json) in common::samples() {
        let proto_frame = fuzzing::grpc_framed(&proto, false).expect("frames");
        let json_frame = fuzzing::grpc_framed(&json, false).expect("frames");
        let text = base64::engine::general_purpose::STANDARD.encode(&proto_frame);
        seeds.push([&[0x18, selector][..], &proto_frame].concat());
        seeds.push([&[0x19, selector][..], &json_frame, &json_frame].concat());
        seeds.push([&[0x1a, selector][..], text.as_bytes()].concat());
    }
    common::write_seeds("grpc_web", seeds);
}

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let [control, selector, body @ ..] = data else {
        return;
    };
    each_message!(*selector, web(*control, body));
}
);
