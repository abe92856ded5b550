//! Generates grpc's interop service (`grpc.testing.TestService`, from the protos grpc-go ships)
//! and Connect's conformance service (from connectrpc.com/conformance's protos).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    micro_build::compile_protos(
        &[
            "grpc/testing/test.proto",
            "connectrpc/conformance/v1/service.proto",
            "connectrpc/conformance/v1/server_compat.proto",
            "connectrpc/conformance/v1/client_compat.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
