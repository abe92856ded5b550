//! The `layers` example: a server layer that rejects calls without an API key, a client layer
//! that adds it, both awaiting.

use std::process::Command;

#[test]
fn server_and_client_layers_wrap_calls() {
    let output = Command::new(env!("CARGO_BIN_EXE_layers"))
        .env("MICRO_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("with the key: Hello alice"), "{stdout}");
    assert!(
        stdout.contains("without the key: Unauthenticated: send a valid x-api-key"),
        "{stdout}"
    );
    assert!(
        stderr.contains("client: Helloworld.Greeting took"),
        "{stderr}"
    );
    assert!(
        stderr.contains("server: rejected /helloworld.Helloworld/Greeting"),
        "{stderr}"
    );
}
