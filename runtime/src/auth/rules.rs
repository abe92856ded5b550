//! Access rules and go-micro's verify algorithm, extended with `Handler.*` endpoint wildcards.

use std::path::Path;
use std::sync::RwLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Account, Error, ErrorKind, Rules, SCOPE_ACCOUNT, SCOPE_PUBLIC};

/// What is being accessed: for calls, `{type: "service", name: <service>, endpoint:
/// <Handler.Method>}`. Rules match each field exactly (ignoring case) or with `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// `service` for calls.
    #[serde(rename = "Type", alias = "type")]
    pub resource_type: String,
    /// The service's name.
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    /// The endpoint, `Handler.Method`. In rules, `Handler.*` and `a/b/*` match all below.
    #[serde(rename = "Endpoint", alias = "endpoint")]
    pub endpoint: String,
}

impl Resource {
    /// The endpoint `endpoint` of the service `name`.
    pub fn service(name: &str, endpoint: &str) -> Resource {
        Resource {
            resource_type: "service".into(),
            name: name.into(),
            endpoint: endpoint.into(),
        }
    }
}

/// Whether a rule lets the call through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Let it through (go-micro's `AccessGranted`, 0).
    Grant,
    /// Refuse it (go-micro's `AccessDenied`, 1).
    Deny,
}

/// Who (`scope`) may or may not (`access`) reach what (`resource`); of the rules matching a
/// call, the highest `priority` decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Names the rule, to replace or revoke it.
    #[serde(rename = "ID", alias = "id")]
    pub id: String,
    /// `""`: everyone, even without a token; `"*"`: any account; else accounts holding it.
    #[serde(rename = "Scope", alias = "scope", default)]
    pub scope: String,
    /// What the rule covers.
    #[serde(rename = "Resource", alias = "resource")]
    pub resource: Resource,
    /// Grant or deny.
    #[serde(rename = "Access", alias = "access")]
    pub access: Access,
    /// Higher first.
    #[serde(rename = "Priority", alias = "priority", default)]
    pub priority: i32,
}

impl Rule {
    /// Grants `scope` access to `resource`.
    pub fn grant(id: &str, scope: &str, resource: Resource) -> Rule {
        Rule {
            id: id.into(),
            scope: scope.into(),
            resource,
            access: Access::Grant,
            priority: 0,
        }
    }

    /// Denies `scope` access to `resource`.
    pub fn deny(id: &str, scope: &str, resource: Resource) -> Rule {
        Rule {
            access: Access::Deny,
            ..Rule::grant(id, scope, resource)
        }
    }

    /// With this priority.
    pub fn priority(mut self, priority: i32) -> Rule {
        self.priority = priority;
        self
    }

    /// Whether the rule covers `resource`.
    fn covers(&self, resource: &Resource) -> bool {
        let wanted = &self.resource;
        let matches =
            |pattern: &str, value: &str| pattern == "*" || pattern.eq_ignore_ascii_case(value);
        matches(&wanted.resource_type, &resource.resource_type)
            && matches(&wanted.name, &resource.name)
            && endpoint_matches(&wanted.endpoint, &resource.endpoint)
    }

    /// Whether the rule speaks for `account` (`None`: a caller without a token).
    fn applies_to(&self, account: Option<&Account>) -> bool {
        match (self.scope.as_str(), account) {
            (SCOPE_PUBLIC, _) => true,
            (_, None) => false,
            (SCOPE_ACCOUNT, Some(_)) => true,
            (scope, Some(account)) => account
                .scopes
                .iter()
                .any(|held| held.eq_ignore_ascii_case(scope)),
        }
    }
}

