#![no_main]
//! go-micro's registry JSON (`{"name","version","metadata","endpoints","nodes"}`), as the etcd
//! registry reads each node's key and the CLI and dashboard read services.
//!
//! Invariants: no panic; a service that decodes encodes to JSON that decodes to the same
//! service.

use libfuzzer_sys::fuzz_target;
use micro::registry::Service;

fuzz_target!(|data: &[u8]| {
    let Ok(service) = serde_json::from_slice::<Service>(data) else {
        return;
    };
    let json = serde_json::to_vec(&service).expect("a service encodes");
    let again: Service = serde_json::from_slice(&json)
        .unwrap_or_else(|err| panic!("{} does not decode: {err}", String::from_utf8_lossy(&json)));
    assert_eq!(
        service, again,
        "the registry JSON round trip changed the service"
    );
});
