//! Runs prost-build over a checked request: every file feeds its message graph, only the
//! requested files are written.
//!
//! prost-build decides from its message graph whether a message can derive `Eq`, `Hash` or
//! `Copy`, and whether a field must be boxed; a message it cannot find there makes it panic. So
//! every file goes in, imports and well-known types too. Files that were not asked for are
//! generated into a module that is thrown away, stripped to what the graph reads.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use prost_build::Module;
use prost_types::{DescriptorProto, FileDescriptorProto};

use crate::descriptor::ProtoFile;
use crate::render::{ErrorSlot, MicroServiceGenerator};
use crate::{Error, Options, package, prost_input};

/// One generated Rust module.
pub(crate) struct Generated {
    pub(crate) module: Module,
    /// The proto package it was generated from, as written.
    pub(crate) package: String,
    pub(crate) content: String,
}

/// Generates `requested` (a subset of `files`) with prost-build and the micro service generator.
///
/// The checks in `validate` keep prost-build's known panics away; a panic that still happens
/// becomes an error naming the file it happened in.
pub(crate) fn run(
    files: &[ProtoFile],
    requested: &[&ProtoFile],
    options: &Options,
) -> Result<Vec<Generated>, Error> {
    match catch_unwind(AssertUnwindSafe(|| generate(files, requested, options))) {
        Ok(result) => result,
        Err(panic) => Err(located_panic(files, requested, options, &*panic)),
    }
}

fn generate(
    files: &[ProtoFile],
    requested: &[&ProtoFile],
    options: &Options,
) -> Result<Vec<Generated>, Error> {
    let error = ErrorSlot::default();
    let descriptor_sets = package::descriptor_sets(files, requested, options.comments)?;
    let mut config = config(options, descriptor_sets, error.clone());
    let modules = config
        .generate(requests(files, requested))
        .map_err(|err| Error::new(format!("prost-build: {err}")))?;
    if let Some(err) = error.borrow_mut().take() {
        return Err(err);
    }
    let packages: HashMap<Module, &str> = requested
        .iter()
        .map(|file| (module_of(file), file.descriptor.package()))
        .collect();
    Ok(modules
        .into_iter()
        .filter_map(|(module, content)| {
            let package = packages.get(&module)?.to_string();
            Some(Generated {
                module,
                package,
                content,
            })
        })
        .collect())
}

fn config(
    options: &Options,
    descriptor_sets: HashMap<String, Vec<u8>>,
    error: ErrorSlot,
) -> prost_build::Config {
    let mut config = prost_build::Config::new();
    config
        .prost_path("::micro::codegen::prost")
        .prost_types_path("::micro::codegen::prost_types")
        .service_generator(Box::new(MicroServiceGenerator::new(
            options.clone(),
            descriptor_sets,
            error,
        )));
    for (proto_path, rust_path) in &options.extern_paths {
        config.extern_path(proto_path, rust_path);
    }
    for (proto_path, attribute) in &options.type_attributes {
        config.type_attribute(proto_path, attribute);
    }
    for (proto_path, attribute) in &options.field_attributes {
        config.field_attribute(proto_path, attribute);
    }
    config.bytes(&options.bytes).btree_map(&options.btree_map);
    config
}

/// The module of a requested file: its package's.
fn module_of(file: &ProtoFile) -> Module {
    Module::from_protobuf_package_name(file.descriptor.package())
}

/// Where files that were not asked for are generated; no package maps to it (a package name
/// has no spaces).
fn discarded() -> Module {
    Module::from_parts([" not requested "])
}

/// The requested files in order, then every other file for the message graph only.
fn requests(files: &[ProtoFile], requested: &[&ProtoFile]) -> Vec<(Module, FileDescriptorProto)> {
    let is_requested = |file: &ProtoFile| requested.iter().any(|r| r.name() == file.name());
    let aliases = prost_input::Aliases::of(files);
    let wanted = requested
        .iter()
        .map(|file| (module_of(file), prost_input::descriptor(file, &aliases)));
    let graph_only = files
        .iter()
        .filter(|file| !is_requested(file))
        .map(|file| (discarded(), graph_only(&file.descriptor)));
    wanted.chain(graph_only).collect()
}

/// A file reduced to what prost-build's message graph reads (messages and their fields), so
/// that generating it cannot fail on anything else: enums, services, extensions and comments
/// are left out.
fn graph_only(file: &FileDescriptorProto) -> FileDescriptorProto {
    FileDescriptorProto {
        name: file.name.clone(),
        package: file.package.clone(),
        syntax: file.syntax.clone(),
        message_type: file.message_type.iter().map(messages_only).collect(),
        ..Default::default()
    }
}

fn messages_only(message: &DescriptorProto) -> DescriptorProto {
    DescriptorProto {
        nested_type: message.nested_type.iter().map(messages_only).collect(),
        enum_type: Vec::new(),
        extension: Vec::new(),
        ..message.clone()
    }
}

/// Names the requested file whose generation panics, by generating them one at a time.
fn located_panic(
    files: &[ProtoFile],
    requested: &[&ProtoFile],
    options: &Options,
    panic: &(dyn Any + Send),
) -> Error {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    let culprit = requested
        .iter()
        .find(|file| {
            catch_unwind(AssertUnwindSafe(|| generate(files, &[**file], options))).is_err()
        })
        .map_or_else(
            || "the requested files".to_owned(),
            |file| format!("`{}`", file.name()),
        );
    Error::new(format!(
        "prost-build failed while generating {culprit}: {detail}; the item it names is valid \
         protobuf that micro-rs's checks missed: rename it or move it to a file you do not \
         generate, and please report the .proto at https://github.com/micro-rs/micro-rs/issues"
    ))
}
