//! The embedded store: one redb file per database (`<dir>/<database>.db`), a table per table,
//! each write a durable transaction, so a crash never loses an acknowledged write.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, TableDefinition, TableError};
use serde::{Deserialize, Serialize};

use super::types::page;
use super::{
    BoxFuture, Error, ErrorKind, ListOptions, Match, ReadOptions, Record, Scope, Store,
    WriteOptions, validate_key, validate_ttl,
};

/// Records in files under a data directory (default `~/micro/store`, as go-micro's).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    databases: Arc<Mutex<HashMap<String, Arc<Database>>>>,
}

/// A record as stored: go-micro's file store fields, the value in base64.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "Value", with = "crate::go_json::base64_bytes")]
    value: Bytes,
    #[serde(rename = "Metadata", default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "ExpiresAt", default, with = "crate::rfc3339::option")]
    expires_at: Option<SystemTime>,
}

impl Stored {
    fn live(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    fn record(self, key: &str, now: SystemTime) -> Record {
        Record {
            key: key.to_owned(),
            expiry: self
                .expires_at
                .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)),
            value: self.value,
            metadata: self.metadata,
        }
    }
}

impl FileStore {
    /// A store keeping its files in `dir` (created when first written to).
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore {
            dir: dir.into(),
            databases: Arc::default(),
        }
    }

    /// go-micro's default directory: `~/micro/store`.
    pub fn default_dir() -> PathBuf {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        home.join("micro").join("store")
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The open database file of `scope`, opening (and creating) it first if needed.
    fn database(&self, scope: &Scope) -> Result<Arc<Database>, Error> {
        scope.validate()?;
        let name = file_name(&scope.database)?;
        let mut databases = self.databases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(database) = databases.get(&name) {
            return Ok(database.clone());
        }
        let path = self.dir.join(format!("{name}.db"));
        std::fs::create_dir_all(&self.dir)
            .map_err(|err| self.failed(&path, "create the directory of", err))?;
        let database = open_shared(&path).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::new(
                ErrorKind::Unavailable,
                format!(
                    "file store: {} is in use by another process; give each process its own \
                     --store-address",
                    path.display()
                ),
            ),
            err => self.failed(&path, "open", err),
        })?;
        databases.insert(name, database.clone());
        Ok(database)
    }

    fn failed(&self, path: &Path, doing: &str, err: impl Into<crate::BoxError>) -> Error {
        let err = err.into();
        Error::new(
            ErrorKind::Unavailable,
            format!("file store: cannot {doing} {}: {err}", path.display()),
        )
        .with_source(err)
    }

    /// Runs `work` on a blocking thread (redb does file I/O).
    async fn blocking<T: Send + 'static>(
        &self,
        scope: &Scope,
        work: impl FnOnce(&Database) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let database = self.database(scope)?;
        tokio::task::spawn_blocking(move || work(&database))
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("file store: a task failed: {err}"),
                )
            })?
    }
}

/// The database at `path`, shared by every [`FileStore`] of this process (redb locks a file to
/// one opener).
fn open_shared(path: &Path) -> Result<Arc<Database>, redb::DatabaseError> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Database>>>> = OnceLock::new();
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut open = OPEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(database) = open.get(&key).and_then(Weak::upgrade) {
        return Ok(database);
    }
    let database = Arc::new(Database::create(path)?);
    open.retain(|_, weak| weak.strong_count() > 0);
    open.insert(key, Arc::downgrade(&database));
    Ok(database)
}

/// A database name as a file name: letters, digits, `-`, `_` and `.` (not leading).
fn file_name(database: &str) -> Result<String, Error> {
    let valid = !database.starts_with('.')
        && database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "invalid database name {database:?} for the file store: use letters, digits, `-`, `_` and `.`"
            ),
        ));
    }
    Ok(database.to_owned())
}

fn storage(err: impl Into<crate::BoxError>) -> Error {
    let err = err.into();
    Error::new(ErrorKind::Unavailable, format!("file store: {err}")).with_source(err)
}

