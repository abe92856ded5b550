//! The address a node registers: what it was told to advertise, else a reachable one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The address to register: `advertise` if given, else where the listener is; an unspecified
/// host (`0.0.0.0`, `::`) becomes this machine's first non-loopback IPv4 address, or loopback
/// when that is all there is.
pub(crate) fn advertised_address(local: SocketAddr, advertise: Option<&str>) -> String {
    if let Some(advertise) = advertise {
        return advertise.to_owned();
    }
    if !local.ip().is_unspecified() {
        return local.to_string();
    }
    let ip = reachable_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, local.port()).to_string()
}

fn reachable_ip() -> Option<IpAddr> {
    let interfaces = if_addrs::get_if_addrs().ok()?;
    interfaces
        .into_iter()
        .map(|interface| interface.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_wins_and_concrete_addresses_are_kept() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            advertised_address(local, Some("svc.example:9000")),
            "svc.example:9000"
        );
        assert_eq!(advertised_address(local, None), "127.0.0.1:8080");
    }

    #[test]
    fn an_unspecified_host_becomes_a_reachable_one() {
        let local: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let advertised: SocketAddr = advertised_address(local, None).parse().unwrap();
        assert!(!advertised.ip().is_unspecified());
        assert_eq!(advertised.port(), 8080);
    }
}
