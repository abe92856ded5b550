//! Spans' columns as protoc counts them.
//!
//! Generated code embeds the comments of a `.proto` with their spans. protox counts a tab in a
//! line as one column; protoc counts it as reaching the next multiple of eight. micro-build has
//! the sources, so it rewrites protox's columns the way protoc counts them, and a file indented
//! with tabs embeds the same bytes from micro-build as from the protoc plugin.

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{DecodeContext, decode_key, skip_field};
use prost_types::SourceCodeInfo;

/// Field number of `FileDescriptorProto.source_code_info`.
const SOURCE_CODE_INFO: u32 = 9;
/// protoc's tab width (its tokenizer's `kTabWidth`).
const TAB_WIDTH: i32 = 8;

/// A `FileDescriptorSet` whose files stay as encoded, custom options included.
#[derive(Clone, PartialEq, Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// The part of a `FileDescriptorProto` read here.
#[derive(Clone, PartialEq, Message)]
struct NameAndSourceInfo {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, optional, tag = "9")]
    source_code_info: Option<SourceCodeInfo>,
}

/// `set` with the spans of each file whose source (by file name) has a tab counted as protoc
/// counts them.
pub(crate) fn as_protoc_counts(
    set: &[u8],
    source_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, prost::DecodeError> {
    let mut raw = RawSet::decode(set)?;
    for file in &mut raw.file {
        let read = NameAndSourceInfo::decode(file.as_slice())?;
        let (Some(name), Some(mut info)) = (read.name, read.source_code_info) else {
            continue;
        };
        let Some(source) = source_of(&name).filter(|source| source.contains('\t')) else {
            continue;
        };
        let lines: Vec<&str> = source.split('\n').collect();
        for location in &mut info.location {
            recount(&mut location.span, &lines);
        }
        *file = with_source_info(file, &info)?;
    }
    Ok(raw.encode_to_vec())
}

/// Rewrites a span (`[line, start, end]` or `[start line, start, end line, end]`) whose
/// columns count bytes.
fn recount(span: &mut [i32], lines: &[&str]) {
    let column_at = |line: i32, column: i32| {
        usize::try_from(line)
            .ok()
            .and_then(|line| lines.get(line))
            .map_or(column, |text| protoc_column(text, column))
    };
    match *span {
        [line, start, end] => {
            span[1] = column_at(line, start);
            span[2] = column_at(line, end);
        }
        [start_line, start, end_line, end] => {
            span[1] = column_at(start_line, start);
            span[3] = column_at(end_line, end);
        }
        _ => {}
    }
}

/// The column protoc gives the byte at `byte_column` of `line`.
fn protoc_column(line: &str, byte_column: i32) -> i32 {
    let bytes = usize::try_from(byte_column).unwrap_or(0);
    line.bytes().take(bytes).fold(0, |column, byte| match byte {
        b'\t' => column + TAB_WIDTH - column % TAB_WIDTH,
        _ => column + 1,
    })
}

/// An encoded `FileDescriptorProto` with `info` in place of its source info.
fn with_source_info(file: &[u8], info: &SourceCodeInfo) -> Result<Vec<u8>, prost::DecodeError> {
    let mut out = Vec::with_capacity(file.len());
    let mut buf = file;
    while buf.has_remaining() {
        let start = file.len() - buf.len();
        let (tag, wire_type) = decode_key(&mut buf)?;
        skip_field(wire_type, tag, &mut buf, DecodeContext::default())?;
        if tag != SOURCE_CODE_INFO {
            out.extend_from_slice(&file[start..file.len() - buf.len()]);
        }
    }
    prost::encoding::message::encode(SOURCE_CODE_INFO, info, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::source_code_info::Location;
    use prost_types::{FileDescriptorProto, FileDescriptorSet};

    #[test]
    fn a_tab_reaches_the_next_multiple_of_eight() {
        assert_eq!(protoc_column("\trpc M(R) returns (R);", 1), 8);
        assert_eq!(protoc_column("\trpc M(R) returns (R);", 22), 29);
        assert_eq!(protoc_column("  a\tb", 4), 8);
        assert_eq!(protoc_column("\t\tx", 2), 16);
        assert_eq!(protoc_column("no tabs", 3), 3);
    }

    #[test]
    fn only_files_with_tabs_change_and_only_their_columns() {
        let file = |name: &str, span: Vec<i32>| FileDescriptorProto {
            name: Some(name.into()),
            package: Some("p".into()),
            source_code_info: Some(SourceCodeInfo {
                location: vec![Location {
                    path: vec![6, 0],
                    span,
                    leading_comments: Some(" S.\n".into()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![
                file("tabs.proto", vec![1, 1, 2, 1]),
                file("spaces.proto", vec![1, 1, 2, 1]),
            ],
        };
        let source_of = |name: &str| match name {
            "tabs.proto" => Some("x\n\tservice S {\n}\n".to_owned()),
            _ => Some("x\n service S {\n}\n".to_owned()),
        };
        let rewritten = as_protoc_counts(&set.encode_to_vec(), source_of).unwrap();
        let rewritten = FileDescriptorSet::decode(rewritten.as_slice()).unwrap();
        assert_eq!(rewritten.file[0], file("tabs.proto", vec![1, 8, 2, 1]));
        assert_eq!(rewritten.file[1], set.file[1]);
    }
}
