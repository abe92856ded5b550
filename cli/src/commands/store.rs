//! `micro store read|write|delete|list`: the records services keep, in the store they use
//! (`--store`, `--store-address`, `--store-database`, `--store-table`, as services take them).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use micro::store::{self, ErrorKind, ListOptions, Match, ReadOptions, Record, Scope, Store};
use serde_json::{Value, json};

use crate::Output;
use crate::output::outln;
use crate::output::table;

/// `micro store`.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
    /// Which store, as services take it.
    #[command(flatten)]
    pub backend: StoreBackend,
}

/// The store and scope, with the flags and variables services use.
#[derive(Args, Debug, Clone)]
pub struct StoreBackend {
    /// Store backend: `file` (embedded; the default), `memory` or `postgres` (PostgreSQL or
    /// CockroachDB).
    #[arg(long, global = true, env = "MICRO_STORE", default_value = "file",
          value_parser = ["file", "memory", "postgres", "cockroach"])]
    pub store: String,
    /// The file store's directory (default `~/micro/store`), or a connection string
    /// (`postgresql://user:password@host:5432/database`).
    #[arg(
        long,
        global = true,
        env = "MICRO_STORE_ADDRESS",
        alias = "store_address",
        value_name = "ADDRESS"
    )]
    pub store_address: Option<String>,
    /// The database: a service's records are in the one named after it.
    #[arg(
        long,
        global = true,
        env = "MICRO_STORE_DATABASE",
        alias = "store_database",
        default_value = store::DEFAULT_NAME,
        value_name = "NAME"
    )]
    pub store_database: String,
    /// The table.
    #[arg(
        long,
        global = true,
        env = "MICRO_STORE_TABLE",
        alias = "store_table",
        default_value = store::DEFAULT_NAME,
        value_name = "NAME"
    )]
    pub store_table: String,
}

/// `micro store` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum StoreCommand {
    /// Print the record `key` (or every record whose key starts or ends with it).
    Read(ReadArgs),
    /// Write `value` at `key`, replacing any record there.
    Write(WriteArgs),
    /// Delete the record `key` (deleting a missing key is not an error).
    Delete(DeleteArgs),
    /// List keys, in key order.
    List(ListArgs),
}

/// `micro store read`.
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// The key (or the prefix or suffix of the keys).
    pub key: String,
    /// Every record whose key starts with `key`.
    #[arg(long, conflicts_with = "suffix")]
    pub prefix: bool,
    /// Every record whose key ends with `key`.
    #[arg(long)]
    pub suffix: bool,
    /// At most this many records (with `--prefix`/`--suffix`).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Skipping this many first (with `--prefix`/`--suffix`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,
}

/// `micro store write`.
#[derive(Args, Debug, Clone)]
pub struct WriteArgs {
    /// The key.
    pub key: String,
    /// The value, stored as its UTF-8 bytes.
    pub value: String,
    /// Time to live, e.g. `90s`, `1h` (default: no expiry).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ttl: Option<Duration>,
    /// Metadata stored with the value, `key=value`; repeatable.
    #[arg(long = "metadata", short = 'm', value_parser = parse_metadata, value_name = "KEY=VALUE")]
    pub metadata: Vec<(String, String)>,
}

/// `micro store delete`.
#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// The key.
    pub key: String,
}

/// `micro store list`.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Only keys starting with this.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Only keys ending with this.
    #[arg(long, value_name = "SUFFIX")]
    pub suffix: Option<String>,
    /// At most this many keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Skipping this many first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,
}

/// Runs a `micro store` subcommand.
pub(super) async fn run(output: Output, args: &StoreArgs) -> anyhow::Result<()> {
    let backend = &args.backend;
    let store = open(backend)?;
    let scope = Scope::new(&backend.store_database, &backend.store_table);
    let fail = |err: store::Error| explain(err, backend);
    match &args.command {
        StoreCommand::Read(read) => read_records(output, &store, scope, read)
            .await
            .map_err(fail),
        StoreCommand::Write(write) => write_record(output, &store, backend, write)
            .await
            .map_err(fail),
        StoreCommand::Delete(delete) => {
            store.delete(&delete.key, &scope).await.map_err(fail)?;
            let human = format!("deleted {} from the {}\n", delete.key, label(backend));
            output.print(&human, &json!({ "key": delete.key, "deleted": true }));
            Ok(())
        }
        StoreCommand::List(list) => list_keys(output, &store, scope, list).await.map_err(fail),
    }
}

/// The store the flags name.
fn open(backend: &StoreBackend) -> anyhow::Result<Arc<dyn Store>> {
    let addresses: Vec<String> = backend.store_address.iter().cloned().collect();
    store::build(&backend.store, &addresses)
        .with_context(|| format!("cannot open the {}", label(backend)))
}

/// `file store ~/micro/store (micro/micro)`, for messages.
fn label(backend: &StoreBackend) -> String {
    let address = match (&backend.store_address, backend.store.as_str()) {
        (Some(address), _) => format!(" at {}", redact(address)),
        (None, "file") => " at ~/micro/store".to_owned(),
        (None, _) => String::new(),
    };
    format!(
        "{} store{address} ({}/{})",
        backend.store, backend.store_database, backend.store_table
    )
}

