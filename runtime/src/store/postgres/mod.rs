//! Records in PostgreSQL or CockroachDB, in go-micro's schema: a schema per database and a
//! table per table, `key text` primary key, `value bytea`, `metadata jsonb`,
//! `expiry timestamptz`. Expiry is the database's clock: enforced on every read and swept.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Json, Type};

mod tls;

use super::{
    BoxFuture, Error, ErrorKind, ListOptions, Match, ReadOptions, Record, Scope, Store,
    WriteOptions, validate_key, validate_ttl,
};

/// How long connecting, or waiting for a pooled connection, may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The address used when none is given.
const DEFAULT_ADDRESS: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

/// Where the database is and how to use it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// A connection string, as a URL (`postgresql://user:pass@host:5432/db?sslmode=…`) or as
    /// `host=… port=… user=…` pairs. TLS follows libpq's `sslmode` (`disable`, `prefer` (the
    /// default), `require`, `verify-ca`, `verify-full`), `sslrootcert` (a PEM file; the
    /// system's roots otherwise), and `sslcert`/`sslkey` (a client certificate and its key,
    /// PEM, for servers that ask for one).
    pub address: String,
    /// The most connections held open (default 16).
    pub max_connections: usize,
    /// How often expired records are deleted (default one minute).
    pub sweep_interval: Duration,
}

impl PostgresOptions {
    /// Options for `address` (empty means `postgresql://postgres@127.0.0.1:5432/postgres`).
    pub fn new(address: &str) -> PostgresOptions {
        let address = if address.is_empty() {
            DEFAULT_ADDRESS
        } else {
            address
        };
        PostgresOptions {
            address: address.to_owned(),
            max_connections: 16,
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// A [`Store`] in PostgreSQL or CockroachDB. Connects on first use; tables are created when
/// first used (`CREATE … IF NOT EXISTS`), so tables go-micro made are shared.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    /// `host:port/database`, for errors (never the password).
    address: String,
    sweep_interval: Duration,
    /// The scopes used so far, each with its table's SQL (made once, after the table was
    /// created); the sweeper's list.
    tables: RwLock<HashMap<Scope, Arc<TableSql>>>,
    /// Held while creating a table, so concurrent first writes create it once.
    creating: tokio::sync::Mutex<()>,
    /// Learnt from `version()` on first use.
    dialect: OnceLock<Dialect>,
}

/// A scope's table, as quoted SQL identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Table {
    schema: String,
    name: String,
}

impl Table {
    fn new(scope: &Scope) -> Result<Table, Error> {
        scope.validate()?;
        Ok(Table {
            schema: identifier(&scope.database),
            name: identifier(&scope.table),
        })
    }

    /// `"schema"."table"`.
    fn qualified(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.name)
    }

    /// go-micro's DDL, minus its redundant index on the primary key.
    fn create_statements(&self) -> [String; 3] {
        let table = self.qualified();
        [
            format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema),
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (key text NOT NULL, value bytea, \
                 metadata jsonb, expiry timestamp with time zone, \
                 CONSTRAINT \"{}_pkey\" PRIMARY KEY (key))",
                self.name
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS \"metadata_index_{}\" ON {table} USING GIN (metadata)",
                self.name
            ),
        ]
    }
}

/// A table's statements, built once for the server's dialect rather than on every call.
#[derive(Debug)]
struct TableSql {
    table: Table,
    /// `$1` = key.
    read: String,
    /// `$1` = `LIKE` pattern, `$2` = limit, `$3` = offset.
    read_like: String,
    /// `$1` = prefix pattern, `$2` = suffix pattern, `$3` = limit, `$4` = offset.
    list: String,
    /// `$1` = key, `$2` = value, `$3` = metadata, `$4` = seconds to live or NULL.
    write: String,
    /// `$1` = key.
    delete: String,
    sweep: String,
}

