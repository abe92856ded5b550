#![no_main]
//! gRPC frame reading and its size limit, as the server reads unary requests (and the client
//! replies): `FrameLimit` over the body as it arrives, the body read whole, its one frame
//! (inflated when gzipped).
//!
//! Input: one control byte (chunking, gzip, limit), then the body.
//! Invariants: no panic; a frame whose declared length exceeds the limit is refused with
//! RESOURCE_EXHAUSTED in any chunking, and nothing is allocated from a declared length; what
//! passes is the body unchanged; a message read back from a frame is within the limit and frames
//! back to the same body; framing any bytes and reading them back gives the bytes.

mod common;

use libfuzzer_sys::fuzz_target;
use micro::Code;
use micro::fuzzing;

#[global_allocator]
static WATCH: common::Watch = common::Watch;

const LIMITS: [usize; 8] = [0, 1, 5, 16, 100, 1024, 65536, 4 << 20];

/// Whether a complete frame prefix in `body` declares more than `limit` bytes.
fn declares_oversized(body: &[u8], limit: usize) -> bool {
    let mut at = 0;
    while let Some(&[_, a, b, c, d]) = body.get(at..at + 5) {
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > limit {
            return true;
        }
        at += 5 + len;
    }
    false
}

/// The seed corpus: frames micro makes of sample messages, plain and gzipped, two frames in one
/// body, and frames declaring more than the limit.
fn seeds() {
    let mut seeds = Vec::new();
    for (_, proto, _) in common::samples() {
        let plain = fuzzing::grpc_framed(&proto, false).expect("frames");
        let gzipped = fuzzing::grpc_framed(&proto, true).expect("frames");
        seeds.push([&[0x66][..], &plain].concat());
        seeds.push([&[0x6e][..], &gzipped].concat());
        seeds.push([&[0x61][..], &plain, &plain].concat());
    }
    // 4 GiB - 1 declared, limit 100; then 101 declared after a good frame, limit 100.
    seeds.push(vec![0x36, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    seeds.push([&[0x46, 0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 101][..], &[9; 20]].concat());
    common::write_seeds("grpc_frame", seeds);
}

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let chunk = common::chunk_size(control);
    let gzipped = control & 0x08 != 0;
    let limit = LIMITS[usize::from(control >> 4) % LIMITS.len()];
    // Room for the body, the limit, inflating up to it, and the decoders' own buffers.
    let bound = 4 * (body.len() + limit) + (1 << 20);

    // The chunks are the harness's own allocation (up to one per byte), made before the watch.
    let chunks = common::chunks(body, chunk);
    let passed = common::allocates_at_most(bound, "FrameLimit", || {
        fuzzing::frame_limit(chunks, limit)
    });
    match (declares_oversized(body, limit), passed) {
        (true, Err(status)) => assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}"),
        (true, Ok(_)) => panic!("an oversized frame passed the limit of {limit}"),
        (false, Ok(passed)) => assert_eq!(&passed[..], body, "FrameLimit changed the body"),
        (false, Err(status)) => panic!("frames within the limit were refused: {status:?}"),
    }

    let chunks = common::chunks(body, chunk);
    let read = common::allocates_at_most(bound, "the unary read", || {
        fuzzing::grpc_unary(chunks, gzipped, limit)
    });
    if let Ok(Some(message)) = read {
        assert!(message.len() <= limit, "{} bytes read past the limit of {limit}", message.len());
        if !gzipped || body.first() == Some(&0) {
            let framed = fuzzing::grpc_framed(&message, false).expect("a read message frames");
            assert_eq!(&framed[..], body, "the frame read does not frame back to the body");
        }
    }

    // Framing then reading gives the bytes back, compressed or not.
    let framed = fuzzing::grpc_framed(body, gzipped).expect("small messages frame");
    let room = framed.len().max(body.len());
    let back = fuzzing::grpc_unary(common::chunks(&framed, chunk), gzipped, room)
        .unwrap_or_else(|status| panic!("a frame made by micro does not read back: {status:?}"));
    assert_eq!(back.as_deref(), Some(body), "framing did not round-trip");
}
);
