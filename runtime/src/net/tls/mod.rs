//! PEM files for TLS, read with errors that name the file: certificates, a private key, and the
//! roots to trust (a CA bundle, or the system's). Backends' client TLS and the service's own TLS
//! share these, and the check of whether a failure was a TLS handshake; `backend` builds the
//! backends' client configurations from a [`BackendTls`](super::BackendTls).

// Each backend feature uses part of these helpers; builds with some backends leave the rest.
#![cfg_attr(
    not(all(
        feature = "auth-tls",
        feature = "store-postgres",
        feature = "registry-etcd",
        feature = "broker-nats",
        feature = "events-redis"
    )),
    allow(dead_code, unused_imports)
)]

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(any(
    feature = "registry-etcd",
    feature = "sync-etcd",
    feature = "config-etcd",
    feature = "broker-nats",
    feature = "events-nats",
    feature = "events-redis"
))]
pub(crate) mod backend;

/// The crypto provider of every rustls configuration micro builds (ring).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in the PEM file at `path` (at least one); the error names the file.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    certificates_in(&read(path)?, path)
}

/// The private key in the PEM file at `path` (PKCS#8, PKCS#1 or SEC1); the error names the file.
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    private_key_in(&read(path)?, path)
}

/// The roots to check servers with: the certificates of the CA bundle `ca`, else the system's.
pub(crate) fn roots(ca: Option<&Path>) -> Result<RootCertStore, String> {
    match ca {
        Some(ca) => roots_in(&read(ca)?, ca),
        None => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err("no system root certificates found; give the server's CA (PEM)".into());
            }
            Ok(roots)
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

/// The certificates of `pem`, read from `path`.
fn certificates_in(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("cannot read certificates from {shown}: {}", pem_error(&err)))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate; give a PEM file with `BEGIN CERTIFICATE` blocks"
        ));
    }
    Ok(certs)
}

/// The private key of `pem`, read from `path`.
fn private_key_in(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{} holds no private key; give an unencrypted PEM key (`BEGIN PRIVATE KEY`)",
            path.display()
        ),
        err => format!(
            "cannot read a private key from {}: {}",
            path.display(),
            pem_error(&err)
        ),
    })
}

/// The CA certificates of `pem`, read from `path`, as roots.
fn roots_in(pem: &[u8], path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates_in(pem, path)?);
    if added == 0 {
        return Err(format!(
            "{} holds no usable CA certificate; give the CA certificate in PEM",
            path.display()
        ));
    }
    Ok(roots)
}

#[cfg(any(
    feature = "store-postgres",
    feature = "registry-etcd",
    feature = "sync-etcd",
    feature = "config-etcd",
    feature = "broker-nats",
    feature = "events-nats",
    feature = "events-redis"
))]
/// Whether `err`, or an error under it, is a TLS failure (an untrusted certificate, a name that
/// does not match, an alert such as "certificate required").
pub(crate) fn is_handshake_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        // Some clients (redis) keep their cause in an `Arc`, whose `source` skips it.
        let err = match err.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
            Some(shared) => &**shared,
            None => err,
        };
        let io_inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if err.is::<rustls::Error>() || io_inner.is_some_and(|inner| inner.is::<rustls::Error>()) {
            return true;
        }
        next = err.source();
    }
    false
}

/// A PEM error as a reader wants it (a missing file says so).
fn pem_error(err: &rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = certificates(&missing).unwrap_err();
        assert!(
            err.contains("missing.pem") && err.contains("No such file"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not PEM\n").unwrap();
        let err = certificates(&empty).unwrap_err();
        assert!(err.contains("empty.pem holds no certificate"), "{err}");
        let err = private_key(&empty).unwrap_err();
        assert!(err.contains("empty.pem holds no private key"), "{err}");
        let err = roots(Some(&missing)).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
