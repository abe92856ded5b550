//! A built-in certificate authority giving each service an identity: a certificate naming
//! `micro://<namespace>/<service>` in a URI subject alternative name, good for both ends of a
//! TLS connection (server and client auth). [`ServiceTls`](super::ServiceTls) serves and calls
//! with them.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Error, Identity};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// How long a generated CA is valid.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A service's certificate and key, PEM encoded, with its expiry.
#[derive(Clone)]
pub struct ServiceCertificate {
    /// The certificate, signed by the CA.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// When it stops being valid: re-issue before.
    pub not_after: SystemTime,
}

impl fmt::Debug for ServiceCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCertificate")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Issues service certificates. Created on first use or loaded from PEM files.
pub struct CertificateAuthority {
    namespace: String,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl CertificateAuthority {
    /// A new CA (ECDSA P-256, valid ten years) for `namespace`.
    pub fn generate(namespace: &str) -> Result<CertificateAuthority, Error> {
        let key = KeyPair::generate().map_err(|err| tls_error("generate the CA key", &err))?;
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("micro CA ({namespace})"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = offset(SystemTime::now() - Duration::from_secs(60));
        params.not_after = offset(SystemTime::now() + CA_LIFETIME);
        let certificate = params
            .self_signed(&key)
            .map_err(|err| tls_error("sign the CA certificate", &err))?;
        Ok(CertificateAuthority {
            namespace: namespace.into(),
            cert_pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA in these PEMs (certificate, PKCS#8 private key).
    pub fn from_pem(
        namespace: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<CertificateAuthority, Error> {
        let key = KeyPair::from_pem(key_pem).map_err(|err| tls_error("read the CA key", &err))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|err| tls_error("read the CA certificate", &err))?;
        Ok(CertificateAuthority {
            namespace: namespace.into(),
            cert_pem: cert_pem.into(),
            issuer,
        })
    }

    /// The CA in `dir` (`ca.pem`, `ca.key`), created there (key readable by the owner only)
    /// if the directory has none.
    pub fn load_or_create(namespace: &str, dir: &Path) -> Result<CertificateAuthority, Error> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert_path.exists() {
            let read = |path: &Path| {
                std::fs::read_to_string(path)
                    .map_err(|err| Error::config(format!("cannot read {}: {err}", path.display())))
            };
            return CertificateAuthority::from_pem(
                namespace,
                &read(&cert_path)?,
                &read(&key_path)?,
            );
        }
        let ca = CertificateAuthority::generate(namespace)?;
        let write = |path: &Path, text: &str, private: bool| {
            write_file(path, text, private)
                .map_err(|err| Error::config(format!("cannot write {}: {err}", path.display())))
        };
        std::fs::create_dir_all(dir)
            .map_err(|err| Error::config(format!("cannot create {}: {err}", dir.display())))?;
        write(&key_path, &ca.issuer.key().serialize_pem(), true)?;
        write(&cert_path, &ca.cert_pem, false)?;
        Ok(ca)
    }

    /// The namespace identities are issued in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The CA certificate, PEM encoded: what peers trust.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate for `service`, naming `micro://<namespace>/<service>` and the `hosts`
    /// (DNS names or IP addresses) it is reached at, valid for `lifetime`.
    pub fn issue(
        &self,
        service: &str,
        hosts: &[&str],
        lifetime: Duration,
    ) -> Result<ServiceCertificate, Error> {
        let identity = Identity::new(&self.namespace, service);
        let mut names = vec![SanType::URI(
            identity
                .uri()
                .try_into()
                .map_err(|err| tls_error("name the service", &err))?,
        )];
        for host in hosts {
            names.push(match host.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    (*host)
                        .try_into()
                        .map_err(|err| tls_error(&format!("use host `{host}`"), &err))?,
                ),
            });
        }
        let mut params = CertificateParams::default();
        params.subject_alt_names = names;
        params.distinguished_name.push(DnType::CommonName, service);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = SystemTime::now();
        let not_after = now + lifetime;
        params.not_before = offset(now - Duration::from_secs(60));
        params.not_after = offset(not_after);
        let key = KeyPair::generate().map_err(|err| tls_error("generate a key", &err))?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|err| tls_error("sign the certificate", &err))?;
        Ok(ServiceCertificate {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            not_after,
        })
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn offset(time: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(time)
}

fn tls_error(what: &str, err: &dyn fmt::Display) -> Error {
    Error::config(format!("cannot {what}: {err}"))
}

/// Writes `text` to `path`; a private file is readable by its owner only.
fn write_file(path: &Path, text: &str, private: bool) -> std::io::Result<()> {
    use std::io::Write;

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::GeneralName;

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .expect("a PEM certificate")
            .1
            .contents
    }

    #[test]
    fn service_certificates_name_the_service_and_its_hosts() {
        let ca = CertificateAuthority::generate("micro").unwrap();
        let issued = ca
            .issue(
                "billing",
                &["localhost", "127.0.0.1"],
                Duration::from_secs(3600),
            )
            .unwrap();
        let der = der(&issued.cert_pem);
        assert_eq!(
            Identity::from_certificate_der(&der),
            Some(Identity::new("micro", "billing"))
        );
        let (_, certificate) = x509_parser::parse_x509_certificate(&der).unwrap();
        let names = certificate.subject_alternative_name().unwrap().unwrap();
        let names = &names.value.general_names;
        assert!(
            names.contains(&GeneralName::DNSName("localhost")),
            "{names:?}"
        );
        assert!(
            names.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])),
            "{names:?}"
        );
        let left = certificate.validity().time_to_expiration().unwrap();
        assert!(left.whole_seconds() > 3500 && left.whole_seconds() <= 3600);
        // Signed by the CA: the issuer is the CA's subject, and the signature verifies.
        let ca_der = der_of(&ca);
        let (_, ca_certificate) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert_eq!(certificate.issuer(), ca_certificate.subject());
        certificate
            .verify_signature(Some(ca_certificate.public_key()))
            .expect("the CA signed it");
    }

    fn der_of(ca: &CertificateAuthority) -> Vec<u8> {
        der(ca.certificate_pem())
    }

    #[test]
    fn a_ca_is_created_once_and_loaded_after() {
        let dir = tempfile::tempdir().unwrap();
        let created = CertificateAuthority::load_or_create("micro", dir.path()).unwrap();
        let loaded = CertificateAuthority::load_or_create("micro", dir.path()).unwrap();
        assert_eq!(created.certificate_pem(), loaded.certificate_pem());
        let issued = loaded
            .issue("billing", &[], Duration::from_secs(60))
            .unwrap();
        let (issued_der, ca_der) = (der(&issued.cert_pem), der_of(&created));
        let (_, certificate) = x509_parser::parse_x509_certificate(&issued_der).unwrap();
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        certificate
            .verify_signature(Some(ca.public_key()))
            .expect("a loaded CA signs as the created one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("ca.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
        std::fs::write(dir.path().join("ca.key"), "not a key").unwrap();
        let err = CertificateAuthority::load_or_create("micro", dir.path()).unwrap_err();
        assert!(err.to_string().contains("CA key"), "{err}");
    }
}
