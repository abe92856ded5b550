//! A service's or client's auth, built from code ([`Service::auth`](crate::Service::auth),
//! [`Service::tls`](crate::Service::tls)) and flags (`--auth`, keys, rules file, the service's
//! own account, `--tls-ca-dir`).

use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "auth-tls")]
use super::ServiceTls;
use super::{Auth, Error, MemoryRules, Rules, ServerAuth, TokenSource};
use crate::flags::Flags;

/// The namespace accounts are issued in unless `--auth-namespace` says otherwise.
pub(crate) const DEFAULT_NAMESPACE: &str = "micro";

/// How a service's auth is configured; [`build`](Options::build) makes it.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Set in code; flags then only add the account.
    server: Option<ServerAuth>,
    backend: Option<String>,
    namespace: String,
    public_key: Option<String>,
    private_key: Option<String>,
    rules_file: Option<PathBuf>,
    account: Option<(String, String)>,
    /// Set in code; `--tls-ca-dir` beats it.
    #[cfg(feature = "auth-tls")]
    tls: Option<ServiceTls>,
    tls_ca_dir: Option<PathBuf>,
    /// `--tls-cert-file`, `--tls-key-file`.
    tls_files: Option<(PathBuf, PathBuf)>,
    tls_ca_file: Option<PathBuf>,
    tls_client_auth: Option<String>,
}

/// What the running service and its clients use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// Checks served calls; `None` with the noop backend.
    pub(crate) server: Option<ServerAuth>,
    /// Tokens for the service's outgoing calls.
    pub(crate) account: Option<Arc<TokenSource>>,
    /// Certificates for serving and calling, if TLS is on.
    #[cfg(feature = "auth-tls")]
    pub(crate) tls: Option<ServiceTls>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server: None,
            backend: None,
            namespace: DEFAULT_NAMESPACE.into(),
            public_key: None,
            private_key: None,
            rules_file: None,
            account: None,
            #[cfg(feature = "auth-tls")]
            tls: None,
            tls_ca_dir: None,
            tls_files: None,
            tls_ca_file: None,
            tls_client_auth: None,
        }
    }
}

impl Options {
    /// What the flags alone configure.
    pub(crate) fn from_flags(flags: &Flags) -> Options {
        let mut options = Options::default();
        options.apply(flags);
        options
    }

    pub(crate) fn set_server(&mut self, server: ServerAuth) {
        self.server = Some(server);
    }

    pub(crate) fn set_account(&mut self, id: &str, secret: &str) {
        self.account = Some((id.into(), secret.into()));
    }

    #[cfg(feature = "auth-tls")]
    pub(crate) fn set_tls(&mut self, tls: ServiceTls) {
        self.tls = Some(tls);
    }

    pub(crate) fn apply(&mut self, flags: &Flags) {
        let or = |flag: &Option<String>, current: &mut Option<String>| {
            if flag.is_some() {
                *current = flag.clone();
            }
        };
        or(&flags.auth, &mut self.backend);
        or(&flags.auth_public_key, &mut self.public_key);
        or(&flags.auth_private_key, &mut self.private_key);
        if let Some(namespace) = &flags.auth_namespace {
            self.namespace = namespace.clone();
        }
        if let Some(rules) = &flags.auth_rules {
            self.rules_file = Some(rules.clone());
        }
        if let (Some(id), Some(secret)) = (&flags.auth_id, &flags.auth_secret) {
            self.account = Some((id.clone(), secret.clone()));
        }
        if let Some(dir) = &flags.tls_ca_dir {
            self.tls_ca_dir = Some(dir.clone());
        }
        if let (Some(cert), Some(key)) = (&flags.tls_cert_file, &flags.tls_key_file) {
            self.tls_files = Some((cert.clone(), key.clone()));
        }
        if let Some(ca) = &flags.tls_ca_file {
            self.tls_ca_file = Some(ca.clone());
        }
        or(&flags.tls_client_auth, &mut self.tls_client_auth);
    }

