//! TLS for the Postgres store, with libpq's `sslmode` meanings (rustls, no OpenSSL):
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | if the server offers it | no |
//! | `require` | yes | no, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | yes | chains to `sslrootcert` (default: the system's roots) |
//! | `verify-full` | yes | as `verify-ca`, and names the host |
//!
//! With `sslcert` and `sslkey` (PEM files) the client presents that certificate, for servers
//! that ask for one (`hostssl … cert`, `clientcert=verify-ca/verify-full` in pg_hba.conf).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::{Error, ErrorKind};
use crate::net::ChainOnly;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt, trust any certificate (libpq's `prefer` and `require`).
    Nothing,
    /// The chain, not the host name.
    Chain,
    /// The chain and the host name.
    Full,
}

/// A connection string split into what tokio-postgres reads and the TLS it needs.
pub(super) struct Connection {
    /// The connection string without the parameters tokio-postgres does not know.
    pub(super) address: String,
    pub(super) tls: MakeRustlsConnect,
}

/// Reads `sslmode`, `sslrootcert`, `sslcert` and `sslkey` out of `address` (a URL or
/// `key=value` pairs).
pub(super) fn connection(address: &str) -> Result<Connection, Error> {
    let mut mode = None;
    let mut root_cert = None;
    let (mut cert, mut client_key) = (None, None);
    let address = rewrite_parameters(address, |key, value| match key {
        "sslrootcert" => {
            root_cert = Some(value.to_owned());
            None
        }
        "sslcert" => {
            cert = Some(value.to_owned());
            None
        }
        "sslkey" => {
            client_key = Some(value.to_owned());
            None
        }
        "sslmode" => {
            mode = Some(value.to_owned());
            // tokio-postgres knows only disable, prefer and require.
            Some(match value {
                "verify-ca" | "verify-full" => "require".to_owned(),
                other => other.to_owned(),
            })
        }
        _ => Some(value.to_owned()),
    });
    let check = match (mode.as_deref(), &root_cert) {
        (Some("verify-full"), _) => Check::Full,
        (Some("verify-ca"), _) | (Some("require"), Some(_)) => Check::Chain,
        _ => Check::Nothing,
    };
    let identity = identity(cert.as_deref(), client_key.as_deref())?;
    let tls = MakeRustlsConnect::new(client_config(check, root_cert.as_deref(), identity)?);
    Ok(Connection { address, tls })
}

/// `address` with each parameter's value replaced by `rewrite(key, value)` (`None` drops it).
fn rewrite_parameters(
    address: &str,
    mut rewrite: impl FnMut(&str, &str) -> Option<String>,
) -> String {
    if let Some((base, query)) = address.split_once('?') {
        let kept: Vec<String> = query
            .split('&')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                let rewritten = rewrite(key, &decoded)?;
                Some(if rewritten == decoded {
                    pair.to_owned()
                } else {
                    format!("{key}={rewritten}")
                })
            })
            .collect();
        return if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
    }
    if address.contains("://") {
        return address.to_owned();
    }
    address
        .split_whitespace()
        .filter_map(|pair| match pair.split_once('=') {
            Some((key, value)) => rewrite(key, value).map(|value| format!("{key}={value}")),
            None => Some(pair.to_owned()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn client_config(
    check: Check,
    root_cert: Option<&str>,
    identity: Option<Identity>,
) -> Result<ClientConfig, Error> {
    let provider = crate::net::tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(format!("TLS setup failed: {err}")))?;
    let with_identity = |builder: rustls::ConfigBuilder<ClientConfig, _>| match identity {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|err| invalid(format!("sslcert and sslkey do not go together: {err}"))),
        None => Ok(builder.with_no_client_auth()),
    };
    let config = if check == Check::Nothing {
        let verifier = AnyCertificate(provider.signature_verification_algorithms);
        with_identity(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier)),
        )?
    } else {
        let roots = Arc::new(roots(root_cert)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|err| invalid(format!("TLS setup failed: {err}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = if check == Check::Chain {
            // libpq's `verify-ca`: the chain is checked, the host name is not.
            Arc::new(ChainOnly::new(webpki))
        } else {
            webpki
        };
        with_identity(
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier),
        )?
    };
    Ok(config)
}

/// A client certificate chain and its key.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate of `sslcert` with the key of `sslkey`, when given (both or neither).
fn identity(cert: Option<&str>, key: Option<&str>) -> Result<Option<Identity>, Error> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (Path::new(cert), Path::new(key)),
        _ => {
            return Err(invalid(
                "sslcert and sslkey go together: give both or neither".to_owned(),
            ));
        }
    };
    let certs =
        crate::net::tls::certificates(cert).map_err(|e| invalid(format!("sslcert: {e}")))?;
    let key = crate::net::tls::private_key(key).map_err(|e| invalid(format!("sslkey: {e}")))?;
    Ok(Some((certs, key)))
}

/// The certificates of the PEM file `path`, else the system's roots.
fn roots(path: Option<&str>) -> Result<RootCertStore, Error> {
    crate::net::tls::roots(path.map(Path::new)).map_err(|err| match path {
        Some(_) => invalid(format!("sslrootcert: {err}")),
        None => invalid(format!(
            "sslmode verify-ca/verify-full: {err}; pass sslrootcert=<path to the server's CA, PEM>"
        )),
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Config, format!("postgres store: {message}"))
}

/// libpq's `prefer`/`require`: the connection is encrypted, the certificate not checked (the
/// handshake's signatures still are).
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(address: &str) -> (String, Option<String>, Option<String>) {
        let (mut mode, mut root) = (None, None);
        let address = rewrite_parameters(address, |key, value| match key {
            "sslrootcert" => {
                root = Some(value.to_owned());
                None
            }
            "sslmode" => {
                mode = Some(value.to_owned());
                Some("require".to_owned())
            }
            _ => Some(value.to_owned()),
        });
        (address, mode, root)
    }

    #[test]
    fn tls_parameters_are_taken_out_of_urls_and_pairs() {
        assert_eq!(
            rewritten("postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem&x=1"),
            (
                "postgresql://u@h/db?sslmode=require&x=1".to_owned(),
                Some("verify-full".to_owned()),
                Some("/ca.pem".to_owned())
            )
        );
        assert_eq!(
            rewritten("host=h sslrootcert=/ca.pem sslmode=verify-ca user=u"),
            (
                "host=h sslmode=require user=u".to_owned(),
                Some("verify-ca".to_owned()),
                Some("/ca.pem".to_owned())
            )
        );
        assert_eq!(rewritten("postgresql://u@h/db").0, "postgresql://u@h/db");
    }

    #[test]
    fn a_missing_root_certificate_file_is_a_config_error() {
        let err = connection("postgresql://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent")
            .err()
            .expect("no such file");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("/nonexistent"), "{err}");
    }
}
