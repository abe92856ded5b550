//! Command-line flags and `MICRO_*` environment variables, with go-micro's names.

use std::time::Duration;

use clap::{Args, Parser};

use crate::Code;
use crate::selector::Strategy;

/// The flags every micro service understands. Each has a `MICRO_*` environment variable
/// (`--server-address` ↔ `MICRO_SERVER_ADDRESS`); a flag beats its variable, and both beat
/// what the code set.
///
/// [`Service::run`](crate::Service::run) parses them from the command line. A program with its
/// own flags can flatten them into its parser and hand them over with
/// [`Service::flags`](crate::Service::flags):
///
/// ```
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     /// Greeting to use.
///     #[arg(long, default_value = "Hello")]
///     greeting: String,
///     #[command(flatten)]
///     micro: micro::Flags,
/// }
///
/// let cli = Cli::parse_from(["greeter", "--greeting", "Hi", "--server-address", ":9090"]);
/// let service = micro::Service::new("greeter").flags(cli.micro);
/// ```
#[derive(Args, Debug, Clone, Default)]
#[non_exhaustive]
pub struct Flags {
    /// Name of the service.
    #[arg(
        long,
        env = "MICRO_SERVER_NAME",
        alias = "server_name",
        value_name = "NAME"
    )]
    pub server_name: Option<String>,

    /// Version of the service.
    #[arg(
        long,
        env = "MICRO_SERVER_VERSION",
        alias = "server_version",
        value_name = "VERSION"
    )]
    pub server_version: Option<String>,

    /// Id of this instance (default: a random UUID).
    #[arg(long, env = "MICRO_SERVER_ID", alias = "server_id", value_name = "ID")]
    pub server_id: Option<String>,

    /// Address to listen on, `host:port`; `:port` means every interface, port 0 a free port.
    #[arg(
        long,
        env = "MICRO_SERVER_ADDRESS",
        alias = "server_address",
        value_name = "HOST:PORT"
    )]
    pub server_address: Option<String>,

    /// Metadata for this instance, `key=value`; repeat the flag for more.
    #[arg(
        long,
        env = "MICRO_SERVER_METADATA",
        alias = "server_metadata",
        value_name = "KEY=VALUE",
        value_parser = parse_key_value,
        value_delimiter = ','
    )]
    pub server_metadata: Vec<(String, String)>,

    /// Largest message accepted or sent, e.g. `4MiB` (default) or `1048576`.
    #[arg(
        long,
        env = "MICRO_SERVER_MAX_MESSAGE_SIZE",
        value_name = "BYTES",
        value_parser = parse_bytes
    )]
    pub server_max_message_size: Option<usize>,

    /// How long in-flight calls may take to finish on shutdown, e.g. `10s` (default).
    #[arg(
        long,
        env = "MICRO_SERVER_SHUTDOWN_TIMEOUT",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub server_shutdown_timeout: Option<Duration>,

    /// Address to register instead of the listen address, `host:port`.
    #[arg(
        long,
        env = "MICRO_SERVER_ADVERTISE",
        alias = "server_advertise",
        value_name = "HOST:PORT"
    )]
    pub server_advertise: Option<String>,

    /// Also serve the health probes and `/metrics` here over plain HTTP, `host:port` (e.g.
    /// `:8081`): for kubelet's `httpGet` probes when the service's port requires client
    /// certificates (`--tls-client-auth required`). Advertised as node metadata `health`.
    #[arg(long, env = "MICRO_HEALTH_ADDRESS", value_name = "HOST:PORT")]
    pub health_address: Option<String>,

    /// Registry to register with and discover from.
    #[arg(
        long,
        env = "MICRO_REGISTRY",
        value_name = "NAME",
        value_parser = ["mdns", "etcd", "memory"]
    )]
    pub registry: Option<String>,

    /// Registry addresses, e.g. `127.0.0.1:2379` for etcd; comma-separated or repeated.
    #[arg(
        long,
        env = "MICRO_REGISTRY_ADDRESS",
        alias = "registry_address",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub registry_address: Vec<String>,

    /// CA bundle (PEM) to check etcd's certificate with; turns TLS on (without it, TLS is
    /// on for `https://` addresses, checked with the system's roots).
    #[arg(long, env = "MICRO_REGISTRY_TLS_CA", value_name = "FILE")]
    pub registry_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate (PEM) to present to etcd; needs `--registry-tls-key`.
    #[arg(
        long,
        env = "MICRO_REGISTRY_TLS_CERT",
        value_name = "FILE",
        requires = "registry_tls_key"
    )]
    pub registry_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM, unencrypted) of `--registry-tls-cert`.
    #[arg(
        long,
        env = "MICRO_REGISTRY_TLS_KEY",
        value_name = "FILE",
        requires = "registry_tls_cert"
    )]
    pub registry_tls_key: Option<std::path::PathBuf>,

    /// Broker for publish/subscribe: `http` (default; go-micro's), `nats` or `memory`.
    #[arg(
        long,
        env = "MICRO_BROKER",
        value_name = "NAME",
        value_parser = ["http", "nats", "memory"]
    )]
    pub broker: Option<String>,

    /// Broker addresses: NATS servers (`127.0.0.1:4222`), or where the HTTP broker listens.
    #[arg(
        long,
        env = "MICRO_BROKER_ADDRESS",
        alias = "broker_address",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub broker_address: Vec<String>,

    /// CA bundle (PEM) to check NATS's certificate with; turns TLS on (without it, TLS is
    /// on for `tls://` addresses, checked with the system's roots).
    #[arg(long, env = "MICRO_BROKER_TLS_CA", value_name = "FILE")]
    pub broker_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate (PEM) to present to NATS; needs `--broker-tls-key`.
    #[arg(
        long,
        env = "MICRO_BROKER_TLS_CERT",
        value_name = "FILE",
        requires = "broker_tls_key"
    )]
    pub broker_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM, unencrypted) of `--broker-tls-cert`.
    #[arg(
        long,
        env = "MICRO_BROKER_TLS_KEY",
        value_name = "FILE",
        requires = "broker_tls_cert"
    )]
    pub broker_tls_key: Option<std::path::PathBuf>,

    /// Event stream backend: `memory` (default), `nats` (JetStream) or `redis`.
    #[arg(
        long,
        env = "MICRO_EVENTS",
        value_name = "NAME",
        value_parser = ["memory", "nats", "redis"]
    )]
    pub events: Option<String>,

    /// Event stream addresses, e.g. `127.0.0.1:4222` (NATS) or `127.0.0.1:6379` (Redis).
    #[arg(
        long,
        env = "MICRO_EVENTS_ADDRESS",
        alias = "events_address",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub events_address: Vec<String>,

    /// CA bundle (PEM) to check the events server's certificate with; turns TLS on (without it,
    /// TLS is on for `tls://` or `rediss://` addresses, checked with the system's roots).
    #[arg(long, env = "MICRO_EVENTS_TLS_CA", value_name = "FILE")]
    pub events_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate (PEM) to present to NATS or Redis; needs `--events-tls-key`.
    #[arg(
        long,
        env = "MICRO_EVENTS_TLS_CERT",
        value_name = "FILE",
        requires = "events_tls_key"
    )]
    pub events_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM, unencrypted) of `--events-tls-cert`.
    #[arg(
        long,
        env = "MICRO_EVENTS_TLS_KEY",
        value_name = "FILE",
        requires = "events_tls_cert"
    )]
    pub events_tls_key: Option<std::path::PathBuf>,

    /// Store backend: `file` (default; embedded, crash-safe), `memory`, or `postgres`
    /// (PostgreSQL or CockroachDB; feature `store-postgres`).
    #[arg(long, env = "MICRO_STORE", value_name = "NAME", value_parser = ["file", "memory", "postgres", "cockroach"])]
    pub store: Option<String>,

    /// Where the store keeps its data: the file store's directory (default `~/micro/store`),
    /// or a connection string (`postgresql://user:password@host:5432/database`).
    #[arg(
        long,
        env = "MICRO_STORE_ADDRESS",
        alias = "store_address",
        value_name = "ADDRESS"
    )]
    pub store_address: Option<String>,

    /// The database of `Service::store()` (default: the service's name).
    #[arg(
        long,
        env = "MICRO_STORE_DATABASE",
        alias = "store_database",
        value_name = "NAME"
    )]
    pub store_database: Option<String>,

    /// The table of `Service::store()` (default `micro`).
    #[arg(
        long,
        env = "MICRO_STORE_TABLE",
        alias = "store_table",
        value_name = "NAME"
    )]
    pub store_table: Option<String>,

    /// Locks and leader election: `memory` (default; one process) or `etcd` (feature
    /// `sync-etcd`).
    #[arg(long, env = "MICRO_SYNC", value_name = "NAME", value_parser = ["memory", "etcd"])]
    pub sync: Option<String>,

    /// Where the sync backend is: etcd endpoints, `host:port` (comma-separated).
    #[arg(
        long,
        env = "MICRO_SYNC_ADDRESS",
        alias = "sync_address",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub sync_address: Vec<String>,

    /// CA bundle (PEM) to check etcd's certificate with; turns TLS on (without it, TLS is
    /// on for `https://` addresses, checked with the system's roots).
    #[arg(long, env = "MICRO_SYNC_TLS_CA", value_name = "FILE")]
    pub sync_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate (PEM) to present to etcd; needs `--sync-tls-key`.
    #[arg(
        long,
        env = "MICRO_SYNC_TLS_CERT",
        value_name = "FILE",
        requires = "sync_tls_key"
    )]
    pub sync_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM, unencrypted) of `--sync-tls-cert`.
    #[arg(
        long,
        env = "MICRO_SYNC_TLS_KEY",
        value_name = "FILE",
        requires = "sync_tls_cert"
    )]
    pub sync_tls_key: Option<std::path::PathBuf>,

    /// A config source for `Service::config()`, in load order (later wins; repeatable): a
    /// file (`app.yaml`, `file:///etc/app.toml`), `env://PREFIX`, or `etcd://host:2379`.
    #[arg(long, env = "MICRO_CONFIG", value_name = "SOURCE")]
    pub config: Vec<String>,

    /// CA bundle (PEM) to check an `etcd://` config source's certificate with; turns TLS on.
    #[arg(long, env = "MICRO_CONFIG_TLS_CA", value_name = "FILE")]
    pub config_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate (PEM) to present to the config source's etcd; needs
    /// `--config-tls-key`.
    #[arg(
        long,
        env = "MICRO_CONFIG_TLS_CERT",
        value_name = "FILE",
        requires = "config_tls_key"
    )]
    pub config_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM, unencrypted) of `--config-tls-cert`.
    #[arg(
        long,
        env = "MICRO_CONFIG_TLS_KEY",
        value_name = "FILE",
        requires = "config_tls_cert"
    )]
    pub config_tls_key: Option<std::path::PathBuf>,

    /// How long a registration lasts unless refreshed, e.g. `60s` (default) or `60`.
    #[arg(long, env = "MICRO_REGISTER_TTL", alias = "register_ttl", value_name = "DURATION", value_parser = parse_duration)]
    pub register_ttl: Option<Duration>,

    /// How often the registration is refreshed, e.g. `30s` (default) or `30`.
    #[arg(
        long,
        env = "MICRO_REGISTER_INTERVAL",
        alias = "register_interval",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub register_interval: Option<Duration>,

    /// How long a call may take, e.g. `30s` (default).
    #[arg(
        long,
        env = "MICRO_CLIENT_REQUEST_TIMEOUT",
        alias = "client_request_timeout",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub client_request_timeout: Option<Duration>,

    /// How long connecting to a node may take, e.g. `5s` (default).
    #[arg(
        long,
        env = "MICRO_CLIENT_CONNECT_TIMEOUT",
        alias = "client_connect_timeout",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub client_connect_timeout: Option<Duration>,

    /// How many times a failed call is retried on another node (default 3).
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRIES",
        alias = "client_retries",
        value_name = "N"
    )]
    pub client_retries: Option<u32>,

    /// HTTP/2 connections per node at most (default 4; the next opens when one carries 100 calls).
    #[arg(
        long,
        env = "MICRO_CLIENT_POOL_SIZE",
        alias = "client_pool_size",
        value_name = "N",
        value_parser = parse_pool_size
    )]
    pub client_pool_size: Option<usize>,

    /// Status codes a call is retried on, e.g. `unavailable,resource_exhausted` (default
    /// `unavailable`); gRPC's names or numbers.
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRY_CODES",
        value_name = "CODES",
        value_delimiter = ',',
        value_parser = parse_code
    )]
    pub client_retry_codes: Option<Vec<Code>>,

    /// The bound of the first retry's random wait, e.g. `50ms` (default).
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRY_BACKOFF_INITIAL",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub client_retry_backoff_initial: Option<Duration>,

    /// The largest bound of a retry's random wait, e.g. `1s` (default).
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRY_BACKOFF_MAX",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub client_retry_backoff_max: Option<Duration>,

    /// How much the bound grows per retry (default 2; at least 1).
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRY_BACKOFF_MULTIPLIER",
        value_name = "FACTOR",
        value_parser = parse_multiplier
    )]
    pub client_retry_backoff_multiplier: Option<f64>,

    /// The retry throttle's tokens (default 100): each failed attempt takes one; retries
    /// stop while half or fewer are left.
    #[arg(long, env = "MICRO_CLIENT_RETRY_TOKENS", value_name = "N")]
    pub client_retry_tokens: Option<u32>,

    /// What a successful call gives back to the retry throttle (default 0.2).
    #[arg(
        long,
        env = "MICRO_CLIENT_RETRY_TOKEN_RATIO",
        value_name = "RATIO",
        value_parser = parse_token_ratio
    )]
    pub client_retry_token_ratio: Option<f32>,

    /// Hedges calls to an endpoint: `Service.Method=DELAY[/COPIES]`, e.g.
    /// `Pantry.Count=20ms/3` (copies default 2, at most 5). Repeat it, or separate with commas.
    /// Parsed as (endpoint, delay, copies).
    #[arg(
        long,
        env = "MICRO_CLIENT_HEDGE",
        value_name = "ENDPOINT=DELAY[/COPIES]",
        value_delimiter = ',',
        value_parser = parse_hedge
    )]
    pub client_hedge: Vec<(String, Duration, u32)>,

    /// How calls pick a node: `random` (default), `roundrobin` or `p2c` (least loaded).
    #[arg(long, env = "MICRO_SELECTOR", value_name = "STRATEGY")]
    pub selector: Option<Strategy>,

    /// Auth backend: `noop` (default: nothing checked) or `jwt` (tokens and rules enforced).
    #[arg(long, env = "MICRO_AUTH", value_name = "NAME", value_parser = ["noop", "jwt"])]
    pub auth: Option<String>,

    /// Namespace accounts are issued in (default `micro`).
    #[arg(long, env = "MICRO_AUTH_NAMESPACE", value_name = "NAME")]
    pub auth_namespace: Option<String>,

    /// RSA public key that verifies tokens: base64 of the PEM, as go-micro (a PEM works too).
    #[arg(
        long,
        env = "MICRO_AUTH_PUBLIC_KEY",
        alias = "auth_public_key",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub auth_public_key: Option<String>,

    /// RSA private key that signs tokens: base64 of the PEM (a PEM works too).
    #[arg(
        long,
        env = "MICRO_AUTH_PRIVATE_KEY",
        alias = "auth_private_key",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub auth_private_key: Option<String>,

    /// This service's account id, for the tokens on its outgoing calls.
    #[arg(
        long,
        env = "MICRO_AUTH_ID",
        alias = "auth_id",
        value_name = "ID",
        requires = "auth_secret"
    )]
    pub auth_id: Option<String>,

    /// This service's account secret.
    #[arg(
        long,
        env = "MICRO_AUTH_SECRET",
        alias = "auth_secret",
        value_name = "SECRET",
        requires = "auth_id",
        hide_env_values = true
    )]
    pub auth_secret: Option<String>,

    /// Serve and call over TLS with certificates from the CA in this directory (`ca.pem`,
    /// `ca.key`; created there if missing). Every service sharing the CA trusts the others.
    #[arg(long, env = "MICRO_TLS_CA_DIR", value_name = "DIR")]
    pub tls_ca_dir: Option<std::path::PathBuf>,

    /// Serve and call over TLS with the certificate chain (leaf first) in this PEM file, issued
    /// by any PKI; re-read when it changes. Needs `--tls-key-file`.
    #[arg(
        long,
        env = "MICRO_TLS_CERT_FILE",
        value_name = "FILE",
        requires = "tls_key_file",
        conflicts_with = "tls_ca_dir"
    )]
    pub tls_cert_file: Option<std::path::PathBuf>,

    /// The private key (PEM, unencrypted) of `--tls-cert-file`; re-read when it changes.
    #[arg(
        long,
        env = "MICRO_TLS_KEY_FILE",
        value_name = "FILE",
        requires = "tls_cert_file"
    )]
    pub tls_key_file: Option<std::path::PathBuf>,

    /// The CA bundle (PEM) that callers' and called servers' certificates must chain to
    /// (default: the system's roots for servers; callers are then not asked for one).
    #[arg(
        long,
        env = "MICRO_TLS_CA_FILE",
        value_name = "FILE",
        conflicts_with = "tls_ca_dir"
    )]
    pub tls_ca_file: Option<std::path::PathBuf>,

    /// Whether callers must present a certificate: `required` (the default when there is a
    /// CA to check them with, mTLS), `optional` or `off`.
    #[arg(long, env = "MICRO_TLS_CLIENT_AUTH", value_name = "WHEN", value_parser = ["required", "optional", "off"])]
    pub tls_client_auth: Option<String>,

    /// JSON file of access rules (go-micro's `Rule` fields); default: any account may call
    /// anything.
    #[arg(long, env = "MICRO_AUTH_RULES", value_name = "FILE")]
    pub auth_rules: Option<std::path::PathBuf>,

    /// Count calls and serve them as Prometheus metrics at `GET /metrics` (default true).
    #[arg(long, env = "MICRO_METRICS", value_name = "BOOL")]
    pub metrics: Option<bool>,
}

