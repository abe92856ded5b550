//! The JWT backend: RS256 tokens with go-micro's claims, so Go and Rust services share keys.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::types::Grant;
use super::verified::Verified;
use super::{Account, Auth, BoxFuture, Error, ErrorKind, GenerateOptions, Token, TokenRequest};

/// How much longer a refresh token lives than its access token, as go-micro.
const REFRESH_MARGIN: Duration = Duration::from_secs(3600);

/// Bits of a generated development key.
const DEVELOPMENT_KEY_BITS: usize = 2048;

/// go-micro's JWT claims: `{type, scopes, metadata, sub, iss, exp}`. Go writes a nil map or
/// slice as `null` (go-micro's `Generate` without metadata does), read as empty.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::go_json::null_as_default"
    )]
    account_type: String,
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    metadata: HashMap<String, String>,
    sub: String,
    #[serde(default)]
    iss: String,
    exp: u64,
}

/// RS256 JWT accounts and tokens. A service with only the public key verifies tokens; minting
/// them (generate, token) needs the private key.
pub struct JwtAuth {
    namespace: String,
    signing: Option<EncodingKey>,
    verifying: DecodingKey,
    validation: Validation,
    verified: Verified,
}

impl JwtAuth {
    /// Keys as go-micro's `--auth_public_key`/`--auth_private_key` take them: base64 of the PEM
    /// (a PEM as is works too). Without a private key, tokens can be checked but not issued.
    pub fn new(
        namespace: &str,
        public_key: &str,
        private_key: Option<&str>,
    ) -> Result<JwtAuth, Error> {
        let public = pem_text(public_key, "public")?;
        let verifying = DecodingKey::from_rsa_pem(public.as_bytes()).map_err(|err| {
            Error::config(format!("the auth public key is not an RSA PEM: {err}"))
        })?;
        let signing = match private_key {
            Some(key) => {
                let private = pem_text(key, "private")?;
                Some(
                    EncodingKey::from_rsa_pem(private.as_bytes()).map_err(|err| {
                        Error::config(format!("the auth private key is not an RSA PEM: {err}"))
                    })?,
                )
            }
            None => None,
        };
        let mut validation = Validation::new(Algorithm::RS256);
        // go-micro allows no clock skew; neither do we, so expiry means what it says.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(JwtAuth {
            namespace: namespace.into(),
            signing,
            verifying,
            validation,
            verified: Verified::default(),
        })
    }

    /// A new RSA key pair, for development: tokens issued with it verify only where the same
    /// keys are used, so pass `--auth-public-key`/`--auth-private-key` to share them.
    pub fn generate_keys(namespace: &str) -> Result<JwtAuth, Error> {
        let (public, private) = generate_key_pair()?;
        JwtAuth::new(namespace, &public, Some(&private))
    }

    fn sign(&self, account: &Account, lifetime: Duration) -> Result<(String, SystemTime), Error> {
        let Some(key) = &self.signing else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "cannot issue tokens without the auth private key: pass --auth-private-key \
                 (base64 PEM) or MICRO_AUTH_PRIVATE_KEY",
            ));
        };
        let expiry = SystemTime::now() + lifetime;
        let claims = Claims {
            account_type: account.account_type.clone(),
            scopes: account.scopes.clone(),
            metadata: account.metadata.clone(),
            sub: account.id.clone(),
            iss: account.issuer.clone(),
            exp: expiry
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
            .map_err(|err| Error::config(format!("cannot sign a token: {err}")))?;
        Ok((token, expiry))
    }

    fn check(&self, token: &str) -> Result<Account, Error> {
        let token = token.strip_prefix(super::BEARER_SCHEME).unwrap_or(token);
        if let Some(account) = self.verified.get(token) {
            return Ok(account);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.verifying, &self.validation)
            .map_err(|err| refusal(&err))?;
        let claims = data.claims;
        let account = Account {
            id: claims.sub,
            account_type: claims.account_type,
            issuer: claims.iss,
            metadata: claims.metadata,
            scopes: claims.scopes,
            secret: String::new(),
        };
        self.verified.insert(token, &account, claims.exp);
        Ok(account)
    }
}

