//! Tokens already verified, so a client reusing its token for a minute costs one RSA
//! verification rather than one per call.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Account;

/// How many tokens are remembered; past that, expired ones are dropped, then all.
const CAPACITY: usize = 4096;

/// Verified tokens and their accounts, until the tokens expire.
#[derive(Debug, Default)]
pub(super) struct Verified {
    tokens: RwLock<HashMap<Box<str>, Entry>>,
}

#[derive(Debug)]
struct Entry {
    account: Account,
    /// Seconds since the epoch after which the token is refused (JWT `exp`).
    expiry: u64,
}

impl Verified {
    /// The account of `token` if it was verified and has not expired since.
    pub(super) fn get(&self, token: &str) -> Option<Account> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let entry = tokens.get(token)?;
        (now() <= entry.expiry).then(|| entry.account.clone())
    }

    /// Remembers that `token` speaks for `account` until `expiry`.
    pub(super) fn insert(&self, token: &str, account: &Account, expiry: u64) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= CAPACITY {
            let now = now();
            tokens.retain(|_, entry| now <= entry.expiry);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        let account = account.clone();
        tokens.insert(token.into(), Entry { account, expiry });
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_expiry_and_stays_bounded() {
        let verified = Verified::default();
        let alice = Account {
            id: "alice".into(),
            ..Account::default()
        };
        verified.insert("live", &alice, now() + 60);
        verified.insert("dead", &alice, now() - 1);
        assert_eq!(verified.get("live").unwrap().id, "alice");
        assert!(verified.get("dead").is_none());
        assert!(verified.get("unknown").is_none());
        for n in 0..CAPACITY + 10 {
            verified.insert(&n.to_string(), &alice, now() + 60);
        }
        assert!(verified.tokens.read().unwrap().len() <= CAPACITY);
    }
}
