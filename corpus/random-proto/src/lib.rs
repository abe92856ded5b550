//! Random valid `.proto` schemas, for testing a code generator with input nobody wrote by hand.
//!
//! A [`Schema`] is a few packages importing each other, with messages holding every field kind
//! (scalars, enums, messages, well-known types singular, repeated and in maps, oneofs, proto3
//! `optional`, proto2 labels and defaults), nesting and recursion, services with all four kinds
//! of RPC, names that are Rust keywords or odd in case (`HTTPServer`, `self`, `type`), and
//! comments holding code blocks. Its Rust names are distinct, so it should compile.
//!
//! [`Schema::with_clash`] adds one pair of names that become one Rust name; a generator should
//! refuse it with an error that names both.
//!
//! ```
//! let schema = random_proto::Schema::generate(7);
//! assert!(!schema.files.is_empty());
//! assert_eq!(schema, random_proto::Schema::generate(7)); // the seed decides everything
//! ```

mod clash;
mod generate;
mod model;
mod names;
mod write;

pub use clash::Clash;

/// One `.proto` file: its path under the include root and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoFile {
    /// Path under the include root, e.g. `s7/orders/v1/a.proto`.
    pub path: String,
    /// The file's source.
    pub source: String,
    /// Whether the file defines a service.
    pub has_service: bool,
}

/// A set of files that import each other, all under packages starting with `s<seed>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The seed it was generated from.
    pub seed: u64,
    /// Files, each after the files it imports.
    pub files: Vec<ProtoFile>,
}

impl Schema {
    /// The schema of `seed`: the same seed always gives the same schema.
    pub fn generate(seed: u64) -> Schema {
        let model = generate::schema(seed);
        Schema {
            seed,
            files: write::files(&model),
        }
    }

    /// The schema of `seed` plus one file holding a clash (picked by the seed), and what the
    /// clash is.
    pub fn with_clash(seed: u64) -> (Schema, Clash) {
        let mut schema = Schema::generate(seed);
        let clash = Clash::pick(seed);
        schema.files.push(clash.file(seed));
        (schema, clash)
    }

    /// The paths of all files.
    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|file| file.path.clone()).collect()
    }

    /// Writes the files under `root`.
    pub fn write_to(&self, root: &std::path::Path) -> std::io::Result<()> {
        for file in &self.files {
            let path = root.join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, &file.source)?;
        }
        Ok(())
    }
}
