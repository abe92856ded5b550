//! Client TLS to the backends (etcd, NATS, Redis) from a [`BackendTls`]: a rustls
//! configuration, or the PEM bytes for clients that take those.

// Lints as in the parent module, whose `cfg_attr(…, allow(dead_code))` applies here too.

use std::path::Path;

use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{
    certificates, certificates_in, private_key, private_key_in, provider, read, roots, roots_in,
};
use crate::net::BackendTls;

/// A rustls client configuration (ring) for `tls`: its CA (else the system's roots) and its
/// client certificate, if any. Errors name the file and `flags` (e.g. `--broker-tls`).
pub(crate) fn client_config(tls: &BackendTls, flags: &str) -> Result<ClientConfig, String> {
    let roots = roots(tls.ca.as_deref()).map_err(|err| format!("{flags}-ca: {err}"))?;
    let builder = ClientConfig::builder_with_provider(provider())
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

/// The PEM files of `tls` (CA, then client certificate and key), each read once and checked,
/// for clients that take PEM bytes; errors name the file and `flags`.
pub(crate) fn pem_files(tls: &BackendTls, flags: &str) -> Result<PemFiles, String> {
    let ca = match &tls.ca {
        Some(ca) => {
            let pem = read(ca).map_err(|err| format!("{flags}-ca: {err}"))?;
            roots_in(&pem, ca).map_err(|err| format!("{flags}-ca: {err}"))?;
            Some(pem)
        }
        None => None,
    };
    let identity = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let checked =
                |path: &Path, flag: &str, check: fn(&[u8], &Path) -> Result<(), String>| {
                    let pem = read(path).and_then(|pem| check(&pem, path).map(|()| pem));
                    pem.map_err(|err| format!("{flags}-{flag}: {err}"))
                };
            let cert = checked(cert, "cert", |pem, path| {
                certificates_in(pem, path).map(drop)
            })?;
            let key = checked(key, "key", |pem, path| private_key_in(pem, path).map(drop))?;
            Some((cert, key))
        }
        // Neither (no identity), or one without the other (its error).
        _ => client_identity(tls, flags).map(|_| None)?,
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

#[cfg(test)]
mod tests {
    use super::*;

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
