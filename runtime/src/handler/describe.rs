//! Protobuf descriptors for plain Rust types, traced through their serde `Deserialize` impls
//! (serde-reflection): structs become messages, unit-only enums proto enums, `Vec` repeated
//! fields, maps map fields, `Option` optional fields.
//!
//! A type serde cannot trace, or that protobuf cannot carry as JSON carries it (tuples, bytes,
//! enums with data, nested lists, 128-bit integers, …), leaves its handler without descriptors:
//! it is then served as JSON only, and registered without field descriptions.

use std::collections::BTreeMap;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, MessageOptions, MethodDescriptorProto, OneofDescriptorProto,
    ServiceDescriptorProto,
};
use serde_reflection::{ContainerFormat, Format, Named, Registry, VariantFormat};

/// Why a type has no protobuf description.
pub(crate) type Unsupported = String;

/// One method as the descriptor names it.
pub(crate) struct DescribedMethod<'a> {
    pub(crate) name: &'a str,
    pub(crate) input: &'a Format,
    pub(crate) output: &'a Format,
    pub(crate) client_streaming: bool,
    pub(crate) server_streaming: bool,
}

/// The proto file describing service `handler` in `package`, its methods, and every type
/// they use; or why one of them cannot be described.
pub(crate) fn file<'a>(
    package: &'a str,
    handler: &str,
    methods: &[DescribedMethod<'a>],
    registry: &'a Registry,
) -> Result<FileDescriptorProto, Unsupported> {
    let mut file = Describer {
        package,
        registry,
        messages: BTreeMap::new(),
        enums: BTreeMap::new(),
        pending: Vec::new(),
    };
    let mut service = ServiceDescriptorProto {
        name: Some(handler.to_owned()),
        ..Default::default()
    };
    for method in methods {
        service.method.push(MethodDescriptorProto {
            name: Some(method.name.to_owned()),
            input_type: Some(file.message_name(method.input)?),
            output_type: Some(file.message_name(method.output)?),
            client_streaming: Some(method.client_streaming),
            server_streaming: Some(method.server_streaming),
            ..Default::default()
        });
    }
    file.describe_pending()?;
    Ok(FileDescriptorProto {
        name: Some(format!("{}/{handler}.proto", package.replace('.', "/"))),
        package: Some(package.to_owned()),
        message_type: file.messages.into_values().collect(),
        enum_type: file.enums.into_values().collect(),
        service: vec![service],
        syntax: Some("proto3".to_owned()),
        ..Default::default()
    })
}

struct Describer<'a> {
    package: &'a str,
    registry: &'a Registry,
    messages: BTreeMap<String, DescriptorProto>,
    enums: BTreeMap<String, EnumDescriptorProto>,
    /// Structs named but not described yet.
    pending: Vec<String>,
}

impl<'a> Describer<'a> {
    /// The full name (`.pkg.Request`) of the message a method's request or reply is: it must
    /// be a struct with named fields.
    fn message_name(&mut self, format: &'a Format) -> Result<String, Unsupported> {
        let name = match format {
            Format::TypeName(name) => name,
            other => {
                return Err(format!(
                    "a request or reply must be a struct, not {other:?}"
                ));
            }
        };
        match self.container(name)? {
            ContainerFormat::Struct(_) | ContainerFormat::UnitStruct => Ok(self.message(name)),
            ContainerFormat::NewTypeStruct(inner) => self.message_name(inner),
            _ => Err(format!(
                "{name}: a request or reply must be a struct with named fields"
            )),
        }
    }

