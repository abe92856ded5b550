//! Descriptors must be complete before prost-build reads them: it unwraps names and type
//! references that protoc and protox always fill in, but a hand-made request may leave out.

use std::collections::HashSet;

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto};

use crate::Error;
use crate::descriptor::ProtoFile;

/// Every message and enum defined in `files`, by fully qualified name (`.pkg.Outer.Inner`).
pub(super) struct Types {
    messages: HashSet<String>,
    enums: HashSet<String>,
}

impl Types {
    pub(super) fn of(files: &[ProtoFile]) -> Types {
        let mut types = Types {
            messages: HashSet::new(),
            enums: HashSet::new(),
        };
        for file in files {
            let scope = package_scope(file.descriptor.package());
            types.add_enums(&scope, &file.descriptor.enum_type);
            for message in &file.descriptor.message_type {
                types.add_message(&scope, message);
            }
        }
        types
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        self.add_enums(&name, &message.enum_type);
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        self.messages.insert(name);
    }

    fn add_enums(&mut self, scope: &str, enums: &[EnumDescriptorProto]) {
        self.enums
            .extend(enums.iter().map(|e| format!("{scope}.{}", e.name())));
    }
}

/// `.pkg` for a package, `` for none: the prefix of every fully qualified name in it.
pub(super) fn package_scope(package: &str) -> String {
    if package.is_empty() {
        String::new()
    } else {
        format!(".{package}")
    }
}

/// Checks that `file` names everything and refers only to types that `types` defines.
pub(super) fn check(file: &ProtoFile, types: &Types) -> Result<(), Error> {
    let at =
        |what: String| Error::new(format!("malformed descriptor in `{}`: {what}", file.name()));
    match file.descriptor.syntax.as_deref() {
        None | Some("proto2" | "proto3") => {}
        Some(syntax) => {
            return Err(Error::new(format!(
                "`{}` uses `{syntax}`, which cannot be generated yet (prost-build 0.14 reads \
                 proto2 and proto3 only); write it with `syntax = \"proto3\";`",
                file.name()
            )));
        }
    }
    let scope = package_scope(file.descriptor.package());
    for message in &file.descriptor.message_type {
        check_message(&scope, message, types).map_err(at)?;
    }
    for enumeration in &file.descriptor.enum_type {
        check_enum(&scope, enumeration).map_err(at)?;
    }
    for service in &file.descriptor.service {
        let name = named(service.name.as_deref(), || {
            format!("a service in `{scope}`")
        })
        .map_err(at)?;
        for method in &service.method {
            let method_name =
                named(method.name.as_deref(), || format!("a method of `{name}`")).map_err(at)?;
            for (side, ty) in [
                ("input", &method.input_type),
                ("output", &method.output_type),
            ] {
                let ty = ty.as_deref().unwrap_or_default();
                if !types.messages.contains(ty) {
                    return Err(at(format!(
                        "the {side} type `{ty}` of `{name}.{method_name}` is not a message in \
                         the request"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_message(scope: &str, message: &DescriptorProto, types: &Types) -> Result<(), String> {
    let name = named(message.name.as_deref(), || {
        format!("a message in `{scope}`")
    })?;
    let full = format!("{scope}.{name}");
    for field in &message.field {
        check_field(&full, message, field, types)?;
    }
    for (index, oneof) in message.oneof_decl.iter().enumerate() {
        named(oneof.name.as_deref(), || {
            format!("oneof #{index} of `{full}`")
        })?;
    }
    for nested in &message.nested_type {
        check_message(&full, nested, types)?;
        if is_map_entry(nested) {
            check_map_entry(&full, nested)?;
        }
    }
    for enumeration in &message.enum_type {
        check_enum(&full, enumeration)?;
    }
    Ok(())
}

fn check_field(
    message: &str,
    descriptor: &DescriptorProto,
    field: &FieldDescriptorProto,
    types: &Types,
) -> Result<(), String> {
    let name = named(field.name.as_deref(), || format!("a field of `{message}`"))?;
    let ty = || field.type_name.as_deref().unwrap_or_default();
    let known = match Type::try_from(field.r#type.unwrap_or_default()) {
        Ok(Type::Message | Type::Group) => types.messages.contains(ty()),
        Ok(Type::Enum) => types.enums.contains(ty()),
        Ok(_) => true,
        Err(_) => return Err(format!("field `{message}.{name}` has no valid type")),
    };
    if !known {
        return Err(format!(
            "field `{message}.{name}` refers to `{}`, which no file in the request defines",
            ty()
        ));
    }
    match field.oneof_index {
        Some(index)
            if usize::try_from(index).map_or(true, |i| i >= descriptor.oneof_decl.len()) =>
        {
            Err(format!(
                "field `{message}.{name}` names oneof #{index}, which does not exist"
            ))
        }
        _ => Ok(()),
    }
}

fn check_enum(scope: &str, enumeration: &EnumDescriptorProto) -> Result<(), String> {
    let name = named(enumeration.name.as_deref(), || {
        format!("an enum in `{scope}`")
    })?;
    for value in &enumeration.value {
        named(value.name.as_deref(), || {
            format!("a value of `{scope}.{name}`")
        })?;
    }
    Ok(())
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message
        .options
        .as_ref()
        .and_then(|options| options.map_entry)
        .unwrap_or(false)
}

fn check_map_entry(scope: &str, entry: &DescriptorProto) -> Result<(), String> {
    match entry.field.as_slice() {
        [key, value] if key.name() == "key" && value.name() == "value" => Ok(()),
        _ => Err(format!(
            "map entry `{scope}.{}` must have exactly the fields `key` and `value`",
            entry.name()
        )),
    }
}

fn named(name: Option<&str>, what: impl FnOnce() -> String) -> Result<&str, String> {
    match name {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(format!("{} has no name", what())),
    }
}
