//! The command line: global options and one subcommand per task.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::Output;

/// micro: call, describe and publish to micro services; run the API gateway and dashboard.
#[derive(Parser, Debug)]
#[command(name = "micro", version, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where services are found and how results are printed; the same `MICRO_*` variables
/// services read set them too.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Registry to find services in: mdns (default), etcd or memory.
    #[arg(long, global = true, env = "MICRO_REGISTRY", default_value = "mdns",
          value_parser = ["mdns", "etcd", "memory"])]
    pub registry: String,

    /// Registry addresses, e.g. 127.0.0.1:2379 for etcd; comma-separated or repeated.
    #[arg(
        long,
        global = true,
        env = "MICRO_REGISTRY_ADDRESS",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub registry_address: Vec<String>,

    /// Broker to publish with: http (default, go-micro's), nats or memory.
    #[arg(long, global = true, env = "MICRO_BROKER", default_value = "http",
          value_parser = ["http", "nats", "memory"])]
    pub broker: String,

    /// Broker addresses, e.g. 127.0.0.1:4222 for NATS; comma-separated or repeated.
    #[arg(
        long,
        global = true,
        env = "MICRO_BROKER_ADDRESS",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub broker_address: Vec<String>,

    /// How long a call may take.
    #[arg(long, global = true, env = "MICRO_CLIENT_REQUEST_TIMEOUT", default_value = "30s",
          value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// A bearer token sent with every call (`Authorization: Bearer <token>`).
    #[arg(long, global = true, env = "MICRO_AUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Call services over TLS, trusting the CA bundle (PEM) in this file (`https://`
    /// addresses use the system's roots without it).
    #[arg(long, global = true, env = "MICRO_TLS_CA_FILE", value_name = "FILE")]
    pub tls_ca_file: Option<PathBuf>,

    /// The client certificate (PEM) to present to services that ask for one (mTLS).
    #[arg(
        long,
        global = true,
        env = "MICRO_TLS_CERT_FILE",
        value_name = "FILE",
        requires = "tls_key_file"
    )]
    pub tls_cert_file: Option<PathBuf>,

    /// The private key (PEM) of `--tls-cert-file`.
    #[arg(
        long,
        global = true,
        env = "MICRO_TLS_KEY_FILE",
        value_name = "FILE",
        requires = "tls_cert_file"
    )]
    pub tls_key_file: Option<PathBuf>,

    /// Print results for people (default) or as JSON for scripts.
    #[arg(
        long,
        short = 'o',
        global = true,
        env = "MICRO_OUTPUT",
        default_value = "human"
    )]
    pub output: Output,

    /// Log what happens (registry lookups, connections) to stderr.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scaffold a new service crate: proto, build.rs, handler, main, README and a test.
    ///
    /// With `--no-proto`, plain serde types and a `#[micro::handler]` in `src/main.rs` instead:
    /// no `.proto`, no `build.rs`, no generated code.
    ///
    /// The crate depends on micro-rs by path (the checkout `micro` was built from, or
    /// `--micro-path`), from git (`--micro-git`, `--micro-rev`) or on the published crates.
    New(NewArgs),
    /// List the services in the registry.
    Services,
    /// Show a service's nodes, metadata and endpoints with their request and response fields.
    Describe(DescribeArgs),
    /// Call a unary endpoint with a JSON request: `micro call helloworld Helloworld.Greeting
    /// '{"name":"alice"}'`.
    Call(CallArgs),
    /// Call a streaming endpoint; requests are JSON messages on stdin (or in the argument), one
    /// per line or pretty-printed, replies JSON lines on stdout.
    Stream(CallArgs),
    /// Publish a JSON message to a topic.
    Publish(PublishArgs),
    /// Check the health of each node of a service.
    Health(HealthArgs),
    /// Run the HTTP/JSON API gateway to every registered service.
    #[command(visible_aliases = ["api", "server"])]
    Gateway(ServeArgs),
    /// Run the web dashboard.
    Dashboard(DashboardArgs),
    /// Run every service of a project for local development: built, started in dependency
    /// order, rebuilt and restarted when its sources change, behind the gateway on one port.
    ///
    /// Services come from `micro.mu` or `micro.json` (go-micro's formats) in the directory,
    /// or are the crates with a `src/main.rs` found under it.
    Run(RunArgs),
    /// Every endpoint of every registered service as a tool for AI agents, over the Model
    /// Context Protocol: serve, list and try them.
    Mcp(McpArgs),
    /// Read, write, list and delete the records services keep in their store (`--store`).
    Store(crate::commands::store::StoreArgs),
    /// Print the merged config of `--config` sources; set and delete keys in etcd.
    Config(crate::commands::config::ConfigArgs),
    /// JWT accounts and tokens, and the access rules file, as services with `--auth jwt` use
    /// them.
    Auth(crate::commands::auth::AuthArgs),
    /// `micro <name> …` runs a `micro-<name>` program from `PATH` with the remaining
    /// arguments, as go-micro's CLI does (plugins), or else calls the registered service
    /// `<name>`: `micro helloworld greeting --name=alice`.
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// `micro new`.
#[derive(Args, Debug, Clone)]
pub struct NewArgs {
    /// The service's name, e.g. `greeter` (lowercase letters, digits and `-`).
    pub name: String,
    /// Directory to create it in (default: `./<name>`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Path to the micro-rs checkout to depend on (default: the checkout `micro` was built
    /// from, if it is still there; otherwise the published crates).
    #[arg(long, env = "MICRO_RS_PATH", value_name = "DIR")]
    pub micro_path: Option<PathBuf>,
    /// Git repository of micro-rs to depend on instead: `micro` and `micro-build` become
    /// `{ git = URL }` dependencies (cargo finds both crates by name in the repository).
    #[arg(
        long,
        env = "MICRO_RS_GIT",
        value_name = "URL",
        conflicts_with = "micro_path"
    )]
    pub micro_git: Option<String>,
    /// The commit of `--micro-git` to depend on (`rev = REV`: a hash, or any revision cargo's
    /// `rev` takes); without it, the default branch's head at the first build, which
    /// `Cargo.lock` then keeps.
    #[arg(long, env = "MICRO_RS_REV", value_name = "REV", requires = "micro_git")]
    pub micro_rev: Option<String>,
    /// Plain serde types and `#[micro::handler]`, all in `src/main.rs`: no `.proto`,
    /// `build.rs` or generated code.
    #[arg(long)]
    pub no_proto: bool,
}