impl fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("namespace", &self.namespace)
            .field("can_sign", &self.signing.is_some())
            .finish_non_exhaustive()
    }
}

impl Auth for JwtAuth {
    fn generate<'a>(
        &'a self,
        id: &'a str,
        options: GenerateOptions,
    ) -> BoxFuture<'a, Result<Account, Error>> {
        Box::pin(async move {
            let expiry = options.expiry;
            let mut account = Account::generated(id, &self.namespace, options);
            account.secret = self.sign(&account, expiry)?.0;
            Ok(account)
        })
    }

    fn inspect<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Account, Error>> {
        Box::pin(async move { self.check(token) })
    }

    fn token(&self, request: TokenRequest) -> BoxFuture<'_, Result<Token, Error>> {
        Box::pin(async move {
            let account = match &request.grant {
                Grant::Credentials { id, secret } => {
                    let account = self.check(secret)?;
                    if &account.id != id {
                        return Err(Error::invalid_token(format!(
                            "the secret belongs to account `{}`, not `{id}`",
                            account.id
                        )));
                    }
                    account
                }
                Grant::Refresh(token) => self.check(token)?,
            };
            let created = SystemTime::now();
            let (access_token, expiry) = self.sign(&account, request.expiry)?;
            let (refresh_token, _) = self.sign(&account, request.expiry + REFRESH_MARGIN)?;
            Ok(Token {
                access_token,
                refresh_token,
                created,
                expiry,
            })
        })
    }

    fn name(&self) -> &'static str {
        "jwt"
    }
}

/// The PEM text of a key given as base64 of the PEM (go-micro's form) or as the PEM itself.
fn pem_text(key: &str, which: &str) -> Result<String, Error> {
    let key = key.trim();
    if key.starts_with("-----BEGIN") {
        return Ok(key.to_owned());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|err| {
            Error::config(format!(
                "the auth {which} key is neither a PEM nor base64 of one: {err}"
            ))
        })?;
    String::from_utf8(bytes)
        .map_err(|_| Error::config(format!("the auth {which} key's base64 does not hold a PEM")))
}

/// A new RSA key pair as base64 PEMs (public, private), the form the flags take.
pub(crate) fn generate_key_pair() -> Result<(String, String), Error> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    let mut rng = rsa::rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, DEVELOPMENT_KEY_BITS)
        .map_err(|err| Error::config(format!("cannot generate an RSA key: {err}")))?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| Error::config(format!("cannot encode the RSA key: {err}")))?;
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|err| Error::config(format!("cannot encode the RSA key: {err}")))?;
    let base64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    Ok((base64(&public_pem), base64(private_pem.as_str())))
}

