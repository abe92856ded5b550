//! micro-rs against the peers' own test programs.
//!
//! grpc's interop service (`grpc.testing.TestService`, from the protos grpc-go ships, see
//! `proto/`) served and called through micro-rs generated code: [`server`] implements the
//! service as the interop spec describes it, [`client`] runs the spec's client test cases.
//! The binaries `interop-server` and `interop-client` take grpc's interop flags, so grpc-go's
//! own client and server are their peers (`tests/grpc_go.rs`, `docs/interop.md`).

/// Generated from `proto/grpc/testing/*.proto`.
#[allow(missing_docs, clippy::all)]
pub mod grpc_testing {
    micro::include_proto!("grpc.testing");
}

/// Generated from `proto/connectrpc/conformance/v1/*.proto`.
#[allow(missing_docs, clippy::all)]
pub mod conformance {
    micro::include_proto!("connectrpc.conformance.v1");
}

pub mod client;
pub mod conformance_client;
pub mod conformance_server;
pub mod server;
