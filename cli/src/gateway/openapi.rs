//! `GET /openapi.json`: an OpenAPI 3.1 document of what the gateway serves, built from the
//! registry's services and the descriptors they serve over reflection.
//!
//! Every method of every registered service is an operation at `POST /<service>/<Service.Method>`
//! (server-streaming ones also at `GET` with query parameters; server and bidirectional streams
//! answered as Server-Sent Events; client and bidirectional streams taking newline-delimited
//! JSON), and every google.api.http rule is one more.
//! Message schemas are in `components.schemas` ([`crate::schema`]). A service whose descriptors
//! cannot be fetched is left out and listed in `x-micro-unavailable`.

mod parameters;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::future::join_all;
use http::{HeaderMap, StatusCode, header};
use micro::dynamic::{Descriptors, Method, MethodDescriptor};
use micro::server::RpcKind;
use serde_json::{Map, Value, json};

use super::Shared;
use super::error::GatewayError;
use crate::schema::{self, Schemas};
use micro::http_rule::{self, Binding};
use parameters::PathParameter;

/// How long one service's descriptors may take; a slower service is listed as unavailable.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Where operations refer to the error JSON.
const ERROR_SCHEMA: &str = "micro.gateway.Error";

/// The error statuses every operation documents, besides `default` (any other status a
/// service's own error carries).
const ERRORS: [(&str, &str); 6] = [
    (
        "400",
        "The request is not valid JSON for the method, or a parameter is malformed.",
    ),
    (
        "404",
        "The service is not registered, has no such method, or nothing answers the path.",
    ),
    (
        "413",
        "The request body is larger than the gateway's limit.",
    ),
    (
        "500",
        "The service failed (`INTERNAL`, `UNKNOWN`, `DATA_LOSS`).",
    ),
    ("503", "No node of the service could be reached."),
    ("504", "The call took longer than the gateway's timeout."),
];

