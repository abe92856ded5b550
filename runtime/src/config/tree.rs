//! Config trees (`serde_json::Value` objects): deep merge, dotted paths, nesting of flat names,
//! scalar typing, and lenient typed decoding.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Error;

/// How many scalars [`decode`] converts (string ↔ number/bool) before giving up.
const MAX_COERCIONS: usize = 256;

/// Merges `from` into `into`: objects merge key by key, anything else in `from` replaces.
pub(crate) fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

/// The segments of a dotted path; `""` is the root.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|segment| !segment.is_empty())
}

/// The value at a dotted `path` (`server.port`, `peers.0.address`); `""` is the whole tree.
pub(crate) fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).try_fold(tree, |node, segment| match node {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Sets `value` at the nested `keys` of `tree`, turning scalars in the way into objects, and
/// merging when something is there already.
pub(crate) fn insert<'k>(tree: &mut Value, keys: impl IntoIterator<Item = &'k str>, value: Value) {
    let mut node = tree;
    for key in keys {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map.entry(key).or_insert(Value::Null);
    }
    if node.is_null() {
        *node = value;
    } else {
        merge(node, value);
    }
}

/// A flat name (`DATABASE_ADDRESS`, `server-port`) as nested keys: lowercased, split on the
/// `separators`, empty parts dropped.
pub(crate) fn name_to_keys(name: &str, separators: &[char]) -> Vec<String> {
    name.to_lowercase()
        .split(separators)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A string from the environment or a flag, typed like go-micro: integer, then bool, then the
/// string itself. (Floats stay strings; [`decode`] reads them as numbers when asked.)
pub(crate) fn typed_scalar(raw: &str) -> Value {
    if let Ok(int) = raw.parse::<i64>() {
        return Value::from(int);
    }
    match raw {
        "true" | "TRUE" | "True" => Value::Bool(true),
        "false" | "FALSE" | "False" => Value::Bool(false),
        _ => Value::String(raw.to_owned()),
    }
}

/// `value` (found at `path`) as a `T`. Scalars are converted where the type asks for it: a
/// string `"8080"` reads as a number and the number `1` as the string `"1"`, at any depth.
pub(crate) fn decode<T: DeserializeOwned>(path: &str, value: &Value) -> Result<T, Error> {
    let mut value = value.clone();
    // Each scalar is converted at most once; a second failure there reports the first.
    let mut converted: Vec<(String, String)> = Vec::new();
    for _ in 0..MAX_COERCIONS {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(decoded) => return Ok(decoded),
            Err(err) => err,
        };
        let at = join(path, &err.path().to_string());
        if let Some((_, first)) = converted.iter().find(|(seen, _)| *seen == at) {
            return Err(Error::wrong_type::<T>(&at, first));
        }
        let inner = err.path().iter().try_fold(&mut value, |node, segment| {
            use serde_path_to_error::Segment;
            match (segment, node) {
                (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
                (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
                _ => None,
            }
        });
        if !inner.is_some_and(coerce) {
            return Err(Error::wrong_type::<T>(&at, err.inner()));
        }
        converted.push((at, err.inner().to_string()));
    }
    Err(Error::wrong_type::<T>(
        path,
        "too many values of the wrong type",
    ))
}

/// `path` and a path inside it, as one dotted path.
fn join(path: &str, inner: &str) -> String {
    match (path.is_empty(), inner == ".") {
        (_, true) => path.to_owned(),
        (true, false) => inner.to_owned(),
        (false, false) => format!("{path}.{inner}"),
    }
}

/// Converts a scalar to its other form (string ↔ number/bool); `false` when there is none.
fn coerce(value: &mut Value) -> bool {
    let converted = match value {
        Value::String(text) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(parsed @ (Value::Number(_) | Value::Bool(_))) => parsed,
            _ => return false,
        },
        Value::Number(number) => Value::String(number.to_string()),
        Value::Bool(flag) => Value::String(flag.to_string()),
        _ => return false,
    };
    *value = converted;
    true
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::config::ErrorKind;

    #[test]
    fn later_wins_and_objects_merge_deeply() {
        let mut tree = json!({"server": {"port": 1, "name": "a"}, "list": [1, 2]});
        merge(&mut tree, json!({"server": {"port": 2}, "list": [3]}));
        assert_eq!(
            tree,
            json!({"server": {"port": 2, "name": "a"}, "list": [3]})
        );
        merge(&mut tree, json!({"server": "flat"}));
        assert_eq!(tree["server"], "flat");
    }

    #[test]
    fn paths_reach_objects_and_arrays() {
        let tree = json!({"peers": [{"address": "a"}], "x": {"y": 1}});
        assert_eq!(lookup(&tree, "peers.0.address"), Some(&json!("a")));
        assert_eq!(lookup(&tree, "x.y"), Some(&json!(1)));
        assert_eq!(lookup(&tree, ""), Some(&tree));
        assert_eq!(lookup(&tree, "x.y.z"), None);
        assert_eq!(lookup(&tree, "peers.9"), None);
    }

    #[test]
    fn names_nest_and_scalars_are_typed() {
        let mut tree = json!({});
        insert(&mut tree, ["database"], json!("flat"));
        let keys = name_to_keys("DATABASE_ADDRESS", &['_']);
        insert(
            &mut tree,
            keys.iter().map(String::as_str),
            typed_scalar("10.0.0.1"),
        );
        insert(&mut tree, ["database", "port"], typed_scalar("5432"));
        insert(&mut tree, ["debug"], typed_scalar("true"));
        assert_eq!(
            tree,
            json!({"database": {"address": "10.0.0.1", "port": 5432}, "debug": true})
        );
        assert_eq!(name_to_keys("__A__b_", &['_']), ["a", "b"]);
        assert_eq!(typed_scalar("-3"), json!(-3));
        assert_eq!(typed_scalar("1.5"), json!("1.5"));
    }

    #[test]
    fn decoding_converts_scalars_and_names_the_path() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Server {
            port: u16,
            version: String,
            rate: f64,
        }
        let tree = json!({"server": {"port": "8080", "version": 2, "rate": "0.5"}});
        let server: Server = decode("server", lookup(&tree, "server").unwrap()).unwrap();
        assert_eq!(
            server,
            Server {
                port: 8080,
                version: "2".into(),
                rate: 0.5
            }
        );

        let tree = json!({"server": {"port": "http", "version": "1", "rate": 1}});
        let err = decode::<Server>("server", &tree["server"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongType);
        assert!(err.to_string().contains("\"server.port\""), "{err}");
        assert!(err.to_string().contains("u16"), "{err}");
        let err = decode::<u16>("x", &json!(70000)).unwrap_err();
        assert!(err.to_string().contains("\"x\""), "{err}");
        assert!(err.to_string().contains("70000"), "{err}");
        assert_eq!(decode::<Vec<u8>>("", &json!(["1", 2])).unwrap(), [1, 2]);
    }
}
