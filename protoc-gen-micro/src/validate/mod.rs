//! Checks made before generating, so that bad input is a clear error naming the file and item,
//! never a panic inside prost-build nor Rust code that does not compile.

mod rust_names;
mod well_formed;

use crate::descriptor::ProtoFile;
use crate::{Error, Options};

/// Checks the request: every file to generate is present, every file is complete and supported,
/// and the Rust names generated for the requested files are distinct. Returns the requested
/// files once each, ordered by name: a package's output then does not depend on the order the
/// files were listed in, nor on the front end.
pub(crate) fn check<'a>(
    files: &'a [ProtoFile],
    files_to_generate: &[String],
    options: &Options,
) -> Result<Vec<&'a ProtoFile>, Error> {
    let mut requested = files_to_generate
        .iter()
        .map(|name| {
            files
                .iter()
                .find(|file| file.name() == name)
                .ok_or_else(|| {
                    Error::new(format!("file to generate `{name}` is not in the request"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    requested.sort_by_key(|file| file.name());
    requested.dedup_by_key(|file| file.name());
    let types = well_formed::Types::of(files);
    for file in files {
        well_formed::check(file, &types)?;
    }
    rust_names::check(&requested, options)?;
    Ok(requested)
}
