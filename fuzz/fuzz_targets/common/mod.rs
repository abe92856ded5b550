//! What several targets share: an allocation watch (an oversized frame must be refused, never
//! allocated), the message types requests are decoded into, and cutting a body into chunks as
//! the network would.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The global allocator, recording the largest single allocation asked for.
pub struct Watch;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and fails if it asked for one allocation larger than `bound` bytes: what a parser
/// allocates must follow the bytes it was given and its limit, never a length it read.
pub fn allocates_at_most<R>(bound: usize, what: &str, f: impl FnOnce() -> R) -> R {
    LARGEST.store(0, Ordering::Relaxed);
    let result = f();
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= bound,
        "{what}: allocated {largest} bytes at once, more than the bound of {bound}"
    );
    result
}

/// `data` cut into chunks of `size` bytes (at least 1), as a body arrives.
pub fn chunks(data: &[u8], size: usize) -> Vec<Bytes> {
    data.chunks(size.max(1))
        .map(Bytes::copy_from_slice)
        .collect()
}

/// A chunk size picked by `selector`: one byte at a time, a frame prefix's worth, odd sizes, or
/// the whole body.
pub fn chunk_size(selector: u8) -> usize {
    [1, 2, 5, 7, 64, 1000, usize::MAX, usize::MAX][usize::from(selector % 8)]
}

/// The descriptor of a well-known type (prost-reflect's global pool holds them all).
pub fn descriptor(name: &str) -> MessageDescriptor {
    DescriptorPool::global()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("the global descriptor pool lacks {name}"))
}

/// The protobuf encoding of a message, to compare messages (floats compare by bits, so NaN
/// equals itself).
pub fn encoded<M: prost::Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

/// Calls `$f::<M>($name, args…)` for the message type `$selector` picks: JSON-heavy well-known
/// types (Struct, Value, Any, Timestamp, Duration, FieldMask, wrappers) and descriptor.proto's
/// messages (nested messages, enums, repeated fields, 64-bit integers, bytes, doubles).
#[macro_export]
macro_rules! each_message {
    ($selector:expr, $f:ident ( $($arg:expr),* )) => {
        match $selector % 12 {
            0 => $f::<prost_types::Struct>("google.protobuf.Struct", $($arg),*),
            1 => $f::<prost_types::Value>("google.protobuf.Value", $($arg),*),
            2 => $f::<prost_types::ListValue>("google.protobuf.ListValue", $($arg),*),
            3 => $f::<prost_types::Any>("google.protobuf.Any", $($arg),*),
            4 => $f::<prost_types::Timestamp>("google.protobuf.Timestamp", $($arg),*),
            5 => $f::<prost_types::Duration>("google.protobuf.Duration", $($arg),*),
            6 => $f::<prost_types::FieldMask>("google.protobuf.FieldMask", $($arg),*),
            7 => $f::<prost_types::FileDescriptorProto>("google.protobuf.FileDescriptorProto", $($arg),*),
            8 => $f::<prost_types::Type>("google.protobuf.Type", $($arg),*),
            9 => $f::<prost_types::UninterpretedOption>("google.protobuf.UninterpretedOption", $($arg),*),
            10 => $f::<i64>("google.protobuf.Int64Value", $($arg),*),
            _ => $f::<Vec<u8>>("google.protobuf.BytesValue", $($arg),*),
        }
    };
}

/// The output of a future that is ready at once (the auth futures compute and return).
pub fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("harness: a future that should be ready is pending"),
    }
}

