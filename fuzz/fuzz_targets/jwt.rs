#![no_main]
//! JWT tokens (RS256, go-micro's claims), as `JwtAuth` checks every `Authorization: Bearer`
//! token: base64url parts, header and claims JSON, signature, expiry.
//!
//! Input: one mode byte. Even: the rest is a token (any `Bearer ` prefix kept), checked.
//! Odd: the rest describes an account (id, type, then scopes and `key=value` metadata, separated
//! by NUL bytes), issued a token and checked back.
//! Invariants: no panic; a token that checks carries an account; an account issued a token
//! checks back as the same account.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use micro::auth::{Auth, GenerateOptions, JwtAuth};

/// One key pair per process: generating RSA keys takes a while.
fn auth() -> &'static JwtAuth {
    static AUTH: OnceLock<JwtAuth> = OnceLock::new();
    AUTH.get_or_init(|| JwtAuth::generate_keys("fuzz").expect("RSA keys generate"))
}

fn check(token: &[u8]) {
    let token = String::from_utf8_lossy(token);
    if let Ok(account) = common::now(auth().inspect(&token)) {
        assert!(account.secret.is_empty(), "a checked token leaks a secret");
    }
}

fn round_trip(description: &[u8]) {
    let text = String::from_utf8_lossy(description);
    let mut fields = text.split('\0');
    let id = fields.next().unwrap_or_default().to_owned();
    let account_type = fields.next().unwrap_or_default().to_owned();
    let mut scopes = Vec::new();
    let mut metadata = HashMap::new();
    for field in fields {
        match field.split_once('=') {
            Some((key, value)) => {
                metadata.insert(key.to_owned(), value.to_owned());
            }
            None => scopes.push(field.to_owned()),
        }
    }
    let options = GenerateOptions {
        account_type,
        scopes,
        metadata,
        ..GenerateOptions::default()
    };
    let Ok(account) = common::now(auth().generate(&id, options)) else {
        return;
    };
    let checked = common::now(auth().inspect(&account.secret))
        .unwrap_or_else(|err| panic!("a token issued for {account:?} does not check: {err}"));
    let issued = micro::auth::Account {
        secret: String::new(),
        ..account
    };
    assert_eq!(checked, issued, "the token changed the account");
}

/// The seed corpus: tokens micro issues (bare and as `Bearer`), and account descriptions.
fn seeds() {
    let generate = |id: &str, scopes: &[&str]| {
        let options = GenerateOptions {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            metadata: HashMap::from([("team".to_owned(), "core".to_owned())]),
            ..GenerateOptions::default()
        };
        common::now(auth().generate(id, options))
            .expect("a token")
            .secret
    };
    let token = generate("alice", &["admin", "user"]);
    let service = generate("go.micro.srv.greeter", &["service"]);
    common::write_seeds(
        "jwt",
        [
            [&b"\0"[..], token.as_bytes()].concat(),
            [&b"\0Bearer "[..], service.as_bytes()].concat(),
            b"\x01alice\0user\0admin\0team=core".to_vec(),
            b"\x01go.micro.srv.greeter\0service\0service\0\0=".to_vec(),
        ],
    );
}

fuzz_target!(
    init: seeds(),
    |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => check(rest),
        _ => round_trip(rest),
    }
}
);
