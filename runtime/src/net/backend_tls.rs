//! What TLS to a backend (etcd, NATS, Redis) is configured with: PEM file paths, as the
//! `--<concern>-tls-ca`, `--<concern>-tls-cert` and `--<concern>-tls-key` flags give them.

use std::path::PathBuf;

/// TLS to a backend: the CA bundle that checks the server's certificate (default: the system's
/// roots) and the client certificate and key to present, as PEM files.
///
/// Giving any of them turns TLS on, as does the address's scheme (`https://` for etcd, `tls://`
/// for NATS, `rediss://` for Redis).
///
/// ```
/// let tls = micro::BackendTls::new()
///     .ca("/etc/micro/ca.pem")
///     .client_cert("/etc/micro/client.pem", "/etc/micro/client.key");
/// assert!(tls.is_on());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendTls {
    /// The CA certificates (PEM) that the server's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// The client certificate chain (PEM), for servers that require one.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, unencrypted).
    pub key: Option<PathBuf>,
}

impl BackendTls {
    /// Nothing given: TLS only if the address asks for it, checked against the system's roots.
    pub fn new() -> BackendTls {
        BackendTls::default()
    }

    /// Trusts the CA certificates in `path` instead of the system's roots.
    pub fn ca(mut self, path: impl Into<PathBuf>) -> BackendTls {
        self.ca = Some(path.into());
        self
    }

    /// Presents the certificate chain in `cert`, with the private key in `key`.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> BackendTls {
        self.cert = Some(cert.into());
        self.key = Some(key.into());
        self
    }

    /// Whether any file is given, which turns TLS on whatever the address's scheme.
    pub fn is_on(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }
}
