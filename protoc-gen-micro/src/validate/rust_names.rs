//! Proto names that differ can become one Rust name (`HTTPServer` and `HttpServer` are both
//! `HttpServer`; `foo_bar` and `fooBar` are both `foo_bar`), and two items of one name do not
//! compile. Each Rust scope the output has is checked, and a clash names both proto items.

use std::collections::{BTreeMap, HashMap};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, ServiceDescriptorProto,
};

use super::well_formed::package_scope;
use crate::descriptor::ProtoFile;
use crate::names::{self, prost};
use crate::{Error, Options};

/// Names taken in one Rust scope, each with the proto item that took it.
struct Scope {
    label: String,
    taken: HashMap<String, String>,
}

impl Scope {
    fn new(label: impl Into<String>) -> Scope {
        Scope {
            label: label.into(),
            taken: HashMap::new(),
        }
    }

    fn claim(&mut self, rust: String, what: impl Into<String>) -> Result<(), Error> {
        let what = what.into();
        match self.taken.get(&rust) {
            Some(other) => Err(Error::new(format!(
                "{other} and {what} both become `{rust}` in {}; rename one of them",
                self.label
            ))),
            None => {
                self.taken.insert(rust, what);
                Ok(())
            }
        }
    }
}

/// Checks the Rust names of everything generated for `files`.
pub(super) fn check(files: &[&ProtoFile], options: &Options) -> Result<(), Error> {
    let mut packages: BTreeMap<&str, Vec<&ProtoFile>> = BTreeMap::new();
    for file in files {
        packages
            .entry(file.descriptor.package())
            .or_default()
            .push(file);
    }
    let modules = package_modules(packages.keys().copied())?;
    for (package, files) in &packages {
        Package {
            name: package,
            files,
            options,
            children: child_modules(&modules, package),
        }
        .check()?;
    }
    Ok(())
}

/// The Rust module path of each package, refusing two packages that share one.
fn package_modules<'a>(
    packages: impl Iterator<Item = &'a str>,
) -> Result<HashMap<Vec<String>, &'a str>, Error> {
    let mut modules: HashMap<Vec<String>, &str> = HashMap::new();
    for package in packages {
        let path = module_path(package);
        if let Some(other) = modules.insert(path.clone(), package) {
            return Err(Error::new(format!(
                "packages `{other}` and `{package}` both become the Rust module `{}`; rename one \
                 of them",
                path.join("::")
            )));
        }
    }
    Ok(modules)
}

fn module_path(package: &str) -> Vec<String> {
    package
        .split('.')
        .filter(|part| !part.is_empty())
        .map(prost::snake)
        .collect()
}

/// Modules that generated packages nested one level below `package` put inside its module.
fn child_modules(modules: &HashMap<Vec<String>, &str>, package: &str) -> Vec<(String, String)> {
    let parent = module_path(package);
    let mut children: Vec<(String, String)> = modules
        .iter()
        .filter(|(path, _)| path.len() == parent.len() + 1 && path.starts_with(&parent))
        .map(|(path, child)| (path[parent.len()].clone(), format!("package `{child}`")))
        .collect();
    children.sort();
    children
}

/// One package: everything its files put into its Rust module.
struct Package<'a> {
    name: &'a str,
    files: &'a [&'a ProtoFile],
    options: &'a Options,
    children: Vec<(String, String)>,
}

impl Package<'_> {
    fn check(&self) -> Result<(), Error> {
        let label = match self.name {
            "" => "the module of files without a package".to_owned(),
            name => format!("package `{name}`"),
        };
        let mut types = Scope::new(label.clone());
        let mut modules = Scope::new(label.clone());
        for (module, what) in &self.children {
            modules.claim(module.clone(), what.clone())?;
        }
        let scope = package_scope(self.name);
        for file in self.files {
            let generated = Generated {
                options: self.options,
                proto2: matches!(file.descriptor.syntax.as_deref(), None | Some("proto2")),
            };
            for message in &file.descriptor.message_type {
                generated.message(&scope, message, &mut types, &mut modules)?;
            }
            for enumeration in &file.descriptor.enum_type {
                generated.enumeration(&scope, enumeration, &mut types)?;
            }
        }
        self.check_services(&mut types, &label)
    }

    fn check_services(&self, types: &mut Scope, label: &str) -> Result<(), Error> {
        let mut constants = Scope::new(label.to_owned());
        constants.claim(
            names::FILE_DESCRIPTOR_SET.to_owned(),
            "the package's descriptors",
        )?;
        for file in self.files {
            for service in &file.descriptor.service {
                check_service(service, file.name(), self.options, types, &mut constants)?;
            }
        }
        Ok(())
    }
}

