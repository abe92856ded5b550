//! The behaviour every [`Auth`] backend and every [`Rules`] store must have, as suites to run
//! against each.
//!
//! ```no_run
//! # #[cfg(feature = "auth-jwt")]
//! # async fn demo() {
//! use std::sync::Arc;
//! use micro::auth::{JwtAuth, MemoryRules, NoopAuth, conformance};
//!
//! conformance::run(Arc::new(NoopAuth::new("micro"))).await;
//! let jwt = Arc::new(JwtAuth::generate_keys("micro").unwrap());
//! conformance::run(jwt.clone()).await;
//! conformance::run_enforcing(jwt).await;
//! conformance::run_rules(Arc::new(MemoryRules::new()));
//! # }
//! ```
//!
//! [`run`] holds for every backend, noop included; [`run_enforcing`] for backends whose tokens
//! prove an account (all but noop). The suites panic with a description of the first behaviour
//! that is wrong. [`run_enforcing`] takes a few seconds: it waits for a token to expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Access, Account, Auth, ErrorKind, GenerateOptions, Resource, Rule, Rules, SCOPE_ACCOUNT,
    SCOPE_PUBLIC, TokenRequest,
};

/// How long a token given no lifetime may take to be refused as expired (expiry is counted in
/// whole seconds, as in JWTs).
const EXPIRY: Duration = Duration::from_secs(5);

/// Runs the checks every backend passes, noop included.
pub async fn run(auth: Arc<dyn Auth>) {
    has_a_name(&*auth);
    generate_keeps_what_the_options_say(&*auth).await;
    credentials_get_tokens_that_inspect_accepts(&*auth).await;
    a_refresh_token_gets_a_new_token(&*auth).await;
}

/// Runs the checks of backends whose tokens prove an account: everything but noop.
pub async fn run_enforcing(auth: Arc<dyn Auth>) {
    tokens_carry_the_account(&*auth).await;
    bad_tokens_are_invalid(&*auth).await;
    a_secret_gets_tokens_only_for_its_own_account(&*auth).await;
    access_tokens_expire_and_refresh_tokens_outlive_them(&*auth).await;
}

/// Runs every check against `rules`, revoking whatever rules it holds: give it its own.
pub fn run_rules(rules: Arc<dyn Rules>) {
    no_rule_means_no_access(&*rules);
    grant_replaces_by_id_and_revoke_removes(&*rules);
    scopes_decide_who_a_rule_speaks_for(&*rules);
    the_highest_priority_decides(&*rules);
}