/// Answers `GET /openapi.json`.
pub(super) async fn serve(State(gateway): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match document(&gateway, &headers).await {
        Ok(document) => (
            [(header::CONTENT_TYPE, "application/json")],
            document.to_string(),
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

/// The document for the services registered now.
async fn document(gateway: &Shared, headers: &HeaderMap) -> Result<Value, GatewayError> {
    let services = gateway.env.registry.list_services().await.map_err(|err| {
        GatewayError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot list the registry's services for /openapi.json: {err}; check that the registry is up"),
        )
    })?;
    let mut names: Vec<String> = services.into_iter().map(|service| service.name).collect();
    names.sort();
    names.dedup();
    let fetched = join_all(names.iter().map(|name| fetch(gateway, name))).await;
    let mut document = Document::default();
    let mut unavailable = Vec::new();
    for (name, fetched) in names.iter().zip(fetched) {
        match fetched {
            Ok(descriptors) => document.service(name, &descriptors),
            Err(reason) => {
                tracing::warn!("gateway: /openapi.json leaves out {name}: {reason}");
                unavailable.push(json!({"service": name, "reason": reason}));
            }
        }
    }
    Ok(document.finish(server_url(headers), unavailable))
}

async fn fetch(gateway: &Shared, service: &str) -> Result<Arc<Descriptors>, String> {
    let fetched = tokio::time::timeout(FETCH_TIMEOUT, gateway.env.catalog.descriptors(service));
    match fetched.await {
        Ok(Ok(descriptors)) => Ok(descriptors),
        Ok(Err(status)) => Err(status.message().to_owned()),
        Err(_) => Err(format!("no descriptors within {FETCH_TIMEOUT:?}")),
    }
}

/// The gateway's URL as the client reached it (`Host`, and `X-Forwarded-Proto` behind a
/// proxy); relative when the request has no `Host`.
fn server_url(headers: &HeaderMap) -> String {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let Some(host) = text(header::HOST.as_str()).filter(|host| !host.is_empty()) else {
        return "/".to_owned();
    };
    let scheme = match text("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// The document being built.
struct Document {
    schemas: Schemas,
    /// Path → HTTP method → operation.
    paths: BTreeMap<String, Map<String, Value>>,
    /// Paths by their shape (variables unnamed): OpenAPI forbids two paths of one shape.
    shapes: BTreeMap<String, String>,
    operation_ids: HashSet<String>,
    tags: Vec<Value>,
}

impl Default for Document {
    fn default() -> Document {
        Document {
            schemas: Schemas::new("#/components/schemas/"),
            paths: BTreeMap::new(),
            shapes: BTreeMap::new(),
            operation_ids: HashSet::new(),
            tags: Vec::new(),
        }
    }
}

/// What one operation calls.
struct Call<'a> {
    service: &'a str,
    method: &'a Method,
}

impl Document {
    /// Adds the operations of `service`'s methods.
    fn service(&mut self, service: &str, descriptors: &Descriptors) {
        let comments: Vec<String> = descriptors
            .services()
            .filter_map(|s| schema::comment(&s.parent_file(), s.path()))
            .collect();
        let mut tag = json!({"name": service});
        if !comments.is_empty() {
            tag["description"] = Value::String(comments.join("\n\n"));
        }
        self.tags.push(tag);
        for method in descriptors.methods() {
            let call = Call {
                service,
                method: &method,
            };
            let path = format!("/{service}/{}", method.endpoint());
            let operation = self.operation(&call, (&[], &[]), Some("*"), None);
            self.add(&path, "post", operation);
            if method.kind() == RpcKind::ServerStreaming {
                let operation = self.operation(&call, (&[], &[]), None, None);
                self.add(&path, "get", operation);
            }
            let (bindings, _skipped) = http_rule::bindings(method.descriptor());
            for binding in bindings {
                self.rule(&call, &binding);
            }
        }
    }

    /// Adds the operation of one google.api.http rule.
    fn rule(&mut self, call: &Call<'_>, binding: &Binding) {
        let Some((path, parameters)) = parameters::openapi_path(binding.template.as_str()) else {
            tracing::debug!(
                "gateway: /openapi.json leaves out {} {}: OpenAPI cannot describe unnamed or `**` wildcards",
                binding.method,
                binding.template.as_str()
            );
            return;
        };
        let operation = self.operation(
            call,
            (&parameters, binding.template.variables()),
            binding.body.as_deref(),
            binding.response_body.as_deref(),
        );
        self.add(&path, &binding.method.as_str().to_lowercase(), operation);
    }

    /// An operation calling `call` with the request put together from the path (its
    /// parameters, and the fields its variables set), the body (`body`: `*`, a field or
    /// none) and the query (the fields left when the body is not `*`). A client or
    /// bidirectional stream's body is a sequence of such requests; server and bidirectional
    /// streams answer with events.
    fn operation(
        &mut self,
        call: &Call<'_>,
        (variables, bound_by_path): (&[PathParameter], &[String]),
        body: Option<&str>,
        response_body: Option<&str>,
    ) -> Value {
        let kind = call.method.kind();
        let requests = matches!(kind, RpcKind::ClientStreaming | RpcKind::BidiStreaming);
        let streaming = matches!(kind, RpcKind::ServerStreaming | RpcKind::BidiStreaming);
        let input = call.method.input();
        let mut parameters = parameters::path(&mut self.schemas, &input, variables);
        if body != Some("*") {
            let mut bound: Vec<String> = bound_by_path.to_vec();
            bound.extend(body.map(str::to_owned));
            parameters.extend(parameters::query(&mut self.schemas, &input, &bound));
        }
        let mut operation = describe(call.method.descriptor(), call.service);
        operation["tags"] = json!([call.service]);
        operation["x-micro-service"] = json!(call.service);
        operation["x-micro-endpoint"] = json!(call.method.endpoint());
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(schema) = self.request_body(call.method, body) {
            operation["requestBody"] = match requests {
                false => json!({
                    "required": false,
                    "description": "The request as JSON; an empty body is `{}`.",
                    "content": {"application/json": {"schema": schema}},
                }),
                true => json!({
                    "required": false,
                    "description": "The request messages as JSON, one per line \
                        (newline-delimited JSON; the schema is one message's); a body of one \
                        message is plain JSON, and an empty body sends none.",
                    "content": {
                        "application/json": {"schema": schema.clone()},
                        "application/x-ndjson": {"schema": schema},
                    },
                }),
            };
        }
        let reply = self.reply(call.method, response_body);
        operation["responses"] = responses(reply, streaming);
        operation
    }

    fn request_body(&mut self, method: &Method, body: Option<&str>) -> Option<Value> {
        match body? {
            "*" => Some(self.schemas.reference(&method.input())),
            field => {
                let input = method.input();
                let field = (input.get_field_by_name(field))
                    .or_else(|| input.get_field_by_json_name(field))?;
                Some(self.schemas.field(&field))
            }
        }
    }

    fn reply(&mut self, method: &Method, response_body: Option<&str>) -> Value {
        let output = method.output();
        let field = |name: &str| {
            (output.get_field_by_name(name)).or_else(|| output.get_field_by_json_name(name))
        };
        match response_body.and_then(field) {
            Some(field) => self.schemas.field(&field),
            None => self.schemas.reference(&output),
        }
    }

    /// Adds `operation` at `path` and `verb` with a unique operationId, unless another
    /// already answers there (the gateway would route to that one).
    fn add(&mut self, path: &str, verb: &str, mut operation: Value) {
        let shape = parameters::shape(path);
        let taken = self.shapes.get(&shape).is_some_and(|known| known != path)
            || self
                .paths
                .get(path)
                .is_some_and(|item| item.contains_key(verb));
        if taken {
            tracing::debug!("gateway: /openapi.json: {verb} {path} is answered by another method");
            return;
        }
        self.shapes.insert(shape, path.to_owned());
        let service = operation["x-micro-service"].as_str().unwrap_or_default();
        let endpoint = operation["x-micro-endpoint"].as_str().unwrap_or_default();
        let mut id = format!("{service}.{endpoint}");
        if !(verb == "post" && path.ends_with(&format!("/{endpoint}"))) {
            id = format!("{id}.{verb}");
        }
        let mut unique = id.clone();
        for n in 2.. {
            if self.operation_ids.insert(unique.clone()) {
                break;
            }
            unique = format!("{id}{n}");
        }
        operation["operationId"] = Value::String(unique);
        self.paths
            .entry(path.to_owned())
            .or_default()
            .insert(verb.to_owned(), operation);
    }

    fn finish(self, server: String, unavailable: Vec<Value>) -> Value {
        let mut schemas: Map<String, Value> = self.schemas.into_definitions().into_iter().collect();
        schemas.insert(ERROR_SCHEMA.to_owned(), error_schema());
        let paths: Map<String, Value> = self
            .paths
            .into_iter()
            .map(|(path, item)| (path, Value::Object(item)))
            .collect();
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "micro API gateway",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "HTTP/JSON to the services registered in the registry, generated \
                    from the descriptors they serve over gRPC reflection. Requests may name fields \
                    in lowerCamelCase (as listed) or as in the .proto. Client- and bidirectional \
                    streaming methods take their requests as JSON messages, one per line; every \
                    method is also reached by a WebSocket on its paths, which OpenAPI does not \
                    describe.",
            },
            "servers": [{"url": server}],
            "tags": self.tags,
            "paths": paths,
            "components": {"schemas": schemas},
            "x-micro-unavailable": unavailable,
        })
    }
}

