//! Draws a [`Model`] from a seed: packages, files importing earlier files, messages and enums
//! declared first (so fields can refer forward), then fields, oneofs and services.

use std::collections::HashMap;

use heck::ToShoutySnakeCase;

mod fields;
mod services;

use crate::model::{Enum, File, Message, Model};
use crate::names::{self, Scope};

pub(super) const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
];

pub(super) const MAP_KEYS: &[&str] = &[
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
    "sfixed64", "bool", "string",
];

/// Well-known-type files and the messages each defines.
const WELL_KNOWN: &[(&str, &[&str])] = &[
    ("google/protobuf/timestamp.proto", &["Timestamp"]),
    ("google/protobuf/duration.proto", &["Duration"]),
    ("google/protobuf/empty.proto", &["Empty"]),
    (
        "google/protobuf/struct.proto",
        &["Struct", "Value", "ListValue"],
    ),
    ("google/protobuf/any.proto", &["Any"]),
    ("google/protobuf/field_mask.proto", &["FieldMask"]),
    (
        "google/protobuf/wrappers.proto",
        &[
            "DoubleValue",
            "FloatValue",
            "Int64Value",
            "UInt64Value",
            "Int32Value",
            "UInt32Value",
            "BoolValue",
            "StringValue",
            "BytesValue",
        ],
    ),
];

/// Comments, some holding code blocks that rustdoc must not run as doctests.
const COMMENTS: &[&str] = &[
    "A plain comment.",
    "Example:\n\n    let x = {\"a\": 1};\n    this is not Rust\n\nAfter the example.",
    "```\nSELECT * FROM t WHERE a < 1;\n```",
    "```json\n{\"a\": [1, 2]}\n```",
    "Links [like this] and [that][ref], <b>html</b>, `code` and https://example.com/x?a=[1].",
    "Stars * and _underscores_, a backslash \\ and a trailing one \\",
    "Indented list:\n  * one\n      nested code?\n  * two",
];

/// A message or enum a field or method can refer to.
#[derive(Clone)]
struct Type {
    /// `.pkg.Outer.Inner`.
    full: String,
    /// The file that defines it, for imports and visibility.
    file: String,
    kind: Kind,
}

#[derive(Clone)]
pub(super) enum Kind {
    Message,
    /// An enum, open (from a proto3 file) or closed, with its value names and whether the
    /// first is 0 (which a map's enum values need).
    Enum {
        open: bool,
        values: Vec<String>,
        zero_first: bool,
    },
}

/// Everything drawn so far.
pub(super) struct World {
    rng: fastrand::Rng,
    types: Vec<Type>,
    /// Names taken at package level, by package.
    packages: HashMap<String, Scope>,
}

pub(crate) fn schema(seed: u64) -> Model {
    let mut rng = fastrand::Rng::with_seed(seed);
    let packages = package_names(&mut rng, seed);
    let mut scopes: HashMap<String, Scope> = HashMap::new();
    for package in &packages {
        let scope = scopes.entry(package.clone()).or_default();
        // A child package is a module (and a proto symbol) inside its parent's.
        for child in &packages {
            if let Some(part) = child
                .strip_prefix(package.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !rest.contains('.'))
            {
                scope.reserve_symbol(part);
                scope.reserve(format!("mod:{}", names::rust_snake(part)));
            }
        }
    }
    let mut world = World {
        rng,
        types: well_known_types(),
        packages: scopes,
    };
    let mut files: Vec<File> = Vec::new();
    for (index, package) in packages.iter().enumerate() {
        for file_index in 0..world.rng.usize(1..=2) {
            let path = format!("{}/f{index}_{file_index}.proto", package.replace('.', "/"));
            let earlier: Vec<String> = files.iter().map(|file| file.path.clone()).collect();
            files.push(world.file(path, package, &earlier));
        }
    }
    Model { files }
}

/// Two to four packages under `s<seed>`, with distinct Rust module paths.
fn package_names(rng: &mut fastrand::Rng, seed: u64) -> Vec<String> {
    let mut packages: Vec<String> = Vec::new();
    let mut modules: Vec<String> = Vec::new();
    while packages.len() < rng.usize(2..=4) {
        let mut name = format!("s{seed}.{}", names::package_part(rng));
        if rng.bool() {
            name = format!("{name}.{}", names::package_part(rng));
        }
        let module = names::rust_snake(&name.replace('.', "_"));
        if !modules.contains(&module) && !packages.contains(&name) {
            modules.push(module);
            packages.push(name);
        }
    }
    packages
}

fn well_known_types() -> Vec<Type> {
    WELL_KNOWN
        .iter()
        .flat_map(|(file, messages)| {
            messages.iter().map(|message| Type {
                full: format!(".google.protobuf.{message}"),
                file: (*file).to_owned(),
                kind: Kind::Message,
            })
        })
        .collect()
}

