//! Generator options: parsed from `--micro_opt` or set by `micro-build`'s builder.

use crate::Error;

/// What to generate and how to map proto paths to Rust.
///
/// From protoc, options arrive comma separated in `--micro_opt` (or buf's `opt:`); see
/// [`Options::parse`] for the syntax.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Generate `<Svc>Client` stubs (`no_client` turns this off).
    pub client: bool,
    /// Generate `<Svc>Handler` traits and `<Svc>Server` adapters (`no_server` turns this off).
    pub server: bool,
    /// Keep the comments on messages, fields, enums, services and methods in the embedded
    /// descriptors, which serve them over reflection (`no_comments` turns this off).
    pub comments: bool,
    /// Proto paths whose types live in another crate: (`.pkg`, `::rust::path`).
    pub extern_paths: Vec<(String, String)>,
    /// Proto paths whose `bytes` fields become `bytes::Bytes`.
    pub bytes: Vec<String>,
    /// Proto paths whose `map` fields become `BTreeMap`.
    pub btree_map: Vec<String>,
    /// Attributes added to generated types: (proto path, attribute).
    pub type_attributes: Vec<(String, String)>,
    /// Attributes added to generated fields: (proto path, attribute).
    pub field_attributes: Vec<(String, String)>,
    /// Also write a file with this name that nests every generated package in `pub mod`s.
    pub include_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client: true,
            server: true,
            comments: true,
            extern_paths: Vec::new(),
            bytes: Vec::new(),
            btree_map: Vec::new(),
            type_attributes: Vec::new(),
            field_attributes: Vec::new(),
            include_file: None,
        }
    }
}

/// Every option `parse` accepts, for error messages.
const SUPPORTED: &str = "no_client, no_server, no_comments, extern_path=.pkg=::rust::path, bytes=.path, \
                         btree_map=.path, type_attribute=.path=#[attr], \
                         field_attribute=.path=#[attr], include_file=name.rs";

impl Options {
    /// Parses protoc's plugin parameter, e.g. `no_client,extern_path=.common=::common`.
    ///
    /// Options are separated by commas; write `\,` for a comma inside a value (as in
    /// `type_attribute=.pkg.Msg=#[derive(Eq\, Hash)]`).
    pub fn parse(parameter: &str) -> Result<Options, Error> {
        let mut options = Options::default();
        for option in split_unescaped(parameter) {
            let option = option.trim();
            if option.is_empty() {
                continue;
            }
            options.apply(option)?;
        }
        Ok(options)
    }

    fn apply(&mut self, option: &str) -> Result<(), Error> {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        match (name, value) {
            ("no_client", None) => self.client = false,
            ("no_server", None) => self.server = false,
            ("no_comments", None) => self.comments = false,
            ("extern_path", Some(value)) => self.extern_paths.push(path_pair(option, value)?),
            ("type_attribute", Some(value)) => self.type_attributes.push(path_pair(option, value)?),
            ("field_attribute", Some(value)) => {
                self.field_attributes.push(path_pair(option, value)?)
            }
            ("bytes", Some(value)) => self.bytes.push(value.to_owned()),
            ("btree_map", Some(value)) => self.btree_map.push(value.to_owned()),
            ("include_file", Some(value)) if is_file_name(value) => {
                self.include_file = Some(value.to_owned())
            }
            ("include_file", Some(value)) => {
                return Err(Error::new(format!(
                    "option `include_file={value}`: expected a file name ending in `.rs`"
                )));
            }
            ("no_client" | "no_server" | "no_comments", Some(_)) => {
                return Err(Error::new(format!(
                    "option `{name}` takes no value, got `{option}`"
                )));
            }
            (
                "extern_path" | "type_attribute" | "field_attribute" | "bytes" | "btree_map"
                | "include_file",
                None,
            ) => {
                return Err(Error::new(format!(
                    "option `{name}` needs a value (`{name}=...`)"
                )));
            }
            _ => {
                return Err(Error::new(format!(
                    "unknown option `{option}`; supported options: {SUPPORTED}"
                )));
            }
        }
        Ok(())
    }
}

