//! Descriptor bytes that do not depend on the front end, for the sets generated code embeds.
//!
//! protoc, buf and protox describe the same `.proto` with different bytes in two ways:
//!
//! - each carries its own copy of `google/protobuf/*.proto`, and the copies differ
//!   (`descriptor.proto` gains fields with every protobuf release), so one canonical copy,
//!   protox's, is embedded;
//! - they encode custom options differently (protox packs `(google.api.field_behavior)`, which is
//!   declared `[packed = false]`), so every other file is decoded with its options and encoded
//!   again, which writes each the one way its declaration says.
//!
//! Of `source_code_info`, only the comments on elements are kept (see `source_info`), in the
//! same order from every front end, with their spans as the front end wrote them (micro-build
//! counts a tab in a column as protoc does; buf does not: see docs/codegen.md).

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use prost_types::SourceCodeInfo;
use prost_types::field_descriptor_proto::Type;

use crate::Error;
use crate::descriptor::{self, ProtoFile};
use crate::prost_input::canonical_default;
use crate::source_info;

/// Field number of `FileDescriptorProto.source_code_info`, which is replaced by its comments.
const SOURCE_CODE_INFO: u32 = 9;

/// Re-encodes the files of one request.
pub(crate) struct Canonical {
    /// `google.protobuf.FileDescriptorProto` in a pool that knows every option the request
    /// defines; `None` if the request's files do not make a valid pool, in which case their own
    /// bytes are used.
    file_descriptor: Option<MessageDescriptor>,
    /// Whether to keep the comments on elements.
    comments: bool,
}

impl Canonical {
    /// Re-encodes `files`, keeping their comments if `comments`.
    pub(crate) fn new(files: &[ProtoFile], comments: bool) -> Canonical {
        let raw: Vec<Vec<u8>> = FILES
            .iter()
            .filter_map(|name| well_known(name).map(<[u8]>::to_vec))
            .chain(
                files
                    .iter()
                    .filter(|file| well_known(file.name()).is_none())
                    // Source info plays no part in re-encoding, and decoding it into the pool
                    // costs more than the rest of a large file.
                    .map(|file| {
                        file.raw_with_source_info(None)
                            .unwrap_or_else(|_| file.raw().to_vec())
                    }),
            )
            .collect();
        let set = descriptor::encode_file_descriptor_set(raw.iter().map(Vec::as_slice));
        let mut pool = DescriptorPool::new();
        let file_descriptor = pool
            .decode_file_descriptor_set(set.as_slice())
            .ok()
            .and_then(|()| pool.get_message_by_name("google.protobuf.FileDescriptorProto"));
        Canonical {
            file_descriptor,
            comments,
        }
    }

    /// The file's bytes as embedded: canonical, with the comments on its elements (if kept)
    /// and no other source info. Well-known types come without comments.
    pub(crate) fn bytes(&self, file: &ProtoFile) -> Result<Vec<u8>, Error> {
        if let Some(bytes) = well_known(file.name()) {
            return Ok(bytes.to_vec());
        }
        let comments = self
            .comments
            .then(|| source_info::comments_only(file.descriptor.source_code_info.as_ref()))
            .flatten();
        let Some(descriptor) = &self.file_descriptor else {
            return file.raw_with_source_info(comments.as_ref());
        };
        // Without its source info, which is replaced below: decoding it as a dynamic message
        // (every span a list of dynamic values) would cost most of the time spent here.
        let raw = file.raw_with_source_info(None)?;
        let mut message = DynamicMessage::decode(descriptor.clone(), raw.as_slice())
            .map_err(|err| Error::new(format!("malformed FileDescriptorProto: {err}")))?;
        drop_empty_options(&mut message);
        canonical_defaults(&mut message);
        if let Some(info) = comments {
            set_source_info(&mut message, &info)?;
        }
        Ok(message.encode_to_vec())
    }
}

