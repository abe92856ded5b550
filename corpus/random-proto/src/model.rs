//! What a schema holds, before it is written as `.proto` text.

use crate::names::Scope;

/// A whole schema: files in import order.
pub(crate) struct Model {
    pub(crate) files: Vec<File>,
}

pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) package: String,
    pub(crate) proto2: bool,
    pub(crate) imports: Vec<String>,
    pub(crate) comment: Option<String>,
    pub(crate) messages: Vec<Message>,
    pub(crate) enums: Vec<Enum>,
    pub(crate) services: Vec<Service>,
}

pub(crate) struct Message {
    pub(crate) name: String,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
    pub(crate) fields: Vec<Field>,
    pub(crate) oneofs: Vec<Oneof>,
    pub(crate) nested: Vec<Message>,
    pub(crate) enums: Vec<Enum>,
    /// A reserved range of numbers and a reserved name.
    pub(crate) reserved: Option<(u32, u32, String)>,
    /// Names taken inside the message, while it is being drawn.
    pub(crate) scope: Scope,
}

pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) number: u32,
    pub(crate) label: Label,
    pub(crate) ty: FieldType,
    pub(crate) default: Option<String>,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Label {
    /// No label: proto3 singular, oneof members and maps.
    None,
    Optional,
    Required,
    Repeated,
}

#[derive(Clone)]
pub(crate) enum FieldType {
    Scalar(&'static str),
    /// A fully qualified enum name, `.pkg.Outer.Kind`.
    Enum(String),
    /// A fully qualified message name, `.pkg.Outer` or `.google.protobuf.Timestamp`.
    Message(String),
    /// A map with a scalar key.
    Map(&'static str, Box<FieldType>),
}

pub(crate) struct Oneof {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
}

pub(crate) struct Enum {
    pub(crate) name: String,
    pub(crate) comment: Option<String>,
    pub(crate) allow_alias: bool,
    pub(crate) values: Vec<(String, i32)>,
}

pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) comment: Option<String>,
    pub(crate) methods: Vec<Method>,
}

pub(crate) struct Method {
    pub(crate) name: String,
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) client_streaming: bool,
    pub(crate) server_streaming: bool,
    pub(crate) deprecated: bool,
}
