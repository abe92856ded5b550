//! TLS with service identities: a service serves its port (gRPC and HTTP/1 JSON alike) with a
//! certificate the [`CertificateAuthority`] issued it, asks callers for theirs, and renews its
//! own before it expires; its clients present theirs and accept a server only if its
//! certificate names the service they meant to call.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use super::{CertificateAuthority, Error, Identity};
use crate::net::ChainOnly;

/// How long service certificates live unless configured: a day, renewed after two thirds.
pub const DEFAULT_CERTIFICATE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a server asks callers for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Callers without a certificate from the CA are refused at the handshake (mTLS).
    Required,
    /// Callers may present one (their identity then reaches handlers) or not.
    Optional,
}

/// TLS for a service and its clients, from a [`CertificateAuthority`]:
/// [`Service::tls`](crate::Service::tls).
#[derive(Debug, Clone)]
pub struct ServiceTls {
    ca: Arc<CertificateAuthority>,
    client_auth: ClientAuth,
    lifetime: Duration,
    hosts: Vec<String>,
}

impl ServiceTls {
    /// Certificates from `ca`; client certificates required; a day's lifetime; valid for
    /// `localhost` and `127.0.0.1`.
    pub fn new(ca: Arc<CertificateAuthority>) -> ServiceTls {
        ServiceTls {
            ca,
            client_auth: ClientAuth::Required,
            lifetime: DEFAULT_CERTIFICATE_LIFETIME,
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
        }
    }

    /// Whether callers must present a certificate.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> ServiceTls {
        self.client_auth = client_auth;
        self
    }

    /// How long each issued certificate lives; it is replaced after two thirds of that.
    pub fn lifetime(mut self, lifetime: Duration) -> ServiceTls {
        self.lifetime = lifetime;
        self
    }

    /// Host names and addresses (besides the identity) the certificate is valid for, for
    /// clients such as curl that check names.
    pub fn hosts<I, S>(mut self, hosts: I) -> ServiceTls
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The server side for `service`: its certificate, renewed in the background.
    pub(crate) fn server(&self, service: &str) -> Result<ServerTls, Error> {
        let own = RenewedCertificate::start(self, service)?;
        let roots = self.roots()?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
        let verifier = match self.client_auth {
            ClientAuth::Required => verifier.build(),
            ClientAuth::Optional => verifier.allow_unauthenticated().build(),
        }
        .map_err(|err| Error::config(format!("cannot check client certificates: {err}")))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::config(format!("cannot configure TLS: {err}")))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(own);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The client side for calls made by `service`: its certificate (renewed in the
    /// background) and the CA to check servers with.
    pub(crate) fn client(&self, service: &str) -> Result<ClientTls, Error> {
        let own = RenewedCertificate::start(self, service)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(self.roots()?, provider())
            .build()
            .map_err(|err| Error::config(format!("cannot check server certificates: {err}")))?;
        Ok(ClientTls {
            own,
            webpki,
            namespace: self.ca.namespace().into(),
        })
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, Error> {
        let mut roots = RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(self.ca.certificate_pem().as_bytes())
            .map_err(|err| Error::config(format!("cannot read the CA certificate: {err}")))?;
        roots
            .add(ca)
            .map_err(|err| Error::config(format!("cannot trust the CA certificate: {err}")))?;
        Ok(Arc::new(roots))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A service's certificate, replaced by a newly issued one after two thirds of its life.
#[derive(Debug)]
struct RenewedCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl RenewedCertificate {
    fn start(tls: &ServiceTls, service: &str) -> Result<Arc<RenewedCertificate>, Error> {
        let (key, renew_at) = issue(tls, service)?;
        let renewed = Arc::new(RenewedCertificate {
            current: RwLock::new(key),
        });
        tokio::spawn(renew(
            Arc::downgrade(&renewed),
            tls.clone(),
            service.to_owned(),
            renew_at,
        ));
        Ok(renewed)
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A certificate for `service`, and when to renew it.
fn issue(tls: &ServiceTls, service: &str) -> Result<(Arc<CertifiedKey>, SystemTime), Error> {
    let hosts: Vec<&str> = tls.hosts.iter().map(String::as_str).collect();
    let issued = tls.ca.issue(service, &hosts, tls.lifetime)?;
    let certificate = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())
        .map_err(|err| Error::config(format!("cannot read an issued certificate: {err}")))?;
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())
        .map_err(|err| Error::config(format!("cannot read an issued key: {err}")))?;
    let key = CertifiedKey::from_der(vec![certificate], key, &provider())
        .map_err(|err| Error::config(format!("cannot use an issued certificate: {err}")))?;
    let renew_at = SystemTime::now() + tls.lifetime * 2 / 3;
    Ok((Arc::new(key), renew_at))
}

/// Renews the certificate until its holder is dropped; retries every few seconds on failure.
async fn renew(holder: Weak<RenewedCertificate>, tls: ServiceTls, service: String, at: SystemTime) {
    let mut at = at;
    loop {
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        tokio::time::sleep(wait).await;
        let Some(holder) = holder.upgrade() else {
            return;
        };
        match issue(&tls, &service) {
            Ok((key, next)) => {
                *holder
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = key;
                tracing::debug!(%service, "renewed the service certificate");
                at = next;
            }
            Err(err) => {
                tracing::warn!(%service, error = %err, "cannot renew the service certificate");
                at = SystemTime::now() + Duration::from_secs(5);
            }
        }
    }
}

impl ResolvesServerCert for RenewedCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for RenewedCertificate {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A server's TLS: accepts connections, reading the caller's identity from its certificate.
#[derive(Clone)]
pub(crate) struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl ServerTls {
    /// Completes the handshake on `stream`: the TLS stream and the caller's identity, if it
    /// presented a certificate.
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

/// A client's TLS: its own certificate, and the CA servers' certificates must chain to.
#[derive(Debug, Clone)]
pub(crate) struct ClientTls {
    own: Arc<RenewedCertificate>,
    webpki: Arc<WebPkiServerVerifier>,
    namespace: String,
}

impl ClientTls {
    /// A connector that accepts only a server whose certificate names `service`.
    pub(crate) fn connector(&self, service: &str) -> tokio_rustls::TlsConnector {
        let expected = Identity::new(&self.namespace, service);
        let verifier = ChainOnly::new(self.webpki.clone()).and(names(expected));
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(self.own.clone());
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