/// A connection string without its password.
fn redact(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{scheme}://{user}@{host}")
        }
        None => address.to_owned(),
    }
}

/// A store error with what to do about it.
fn explain(err: store::Error, backend: &StoreBackend) -> anyhow::Error {
    let asked = label(backend);
    let hint = match (err.kind(), backend.store.as_str()) {
        (ErrorKind::NotFound, _) => format!(
            "asked the {asked}; see its keys with `micro store list`, and note that a service's \
             records are in the database named after it (--store-database NAME)"
        ),
        (ErrorKind::Unavailable, "file") => format!(
            "asked the {asked}; a running service may hold its database open: stop the \
             service, or share a postgres store (--store postgres)"
        ),
        (ErrorKind::Unavailable, _) => format!(
            "asked the {asked}; is it up, and is --store-address (MICRO_STORE_ADDRESS) right?"
        ),
        _ => format!("asked the {asked}"),
    };
    anyhow::anyhow!("{err}\n{hint}")
}

async fn read_records(
    output: Output,
    store: &Arc<dyn Store>,
    scope: Scope,
    args: &ReadArgs,
) -> Result<(), store::Error> {
    let matching = match (args.prefix, args.suffix) {
        (true, _) => Match::Prefix,
        (_, true) => Match::Suffix,
        _ => Match::Exact,
    };
    let options_scope = scope.to_string();
    let options = ReadOptions {
        scope,
        matching,
        limit: args.limit,
        offset: args.offset,
    };
    let records = store.read(&args.key, options).await?;
    let json = Value::Array(records.iter().map(record_json).collect());
    if matching == Match::Exact && !output.is_json() {
        let record = records
            .first()
            .ok_or_else(|| store::Error::not_found(&args.key, &options_scope))?;
        print_value(record);
        return Ok(());
    }
    output.print(&records_table(&records), &json);
    Ok(())
}

/// One value on its own line: text, or base64 (said on stderr) when it is not UTF-8.
fn print_value(record: &Record) {
    let (text, base64) = value_text(record);
    if base64 {
        eprintln!(
            "note: the value of {} is not UTF-8; printed as base64",
            record.key
        );
    }
    outln!("{text}");
}

/// The value as text, and whether that text is base64.
fn value_text(record: &Record) -> (String, bool) {
    match std::str::from_utf8(&record.value) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&record.value),
            true,
        ),
    }
}

/// `{key, value, encoding, metadata, expiry}`: expiry in whole seconds left, or null.
fn record_json(record: &Record) -> Value {
    let (value, base64) = value_text(record);
    json!({
        "key": record.key,
        "value": value,
        "encoding": if base64 { "base64" } else { "utf-8" },
        "metadata": record.metadata,
        "expiry": record.expiry.map(|left| left.as_secs()),
    })
}

fn records_table(records: &[Record]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|record| {
            let (value, base64) = value_text(record);
            let value = if base64 {
                format!("{value} (base64)")
            } else {
                value
            };
            let expiry = record.expiry.map_or_else(
                || "-".to_owned(),
                |left| humantime::format_duration(Duration::from_secs(left.as_secs())).to_string(),
            );
            let metadata: Vec<String> = record
                .metadata
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => format!("{key}={text}"),
                    other => format!("{key}={other}"),
                })
                .collect();
            vec![record.key.clone(), value, expiry, metadata.join(",")]
        })
        .collect();
    table(&["KEY", "VALUE", "EXPIRES IN", "METADATA"], &rows)
}

async fn write_record(
    output: Output,
    store: &Arc<dyn Store>,
    backend: &StoreBackend,
    args: &WriteArgs,
) -> Result<(), store::Error> {
    let scope = Scope::new(&backend.store_database, &backend.store_table);
    let mut record = Record::new(&args.key, args.value.clone().into_bytes());
    record.expiry = args.ttl;
    for (key, value) in &args.metadata {
        record = record.metadata(key, value.as_str());
    }
    let expires = args.ttl.map_or_else(String::new, |ttl| {
        format!(" (expires in {})", humantime::format_duration(ttl))
    });
    let human = format!("wrote {} to the {}{expires}\n", args.key, label(backend));
    let json = json!({
        "key": args.key,
        "database": scope.database,
        "table": scope.table,
        "ttl": args.ttl.map(|ttl| ttl.as_secs()),
    });
    store.write(&record, store::WriteOptions { scope }).await?;
    output.print(&human, &json);
    Ok(())
}

async fn list_keys(
    output: Output,
    store: &Arc<dyn Store>,
    scope: Scope,
    args: &ListArgs,
) -> Result<(), store::Error> {
    let options = ListOptions {
        scope,
        prefix: args.prefix.clone(),
        suffix: args.suffix.clone(),
        limit: args.limit,
        offset: args.offset,
    };
    let keys = store.list(options).await?;
    let human: String = keys.iter().map(|key| format!("{key}\n")).collect();
    output.print(&human, &json!(keys));
    Ok(())
}

fn parse_metadata(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not key=value"))?;
    if key.trim().is_empty() {
        return Err(format!("`{text}` has no key: use key=value"));
    }
    Ok((key.trim().to_owned(), value.to_owned()))
}
