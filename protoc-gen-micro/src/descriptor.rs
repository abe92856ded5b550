//! Proto files as both decoded descriptors (for prost-build) and their original bytes.
//!
//! The original bytes matter: prost drops unknown fields when it decodes, and custom options such
//! as `google.api.http` are unknown fields of `MethodOptions`. The descriptor set embedded in
//! generated code is assembled from the original bytes, so reflection and transcoding see every
//! option the author wrote.

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use std::collections::HashSet;

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::{Error, comments};

/// Field number of `FileDescriptorSet.file` and of `CodeGeneratorRequest.proto_file`'s sibling.
const FILE_DESCRIPTOR_SET_FILE: u32 = 1;
/// Field number of `FileDescriptorProto.source_code_info`.
const SOURCE_CODE_INFO: u32 = 9;

/// One `.proto` file: decoded, plus the bytes it was decoded from.
#[derive(Debug, Clone)]
pub(crate) struct ProtoFile {
    pub(crate) descriptor: FileDescriptorProto,
    raw: Vec<u8>,
}

impl ProtoFile {
    pub(crate) fn decode(raw: Vec<u8>) -> Result<ProtoFile, Error> {
        let descriptor = FileDescriptorProto::decode(raw.as_slice())
            .map_err(|err| Error::new(format!("malformed FileDescriptorProto: {err}")))?;
        Ok(ProtoFile { descriptor, raw })
    }

    pub(crate) fn name(&self) -> &str {
        self.descriptor.name()
    }

    /// The bytes the file was decoded from.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The descriptor prost-build generates from. Comments are kept only if the source info
    /// covers every item prost-build looks up: protoc and protox always write them all, and
    /// prost-build panics on a missing one. Code blocks in comments are marked as text, so
    /// rustdoc does not test them as Rust.
    pub(crate) fn descriptor_for_prost(&self) -> FileDescriptorProto {
        let mut descriptor = self.descriptor.clone();
        if let Some(info) = &mut descriptor.source_code_info {
            for location in &mut info.location {
                for comment in [
                    &mut location.leading_comments,
                    &mut location.trailing_comments,
                ] {
                    if let Some(text) = comment.as_deref().and_then(comments::untestable) {
                        *comment = Some(text);
                    }
                }
            }
        }
        for message in &mut descriptor.message_type {
            canonical_defaults(message);
        }
        if let Some(info) = &descriptor.source_code_info {
            let located: HashSet<&[i32]> = info
                .location
                .iter()
                .map(|location| location.path.as_slice())
                .collect();
            let mut documented = Vec::new();
            documented_paths(&self.descriptor, &mut documented);
            if !documented
                .iter()
                .all(|path| located.contains(path.as_slice()))
            {
                descriptor.source_code_info = None;
            }
        }
        descriptor
    }

    /// The original bytes without `source_code_info` (comments and spans), which nothing at run
    /// time needs and which often doubles a descriptor's size.
    pub(crate) fn raw_without_source_info(&self) -> Result<Vec<u8>, Error> {
        without_field(&self.raw, SOURCE_CODE_INFO)
    }
}

/// Writes float and double defaults one way in every nested field (see [`canonical_default`]).
fn canonical_defaults(message: &mut DescriptorProto) {
    for field in &mut message.field {
        let ty = field.r#type();
        if let Some(text) = field
            .default_value
            .as_deref()
            .and_then(|t| canonical_default(ty, t))
        {
            field.default_value = Some(text);
        }
    }
    for nested in &mut message.nested_type {
        canonical_defaults(nested);
    }
}

/// A float or double default as Rust writes it: protoc writes them as C does (`1e+10`),
/// protox as Rust does (`10000000000`), and the text reaches the generated code. `None` for
/// other types, infinities and NaN (which both write `inf`, `-inf`, `nan`).
pub(crate) fn canonical_default(ty: Type, text: &str) -> Option<String> {
    match ty {
        Type::Float => text
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| v.to_string()),
        Type::Double => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| v.to_string()),
        _ => None,
    }
}

/// Source paths of every item prost-build writes comments for. A path is field numbers and
/// indexes in `FileDescriptorProto`: `[4, 0, 2, 1]` is the second field of the first message.
fn documented_paths(file: &FileDescriptorProto, out: &mut Vec<Vec<i32>>) {
    for (i, message) in file.message_type.iter().enumerate() {
        message_paths(message, vec![4, i as i32], out);
    }
    for (i, enumeration) in file.enum_type.iter().enumerate() {
        enum_paths(enumeration, vec![5, i as i32], out);
    }
    for (i, service) in file.service.iter().enumerate() {
        out.push(vec![6, i as i32]);
        for j in 0..service.method.len() {
            out.push(vec![6, i as i32, 2, j as i32]);
        }
    }
}

