//! [`Toolbox`]: the tools, found in the registry and described by the services' descriptors
//! (or, for services without gRPC reflection, by the endpoints they registered).

use std::collections::BTreeMap;
use std::sync::Arc;

use micro::Code;
use micro::dynamic::Method;
use micro::registry::{Endpoint, Service};
use micro::server::RpcKind;
use serde_json::{Map, Value, json};

use super::names::{self, ToolNames};
use super::{Scopes, registered};
use crate::Env;

/// One endpoint of one service, as a tool.
#[derive(Clone, Debug)]
pub struct Tool {
    /// `<service>.<Service.Method>`, e.g. `helloworld.Helloworld.Greeting`.
    pub name: String,
    /// The registered service the calls go to.
    pub service: String,
    /// What a call of the tool calls.
    pub callee: Callee,
    /// What it does: the method's `.proto` comment, the endpoint's `description` metadata, or
    /// a sentence naming the method.
    pub description: String,
    /// Scopes a caller's account needs (any one of them); none: no check here.
    pub scopes: Vec<String>,
}

/// What a tool calls.
#[derive(Clone, Debug)]
pub enum Callee {
    /// A method from the service's descriptors (fetched over gRPC reflection): any kind of
    /// call, with exact schemas and arguments checked against them.
    Method(Method),
    /// A unary endpoint the service registered, for services without reflection (go-micro
    /// before v6.10): loose schemas from the registry's shapes, arguments sent as JSON as is.
    Registered(Endpoint),
}

impl Callee {
    /// The kind of call: registered endpoints are unary.
    pub fn kind(&self) -> RpcKind {
        match self {
            Callee::Method(method) => method.kind(),
            Callee::Registered(_) => RpcKind::Unary,
        }
    }

    /// `Service.Method`.
    pub fn endpoint(&self) -> &str {
        match self {
            Callee::Method(method) => method.endpoint(),
            Callee::Registered(endpoint) => &endpoint.name,
        }
    }
}

/// The greatest number of replies a streaming tool collects before it stops the stream.
pub(super) const MAX_REPLIES: usize = 1000;

impl Tool {
    /// The JSON Schema of the tool's arguments: the request message, or for client and bidi
    /// streams `{"requests": [<request>, …]}`.
    pub fn input_schema(&self) -> Map<String, Value> {
        let method = match &self.callee {
            Callee::Method(method) => method,
            Callee::Registered(endpoint) => return registered::schema(endpoint.request.as_ref()),
        };
        let request = crate::schema::standalone(&method.input());
        match sends_many(method.kind()) {
            false => object(request),
            true => object(wrap_many(
                request,
                "requests",
                "The messages to send, in order.",
            )),
        }
    }

    /// The JSON Schema of the tool's result: the reply message, or for server and bidi streams
    /// `{"replies": [<reply>, …], "truncated": bool}`; `None` for a registered endpoint, whose
    /// registered shape is not exact enough to hold a reply to.
    pub fn output_schema(&self) -> Option<Map<String, Value>> {
        let Callee::Method(method) = &self.callee else {
            return None;
        };
        let reply = crate::schema::standalone(&method.output());
        Some(match receives_many(method.kind()) {
            false => object(reply),
            true => {
                let mut schema = wrap_many(reply, "replies", "The replies, in order.");
                schema["properties"]["truncated"] = json!({
                    "type": "boolean",
                    "description": format!("Whether the stream was stopped after {MAX_REPLIES} replies."),
                });
                object(schema)
            }
        })
    }

    /// The tool as MCP lists it.
    pub fn to_mcp(&self) -> rmcp::model::Tool {
        let mut tool = rmcp::model::Tool::new(
            self.name.clone(),
            self.description.clone(),
            Arc::new(self.input_schema()),
        );
        tool.output_schema = self.output_schema().map(Arc::new);
        if !self.scopes.is_empty() {
            let mut meta = Map::new();
            meta.insert("micro/scopes".into(), json!(self.scopes));
            tool.meta = Some(rmcp::model::MetaObject(meta));
        }
        tool
    }
}

/// Whether the client sends a stream of messages.
pub(super) fn sends_many(kind: RpcKind) -> bool {
    matches!(kind, RpcKind::ClientStreaming | RpcKind::BidiStreaming)
}

/// Whether the server answers with a stream of messages.
pub(super) fn receives_many(kind: RpcKind) -> bool {
    matches!(kind, RpcKind::ServerStreaming | RpcKind::BidiStreaming)
}