/// The types, modules, fields and variants prost-build writes for messages and enums.
struct Generated<'a> {
    options: &'a Options,
    /// Whether the file is proto2, where singular scalars have presence.
    proto2: bool,
}

impl Generated<'_> {
    fn message(
        &self,
        scope: &str,
        message: &DescriptorProto,
        types: &mut Scope,
        modules: &mut Scope,
    ) -> Result<(), Error> {
        let full = format!("{scope}.{}", message.name());
        if self.is_extern(&full) {
            return Ok(());
        }
        let what = format!("message `{}`", &full[1..]);
        types.claim(prost::upper_camel(message.name()), what.clone())?;
        self.members(&full, message)?;
        let nested: Vec<&DescriptorProto> = message
            .nested_type
            .iter()
            .filter(|nested| !is_map_entry(nested))
            .collect();
        let oneofs = real_oneofs(message);
        if nested.is_empty() && message.enum_type.is_empty() && oneofs.is_empty() {
            return Ok(());
        }
        modules.claim(prost::snake(message.name()), what)?;
        let label = format!("the module of message `{}`", &full[1..]);
        let (mut inner_types, mut inner_modules) = (Scope::new(&label), Scope::new(&label));
        for oneof in oneofs {
            let what = format!(
                "oneof `{}.{}`",
                &full[1..],
                message.oneof_decl[oneof].name()
            );
            inner_types.claim(prost::upper_camel(message.oneof_decl[oneof].name()), what)?;
        }
        for nested in nested {
            self.message(&full, nested, &mut inner_types, &mut inner_modules)?;
        }
        for enumeration in &message.enum_type {
            self.enumeration(&full, enumeration, &mut inner_types)?;
        }
        Ok(())
    }

    /// Struct fields, accessor methods and oneof variants.
    fn members(&self, full: &str, message: &DescriptorProto) -> Result<(), Error> {
        let name = &full[1..];
        let mut fields = Scope::new(format!("the fields of `{name}`"));
        let mut methods = Scope::new(format!("the methods of `{name}`"));
        let oneofs = real_oneofs(message);
        let mut variants: HashMap<usize, Scope> = HashMap::new();
        for field in &message.field {
            let what = format!("field `{name}.{}`", field.name());
            match field.oneof_index.map(|i| i as usize) {
                Some(oneof) if oneofs.contains(&oneof) => {
                    let oneof_name = message.oneof_decl[oneof].name();
                    variants
                        .entry(oneof)
                        .or_insert_with(|| Scope::new(format!("oneof `{name}.{oneof_name}`")))
                        .claim(prost::upper_camel(field.name()), what)?;
                }
                _ => {
                    let rust = prost::snake(field.name());
                    fields.claim(rust.clone(), what.clone())?;
                    let accessors = match map_of_enums(full, message, field) {
                        true if rust.starts_with("r#") => {
                            return Err(Error::new(format!(
                                "{what} is a map of enums named with a Rust keyword, for which \
                                 prost-derive cannot write `get_{rust}`; rename the field \
                                 (the wire format does not change, only JSON names do)"
                            )));
                        }
                        true => vec![format!("get_{rust}"), format!("insert_{rust}")],
                        false => accessors(field, self.proto2),
                    };
                    for method in accessors {
                        methods.claim(method, what.clone())?;
                    }
                }
            }
        }
        for oneof in oneofs {
            let oneof_name = message.oneof_decl[oneof].name();
            fields.claim(
                prost::snake(oneof_name),
                format!("oneof `{name}.{oneof_name}`"),
            )?;
        }
        Ok(())
    }

    fn enumeration(
        &self,
        scope: &str,
        enumeration: &EnumDescriptorProto,
        types: &mut Scope,
    ) -> Result<(), Error> {
        let full = format!("{scope}.{}", enumeration.name());
        if self.is_extern(&full) {
            return Ok(());
        }
        types.claim(
            prost::upper_camel(enumeration.name()),
            format!("enum `{}`", &full[1..]),
        )?;
        let mut variants = Scope::new(format!("the variants of enum `{}`", &full[1..]));
        let mut numbers = Vec::new();
        for value in &enumeration.value {
            // prost-build keeps the first of several aliases of one number.
            if numbers.contains(&value.number()) {
                continue;
            }
            numbers.push(value.number());
            variants.claim(
                prost::enum_variant(enumeration.name(), value.name()),
                format!("value `{}`", value.name()),
            )?;
        }
        Ok(())
    }

    /// Whether prost-build takes this type from elsewhere (`prost_types` or an `extern_path`)
    /// instead of generating it.
    fn is_extern(&self, full: &str) -> bool {
        let under = |prefix: &str| {
            prefix == "."
                || full == prefix
                || full
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        under(".google.protobuf")
            || self
                .options
                .extern_paths
                .iter()
                .any(|(proto, _)| under(proto))
    }
}

