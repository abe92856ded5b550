//! `micro config get|set|delete`: the merged config of `--config` sources as services load it,
//! and keys written to or deleted from an etcd source in go-micro's layout
//! (`/micro/config/<a>/<b>`), which services watching it apply at once.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use micro::BackendTls;
use micro::config::{self, Config, ErrorKind, Etcd};
use serde_json::{Value, json};

use crate::Output;

/// `micro config`.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
    /// A config source, in load order (later wins; repeatable), as services take it: a file
    /// (`app.yaml`, `file:///etc/app.toml`), `env://PREFIX`, or `etcd://host:2379`.
    #[arg(long, global = true, env = "MICRO_CONFIG", value_name = "SOURCE")]
    pub config: Vec<String>,
    /// CA bundle (PEM) to check an `etcd://` source's certificate with; turns TLS on (as a
    /// service's flag of the same name).
    #[arg(long, global = true, env = "MICRO_CONFIG_TLS_CA", value_name = "FILE")]
    pub config_tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) to present to the source's etcd; needs `--config-tls-key`.
    #[arg(
        long,
        global = true,
        env = "MICRO_CONFIG_TLS_CERT",
        value_name = "FILE",
        requires = "config_tls_key"
    )]
    pub config_tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM, unencrypted) of `--config-tls-cert`.
    #[arg(
        long,
        global = true,
        env = "MICRO_CONFIG_TLS_KEY",
        value_name = "FILE",
        requires = "config_tls_cert"
    )]
    pub config_tls_key: Option<std::path::PathBuf>,
}

impl ConfigArgs {
    /// TLS for `etcd://` sources, from `--config-tls-*`.
    fn tls(&self) -> BackendTls {
        let mut tls = BackendTls::new();
        tls.ca.clone_from(&self.config_tls_ca);
        tls.cert.clone_from(&self.config_tls_cert);
        tls.key.clone_from(&self.config_tls_key);
        tls
    }
}

/// `micro config` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum ConfigCommand {
    /// Print the merged config (or the value at a dotted path, e.g. `database.address`) as JSON.
    Get(GetArgs),
    /// Set the value at a dotted path in the etcd source: JSON (`5432`, `{"a":1}`, `"text"`)
    /// or else a plain string.
    Set(SetArgs),
    /// Delete the value at a dotted path (and everything under it) from the etcd source.
    Delete(DeleteArgs),
}

/// `micro config get`.
#[derive(Args, Debug, Clone)]
pub struct GetArgs {
    /// A dotted path, e.g. `database.address` (default: the whole config).
    #[arg(default_value = "")]
    pub path: String,
}

/// `micro config set`.
#[derive(Args, Debug, Clone)]
pub struct SetArgs {
    /// A dotted path, e.g. `database.address`.
    pub path: String,
    /// The value: JSON, or else a plain string.
    pub value: String,
}

/// `micro config delete`.
#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// A dotted path, e.g. `database.address`.
    pub path: String,
}

/// Runs a `micro config` subcommand.
pub(super) async fn run(output: Output, args: &ConfigArgs) -> anyhow::Result<()> {
    match &args.command {
        ConfigCommand::Get(get) => print_config(output, args, &get.path).await,
        ConfigCommand::Set(set) => {
            let value = parse_value(&set.value)?;
            let (uri, etcd) = etcd_source(args, &set.path, "set")?;
            etcd.put(&set.path, &value)
                .await
                .with_context(|| format!("cannot set {} in {uri}", set.path))?;
            let human = format!("set {} in {}\n", set.path, etcd_label(&etcd));
            output.print(
                &human,
                &json!({ "path": set.path, "value": value, "source": uri }),
            );
            Ok(())
        }
        ConfigCommand::Delete(delete) => {
            let (uri, etcd) = etcd_source(args, &delete.path, "delete")?;
            let deleted = etcd
                .delete(&delete.path)
                .await
                .with_context(|| format!("cannot delete {} from {uri}", delete.path))?;
            if deleted == 0 {
                anyhow::bail!(
                    "nothing to delete: no key at {} or under it in {}; a value inside a parent \
                     key's JSON is not a key of its own: set the parent instead \
                     (`micro config get` shows the tree)",
                    delete.path,
                    etcd_label(&etcd)
                );
            }
            let human = format!(
                "deleted {} from {} ({deleted} key{})\n",
                delete.path,
                etcd_label(&etcd),
                if deleted == 1 { "" } else { "s" }
            );
            let json = json!({ "path": delete.path, "deleted": deleted, "source": uri });
            output.print(&human, &json);
            Ok(())
        }
    }
}