/// `{"type":"object","properties":{<field>:{"type":"array","items":<message>}}}`, with the
/// message's `$defs` (and `$schema`) moved to the top and its references back to the root
/// rewritten.
fn wrap_many(mut message: Value, field: &str, description: &str) -> Value {
    let (defs, dialect) = match message.as_object_mut() {
        Some(schema) => (schema.remove("$defs"), schema.remove("$schema")),
        None => (None, None),
    };
    let mut schema = json!({
        "type": "object",
        "properties": { field: { "type": "array", "description": description } },
        "required": [field],
    });
    if let Some(defs) = defs {
        schema["$defs"] = defs;
    }
    if let Some(dialect) = dialect {
        schema["$schema"] = dialect;
    }
    let pointer = format!("#/properties/{field}/items");
    rewrite_root_refs(&mut message, &pointer);
    if let Some(defs) = schema.get_mut("$defs") {
        rewrite_root_refs(defs, &pointer);
    }
    schema["properties"][field]["items"] = message;
    schema
}

/// Rewrites `{"$ref":"#"}` (the root message) to `{"$ref": pointer}`.
fn rewrite_root_refs(value: &mut Value, pointer: &str) {
    match value {
        Value::Object(map) => {
            if map.get("$ref").and_then(Value::as_str) == Some("#") {
                map.insert("$ref".into(), Value::String(pointer.into()));
            }
            map.values_mut()
                .for_each(|value| rewrite_root_refs(value, pointer));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|value| rewrite_root_refs(value, pointer)),
        _ => {}
    }
}