/// Writes `seeds` into `$MICRO_FUZZ_SEEDS/<target>/` when that variable is set: the seed corpus
/// is made by micro's own code (`scripts/fuzz.sh --seeds`), so it holds real frames, tokens and
/// packets.
pub fn write_seeds(target: &str, seeds: impl IntoIterator<Item = Vec<u8>>) {
    let Some(root) = std::env::var_os("MICRO_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&root).join(target);
    std::fs::create_dir_all(&dir).expect("the seed directory can be made");
    for (index, seed) in seeds.into_iter().enumerate() {
        std::fs::write(dir.join(format!("made-{index:02}")), seed).expect("a seed can be written");
    }
}

/// Sample messages made by micro's codecs, as (message-type selector for `each_message!`,
/// protobuf, JSON): a Struct with every kind of value, a Timestamp, a Duration, an Any holding a
/// Timestamp, and a real FileDescriptorProto.
pub fn samples() -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    use micro::codec::{Codable, Format};
    let json = |name: &str, text: &str, selector: u8| -> (u8, Vec<u8>, Vec<u8>) {
        fn both<M: Codable + prost::Message>(name: &str, text: &str) -> (Vec<u8>, Vec<u8>) {
            let descriptor = descriptor(name);
            let options = micro::JsonOptions::default();
            let message =
                M::decode_from(text.as_bytes(), Format::Json, Some(&descriptor), &options)
                    .unwrap_or_else(|status| panic!("sample {name} {text}: {status:?}"));
            let mut written = Vec::new();
            message
                .encode_to(Format::Json, Some(&descriptor), &options, &mut written)
                .expect("a sample encodes");
            (message.encode_to_vec(), written)
        }
        let (proto, json) = match selector {
            0 => both::<prost_types::Struct>(name, text),
            1 => both::<prost_types::Value>(name, text),
            2 => both::<prost_types::ListValue>(name, text),
            3 => both::<prost_types::Any>(name, text),
            4 => both::<prost_types::Timestamp>(name, text),
            5 => both::<prost_types::Duration>(name, text),
            6 => both::<prost_types::FieldMask>(name, text),
            7 => both::<prost_types::FileDescriptorProto>(name, text),
            8 => both::<prost_types::Type>(name, text),
            9 => both::<prost_types::UninterpretedOption>(name, text),
            10 => both::<i64>(name, text),
            _ => both::<Vec<u8>>(name, text),
        };
        (selector, proto, json)
    };
    vec![
        json(
            "google.protobuf.Struct",
            r#"{"name":"Alice","age":42.5,"admin":true,"none":null,"tags":["a","b"],"nested":{"x":-1e-7}}"#,
            0,
        ),
        json(
            "google.protobuf.Value",
            r#"[1,"two",{"three":3},null,false]"#,
            1,
        ),
        json("google.protobuf.ListValue", r#"[0.5,"é\u0000",[],{}]"#, 2),
        json(
            "google.protobuf.Any",
            r#"{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"2026-12-04T12:00:00.5Z"}"#,
            3,
        ),
        json(
            "google.protobuf.Timestamp",
            r#""1972-01-01T10:00:20.021-05:00""#,
            4,
        ),
        json(
            "google.protobuf.Duration",
            r#""-315576000000.999999999s""#,
            5,
        ),
        json(
            "google.protobuf.FieldMask",
            r#""user.displayName,photo""#,
            6,
        ),
        json(
            "google.protobuf.FileDescriptorProto",
            r#"{"name":"helloworld.proto","package":"helloworld","messageType":[{"name":"Request","field":[{"name":"name","number":1,"label":"LABEL_OPTIONAL","type":"TYPE_STRING","jsonName":"name"}]}],"service":[{"name":"Helloworld","method":[{"name":"Call","inputType":".helloworld.Request","outputType":".helloworld.Response"}]}],"options":{"goPackage":"./proto;helloworld","uninterpretedOption":[{"doubleValue":1.5,"positiveIntValue":"18446744073709551615","stringValue":"AAE="}]},"syntax":"proto3"}"#,
            7,
        ),
        json(
            "google.protobuf.Type",
            r#"{"name":"T","fields":[{"kind":"TYPE_INT64","cardinality":"CARDINALITY_REPEATED","number":3,"name":"ids","packed":true}],"options":[{"name":"o","value":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.5s"}}],"syntax":"SYNTAX_PROTO3"}"#,
            8,
        ),
        json(
            "google.protobuf.UninterpretedOption",
            r#"{"name":[{"namePart":"x","isExtension":true}],"negativeIntValue":"-9223372036854775808","doubleValue":"NaN","stringValue":"/+8="}"#,
            9,
        ),
        json("google.protobuf.Int64Value", r#""-9007199254740993""#, 10),
        json("google.protobuf.BytesValue", r#""aGVsbG8gd29ybGQ=""#, 11),
    ]
}
