//! Certificates issued by the built-in CA, renewed after two thirds of their life.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::{CurrentCertificate, Error, ServiceTls, Source, provider};

/// A service's certificate, replaced by a newly issued one after two thirds of its life.
#[derive(Debug)]
pub(super) struct RenewedCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl RenewedCertificate {
    pub(super) fn start(
        tls: &ServiceTls,
        service: &str,
    ) -> Result<Arc<dyn CurrentCertificate>, Error> {
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
}

impl CurrentCertificate for RenewedCertificate {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A certificate for `service`, and when to renew it.
fn issue(tls: &ServiceTls, service: &str) -> Result<(Arc<CertifiedKey>, SystemTime), Error> {
    let Source::Authority(ca) = &tls.source else {
        return Err(Error::config("only a built-in CA issues certificates"));
    };
    let hosts: Vec<&str> = tls.hosts.iter().map(String::as_str).collect();
    let issued = ca.issue(service, &hosts, tls.lifetime)?;
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
