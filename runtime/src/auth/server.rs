//! Checking calls on the server: the token in `Authorization`, then the rules.

use std::fmt;
use std::sync::Arc;

use super::{Account, Auth, Error, ErrorKind, Identity, Resource, Rules};
use crate::Status;

/// How a service checks the calls it serves: [`Service::auth`](crate::Service::auth).
///
/// Every routed call, whatever its protocol, must carry a token (or, over mTLS, a certificate
/// naming a service, which counts as that service's account) the [`Auth`] accepts unless the
/// [`Rules`] grant the endpoint to everyone (scope `""`) or it is listed as public here; the
/// caller's account then reaches the handler as
/// [`Context::account`](crate::Context::account). Health and reflection are public unless
/// [`protect_builtins`](Self::protect_builtins) is set.
#[derive(Clone)]
pub struct ServerAuth {
    auth: Arc<dyn Auth>,
    rules: Arc<dyn Rules>,
    public: Vec<String>,
    public_builtins: bool,
}

impl ServerAuth {
    /// Tokens checked by `auth`, access decided by `rules`.
    pub fn new(auth: Arc<dyn Auth>, rules: Arc<dyn Rules>) -> ServerAuth {
        ServerAuth {
            auth,
            rules,
            public: Vec::new(),
            public_builtins: true,
        }
    }

    /// Endpoints (`Handler.Method`) anyone may call, token or not, whatever the rules say.
    pub fn public<I, S>(mut self, endpoints: I) -> ServerAuth
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.public.extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// Checks health and reflection calls too (as `Health.Check`, `ServerReflection.…`).
    pub fn protect_builtins(mut self) -> ServerAuth {
        self.public_builtins = false;
        self
    }

    /// The auth that inspects tokens.
    pub fn auth(&self) -> &Arc<dyn Auth> {
        &self.auth
    }

    /// The rules calls are verified against.
    pub fn rules(&self) -> &Arc<dyn Rules> {
        &self.rules
    }
}

impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAuth")
            .field("auth", &self.auth.name())
            .field("public", &self.public)
            .field("public_builtins", &self.public_builtins)
            .finish_non_exhaustive()
    }
}

/// A server's [`ServerAuth`], bound to the service name it checks resources of.
#[derive(Debug, Clone)]
pub(crate) struct Gatekeeper {
    options: ServerAuth,
    service: Arc<str>,
}

impl Gatekeeper {
    pub(crate) fn new(options: ServerAuth, service: Arc<str>) -> Gatekeeper {
        Gatekeeper { options, service }
    }

    /// Whether a built-in service (health, reflection) is checked.
    pub(crate) fn checks_builtins(&self) -> bool {
        !self.options.public_builtins
    }

    /// Checks a call to `endpoint` with these headers: the caller's account (`None` for a
    /// public call without a token), or the status to refuse the call with (logged at debug).
    pub(crate) async fn check(
        &self,
        headers: &http::HeaderMap,
        identity: Option<&Identity>,
        endpoint: &str,
    ) -> Result<Option<Account>, Status> {
        let checked = self.decide(headers, identity, endpoint).await;
        if let Err(status) = &checked {
            tracing::debug!(endpoint, code = ?status.code(), message = status.message(), "call refused");
        }
        checked
    }

    async fn decide(
        &self,
        headers: &http::HeaderMap,
        identity: Option<&Identity>,
        endpoint: &str,
    ) -> Result<Option<Account>, Status> {
        let public = self
            .options
            .public
            .iter()
            .any(|public| public.eq_ignore_ascii_case(endpoint));
        let account = match bearer(headers) {
            Ok(None) => identity.map(Identity::account),
            Ok(Some(token)) => match self.options.auth.inspect(token).await {
                Ok(account) => Some(account),
                Err(_) if public => None,
                Err(err) => return Err(unauthenticated(endpoint, &err)),
            },
            Err(_) if public => None,
            Err(status) => return Err(status),
        };
        if public {
            return Ok(account);
        }
        let resource = Resource::service(&self.service, endpoint);
        match self.options.rules.verify(account.as_ref(), &resource) {
            Ok(()) => Ok(account),
            Err(_) if account.is_none() => Err(Status::unauthenticated(format!(
                "{endpoint} needs an account: send `Authorization: Bearer <token>`"
            ))),
            Err(err) => Err(Status::permission_denied(err.to_string())),
        }
    }
}

/// The token in `Authorization: Bearer <token>`, if there is such a header.
fn bearer(headers: &http::HeaderMap) -> Result<Option<&str>, Status> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let scheme_len = super::BEARER_SCHEME.len();
    let token = value
        .to_str()
        .ok()
        .filter(|value| {
            value.len() > scheme_len
                && value[..scheme_len].eq_ignore_ascii_case(super::BEARER_SCHEME)
        })
        .map(|value| value[scheme_len..].trim());
    match token {
        Some(token) if !token.is_empty() => Ok(Some(token)),
        _ => Err(Status::unauthenticated(
            "malformed Authorization metadata: expected `Bearer <token>`",
        )),
    }
}

fn unauthenticated(endpoint: &str, err: &Error) -> Status {
    let hint = match err.kind() {
        ErrorKind::Expired => "; get a new token (clients with an account refresh theirs)",
        _ => "",
    };
    Status::unauthenticated(format!("calling {endpoint}: {err}{hint}"))
}