impl World {
    fn file(&mut self, path: String, package: &str, earlier: &[String]) -> File {
        let proto2 = self.rng.u8(..4) == 0;
        let mut imports: Vec<String> = earlier
            .iter()
            .filter(|_| self.rng.bool())
            .cloned()
            .collect();
        imports.extend(
            WELL_KNOWN
                .iter()
                .filter(|_| self.rng.u8(..3) > 0)
                .map(|(file, _)| (*file).to_owned()),
        );
        let mut scope = self.packages.remove(package).unwrap_or_default();
        let prefix = format!(".{package}");
        let mut messages: Vec<Message> = (0..self.rng.usize(1..=4))
            .map(|_| self.declare_message(&mut scope, &prefix, &path, proto2, 0))
            .collect();
        let enums: Vec<Enum> = (0..self.rng.usize(0..=2))
            .map(|_| self.declare_enum(&mut scope, &prefix, &path, proto2))
            .collect();
        let visible = self.visible(&path, &imports, proto2);
        for message in &mut messages {
            self.fill_message(message, &prefix, &visible, proto2);
        }
        let services = (0..self.rng.usize(0..=2))
            .map(|_| self.service(&mut scope, &visible))
            .collect();
        self.packages.insert(package.to_owned(), scope);
        File {
            path,
            package: package.to_owned(),
            proto2,
            imports,
            comment: self.comment(),
            messages,
            enums,
            services,
        }
    }

    /// Types a file may use: its own and those of the files it imports. A proto3 file may not
    /// use closed (proto2) enums.
    fn visible(&self, path: &str, imports: &[String], proto2: bool) -> Vec<Type> {
        self.types
            .iter()
            .filter(|ty| ty.file == path || imports.contains(&ty.file))
            .filter(|ty| proto2 || !matches!(ty.kind, Kind::Enum { open: false, .. }))
            .cloned()
            .collect()
    }

    fn comment(&mut self) -> Option<String> {
        (self.rng.u8(..3) == 0).then(|| COMMENTS[self.rng.usize(..COMMENTS.len())].to_owned())
    }

    /// A message with its name, nested messages and enums; fields come later.
    fn declare_message(
        &mut self,
        scope: &mut Scope,
        prefix: &str,
        file: &str,
        proto2: bool,
        depth: usize,
    ) -> Message {
        let name = names::fresh(&mut self.rng, scope, names::type_name, |name| {
            vec![
                format!("type:{}", names::rust_type(name)),
                format!("mod:{}", names::rust_snake(name)),
            ]
        });
        let full = format!("{prefix}.{name}");
        self.types.push(Type {
            full: full.clone(),
            file: file.to_owned(),
            kind: Kind::Message,
        });
        let mut inner = Scope::default();
        let nested = if depth < 2 {
            (0..self.rng.usize(0..=2))
                .map(|_| self.declare_message(&mut inner, &full, file, proto2, depth + 1))
                .collect()
        } else {
            Vec::new()
        };
        let enums = (0..self.rng.usize(0..=1))
            .map(|_| self.declare_enum(&mut inner, &full, file, proto2))
            .collect();
        Message {
            name,
            comment: self.comment(),
            deprecated: self.rng.u8(..10) == 0,
            fields: Vec::new(),
            oneofs: Vec::new(),
            nested,
            enums,
            reserved: None,
            scope: inner,
        }
    }

    fn declare_enum(&mut self, scope: &mut Scope, prefix: &str, file: &str, proto2: bool) -> Enum {
        let name = names::fresh(&mut self.rng, scope, names::type_name, |name| {
            vec![format!("type:{}", names::rust_type(name))]
        });
        let shouty = name.to_shouty_snake_case();
        let mut variants = Scope::default();
        let mut values = Vec::new();
        let mut number: i32 = if proto2 { self.rng.i32(-2..=2) } else { 0 };
        for index in 0..self.rng.usize(1..=4) {
            // Values are symbols of the enclosing scope; most carry the enum's name as prefix.
            let prefixed = self.rng.u8(..4) > 0 || (index == 0 && !proto2);
            let value = loop {
                let word = names::shouty(&mut self.rng);
                let value = if prefixed {
                    format!("{shouty}_{word}")
                } else {
                    word.clone()
                };
                let variant = format!("variant:{}", word.replace('_', "").to_lowercase());
                if scope.free(&value, &[]) && variants.free(&value, std::slice::from_ref(&variant))
                {
                    scope.take(&value, Vec::new());
                    variants.take(&value, vec![variant]);
                    break value;
                }
            };
            values.push((value, number));
            number += self.rng.i32(1..=3);
        }
        let allow_alias = values.len() > 1 && self.rng.u8(..5) == 0;
        if allow_alias {
            let alias = format!("{shouty}_ALIAS_OF_FIRST");
            if scope.free(&alias, &[]) && variants.free(&alias, &["variant:aliasoffirst".into()]) {
                scope.take(&alias, Vec::new());
                values.push((alias, values[0].1));
            }
        }
        let allow_alias = allow_alias && values.iter().filter(|v| v.1 == values[0].1).count() > 1;
        self.types.push(Type {
            full: format!("{prefix}.{name}"),
            file: file.to_owned(),
            kind: Kind::Enum {
                open: !proto2,
                values: values.iter().map(|(value, _)| value.clone()).collect(),
                zero_first: values[0].1 == 0,
            },
        });
        Enum {
            name,
            comment: self.comment(),
            allow_alias,
            values,
        }
    }
}
