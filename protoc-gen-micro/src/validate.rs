//! Checks made before generating, so a clash is a clear error rather than code that won't compile.

use std::collections::HashMap;

use heck::ToSnakeCase;

use crate::descriptor::ProtoFile;
use crate::{Error, names};

/// Checks that every file to generate is present and that generated names cannot clash.
pub(crate) fn check(files: &[ProtoFile], files_to_generate: &[String]) -> Result<(), Error> {
    let mut packages: HashMap<&str, Vec<&ProtoFile>> = HashMap::new();
    for name in files_to_generate {
        let file = files
            .iter()
            .find(|file| file.name() == name)
            .ok_or_else(|| {
                Error::new(format!("file to generate `{name}` is not in the request"))
            })?;
        packages
            .entry(file.descriptor.package())
            .or_default()
            .push(file);
    }
    for (package, files) in packages {
        check_package(package, &files)?;
    }
    Ok(())
}

/// Within one package (one Rust module): generated types must not shadow messages or enums, and
/// services and methods must stay distinct after case conversion.
fn check_package(package: &str, files: &[&ProtoFile]) -> Result<(), Error> {
    let mut taken: HashMap<String, String> = HashMap::new();
    for file in files {
        for message in &file.descriptor.message_type {
            taken.insert(
                message.name().to_owned(),
                format!("message `{}`", message.name()),
            );
        }
        for enumeration in &file.descriptor.enum_type {
            taken.insert(
                enumeration.name().to_owned(),
                format!("enum `{}`", enumeration.name()),
            );
        }
    }
    for file in files {
        for service in &file.descriptor.service {
            let what = format!("service `{}` in {}", service.name(), file.name());
            let mut generated = names::generated_types(service.name()).to_vec();
            generated.push(format!(
                "const prefix {}",
                names::const_prefix(service.name())
            ));
            for name in generated {
                if let Some(other) = taken.insert(name.clone(), what.clone()) {
                    return Err(Error::new(format!(
                        "{what} generates `{name}`, which clashes with {other} in package \
                         `{package}`; rename one of them"
                    )));
                }
            }
            check_methods(&what, service)?;
        }
    }
    Ok(())
}

fn check_methods(what: &str, service: &prost_types::ServiceDescriptorProto) -> Result<(), Error> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for method in &service.method {
        if let Some(other) = seen.insert(method.name().to_snake_case(), method.name()) {
            return Err(Error::new(format!(
                "{what}: methods `{other}` and `{}` both become `{}` in Rust; rename one of them",
                method.name(),
                method.name().to_snake_case()
            )));
        }
    }
    Ok(())
}