/// Indexes of the oneofs prost-build writes as enums (proto3 `optional` makes synthetic ones).
fn real_oneofs(message: &DescriptorProto) -> Vec<usize> {
    let mut oneofs: Vec<usize> = message
        .field
        .iter()
        .filter(|field| !field.proto3_optional())
        .filter_map(|field| field.oneof_index.map(|i| i as usize))
        .collect();
    oneofs.sort_unstable();
    oneofs.dedup();
    oneofs
}

/// Whether `field` of `message` (named `full`) is a map whose values are enums: prost-derive
/// writes `get_<field>` and `insert_<field>` for those.
fn map_of_enums(full: &str, message: &DescriptorProto, field: &FieldDescriptorProto) -> bool {
    field.r#type() == Type::Message
        && message.nested_type.iter().any(|entry| {
            is_map_entry(entry)
                && format!("{full}.{}", entry.name()) == field.type_name()
                && entry
                    .field
                    .get(1)
                    .is_some_and(|value| value.r#type() == Type::Enum)
        })
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message
        .options
        .as_ref()
        .and_then(|options| options.map_entry)
        .unwrap_or(false)
}

/// The methods prost-derive writes for a field: a getter and a setter (or `push_`) for enums, a
/// getter for scalars with presence (proto2 `optional`, proto3 `optional`).
fn accessors(field: &FieldDescriptorProto, proto2: bool) -> Vec<String> {
    let name = prost::snake(field.name());
    let bare = name.trim_start_matches("r#");
    let has_presence = field.proto3_optional() || (proto2 && field.label() == Label::Optional);
    match (field.r#type(), field.label()) {
        (Type::Enum, Label::Repeated) => vec![name.clone(), format!("push_{bare}")],
        (Type::Enum, _) => vec![name.clone(), format!("set_{bare}")],
        (Type::Message | Type::Group, _) | (_, Label::Repeated) => Vec::new(),
        _ if has_presence => vec![name],
        _ => Vec::new(),
    }
}

fn check_service(
    service: &ServiceDescriptorProto,
    file: &str,
    options: &Options,
    types: &mut Scope,
    constants: &mut Scope,
) -> Result<(), Error> {
    let what = format!("service `{}` in {file}", service.name());
    let [handler, server, client] = names::generated_types(service.name());
    if options.server {
        types.claim(handler, what.clone())?;
        types.claim(server, what.clone())?;
    }
    if options.client {
        types.claim(client, what.clone())?;
    }
    let mut methods = Scope::new(format!("the methods of {what}"));
    let mut client_methods = Scope::new(format!("the client of {what}"));
    for fixed in names::CLIENT_METHODS {
        client_methods.claim((*fixed).to_owned(), "the client itself")?;
    }
    for method in &service.method {
        let rpc = format!("rpc `{}`", method.name());
        let rust = prost::snake(method.name());
        if !is_identifier(&rust) {
            return Err(Error::new(format!(
                "{rpc} of {what} becomes `{rust}`, which is not a Rust identifier; rename it"
            )));
        }
        methods.claim(rust.clone(), rpc.clone())?;
        client_methods.claim(names::client_method_name(&rust), rpc)?;
    }
    for constant in names::service_constants(service.name()) {
        constants.claim(constant, what.clone())?;
    }
    for method in &service.method {
        let constant = names::endpoint_constant(service.name(), method.name());
        constants.claim(constant, format!("rpc `{}` of {what}", method.name()))?;
    }
    Ok(())
}

/// `name` or `r#name` with `name` made of ASCII letters, digits and `_`, not starting with a
/// digit, and not `_` alone.
fn is_identifier(rust: &str) -> bool {
    let bare = rust.strip_prefix("r#").unwrap_or(rust);
    bare != "_"
        && bare.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