impl TableSql {
    fn new(table: Table, dialect: Dialect) -> TableSql {
        let name = table.qualified();
        let order = dialect.key_order();
        TableSql {
            read: format!("SELECT {COLUMNS} FROM {name} WHERE key = $1 AND {LIVE}"),
            read_like: format!(
                "SELECT {COLUMNS} FROM {name} WHERE key LIKE $1 ESCAPE '\\' AND {LIVE} {order} \
                 LIMIT $2 OFFSET $3"
            ),
            list: format!(
                "SELECT key FROM {name} WHERE key LIKE $1 ESCAPE '\\' AND key LIKE $2 \
                 ESCAPE '\\' AND {LIVE} {order} LIMIT $3 OFFSET $4"
            ),
            write: format!(
                "INSERT INTO {name} (key, value, metadata, expiry) \
                 VALUES ($1, $2, $3, now() + $4::float8 * interval '1 second') \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 metadata = excluded.metadata, expiry = excluded.expiry"
            ),
            delete: format!("DELETE FROM {name} WHERE key = $1"),
            sweep: format!("DELETE FROM {name} WHERE expiry IS NOT NULL AND expiry <= now()"),
            table,
        }
    }
}

/// A name as go-micro makes it: characters outside `[a-zA-Z0-9]` become `_`, and (as an
/// unquoted SQL name would be) lowercased.
fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `text` with `LIKE`'s wildcards and escape character taken literally.
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The columns every read selects: the time left is computed by the database.
const COLUMNS: &str = "key, value, metadata, EXTRACT(EPOCH FROM (expiry - now()))::float8";
/// Rows that have not expired.
const LIVE: &str = "(expiry IS NULL OR expiry > now())";
/// Which server speaks the protocol: their SQL differs in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    CockroachDb,
}

impl Dialect {
    /// Keys in byte order, as the other backends list them. PostgreSQL needs the `C`
    /// collation for that (its default may be a locale's); CockroachDB always compares bytes
    /// and (up to 22.1) rejects `COLLATE "C"`.
    fn key_order(self) -> &'static str {
        match self {
            Dialect::Postgres => "ORDER BY key COLLATE \"C\"",
            Dialect::CockroachDb => "ORDER BY key",
        }
    }
}

impl PostgresStore {
    /// A store for `options`; fails only on a malformed connection string.
    pub fn new(options: PostgresOptions) -> Result<PostgresStore, Error> {
        let connection = tls::connection(&options.address)?;
        let mut config = tokio_postgres::Config::from_str(&connection.address).map_err(|err| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "postgres store: invalid address: {err}; use \
                     postgresql://user:password@host:5432/database"
                ),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(TIMEOUT);
        }
        let address = describe(&config);
        let manager = Manager::from_config(
            config,
            connection.tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .build()
            .map_err(|err| Error::new(ErrorKind::Config, format!("postgres store: {err}")))?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                address,
                sweep_interval: options.sweep_interval,
                tables: RwLock::default(),
                creating: tokio::sync::Mutex::default(),
                dialect: OnceLock::new(),
            }),
        })
    }

    /// `host:port/database`, as errors name it.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// Deletes the expired records of every table this store has used; returns how many.
    pub async fn sweep(&self) -> Result<u64, Error> {
        self.inner.sweep().await
    }

    /// A pooled connection and the statement `pick` takes from the table's SQL, prepared
    /// (once per connection: deadpool caches it).
    async fn prepared(
        &self,
        scope: &Scope,
        pick: fn(&TableSql) -> &str,
    ) -> Result<(deadpool_postgres::Object, tokio_postgres::Statement), Error> {
        let (client, sql) = self.inner.connection(scope).await?;
        let statement = client
            .prepare_cached(pick(&sql))
            .await
            .map_err(|err| self.inner.failed("prepare a statement", err))?;
        Ok((client, statement))
    }

    async fn rows(
        &self,
        scope: &Scope,
        pick: fn(&TableSql) -> &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let (client, statement) = self.prepared(scope, pick).await?;
        client
            .query(&statement, params)
            .await
            .map_err(|err| self.inner.failed("query", err))
    }

    async fn execute(
        &self,
        scope: &Scope,
        pick: fn(&TableSql) -> &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, Error> {
        let (client, statement) = self.prepared(scope, pick).await?;
        client
            .execute(&statement, params)
            .await
            .map_err(|err| self.inner.failed("write", err))
    }

    async fn read_records(&self, key: &str, options: ReadOptions) -> Result<Vec<Record>, Error> {
        let scope = &options.scope;
        if options.matching == Match::Exact {
            let rows = self.rows(scope, |sql| &sql.read, &[&key]).await?;
            if rows.is_empty() {
                return Err(Error::not_found(key, &scope.to_string()));
            }
            return rows.iter().map(record).collect();
        }
        let pattern = match options.matching {
            Match::Suffix => format!("%{}", like_literal(key)),
            _ => format!("{}%", like_literal(key)),
        };
        let (limit, offset) = page(options.limit, options.offset);
        let rows = self
            .rows(scope, |sql| &sql.read_like, &[&pattern, &limit, &offset])
            .await?;
        rows.iter().map(record).collect()
    }

    async fn write_record(&self, record: &Record, options: WriteOptions) -> Result<(), Error> {
        validate_key(&record.key)?;
        validate_ttl(record.expiry)?;
        let ttl = record.expiry.map(|ttl| ttl.as_secs_f64());
        let metadata = Json(&record.metadata);
        let value: &[u8] = &record.value;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&record.key, &value, &metadata, &ttl];
        self.execute(&options.scope, |sql| &sql.write, &params)
            .await?;
        Ok(())
    }

    async fn list_keys(&self, options: ListOptions) -> Result<Vec<String>, Error> {
        let prefix = format!("{}%", like_literal(options.prefix.as_deref().unwrap_or("")));
        let suffix = format!("%{}", like_literal(options.suffix.as_deref().unwrap_or("")));
        let (limit, offset) = page(options.limit, options.offset);
        let rows = self
            .rows(
                &options.scope,
                |sql| &sql.list,
                &[&prefix, &suffix, &limit, &offset],
            )
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(|err| invalid_row(&err)))
            .collect()
    }
}