/// `summary` and `description` from the method's comment, or a plain summary.
fn describe(method: &MethodDescriptor, service: &str) -> Value {
    let endpoint = format!("{}.{}", method.parent_service().name(), method.name());
    let Some(text) = schema::comment(&method.parent_file(), method.path()) else {
        return json!({"summary": format!("{endpoint} of {service}")});
    };
    json!({"summary": summary(&text), "description": text})
}

/// The first sentence of the comment's first paragraph, on one line.
fn summary(comment: &str) -> String {
    let paragraph: Vec<&str> = comment.lines().take_while(|l| !l.is_empty()).collect();
    let paragraph = paragraph.join(" ");
    match paragraph.find(". ") {
        Some(end) => paragraph[..=end].to_owned(),
        None => paragraph,
    }
}

/// The reply as `200`, and the go-micro error JSON for the error statuses.
/// One Server-Sent Event, as OpenAPI 3.1 describes an event stream (its `schema` is each
/// event's; 3.2 calls it `itemSchema`): a reply in `data` (event `message`, the default), then
/// `end`, or `error` with go-micro's error JSON.
fn event_schema(reply: &Value, error: &Value) -> Value {
    let json = |schema: &Value| json!({"type": "string", "contentMediaType": "application/json", "contentSchema": schema});
    json!({
        "oneOf": [
            {
                "type": "object",
                "description": "A reply.",
                "properties": {"event": {"const": "message"}, "data": json(reply)},
                "required": ["data"],
            },
            {
                "type": "object",
                "description": "The call succeeded: no more replies.",
                "properties": {"event": {"const": "end"}, "data": {"const": "{}"}},
                "required": ["event", "data"],
            },
            {
                "type": "object",
                "description": "The call failed after its first reply.",
                "properties": {"event": {"const": "error"}, "data": json(error)},
                "required": ["event", "data"],
            },
        ],
    })
}

