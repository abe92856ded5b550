//! Records, the scope they live in, and the options for reading, writing and listing them.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::{Error, ErrorKind};

/// The database and table go-micro uses unless told otherwise.
pub const DEFAULT_NAME: &str = "micro";

/// One stored value: a key, opaque bytes, metadata, and (when read) how long it has left.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// The key, unique within its scope.
    pub key: String,
    /// The value.
    pub value: Bytes,
    /// Metadata stored with the value.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// On write, a time to live; on read, the time left (`None`: no expiry).
    pub expiry: Option<Duration>,
}

impl Record {
    /// A record `key` = `value`.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Record {
        Record {
            key: key.into(),
            value: value.into(),
            ..Record::default()
        }
    }

    /// Sets a time to live.
    pub fn ttl(mut self, ttl: Duration) -> Record {
        self.expiry = Some(ttl);
        self
    }

    /// Adds metadata.
    pub fn metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Record {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Where records live: a database and a table in it (default `micro`/`micro`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope::new(DEFAULT_NAME, DEFAULT_NAME)
    }
}

impl Scope {
    /// The table `table` of `database`.
    pub fn new(database: impl Into<String>, table: impl Into<String>) -> Scope {
        Scope {
            database: database.into(),
            table: table.into(),
        }
    }

    /// Refuses empty names.
    pub fn validate(&self) -> Result<(), Error> {
        if self.database.is_empty() || self.table.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("invalid store scope {self}: database and table must not be empty"),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.database, self.table)
    }
}

/// Which keys a read matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Match {
    /// Exactly the key (the default); a missing key is [`ErrorKind::NotFound`].
    #[default]
    Exact,
    /// Every key starting with it.
    Prefix,
    /// Every key ending with it.
    Suffix,
}

/// How to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Where to read.
    pub scope: Scope,
    /// How the key matches.
    pub matching: Match,
    /// At most this many records (prefix and suffix reads; in key order).
    pub limit: Option<usize>,
    /// Skipping this many first.
    pub offset: usize,
}

impl ReadOptions {
    /// Reads every key starting with the one given.
    pub fn prefix() -> ReadOptions {
        ReadOptions {
            matching: Match::Prefix,
            ..ReadOptions::default()
        }
    }

    /// Reads every key ending with the one given.
    pub fn suffix() -> ReadOptions {
        ReadOptions {
            matching: Match::Suffix,
            ..ReadOptions::default()
        }
    }

    /// Reads from `scope`.
    pub fn scope(mut self, scope: Scope) -> ReadOptions {
        self.scope = scope;
        self
    }

    /// Returns at most `limit` records, after skipping `offset`.
    pub fn page(mut self, limit: usize, offset: usize) -> ReadOptions {
        self.limit = Some(limit);
        self.offset = offset;
        self
    }
}

/// How to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Where to write.
    pub scope: Scope,
}

/// Which keys to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Where to list.
    pub scope: Scope,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys ending with this.
    pub suffix: Option<String>,
    /// At most this many keys (in key order).
    pub limit: Option<usize>,
    /// Skipping this many first.
    pub offset: usize,
}

impl ListOptions {
    /// Whether `key` is listed under these options.
    pub fn matches(&self, key: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// Refuses keys no backend can store.
pub fn validate_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "invalid store key: it is empty",
        ));
    }
    Ok(())
}

/// Refuses a zero time to live (it would expire before anyone reads it).
pub fn validate_ttl(ttl: Option<Duration>) -> Result<(), Error> {
    if ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "invalid store TTL 0: use None for records that do not expire",
        ));
    }
    Ok(())
}

/// `items` from `offset`, at most `limit` of them: a page of a read or list.
pub(crate) fn page<T>(items: Vec<T>, limit: Option<usize>, offset: usize) -> Vec<T> {
    items
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}