fn message_paths(message: &DescriptorProto, path: Vec<i32>, out: &mut Vec<Vec<i32>>) {
    let child = |field: i32, index: usize| [path.as_slice(), &[field, index as i32]].concat();
    for (i, nested) in message.nested_type.iter().enumerate() {
        let map_entry = nested.options.as_ref().and_then(|o| o.map_entry) == Some(true);
        if !map_entry {
            message_paths(nested, child(3, i), out);
        }
    }
    for (i, enumeration) in message.enum_type.iter().enumerate() {
        enum_paths(enumeration, child(4, i), out);
    }
    for (i, field) in message.field.iter().enumerate() {
        out.push(child(2, i));
        // Synthetic oneofs (proto3 `optional`) have no source of their own.
        if let (Some(oneof), false) = (field.oneof_index, field.proto3_optional()) {
            out.push(child(8, oneof as usize));
        }
    }
    out.push(path);
}

fn enum_paths(enumeration: &EnumDescriptorProto, path: Vec<i32>, out: &mut Vec<Vec<i32>>) {
    for i in 0..enumeration.value.len() {
        out.push([path.as_slice(), &[2, i as i32]].concat());
    }
    out.push(path);
}

/// Splits an encoded `FileDescriptorSet` into its files' bytes without decoding them.
pub(crate) fn split_file_descriptor_set(mut buf: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut files = Vec::new();
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(malformed_set)?;
        if tag == FILE_DESCRIPTOR_SET_FILE && wire_type == WireType::LengthDelimited {
            let len = decode_varint(&mut buf).map_err(malformed_set)? as usize;
            if len > buf.len() {
                return Err(Error::new("malformed FileDescriptorSet: truncated file"));
            }
            files.push(buf[..len].to_vec());
            buf.advance(len);
        } else {
            skip_field(wire_type, tag, &mut buf, DecodeContext::default())
                .map_err(malformed_set)?;
        }
    }
    Ok(files)
}

/// Encodes files (already encoded `FileDescriptorProto`s) as a `FileDescriptorSet`.
pub(crate) fn encode_file_descriptor_set<'a>(files: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for file in files {
        prost::encoding::encode_key(
            FILE_DESCRIPTOR_SET_FILE,
            WireType::LengthDelimited,
            &mut out,
        );
        prost::encoding::encode_varint(file.len() as u64, &mut out);
        out.extend_from_slice(file);
    }
    out
}

/// Copies an encoded message, leaving out every occurrence of one top-level field.
fn without_field(message: &[u8], field: u32) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(message.len());
    let mut buf = message;
    while buf.has_remaining() {
        let start = message.len() - buf.len();
        let (tag, wire_type) = decode_key(&mut buf).map_err(malformed_file)?;
        skip_field(wire_type, tag, &mut buf, DecodeContext::default()).map_err(malformed_file)?;
        let end = message.len() - buf.len();
        if tag != field {
            out.extend_from_slice(&message[start..end]);
        }
    }
    Ok(out)
}

fn malformed_set(err: prost::DecodeError) -> Error {
    Error::new(format!("malformed FileDescriptorSet: {err}"))
}

fn malformed_file(err: prost::DecodeError) -> Error {
    Error::new(format!("malformed FileDescriptorProto: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{FileDescriptorSet, SourceCodeInfo};

    fn file(name: &str, with_source_info: bool) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.into()),
            package: Some("pkg".into()),
            source_code_info: with_source_info.then(|| SourceCodeInfo { location: vec![] }),
            ..Default::default()
        }
    }

    #[test]
    fn split_and_encode_round_trip() {
        let set = FileDescriptorSet {
            file: vec![file("a.proto", false), file("b.proto", false)],
        };
        let encoded = set.encode_to_vec();
        let files = split_file_descriptor_set(&encoded).unwrap();
        assert_eq!(files.len(), 2);
        let again = encode_file_descriptor_set(files.iter().map(Vec::as_slice));
        assert_eq!(again, encoded);
    }

    #[test]
    fn source_info_is_stripped_and_nothing_else() {
        let raw = file("a.proto", true).encode_to_vec();
        let stripped = ProtoFile::decode(raw)
            .unwrap()
            .raw_without_source_info()
            .unwrap();
        assert_eq!(
            FileDescriptorProto::decode(stripped.as_slice()).unwrap(),
            file("a.proto", false)
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        let encoded = FileDescriptorSet {
            file: vec![file("a.proto", false)],
        }
        .encode_to_vec();
        assert!(split_file_descriptor_set(&encoded[..encoded.len() - 1]).is_err());
    }
}