/// Sets `FileDescriptorProto.source_code_info` of `file` to `info`.
fn set_source_info(file: &mut DynamicMessage, info: &SourceCodeInfo) -> Result<(), Error> {
    let kind = file
        .descriptor()
        .get_field(SOURCE_CODE_INFO)
        .and_then(|field| field.kind().as_message().cloned())
        .ok_or_else(|| {
            Error::new("google.protobuf.FileDescriptorProto has no source_code_info field")
        })?;
    let value = DynamicMessage::decode(kind, info.encode_to_vec().as_slice())
        .map_err(|err| Error::new(format!("cannot re-encode source_code_info: {err}")))?;
    file.set_field_by_number(SOURCE_CODE_INFO, Value::Message(value));
    Ok(())
}

/// Rewrites float and double defaults as `descriptor::canonical_default` does, in every
/// `FieldDescriptorProto` of the file.
fn canonical_defaults(message: &mut DynamicMessage) {
    let is_field = message.descriptor().full_name() == "google.protobuf.FieldDescriptorProto";
    if is_field {
        let ty = message
            .get_field_by_name("type")
            .and_then(|value| value.as_enum_number())
            .and_then(|number| Type::try_from(number).ok());
        let text = message
            .get_field_by_name("default_value")
            .and_then(|value| value.as_str().map(str::to_owned));
        if let Some(text) = ty
            .zip(text)
            .and_then(|(ty, text)| canonical_default(ty, &text))
        {
            message.set_field_by_name("default_value", Value::String(text));
        }
        return;
    }
    for_each_message(message, canonical_defaults);
}

/// Calls `visit` on every message held by a field of `message`, in lists too.
fn for_each_message(message: &mut DynamicMessage, visit: fn(&mut DynamicMessage)) {
    let fields: Vec<_> = message.descriptor().fields().collect();
    for field in fields {
        if !message.has_field(&field) {
            continue;
        }
        match message.get_field_mut(&field) {
            Value::Message(inner) => visit(inner),
            Value::List(items) => items.iter_mut().for_each(|item| {
                if let Value::Message(inner) = item {
                    visit(inner);
                }
            }),
            _ => {}
        }
    }
}

/// Clears `options` fields that hold nothing: protoc writes one for `rpc A(B) returns (C) {}`,
/// protox does not.
fn drop_empty_options(message: &mut DynamicMessage) {
    for_each_message(message, drop_empty_options);
    let fields: Vec<_> = message.descriptor().fields().collect();
    for field in fields {
        let empty = |inner: &DynamicMessage| {
            inner.fields().next().is_none()
                && inner.extensions().next().is_none()
                && inner.unknown_fields().next().is_none()
        };
        if field.name() == "options"
            && matches!(message.get_field(&field).as_ref(), Value::Message(inner) if empty(inner))
        {
            message.clear_field(&field);
        }
    }
}

/// The well-known-type files protox carries.
const FILES: &[&str] = &[
    "google/protobuf/any.proto",
    "google/protobuf/api.proto",
    "google/protobuf/descriptor.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/source_context.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "google/protobuf/type.proto",
    "google/protobuf/wrappers.proto",
    "google/protobuf/compiler/plugin.proto",
];

/// The canonical encoding (without source info) of a well-known-type file, if `name` is one.
fn well_known(name: &str) -> Option<&'static [u8]> {
    static FILES_BY_NAME: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    FILES_BY_NAME
        .get_or_init(compile)
        .get(name)
        .map(Vec::as_slice)
}

/// Compiles protox's copies; empty if that fails, so the request's copies are used instead.
fn compile() -> HashMap<String, Vec<u8>> {
    let compiled =
        protox::Compiler::new(Vec::<std::path::PathBuf>::new()).and_then(|mut compiler| {
            compiler.include_imports(true);
            compiler.open_files(FILES)?;
            Ok(compiler.file_descriptor_set())
        });
    compiled
        .map(|set| {
            set.file
                .into_iter()
                .map(|file| (file.name().to_owned(), file.encode_to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_well_known_file_has_a_canonical_copy() {
        for name in FILES {
            let bytes = well_known(name).unwrap_or_else(|| panic!("no canonical {name}"));
            let file = prost_types::FileDescriptorProto::decode(bytes).unwrap();
            assert_eq!(file.name(), *name);
            assert!(file.source_code_info.is_none());
        }
        assert!(well_known("google/protobuf/nonexistent.proto").is_none());
        assert!(well_known("my/own.proto").is_none());
    }
}
