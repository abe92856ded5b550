//! `micro describe <service>`: nodes and metadata from the registry, endpoints with their
//! request and response fields from the service's reflection.

use std::fmt::Write as _;

use anyhow::{Context as _, anyhow};
use micro::dynamic::{MessageDescriptor, Method};
use micro::registry::{Node, Service};
use micro::server::RpcKind;
use prost_reflect::{FieldDescriptor, Kind};
use serde_json::{Value, json};

use crate::Env;
use crate::cli::DescribeArgs;
use crate::output::{BOLD, DIM, styled};

/// Prints what the registry and the service itself say about `service`.
pub(super) async fn run(env: &Env, args: &DescribeArgs) -> anyhow::Result<()> {
    let versions = registered(env, &args.service).await?;
    let descriptors = env.catalog.descriptors(&args.service).await;
    let methods: Vec<Method> = match &descriptors {
        Ok(descriptors) => descriptors.methods().collect(),
        Err(_) => Vec::new(),
    };
    let mut human = String::new();
    let mut json_versions = Vec::new();
    for version in &versions {
        human.push_str(&describe_version(version));
        json_versions.push(version_json(version));
    }
    human.push_str(&styled(BOLD, "endpoints\n"));
    match &descriptors {
        Ok(_) => methods
            .iter()
            .for_each(|method| human.push_str(&describe_method(method))),
        Err(err) => {
            let _ = writeln!(
                human,
                "  (no reflection: {}; endpoints as registered)",
                err.message()
            );
            for endpoint in versions.iter().flat_map(|v| &v.endpoints) {
                let _ = writeln!(human, "  {}", styled(BOLD, &endpoint.name));
            }
        }
    }
    let json = json!({
        "name": args.service,
        "versions": json_versions,
        "endpoints": methods.iter().map(method_json).collect::<Vec<_>>(),
    });
    env.output.print(&human, &json);
    Ok(())
}

/// The registry's entries for `service`, one per version; an error naming the registry when
/// there are none.
pub(crate) async fn registered(env: &Env, service: &str) -> anyhow::Result<Vec<Service>> {
    let versions = env.registry.get_service(service).await.with_context(|| {
        format!(
            "cannot look up {service} in the {} registry",
            env.registry_label
        )
    })?;
    if versions.iter().all(|version| version.nodes.is_empty()) {
        return Err(anyhow!(
            "service {service} not found: {}",
            env.not_found_hint()
        ));
    }
    Ok(versions)
}

/// Every node of `service`, whatever its version.
pub(crate) async fn nodes(env: &Env, service: &str) -> anyhow::Result<Vec<Node>> {
    let versions = registered(env, service).await?;
    Ok(versions
        .into_iter()
        .flat_map(|version| version.nodes)
        .collect())
}

fn describe_version(service: &Service) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", styled(BOLD, "service"), service.name);
    let _ = writeln!(out, "{} {}", styled(BOLD, "version"), service.version);
    for (key, value) in &service.metadata {
        let _ = writeln!(out, "{} {key}={value}", styled(BOLD, "metadata"));
    }
    let _ = writeln!(out, "{}", styled(BOLD, "nodes"));
    for node in &service.nodes {
        let metadata: Vec<String> = node
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            node.id,
            node.address,
            styled(DIM, metadata.join(" "))
        );
    }
    out
}

fn version_json(service: &Service) -> Value {
    json!({
        "version": service.version,
        "metadata": service.metadata,
        "nodes": service.nodes.iter().map(|node| json!({
            "id": node.id, "address": node.address, "metadata": node.metadata,
        })).collect::<Vec<_>>(),
    })
}

fn describe_method(method: &Method) -> String {
    let kind = match method.kind() {
        RpcKind::Unary => "unary",
        RpcKind::ServerStreaming => "server streaming",
        RpcKind::ClientStreaming => "client streaming",
        RpcKind::BidiStreaming => "bidirectional streaming",
    };
    let mut out = format!(
        "  {}  {}\n",
        styled(BOLD, method.endpoint()),
        styled(DIM, kind)
    );
    for (label, message) in [("request ", method.input()), ("response", method.output())] {
        let _ = writeln!(out, "    {label}  {}", message_line(&message));
    }
    out
}

/// `helloworld.Request { name: string }`.
fn message_line(message: &MessageDescriptor) -> String {
    let fields: Vec<String> = message
        .fields()
        .map(|field| format!("{}: {}", field.json_name(), field_type(&field)))
        .collect();
    if fields.is_empty() {
        return format!("{} {{}}", message.full_name());
    }
    format!("{} {{ {} }}", message.full_name(), fields.join(", "))
}

/// A field's type as a proto file would write it: `repeated string`, `map<string, int64>`.
fn field_type(field: &FieldDescriptor) -> String {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let key = kind_name(&entry.map_entry_key_field().kind());
        let value = kind_name(&entry.map_entry_value_field().kind());
        return format!("map<{key}, {value}>");
    }
    let name = kind_name(&field.kind());
    if field.is_list() {
        format!("repeated {name}")
    } else if field.supports_presence()
        && field.containing_oneof().is_none()
        && !matches!(field.kind(), Kind::Message(_))
    {
        format!("optional {name}")
    } else {
        name
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn method_json(method: &Method) -> Value {
    json!({
        "name": method.endpoint(),
        "path": method.path(),
        "client_streaming": method.kind().client_streams(),
        "server_streaming": method.kind().server_streams(),
        "request": message_json(&method.input()),
        "response": message_json(&method.output()),
    })
}

fn message_json(message: &MessageDescriptor) -> Value {
    json!({
        "type": message.full_name(),
        "fields": message.fields().map(|field| json!({
            "name": field.json_name(),
            "type": field_type(&field),
        })).collect::<Vec<_>>(),
    })
}
