#![no_main]
//! go-micro's HTTP-broker message JSON (`{"Header":{…},"Body":"<base64>"}`), as the HTTP broker
//! reads each delivery (`broker::Message::from_json`).
//!
//! Invariants: no panic; a message that decodes encodes to JSON that decodes to the same
//! message.

use libfuzzer_sys::fuzz_target;
use micro::broker::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::from_json(data) else {
        return;
    };
    let json = message.to_json();
    let again = Message::from_json(&json)
        .unwrap_or_else(|err| panic!("{} does not decode: {err}", String::from_utf8_lossy(&json)));
    assert_eq!(
        message, again,
        "the broker message round trip changed the message"
    );
});