impl Inner {
    /// A pooled connection and the SQL of `scope`'s table, which is created first if this
    /// store has not used the scope yet.
    async fn connection(
        self: &Arc<Self>,
        scope: &Scope,
    ) -> Result<(deadpool_postgres::Object, Arc<TableSql>), Error> {
        let known = self.tables_read().get(scope).cloned();
        if let Some(sql) = known {
            let client = self.pool.get().await.map_err(|err| self.unreachable(err))?;
            return Ok((client, sql));
        }
        // An invalid scope is refused before connecting.
        let table = Table::new(scope)?;
        let client = self.pool.get().await.map_err(|err| self.unreachable(err))?;
        let sql = self.first_use(&client, scope, table).await?;
        Ok((client, sql))
    }

    /// Learns the dialect, creates `table` (once per store), and remembers `scope`'s SQL.
    async fn first_use(
        self: &Arc<Self>,
        client: &tokio_postgres::Client,
        scope: &Scope,
        table: Table,
    ) -> Result<Arc<TableSql>, Error> {
        let dialect = match self.dialect.get() {
            Some(dialect) => *dialect,
            None => {
                let version: String = client
                    .query_one("SELECT version()", &[])
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(|err| self.failed("read the server version", err))?;
                *self.dialect.get_or_init(|| {
                    if version.contains("CockroachDB") {
                        Dialect::CockroachDb
                    } else {
                        Dialect::Postgres
                    }
                })
            }
        };
        let _creating = self.creating.lock().await;
        if let Some(sql) = self.tables_read().get(scope) {
            return Ok(sql.clone());
        }
        // Another scope may name the same table (`a-b` and `a_b`).
        let same = self
            .tables_read()
            .values()
            .find(|sql| sql.table == table)
            .cloned();
        let sql = match same {
            Some(sql) => sql,
            None => {
                for statement in table.create_statements() {
                    match client.batch_execute(&statement).await {
                        Ok(()) => {}
                        // Another process created it a moment ago.
                        Err(err) if already_exists(&err) => {}
                        Err(err) => return Err(self.failed("create the table", err)),
                    }
                }
                Arc::new(TableSql::new(table, dialect))
            }
        };
        let mut tables = self.tables_write();
        if tables.is_empty() {
            self.start_sweeper();
        }
        tables.insert(scope.clone(), sql.clone());
        Ok(sql)
    }

