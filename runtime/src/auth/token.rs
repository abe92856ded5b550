//! A service's own account on the client side: tokens got with its credentials, refreshed
//! before they expire, and put on outgoing calls by [`BearerLayer`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderValue;

use super::types::DEFAULT_TOKEN_EXPIRY;
use super::{Auth, Error, Token, TokenRequest};
use crate::Status;

/// The shortest head start a refresh gets before the token expires.
const MIN_REFRESH_AHEAD: Duration = Duration::from_millis(500);

/// Tokens for one account (`--auth-id`/`--auth-secret`): got on first use, refreshed in the
/// background once a quarter of their life is left, so calls never wait on a refresh unless
/// the token has run out. Share it as `Arc<TokenSource>`.
pub struct TokenSource {
    auth: Arc<dyn Auth>,
    id: String,
    secret: String,
    expiry: Duration,
    current: RwLock<Option<Arc<Current>>>,
    /// Held while a token is being fetched, so concurrent calls fetch once.
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

struct Current {
    token: Token,
    header: HeaderValue,
}

impl TokenSource {
    /// Tokens for account `id`, proven by `secret`, from `auth`.
    pub fn new(auth: Arc<dyn Auth>, id: &str, secret: &str) -> TokenSource {
        TokenSource {
            auth,
            id: id.into(),
            secret: secret.into(),
            expiry: DEFAULT_TOKEN_EXPIRY,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Asks for access tokens living this long (default one minute).
    pub fn token_expiry(mut self, expiry: Duration) -> TokenSource {
        self.expiry = expiry;
        self
    }

    /// The account's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A token that is valid now, fetched if there is none.
    pub async fn token(self: &Arc<Self>) -> Result<Token, Error> {
        Ok(self.current().await?.token.clone())
    }

    /// `Bearer <access token>`, for the `Authorization` header.
    async fn header(self: &Arc<Self>) -> Result<HeaderValue, Error> {
        Ok(self.current().await?.header.clone())
    }

    async fn current(self: &Arc<Self>) -> Result<Arc<Current>, Error> {
        if let Some(current) = self.cached() {
            let left = current.token.remaining();
            if left > refresh_ahead(&current.token) {
                return Ok(current);
            }
            if !left.is_zero() {
                self.refresh_in_background();
                return Ok(current);
            }
        }
        let _fetching = self.fetching.lock().await;
        match self.cached() {
            Some(current) if !current.token.remaining().is_zero() => Ok(current),
            _ => self.fetch().await,
        }
    }

    fn cached(&self) -> Option<Arc<Current>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let source = self.clone();
        tokio::spawn(async move {
            let _fetching = source.fetching.lock().await;
            if let Err(err) = source.fetch().await {
                tracing::warn!(account = %source.id, error = %err, "cannot refresh the auth token");
            }
            source.refreshing.store(false, Ordering::Release);
        });
    }

    /// Gets a new token with the refresh token, or the credentials if that fails.
    async fn fetch(&self) -> Result<Arc<Current>, Error> {
        let refresh = self
            .cached()
            .map(|current| current.token.refresh_token.clone())
            .filter(|token| !token.is_empty());
        let token = match refresh {
            Some(refresh) => {
                let request = TokenRequest::refresh(&refresh).expiry(self.expiry);
                match self.auth.token(request).await {
                    Ok(token) => token,
                    Err(_) => self.with_credentials().await?,
                }
            }
            None => self.with_credentials().await?,
        };
        let header =
            HeaderValue::try_from(format!("{}{}", super::BEARER_SCHEME, token.access_token))
                .map_err(|_| {
                    Error::invalid_token("the auth issued a token that is not a valid header")
                })?;
        let current = Arc::new(Current { token, header });
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(current.clone());
        Ok(current)
    }

    async fn with_credentials(&self) -> Result<Token, Error> {
        let request = TokenRequest::credentials(&self.id, &self.secret).expiry(self.expiry);
        self.auth.token(request).await.map_err(|err| {
            Error::new(
                err.kind(),
                format!("cannot get a token for account `{}`: {err}", self.id),
            )
        })
    }
}

/// A quarter of the token's life, at least [`MIN_REFRESH_AHEAD`].
fn refresh_ahead(token: &Token) -> Duration {
    let life = token
        .expiry
        .duration_since(token.created)
        .unwrap_or_default();
    (life / 4).max(MIN_REFRESH_AHEAD)
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("auth", &self.auth.name())
            .field("id", &self.id)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// Puts `Authorization: Bearer <token>` from a [`TokenSource`] on requests that carry none.
#[derive(Debug, Clone)]
pub struct BearerLayer {
    source: Arc<TokenSource>,
}

impl BearerLayer {
    /// Tokens from `source`.
    pub fn new(source: Arc<TokenSource>) -> BearerLayer {
        BearerLayer { source }
    }
}

impl<S> tower::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes.
#[derive(Debug, Clone)]
pub struct Bearer<S> {
    inner: S,
    source: Arc<TokenSource>,
}

impl<S, B> tower::Service<http::Request<B>> for Bearer<S>
where
    S: tower::Service<http::Request<B>, Error = Status> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Status>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The ready inner service goes with this call; its clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            if !request.headers().contains_key(http::header::AUTHORIZATION) {
                let header = source
                    .header()
                    .await
                    .map_err(|err| Status::unauthenticated(format!("not calling: {err}")))?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, header);
            }
            inner.call(request).await
        })
    }
}