/// Why a token was refused, in words: jsonwebtoken's error kinds print as their names.
fn refusal(err: &jsonwebtoken::errors::Error) -> Error {
    use jsonwebtoken::errors::ErrorKind as Jwt;
    let reason = match err.kind() {
        Jwt::ExpiredSignature => return Error::new(ErrorKind::Expired, "the token has expired"),
        Jwt::InvalidSignature => {
            "its signature does not match the public key (signed with another key?)".to_owned()
        }
        Jwt::InvalidToken | Jwt::Base64(_) | Jwt::Json(_) | Jwt::Utf8(_) => {
            "not a JWT (three base64url parts joined by dots)".to_owned()
        }
        Jwt::InvalidAlgorithm | Jwt::InvalidAlgorithmName | Jwt::MissingAlgorithm => {
            "not signed with RS256, the only algorithm accepted".to_owned()
        }
        Jwt::ImmatureSignature => "not valid yet (its `nbf` is in the future)".to_owned(),
        Jwt::MissingRequiredClaim(claim) => format!("it has no `{claim}` claim"),
        Jwt::InvalidClaimFormat(claim) => format!("its `{claim}` claim is malformed"),
        _ => err.to_string(),
    };
    Error::invalid_token(format!("invalid token: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    #[test]
    fn go_micros_null_metadata_and_scopes_read_as_empty() {
        let claims: Claims = serde_json::from_str(
            r#"{"type":"user","scopes":null,"metadata":null,"sub":"gopher","iss":"go.micro","exp":1}"#,
        )
        .unwrap();
        assert!(claims.scopes.is_empty() && claims.metadata.is_empty());
        assert_eq!(claims.sub, "gopher");
    }

    /// One key pair for the tests in this file (generating one takes a while).
    fn keys() -> &'static (String, String) {
        static KEYS: OnceLock<(String, String)> = OnceLock::new();
        KEYS.get_or_init(|| generate_key_pair().unwrap())
    }

    fn auth() -> JwtAuth {
        let (public, private) = keys();
        JwtAuth::new("micro", public, Some(private)).unwrap()
    }

    #[tokio::test]
    async fn tokens_carry_the_account() {
        let auth = auth();
        let options = GenerateOptions::service().scopes(["service", "billing"]);
        let account = auth.generate("billing", options).await.unwrap();
        assert_eq!(account.issuer, "micro");
        let token = auth
            .token(TokenRequest::credentials("billing", &account.secret))
            .await
            .unwrap();
        let remaining = token.remaining();
        assert!(remaining > Duration::from_secs(55) && remaining <= Duration::from_secs(60));
        let caller = auth.inspect(&token.access_token).await.unwrap();
        assert_eq!(caller.id, "billing");
        assert_eq!(caller.account_type, "service");
        assert_eq!(caller.scopes, ["service", "billing"]);
        let refreshed = auth
            .token(TokenRequest::refresh(&token.refresh_token))
            .await
            .unwrap();
        assert_eq!(
            auth.inspect(&refreshed.access_token).await.unwrap().id,
            "billing"
        );
    }

    #[tokio::test]
    async fn claims_are_go_micros() {
        let auth = auth();
        let account = auth
            .generate("alice", GenerateOptions::default())
            .await
            .unwrap();
        let payload = account.secret.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], "micro");
        assert_eq!(claims["type"], "user");
        assert!(claims["exp"].is_u64() && claims["scopes"].is_array());
        assert!(claims["metadata"].is_object());
    }

    #[tokio::test]
    async fn bad_tokens_are_refused() {
        let auth = auth();
        let other = JwtAuth::generate_keys("micro").unwrap();
        let forged = other
            .generate("alice", GenerateOptions::default())
            .await
            .unwrap();
        let err = auth.inspect(&forged.secret).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidToken);
        assert!(err.to_string().contains("signed with another key"), "{err}");
        for garbage in ["garbage", "a.b.c", "e30.e30.c2ln"] {
            let err = auth.inspect(garbage).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidToken);
            assert!(err.to_string().contains("not a JWT"), "{garbage}: {err}");
        }
        // The same claims under an HMAC header (`{"alg":"HS256"}`).
        let payload = forged.secret.split('.').nth(1).unwrap();
        let hmac = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        let err = auth.inspect(&hmac).await.unwrap_err();
        assert!(err.to_string().contains("not signed with RS256"), "{err}");

        let account = auth
            .generate("alice", GenerateOptions::default())
            .await
            .unwrap();
        let err = auth
            .token(TokenRequest::credentials("bob", &account.secret))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not `bob`"), "{err}");

        let (expired, _) = auth.sign(&account, Duration::ZERO).unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            auth.inspect(&expired).await.unwrap_err().kind(),
            ErrorKind::Expired
        );
    }

    #[tokio::test]
    async fn keys_are_checked_and_verifying_needs_no_private_key() {
        let (public, _) = keys();
        let verifier = JwtAuth::new("micro", public, None).unwrap();
        let err = verifier
            .generate("alice", GenerateOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--auth-private-key"), "{err}");
        let pem = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(public)
                .unwrap(),
        )
        .unwrap();
        let account = auth()
            .generate("alice", GenerateOptions::default())
            .await
            .unwrap();
        let as_pem = JwtAuth::new("micro", &pem, None).unwrap();
        assert_eq!(as_pem.inspect(&account.secret).await.unwrap().id, "alice");
        let err = JwtAuth::new("micro", "not a key", None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("public key"), "{err}");
    }
}