    fn tables_read(&self) -> RwLockReadGuard<'_, HashMap<Scope, Arc<TableSql>>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn tables_write(&self) -> RwLockWriteGuard<'_, HashMap<Scope, Arc<TableSql>>> {
        self.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    fn start_sweeper(self: &Arc<Self>) {
        let (inner, interval) = (Arc::downgrade(self), self.sweep_interval);
        tokio::spawn(sweep_every(inner, interval));
    }

    async fn sweep(&self) -> Result<u64, Error> {
        let tables: Vec<Arc<TableSql>> = {
            let tables = self.tables_read();
            let mut seen = HashSet::new();
            tables
                .values()
                .filter(|sql| seen.insert(&sql.table))
                .cloned()
                .collect()
        };
        let client = self.pool.get().await.map_err(|err| self.unreachable(err))?;
        let mut deleted = 0;
        for sql in tables {
            deleted += client
                .execute(&sql.sweep, &[])
                .await
                .map_err(|err| self.failed("delete expired records", err))?;
        }
        Ok(deleted)
    }

    /// Connecting failed: the server is down (temporary), or refused us (configuration).
    fn unreachable(&self, err: PoolError) -> Error {
        let (kind, message, hint) = match &err {
            PoolError::Timeout(_) => (
                ErrorKind::Unavailable,
                format!("no connection within {TIMEOUT:?}"),
                "start the database or pass another --store-address",
            ),
            // A refusal is configuration, unless the server only cannot take us yet (starting
            // up, shutting down, too many connections: classes 57 and 53), which passes.
            PoolError::Backend(err) if err.as_db_error().is_some() && !is_temporary(err) => (
                ErrorKind::Config,
                describe_error(err),
                "check the user, password and database in --store-address (and sslcert/sslkey \
                 when the server asks for a client certificate) and the server's pg_hba.conf",
            ),
            PoolError::Backend(err) if crate::net::tls::is_handshake_failure(err) => (
                ErrorKind::Config,
                describe_error(err),
                "check sslmode, sslrootcert, sslcert and sslkey in --store-address",
            ),
            other => (
                ErrorKind::Unavailable,
                match other {
                    PoolError::Backend(err) => describe_error(err),
                    other => other.to_string(),
                },
                "start the database or pass another --store-address",
            ),
        };
        Error::new(
            kind,
            format!(
                "postgres at {} refused or unreachable: {message}; {hint}",
                self.address
            ),
        )
        .with_source(err)
    }

    fn failed(&self, doing: &str, err: tokio_postgres::Error) -> Error {
        let kind = if is_temporary(&err) {
            ErrorKind::Unavailable
        } else {
            ErrorKind::InvalidData
        };
        Error::new(
            kind,
            format!(
                "postgres at {}: cannot {doing}: {}",
                self.address,
                describe_error(&err)
            ),
        )
        .with_source(err)
    }
}

/// Deletes expired records every `interval` until the store is dropped.
async fn sweep_every(inner: Weak<Inner>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(err) = inner.sweep().await {
            tracing::warn!("postgres store: sweeping expired records failed: {err}");
        }
    }
}

/// `LIMIT` and `OFFSET` parameters.
fn page(limit: Option<usize>, offset: usize) -> (i64, i64) {
    let clamp = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    (limit.map_or(i64::MAX, clamp), clamp(offset))
}

fn record(row: &Row) -> Result<Record, Error> {
    let key: String = row.try_get(0).map_err(|err| invalid_row(&err))?;
    let value: Option<&[u8]> = row.try_get(1).map_err(|err| invalid_row(&err))?;
    let Metadata(metadata) = row.try_get(2).map_err(|err| invalid_row(&err))?;
    let left: Option<f64> = row.try_get(3).map_err(|err| invalid_row(&err))?;
    Ok(Record {
        key,
        value: value.map(Bytes::copy_from_slice).unwrap_or_default(),
        metadata,
        expiry: left.map(|secs| Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)),
    })
}

/// A `metadata` column (NULL is none). Records without metadata (`{}`, which micro and
/// go-micro write for none) are recognised without running a JSON parser.
struct Metadata(BTreeMap<String, serde_json::Value>);

