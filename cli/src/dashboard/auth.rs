//! Login, when the dashboard has the services' JWT keys: `POST api/login` trades an account's
//! id and secret (or a pasted token) for a token kept in an HttpOnly cookie, every other
//! `api/*` request needs that cookie, and calls carry the token to the services. Without keys
//! there is no login and [`require`] lets everything through.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use micro::auth::{Account, Auth, JwtAuth, TokenRequest};
use micro::errors::Error;
use serde::{Deserialize, Serialize};

use super::Dashboard;
use super::error::{ApiError, ID};
use crate::Env;

/// The cookie holding the token. Set by `api/login` without a `Path`, so the browser scopes it
/// to the `api/` directory the page calls, at `/` or under a prefix.
const COOKIE: &str = "micro_dashboard_token";

/// How long a login lasts; the page asks for the secret again after that.
const SESSION: Duration = Duration::from_secs(3600);

/// Whether the dashboard asks for a login: with JWT keys it does, without it does not.
#[derive(Clone, Debug, Default)]
pub struct Login {
    auth: Option<Arc<JwtAuth>>,
    /// With the private key the dashboard can trade an id and secret for a token; with the
    /// public key only, it can only check pasted tokens.
    can_issue: bool,
}

impl Login {
    /// No login: the page and API are open, calls carry the `--token` if any.
    pub fn none() -> Login {
        Login::default()
    }

    /// Login with go-micro's JWT keys, as services take them (`--auth-public-key`, base64 of
    /// the PEM; `--auth-private-key` to accept account secrets, not just tokens).
    pub fn jwt(
        namespace: &str,
        public_key: &str,
        private_key: Option<&str>,
    ) -> anyhow::Result<Login> {
        let auth = JwtAuth::new(namespace, public_key, private_key)
            .context("cannot use the dashboard's auth keys")?;
        Ok(Login {
            auth: Some(Arc::new(auth)),
            can_issue: private_key.is_some(),
        })
    }

    /// The login `micro dashboard`'s options ask for: none without a public key.
    pub fn from_keys(keys: &crate::commands::auth::AuthKeys) -> anyhow::Result<Login> {
        match keys
            .auth_public_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
        {
            Some(public) => Login::jwt(
                &keys.auth_namespace,
                public,
                keys.auth_private_key
                    .as_deref()
                    .filter(|key| !key.trim().is_empty()),
            ),
            None => Ok(Login::none()),
        }
    }

    /// Whether the page must log in.
    pub fn required(&self) -> bool {
        self.auth.is_some()
    }
}

/// Who the API request is made for: the logged-in account and its token, or nobody when
/// there is no login.
#[derive(Clone, Debug, Default)]
pub(crate) struct Session {
    token: Option<String>,
    account: Option<Account>,
}

impl Session {
    /// Adds the session's token to a call, or the `--token` when there is no login.
    pub(crate) fn authorize<T: Send + 'static>(
        &self,
        env: &Env,
        call: micro::Call<T>,
    ) -> micro::Call<T> {
        match &self.token {
            Some(token) => call.metadata("authorization", &format!("Bearer {token}")),
            None => env.authorize(call),
        }
    }
}

/// Lets an `api/*` request through with its [`Session`], or answers 401 when a login is
/// required and the cookie holds no valid token.
pub(crate) async fn require(
    State(dashboard): State<Dashboard>,
    mut request: Request,
    next: Next,
) -> Response {
    let session = match &dashboard.login.auth {
        None => Session::default(),
        Some(auth) => match session(auth, request.headers()).await {
            Ok(session) => session,
            Err(error) => return error.into_response(),
        },
    };
    request.extensions_mut().insert(session);
    next.run(request).await
}

