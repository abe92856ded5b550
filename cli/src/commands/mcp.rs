//! `micro mcp serve|list|test`: the services' endpoints as MCP tools.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use micro::auth::{Auth, JwtAuth};
use rmcp::ServiceExt as _;
use serde_json::{Map, Value};

use crate::Env;
use crate::cli::{McpArgs, McpCommand, McpServeArgs, McpTestArgs, McpToolArgs};
use crate::mcp::{Caller, McpServer, Scopes, Tool, Toolbox};
use crate::output::outln;

/// Runs `micro mcp <command>`.
pub(super) async fn run(env: Env, args: McpArgs) -> anyhow::Result<()> {
    match args.command {
        McpCommand::Serve(args) => serve(env, args).await,
        McpCommand::List(args) => list(env, &args).await,
        McpCommand::Test(args) => test(env, args).await,
    }
}

fn toolbox(env: Env, args: &McpToolArgs) -> anyhow::Result<Toolbox> {
    let auth = match &args.auth_public_key {
        Some(key) => {
            let auth = JwtAuth::new(&args.auth_namespace, key, None)
                .context("cannot check tokens with --auth-public-key")?;
            Some(Arc::new(auth) as Arc<dyn Auth>)
        }
        None => None,
    };
    let overrides: BTreeMap<String, Vec<String>> = args.scopes.iter().cloned().collect();
    Ok(Toolbox::new(env, Scopes::new(overrides, auth)).with_names(args.tool_names))
}

async fn serve(env: Env, args: McpServeArgs) -> anyhow::Result<()> {
    let token = env.global.token.clone();
    let toolbox = Arc::new(toolbox(env, &args.tools)?);
    let server = McpServer::new(toolbox, token);
    let Some(address) = &args.address else {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP client did not initialize the session on stdio")?;
        running.waiting().await?;
        return Ok(());
    };
    let listener = crate::listen::bind(address).await?;
    let local = listener.local_addr()?;
    let router = crate::mcp::http_router(server, crate::mcp::allowed_hosts(&args.allowed_hosts));
    eprintln!("micro mcp serving streamable HTTP at http://{local}/mcp");
    // The event streams clients keep open for notifications end at the drain timeout.
    let stop = crate::listen::shutdown_signal();
    crate::listen::serve(listener, router, stop, crate::listen::DRAIN_TIMEOUT).await;
    Ok(())
}

async fn list(env: Env, args: &McpToolArgs) -> anyhow::Result<()> {
    let json = env.output.is_json();
    let (registry, hint) = (env.registry.clone(), env.not_found_hint());
    let tools = toolbox(env, args)?.tools().await?;
    if json {
        let listed: Vec<_> = tools.iter().map(Tool::to_mcp).collect();
        outln!("{}", serde_json::to_string(&listed)?);
        return Ok(());
    }
    if tools.is_empty() {
        let registered = registry.list_services().await.unwrap_or_default();
        match registered.is_empty() {
            true => outln!("no tools: no service is registered; {hint}"),
            false => outln!(
                "no tools: no registered service could be described (one must be reachable \
                 and serve gRPC reflection, or have registered its endpoints; the warnings \
                 above name each service and why)"
            ),
        }
    }
    for tool in &tools {
        let scopes = match tool.scopes.is_empty() {
            true => String::new(),
            false => format!(" [scopes: {}]", tool.scopes.join(", ")),
        };
        let description = tool.description.replace('\n', "\n    ");
        outln!("{}{scopes}\n    {description}", tool.name);
    }
    Ok(())
}

async fn test(env: Env, args: McpTestArgs) -> anyhow::Result<()> {
    let json = env.output.is_json();
    let caller = Caller {
        token: env.global.token.clone(),
    };
    let hint = env.not_found_hint();
    let toolbox = toolbox(env, &args.tools)?;
    let tool = toolbox.tool(&args.tool).await.with_context(|| {
        format!(
            "no tool `{}`: `micro mcp list` lists the tools there are; {hint}",
            args.tool
        )
    })?;
    let arguments = arguments(args.arguments.as_deref())?;
    let reply = toolbox
        .call(&tool, arguments, &caller)
        .await
        .map_err(|error| anyhow::anyhow!("{} failed: {}", tool.name, error.to_json()))?;
    match json {
        true => outln!("{reply}"),
        false => outln!("{reply:#}"),
    }
    Ok(())
}

fn arguments(text: Option<&str>) -> anyhow::Result<Option<Map<String, Value>>> {
    let Some(text) = text else {
        return Ok(None);
    };
    match serde_json::from_str(text).context("the arguments are not JSON")? {
        Value::Object(map) => Ok(Some(map)),
        _ => anyhow::bail!("the arguments must be a JSON object, e.g. '{{\"name\":\"alice\"}}'"),
    }
}
