//! The part of `source_code_info` that embedded descriptors keep: the comments on messages,
//! fields, oneofs, enums, enum values, services and methods, so that tools reading descriptors
//! over reflection (an OpenAPI document, MCP tools) can describe them.
//!
//! Everything else is left out: locations without a comment (most of them), detached comments,
//! and the locations of options, names, numbers and types.

use prost_types::SourceCodeInfo;
use prost_types::source_code_info::Location;

/// `FileDescriptorProto` fields that hold the elements whose comments are kept.
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
/// `DescriptorProto` fields.
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const MESSAGE_ONEOF: i32 = 8;
/// `EnumDescriptorProto.value` and `ServiceDescriptorProto.method`.
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

/// The commented locations of elements in `info`, ordered by path; `None` if there are none.
///
/// protoc lists locations in declaration order and protox by path, so ordering by path makes
/// both give the same bytes. Each kept location has its path, its span as written and its
/// leading and trailing comments.
pub(crate) fn comments_only(info: Option<&SourceCodeInfo>) -> Option<SourceCodeInfo> {
    let mut location: Vec<Location> = info?
        .location
        .iter()
        .filter(|location| has_comment(location) && is_element(&location.path))
        .map(|location| Location {
            leading_detached_comments: Vec::new(),
            ..location.clone()
        })
        .collect();
    location.sort_by(|a, b| a.path.cmp(&b.path));
    location.dedup_by(|a, b| a.path == b.path);
    (!location.is_empty()).then_some(SourceCodeInfo { location })
}

fn has_comment(location: &Location) -> bool {
    location.leading_comments.is_some() || location.trailing_comments.is_some()
}

/// Whether `path` (within a `FileDescriptorProto`) names a message, field, oneof, enum, enum
/// value, service or method.
fn is_element(path: &[i32]) -> bool {
    match path {
        [FILE_MESSAGE, _, rest @ ..] => is_in_message(rest),
        [FILE_ENUM, _, rest @ ..] => is_in_enum(rest),
        [FILE_SERVICE, _] | [FILE_SERVICE, _, SERVICE_METHOD, _] => true,
        _ => false,
    }
}

/// Whether `path`, relative to a message, names the message itself or an element inside it.
fn is_in_message(path: &[i32]) -> bool {
    match path {
        [] | [MESSAGE_FIELD | MESSAGE_ONEOF, _] => true,
        [MESSAGE_NESTED, _, rest @ ..] => is_in_message(rest),
        [MESSAGE_ENUM, _, rest @ ..] => is_in_enum(rest),
        _ => false,
    }
}

/// Whether `path`, relative to an enum, names the enum itself or one of its values.
fn is_in_enum(path: &[i32]) -> bool {
    matches!(path, [] | [ENUM_VALUE, _])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(path: &[i32], leading: Option<&str>, trailing: Option<&str>) -> Location {
        Location {
            path: path.to_vec(),
            span: vec![1, 0, 10],
            leading_comments: leading.map(str::to_owned),
            trailing_comments: trailing.map(str::to_owned),
            leading_detached_comments: vec![" detached\n".into()],
        }
    }

    fn kept_paths(locations: Vec<Location>) -> Vec<Vec<i32>> {
        comments_only(Some(&SourceCodeInfo {
            location: locations,
        }))
        .map(|info| info.location.into_iter().map(|l| l.path).collect())
        .unwrap_or_default()
    }

    #[test]
    fn every_element_kind_keeps_its_comment() {
        let elements: &[&[i32]] = &[
            &[4, 0],
            &[4, 0, 2, 1],
            &[4, 0, 8, 0],
            &[4, 0, 3, 2],
            &[4, 0, 3, 2, 2, 0],
            &[4, 0, 3, 2, 4, 0, 2, 3],
            &[4, 0, 4, 1],
            &[5, 0],
            &[5, 0, 2, 4],
            &[6, 0],
            &[6, 0, 2, 5],
        ];
        let locations = elements
            .iter()
            .map(|path| location(path, Some(" c\n"), None))
            .collect();
        let mut sorted: Vec<Vec<i32>> = elements.iter().map(|path| path.to_vec()).collect();
        sorted.sort();
        assert_eq!(kept_paths(locations), sorted);
    }

    #[test]
    fn other_paths_and_uncommented_elements_are_dropped() {
        let locations = vec![
            location(&[], Some(" file\n"), None),
            location(&[2], Some(" package\n"), None),
            location(&[8], Some(" options\n"), None),
            location(&[4, 0, 1], Some(" name\n"), None),
            location(&[4, 0, 2, 0, 5], Some(" type\n"), None),
            location(&[6, 0, 2, 0, 4], Some(" options\n"), None),
            location(&[7, 0], Some(" extension\n"), None),
            location(&[4, 1], None, None),
        ];
        assert!(kept_paths(locations).is_empty());
    }

    #[test]
    fn trailing_comments_count_and_detached_ones_go() {
        let info = SourceCodeInfo {
            location: vec![location(&[6, 0], None, Some(" after\n"))],
        };
        let kept = comments_only(Some(&info)).unwrap();
        assert_eq!(
            kept.location[0].trailing_comments.as_deref(),
            Some(" after\n")
        );
        assert_eq!(kept.location[0].span, [1, 0, 10]);
        assert!(kept.location[0].leading_detached_comments.is_empty());
    }

    #[test]
    fn no_source_info_keeps_nothing() {
        assert_eq!(comments_only(None), None);
    }
}