fn object(schema: Value) -> Map<String, Value> {
    match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The tools of every registered service, found anew on each listing (services come and go;
/// descriptors are cached by the [`Catalog`](micro::dynamic::Catalog)).
pub struct Toolbox {
    pub(super) env: Env,
    scopes: Scopes,
    names: ToolNames,
}

impl Toolbox {
    /// Tools of the services in `env`'s registry, with `scopes` required of callers, named
    /// as go-micro names them.
    pub fn new(env: Env, scopes: Scopes) -> Toolbox {
        Toolbox {
            env,
            scopes,
            names: ToolNames::default(),
        }
    }

    /// Names the tools `names`' way (calls take either way).
    pub fn with_names(mut self, names: ToolNames) -> Toolbox {
        self.names = names;
        self
    }

    /// The scopes tools require, and how tokens are checked.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Every tool, sorted by name. A service whose descriptors cannot be fetched (no gRPC
    /// reflection, or no node answering) is left out and logged.
    pub async fn tools(&self) -> anyhow::Result<Vec<Tool>> {
        let services = self.env.registry.list_services().await.map_err(|err| {
            anyhow::anyhow!("cannot list services: {err}; {}", self.env.not_found_hint())
        })?;
        let mut names: Vec<String> = services.into_iter().map(|service| service.name).collect();
        names.sort();
        names.dedup();
        let mut tools = Vec::new();
        for name in names {
            tools.extend(self.service_tools(&name).await);
        }
        Ok(tools)
    }

    /// The tool `name` (in either naming), if a registered service has it.
    pub async fn tool(&self, name: &str) -> Option<Tool> {
        if let Some((service, endpoint)) = split(name)
            && let Some(tool) = self.service_tool(service, endpoint).await
        {
            return Some(tool);
        }
        self.tool_named_safely(name).await
    }

    /// The tool go-micro's naming calls `service` and `endpoint`.
    async fn service_tool(&self, service: &str, endpoint: &str) -> Option<Tool> {
        let registered = self.registered(service).await;
        let callee = match self.env.catalog.method(service, endpoint).await {
            Ok(method) => Callee::Method(method),
            Err(status) if status.code() == Code::Unimplemented => registered
                .get(endpoint)
                .filter(|endpoint| registered::callable(endpoint))
                .cloned()
                .map(Callee::Registered)?,
            Err(_) => return None,
        };
        Some(self.describe(service, callee, &registered))
    }

    /// The tool whose [`ToolNames::Underscore`] name is `name`. Such a name does not say
    /// where the service's name ends, so the services whose names it could start with are
    /// looked through.
    async fn tool_named_safely(&self, name: &str) -> Option<Tool> {
        if name.contains('.') {
            return None;
        }
        let services = self.env.registry.list_services().await.ok()?;
        let mut candidates: Vec<String> = services
            .into_iter()
            .map(|service| service.name)
            .filter(|service| {
                let prefix = names::underscored(service, "");
                name.starts_with(&prefix[..prefix.len().min(32)])
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        for service in candidates {
            let tools = self.service_tools(&service).await;
            let found = tools
                .into_iter()
                .find(|tool| names::underscored(&tool.service, tool.callee.endpoint()) == name);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    async fn service_tools(&self, service: &str) -> Vec<Tool> {
        let registered = self.registered(service).await;
        let descriptors = match self.env.catalog.descriptors(service).await {
            Ok(descriptors) => descriptors,
            // No reflection: the endpoints it registered, as go-micro's `micro mcp` lists them.
            Err(status) if status.code() == Code::Unimplemented => {
                return registered
                    .values()
                    .filter(|endpoint| registered::callable(endpoint))
                    .map(|endpoint| Callee::Registered(endpoint.clone()))
                    .map(|callee| self.describe(service, callee, &registered))
                    .collect();
            }
            Err(status) => {
                tracing::warn!(
                    "mcp: {service} has no tools: its descriptors cannot be fetched over gRPC \
                     reflection: {}",
                    status.message()
                );
                return Vec::new();
            }
        };
        descriptors
            .methods()
            .map(|method| self.describe(service, Callee::Method(method), &registered))
            .collect()
    }

    /// The endpoints `service` registered, by name.
    async fn registered(&self, service: &str) -> BTreeMap<String, Endpoint> {
        let versions: Vec<Service> = self
            .env
            .registry
            .get_service(service)
            .await
            .unwrap_or_default();
        versions
            .into_iter()
            .flat_map(|version| version.endpoints)
            .map(|endpoint| (endpoint.name.clone(), endpoint))
            .collect()
    }

    fn describe(
        &self,
        service: &str,
        callee: Callee,
        registered: &BTreeMap<String, Endpoint>,
    ) -> Tool {
        let endpoint = callee.endpoint();
        let name = self.names.name(service, endpoint);
        let metadata = registered
            .get(callee.endpoint())
            .map(|endpoint| &endpoint.metadata);
        let described = metadata.and_then(|metadata| metadata.get("description"));
        let comment = match &callee {
            Callee::Method(method) => method_comment(method),
            Callee::Registered(_) => None,
        };
        let description = comment
            .or_else(|| described.filter(|text| !text.is_empty()).cloned())
            .unwrap_or_else(|| default_description(service, &callee));
        let declared = metadata
            .and_then(|metadata| metadata.get("scopes"))
            .map(|scopes| split_scopes(scopes))
            .unwrap_or_default();
        let either = [
            names::dotted(service, endpoint),
            names::underscored(service, endpoint),
        ];
        let scopes = self.scopes.required(&either, declared);
        Tool {
            name,
            service: service.to_owned(),
            callee,
            description,
            scopes,
        }
    }
}

/// The `.proto` comment on the method, if its descriptors carry comments.
fn method_comment(method: &Method) -> Option<String> {
    let descriptor = method.descriptor();
    crate::schema::comment(&descriptor.parent_file(), descriptor.path())
}

fn default_description(service: &str, callee: &Callee) -> String {
    let kind = match callee.kind() {
        RpcKind::Unary => "",
        RpcKind::ServerStreaming => " (a server stream: the replies are collected)",
        RpcKind::ClientStreaming => " (a client stream: pass the messages as `requests`)",
        RpcKind::BidiStreaming => {
            " (a bidirectional stream: pass the messages as `requests`; the replies are collected)"
        }
    };
    format!(
        "Calls {} on the {service} service{kind}.",
        callee.endpoint()
    )
}

/// go-micro's `scopes` metadata: comma-separated.
pub(super) fn split_scopes(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `name` split into its service and `Service.Method` endpoint. Service names may hold dots
/// themselves (`go.micro.srv.greeter.Greeter.Hello`); endpoints hold one.
fn split(name: &str) -> Option<(&str, &str)> {
    let (rest, _method) = name.rsplit_once('.')?;
    let (service, _handler) = rest.rsplit_once('.')?;
    let endpoint = &name[service.len() + 1..];
    (!service.is_empty()).then_some((service, endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_name_splits_at_the_endpoint() {
        assert_eq!(
            split("helloworld.Helloworld.Greeting"),
            Some(("helloworld", "Helloworld.Greeting"))
        );
        assert_eq!(
            split("go.micro.srv.greeter.Greeter.Hello"),
            Some(("go.micro.srv.greeter", "Greeter.Hello"))
        );
        assert_eq!(split("Greeting"), None);
        assert_eq!(split("Helloworld.Greeting"), None);
        assert_eq!(split(".Helloworld.Greeting"), None);
    }

    #[test]
    fn scopes_metadata_is_comma_separated() {
        assert_eq!(
            split_scopes(" blog:write, ,admin "),
            ["blog:write", "admin"]
        );
        assert!(split_scopes("").is_empty());
    }

    #[test]
    fn root_references_point_into_the_array_items() {
        let message = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": { "next": { "$ref": "#" }, "leaf": { "$ref": "#/$defs/Leaf" } },
            "$defs": { "Leaf": { "type": "object", "properties": { "up": { "$ref": "#" } } } },
        });
        let schema = wrap_many(message, "requests", "messages");
        let items = &schema["properties"]["requests"]["items"];
        assert_eq!(
            items["properties"]["next"]["$ref"],
            "#/properties/requests/items"
        );
        assert_eq!(items["properties"]["leaf"]["$ref"], "#/$defs/Leaf");
        assert_eq!(
            schema["$defs"]["Leaf"]["properties"]["up"]["$ref"],
            "#/properties/requests/items"
        );
        assert!(items.get("$defs").is_none());
        assert!(items.get("$schema").is_none());
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["required"], json!(["requests"]));
    }
}
