//! Generates grpc's interop service (`grpc.testing.TestService`) from the protos grpc-go ships.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    micro_build::compile_protos(&["grpc/testing/test.proto"], &["proto"])?;
    Ok(())
}