/// A unique account id for `check`.
fn id(check: &str) -> String {
    format!(
        "conformance-{check}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

fn options() -> GenerateOptions {
    GenerateOptions {
        account_type: "service".into(),
        scopes: vec!["service".into(), "billing".into()],
        metadata: HashMap::from([("zone".to_owned(), "eu-1".to_owned())]),
        ..GenerateOptions::default()
    }
}

/// Generates the account `id` with [`options`], or panics.
async fn generate(auth: &dyn Auth, id: &str) -> Account {
    auth.generate(id, options())
        .await
        .unwrap_or_else(|err| panic!("auth conformance: generate `{id}` failed: {err}"))
}

fn has_a_name(auth: &dyn Auth) {
    let name = auth.name();
    assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
        "auth conformance: the name `{name}` is not what --auth takes (lowercase)"
    );
}

async fn generate_keeps_what_the_options_say(auth: &dyn Auth) {
    let id = id("generate");
    let account = generate(auth, &id).await;
    let expected = options();
    assert_eq!(account.id, id, "auth conformance: generate changed the id");
    assert_eq!(
        account.account_type, expected.account_type,
        "auth conformance: generate lost the account type"
    );
    assert_eq!(
        account.scopes, expected.scopes,
        "auth conformance: generate lost the scopes"
    );
    assert_eq!(
        account.metadata, expected.metadata,
        "auth conformance: generate lost the metadata"
    );
}

async fn credentials_get_tokens_that_inspect_accepts(auth: &dyn Auth) {
    let id = id("credentials");
    let account = generate(auth, &id).await;
    let lifetime = Duration::from_secs(120);
    let token = auth
        .token(TokenRequest::credentials(&id, &account.secret).expiry(lifetime))
        .await
        .unwrap_or_else(|err| {
            panic!("auth conformance: a generated account's secret got no token: {err}")
        });
    let granted = token
        .expiry
        .duration_since(token.created)
        .unwrap_or_default();
    assert!(
        granted.abs_diff(lifetime) <= Duration::from_secs(2),
        "auth conformance: asked for a {lifetime:?} token, got one for {granted:?}"
    );
    assert!(
        token.remaining() > Duration::ZERO,
        "auth conformance: a new token has already expired"
    );
    if let Err(err) = auth.inspect(&token.access_token).await {
        panic!("auth conformance: inspect refused a token the backend just issued: {err}");
    }
}

async fn a_refresh_token_gets_a_new_token(auth: &dyn Auth) {
    let id = id("refresh");
    let account = generate(auth, &id).await;
    let token = auth
        .token(TokenRequest::credentials(&id, &account.secret))
        .await
        .unwrap_or_else(|err| panic!("auth conformance: no token for credentials: {err}"));
    let refreshed = auth
        .token(TokenRequest::refresh(&token.refresh_token))
        .await
        .unwrap_or_else(|err| panic!("auth conformance: the refresh token got no token: {err}"));
    if let Err(err) = auth.inspect(&refreshed.access_token).await {
        panic!("auth conformance: inspect refused a refreshed token: {err}");
    }
}

async fn tokens_carry_the_account(auth: &dyn Auth) {
    let id = id("carry");
    let account = generate(auth, &id).await;
    assert!(
        !account.secret.is_empty(),
        "auth conformance: a generated account has no secret"
    );
    let token = auth
        .token(TokenRequest::credentials(&id, &account.secret))
        .await
        .unwrap_or_else(|err| panic!("auth conformance: no token for credentials: {err}"));
    assert_ne!(
        token.access_token, token.refresh_token,
        "auth conformance: the refresh token is the access token"
    );
    let from_secret = auth.inspect(&account.secret).await;
    let from_access = auth.inspect(&token.access_token).await;
    let from_refresh = auth.inspect(&token.refresh_token).await;
    for (what, inspected) in [
        ("secret", from_secret),
        ("access token", from_access),
        ("refresh token", from_refresh),
    ] {
        let inspected = inspected
            .unwrap_or_else(|err| panic!("auth conformance: inspect refused the {what}: {err}"));
        let expected = Account {
            secret: String::new(),
            ..account.clone()
        };
        assert_eq!(
            inspected, expected,
            "auth conformance: the {what} does not carry the generated account"
        );
    }
}

async fn bad_tokens_are_invalid(auth: &dyn Auth) {
    for token in ["", "garbage", "a.b.c"] {
        match auth.inspect(token).await {
            Ok(account) => panic!(
                "auth conformance: inspect accepted the token `{token}` as `{}`",
                account.id
            ),
            Err(err) => assert_eq!(
                err.kind(),
                ErrorKind::InvalidToken,
                "auth conformance: inspect(`{token}`) failed with the wrong kind: {err}"
            ),
        }
    }
    let refused = auth.token(TokenRequest::refresh("garbage")).await;
    assert!(
        refused.is_err(),
        "auth conformance: a garbage refresh token got a token"
    );
}

async fn a_secret_gets_tokens_only_for_its_own_account(auth: &dyn Auth) {
    let alice = id("alice");
    let bob = id("bob");
    let account = generate(auth, &alice).await;
    let err = auth
        .token(TokenRequest::credentials(&bob, &account.secret))
        .await
        .err()
        .unwrap_or_else(|| panic!("auth conformance: `{alice}`'s secret got a token for `{bob}`"));
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidToken,
        "auth conformance: another account's secret failed with the wrong kind: {err}"
    );
}