/// Loads the sources once (not watched) and prints the tree or the value at `path`.
async fn print_config(output: Output, args: &ConfigArgs, path: &str) -> anyhow::Result<()> {
    let uris = &args.config;
    if uris.is_empty() {
        anyhow::bail!(
            "no config source: pass --config SOURCE (a file, env://PREFIX or etcd://HOST:2379; \
             repeatable, later wins) or set MICRO_CONFIG"
        );
    }
    let mut builder = Config::builder().watch(false);
    for uri in uris {
        let source = config::from_uri_with_tls(uri, &args.tls())
            .with_context(|| format!("--config {uri}"))?;
        builder = builder.boxed_source(source);
    }
    let config = builder.build().await.context("cannot load the config")?;
    let value: Value = config.get(path).map_err(|err| match err.kind() {
        ErrorKind::NotFound => anyhow::anyhow!(
            "nothing at {path:?} in the config of {}; `micro config get` prints the whole tree",
            uris.join(", ")
        ),
        _ => anyhow::Error::new(err),
    })?;
    let text = serde_json::to_string_pretty(&value)?;
    output.print(&format!("{text}\n"), &value);
    Ok(())
}

/// A value to set: JSON, or a plain string when it does not look like JSON.
fn parse_value(text: &str) -> anyhow::Result<Value> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(err) if text.trim_start().starts_with(['{', '[', '"']) => Err(anyhow::anyhow!(
            "the value starts like JSON but does not parse: {err}; fix it, or quote a plain \
             string as JSON ('\"…\"')"
        )),
        Err(_) => Ok(Value::String(text.to_owned())),
    }
}

/// The etcd source among `uris` (the last, which wins), or why there is none to write to.
fn etcd_source(args: &ConfigArgs, path: &str, verb: &str) -> anyhow::Result<(String, Etcd)> {
    let uris = &args.config;
    let etcd = uris
        .iter()
        .rev()
        .find_map(|uri| Some((uri, uri.strip_prefix("etcd://")?)));
    if let Some((uri, rest)) = etcd {
        let addresses: Vec<String> = rest
            .split(',')
            .filter(|address| !address.is_empty())
            .map(str::to_owned)
            .collect();
        return Ok((uri.clone(), Etcd::new(&addresses).tls(args.tls())));
    }
    let Some(last) = uris.last() else {
        anyhow::bail!(
            "`micro config {verb}` writes to an etcd source: pass --config etcd://HOST:2379 \
             (or MICRO_CONFIG)"
        );
    };
    anyhow::bail!("{}", not_writable(last, path, verb))
}

/// Why `micro config set|delete` cannot change `uri`, and what to do instead.
fn not_writable(uri: &str, path: &str, verb: &str) -> String {
    let head = format!("`micro config {verb}` writes to etcd, and {uri} is not an etcd source");
    match uri.split_once("://") {
        Some(("env", prefix)) => {
            let mut name = path.replace('.', "_").to_uppercase();
            if !prefix.is_empty() {
                name = format!("{prefix}_{name}");
            }
            format!(
                "{head}: the environment is read when a service starts; set (or unset) {name} \
                 in the service's environment and restart it"
            )
        }
        Some(("memory", _)) => format!("{head}: memory:// holds nothing to change"),
        _ => format!(
            "{head}: it is a file: edit the file (services reload it when it changes), or pass \
             --config etcd://HOST:2379"
        ),
    }
}

/// `etcd at 127.0.0.1:2379 (/micro/config/)`.
fn etcd_label(etcd: &Etcd) -> String {
    config::Source::describe(etcd)
}
