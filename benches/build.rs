//! Generates the same proto twice: once with micro-build, once with tonic's own generator, so
//! the benchmark compares the frameworks and nothing else.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    micro_build::Builder::new()
        .out_dir(out.join("micro"))
        .compile(&["helloworld.proto", "streaming.proto"], &["../proto"])?;
    let fds = protox::compile(["helloworld.proto", "streaming.proto"], ["../proto"])?;
    std::fs::create_dir_all(out.join("tonic"))?;
    tonic_prost_build::configure()
        .out_dir(out.join("tonic"))
        .compile_fds(fds)?;
    Ok(())
}