    fn container(&self, name: &str) -> Result<&'a ContainerFormat, Unsupported> {
        self.registry
            .get(name)
            .ok_or_else(|| format!("serde did not trace the type {name}"))
    }

    /// Names the message for struct `name`, describing it later.
    fn message(&mut self, name: &str) -> String {
        if !self.messages.contains_key(name) && !self.pending.iter().any(|p| p == name) {
            self.pending.push(name.to_owned());
        }
        format!(".{}.{name}", self.package)
    }

    fn describe_pending(&mut self) -> Result<(), Unsupported> {
        while let Some(name) = self.pending.pop() {
            let fields: &'a [Named<Format>] = match self.container(&name)? {
                ContainerFormat::Struct(fields) => fields,
                _ => &[],
            };
            let mut message = DescriptorProto {
                name: Some(name.clone()),
                ..Default::default()
            };
            // Reserved so that recursion stops here.
            self.messages
                .insert(name.clone(), DescriptorProto::default());
            for (index, field) in fields.iter().enumerate() {
                let number = i32::try_from(index + 1).map_err(|_| "too many fields")?;
                let described = self
                    .field(&mut message, &field.name, &field.value, number)
                    .map_err(|why| format!("{name}.{}: {why}", field.name))?;
                message.field.push(described);
            }
            self.messages.insert(name, message);
        }
        Ok(())
    }

    /// The field `name` of `format`, numbered `number`, in `message` (which gets its map
    /// entries and optional fields' oneofs).
    fn field(
        &mut self,
        message: &mut DescriptorProto,
        name: &str,
        format: &'a Format,
        number: i32,
    ) -> Result<FieldDescriptorProto, Unsupported> {
        let mut field = FieldDescriptorProto {
            name: Some(name.to_owned()),
            number: Some(number),
            json_name: Some(name.to_owned()),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        let mut format = self.unwrap_newtypes(format)?;
        if let Format::Option(inner) = format
            && let Format::Seq(_) | Format::Map { .. } = self.unwrap_newtypes(inner)?
        {
            // An absent list or map is an empty one in protobuf.
            format = self.unwrap_newtypes(inner)?;
        }
        match format {
            Format::Option(inner) => {
                self.single(&mut field, inner)?;
                if field.r#type != Some(Type::Message as i32) {
                    field.proto3_optional = Some(true);
                    field.oneof_index = Some(message.oneof_decl.len() as i32);
                    message.oneof_decl.push(OneofDescriptorProto {
                        name: Some(format!("_{name}")),
                        ..Default::default()
                    });
                }
            }
            Format::Seq(inner) => {
                self.single(&mut field, inner)?;
                field.label = Some(Label::Repeated as i32);
            }
            Format::Map { key, value } => {
                let entry = self.map_entry(name, key, value)?;
                field.label = Some(Label::Repeated as i32);
                field.r#type = Some(Type::Message as i32);
                let entry_name = entry.name().to_owned();
                field.type_name =
                    Some(format!(".{}.{}.{entry_name}", self.package, message.name()));
                message.nested_type.push(entry);
            }
            single => self.single(&mut field, single)?,
        }
        Ok(field)
    }

    /// `field`'s type, for a value that is neither a list, a map nor optional.
    fn single(
        &mut self,
        field: &mut FieldDescriptorProto,
        format: &'a Format,
    ) -> Result<(), Unsupported> {
        let format = self.unwrap_newtypes(format)?;
        if let Format::TypeName(name) = format {
            let (kind, full_name) = match self.container(name)? {
                ContainerFormat::Struct(_) | ContainerFormat::UnitStruct => {
                    (Type::Message, self.message(name))
                }
                ContainerFormat::Enum(variants) => (Type::Enum, self.enumeration(name, variants)?),
                other => return Err(format!("{name} ({other:?}) has no protobuf form")),
            };
            field.r#type = Some(kind as i32);
            field.type_name = Some(full_name);
            return Ok(());
        }
        field.r#type = Some(scalar(format)? as i32);
        Ok(())
    }

    /// Newtype structs are their content, in serde's JSON as here.
    fn unwrap_newtypes(&self, format: &'a Format) -> Result<&'a Format, Unsupported> {
        let mut format = format;
        for _ in 0..16 {
            let Format::TypeName(name) = format else {
                return Ok(format);
            };
            match self.container(name)? {
                ContainerFormat::NewTypeStruct(inner) => format = inner,
                _ => return Ok(format),
            }
        }
        Err("newtypes nest too deep".into())
    }

    /// A unit-only enum, as serde writes it in JSON: its variants' names.
    fn enumeration(
        &mut self,
        name: &str,
        variants: &'a BTreeMap<u32, Named<VariantFormat>>,
    ) -> Result<String, Unsupported> {
        // Numbered in declaration order: serde-reflection may leave provisional indices, in
        // that order too. Only the names matter to JSON, which serde writes.
        let mut values: Vec<EnumValueDescriptorProto> = Vec::new();
        for variant in variants.values() {
            if !matches!(variant.value, VariantFormat::Unit) {
                return Err(format!(
                    "{name}::{} carries data; only enums of unit variants have a protobuf form",
                    variant.name
                ));
            }
            if values.iter().any(|value| value.name() == variant.name) {
                continue;
            }
            values.push(EnumValueDescriptorProto {
                name: Some(variant.name.clone()),
                number: Some(i32::try_from(values.len()).map_err(|_| "too many variants")?),
                ..Default::default()
            });
        }
        self.enums.insert(
            name.to_owned(),
            EnumDescriptorProto {
                name: Some(name.to_owned()),
                value: values,
                ..Default::default()
            },
        );
        Ok(format!(".{}.{name}", self.package))
    }

    /// The `<Field>Entry` message of a map field.
    fn map_entry(
        &mut self,
        name: &str,
        key: &'a Format,
        value: &'a Format,
    ) -> Result<DescriptorProto, Unsupported> {
        let key_type = scalar(self.unwrap_newtypes(key)?)?;
        if matches!(key_type, Type::Float | Type::Double) {
            return Err("map keys must be strings, integers or booleans".into());
        }
        let mut entry = DescriptorProto {
            name: Some(format!("{}Entry", upper_camel(name))),
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let key_field = FieldDescriptorProto {
            name: Some("key".into()),
            number: Some(1),
            label: Some(Label::Optional as i32),
            r#type: Some(key_type as i32),
            ..Default::default()
        };
        let mut value_field = FieldDescriptorProto {
            name: Some("value".into()),
            number: Some(2),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        self.single(&mut value_field, value)?;
        entry.field = vec![key_field, value_field];
        Ok(entry)
    }
}

/// The protobuf type of a serde primitive.
fn scalar(format: &Format) -> Result<Type, Unsupported> {
    Ok(match format {
        Format::Bool => Type::Bool,
        Format::I8 | Format::I16 | Format::I32 => Type::Int32,
        Format::I64 => Type::Int64,
        Format::U8 | Format::U16 | Format::U32 => Type::Uint32,
        Format::U64 => Type::Uint64,
        Format::F32 => Type::Float,
        Format::F64 => Type::Double,
        Format::Str | Format::Char => Type::String,
        Format::Option(_) | Format::Seq(_) | Format::Map { .. } => {
            return Err(
                "lists, maps and options inside lists or maps have no protobuf form".into(),
            );
        }
        other => return Err(format!("{other:?} has no protobuf form")),
    })
}

/// `first_name` → `FirstName`, as protoc names map entries.
fn upper_camel(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}
