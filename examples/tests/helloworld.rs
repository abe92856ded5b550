//! The helloworld example as users run it: a real process, its client, flags and signals.

mod support;

use std::process::Command;

use support::Example;

const SERVER: &str = env!("CARGO_BIN_EXE_helloworld");
const CLIENT: &str = env!("CARGO_BIN_EXE_helloworld-client");

#[test]
fn the_client_binary_gets_a_greeting() {
    let server = Example::start(SERVER, &[]);
    let output = Command::new(CLIENT)
        .args(["--address", &server.addr.to_string(), "alice"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello alice\n");
}

#[test]
fn sigterm_stops_gracefully_with_exit_code_zero() {
    let server = Example::start(SERVER, &["--server-shutdown-timeout", "2s"]);
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn environment_variables_configure_the_service() {
    let mut command = Command::new(SERVER);
    command
        // Port 0: the kernel picks a free port and the service announces it; an ignored
        // variable would leave the example on its default, 8080.
        .env("MICRO_SERVER_ADDRESS", "127.0.0.1:0")
        .env("MICRO_SERVER_NAME", "greeter")
        .env("MICRO_REGISTRY", "memory");
    let server = Example::spawn(command);
    assert_ne!(server.addr.port(), 8080, "{}", server.announcement);
    assert!(
        server.announcement.contains("service=greeter"),
        "{}",
        server.announcement
    );
    let output = Command::new(CLIENT)
        .args(["--address", &server.addr.to_string(), "env"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello env\n");
}

#[test]
fn help_lists_the_flags_and_their_variables() {
    let output = Command::new(SERVER).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--server-name",
        "--server-address",
        "--server-metadata",
        "MICRO_SERVER_ADDRESS",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

#[test]
fn a_bad_flag_value_exits_2_with_a_clear_message() {
    let output = Command::new(SERVER)
        .args(["--server-metadata", "no-equals-sign"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expected key=value, got `no-equals-sign`"),
        "{stderr}"
    );
}

#[test]
fn an_address_in_use_fails_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(SERVER)
        .args(["--server-address", &addr])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
