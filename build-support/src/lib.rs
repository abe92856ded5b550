//! Compiles `.proto` files for micro-rs from `build.rs`, with no `protoc` installed.
//!
//! It parses protos with [protox](https://docs.rs/protox) and writes exactly what the
//! `protoc-gen-micro` plugin writes: one `<package>.rs` per proto package in `OUT_DIR`, with
//! prost messages, handler traits, servers, clients and the embedded descriptor set. As with
//! prost-build's `compile_protos`, the files the protos import are generated too (well-known
//! types come from `prost_types`), so list only the files you use. Include a package with
//! `micro::include_proto!("helloworld")`; when packages import each other, nest them with
//! [`Builder::include_file`].
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     micro_build::compile_protos(&["proto/helloworld.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! For options, use the [`Builder`]:
//!
//! ```no_run
//! # fn main() -> Result<(), micro_build::Error> {
//! micro_build::Builder::new()
//!     .client(false)
//!     .extern_path(".common", "::common_protos")
//!     .compile(&["proto/billing.proto"], &["proto", "../shared/proto"])
//! # }
//! ```

mod columns;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use protoc_gen_micro::{GeneratedFile, Options};

/// Compiles `protos` (found under the `includes` directories) into `OUT_DIR` with default
/// options: message types, servers and clients.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    Builder::new().compile(protos, includes)
}

/// Configures code generation; the options mirror `protoc-gen-micro`'s `--micro_opt`s.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    options: Options,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// Default options: message types, servers and clients, written to `OUT_DIR`.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Whether to generate `<Svc>Client`s (default true).
    pub fn client(mut self, enabled: bool) -> Builder {
        self.options.client = enabled;
        self
    }

    /// Whether to generate `<Svc>Handler` traits and `<Svc>Server`s (default true).
    pub fn server(mut self, enabled: bool) -> Builder {
        self.options.server = enabled;
        self
    }

    /// Whether the embedded descriptors keep the `.proto` comments on messages, fields, enums,
    /// services and methods, which reflection then serves (default true).
    pub fn comments(mut self, enabled: bool) -> Builder {
        self.options.comments = enabled;
        self
    }

    /// Uses types from another crate for a proto path, e.g. `(".common", "::common_protos")`.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Builder {
        self.options
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Generates `bytes::Bytes` instead of `Vec<u8>` for `bytes` fields under a proto path.
    pub fn bytes(mut self, proto_path: impl Into<String>) -> Builder {
        self.options.bytes.push(proto_path.into());
        self
    }

    /// Generates `BTreeMap` instead of `HashMap` for `map` fields under a proto path.
    pub fn btree_map(mut self, proto_path: impl Into<String>) -> Builder {
        self.options.btree_map.push(proto_path.into());
        self
    }

    /// Adds an attribute, e.g. `#[derive(serde::Serialize)]`, to types under a proto path.
    pub fn type_attribute(
        mut self,
        proto_path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Builder {
        self.options
            .type_attributes
            .push((proto_path.into(), attribute.into()));
        self
    }

    /// Adds an attribute to the fields under a proto path.
    pub fn field_attribute(
        mut self,
        proto_path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Builder {
        self.options
            .field_attributes
            .push((proto_path.into(), attribute.into()));
        self
    }

    /// Also writes `name`, which nests every generated package in `pub mod`s; include it with
    /// `include!(concat!(env!("OUT_DIR"), "/", name))`.
    pub fn include_file(mut self, name: impl Into<String>) -> Builder {
        self.options.include_file = Some(name.into());
        self
    }

    /// Writes to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Compiles `protos` and writes the generated files. In a build script, it also tells cargo
    /// to rerun when any of the protos or their imports change.
    pub fn compile(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let out_dir = self.target_dir()?;
        let mut compiler = protox::Compiler::new(includes.iter().map(AsRef::as_ref))
            .map_err(|err| Error::proto(&err))?;
        compiler.include_imports(true).include_source_info(true);
        compiler
            .open_files(protos.iter().map(AsRef::as_ref))
            .map_err(|err| Error::proto(&err))?;
        // Like prost-build's `compile_protos`: the imports are generated too, so a user lists
        // only the files with services. Well-known types come from `prost_types` instead.
        let to_generate: Vec<String> = compiler
            .files()
            .map(|file| file.name().to_owned())
            .collect();
        let generated = protoc_gen_micro::generate_from_descriptor_set(
            &descriptor_set(&compiler)?,
            &to_generate,
            &self.options,
        )
        .map_err(|err| Error::new(err.to_string()))?;
        // Only cargo's build scripts get `CARGO_CFG_*` (tests and binaries run by cargo get
        // `CARGO` too, where these lines would be noise).
        if std::env::var_os("CARGO_CFG_TARGET_ARCH").is_some() {
            for path in compiler.files().filter_map(|file| file.path()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        write_files(&out_dir, &generated)
    }

    fn target_dir(&self) -> Result<PathBuf, Error> {
        match (&self.out_dir, std::env::var_os("OUT_DIR")) {
            (Some(dir), _) => Ok(dir.clone()),
            (None, Some(dir)) => Ok(PathBuf::from(dir)),
            (None, None) => Err(Error::new(
                "OUT_DIR is not set: call micro-build from a build script, or set Builder::out_dir",
            )),
        }
    }
}

/// The compiled files' descriptor set, with the columns of spans counted as protoc counts them.
fn descriptor_set(compiler: &protox::Compiler) -> Result<Vec<u8>, Error> {
    let sources: HashMap<&str, &Path> = compiler
        .files()
        .filter_map(|file| Some((file.name(), file.path()?)))
        .collect();
    columns::as_protoc_counts(&compiler.encode_file_descriptor_set(), |name| {
        std::fs::read_to_string(sources.get(name)?).ok()
    })
    .map_err(|err| Error::new(format!("protox wrote a malformed descriptor set: {err}")))
}

/// Writes each file unless it already holds the same content, so unchanged protos do not
/// trigger recompilation.
fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<(), Error> {
    std::fs::create_dir_all(dir)
        .map_err(|err| Error::new(format!("cannot create {}: {err}", dir.display())))?;
    for file in files {
        let path = dir.join(&file.name);
        if std::fs::read(&path).is_ok_and(|existing| existing == file.content.as_bytes()) {
            continue;
        }
        std::fs::write(&path, &file.content)
            .map_err(|err| Error::new(format!("cannot write {}: {err}", path.display())))?;
    }
    Ok(())
}

/// Why protos could not be compiled. For errors in a `.proto`, `Display` starts with
/// `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// Describes a protox error with its location, when it has one.
    fn proto(err: &protox::Error) -> Error {
        use miette::Diagnostic;
        let location = err
            .labels()
            .and_then(|mut labels| labels.next())
            .zip(err.source_code())
            .and_then(|(label, source)| source.read_span(label.inner(), 0, 0).ok())
            .map(|span| (span.line() + 1, span.column() + 1));
        let help = err
            .help()
            .map(|help| format!(" ({help})"))
            .unwrap_or_default();
        match (err.file(), location) {
            (Some(file), Some((line, column))) => {
                Error::new(format!("{file}:{line}:{column}: {err}{help}"))
            }
            (Some(file), None) if !err.to_string().contains(file) => {
                Error::new(format!("{file}: {err}{help}"))
            }
            _ => Error::new(format!("{err}{help}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
