//! docs/auth.md's mTLS part, run for real: helloworld and helloworld-client sharing a CA
//! directory talk over mTLS; a client without the CA's certificates cannot.

mod support;

use support::{Example, assert_all_failed, assert_all_ok, load};

const SERVER: &str = env!("CARGO_BIN_EXE_helloworld");
const CLIENT: &str = env!("CARGO_BIN_EXE_helloworld-client");

#[test]
fn two_processes_sharing_a_ca_directory_talk_over_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let ca = ca.to_str().unwrap();
    let server = Example::start(SERVER, &["--tls-ca-dir", ca]);
    let address = server.addr.to_string();
    let identity = ["--tls-ca-dir", ca, "--server-name", "helloworld-client"];
    assert_all_ok(&load(CLIENT, &address, 100, &identity), 100);

    let no_retries = ["--client-retries", "0"];
    let other_ca = dir.path().join("other");
    let stranger = [
        &no_retries[..],
        &["--tls-ca-dir", other_ca.to_str().unwrap()],
    ]
    .concat();
    assert_all_failed(&load(CLIENT, &address, 20, &stranger), 20);
    // h2c to a TLS port.
    assert_all_failed(&load(CLIENT, &address, 20, &no_retries), 20);
}
