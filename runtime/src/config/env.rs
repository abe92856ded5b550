//! The environment as a source: `DATABASE_ADDRESS=db:5432` → `{"database": {"address": "db:5432"}}`.

use serde_json::{Map, Value};

use super::tree::{insert, name_to_keys, typed_scalar};
use super::{BoxFuture, Error, Source};

/// Environment variables, filtered by prefix, as nested keys: names are lowercased and split
/// on `_`; values are typed integer → bool → string, as in go-micro. Read once per load; it is
/// not watched.
#[derive(Debug, Clone, Default)]
pub struct Env {
    prefixes: Vec<String>,
    stripped: Vec<String>,
    vars: Option<Vec<(String, String)>>,
}

impl Env {
    /// Every variable of the process.
    pub fn new() -> Env {
        Env::default()
    }

    /// Also keeps variables starting with `prefix` (an `_` is added), the prefix becoming the
    /// first key: `MICRO_SERVER_PORT` → `micro.server.port` (go-micro's `WithPrefix`).
    pub fn prefix(mut self, prefix: &str) -> Env {
        self.prefixes.push(with_underscore(prefix));
        self
    }

    /// Also keeps variables starting with `prefix` (an `_` is added), without it:
    /// `MICRO_SERVER_PORT` → `server.port` (go-micro's `WithStrippedPrefix`).
    pub fn strip_prefix(mut self, prefix: &str) -> Env {
        self.stripped.push(with_underscore(prefix));
        self
    }

    /// Reads these variables instead of the process environment (tests, embedding).
    pub fn vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        self.vars = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// The name as it becomes a key, or `None` when a prefix filter leaves it out.
    fn key_name<'a>(&self, name: &'a str) -> Option<&'a str> {
        if self.prefixes.is_empty() && self.stripped.is_empty() {
            return Some(name);
        }
        if let Some(rest) = self
            .stripped
            .iter()
            .find_map(|p| name.strip_prefix(p.as_str()))
        {
            return Some(rest);
        }
        self.prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
            .then_some(name)
    }

    /// The tree of the variables.
    pub(crate) fn tree(&self) -> Value {
        let mut vars: Vec<(String, String)> = match &self.vars {
            Some(vars) => vars.clone(),
            // Names or values that are not UTF-8 cannot be config; skip them.
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        };
        // Sorted, so that `A=x` and `A_B=y` give the same tree whatever the order: `a.b` wins.
        vars.sort();
        let mut tree = Value::Object(Map::new());
        for (name, value) in &vars {
            let Some(name) = self.key_name(name) else {
                continue;
            };
            let keys = name_to_keys(name, &['_']);
            if !keys.is_empty() {
                insert(
                    &mut tree,
                    keys.iter().map(String::as_str),
                    typed_scalar(value),
                );
            }
        }
        tree
    }
}

fn with_underscore(prefix: &str) -> String {
    if prefix.ends_with('_') {
        prefix.to_owned()
    } else {
        format!("{prefix}_")
    }
}

impl Source for Env {
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>> {
        Box::pin(async move { Ok(self.tree()) })
    }

    fn describe(&self) -> String {
        "environment".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const VARS: [(&str, &str); 5] = [
        ("MICRO_SERVER_PORT", "9090"),
        ("MICRO_DEBUG", "true"),
        ("DATABASE_ADDRESS", "db:5432"),
        ("DATABASE", "ignored-by-nesting"),
        ("PATH", "/bin"),
    ];

    #[test]
    fn everything_nested_and_typed_without_a_prefix() {
        let tree = Env::new().vars(VARS).tree();
        assert_eq!(tree["micro"]["server"]["port"], json!(9090));
        assert_eq!(tree["micro"]["debug"], json!(true));
        assert_eq!(tree["database"], json!({"address": "db:5432"}));
        assert_eq!(tree["path"], json!("/bin"));
    }

    #[test]
    fn prefixes_filter_and_stripped_prefixes_also_drop_it() {
        let kept = Env::new().prefix("MICRO").vars(VARS).tree();
        assert_eq!(
            kept,
            json!({"micro": {"server": {"port": 9090}, "debug": true}})
        );
        let stripped = Env::new().strip_prefix("MICRO_").vars(VARS).tree();
        assert_eq!(stripped, json!({"server": {"port": 9090}, "debug": true}));
        let both = Env::new()
            .strip_prefix("MICRO")
            .prefix("DATABASE")
            .vars(VARS)
            .tree();
        assert_eq!(both["server"]["port"], json!(9090));
        assert_eq!(both["database"]["address"], json!("db:5432"));
        assert!(both.get("path").is_none());
    }
}
