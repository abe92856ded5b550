//! Runnable micro-rs examples; each binary in `src/bin/` starts with how to run it.
//!
//! This library holds the code generated from `proto/` for the binaries to share.

/// Generated from `proto/helloworld.proto`.
#[allow(missing_docs)]
pub mod helloworld {
    micro::include_proto!("helloworld");
}

/// Generated from `proto/streaming.proto`.
#[allow(missing_docs)]
pub mod streaming {
    micro::include_proto!("streaming");
}

/// Generated from `proto/pubsub.proto`.
#[allow(missing_docs)]
pub mod pubsub {
    micro::include_proto!("pubsub");
}

/// Generated from `proto/inventory.proto`.
#[allow(missing_docs)]
pub mod inventory {
    micro::include_proto!("inventory");
}

/// Generated from `proto/greeter_http.proto` (methods with google.api.http rules).
#[allow(missing_docs)]
pub mod greeter {
    micro::include_proto!("greeter");
}

/// Generated from `proto/records.proto` (well-known types in every field).
#[allow(missing_docs)]
pub mod records {
    micro::include_proto!("records");
}