fn responses(reply: Value, streaming: bool) -> Value {
    let error = json!({"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")});
    let mut responses = Map::new();
    let ok = match streaming {
        false => json!({
            "description": "The reply.",
            "content": {"application/json": {"schema": reply}},
        }),
        true => json!({
            "description": "Server-Sent Events: one `data:` event per reply (as JSON, see \
                `x-micro-event`), then `event: end` when the call succeeds, or `event: error` \
                with go-micro's error JSON when it fails after the first reply.",
            "content": {"text/event-stream": {"schema": event_schema(&reply, &error)}},
            "x-micro-event": reply,
        }),
    };
    responses.insert("200".into(), ok);
    for (status, description) in ERRORS {
        let content = json!({"application/json": {"schema": error}});
        responses.insert(
            status.into(),
            json!({"description": description, "content": content}),
        );
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "Another error, with the HTTP status of the service's go-micro error or gRPC status.",
            "content": {"application/json": {"schema": error}},
        }),
    );
    Value::Object(responses)
}

/// go-micro's error JSON, as every failure is answered.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "go-micro's error JSON.",
        "properties": {
            "id": {"type": "string", "description": "Who raised it: a service name, or `micro.gateway`."},
            "code": {"type": "integer", "description": "The HTTP status code."},
            "detail": {"type": "string", "description": "What went wrong."},
            "status": {"type": "string", "description": "The status's reason phrase, e.g. `Not Found`."},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use micro_test_support::{output_within, python_with};

    /// Real APIs' protos (googleapis, vendored in `corpus/`), each a registered service.
    const CORPUS: &[(&str, &str)] = &[
        ("pubsub", "google/pubsub/v1/pubsub.proto"),
        ("pubsub-schemas", "google/pubsub/v1/schema.proto"),
        ("spanner", "google/spanner/v1/spanner.proto"),
        ("logging", "google/logging/v2/logging.proto"),
        ("logging-config", "google/logging/v2/logging_config.proto"),
        ("logging-metrics", "google/logging/v2/logging_metrics.proto"),
        ("firestore", "google/firestore/v1/firestore.proto"),
        ("tasks", "google/cloud/tasks/v2/cloudtasks.proto"),
        ("secrets", "google/cloud/secretmanager/v1/service.proto"),
        (
            "gemini",
            "google/ai/generativelanguage/v1beta/generative_service.proto",
        ),
        ("operations", "google/longrunning/operations.proto"),
    ];

    fn corpus_pool() -> prost_reflect::DescriptorPool {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/googleapis");
        let files: Vec<&str> = CORPUS.iter().map(|(_, file)| *file).collect();
        protox::Compiler::new([root])
            .unwrap()
            .include_source_info(true)
            .include_imports(true)
            .open_files(&files)
            .unwrap()
            .descriptor_pool()
    }

    fn corpus_document(pool: &prost_reflect::DescriptorPool) -> Value {
        let mut document = Document::default();
        for (name, file) in CORPUS {
            let file = pool.get_file_by_name(file).unwrap();
            let services = file.services().map(|s| s.full_name().to_owned()).collect();
            document.service(name, &Descriptors::new(pool.clone(), services));
        }
        document.finish("http://localhost:8080".into(), Vec::new())
    }

    /// Google's own APIs (Pub/Sub, Spanner, Firestore, Logging, Cloud Tasks, Secret Manager,
    /// Gemini; 157 methods, 313 rules): every rule is read, and every one OpenAPI can describe
    /// (all but `**` templates) is an operation of its method at a path that reaches the rule.
    #[test]
    fn every_rule_of_real_apis_is_an_operation() {
        let pool = corpus_pool();
        let document = corpus_document(&pool);
        let (mut rules, mut missing) = (0, Vec::new());
        for (_, file) in CORPUS {
            let file = pool.get_file_by_name(file).unwrap();
            let methods = file
                .services()
                .flat_map(|service| service.methods().collect::<Vec<_>>());
            for method in methods {
                let (bindings, skipped) = http_rule::bindings(&method);
                assert!(skipped.is_empty(), "{skipped:?}");
                for binding in bindings {
                    rules += 1;
                    let template = binding.template.as_str();
                    let Some((path, parameters)) = parameters::openapi_path(template) else {
                        assert!(template.contains("**"), "{template}");
                        continue;
                    };
                    // The path a client fills in reaches the rule, each field set whole.
                    let mut called = path.clone();
                    for parameter in &parameters {
                        let name = &parameter.name;
                        called = called.replace(&format!("{{{name}}}"), &format!("v-{name}"));
                    }
                    let bound = binding.template.matches(&called);
                    let bound = bound.unwrap_or_else(|| panic!("{called} misses {template}"));
                    let fields: Vec<&String> = bound.iter().map(|(field, _)| field).collect();
                    assert!(
                        parameters.iter().all(|p| fields.contains(&&p.field)),
                        "{template}: {fields:?}"
                    );
                    let verb = binding.method.as_str().to_lowercase();
                    let operation = &document["paths"][&path][&verb];
                    let endpoint = format!("{}.{}", method.parent_service().name(), method.name());
                    if operation["x-micro-endpoint"] != endpoint.as_str() {
                        missing.push(format!("{verb} {template} ({endpoint})"));
                    }
                }
            }
        }
        assert!(rules > 300, "{rules}");
        // A variable the template fixes (`{name=operations}`) is no query parameter.
        let listed = &document["paths"]["/v1/operations"]["get"]["parameters"];
        let names: Vec<&Value> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        assert!(
            names.contains(&&json!("filter")) && !names.contains(&&json!("name")),
            "{names:?}"
        );
        assert!(
            missing.is_empty(),
            "{} rules missing: {missing:#?}",
            missing.len()
        );
    }

    /// The document for those APIs passes `openapi-spec-validator`.
    #[test]
    fn the_document_for_real_apis_is_valid_openapi() {
        let Some(python) = python_with("openapi_spec_validator") else {
            return;
        };
        let document = corpus_document(&corpus_pool());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, document.to_string()).unwrap();
        let output = output_within(
            std::process::Command::new(python)
                .args(["-m", "openapi_spec_validator"])
                .arg(&file),
            Duration::from_secs(120),
        );
        assert!(
            output.status.success(),
            "openapi-spec-validator:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn summaries_are_the_first_sentence_on_one_line() {
        assert_eq!(summary("Greets.\nLoudly."), "Greets.");
        assert_eq!(
            summary("Answers a name, upper-cased\nwhen asked. Else not."),
            "Answers a name, upper-cased when asked."
        );
        assert_eq!(summary("One.\n\nTwo."), "One.");
    }
}
