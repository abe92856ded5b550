#![no_main]
//! The proto3 JSON request decoder (`Codable::decode_from` with `Format::Json`, as every JSON
//! request on gRPC+json, Connect, gRPC-Web+json and go-micro's HTTP calls is decoded).
//!
//! Input: one selector byte (message type, JSON options), then the JSON body.
//! Invariants: no panic; a message that decodes encodes to JSON that decodes to the same message
//! (compared by its protobuf encoding).

mod common;

use libfuzzer_sys::fuzz_target;
use micro::JsonOptions;
use micro::codec::{Codable, Format};

fn round_trip<M: Codable + prost::Message>(name: &str, json: &[u8], options: &JsonOptions) {
    let descriptor = common::descriptor(name);
    let Ok(message) = M::decode_from(json, Format::Json, Some(&descriptor), options) else {
        return;
    };
    let mut written = Vec::new();
    message
        .encode_to(Format::Json, Some(&descriptor), options, &mut written)
        .unwrap_or_else(|status| {
            panic!("{name} decoded from JSON but does not encode: {status:?}")
        });
    let again = M::decode_from(&written[..], Format::Json, Some(&descriptor), options)
        .unwrap_or_else(|status| {
            panic!(
                "{name} written as {} does not decode: {status:?}",
                String::from_utf8_lossy(&written)
            )
        });
    assert_eq!(
        common::encoded(&message),
        common::encoded(&again),
        "{name}: JSON round trip changed the message ({})",
        String::from_utf8_lossy(&written)
    );
}

/// The seed corpus: micro's own JSON for each sample message.
fn seeds() {
    common::write_seeds(
        "json_request",
        common::samples()
            .into_iter()
            .map(|(selector, _, json)| [vec![selector], json].concat()),
    );
}

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let options = JsonOptions::default()
        .ignore_unknown_fields(selector & 0x80 != 0)
        .proto_field_names(selector & 0x40 != 0)
        .emit_defaults(selector & 0x20 != 0);
    each_message!(selector & 0x1f, round_trip(json, &options));
}
);
