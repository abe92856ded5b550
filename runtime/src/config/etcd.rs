//! etcd as a source, in go-micro's layout: keys under `/micro/config/` split on `/` into nested
//! keys (`/micro/config/database/address` → `database.address`), values JSON or plain strings.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use etcd_client::{Client, DeleteOptions, EventType, GetOptions, WatchOptions};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::tree::insert;
use super::{BoxFuture, Changes, Error, ErrorKind, Source};
use crate::etcd::Watch;

/// go-micro's prefix for config keys.
const PREFIX: &str = "/micro/config/";
/// How long one etcd request may take, as in go-micro.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between attempts to watch again after etcd went away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Config in etcd, watched. Connects on first use.
#[derive(Clone)]
pub struct Etcd {
    addresses: Vec<String>,
    prefix: String,
    client: crate::etcd::LazyClient,
}

/// The keys under the prefix with their values, in key order.
type Entries = BTreeMap<String, Value>;

/// What one read of the prefix gives: the entries, the revision, the values that did not parse.
type Read = (Entries, i64, Vec<Error>);

impl Etcd {
    /// The etcd cluster at `addresses` (`host:port`; none means `127.0.0.1:2379`, a missing port
    /// means 2379), with credentials from `ETCD_USERNAME`/`ETCD_PASSWORD` if set.
    pub fn new(addresses: &[String]) -> Etcd {
        let (addresses, auth) = (
            crate::etcd::endpoints(addresses),
            crate::etcd::credentials(),
        );
        Etcd {
            client: crate::etcd::LazyClient::new(addresses.clone(), auth, Some(TIMEOUT)),
            addresses,
            prefix: PREFIX.to_owned(),
        }
    }

    /// Speaks TLS with `tls`'s CA (else the system's roots) and client certificate, as the
    /// `--config-tls-*` flags give them; also on for `https://` addresses. Call before first use.
    pub fn tls(mut self, tls: crate::BackendTls) -> Etcd {
        self.client = self.client.with_tls(tls, "--config-tls");
        self
    }

    /// Reads keys under `prefix` instead of `/micro/config/` (a `/` is added).
    pub fn prefix(mut self, prefix: &str) -> Etcd {
        self.prefix = if prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        self
    }

    /// Writes `value` as JSON at the dotted `path` (`database.address` is the key
    /// `/micro/config/database/address`); watchers of the prefix see it.
    pub async fn put(&self, path: &str, value: &Value) -> Result<(), Error> {
        let key = self.key(path)?;
        let text = serde_json::to_string(value).map_err(|err| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("cannot write {path}: {err}"),
            )
        })?;
        self.request(|mut client| async move { client.put(key, text, None).await })
            .await
            .map(drop)
    }

    /// Deletes the key at the dotted `path` and every key under it; returns how many went. A
    /// value inside a parent key's JSON object is not a key of its own: set the parent instead.
    pub async fn delete(&self, path: &str) -> Result<i64, Error> {
        let key = self.key(path)?;
        let below = format!("{key}/");
        let exact = self
            .request(|mut client| async move { client.delete(key, None).await })
            .await?;
        let options = DeleteOptions::new().with_prefix();
        let nested = self
            .request(|mut client| async move { client.delete(below, Some(options)).await })
            .await?;
        Ok(exact.deleted() + nested.deleted())
    }

    /// The key of a dotted path; refuses empty segments and `/` in them.
    fn key(&self, path: &str) -> Result<String, Error> {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.iter().any(|s| s.is_empty() || s.contains('/')) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "invalid config path {path:?}: use dotted names without `/`, like \
                     database.address"
                ),
            ));
        }
        Ok(format!("{}{}", self.prefix, segments.join("/")))
    }

    fn unreachable(&self, err: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "etcd at {} unreachable: {err}; start etcd there or fix the config source's address",
                self.addresses.join(",")
            ),
        )
    }

    /// Runs one request with the timeout, mapping failures to `Unavailable`.
    async fn request<T, Fut>(&self, request: impl FnOnce(Client) -> Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let result = self.client.request(request).await;
        result.map_err(|err| self.unreachable(err))
    }

    /// Every key under the prefix and the revision read at. A value that does not parse keeps
    /// its entry in `last_good` (if any) and is returned among the errors.
    async fn entries(&self, last_good: &Entries) -> Result<Read, Error> {
        let prefix = self.prefix.clone();
        let options = GetOptions::new().with_prefix();
        let response = self
            .request(|mut client| async move { client.get(prefix, Some(options)).await })
            .await?;
        let revision = response.header().map_or(0, |header| header.revision());
        let (mut entries, mut errors) = (Entries::new(), Vec::new());
        for kv in response.kvs() {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            match parse_value(&key, kv.value()) {
                Ok(value) => {
                    entries.insert(key, value);
                }
                Err(err) => {
                    if let Some(value) = last_good.get(&key) {
                        entries.insert(key, value.clone());
                    }
                    errors.push(err);
                }
            }
        }
        Ok((entries, revision, errors))
    }

    /// The entries as one tree.
    fn tree(&self, entries: &Entries) -> Value {
        let mut tree = Value::Object(Map::new());
        for (key, value) in entries {
            let rest = key.strip_prefix(self.prefix.as_str()).unwrap_or(key);
            insert(
                &mut tree,
                rest.split('/').filter(|k| !k.is_empty()),
                value.clone(),
            );
        }
        tree
    }

    /// Follows the prefix until `changes` closes: the current tree, then one per watch
    /// response; after a failure, reads everything again and watches from there.
    async fn follow(self, changes: mpsc::Sender<Result<Value, Error>>, mut read: Option<Read>) {
        let mut entries = Entries::new();
        let mut backoff = Duration::from_millis(250);
        loop {
            let failure = tokio::select! {
                failure = self.follow_once(&mut entries, read.take(), &changes, &mut backoff) => failure,
                () = changes.closed() => return,
            };
            let Some(failure) = failure else { return };
            if changes.send(Err(failure)).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = changes.closed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One read (unless given) and watch; `Some(error)` when etcd failed, `None` when
    /// `changes` closed.
    async fn follow_once(
        &self,
        entries: &mut Entries,
        read: Option<Read>,
        changes: &mpsc::Sender<Result<Value, Error>>,
        backoff: &mut Duration,
    ) -> Option<Error> {
        let read = match read {
            Some(read) => read,
            None => match self.entries(entries).await {
                Ok(read) => read,
                Err(err) => return Some(err),
            },
        };
        let (read, revision, errors) = read;
        *entries = read;
        // The tree first: a good tree clears the config's last error, these set it again.
        changes.send(Ok(self.tree(entries))).await.ok()?;
        for err in errors {
            changes.send(Err(err)).await.ok()?;
        }
        // Reopened through another member when the one serving it goes silent.
        let (client, prefix) = (self.client.clone(), self.prefix.clone());
        let options = WatchOptions::new().with_prefix();
        let mut watch = match Watch::start(client, prefix, options, Some(revision + 1)).await {
            Ok(watch) => watch,
            Err(err) => return Some(self.unreachable(err)),
        };
        *backoff = Duration::from_millis(250);
        loop {
            let response = match watch.next().await {
                Ok(response) => response,
                Err(err) => return Some(self.unreachable(err)),
            };
            let (mut changed, mut errors) = (false, Vec::new());
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                match event.event_type() {
                    EventType::Delete => changed |= entries.remove(&key).is_some(),
                    EventType::Put => match parse_value(&key, kv.value()) {
                        Ok(value) => changed |= entries.insert(key, value.clone()) != Some(value),
                        Err(err) => errors.push(err),
                    },
                }
            }
            if changed {
                changes.send(Ok(self.tree(entries))).await.ok()?;
            }
            for err in errors {
                changes.send(Err(err)).await.ok()?;
            }
        }
    }
}

