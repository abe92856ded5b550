//! PEM files for TLS, read with errors that name the file: certificates, a private key, and the
//! roots to trust (a CA bundle, or the system's). Backends' client TLS and the service's own TLS
//! share these, and the check of whether a failure was a TLS handshake.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::BackendTls;

/// The certificates in the PEM file at `path` (at least one); the error names the file.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("cannot read certificates from {shown}: {}", pem_error(&err)))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate; give a PEM file with `BEGIN CERTIFICATE` blocks"
        ));
    }
    Ok(certs)
}

/// The private key in the PEM file at `path` (PKCS#8, PKCS#1 or SEC1); the error names the file.
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| match err {
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

/// The roots to check servers with: the certificates of the CA bundle `ca`, else the system's.
pub(crate) fn roots(ca: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let Some(ca) = ca else {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            return Err("no system root certificates found; give the server's CA (PEM)".into());
        }
        return Ok(roots);
    };
    let (added, _) = roots.add_parsable_certificates(certificates(ca)?);
    if added == 0 {
        return Err(format!(
            "{} holds no usable CA certificate; give the CA certificate in PEM",
            ca.display()
        ));
    }
    Ok(roots)
}

/// A rustls client configuration (ring) for `tls`: its CA (else the system's roots) and its
/// client certificate, if any. Errors name the file and `flags` (e.g. `--broker-tls`).
pub(crate) fn client_config(tls: &BackendTls, flags: &str) -> Result<ClientConfig, String> {
    let roots = roots(tls.ca.as_deref()).map_err(|err| format!("{flags}-ca: {err}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS setup failed: {err}"))?
        .with_root_certificates(roots);
    match client_identity(tls, flags)? {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|err| format!("{flags}-cert and {flags}-key do not go together: {err}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The client certificate chain and key of `tls`, when it has them; both or neither.
pub(crate) fn client_identity(
    tls: &BackendTls,
    flags: &str,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    match (&tls.cert, &tls.key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let certs = certificates(cert).map_err(|err| format!("{flags}-cert: {err}"))?;
            let key = private_key(key).map_err(|err| format!("{flags}-key: {err}"))?;
            Ok(Some((certs, key)))
        }
        (Some(_), None) => Err(format!(
            "{flags}-cert needs {flags}-key: give both or neither"
        )),
        (None, Some(_)) => Err(format!(
            "{flags}-key needs {flags}-cert: give both or neither"
        )),
    }
}

/// The PEM files of `tls` (CA, then client certificate and key), read and checked, for clients
/// that take PEM bytes; errors name the file and `flags`.
pub(crate) fn pem_files(tls: &BackendTls, flags: &str) -> Result<PemFiles, String> {
    let read = |path: &Path, flag: &str| {
        std::fs::read(path).map_err(|err| format!("{flags}-{flag}: {}: {err}", path.display()))
    };
    let ca = match &tls.ca {
        Some(ca) => {
            roots(Some(ca)).map_err(|err| format!("{flags}-ca: {err}"))?;
            Some(read(ca, "ca")?)
        }
        None => None,
    };
    let identity = match client_identity(tls, flags)? {
        Some(_) => match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => Some((read(cert, "cert")?, read(key, "key")?)),
            _ => None,
        },
        None => None,
    };
    Ok(PemFiles { ca, identity })
}

/// PEM bytes of a [`BackendTls`], checked to hold what they should.
pub(crate) struct PemFiles {
    /// The CA bundle; `None`: the system's roots.
    pub(crate) ca: Option<Vec<u8>>,
    /// The client certificate chain and its key.
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Whether `err`, or an error under it, is a TLS failure (an untrusted certificate, a name that
/// does not match, an alert such as "certificate required").
pub(crate) fn is_handshake_failure(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        // Some clients (redis) keep their cause in an `Arc`, whose `source` skips it.
        let err = match err.downcast_ref::<Arc<dyn Error + Send + Sync>>() {
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

/// `err` and its sources, `: `-separated, each said once (transport errors say little on their
/// own: "transport error").
pub(crate) fn full_message(err: &(dyn Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        next = source.source();
    }
    message
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

    #[test]
    fn a_certificate_needs_its_key() {
        let tls = BackendTls::new().ca("/ca.pem");
        let mut half = tls.clone();
        half.cert = Some("/c.pem".into());
        let err = client_identity(&half, "--broker-tls").unwrap_err();
        assert_eq!(
            err,
            "--broker-tls-cert needs --broker-tls-key: give both or neither"
        );
        let err = client_config(&tls, "--broker-tls").unwrap_err();
        assert!(
            err.starts_with("--broker-tls-ca: ") && err.contains("/ca.pem"),
            "{err}"
        );
    }
}
