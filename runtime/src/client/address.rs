//! Addresses a client can call: `host:port`, `http://host:port`, `https://host:port` or
//! `:port`.

use super::Error;

/// `host:port`, `http(s)://host:port` or `:port` (this host) → the `host:port` to dial.
pub(crate) fn authority(address: &str) -> Result<http::uri::Authority, Error> {
    let invalid = |detail: &str| Error::new(format!("invalid address `{address}`: {detail}"));
    let without_scheme = match address.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some((scheme, _)) => return Err(invalid(&format!("unsupported scheme `{scheme}`"))),
        None => address,
    };
    let host_port = match without_scheme.trim_end_matches('/').strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => without_scheme.trim_end_matches('/').to_owned(),
    };
    let authority: http::uri::Authority = host_port
        .parse()
        .map_err(|_| invalid("expected host:port"))?;
    if authority.port_u16().is_none() {
        return Err(invalid("no port"));
    }
    Ok(authority)
}

/// Whether `address` asks for TLS (`https://`).
pub(crate) fn is_https(address: &str) -> bool {
    address.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_authorities() {
        assert_eq!(authority("127.0.0.1:8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority(":8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority("http://svc:1/").unwrap(), "svc:1");
        assert_eq!(authority("https://svc:443").unwrap(), "svc:443");
        assert!(is_https("https://svc:443") && !is_https("http://svc:1"));
        assert_eq!(authority("[::1]:9").unwrap(), "[::1]:9");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (address, detail) in [
            ("ftp://svc:1", "unsupported scheme `ftp`"),
            ("svc", "no port"),
            ("not an address", "expected host:port"),
        ] {
            let err = authority(address).unwrap_err().to_string();
            assert!(err.contains(detail), "{address}: {err}");
        }
    }
}