async fn session(auth: &JwtAuth, headers: &HeaderMap) -> Result<Session, ApiError> {
    let Some(token) = cookie(headers) else {
        return Err(unauthorized(
            "log in first: POST api/login with your account id and secret",
        ));
    };
    let account = auth
        .inspect(&token)
        .await
        .map_err(|err| unauthorized(format!("log in again: {err}")))?;
    Ok(Session {
        token: Some(token),
        account: Some(account),
    })
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

fn unauthorized(detail: impl Into<String>) -> ApiError {
    ApiError(Error::new(ID, detail, 401))
}

/// `GET api/session`: whether a login is needed, and who is logged in.
#[derive(Debug, Serialize)]
pub(crate) struct SessionInfo {
    /// `jwt` when the dashboard asks for a login, `none` when it does not.
    auth: &'static str,
    /// Whether `api/login` takes an account id and secret (it has the private key), not only
    /// a token.
    credentials: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Who>,
}

/// The logged-in account, without its secret.
#[derive(Debug, Serialize)]
pub(crate) struct Who {
    id: String,
    #[serde(rename = "type")]
    account_type: String,
    issuer: String,
    scopes: Vec<String>,
    metadata: HashMap<String, String>,
}

impl From<Account> for Who {
    fn from(account: Account) -> Who {
        Who {
            id: account.id,
            account_type: account.account_type,
            issuer: account.issuer,
            scopes: account.scopes,
            metadata: account.metadata,
        }
    }
}

pub(crate) async fn session_info(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
) -> Json<SessionInfo> {
    let login = &dashboard.login;
    let account = match &login.auth {
        Some(auth) => session(auth, &headers).await.ok().and_then(|s| s.account),
        None => None,
    };
    Json(SessionInfo {
        auth: if login.required() { "jwt" } else { "none" },
        credentials: login.can_issue,
        account: account.map(Who::from),
    })
}

/// `POST api/login`: an account's id and secret, or a token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    #[serde(default)]
    id: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    token: String,
}

pub(crate) async fn login(
    State(dashboard): State<Dashboard>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Some(auth) = &dashboard.login.auth else {
        return Err(ApiError::bad_request(
            "this dashboard has no login: start it with --auth-public-key to require one",
        ));
    };
    let credentials: Credentials = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a login ({err}); send {{\"id\":\"admin\",\"secret\":\"…\"}} or \
             {{\"token\":\"…\"}}"
        ))
    })?;
    let (token, lifetime) = token(&dashboard.login, auth, &credentials).await?;
    let account = auth
        .inspect(&token)
        .await
        .map_err(|err| unauthorized(format!("the token is refused: {err}")))?;
    tracing::info!(account = %account.id, "dashboard login");
    let cookie = set_cookie(&token, lifetime);
    let body = Json(serde_json::json!({ "account": Who::from(account) }));
    Ok(([(header::SET_COOKIE, cookie)], body).into_response())
}

/// The token for `credentials`, and how long the cookie keeps it (`None`: until the browser
/// closes, for a pasted token whose expiry the token itself enforces).
async fn token(
    login: &Login,
    auth: &JwtAuth,
    credentials: &Credentials,
) -> Result<(String, Option<Duration>), ApiError> {
    let pasted = credentials.token.trim();
    if !pasted.is_empty() {
        let pasted = pasted.strip_prefix("Bearer ").unwrap_or(pasted);
        return Ok((pasted.to_owned(), None));
    }
    if credentials.id.trim().is_empty() || credentials.secret.trim().is_empty() {
        return Err(ApiError::bad_request(
            "enter the account id and its secret, or a token",
        ));
    }
    if !login.can_issue {
        return Err(ApiError::bad_request(
            "this dashboard has only the public key, so it cannot trade a secret for a token: \
             paste a token (`micro auth token`), or start it with --auth-private-key",
        ));
    }
    let request =
        TokenRequest::credentials(credentials.id.trim(), credentials.secret.trim()).expiry(SESSION);
    let token = auth.token(request).await.map_err(|err| {
        tracing::info!(account = %credentials.id.trim(), "dashboard login refused");
        unauthorized(format!("wrong account id or secret: {err}"))
    })?;
    let lifetime = token.remaining();
    Ok((token.access_token, Some(lifetime)))
}

fn set_cookie(token: &str, lifetime: Option<Duration>) -> HeaderValue {
    let max_age = lifetime
        .map(|lifetime| format!("; Max-Age={}", lifetime.as_secs()))
        .unwrap_or_default();
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict{max_age}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| clear_cookie())
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("micro_dashboard_token=; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// `POST api/logout`: forgets the cookie.
pub(crate) async fn logout() -> impl IntoResponse {
    (
        [(header::SET_COOKIE, clear_cookie())],
        Json(serde_json::json!({ "logged_out": true })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_token_from_the_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; micro_dashboard_token=abc.def; x=y"),
        );
        assert_eq!(cookie(&headers).as_deref(), Some("abc.def"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("micro_dashboard_token="),
        );
        assert_eq!(cookie(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let cookie = set_cookie("t", Some(Duration::from_secs(60)));
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("micro_dashboard_token=t;"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.contains("Max-Age=60"), "{cookie}");
    }
}
