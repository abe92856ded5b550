//! What a registry stores: services, their nodes and endpoints, in go-micro's JSON format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A service as the registry knows it: one version of it, with the nodes that run it.
///
/// Serialized exactly as go-micro's `registry.Service`, so the two share registries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Service {
    /// The service name, e.g. `helloworld`.
    pub name: String,
    /// The version these nodes run, e.g. `latest`.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub version: String,
    /// Service-level metadata.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// What the service can be called with, e.g. `Helloworld.Greeting`.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub endpoints: Vec<Endpoint>,
    /// The running instances.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub nodes: Vec<Node>,
}

/// One running instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Node {
    /// Unique id, `<service>-<uuid>` by convention.
    pub id: String,
    /// Where to reach it, `host:port`.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub address: String,
    /// Instance metadata, e.g. `protocol=grpc`.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub metadata: BTreeMap<String, String>,
}

/// A callable endpoint, with the shape of its request and response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Endpoint {
    /// go-micro's endpoint name, e.g. `Helloworld.Greeting`.
    pub name: String,
    /// The request message's shape.
    #[serde(default)]
    pub request: Option<Value>,
    /// The response message's shape.
    #[serde(default)]
    pub response: Option<Value>,
    /// e.g. `stream=true` for streaming endpoints.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub metadata: BTreeMap<String, String>,
}

/// The shape of a message or field: its name, type and nested fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Value {
    /// Field or message name.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub name: String,
    /// Type name, e.g. `string`, `int64`, `Request`, `[]Item`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::go_json::null_as_default"
    )]
    pub kind: String,
    /// Nested fields of a message type.
    #[serde(default, deserialize_with = "crate::go_json::null_as_default")]
    pub values: Vec<Value>,
}

impl Service {
    /// The same service with only `node`: the form go-micro stores one node in.
    pub(crate) fn with_only_node(&self, node: &Node) -> Service {
        Service {
            nodes: vec![node.clone()],
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry value exactly as a go-micro service writes it (etcd, v4-v6).
    const GO_MICRO_JSON: &str = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"name":"Helloworld.Call","request":{"name":"CallRequest","type":"CallRequest","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"CallResponse","type":"CallResponse","values":[{"name":"message","type":"string","values":null}]},"metadata":{}},{"name":"Helloworld.Stream","request":{"name":"StreamRequest","type":"StreamRequest","values":null},"response":{"name":"StreamResponse","type":"StreamResponse","values":null},"metadata":{"stream":"true"}}],"nodes":[{"id":"helloworld-bd5a4bd4-7ab6-4f44-9f52-67b11e7e0c2f","address":"10.0.0.7:38521","metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"}}]}"#;

    #[test]
    fn reads_go_micros_json() {
        let service: Service = serde_json::from_str(GO_MICRO_JSON).unwrap();
        assert_eq!(service.name, "helloworld");
        assert!(service.metadata.is_empty());
        assert_eq!(service.endpoints[0].name, "Helloworld.Call");
        let request = service.endpoints[0].request.as_ref().unwrap();
        assert_eq!(
            (request.name.as_str(), request.values[0].kind.as_str()),
            ("CallRequest", "string")
        );
        assert_eq!(service.endpoints[1].metadata["stream"], "true");
        assert_eq!(service.nodes[0].address, "10.0.0.7:38521");
        assert_eq!(service.nodes[0].metadata["protocol"], "mucp");
    }

    #[test]
    fn writes_go_micros_keys() {
        let service = Service {
            name: "svc".into(),
            version: "1".into(),
            nodes: vec![Node {
                id: "svc-1".into(),
                address: "127.0.0.1:1".into(),
                ..Node::default()
            }],
            endpoints: vec![Endpoint {
                name: "Svc.Call".into(),
                request: Some(Value {
                    name: "Req".into(),
                    kind: "Req".into(),
                    values: vec![],
                }),
                ..Endpoint::default()
            }],
            ..Service::default()
        };
        let json: serde_json::Value = serde_json::to_value(&service).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "svc", "version": "1", "metadata": {},
                "endpoints": [{"name": "Svc.Call", "request": {"name": "Req", "type": "Req", "values": []},
                               "response": null, "metadata": {}}],
                "nodes": [{"id": "svc-1", "address": "127.0.0.1:1", "metadata": {}}]
            })
        );
        let back: Service = serde_json::from_value(json).unwrap();
        assert_eq!(back, service);
    }
}
