//! Generates the same proto twice: once with micro-build, once with tonic's own generator, so
//! the benchmark compares the frameworks and nothing else; and `proto/helloworld_rest.proto`
//! with micro-build alone.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // helloworld_rest: helloworld with a google.api.http rule (the gateway benchmark's).
    let protos = [
        "helloworld.proto",
        "streaming.proto",
        "helloworld_rest.proto",
    ];
    micro_build::Builder::new()
        .out_dir(out.join("micro"))
        .compile(&protos, &["../proto", "proto"])?;
    let fds = protox::compile(["helloworld.proto", "streaming.proto"], ["../proto"])?;
    std::fs::create_dir_all(out.join("tonic"))?;
    tonic_prost_build::configure()
        .out_dir(out.join("tonic"))
        .compile_fds(fds)?;
    Ok(())
}