/// `micro describe`.
#[derive(Args, Debug, Clone)]
pub struct DescribeArgs {
    /// The service's name.
    pub service: String,
}

/// `micro call` and `micro stream`.
#[derive(Args, Debug, Clone)]
pub struct CallArgs {
    /// The service's name, e.g. `helloworld`.
    pub service: String,
    /// The endpoint: `Helloworld.Greeting` (or `/helloworld.Helloworld/Greeting`).
    pub endpoint: String,
    /// The request as JSON (default `{}`; `micro stream` takes several, and reads them from
    /// stdin without it, or with `-`).
    pub request: Option<String>,
    /// Metadata to send, `key=value` (or go-micro's `Key:Value`); repeatable. `-H`/`--header`
    /// as in go-micro's `micro call`.
    #[arg(
        long = "metadata",
        short = 'm',
        visible_alias = "header",
        visible_short_alias = 'H',
        value_parser = parse_pair,
        value_name = "KEY=VALUE"
    )]
    pub metadata: Vec<(String, String)>,
    /// Call the node at this address instead of one the registry lists.
    #[arg(long)]
    pub address: Option<String>,
}

/// `micro publish`.
#[derive(Args, Debug, Clone)]
pub struct PublishArgs {
    /// The topic, e.g. `events`.
    pub topic: String,
    /// The message as JSON.
    pub message: String,
    /// Message headers, `key=value`; repeatable.
    #[arg(long = "metadata", short = 'm', value_parser = parse_pair, value_name = "KEY=VALUE")]
    pub metadata: Vec<(String, String)>,
}

/// `micro health`.
#[derive(Args, Debug, Clone)]
pub struct HealthArgs {
    /// The service's name.
    pub service: String,
    /// Check only the node at this address.
    #[arg(long)]
    pub address: Option<String>,
}

/// `micro gateway`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where to listen, `host:port` or `:port` (every interface).
    #[arg(long, default_value = ":8080", env = "MICRO_GATEWAY_ADDRESS")]
    pub address: String,
    /// Keys for the dashboard's login at `/dashboard/` (without them, it has none).
    #[command(flatten)]
    pub keys: crate::commands::auth::AuthKeys,
    /// A browser origin whose pages may call the gateway (CORS, WebSockets), e.g.
    /// `https://app.example.com`, or `*` for any; repeatable or comma-separated. Without
    /// it, only pages the gateway serves may.
    #[arg(
        long = "cors-origin",
        env = "MICRO_GATEWAY_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub cors_origins: Vec<String>,
    /// How long a stop (Ctrl-C, SIGTERM) waits for the requests under way; event streams and
    /// WebSockets still open then are closed.
    #[arg(
        long,
        default_value = "10s",
        env = "MICRO_GATEWAY_SHUTDOWN_TIMEOUT",
        value_parser = humantime::parse_duration
    )]
    pub shutdown_timeout: std::time::Duration,
}

