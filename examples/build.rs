//! Generates the examples' services from `proto/` with micro-build (no protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    micro_build::compile_protos(
        &[
            "helloworld.proto",
            "streaming.proto",
            "pubsub.proto",
            "inventory.proto",
            "greeter_http.proto",
            "records.proto",
        ],
        &["../proto"],
    )?;
    Ok(())
}