/// The top-level parser [`Service::run`](crate::Service::run) uses when the program has none.
#[derive(Parser, Debug)]
#[command(about = "A micro service", long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) flags: Flags,
}

/// `key=value`, both sides non-empty.
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected key=value, got `{text}`")),
    }
}

/// A duration: Go/humantime style (`1m30s`, `500ms`) or a whole number of seconds (`30`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|err| {
        format!("invalid duration `{text}`: {err}; use e.g. `30s`, `500ms`, `1m30s` or seconds")
    })
}

/// Connections per node: at least one.
fn parse_pool_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a node needs at least one connection".to_owned()),
        Ok(size) => Ok(size),
        Err(_) => Err(format!("`{text}` is not a number of connections")),
    }
}

/// A gRPC status code other than OK: its name in any case (`unavailable`,
/// `RESOURCE_EXHAUSTED`, `deadline-exceeded`) or its number.
fn parse_code(text: &str) -> Result<Code, String> {
    let name = text.trim().to_ascii_lowercase().replace('-', "_");
    let name = if name == "cancelled" {
        "canceled"
    } else {
        &name
    };
    let code = match name.parse::<i32>() {
        Ok(number) => (1..=16).contains(&number).then(|| Code::from_i32(number)),
        Err(_) => (1..=16)
            .map(Code::from_i32)
            .find(|code| crate::errors::code_name(*code) == name),
    };
    code.ok_or_else(|| {
        format!(
            "`{text}` is not a gRPC status code to retry on; use names such as `unavailable`, \
             `resource_exhausted`, `aborted`, or numbers 1 to 16"
        )
    })
}

