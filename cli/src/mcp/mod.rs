//! `micro mcp`: every endpoint of every registered service as a tool for AI agents, over the
//! Model Context Protocol (stdio, or streamable HTTP at `/mcp`).
//!
//! A tool is named `<service>.<Service.Method>` (go-micro's naming, e.g.
//! `helloworld.Helloworld.Greeting`), or `helloworld_Helloworld_Greeting` with
//! [`ToolNames::Underscore`] for clients that take only `[A-Za-z0-9_-]`; calls take either.
//! Its input and output JSON Schemas come from the descriptors the service serves over gRPC reflection, with the `.proto` comments as
//! descriptions; a service without reflection (go-micro before v6.10) has its registered
//! unary endpoints as tools, with looser schemas from the registry. Calls go through the
//! client stack (discovery, load balancing, retries) with the caller's token, so the service's
//! own auth rules apply; a tool may also require scopes (`--scope`, or the endpoint's `scopes`
//! metadata, as go-micro), checked before the call.
//! See `docs/mcp.md`.
//!
//! ```no_run
//! # async fn demo(env: micro_cli::Env) -> anyhow::Result<()> {
//! let toolbox = micro_cli::mcp::Toolbox::new(env, Default::default());
//! for tool in toolbox.tools().await? {
//!     println!("{}: {}", tool.name, tool.description);
//! }
//! # Ok(()) }
//! ```

mod arguments;
mod call;
mod names;
mod registered;
mod rest;
mod scopes;
mod server;
mod toolbox;

pub use names::ToolNames;
pub(crate) use scopes::parse_scope;
pub use scopes::{Caller, Scopes};
pub use server::{McpServer, allowed_hosts, http_router};
pub use toolbox::{Callee, Tool, Toolbox};

/// The `id` of errors `micro mcp` raises itself (a service's errors carry its name).
pub const MCP_ID: &str = "micro.mcp";
