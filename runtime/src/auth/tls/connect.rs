//! TLS on connections: the server's acceptor, and the client's connector with the check a
//! server's certificate must pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig};
use tokio::net::TcpStream;

use super::{Identity, Resolver, provider};
use crate::net::ChainOnly;

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's TLS: accepts connections, reading the caller's identity from its certificate.
#[derive(Clone)]
pub(crate) struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl ServerTls {
    pub(super) fn new(config: rustls::ServerConfig) -> ServerTls {
        ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }

    /// Completes the handshake on `stream`: the TLS stream and the caller's identity, if it
    /// presented a certificate that carries one.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<(tokio_rustls::server::TlsStream<TcpStream>, Option<Identity>)> {
        let handshake = self.acceptor.accept(stream);
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        let identity = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| Identity::from_certificate_der(leaf));
        Ok((stream, identity))
    }
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

/// A client's TLS: its own certificate, if it has one, and how servers are checked.
#[derive(Debug, Clone)]
pub(crate) struct ClientTls {
    own: Option<Resolver>,
    webpki: Arc<WebPkiServerVerifier>,
    check: Check,
}

/// What a server's certificate, chained to the roots, must also say.
#[derive(Debug, Clone)]
enum Check {
    /// The `micro://<namespace>/<service>` identity of the service called (built-in CA).
    Identity { namespace: String },
    /// Valid for the host dialled or, as nodes are dialled by registry address, for the
    /// service called as a DNS name, or its `micro://` identity in any namespace.
    HostOrService,
    /// Valid for the host dialled, as browsers and curl check (`https://` addresses).
    Host,
}

impl ClientTls {
    /// Accepts servers whose certificate, from the built-in CA, names the service called.
    pub(super) fn identities(
        webpki: Arc<WebPkiServerVerifier>,
        own: Resolver,
        namespace: &str,
    ) -> ClientTls {
        let check = Check::Identity {
            namespace: namespace.into(),
        };
        ClientTls {
            own: Some(own),
            webpki,
            check,
        }
    }

    /// Accepts servers whose certificate is valid for the host dialled or the service called.
    pub(super) fn names(webpki: Arc<WebPkiServerVerifier>, own: Option<Resolver>) -> ClientTls {
        ClientTls {
            own,
            webpki,
            check: Check::HostOrService,
        }
    }

    /// Without a certificate of its own: servers must chain to the CA bundle at `ca` and be
    /// valid for the host dialled or the service called.
    pub(crate) fn trusting(ca: &std::path::Path) -> Result<ClientTls, String> {
        let roots = crate::net::tls::roots(Some(ca))?;
        Ok(ClientTls::names(webpki(roots)?, None))
    }

    /// For `https://` addresses: no certificate of its own; servers must be valid for the
    /// host dialled and chain to the CA bundle at `ca` (the system's roots if none).
    pub(crate) fn web(ca: Option<&std::path::Path>) -> Result<ClientTls, String> {
        let roots = crate::net::tls::roots(ca)?;
        Ok(ClientTls {
            own: None,
            webpki: webpki(roots)?,
            check: Check::Host,
        })
    }

    /// A connector for calls to `service`; without a certificate of its own, it sets `asked`
    /// if the server asks for one.
    pub(crate) fn connector(
        &self,
        service: &str,
        asked: Arc<AtomicBool>,
    ) -> tokio_rustls::TlsConnector {
        let verifier: Arc<dyn ServerCertVerifier> = match &self.check {
            Check::Identity { namespace } => {
                let expected = Identity::new(namespace, service);
                Arc::new(ChainOnly::new(self.webpki.clone()).and(names(expected)))
            }
            Check::HostOrService => Arc::new(HostOrService {
                webpki: self.webpki.clone(),
                service: service.to_owned(),
            }),
            Check::Host => self.webpki.clone(),
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.own {
            Some(own) => builder.with_client_cert_resolver(Arc::new(own.clone())),
            None => builder.with_client_cert_resolver(Arc::new(NoCertificate(asked))),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// The name to send in the handshake for `host`.
    pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
        ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
        )
        .map_err(|err| format!("`{host}` is not a valid TLS server name: {err}"))
    }
}

/// A client without a certificate, noting whether a server asked for one.
#[derive(Debug)]
struct NoCertificate(Arc<AtomicBool>);

impl rustls::client::ResolvesClientCert for NoCertificate {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// The chain check against `roots`.
pub(super) fn webpki(roots: rustls::RootCertStore) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|err| format!("cannot check server certificates: {err}"))
}

/// Whether the server's certificate names `expected`: services are reached at registry
/// addresses, so what must match is the identity, not the host name.
fn names(expected: Identity) -> impl Fn(&CertificateDer<'_>) -> Result<(), rustls::Error> {
    move |certificate| match Identity::from_certificate_der(certificate) {
        Some(identity) if identity == expected => Ok(()),
        found => Err(rustls::Error::General(format!(
            "the server's certificate names {}, not {}",
            found.map_or_else(|| "no micro identity".to_owned(), |id| id.uri()),
            expected
        ))),
    }
}

/// Checks the chain as webpki does, then accepts a certificate valid for the host dialled,
/// for the service's name, or carrying the service's `micro://` identity.
#[derive(Debug)]
struct HostOrService {
    webpki: Arc<WebPkiServerVerifier>,
    service: String,
}

impl ServerCertVerifier for HostOrService {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verify = |name: &ServerName<'_>| {
            self.webpki
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        };
        let wrong_name = |err: &rustls::Error| {
            matches!(
                err,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            )
        };
        match verify(server_name) {
            Err(err) if wrong_name(&err) => {}
            verified => return verified,
        }
        if let Ok(service) = ServerName::try_from(self.service.as_str())
            && let Ok(verified) = verify(&service)
        {
            return Ok(verified);
        }
        // The chain is good (webpki checks it before the name); a micro identity may name it.
        match Identity::from_certificate_der(end_entity) {
            Some(identity) if identity.service == self.service => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            _ => Err(rustls::Error::General(format!(
                "the server's certificate is valid neither for {server_name:?} nor for the \
                 service `{}` (a DNS name or micro:// identity): issue it with one of them",
                self.service
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