/// The retry backoff's multiplier: finite and at least 1.
fn parse_multiplier(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor >= 1.0 => Ok(factor),
        _ => Err(format!(
            "`{text}` is not a backoff multiplier: use a number of 1 or more"
        )),
    }
}

/// The retry throttle's token ratio, between 0 and 1000 as gRPC allows.
fn parse_token_ratio(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(ratio) if (0.0..=1000.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "`{text}` is not a token ratio: use a number from 0 to 1000, e.g. 0.2"
        )),
    }
}

/// `Service.Method=DELAY[/COPIES]`: a hedging policy for an endpoint, as (endpoint, delay,
/// copies).
fn parse_hedge(text: &str) -> Result<(String, Duration, u32), String> {
    let usage = "use `Service.Method=DELAY[/COPIES]`, e.g. `Pantry.Count=20ms/3`";
    let Some((endpoint, policy)) = text.split_once('=') else {
        return Err(format!("`{text}` is not a hedging policy: {usage}"));
    };
    if endpoint
        .split_once('.')
        .is_none_or(|(service, method)| service.is_empty() || method.is_empty())
    {
        return Err(format!(
            "`{endpoint}` is not an endpoint (Service.Method): {usage}"
        ));
    }
    let (delay, copies) = match policy.split_once('/') {
        Some((delay, copies)) => (delay, Some(copies)),
        None => (policy, None),
    };
    let delay = parse_duration(delay)?;
    let copies = match copies.map(|copies| (copies, copies.parse::<u32>())) {
        None => 2,
        Some((_, Ok(copies @ 2..=5))) => copies,
        Some((copies, _)) => {
            return Err(format!(
                "`{copies}` copies: a hedge sends 2 to 5 copies; {usage}"
            ));
        }
    };
    Ok((endpoint.to_owned(), delay, copies))
}