impl<'a> FromSql<'a> for Metadata {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Metadata, Box<dyn std::error::Error + Sync + Send>> {
        let json = if *ty == Type::JSONB {
            // Version 1 is the only jsonb binary format.
            match raw.split_first() {
                Some((1, json)) => json,
                _ => return Err("unsupported JSONB encoding version".into()),
            }
        } else {
            raw
        };
        if json.trim_ascii() == b"{}" {
            return Ok(Metadata(BTreeMap::new()));
        }
        Ok(Metadata(serde_json::from_slice(json)?))
    }

    fn from_sql_null(_: &Type) -> Result<Metadata, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Metadata(BTreeMap::new()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

fn invalid_row(err: &tokio_postgres::Error) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "postgres store: a row is not a go-micro record (key, value, metadata, expiry): {err}"
        ),
    )
}

fn already_exists(err: &tokio_postgres::Error) -> bool {
    [
        SqlState::UNIQUE_VIOLATION,
        SqlState::DUPLICATE_TABLE,
        SqlState::DUPLICATE_SCHEMA,
        SqlState::DUPLICATE_OBJECT,
    ]
    .iter()
    .any(|state| err.code() == Some(state))
}

/// Lost connections, shutdowns, overload and serialization conflicts.
fn is_temporary(err: &tokio_postgres::Error) -> bool {
    match err.code() {
        None => err.is_closed() || err.as_db_error().is_none(),
        Some(code) => ["08", "53", "57", "40"]
            .iter()
            .any(|class| code.code().starts_with(class)),
    }
}

/// The server's message when there is one (tokio-postgres's `Display` says only "db error").
fn describe_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(err) {
            Some(source) => format!("{err}: {source}"),
            None => err.to_string(),
        },
    }
}

/// `host:port[,host:port]/database`.
fn describe(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                tokio_postgres::config::Host::Tcp(host) => host.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_owned()
    } else {
        hosts.join(",")
    };
    format!("{hosts}/{}", config.get_dbname().unwrap_or("postgres"))
}

impl Store for PostgresStore {
    fn read<'a>(
        &'a self,
        key: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Record>, Error>> {
        Box::pin(self.read_records(key, options))
    }

    fn write<'a>(
        &'a self,
        record: &'a Record,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.write_record(record, options))
    }

    fn delete<'a>(&'a self, key: &'a str, scope: &'a Scope) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.execute(scope, |sql| &sql.delete, &[&key]).await?;
            Ok(())
        })
    }

    fn list(&self, options: ListOptions) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        Box::pin(self.list_keys(options))
    }

    fn name(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_go_micro_identifiers() {
        assert_eq!(identifier("My-Service.v2"), "my_service_v2");
        assert_eq!(identifier("users"), "users");
        assert_eq!(identifier("a\"; DROP"), "a___drop");
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn metadata_is_decoded_and_none_is_empty() {
        let decode = |ty: &Type, raw: &[u8]| Metadata::from_sql(ty, raw).map(|Metadata(m)| m);
        assert!(decode(&Type::JSONB, b"\x01{}").unwrap().is_empty());
        assert!(decode(&Type::JSON, b" {} ").unwrap().is_empty());
        assert!(Metadata::from_sql_null(&Type::JSONB).unwrap().0.is_empty());
        let metadata = decode(&Type::JSONB, b"\x01{\"a\": 1, \"b\": {\"c\": \"d\"}}").unwrap();
        assert_eq!(metadata["a"], 1);
        assert_eq!(metadata["b"]["c"], "d");
        assert!(decode(&Type::JSONB, b"\x02{}").is_err());
        assert!(decode(&Type::JSONB, b"\x01[1]").is_err());
    }

    #[test]
    fn errors_name_the_server_without_the_password() {
        let store = PostgresStore::new(PostgresOptions::new(
            "postgresql://app:secret@db.internal:6432/orders",
        ))
        .unwrap();
        assert_eq!(store.address(), "db.internal:6432/orders");
        let bad = PostgresStore::new(PostgresOptions::new("postgresql://a:b@h:notaport/x"));
        assert_eq!(bad.unwrap_err().kind(), ErrorKind::Config);
    }
}
