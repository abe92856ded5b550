#![no_main]
//! The mDNS registry's packet reader and go-micro's TXT payload decoder: a response parsed
//! leniently (hickory-proto), its PTR/SRV/TXT/A records collected into instances, and each
//! instance's TXT (hex of zlib of JSON, in 255-character strings) decoded into a service.
//!
//! Input: one mode byte; then a packet (even modes) or TXT strings separated by newlines (odd).
//! Invariants: no panic; TXT payloads decode, encode into strings of at most 255 characters and
//! decode to the same payload; a service read from a packet, announced again as micro announces
//! it, reads back the same.

mod common;

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use micro::fuzzing;

#[global_allocator]
static WATCH: common::Watch = common::Watch;

fn packet(bytes: &[u8]) {
    // A packet is at most 9000 bytes (the receive buffer); the TXT payload inflates to 1 MiB
    // at most.
    let Some(services) =
        common::allocates_at_most(4 << 20, "an mDNS packet", || fuzzing::mdns_packet(bytes))
    else {
        return;
    };
    for service in services {
        let [node] = service.nodes.as_slice() else {
            panic!("a service read from mDNS has one node: {service:?}");
        };
        let Ok(address) = node.address.parse::<SocketAddr>() else {
            panic!("an mDNS node's address does not parse: {}", node.address);
        };
        let Ok(announcement) =
            fuzzing::mdns_announcement(&service, node, address.ip(), address.port())
        else {
            continue;
        };
        let again = fuzzing::mdns_packet(&announcement).expect("micro's announcement parses");
        assert!(
            again.contains(&service),
            "{service:?} announced again reads back as {again:?}"
        );
    }
}

fn txt(text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    let strings: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if let Ok((encoded, same)) = fuzzing::mdns_txt(&strings) {
        assert!(same, "a TXT payload encoded and decoded again changed");
        assert!(
            encoded.iter().all(|s| s.len() <= 255),
            "a TXT string longer than 255 characters"
        );
    }
}

/// The seed corpus: announcements micro sends for go-micro's registry JSON (IPv4 and IPv6).
fn seeds() {
    let service: micro::registry::Service = serde_json::from_str(GO_MICRO_JSON).expect("JSON");
    let node = &service.nodes[0];
    let mut seeds = Vec::new();
    for ip in ["10.0.0.7", "fe80::1"] {
        let ip = ip.parse().expect("an address");
        let packet = fuzzing::mdns_announcement(&service, node, ip, 38521).expect("announces");
        seeds.push([&[0][..], &packet].concat());
    }
    common::write_seeds("mdns_packet", seeds);
}

/// A registry value exactly as a go-micro service writes it (from the registry's tests).
const GO_MICRO_JSON: &str = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"name":"Helloworld.Call","request":{"name":"CallRequest","type":"CallRequest","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"CallResponse","type":"CallResponse","values":[{"name":"message","type":"string","values":null}]},"metadata":{}},{"name":"Helloworld.Stream","request":{"name":"StreamRequest","type":"StreamRequest","values":null},"response":{"name":"StreamResponse","type":"StreamResponse","values":null},"metadata":{"stream":"true"}}],"nodes":[{"id":"helloworld-bd5a4bd4-7ab6-4f44-9f52-67b11e7e0c2f","address":"10.0.0.7:38521","metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"}}]}"#;

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => packet(rest),
        _ => txt(rest),
    }
}
);