/// Whether a rule's endpoint `pattern` covers `endpoint`: `*`, the endpoint itself, or a
/// wildcard ending a prefix at a `/` or `.` (`a/*`, `a/b/*`, `Handler.*`); ignoring case.
fn endpoint_matches(pattern: &str, endpoint: &str) -> bool {
    if pattern == "*" || pattern.eq_ignore_ascii_case(endpoint) {
        return true;
    }
    let Some(prefix) = pattern.strip_suffix('*') else {
        return false;
    };
    prefix.ends_with(['/', '.'])
        && endpoint.len() > prefix.len()
        && endpoint.is_char_boundary(prefix.len())
        && endpoint[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// go-micro's `auth.Verify`: of the rules covering `resource`, highest priority first, the first
/// that applies to `account` grants or denies; if none does, access is denied.
pub fn verify(rules: &[Rule], account: Option<&Account>, resource: &Resource) -> Result<(), Error> {
    // One pass: the highest priority among the rules that cover and apply, the earliest of
    // equals (what go-micro's stable sort and first match pick).
    let mut decided: Option<&Rule> = None;
    for rule in rules {
        let better = decided.is_none_or(|best| rule.priority > best.priority);
        if better && rule.covers(resource) && rule.applies_to(account) {
            decided = Some(rule);
        }
    }
    match decided {
        Some(rule) if rule.access == Access::Grant => Ok(()),
        Some(rule) => Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "access denied to {} by rule `{}`",
                resource.endpoint, rule.id
            ),
        )),
        None => Err(Error::new(
            ErrorKind::Forbidden,
            format!("access denied to {}: no rule grants it", resource.endpoint),
        )),
    }
}

/// Rules held in memory, optionally loaded from a JSON file of go-micro rules.
#[derive(Debug, Default)]
pub struct MemoryRules {
    rules: RwLock<Vec<Rule>>,
}

impl MemoryRules {
    /// No rules: every call is denied until some are granted.
    pub fn new() -> MemoryRules {
        MemoryRules::default()
    }

    /// One rule, `default`: any account may call anything (what micro grants out of the box).
    pub fn any_account() -> MemoryRules {
        let everything = Resource {
            resource_type: "*".into(),
            name: "*".into(),
            endpoint: "*".into(),
        };
        MemoryRules::from_rules(vec![Rule::grant("default", SCOPE_ACCOUNT, everything)])
    }

    /// These rules.
    pub fn from_rules(rules: Vec<Rule>) -> MemoryRules {
        MemoryRules {
            rules: RwLock::new(rules),
        }
    }

    /// The rules in a JSON file: an array of go-micro rules
    /// (`{"ID", "Scope", "Resource": {"Type", "Name", "Endpoint"}, "Access", "Priority"}`, keys
    /// in any case, `Access` as 0/1 or `"grant"`/`"deny"`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<MemoryRules, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::config(format!(
                "cannot read the rules file {}: {err}",
                path.display()
            ))
        })?;
        let rules: Vec<Rule> = serde_json::from_str(&text).map_err(|err| {
            Error::config(format!(
                "the rules file {} is not a JSON array of rules: {err}",
                path.display()
            ))
        })?;
        Ok(MemoryRules::from_rules(rules))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Rule>> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Rule>> {
        self.rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Rules for MemoryRules {
    fn grant(&self, rule: Rule) -> Result<(), Error> {
        let mut rules = self.write();
        rules.retain(|existing| existing.id != rule.id);
        rules.push(rule);
        Ok(())
    }

    fn revoke(&self, id: &str) -> Result<(), Error> {
        self.write().retain(|rule| rule.id != id);
        Ok(())
    }

    fn list(&self) -> Vec<Rule> {
        self.read().clone()
    }

    fn verify(&self, account: Option<&Account>, resource: &Resource) -> Result<(), Error> {
        verify(&self.read(), account, resource)
    }
}

impl Serialize for Access {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Access::Grant => 0,
            Access::Deny => 1,
        })
    }
}

