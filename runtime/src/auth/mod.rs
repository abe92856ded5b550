//! Auth: who is calling ([`Auth`]: accounts and tokens) and what they may call ([`Rules`]).
//!
//! A service started with an [`Auth`] checks every routed call, whatever the protocol (gRPC,
//! gRPC-Web, Connect, JSON, go-micro's HTTP): the `Authorization: Bearer <token>` metadata is
//! inspected, the account verified against the [`Rules`] for the resource
//! `{type: "service", name: <service>, endpoint: <Handler.Method>}`, and the account handed to
//! the handler ([`Context::account`](crate::Context::account)). Missing, invalid or expired
//! tokens get `UNAUTHENTICATED` (HTTP 401), denied calls `PERMISSION_DENIED` (403), with
//! go-micro's error JSON on JSON paths. Health and reflection stay public unless asked.
//!
//! | backend | flag | notes |
//! |---|---|---|
//! | JWT | `--auth jwt` | RS256 with go-micro's claims; keys from `--auth-public-key` / `--auth-private-key` (base64 PEM) or generated for development; feature `auth-jwt` |
//! | noop (default) | `--auth noop` | every token is valid; nothing is enforced |
//!
//! ```
//! # #[cfg(feature = "auth-jwt")]
//! # async fn demo() -> Result<(), micro::auth::Error> {
//! use micro::auth::{Auth, GenerateOptions, JwtAuth, TokenRequest};
//!
//! let auth = JwtAuth::generate_keys("micro")?;
//! let account = auth.generate("billing", GenerateOptions::service()).await?;
//! let token = auth.token(TokenRequest::credentials(&account.id, &account.secret)).await?;
//! let caller = auth.inspect(&token.access_token).await?;
//! assert_eq!(caller.id, "billing");
//! # Ok(())
//! # }
//! ```

mod build;
#[cfg(feature = "auth-tls")]
mod ca;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod identity;
#[cfg(feature = "auth-jwt")]
mod jwt;
mod noop;
mod rules;
mod server;
#[cfg(feature = "auth-tls")]
mod tls;
mod token;
mod types;
#[cfg(feature = "auth-jwt")]
mod verified;

use std::fmt;

pub(crate) use build::{Options, Resolved};
#[cfg(feature = "auth-tls")]
pub use ca::{CertificateAuthority, ServiceCertificate};
pub use error::{Error, ErrorKind};
pub use identity::Identity;
#[cfg(feature = "auth-jwt")]
pub use jwt::JwtAuth;
pub use noop::NoopAuth;
pub use rules::{Access, MemoryRules, Resource, Rule, verify};
pub(crate) use server::Gatekeeper;
pub use server::ServerAuth;
#[cfg(feature = "auth-tls")]
pub use tls::{ClientAuth, DEFAULT_CERTIFICATE_LIFETIME, DEFAULT_RELOAD_INTERVAL, ServiceTls};
#[cfg(feature = "auth-tls")]
pub(crate) use tls::{ClientTls, ServerTls};
pub use token::{Bearer, BearerLayer, TokenSource};
pub use types::{Account, DEFAULT_TOKEN_EXPIRY, GenerateOptions, Token, TokenRequest};

pub use crate::BoxFuture;

/// The scheme of the `Authorization` metadata that carries a token.
pub const BEARER_SCHEME: &str = "Bearer ";

/// The scope of rules that apply to everyone, with or without an account.
pub const SCOPE_PUBLIC: &str = "";

/// The scope of rules that apply to any account.
pub const SCOPE_ACCOUNT: &str = "*";

/// Accounts and their tokens. Hold one as `Arc<dyn Auth>`.
pub trait Auth: Send + Sync + fmt::Debug + 'static {
    /// Creates the account `id`; its [`Account::secret`] is the credential that later gets it
    /// tokens.
    fn generate<'a>(
        &'a self,
        id: &'a str,
        options: GenerateOptions,
    ) -> BoxFuture<'a, Result<Account, Error>>;

    /// The account a token (an access token, a refresh token or a secret) belongs to, if the
    /// token is valid and has not expired.
    fn inspect<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Account, Error>>;

    /// A new access token (and refresh token) for an account's credentials or a refresh token.
    fn token(&self, request: TokenRequest) -> BoxFuture<'_, Result<Token, Error>>;

    /// The backend's name, as `--auth` takes it (`jwt`, `noop`).
    fn name(&self) -> &'static str;
}

/// Who may call what. Hold one as `Arc<dyn Rules>`.
pub trait Rules: Send + Sync + fmt::Debug + 'static {
    /// Adds `rule`, replacing a rule with the same id.
    fn grant(&self, rule: Rule) -> Result<(), Error>;

    /// Removes the rule with `id`; removing one that does not exist is not an error.
    fn revoke(&self, id: &str) -> Result<(), Error>;

    /// Every rule.
    fn list(&self) -> Vec<Rule>;

    /// Whether `account` (`None`: no token) may access `resource`: the highest-priority rule
    /// that applies decides; no rule means no access.
    fn verify(&self, account: Option<&Account>, resource: &Resource) -> Result<(), Error> {
        verify(&self.list(), account, resource)
    }
}