/// The live records of `table` whose keys `matches` accepts, in key order.
fn scan(
    database: &Database,
    table: &str,
    start: &str,
    mut matches: impl FnMut(&str) -> Option<bool>,
) -> Result<Vec<(String, Stored)>, Error> {
    let now = SystemTime::now();
    let transaction = database.begin_read().map_err(storage)?;
    let table = match transaction.open_table(TableDefinition::<&str, &[u8]>::new(table)) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(err) => return Err(storage(err)),
    };
    let mut found = Vec::new();
    for entry in table.range::<&str>(start..).map_err(storage)? {
        let (key, value) = entry.map_err(storage)?;
        let key = key.value();
        match matches(key) {
            None => break,
            Some(false) => continue,
            Some(true) => {}
        }
        let stored: Stored = serde_json::from_slice(value.value()).map_err(|err| {
            Error::new(
                ErrorKind::InvalidData,
                format!("file store: record {key:?} is unreadable: {err}"),
            )
        })?;
        if stored.live(now) {
            found.push((key.to_owned(), stored));
        }
    }
    Ok(found)
}

impl Store for FileStore {
    fn read<'a>(
        &'a self,
        key: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Record>, Error>> {
        Box::pin(async move {
            let (owned, table, matching) = (
                key.to_owned(),
                options.scope.table.clone(),
                options.matching,
            );
            let found = self
                .blocking(&options.scope, move |database| {
                    let start = if matching == Match::Suffix {
                        ""
                    } else {
                        owned.as_str()
                    };
                    scan(database, &table, start, |candidate| match matching {
                        Match::Exact => Some(candidate == owned).filter(|&hit| hit),
                        Match::Prefix => candidate.starts_with(owned.as_str()).then_some(true),
                        Match::Suffix => Some(candidate.ends_with(owned.as_str())),
                    })
                })
                .await?;
            if matching == Match::Exact && found.is_empty() {
                return Err(Error::not_found(key, &options.scope.to_string()));
            }
            let now = SystemTime::now();
            let records = found
                .into_iter()
                .map(|(key, stored)| stored.record(&key, now))
                .collect();
            Ok(page(records, options.limit, options.offset))
        })
    }

    fn write<'a>(
        &'a self,
        record: &'a Record,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            validate_key(&record.key)?;
            validate_ttl(record.expiry)?;
            let stored = Stored {
                value: record.value.clone(),
                metadata: record.metadata.clone(),
                expires_at: record.expiry.map(|ttl| SystemTime::now() + ttl),
            };
            let bytes = serde_json::to_vec(&stored).map_err(storage)?;
            let (key, table) = (record.key.clone(), options.scope.table.clone());
            self.blocking(&options.scope, move |database| {
                let transaction = database.begin_write().map_err(storage)?;
                {
                    let mut table = transaction
                        .open_table(TableDefinition::<&str, &[u8]>::new(&table))
                        .map_err(storage)?;
                    table
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(storage)?;
                }
                transaction.commit().map_err(storage)
            })
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a str, scope: &'a Scope) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let (key, table) = (key.to_owned(), scope.table.clone());
            self.blocking(scope, move |database| {
                let transaction = database.begin_write().map_err(storage)?;
                {
                    let mut table = transaction
                        .open_table(TableDefinition::<&str, &[u8]>::new(&table))
                        .map_err(storage)?;
                    table.remove(key.as_str()).map_err(storage)?;
                }
                transaction.commit().map_err(storage)
            })
            .await
        })
    }

    fn list(&self, options: ListOptions) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        Box::pin(async move {
            let table = options.scope.table.clone();
            let filter = options.clone();
            let found = self
                .blocking(&options.scope, move |database| {
                    let start = filter.prefix.clone().unwrap_or_default();
                    scan(database, &table, &start, |key| match &filter.prefix {
                        Some(prefix) if !key.starts_with(prefix.as_str()) => None,
                        _ => Some(filter.matches(key)),
                    })
                })
                .await?;
            let keys = found.into_iter().map(|(key, _)| key).collect();
            Ok(page(keys, options.limit, options.offset))
        })
    }

    fn name(&self) -> &'static str {
        "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        super::super::conformance::run(Arc::new(FileStore::new(dir.path()))).await;
    }

    #[tokio::test]
    async fn records_survive_reopening_and_bad_database_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let scope = Scope::new("orders", "eu");
        let store = FileStore::new(dir.path());
        store
            .write(
                &Record::new("k", "v"),
                WriteOptions {
                    scope: scope.clone(),
                },
            )
            .await
            .unwrap();
        drop(store);
        let reopened = FileStore::new(dir.path());
        let read = reopened
            .read("k", ReadOptions::default().scope(scope))
            .await
            .unwrap();
        assert_eq!(read[0].value, "v");
        assert!(dir.path().join("orders.db").exists());
        let err = reopened
            .write(
                &Record::new("k", "v"),
                WriteOptions {
                    scope: Scope::new("../etc", "t"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
}
