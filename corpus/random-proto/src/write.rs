//! Writes a [`Model`] as `.proto` text.

use std::fmt::Write;

use crate::ProtoFile;
use crate::model::{Enum, Field, FieldType, File, Label, Message, Model, Service};

pub(crate) fn files(model: &Model) -> Vec<ProtoFile> {
    model
        .files
        .iter()
        .map(|file| ProtoFile {
            path: file.path.clone(),
            source: file_source(file),
            has_service: !file.services.is_empty(),
        })
        .collect()
}

fn file_source(file: &File) -> String {
    let mut out = String::new();
    let syntax = if file.proto2 { "proto2" } else { "proto3" };
    comment(&mut out, "", file.comment.as_deref());
    let _ = writeln!(out, "syntax = \"{syntax}\";\n\npackage {};\n", file.package);
    for import in &file.imports {
        let _ = writeln!(out, "import \"{import}\";");
    }
    out.push('\n');
    for enumeration in &file.enums {
        enum_source(&mut out, "", enumeration);
    }
    for message in &file.messages {
        message_source(&mut out, "", message);
    }
    for service in &file.services {
        service_source(&mut out, service);
    }
    out
}

/// `// ` lines; an empty line stays `//`.
fn comment(out: &mut String, indent: &str, text: Option<&str>) {
    for line in text.into_iter().flat_map(str::lines) {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}//");
        } else {
            let _ = writeln!(out, "{indent}// {line}");
        }
    }
}

fn enum_source(out: &mut String, indent: &str, enumeration: &Enum) {
    comment(out, indent, enumeration.comment.as_deref());
    let _ = writeln!(out, "{indent}enum {} {{", enumeration.name);
    if enumeration.allow_alias {
        let _ = writeln!(out, "{indent}  option allow_alias = true;");
    }
    for (value, number) in &enumeration.values {
        let _ = writeln!(out, "{indent}  {value} = {number};");
    }
    let _ = writeln!(out, "{indent}}}");
}

fn message_source(out: &mut String, indent: &str, message: &Message) {
    comment(out, indent, message.comment.as_deref());
    let _ = writeln!(out, "{indent}message {} {{", message.name);
    let inner = format!("{indent}  ");
    if message.deprecated {
        let _ = writeln!(out, "{inner}option deprecated = true;");
    }
    if let Some((low, high, name)) = &message.reserved {
        let _ = writeln!(
            out,
            "{inner}reserved {low} to {high};\n{inner}reserved \"{name}\";"
        );
    }
    for enumeration in &message.enums {
        enum_source(out, &inner, enumeration);
    }
    for nested in &message.nested {
        message_source(out, &inner, nested);
    }
    for field in &message.fields {
        field_source(out, &inner, field);
    }
    for oneof in &message.oneofs {
        if oneof.fields.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{inner}oneof {} {{", oneof.name);
        for field in &oneof.fields {
            field_source(out, &format!("{inner}  "), field);
        }
        let _ = writeln!(out, "{inner}}}");
    }
    let _ = writeln!(out, "{indent}}}");
}

fn field_source(out: &mut String, indent: &str, field: &Field) {
    comment(out, indent, field.comment.as_deref());
    let label = match field.label {
        Label::None => "",
        Label::Optional => "optional ",
        Label::Required => "required ",
        Label::Repeated => "repeated ",
    };
    let mut options = Vec::new();
    if let Some(default) = &field.default {
        options.push(format!("default = {default}"));
    }
    if field.deprecated {
        options.push("deprecated = true".to_owned());
    }
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(" [{}]", options.join(", "))
    };
    let _ = writeln!(
        out,
        "{indent}{label}{} {} = {}{options};",
        type_source(&field.ty),
        field.name,
        field.number
    );
}

fn type_source(ty: &FieldType) -> String {
    match ty {
        FieldType::Scalar(scalar) => (*scalar).to_owned(),
        FieldType::Enum(full) | FieldType::Message(full) => full.clone(),
        FieldType::Map(key, value) => format!("map<{key}, {}>", type_source(value)),
    }
}

fn service_source(out: &mut String, service: &Service) {
    comment(out, "", service.comment.as_deref());
    let _ = writeln!(out, "service {} {{", service.name);
    for method in &service.methods {
        let stream = |on: bool| if on { "stream " } else { "" };
        let body = if method.deprecated {
            " { option deprecated = true; }"
        } else {
            ";"
        };
        let _ = writeln!(
            out,
            "  rpc {}({}{}) returns ({}{}){body}",
            method.name,
            stream(method.client_streaming),
            method.input,
            stream(method.server_streaming),
            method.output
        );
    }
    let _ = writeln!(out, "}}");
}
