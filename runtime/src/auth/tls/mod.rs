//! TLS for a service and its clients, with certificates from one of two places:
//!
//! - **PEM files** from an existing PKI ([`ServiceTls::from_files`], `--tls-cert-file`,
//!   `--tls-key-file`, `--tls-ca-file`): the service holds only its own certificate and key,
//!   re-read when the files change (a rotated Kubernetes secret, cert-manager, certbot), and
//!   the CA bundle it checks peers with. A server is accepted if its certificate is valid for
//!   the address dialled or names the service called (DNS name or `micro://` identity).
//! - **A built-in [`CertificateAuthority`]** ([`ServiceTls::new`], `--tls-ca-dir`): a
//!   development convenience that issues every service a `micro://<namespace>/<service>`
//!   certificate and renews it before it expires; every service then holds the CA's key.
//!
//! The service serves its port (gRPC and HTTP/1 alike) with its certificate and, when it has a
//! CA to check them with, asks callers for theirs; its clients present theirs.

mod connect;
mod files;
mod issued;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::net::tls::provider;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};

use super::{CertificateAuthority, Error, Identity};
pub(crate) use connect::{ClientTls, ServerTls};

/// How long service certificates live unless configured: a day, renewed after two thirds.
pub const DEFAULT_CERTIFICATE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How often certificate files are checked for a change.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Whether a server asks callers for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Callers without a certificate from the CA are refused at the handshake (mTLS).
    Required,
    /// Callers may present one (their identity then reaches handlers) or not.
    Optional,
    /// Callers are not asked for one.
    Off,
}

/// TLS for a service and its clients: [`Service::tls`](crate::Service::tls).
#[derive(Debug, Clone)]
pub struct ServiceTls {
    source: Source,
    client_auth: Option<ClientAuth>,
    lifetime: Duration,
    hosts: Vec<String>,
    reload_interval: Duration,
}

/// Where certificates come from.
#[derive(Debug, Clone)]
enum Source {
    Authority(Arc<CertificateAuthority>),
    Files {
        cert: PathBuf,
        key: PathBuf,
        /// The CA bundle peers' certificates must chain to; the system's roots if none.
        ca: Option<PathBuf>,
    },
}

impl ServiceTls {
    /// Certificates from `ca`; client certificates required; a day's lifetime; valid for
    /// `localhost` and `127.0.0.1`.
    pub fn new(ca: Arc<CertificateAuthority>) -> ServiceTls {
        ServiceTls::with_source(Source::Authority(ca))
    }

    /// The certificate chain (leaf first) and private key in these PEM files, issued by any
    /// PKI; re-read when they change. Servers called are checked against the system's roots
    /// and callers are not asked for certificates, unless [`trust`](Self::trust) gives a CA.
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> ServiceTls {
        ServiceTls::with_source(Source::Files {
            cert: cert.into(),
            key: key.into(),
            ca: None,
        })
    }

