//! The descriptors prost-build generates from: each requested file, adjusted where prost-build
//! would panic, write Rust that does not compile, or write it differently per front end.

use std::collections::{HashMap, HashSet};

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::comments;
use crate::descriptor::ProtoFile;

/// Enum aliases of every file in the request: for each enum (`.pkg.Kind`), each value name
/// that shares its number with an earlier value, mapped to that earlier value's name.
pub(crate) struct Aliases(HashMap<String, HashMap<String, String>>);

impl Aliases {
    pub(crate) fn of(files: &[ProtoFile]) -> Aliases {
        let mut aliases = HashMap::new();
        for file in files {
            let scope = match file.descriptor.package() {
                "" => String::new(),
                package => format!(".{package}"),
            };
            collect_enums(&scope, &file.descriptor.enum_type, &mut aliases);
            for message in &file.descriptor.message_type {
                collect_message(&scope, message, &mut aliases);
            }
        }
        Aliases(aliases)
    }

    /// The value prost-build writes for `value` of `enumeration`: the first of its number.
    fn first_of(&self, enumeration: &str, value: &str) -> Option<&str> {
        self.0.get(enumeration)?.get(value).map(String::as_str)
    }
}

fn collect_message(
    scope: &str,
    message: &DescriptorProto,
    aliases: &mut HashMap<String, HashMap<String, String>>,
) {
    let scope = format!("{scope}.{}", message.name());
    collect_enums(&scope, &message.enum_type, aliases);
    for nested in &message.nested_type {
        collect_message(&scope, nested, aliases);
    }
}

fn collect_enums(
    scope: &str,
    enums: &[EnumDescriptorProto],
    aliases: &mut HashMap<String, HashMap<String, String>>,
) {
    for enumeration in enums {
        let mut first: HashMap<i32, &str> = HashMap::new();
        let mut later = HashMap::new();
        for value in &enumeration.value {
            match first.get(&value.number()) {
                Some(kept) => {
                    later.insert(value.name().to_owned(), (*kept).to_owned());
                }
                None => {
                    first.insert(value.number(), value.name());
                }
            }
        }
        if !later.is_empty() {
            aliases.insert(format!("{scope}.{}", enumeration.name()), later);
        }
    }
}

/// The descriptor of `file` as prost-build gets it:
///
/// - code blocks in comments are fenced as text, so rustdoc does not test them as Rust;
/// - comments are kept only if the source info covers every item prost-build looks up (protoc
///   and protox always write them all; prost-build panics on a missing one);
/// - float and double defaults are written one way ([`canonical_default`]);
/// - an enum default naming an alias names the value prost-build keeps for that number (it
///   writes one variant per number, and a default naming a skipped alias does not compile).
pub(crate) fn descriptor(file: &ProtoFile, aliases: &Aliases) -> FileDescriptorProto {
    let mut descriptor = file.descriptor.clone();
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
        adjust_defaults(message, aliases);
    }
    if !source_info_is_complete(&descriptor) {
        descriptor.source_code_info = None;
    }
    descriptor
}

fn adjust_defaults(message: &mut DescriptorProto, aliases: &Aliases) {
    for field in &mut message.field {
        let Some(text) = field.default_value.as_deref() else {
            continue;
        };
        let adjusted = match field.r#type() {
            Type::Enum => aliases.first_of(field.type_name(), text).map(str::to_owned),
            ty => canonical_default(ty, text),
        };
        if let Some(text) = adjusted {
            field.default_value = Some(text);
        }
    }
    for nested in &mut message.nested_type {
        adjust_defaults(nested, aliases);
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

fn source_info_is_complete(descriptor: &FileDescriptorProto) -> bool {
    let Some(info) = &descriptor.source_code_info else {
        return true;
    };
    let located: HashSet<&[i32]> = info
        .location
        .iter()
        .map(|location| location.path.as_slice())
        .collect();
    let mut documented = Vec::new();
    documented_paths(descriptor, &mut documented);
    documented
        .iter()
        .all(|path| located.contains(path.as_slice()))
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
