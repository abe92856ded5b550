#![no_main]
//! go-micro's event JSON (`{"ID","Topic","Timestamp","Metadata","Payload"}`, the timestamp in
//! RFC 3339), as the events backends read stored and streamed events (`Event::from_json`).
//!
//! Invariants: no panic; an event that decodes encodes to JSON that decodes to the same event.

use libfuzzer_sys::fuzz_target;
use micro::events::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_json(data) else {
        return;
    };
    let json = event.to_json();
    let again = Event::from_json(&json)
        .unwrap_or_else(|err| panic!("{} does not decode: {err}", String::from_utf8_lossy(&json)));
    assert_eq!(
        (
            &event.id,
            &event.topic,
            event.timestamp,
            &event.metadata,
            &event.payload
        ),
        (
            &again.id,
            &again.topic,
            again.timestamp,
            &again.metadata,
            &again.payload
        ),
        "the event round trip changed the event ({})",
        String::from_utf8_lossy(&json)
    );
});