/// A size in bytes: a number, optionally with a unit (`4MiB`, `512KiB`, `1MB`).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text
        .parse()
        .map_err(|err| format!("invalid size `{text}`: {err}; use e.g. `4MiB` or `1048576`"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("size `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, clap::Error> {
        Cli::try_parse_from(std::iter::once("svc").chain(args.iter().copied())).map(|cli| cli.flags)
    }

    #[test]
    fn flags_parse_and_accept_go_micro_spellings() {
        let flags = parse(&[
            "--server-name=greeter",
            "--server_version",
            "v2",
            "--server-address",
            ":9090",
            "--server-metadata",
            "zone=eu",
            "--server-metadata",
            "tier=gold",
            "--server-max-message-size",
            "1MiB",
            "--server-shutdown-timeout",
            "1m30s",
        ])
        .unwrap();
        assert_eq!(flags.server_name.as_deref(), Some("greeter"));
        assert_eq!(flags.server_version.as_deref(), Some("v2"));
        assert_eq!(flags.server_address.as_deref(), Some(":9090"));
        assert_eq!(
            flags.server_metadata,
            [("zone".into(), "eu".into()), ("tier".into(), "gold".into())]
        );
        assert_eq!(flags.server_max_message_size, Some(1024 * 1024));
        assert_eq!(flags.server_shutdown_timeout, Some(Duration::from_secs(90)));
    }

    #[test]
    fn client_flags_parse() {
        let flags = parse(&[
            "--client_request_timeout=5s",
            "--client-retries=0",
            "--client-pool-size=2",
            "--client-connect-timeout=250ms",
            "--selector=roundrobin",
        ])
        .unwrap();
        assert_eq!(
            flags.client_connect_timeout,
            Some(Duration::from_millis(250))
        );
        assert_eq!(flags.client_request_timeout, Some(Duration::from_secs(5)));
        assert_eq!(flags.client_retries, Some(0));
        assert_eq!(flags.client_pool_size, Some(2));
        assert_eq!(flags.selector, Some(Strategy::RoundRobin));
    }

    #[test]
    fn retry_and_hedging_flags_parse() {
        let flags = parse(&[
            "--client-retry-codes",
            "unavailable,RESOURCE_EXHAUSTED",
            "--client-retry-codes=cancelled,10",
            "--client-retry-backoff-initial=10ms",
            "--client-retry-backoff-max",
            "2s",
            "--client-retry-backoff-multiplier=1.5",
            "--client-retry-tokens=10",
            "--client-retry-token-ratio=0.5",
            "--client-hedge",
            "Pantry.Count=20ms/3,Kitchen.List=1s",
            "--client-hedge=Kitchen.Get=5ms",
        ])
        .unwrap();
        assert_eq!(
            flags.client_retry_codes,
            Some(vec![
                Code::Unavailable,
                Code::ResourceExhausted,
                Code::Cancelled,
                Code::Aborted
            ])
        );
        assert_eq!(
            flags.client_retry_backoff_initial,
            Some(Duration::from_millis(10))
        );
        assert_eq!(flags.client_retry_backoff_max, Some(Duration::from_secs(2)));
        assert_eq!(flags.client_retry_backoff_multiplier, Some(1.5));
        assert_eq!(flags.client_retry_tokens, Some(10));
        assert_eq!(flags.client_retry_token_ratio, Some(0.5));
        assert_eq!(
            flags.client_hedge,
            [
                ("Pantry.Count".to_owned(), Duration::from_millis(20), 3),
                ("Kitchen.List".to_owned(), Duration::from_secs(1), 2),
                ("Kitchen.Get".to_owned(), Duration::from_millis(5), 2),
            ]
        );
    }

    #[test]
    fn bad_values_are_usage_errors_that_name_the_problem() {
        for (args, needle) in [
            (&["--server-metadata", "novalue"][..], "expected key=value"),
            (&["--server-max-message-size", "lots"], "invalid size"),
            (&["--server-shutdown-timeout", "soon"], "invalid duration"),
            (&["--no-such-flag"], "unexpected argument"),
            (&["--selector", "fastest"], "use random, roundrobin or p2c"),
            (&["--client-pool-size", "0"], "at least one connection"),
            (&["--client-retry-codes", "ok"], "not a gRPC status code"),
            (&["--client-retry-codes", "17"], "numbers 1 to 16"),
            (&["--client-retry-backoff-multiplier", "0.5"], "1 or more"),
            (&["--client-retry-token-ratio=-1"], "from 0 to 1000"),
            (&["--client-hedge", "Pantry.Count"], "Service.Method=DELAY"),
            (&["--client-hedge", "Count=20ms"], "is not an endpoint"),
            (&["--client-hedge", "Pantry.Count=soon"], "invalid duration"),
            (&["--client-hedge", "Pantry.Count=20ms/9"], "2 to 5 copies"),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn metrics_turn_off_with_a_value() {
        assert_eq!(parse(&[]).unwrap().metrics, None);
        assert_eq!(parse(&["--metrics", "false"]).unwrap().metrics, Some(false));
        assert_eq!(parse(&["--metrics=true"]).unwrap().metrics, Some(true));
        assert!(parse(&["--metrics", "maybe"]).is_err());
    }

    #[test]
    fn the_probe_port_has_a_flag() {
        assert_eq!(parse(&[]).unwrap().health_address, None);
        let flags = parse(&["--health-address", ":8081"]).unwrap();
        assert_eq!(flags.health_address.as_deref(), Some(":8081"));
    }

    #[test]
    fn durations_accept_plain_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }
}