    /// Builds the auth: keys parsed (or generated for development), rules loaded, the CA
    /// loaded or created. Errors are of kind [`Config`](super::ErrorKind::Config).
    pub(crate) fn build(&self) -> Result<Resolved, Error> {
        let server = match (&self.server, self.backend.as_deref()) {
            (Some(server), _) => Some(server.clone()),
            (None, None | Some("noop")) => None,
            (None, Some("jwt")) => Some(ServerAuth::new(self.jwt()?, self.rules()?)),
            (None, Some(other)) => {
                return Err(Error::config(format!(
                    "unknown auth `{other}`: use --auth jwt or --auth noop"
                )));
            }
        };
        let account = match (&self.account, &server) {
            (Some((id, secret)), Some(server)) => Some(Arc::new(TokenSource::new(
                server.auth().clone(),
                id,
                secret,
            ))),
            (Some((id, _)), None) => {
                tracing::warn!(
                    account = %id,
                    "an auth account is set but auth is noop, so calls carry no token; pass --auth jwt"
                );
                None
            }
            (None, _) => None,
        };
        Ok(Resolved {
            server,
            account,
            #[cfg(feature = "auth-tls")]
            tls: self.tls()?,
        })
    }

    /// TLS from `--tls-cert-file`/`--tls-key-file`/`--tls-ca-file` or `--tls-ca-dir`, with
    /// `--tls-client-auth`, else as set in code.
    #[cfg(feature = "auth-tls")]
    fn tls(&self) -> Result<Option<ServiceTls>, Error> {
        use super::{CertificateAuthority, ClientAuth};

        let tls = match (&self.tls_files, &self.tls_ca_dir) {
            (Some((cert, key)), _) => {
                let tls = ServiceTls::from_files(cert, key);
                match &self.tls_ca_file {
                    Some(ca) => tls.trust(ca),
                    None => tls,
                }
            }
            (None, Some(dir)) => {
                let ca = CertificateAuthority::load_or_create(&self.namespace, dir)
                    .map_err(|err| Error::config(format!("--tls-ca-dir: {err}")))?;
                ServiceTls::new(Arc::new(ca))
            }
            (None, None) => return Ok(self.tls.clone()),
        };
        Ok(Some(match self.tls_client_auth.as_deref() {
            Some("required") => tls.client_auth(ClientAuth::Required),
            Some("optional") => tls.client_auth(ClientAuth::Optional),
            Some("off") => tls.client_auth(ClientAuth::Off),
            _ => tls,
        }))
    }

    fn rules(&self) -> Result<Arc<dyn Rules>, Error> {
        match &self.rules_file {
            Some(path) => MemoryRules::from_file(path)
                .map(|rules| Arc::new(rules) as Arc<dyn Rules>)
                .map_err(|err| Error::config(err.to_string())),
            None => Ok(Arc::new(MemoryRules::any_account())),
        }
    }

    #[cfg(feature = "auth-jwt")]
    fn jwt(&self) -> Result<Arc<dyn Auth>, Error> {
        use super::JwtAuth;

        let auth = match (&self.public_key, &self.private_key) {
            (Some(public), private) => JwtAuth::new(&self.namespace, public, private.as_deref()),
            (None, Some(_)) => {
                return Err(Error::config(
                    "--auth-private-key needs --auth-public-key too (both base64 PEM)",
                ));
            }
            (None, None) => {
                tracing::warn!(
                    "no --auth-public-key/--auth-private-key: generated a development key pair, \
                     so only this process accepts the tokens it issues"
                );
                JwtAuth::generate_keys(&self.namespace)
            }
        };
        auth.map(|auth| Arc::new(auth) as Arc<dyn Auth>)
            .map_err(|err| Error::config(err.to_string()))
    }

    #[cfg(not(feature = "auth-jwt"))]
    fn jwt(&self) -> Result<Arc<dyn Auth>, Error> {
        Err(Error::config(crate::error_shape::not_built(
            "jwt", "auth", "auth-jwt",
        )))
    }
}