async fn access_tokens_expire_and_refresh_tokens_outlive_them(auth: &dyn Auth) {
    let id = id("expiry");
    let account = generate(auth, &id).await;
    let token = auth
        .token(TokenRequest::credentials(&id, &account.secret).expiry(Duration::ZERO))
        .await
        .unwrap_or_else(|err| panic!("auth conformance: no token for credentials: {err}"));
    let deadline = Instant::now() + EXPIRY;
    loop {
        match auth.inspect(&token.access_token).await {
            Err(err) if err.kind() == ErrorKind::Expired => break,
            Err(err) => {
                panic!("auth conformance: an expired token failed with the wrong kind: {err}")
            }
            Ok(_) => assert!(
                Instant::now() < deadline,
                "auth conformance: a token given no lifetime was still accepted after {EXPIRY:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshed = auth
        .token(TokenRequest::refresh(&token.refresh_token))
        .await;
    if let Err(err) = refreshed {
        panic!("auth conformance: the refresh token died with its access token: {err}");
    }
}

/// An account holding `scopes`.
fn holder(scopes: &[&str]) -> Account {
    Account {
        id: "conformance".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..Account::default()
    }
}

fn endpoint(endpoint: &str) -> Resource {
    Resource::service("conformance", endpoint)
}

/// Asserts whether `account` may reach `resource` under `rules`, saying `why` otherwise.
fn check(
    rules: &dyn Rules,
    account: Option<&Account>,
    resource: &Resource,
    allowed: bool,
    why: &str,
) {
    match (rules.verify(account, resource), allowed) {
        (Ok(()), true) => {}
        (Err(err), false) => assert_eq!(
            err.kind(),
            ErrorKind::Forbidden,
            "auth conformance: a denial has the wrong kind: {err}"
        ),
        (Ok(()), false) => panic!("auth conformance: access granted, but {why}"),
        (Err(err), true) => panic!("auth conformance: access denied ({err}), but {why}"),
    }
}

/// Revokes every rule, so that each check starts empty.
fn clear(rules: &dyn Rules) {
    for rule in rules.list() {
        if let Err(err) = rules.revoke(&rule.id) {
            panic!("auth conformance: cannot revoke `{}`: {err}", rule.id);
        }
    }
}

fn grant(rules: &dyn Rules, rule: Rule) {
    let id = rule.id.clone();
    if let Err(err) = rules.grant(rule) {
        panic!("auth conformance: cannot grant `{id}`: {err}");
    }
}

fn no_rule_means_no_access(rules: &dyn Rules) {
    clear(rules);
    check(rules, None, &endpoint("A.B"), false, "there are no rules");
    let anyone = holder(&["service"]);
    check(
        rules,
        Some(&anyone),
        &endpoint("A.B"),
        false,
        "there are no rules",
    );
}

fn grant_replaces_by_id_and_revoke_removes(rules: &dyn Rules) {
    clear(rules);
    grant(rules, Rule::grant("one", SCOPE_ACCOUNT, endpoint("A.B")));
    grant(rules, Rule::deny("one", SCOPE_ACCOUNT, endpoint("A.B")));
    grant(rules, Rule::grant("two", SCOPE_ACCOUNT, endpoint("A.C")));
    let listed = rules.list();
    let one: Vec<&Rule> = listed.iter().filter(|rule| rule.id == "one").collect();
    assert_eq!(
        one.len(),
        1,
        "auth conformance: granting an id twice left {} rules with it",
        one.len()
    );
    assert_eq!(
        one[0].access,
        Access::Deny,
        "auth conformance: granting an id again did not replace the rule"
    );
    assert_eq!(listed.len(), 2, "auth conformance: list has {listed:?}");
    if let Err(err) = rules.revoke("one") {
        panic!("auth conformance: cannot revoke `one`: {err}");
    }
    if let Err(err) = rules.revoke("never-granted") {
        panic!("auth conformance: revoking an unknown id failed: {err}");
    }
    let ids: Vec<String> = rules.list().into_iter().map(|rule| rule.id).collect();
    assert_eq!(
        ids,
        ["two"],
        "auth conformance: after revoke, list has {ids:?}"
    );
}

fn scopes_decide_who_a_rule_speaks_for(rules: &dyn Rules) {
    clear(rules);
    grant(
        rules,
        Rule::grant("public", SCOPE_PUBLIC, endpoint("Public.Call")),
    );
    grant(
        rules,
        Rule::grant("accounts", SCOPE_ACCOUNT, endpoint("Accounts.Call")),
    );
    grant(
        rules,
        Rule::grant("billing", "billing", endpoint("Billing.*")),
    );
    let billing = holder(&["billing"]);
    let other = holder(&["other"]);
    check(
        rules,
        None,
        &endpoint("Public.Call"),
        true,
        "the public scope lets anyone in",
    );
    check(
        rules,
        None,
        &endpoint("Accounts.Call"),
        false,
        "`*` needs an account",
    );
    check(
        rules,
        Some(&other),
        &endpoint("Accounts.Call"),
        true,
        "`*` lets any account in",
    );
    check(
        rules,
        Some(&billing),
        &endpoint("Billing.Charge"),
        true,
        "the account holds `billing`",
    );
    check(
        rules,
        Some(&other),
        &endpoint("Billing.Charge"),
        false,
        "the account lacks `billing`",
    );
    check(
        rules,
        None,
        &endpoint("Billing.Charge"),
        false,
        "no token holds `billing`",
    );
}

fn the_highest_priority_decides(rules: &dyn Rules) {
    clear(rules);
    let everything = endpoint("*");
    grant(
        rules,
        Rule::grant("open", SCOPE_ACCOUNT, everything.clone()),
    );
    grant(
        rules,
        Rule::deny("closed", SCOPE_ACCOUNT, endpoint("Admin.Delete")).priority(10),
    );
    let account = holder(&["service"]);
    check(
        rules,
        Some(&account),
        &endpoint("Admin.Read"),
        true,
        "`open` grants it",
    );
    check(
        rules,
        Some(&account),
        &endpoint("Admin.Delete"),
        false,
        "`closed` has the higher priority",
    );
    grant(
        rules,
        Rule::grant("reopened", SCOPE_ACCOUNT, endpoint("Admin.Delete")).priority(20),
    );
    check(
        rules,
        Some(&account),
        &endpoint("Admin.Delete"),
        true,
        "`reopened` outranks `closed`",
    );
    clear(rules);
}