impl Options {
    /// Checks that attributes and extern paths are Rust, which prost-build pastes into the
    /// output unchecked.
    pub(crate) fn check(&self) -> Result<(), Error> {
        use syn::parse::Parser;
        let attributes = self
            .type_attributes
            .iter()
            .map(|pair| ("type_attribute", pair))
            .chain(
                self.field_attributes
                    .iter()
                    .map(|pair| ("field_attribute", pair)),
            );
        for (option, (path, attribute)) in attributes {
            syn::Attribute::parse_outer
                .parse_str(attribute)
                .map_err(|err| {
                    Error::new(format!(
                        "option `{option}={path}={attribute}`: `{attribute}` is not a Rust \
                         attribute ({err}); write it as in Rust source, e.g. \
                         `#[derive(Eq, Hash)]`"
                    ))
                })?;
        }
        for (proto_path, rust_path) in &self.extern_paths {
            if !proto_path.starts_with('.') {
                return Err(Error::new(format!(
                    "option `extern_path={proto_path}={rust_path}`: the proto path must be \
                     fully qualified, starting with `.` (e.g. `.common`)"
                )));
            }
            syn::parse_str::<syn::Path>(rust_path).map_err(|err| {
                Error::new(format!(
                    "option `extern_path={proto_path}={rust_path}`: `{rust_path}` is not a Rust \
                     path ({err}); write e.g. `::common_protos`"
                ))
            })?;
        }
        Ok(())
    }
}

/// Splits `.proto.path=value` for options that map a proto path to something.
fn path_pair(option: &str, value: &str) -> Result<(String, String), Error> {
    match value.split_once('=') {
        Some((path, target)) if !path.is_empty() && !target.is_empty() => {
            Ok((path.to_owned(), target.to_owned()))
        }
        _ => Err(Error::new(format!(
            "option `{option}`: expected `.proto.path=value` after the first `=`"
        ))),
    }
}

fn is_file_name(value: &str) -> bool {
    value.ends_with(".rs") && !value.contains('/') && !value.contains('\\')
}

/// Splits on commas that are not escaped as `\,`, unescaping them.
fn split_unescaped(parameter: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                part.push(',');
            }
            ',' => parts.push(std::mem::take(&mut part)),
            c => part.push(c),
        }
    }
    parts.push(part);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_generate_everything() {
        let options = Options::parse("").unwrap();
        assert!(options.client && options.server && options.comments);
        assert!(options.extern_paths.is_empty());
    }

    #[test]
    fn parses_every_option() {
        let options = Options::parse(
            "no_client, no_server,no_comments,extern_path=.common=::common_types,bytes=.pkg.Blob,\
             btree_map=.,type_attribute=.pkg.Msg=#[derive(Eq\\, Hash)],\
             field_attribute=.pkg.Msg.id=#[serde(skip)],include_file=mod.rs",
        )
        .unwrap();
        assert!(!options.client && !options.server && !options.comments);
        assert_eq!(
            options.extern_paths,
            [(".common".into(), "::common_types".into())]
        );
        assert_eq!(options.bytes, [".pkg.Blob"]);
        assert_eq!(options.btree_map, ["."]);
        assert_eq!(
            options.type_attributes,
            [(".pkg.Msg".into(), "#[derive(Eq, Hash)]".into())]
        );
        assert_eq!(options.field_attributes[0].1, "#[serde(skip)]");
        assert_eq!(options.include_file.as_deref(), Some("mod.rs"));
    }

    #[test]
    fn unknown_option_lists_the_supported_ones() {
        let err = Options::parse("no_clients").unwrap_err().to_string();
        assert!(err.contains("unknown option `no_clients`"), "{err}");
        assert!(err.contains("extern_path=.pkg=::rust::path"), "{err}");
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            "extern_path",
            "extern_path=.pkg",
            "extern_path==::x",
            "no_client=true",
            "no_comments=false",
            "include_file=../x.rs",
            "include_file=mod.txt",
        ] {
            assert!(Options::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