impl<'de> Deserialize<'de> for Access {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Access, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u8),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(0) => Ok(Access::Grant),
            Raw::Number(1) => Ok(Access::Deny),
            Raw::Text(text) if text.eq_ignore_ascii_case("grant") => Ok(Access::Grant),
            Raw::Text(text) if text.eq_ignore_ascii_case("deny") => Ok(Access::Deny),
            _ => Err(serde::de::Error::custom(
                "access must be 0 or \"grant\", 1 or \"deny\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(scopes: &[&str]) -> Account {
        Account {
            id: "alice".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Account::default()
        }
    }

    fn resource(endpoint: &str) -> Resource {
        Resource::service("billing", endpoint)
    }

    fn any(endpoint: &str) -> Resource {
        Resource {
            resource_type: "*".into(),
            name: "*".into(),
            endpoint: endpoint.into(),
        }
    }

    #[test]
    fn no_rule_means_no_access() {
        let err = verify(&[], Some(&account(&[])), &resource("Billing.Pay")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        assert!(err.to_string().contains("no rule grants"), "{err}");
    }

    #[test]
    fn scopes_decide_who_a_rule_speaks_for() {
        let rules = [Rule::grant("admins", "admin", any("*"))];
        assert!(verify(&rules, Some(&account(&["ADMIN"])), &resource("Billing.Pay")).is_ok());
        assert!(verify(&rules, Some(&account(&["user"])), &resource("Billing.Pay")).is_err());
        assert!(verify(&rules, None, &resource("Billing.Pay")).is_err());
        let anyone = [Rule::grant("accounts", SCOPE_ACCOUNT, any("*"))];
        assert!(verify(&anyone, Some(&account(&[])), &resource("Billing.Pay")).is_ok());
        assert!(verify(&anyone, None, &resource("Billing.Pay")).is_err());
        let public = [Rule::grant("public", SCOPE_PUBLIC, any("*"))];
        assert!(verify(&public, None, &resource("Billing.Pay")).is_ok());
    }

    #[test]
    fn a_higher_priority_deny_beats_a_grant() {
        let rules = [
            Rule::grant("all", SCOPE_ACCOUNT, any("*")),
            Rule::deny("no-refunds", SCOPE_ACCOUNT, any("Billing.Refund")).priority(10),
        ];
        let alice = account(&[]);
        assert!(verify(&rules, Some(&alice), &resource("Billing.Pay")).is_ok());
        let err = verify(&rules, Some(&alice), &resource("billing.refund")).unwrap_err();
        assert!(err.to_string().contains("no-refunds"), "{err}");
        let lower = [
            Rule::deny("no-refunds", SCOPE_ACCOUNT, any("Billing.Refund")).priority(-1),
            rules[0].clone(),
        ];
        assert!(verify(&lower, Some(&alice), &resource("Billing.Refund")).is_ok());
    }

    #[test]
    fn endpoint_wildcards_cover_what_is_below() {
        let rules = [
            Rule::grant("billing", SCOPE_ACCOUNT, any("Billing.*")),
            Rule::grant("api", SCOPE_ACCOUNT, any("/api/*")),
        ];
        let alice = account(&[]);
        assert!(verify(&rules, Some(&alice), &resource("Billing.Pay")).is_ok());
        assert!(verify(&rules, Some(&alice), &resource("/api/v1/pay")).is_ok());
        assert!(verify(&rules, Some(&alice), &resource("Shipping.Send")).is_err());
        assert!(verify(&rules, Some(&alice), &resource("/apiary")).is_err());
    }

    #[test]
    fn rules_match_type_and_name() {
        let rules = [Rule::grant(
            "billing-only",
            SCOPE_ACCOUNT,
            Resource::service("Billing", "*"),
        )];
        let alice = account(&[]);
        assert!(verify(&rules, Some(&alice), &resource("Billing.Pay")).is_ok());
        let shipping = Resource::service("shipping", "Billing.Pay");
        assert!(verify(&rules, Some(&alice), &shipping).is_err());
        let topic = Resource {
            resource_type: "topic".into(),
            ..resource("Billing.Pay")
        };
        assert!(verify(&rules, Some(&alice), &topic).is_err());
    }

    #[test]
    fn rules_files_take_go_micros_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.json");
        std::fs::write(
            &path,
            r#"[{"ID":"public-health","Scope":"","Resource":{"Type":"service","Name":"*","Endpoint":"Health.*"},"Access":0,"Priority":1},
                {"id":"deny-all","scope":"*","resource":{"type":"*","name":"*","endpoint":"*"},"access":"deny"}]"#,
        )
        .unwrap();
        let rules = MemoryRules::from_file(&path).unwrap();
        assert_eq!(rules.list().len(), 2);
        assert!(rules.verify(None, &resource("Health.Check")).is_ok());
        assert!(
            rules
                .verify(Some(&account(&[])), &resource("Billing.Pay"))
                .is_err()
        );
        rules.revoke("deny-all").unwrap();
        rules
            .grant(Rule::grant("deny-all", SCOPE_ACCOUNT, any("*")))
            .unwrap();
        assert!(
            rules
                .verify(Some(&account(&[])), &resource("Billing.Pay"))
                .is_ok()
        );
        let json = serde_json::to_value(rules.list()).unwrap();
        assert_eq!(json[0]["Resource"]["Endpoint"], "Health.*");
        assert_eq!(json[0]["Access"], 0);

        std::fs::write(&path, r#"[{"ID":"x","Access":"maybe"}]"#).unwrap();
        let err = MemoryRules::from_file(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("rules.json"), "{err}");
    }
}
