//! An in-process store: a sorted map per scope.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::time::Instant;

use super::types::page;
use super::{
    BoxFuture, Error, ListOptions, Match, ReadOptions, Record, Scope, Store, WriteOptions,
    validate_key, validate_ttl,
};

/// Records in this process, gone when it exits.
#[derive(Debug, Default)]
pub struct MemoryStore {
    scopes: Mutex<HashMap<Scope, BTreeMap<String, Entry>>>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Bytes,
    metadata: BTreeMap<String, serde_json::Value>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }

    fn record(&self, key: &str, now: Instant) -> Record {
        Record {
            key: key.to_owned(),
            value: self.value.clone(),
            metadata: self.metadata.clone(),
            expiry: self.expires.map(|at| at.saturating_duration_since(now)),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The live entries of `scope` for which `keep` holds, in key order (sweeping expired ones).
    fn live<T>(
        &self,
        scope: &Scope,
        mut keep: impl FnMut(&str, &Entry, Instant) -> Option<T>,
    ) -> Vec<T> {
        let now = Instant::now();
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(table) = scopes.get_mut(scope) else {
            return Vec::new();
        };
        table.retain(|_, entry| entry.live(now));
        table
            .iter()
            .filter_map(|(key, entry)| keep(key, entry, now))
            .collect()
    }
}

impl Store for MemoryStore {
    fn read<'a>(
        &'a self,
        key: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Record>, Error>> {
        Box::pin(async move {
            options.scope.validate()?;
            let matches = |candidate: &str| match options.matching {
                Match::Exact => candidate == key,
                Match::Prefix => candidate.starts_with(key),
                Match::Suffix => candidate.ends_with(key),
            };
            let records = self.live(&options.scope, |candidate, entry, now| {
                matches(candidate).then(|| entry.record(candidate, now))
            });
            if options.matching == Match::Exact && records.is_empty() {
                return Err(Error::not_found(key, &options.scope.to_string()));
            }
            Ok(page(records, options.limit, options.offset))
        })
    }

    fn write<'a>(
        &'a self,
        record: &'a Record,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            options.scope.validate()?;
            validate_key(&record.key)?;
            validate_ttl(record.expiry)?;
            let entry = Entry {
                value: record.value.clone(),
                metadata: record.metadata.clone(),
                expires: record.expiry.map(|ttl| Instant::now() + ttl),
            };
            let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
            scopes
                .entry(options.scope)
                .or_default()
                .insert(record.key.clone(), entry);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str, scope: &'a Scope) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            scope.validate()?;
            let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(table) = scopes.get_mut(scope) {
                table.remove(key);
            }
            Ok(())
        })
    }

    fn list(&self, options: ListOptions) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        Box::pin(async move {
            options.scope.validate()?;
            let keys = self.live(&options.scope, |key, _, _| {
                options.matches(key).then(|| key.to_owned())
            });
            Ok(page(keys, options.limit, options.offset))
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run(Arc::new(MemoryStore::new())).await;
    }
}
