//! A certificate and key from PEM files, re-read when either file changes: rotation without
//! a restart. A change that cannot be used yet (a key that does not match the certificate
//! while the second file is being written) keeps the current pair until the next check.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::sign::CertifiedKey;

use super::{CurrentCertificate, Error, provider};
use crate::net::tls::{certificates, private_key};

/// The pair in use, and what the files looked like when it was read.
#[derive(Debug)]
pub(super) struct ReloadedFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

/// When the files were last changed and how long they were: a rewrite or a symlink swap
/// (as Kubernetes updates secrets) changes it.
type Stamp = [Option<(SystemTime, u64)>; 2];

impl ReloadedFiles {
    /// Reads the pair (failing with the file's name if it cannot be used), then re-reads it
    /// every `interval` if the files changed, until the certificate is dropped.
    pub(super) fn start(
        cert: &Path,
        key: &Path,
        interval: Duration,
    ) -> Result<Arc<dyn CurrentCertificate>, Error> {
        let stamp = stamp(cert, key);
        let pair = load(cert, key).map_err(Error::config)?;
        let files = Arc::new(ReloadedFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new((pair, stamp)),
        });
        tokio::spawn(watch(Arc::downgrade(&files), interval));
        Ok(files)
    }

    /// Replaces the pair if the files changed and the new pair is usable.
    fn reload_if_changed(&self) {
        let stamp = stamp(&self.cert, &self.key);
        if stamp == self.read().1 {
            return;
        }
        match load(&self.cert, &self.key) {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = (pair, stamp);
                tracing::info!(cert = %self.cert.display(), "reloaded the TLS certificate");
            }
            Err(err) => tracing::warn!(
                error = %err,
                "the TLS certificate files changed but cannot be used yet; keeping the current \
                 certificate"
            ),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Arc<CertifiedKey>, Stamp)> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl CurrentCertificate for ReloadedFiles {
    fn current(&self) -> Arc<CertifiedKey> {
        self.read().0.clone()
    }
}

async fn watch(files: Weak<ReloadedFiles>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(files) = files.upgrade() else {
            return;
        };
        files.reload_if_changed();
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let of = |path: &Path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    [of(cert), of(key)]
}

/// The chain in `cert` with the key in `key`, checked to belong together.
fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain = certificates(cert).map_err(|err| format!("--tls-cert-file: {err}"))?;
    let private = private_key(key).map_err(|err| format!("--tls-key-file: {err}"))?;
    let pair = CertifiedKey::from_der(chain, private, &provider()).map_err(|err| {
        format!(
            "--tls-key-file: {} is not the key of the certificate in {}: {err}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(Arc::new(pair))
}
