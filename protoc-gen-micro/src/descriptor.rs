//! Proto files as both decoded descriptors (for prost-build) and their original bytes.
//!
//! The original bytes matter: prost drops unknown fields when it decodes, and custom options such
//! as `google.api.http` are unknown fields of `MethodOptions`. The descriptor set embedded in
//! generated code is assembled from the original bytes, so reflection and transcoding see every
//! option the author wrote.

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use prost_types::{FileDescriptorProto, SourceCodeInfo};

use crate::Error;

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

    /// The original bytes with `info` in place of their `source_code_info` (whose spans of
    /// every name, number and type often double a descriptor's size); none if `info` is `None`.
    pub(crate) fn raw_with_source_info(
        &self,
        info: Option<&SourceCodeInfo>,
    ) -> Result<Vec<u8>, Error> {
        let mut out = without_field(&self.raw, SOURCE_CODE_INFO)?;
        if let Some(info) = info {
            prost::encoding::message::encode(SOURCE_CODE_INFO, info, &mut out);
        }
        Ok(out)
    }
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
    use prost_types::FileDescriptorSet;
    use prost_types::source_code_info::Location;

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
            .raw_with_source_info(None)
            .unwrap();
        assert_eq!(
            FileDescriptorProto::decode(stripped.as_slice()).unwrap(),
            file("a.proto", false)
        );
    }

    #[test]
    fn source_info_is_replaced() {
        let raw = file("a.proto", true).encode_to_vec();
        let info = SourceCodeInfo {
            location: vec![Location {
                path: vec![4, 0],
                span: vec![3, 0, 5, 1],
                leading_comments: Some(" A message.\n".into()),
                ..Default::default()
            }],
        };
        let replaced = ProtoFile::decode(raw)
            .unwrap()
            .raw_with_source_info(Some(&info))
            .unwrap();
        assert_eq!(
            FileDescriptorProto::decode(replaced.as_slice()).unwrap(),
            FileDescriptorProto {
                source_code_info: Some(info),
                ..file("a.proto", false)
            }
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
