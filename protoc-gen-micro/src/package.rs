//! Per-package descriptor sets: each package's files plus everything they import.

use std::collections::{HashMap, HashSet};

use crate::Error;
use crate::canonical::Canonical;
use crate::descriptor::{self, ProtoFile};

/// The encoded `FileDescriptorSet` for every requested package with a service (only those embed
/// one), keyed by the proto package name. Files come dependencies first, in their canonical
/// encoding (see `canonical`), with no source info but their comments, if `comments`.
pub(crate) fn descriptor_sets(
    files: &[ProtoFile],
    requested: &[&ProtoFile],
    comments: bool,
) -> Result<HashMap<String, Vec<u8>>, Error> {
    let by_name: HashMap<&str, &ProtoFile> = files.iter().map(|file| (file.name(), file)).collect();
    let mut roots: HashMap<&str, Vec<&str>> = HashMap::new();
    for file in requested {
        roots
            .entry(file.descriptor.package())
            .or_default()
            .push(file.name());
    }
    let with_services = |package: &&str| {
        requested.iter().any(|file| {
            file.descriptor.package() == *package && !file.descriptor.service.is_empty()
        })
    };
    let canonical = Canonical::new(files, comments);
    roots
        .into_iter()
        .filter(|(package, _)| with_services(package))
        .map(|(package, roots)| {
            let ordered = with_imports(&by_name, &roots)?;
            let raw = ordered
                .iter()
                .map(|file| canonical.bytes(file))
                .collect::<Result<Vec<_>, _>>()?;
            let set = descriptor::encode_file_descriptor_set(raw.iter().map(Vec::as_slice));
            Ok((package.to_owned(), set))
        })
        .collect()
}

/// `roots` and their transitive imports, each file after the files it imports.
fn with_imports<'a>(
    by_name: &HashMap<&str, &'a ProtoFile>,
    roots: &[&str],
) -> Result<Vec<&'a ProtoFile>, Error> {
    let mut ordered = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        visit(by_name, root, &mut seen, &mut ordered)?;
    }
    Ok(ordered)
}

fn visit<'a>(
    by_name: &HashMap<&str, &'a ProtoFile>,
    name: &str,
    seen: &mut HashSet<String>,
    ordered: &mut Vec<&'a ProtoFile>,
) -> Result<(), Error> {
    if !seen.insert(name.to_owned()) {
        return Ok(());
    }
    let file = by_name.get(name).ok_or_else(|| {
        Error::new(format!(
            "`{name}` is imported but missing from the request; pass its include path"
        ))
    })?;
    for dependency in &file.descriptor.dependency {
        visit(by_name, dependency, seen, ordered)?;
    }
    ordered.push(file);
    Ok(())
}
