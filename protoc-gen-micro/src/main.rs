//! `protoc-gen-micro`: reads a `CodeGeneratorRequest` on stdin, writes the response to stdout.
//!
//! ```sh
//! protoc --plugin=protoc-gen-micro --micro_out=src/gen --micro_opt=no_client helloworld.proto
//! ```

use std::io::{self, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut request = Vec::new();
    if let Err(err) = io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-micro: cannot read the request from stdin: {err}");
        return ExitCode::FAILURE;
    }
    let response = protoc_gen_micro::run_plugin(&request);
    if let Err(err) = io::stdout().write_all(&response) {
        eprintln!("protoc-gen-micro: cannot write the response to stdout: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