/// `micro dashboard`.
#[derive(Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Where to listen, `host:port` or `:port` (every interface).
    #[arg(long, default_value = ":8082", env = "MICRO_DASHBOARD_ADDRESS")]
    pub address: String,
    /// The services' JWT keys: with `--auth-public-key` the page asks for a login (account id
    /// and secret, or a token) and calls carry the account's token. Without, no login.
    #[command(flatten)]
    pub keys: crate::commands::auth::AuthKeys,
}

/// `micro run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The project's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where the gateway (with the dashboard) listens, `host:port` or `:port`.
    #[arg(long, default_value = ":8080", env = "MICRO_GATEWAY_ADDRESS")]
    pub address: String,
    /// Run the services only, without the gateway.
    #[arg(long)]
    pub no_gateway: bool,
    /// Do not rebuild and restart services when their sources change.
    #[arg(long)]
    pub no_watch: bool,
    /// The environment of `micro.mu`/`micro.json` whose variables the services get.
    #[arg(long, env = "MICRO_ENV", default_value = "development")]
    pub env: String,
    /// Also serve the services as MCP tools (streamable HTTP at `/mcp`) on this address.
    #[arg(long, value_name = "ADDRESS")]
    pub mcp_address: Option<String>,
}

/// `micro mcp`.
#[derive(Args, Debug, Clone)]
pub struct McpArgs {
    /// What to do with the tools.
    #[command(subcommand)]
    pub command: McpCommand,
}

/// `micro mcp` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum McpCommand {
    /// Serve the tools to an MCP client: over stdio (the default; what Claude Code and
    /// desktop agents start), or over streamable HTTP at `http://<address>/mcp`.
    Serve(McpServeArgs),
    /// List the tools with their descriptions (`-o json`: as MCP lists them, with schemas).
    List(McpToolArgs),
    /// Call a tool as an agent would: `micro mcp test helloworld.Helloworld.Greeting
    /// '{"name":"alice"}'`.
    Test(McpTestArgs),
}

/// Which tools need scopes, and how tokens are checked.
#[derive(Args, Debug, Clone)]
pub struct McpToolArgs {
    /// Scopes a tool needs (any one of them): `TOOL=SCOPE[,SCOPE…]`, e.g.
    /// `blog.Blog.Delete=blog:admin`; repeatable. Replaces the scopes the service registered
    /// in the endpoint's `scopes` metadata.
    #[arg(long = "scope", value_name = "TOOL=SCOPES", value_parser = crate::mcp::parse_scope)]
    pub scopes: Vec<(String, Vec<String>)>,

    /// RSA public key that verifies callers' tokens for tools with scopes: base64 of the PEM,
    /// as services take it (a PEM works too).
    #[arg(
        long,
        env = "MICRO_AUTH_PUBLIC_KEY",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub auth_public_key: Option<String>,

    /// The namespace tokens are issued in.
    #[arg(long, env = "MICRO_AUTH_NAMESPACE", default_value = "micro")]
    pub auth_namespace: String,

    /// How tools are named: `dotted`, go-micro's `helloworld.Helloworld.Greeting`, or
    /// `underscore`, `helloworld_Helloworld_Greeting`, for clients that take only
    /// `[A-Za-z0-9_-]` (Claude Desktop, OpenAI). Calls take either.
    #[arg(long, env = "MICRO_MCP_TOOL_NAMES", value_enum, default_value_t = crate::mcp::ToolNames::Dotted)]
    pub tool_names: crate::mcp::ToolNames,
}

/// `micro mcp serve`.
#[derive(Args, Debug, Clone)]
pub struct McpServeArgs {
    /// Serve streamable HTTP on this address (`host:port` or `:port`) instead of stdio.
    #[arg(long, env = "MICRO_MCP_ADDRESS")]
    pub address: Option<String>,

    /// A `Host` header to accept besides localhost's (DNS rebinding protection), e.g. the
    /// name agents reach this server by; repeatable. `*` accepts any.
    #[arg(long = "allowed-host", value_name = "HOST[:PORT]")]
    pub allowed_hosts: Vec<String>,

    /// Scopes and token checks.
    #[command(flatten)]
    pub tools: McpToolArgs,
}

/// `micro mcp test`.
#[derive(Args, Debug, Clone)]
pub struct McpTestArgs {
    /// The tool, e.g. `helloworld.Helloworld.Greeting`.
    pub tool: String,
    /// The arguments as JSON (default `{}`).
    pub arguments: Option<String>,

    /// Scopes and token checks.
    #[command(flatten)]
    pub tools: McpToolArgs,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| format!("`{text}` is not key=value"))?;
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}
