//! Every auth backend passes the auth conformance suite, and the memory rules pass the rules
//! suite.

use std::sync::Arc;

use micro::auth::{MemoryRules, NoopAuth, conformance};

#[tokio::test]
async fn noop_auth_conformance() {
    conformance::run(Arc::new(NoopAuth::new("micro"))).await;
}

#[cfg(feature = "auth-jwt")]
#[tokio::test]
async fn jwt_auth_conformance() {
    let auth = Arc::new(micro::auth::JwtAuth::generate_keys("micro").unwrap());
    conformance::run(auth.clone()).await;
    conformance::run_enforcing(auth).await;
}

#[test]
fn memory_rules_conformance() {
    conformance::run_rules(Arc::new(MemoryRules::new()));
}
