//! The noop backend: every token is valid, for local work without keys.

use std::time::SystemTime;

use super::{Account, Auth, BoxFuture, Error, GenerateOptions, Token, TokenRequest};

/// Accepts every token as an anonymous account and hands out empty tokens, as go-micro's
/// default auth. Enforces nothing: use [`JwtAuth`](super::JwtAuth) to protect services.
#[derive(Debug, Clone, Default)]
pub struct NoopAuth {
    namespace: String,
}

impl NoopAuth {
    /// Accounts issued in `namespace`.
    pub fn new(namespace: &str) -> NoopAuth {
        NoopAuth {
            namespace: namespace.into(),
        }
    }
}

impl Auth for NoopAuth {
    fn generate<'a>(
        &'a self,
        id: &'a str,
        options: GenerateOptions,
    ) -> BoxFuture<'a, Result<Account, Error>> {
        Box::pin(async move { Ok(Account::generated(id, &self.namespace, options)) })
    }

    fn inspect<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, Result<Account, Error>> {
        Box::pin(async move {
            Ok(Account {
                id: uuid::Uuid::new_v4().to_string(),
                issuer: self.namespace.clone(),
                ..Account::default()
            })
        })
    }

    fn token(&self, request: TokenRequest) -> BoxFuture<'_, Result<Token, Error>> {
        Box::pin(async move {
            let created = SystemTime::now();
            Ok(Token {
                access_token: String::new(),
                refresh_token: String::new(),
                created,
                expiry: created + request.expiry,
            })
        })
    }

    fn name(&self) -> &'static str {
        "noop"
    }
}
