#![no_main]
//! Auth rules: go-micro's rules-file JSON (`[{"ID","Scope","Resource":{"Type","Name",
//! "Endpoint"},"Access","Priority"}]`, keys in either case, access as 0/1 or "grant"/"deny"),
//! as `MemoryRules::from_file` reads it, and `auth::verify` deciding calls with them.
//!
//! Input: the rules JSON, a NUL byte, then `type\nname\nendpoint\nscope,scope…` (no fourth
//! line: a caller without an account).
//! Invariants: no panic; rules that decode encode to JSON that decodes to the same rules; a deny
//! of everything above every other priority refuses the call, and a grant of everything there
//! lets it through.

use libfuzzer_sys::fuzz_target;
use micro::auth::{Access, Account, Resource, Rule, verify};

fuzz_target!(|data: &[u8]| {
    let (rules, call) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(text) = std::str::from_utf8(rules) else {
        return;
    };
    let Ok(rules) = serde_json::from_str::<Vec<Rule>>(text) else {
        return;
    };
    let json = serde_json::to_string(&rules).expect("rules encode");
    let again: Vec<Rule> =
        serde_json::from_str(&json).unwrap_or_else(|err| panic!("{json} does not decode: {err}"));
    assert_eq!(rules, again, "the rules JSON round trip changed the rules");

    let call = String::from_utf8_lossy(call);
    let mut lines = call.split('\n');
    let mut field = || lines.next().unwrap_or_default().to_owned();
    let resource = Resource {
        resource_type: field(),
        name: field(),
        endpoint: field(),
    };
    let account = lines.next().map(|scopes| Account {
        id: "fuzz".into(),
        scopes: scopes.split(',').map(str::to_owned).collect(),
        ..Account::default()
    });
    let _ = verify(&rules, account.as_ref(), &resource);

    // Everything, for everyone, above every other rule.
    let top = rules
        .iter()
        .map(|r| r.priority)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    if top == i32::MAX && rules.iter().any(|r| r.priority == i32::MAX) {
        return;
    }
    let everything = Resource {
        resource_type: "*".into(),
        name: "*".into(),
        endpoint: "*".into(),
    };
    for (access, allowed) in [(Access::Deny, false), (Access::Grant, true)] {
        let mut decided = rules.clone();
        decided.push(Rule {
            id: "fuzz-top".into(),
            scope: String::new(),
            resource: everything.clone(),
            access,
            priority: top,
        });
        assert_eq!(
            verify(&decided, account.as_ref(), &resource).is_ok(),
            allowed,
            "a {access:?} of everything at the top priority did not decide {resource:?}"
        );
    }
});