impl std::fmt::Debug for Etcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd")
            .field("addresses", &self.addresses)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A value as JSON, or as a plain string when it does not look like JSON; a value that starts
/// like a JSON object, array or string but does not parse is an error.
fn parse_value(key: &str, bytes: &[u8]) -> Result<Value, Error> {
    let what = format!("etcd key {key}");
    let text = std::str::from_utf8(bytes).map_err(|err| Error::invalid_data(&what, err))?;
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(err) if text.trim_start().starts_with(['{', '[', '"']) => {
            Err(Error::invalid_data(&what, err))
        }
        Err(_) => Ok(Value::String(text.to_owned())),
    }
}

impl Source for Etcd {
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>> {
        Box::pin(async move {
            let (entries, _, mut errors) = self.entries(&Entries::new()).await?;
            match errors.pop() {
                Some(err) => Err(err),
                None => Ok(self.tree(&entries)),
            }
        })
    }

    fn watch(&self) -> BoxFuture<'_, Result<Option<Changes>, Error>> {
        Box::pin(async move {
            // Read before returning, so that every later change is seen by the watch.
            let read = self.entries(&Entries::new()).await?;
            let (changes_tx, changes) = mpsc::channel(16);
            tokio::spawn(self.clone().follow(changes_tx, Some(read)));
            Ok(Some(Box::pin(ReceiverStream::new(changes)) as Changes))
        })
    }

    fn describe(&self) -> String {
        format!("etcd at {} ({})", self.addresses.join(","), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_nest_and_values_are_json_or_strings() {
        let etcd = Etcd::new(&[]);
        let mut entries = Entries::new();
        for (key, value) in [
            ("/micro/config/", r#"{"debug": false}"#),
            ("/micro/config/database", r#"{"address": "db", "port": 1}"#),
            ("/micro/config/database/port", "5432"),
            ("/micro/config/greeting", "hello there"),
            ("/micro/config/tags", r#"["a"]"#),
        ] {
            entries.insert(key.to_owned(), parse_value(key, value.as_bytes()).unwrap());
        }
        assert_eq!(
            etcd.tree(&entries),
            json!({
                "debug": false,
                "database": {"address": "db", "port": 5432},
                "greeting": "hello there",
                "tags": ["a"],
            })
        );
        for broken in [r#"{"a": "#, "[1,", "\"open", "\u{0}"] {
            let parsed = parse_value("k", broken.as_bytes());
            if broken.starts_with('\u{0}') {
                assert_eq!(parsed.unwrap(), json!("\u{0}"));
            } else {
                assert_eq!(parsed.unwrap_err().kind(), ErrorKind::InvalidData);
            }
        }
        assert!(parse_value("k", &[0xff]).is_err());
    }

    #[test]
    fn dotted_paths_are_keys_under_the_prefix() {
        let etcd = Etcd::new(&[]);
        assert_eq!(
            etcd.key("database.address").unwrap(),
            "/micro/config/database/address"
        );
        assert_eq!(etcd.key("debug").unwrap(), "/micro/config/debug");
        for bad in ["", "a..b", ".a", "a.", "a/b"] {
            assert_eq!(etcd.key(bad).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
    }
}
