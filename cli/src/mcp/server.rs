//! [`McpServer`]: the toolbox as an MCP server (the official Rust SDK, `rmcp`), over stdio or
//! streamable HTTP.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use super::{Caller, Toolbox};

/// What the server tells agents when they connect.
const INSTRUCTIONS: &str = "Each tool is an endpoint of a microservice, named \
    <service>.<Service.Method> (or <service>_<Service>_<Method>). Arguments are the request \
    message as JSON (proto3 JSON mapping); the result is the reply. Streaming endpoints take \
    {\"requests\": [...]} and/or return {\"replies\": [...]}. A failed call returns the \
    service's error as JSON ({\"id\",\"code\",\"detail\",\"status\"}).";

/// An MCP server whose tools are the endpoints of the registered services.
#[derive(Clone)]
pub struct McpServer {
    toolbox: Arc<Toolbox>,
    /// The token calls carry when the MCP client sends none (`--token`).
    token: Option<String>,
    /// The services whose tools this session's client was last given: changes are announced
    /// against them, so a service that registers between a listing and the start of the watch
    /// is not missed.
    listed: Arc<Mutex<Option<BTreeSet<String>>>>,
}

impl McpServer {
    /// A server over `toolbox`; calls without a token of their own carry `token`.
    pub fn new(toolbox: Arc<Toolbox>, token: Option<String>) -> McpServer {
        McpServer {
            toolbox,
            token,
            listed: Arc::default(),
        }
    }

    /// A server for a new session: the same tools, nothing listed yet.
    fn for_session(&self) -> McpServer {
        McpServer::new(self.toolbox.clone(), self.token.clone())
    }

    /// What the client was last given, or (before any listing) the services registered now.
    async fn baseline(&self) -> BTreeSet<String> {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match listed {
            Some(listed) => listed,
            None => service_names(&self.toolbox).await,
        }
    }

    /// Who calls: the bearer token of the HTTP request (streamable HTTP), else `--token`.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Caller {
        let parts = context.extensions.get::<http::request::Parts>();
        Caller::from_headers(parts.map(|parts| &parts.headers), self.token.as_ref())
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("micro", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    /// For clients of protocol versions before 2026-07-28: watches the registry for the
    /// session's length, and tells the client to list the tools again when a service comes or
    /// goes.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let peer = context.peer;
        let notify = move || {
            let peer = peer.clone();
            async move { peer.notify_tool_list_changed().await.is_ok() }
        };
        let baseline = self.baseline().await;
        tokio::spawn(tell_of_new_tools(self.toolbox.clone(), baseline, notify));
    }

    /// Clients of 2026-07-28 and later ask to hear of tool changes by `subscriptions/listen`.
    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// Tells the subscriber when a service comes or goes, until it stops listening.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let sink = context.sink().clone();
        let notify = move || {
            let sink = sink.clone();
            async move { sink.notify_tool_list_changed().await.is_ok() }
        };
        let baseline = self.baseline().await;
        tokio::select! {
            () = context.cancelled() => {}
            () = tell_of_new_tools(self.toolbox.clone(), baseline, notify) => {}
        }
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // Taken before the listing: a service registering meanwhile is announced (perhaps
        // needlessly), never missed.
        let services = service_names(&self.toolbox).await;
        let tools = self
            .toolbox
            .tools()
            .await
            .map_err(|err| ErrorData::internal_error(format!("{err:#}"), None))?;
        *self.listed.lock().unwrap_or_else(|p| p.into_inner()) = Some(services);
        Ok(ListToolsResult::with_all_items(
            tools.iter().map(|tool| tool.to_mcp()).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self.toolbox.tool(&request.name).await else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{}`: tools/list lists the tools there are",
                    request.name
                ),
                None,
            ));
        };
        let caller = self.caller(&context);
        let result = match self.toolbox.call(&tool, request.arguments, &caller).await {
            Ok(reply) => CallToolResult::structured(reply),
            Err(error) => {
                let error = serde_json::to_value(&error).unwrap_or(Value::Null);
                CallToolResult::structured_error(error)
            }
        };
        Ok(result.into())
    }
}

/// How long registry changes are gathered before the services are listed again.
const SETTLE: Duration = Duration::from_millis(200);

/// Calls `notify` (which sends `notifications/tools/list_changed`) whenever the set of
/// registered services differs from the last one the client heard of (`known` at first),
/// until it fails (the client is gone) or the registry cannot be watched.
async fn tell_of_new_tools<F, Fut>(toolbox: Arc<Toolbox>, mut known: BTreeSet<String>, notify: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let registry = toolbox.env.registry.clone();
    let mut watcher = match registry.watch(None).await {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::warn!("mcp: cannot watch the registry, so tool changes go unannounced: {err}");
            return;
        }
    };
    // Whatever changed before the watch began counts too.
    let mut changed = true;
    while changed {
        let now = service_names(&toolbox).await;
        if now != known {
            known = now;
            if !notify().await {
                return;
            }
        }
        changed = watcher.next().await.is_some();
        tokio::time::sleep(SETTLE).await;
        while let Some(Some(_)) = watcher.next().now_or_never() {}
    }
}

async fn service_names(toolbox: &Toolbox) -> BTreeSet<String> {
    let services = toolbox
        .env
        .registry
        .list_services()
        .await
        .unwrap_or_default();
    services.into_iter().map(|service| service.name).collect()
}

/// The streamable HTTP transport at `/mcp` (one [`McpServer`] per session), and go-micro's
/// plain HTTP API beside it (`/mcp/tools`, `/mcp/call`, `/health`; see `docs/mcp.md`).
/// Requests are accepted only with a `Host` of `allowed_hosts` (DNS rebinding protection;
/// empty: any host).
pub fn http_router(server: McpServer, allowed_hosts: Vec<String>) -> axum::Router {
    let rest = super::rest::router(
        server.toolbox.clone(),
        server.token.clone(),
        allowed_hosts.clone(),
    );
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts);
    let service: StreamableHttpService<McpServer, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.for_session()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    rest.nest_service("/mcp", service)
}

/// The `Host`s streamable HTTP accepts: localhost's names and `extra`; any (none listed) if
/// `*` is among them.
pub fn allowed_hosts(extra: &[String]) -> Vec<String> {
    if extra.iter().any(|host| host == "*") {
        return Vec::new();
    }
    let local = ["localhost", "127.0.0.1", "::1"].map(String::from);
    local.into_iter().chain(extra.iter().cloned()).collect()
}
