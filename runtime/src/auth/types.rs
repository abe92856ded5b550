//! The accounts and tokens auth deals in, with go-micro's JSON keys.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Who a token speaks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    /// The account's id: a user name, or a service's name.
    pub id: String,
    /// What kind of account: `user`, `service`…
    #[serde(rename = "type")]
    pub account_type: String,
    /// Who issued it: the namespace of the auth that generated it.
    pub issuer: String,
    /// Anything else worth knowing about it.
    pub metadata: HashMap<String, String>,
    /// What it may do, matched by rules.
    pub scopes: Vec<String>,
    /// The credential that gets the account tokens; only set on a newly generated account.
    pub secret: String,
}

impl Account {
    /// A new account `id` issued in `namespace`, as `options` describe it, without a secret.
    pub(crate) fn generated(id: &str, namespace: &str, options: GenerateOptions) -> Account {
        Account {
            id: id.into(),
            account_type: options.account_type,
            issuer: namespace.into(),
            metadata: options.metadata,
            scopes: options.scopes,
            secret: String::new(),
        }
    }
}

/// An access token, and the refresh token that gets the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// What calls carry: `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Trades for a new token; lives longer than the access token.
    pub refresh_token: String,
    /// When the token was issued.
    #[serde(with = "crate::rfc3339")]
    pub created: SystemTime,
    /// When the access token stops being accepted.
    #[serde(with = "crate::rfc3339")]
    pub expiry: SystemTime,
}

impl Token {
    /// How long the access token is still good for (zero once it has expired).
    pub fn remaining(&self) -> Duration {
        self.expiry
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

/// What a generated account is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// The account's type (default `user`).
    pub account_type: String,
    /// The account's scopes.
    pub scopes: Vec<String>,
    /// The account's metadata.
    pub metadata: HashMap<String, String>,
    /// How long its secret stays valid (default 15 minutes, as go-micro; services that restart
    /// later need a longer one).
    pub expiry: Duration,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            account_type: "user".into(),
            scopes: Vec::new(),
            metadata: HashMap::new(),
            expiry: Duration::from_secs(15 * 60),
        }
    }
}

impl GenerateOptions {
    /// A `service` account with the scope `service`.
    pub fn service() -> GenerateOptions {
        GenerateOptions {
            account_type: "service".into(),
            scopes: vec!["service".into()],
            ..GenerateOptions::default()
        }
    }

    /// With these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> GenerateOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// With this secret lifetime.
    pub fn expiry(mut self, expiry: Duration) -> GenerateOptions {
        self.expiry = expiry;
        self
    }
}

/// What to trade for a token: an account's credentials or a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub(crate) grant: Grant,
    pub(crate) expiry: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    Credentials { id: String, secret: String },
    Refresh(String),
}

/// How long access tokens live unless asked otherwise: one minute, as go-micro.
pub const DEFAULT_TOKEN_EXPIRY: Duration = Duration::from_secs(60);

impl TokenRequest {
    /// A token for the account `id`, proven by its `secret`.
    pub fn credentials(id: &str, secret: &str) -> TokenRequest {
        TokenRequest {
            grant: Grant::Credentials {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
            expiry: DEFAULT_TOKEN_EXPIRY,
        }
    }

    /// A new token for the holder of `refresh_token`.
    pub fn refresh(refresh_token: &str) -> TokenRequest {
        TokenRequest {
            grant: Grant::Refresh(refresh_token.to_owned()),
            expiry: DEFAULT_TOKEN_EXPIRY,
        }
    }

    /// An access token living this long (default one minute; the refresh token one hour more).
    pub fn expiry(mut self, expiry: Duration) -> TokenRequest {
        self.expiry = expiry;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_tokens_use_go_micros_json_keys() {
        let account = Account {
            id: "billing".into(),
            account_type: "service".into(),
            scopes: vec!["service".into()],
            ..Account::default()
        };
        let json = serde_json::to_value(&account).unwrap();
        assert_eq!(json["type"], "service");
        assert_eq!(json["scopes"][0], "service");
        for key in ["id", "issuer", "metadata", "secret"] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        let token: Token = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r",
                "created":"2026-01-02T03:04:05Z","expiry":"2026-01-02T03:05:05.5+00:00"}"#,
        )
        .unwrap();
        let lifetime = token.expiry.duration_since(token.created).unwrap();
        assert_eq!(lifetime, Duration::from_millis(60_500));
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(json["created"], "2026-01-02T03:04:05.000000000Z");
    }

    #[test]
    fn go_timestamps_with_offsets_are_read_as_utc() {
        let utc = crate::rfc3339::parse("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(
            crate::rfc3339::parse("2026-01-02T04:34:05+01:30").unwrap(),
            utc
        );
        assert_eq!(
            crate::rfc3339::parse("2026-01-01T22:04:05-05:00").unwrap(),
            utc
        );
        assert!(
            crate::rfc3339::parse("yesterday")
                .unwrap_err()
                .contains("yesterday")
        );
    }
}