    fn with_source(source: Source) -> ServiceTls {
        ServiceTls {
            source,
            client_auth: None,
            lifetime: DEFAULT_CERTIFICATE_LIFETIME,
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }

    /// With [`from_files`](Self::from_files): the CA bundle (PEM) that callers' and called
    /// servers' certificates must chain to. Callers must then present one (mTLS) unless
    /// [`client_auth`](Self::client_auth) says otherwise. No effect with a built-in CA.
    pub fn trust(mut self, ca_bundle: impl Into<PathBuf>) -> ServiceTls {
        if let Source::Files { ca, .. } = &mut self.source {
            *ca = Some(ca_bundle.into());
        }
        self
    }

    /// Whether callers must present a certificate. The default is [`ClientAuth::Required`]
    /// when there is a CA to check them with, [`ClientAuth::Off`] otherwise.
    pub fn client_auth(mut self, client_auth: ClientAuth) -> ServiceTls {
        self.client_auth = Some(client_auth);
        self
    }

    /// With a built-in CA: how long each issued certificate lives; it is replaced after two
    /// thirds of that.
    pub fn lifetime(mut self, lifetime: Duration) -> ServiceTls {
        self.lifetime = lifetime;
        self
    }

    /// With [`from_files`](Self::from_files): how often the files are checked for a change
    /// (default [`DEFAULT_RELOAD_INTERVAL`]).
    pub fn reload_interval(mut self, interval: Duration) -> ServiceTls {
        self.reload_interval = interval;
        self
    }

    /// With a built-in CA: host names and addresses (besides the identity) the certificate is
    /// valid for, for clients such as curl that check names.
    pub fn hosts<I, S>(mut self, hosts: I) -> ServiceTls
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The server side for `service`: its certificate, kept current in the background.
    pub(crate) fn server(&self, service: &str) -> Result<ServerTls, Error> {
        let own = self.own_certificate(service)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::config(format!("cannot configure TLS: {err}")))?;
        let builder = match (self.effective_client_auth(), self.client_roots()?) {
            (ClientAuth::Off, _) => builder.with_no_client_auth(),
            (_, None) => {
                return Err(Error::config(
                    "client certificates are asked for, but there is no CA to check them with: \
                     give a CA bundle (--tls-ca-file) or --tls-client-auth off",
                ));
            }
            (client_auth, Some(roots)) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
                let verifier = match client_auth {
                    ClientAuth::Optional => verifier.allow_unauthenticated().build(),
                    _ => verifier.build(),
                }
                .map_err(|err| Error::config(format!("cannot check client certificates: {err}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(own));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls::new(config))
    }

    /// The client side for calls made by `service`: its certificate (kept current in the
    /// background) and the roots to check servers with.
    pub(crate) fn client(&self, service: &str) -> Result<ClientTls, Error> {
        let own = self.own_certificate(service)?;
        let roots = match &self.source {
            Source::Authority(ca) => authority_roots(ca)?,
            Source::Files { ca, .. } => crate::net::tls::roots(ca.as_deref())
                .map_err(|err| Error::config(format!("--tls-ca-file: {err}")))?,
        };
        let webpki = connect::webpki(roots).map_err(Error::config)?;
        Ok(match &self.source {
            Source::Authority(ca) => ClientTls::identities(webpki, own, ca.namespace()),
            Source::Files { .. } => ClientTls::names(webpki, Some(own)),
        })
    }

    fn own_certificate(&self, service: &str) -> Result<Resolver, Error> {
        Ok(Resolver(match &self.source {
            Source::Authority(_) => issued::RenewedCertificate::start(self, service)?,
            Source::Files { cert, key, .. } => {
                files::ReloadedFiles::start(cert, key, self.reload_interval)?
            }
        }))
    }

    fn effective_client_auth(&self) -> ClientAuth {
        let has_ca = match &self.source {
            Source::Authority(_) => true,
            Source::Files { ca, .. } => ca.is_some(),
        };
        match (self.client_auth, has_ca) {
            (Some(explicit), _) => explicit,
            (None, true) => ClientAuth::Required,
            (None, false) => ClientAuth::Off,
        }
    }

    /// The roots callers' certificates must chain to, if there is a CA to check them with.
    fn client_roots(&self) -> Result<Option<Arc<RootCertStore>>, Error> {
        match &self.source {
            Source::Authority(ca) => authority_roots(ca).map(|roots| Some(Arc::new(roots))),
            Source::Files { ca: None, .. } => Ok(None),
            Source::Files { ca: Some(ca), .. } => crate::net::tls::roots(Some(ca))
                .map(|roots| Some(Arc::new(roots)))
                .map_err(|err| Error::config(format!("--tls-ca-file: {err}"))),
        }
    }
}

fn authority_roots(ca: &CertificateAuthority) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(ca.certificate_pem().as_bytes())
        .map_err(|err| Error::config(format!("cannot read the CA certificate: {err}")))?;
    roots
        .add(ca)
        .map_err(|err| Error::config(format!("cannot trust the CA certificate: {err}")))?;
    Ok(roots)
}

/// A certificate that may be replaced while it is used.
trait CurrentCertificate: Send + Sync + std::fmt::Debug {
    fn current(&self) -> Arc<CertifiedKey>;
}

/// Hands rustls the current certificate, on the server and the client side.
#[derive(Debug, Clone)]
struct Resolver(Arc<dyn CurrentCertificate>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

impl ResolvesClientCert for Resolver {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
