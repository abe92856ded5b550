//! `micro new <name>`: scaffolds a service crate that builds and passes its test as made.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::json;

use crate::cli::NewArgs;

/// The files of a new service: path in the crate, template.
const FILES: [(&str, &str); 8] = [
    ("Cargo.toml", include_str!("Cargo.toml.tmpl")),
    ("build.rs", include_str!("build.rs.tmpl")),
    ("proto/{{name}}.proto", include_str!("proto.tmpl")),
    ("src/lib.rs", include_str!("lib.rs.tmpl")),
    ("src/main.rs", include_str!("main.rs.tmpl")),
    ("tests/{{name}}.rs", include_str!("test.rs.tmpl")),
    ("README.md", include_str!("README.md.tmpl")),
    (".gitignore", include_str!("gitignore.tmpl")),
];

/// Writes the crate and prints what was made and what to run next.
pub(super) fn run(output: crate::Output, args: &NewArgs) -> anyhow::Result<()> {
    validate(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty; pick another --dir",
            dir.display()
        );
    }
    let micro_path = args.micro_path.clone().or_else(checkout);
    let values = Values::new(&args.name, micro_path.as_deref())?;
    let mut written = Vec::new();
    for (path, template) in FILES {
        let path = dir.join(values.fill(path));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, values.fill(template))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path.display().to_string());
    }
    let human = format!(
        "created {} in {}\n\n  cd {}\n  cargo test     # builds and runs its test\n  cargo run      # serves it\n",
        args.name,
        dir.display(),
        dir.display()
    );
    output.print(
        &human,
        &json!({ "name": args.name, "dir": dir, "files": written }),
    );
    Ok(())
}

/// The micro-rs checkout this binary was built from, while it is still there: new crates
/// depend on it by path until micro-rs is published.
fn checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("runtime/Cargo.toml")
        .is_file()
        .then(|| root.to_owned())
}

/// Service names become crate, package and DNS-ish names: lowercase letters, digits and `-`,
/// starting with a letter.
fn validate(name: &str) -> anyhow::Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a valid service name: use lowercase letters, digits and `-`, \
             starting with a letter (e.g. greeter, order-service)"
        );
    }
    Ok(())
}

/// What the templates' `{{…}}` placeholders stand for.
struct Values {
    pairs: Vec<(&'static str, String)>,
}

impl Values {
    fn new(name: &str, micro_path: Option<&Path>) -> anyhow::Result<Values> {
        let version = env!("CARGO_PKG_VERSION");
        let (micro, micro_build) = match micro_path {
            Some(root) => {
                let root = root
                    .canonicalize()
                    .with_context(|| format!("--micro-path {} does not exist", root.display()))?;
                (
                    format!("{{ path = {:?} }}", root.join("runtime")),
                    format!("{{ path = {:?} }}", root.join("build-support")),
                )
            }
            None => (format!("\"{version}\""), format!("\"{version}\"")),
        };
        Ok(Values {
            pairs: vec![
                ("{{name}}", name.to_owned()),
                ("{{crate}}", name.to_snake_case()),
                ("{{package}}", name.to_snake_case()),
                ("{{Service}}", name.to_upper_camel_case()),
                ("{{micro}}", micro),
                ("{{micro_build}}", micro_build),
            ],
        })
    }

    fn fill(&self, template: &str) -> String {
        self.pairs
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(key, value)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["greeter", "order-service", "v2api"] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in ["", "Greeter", "2fast", "order_service", "a b", "../x"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders_become_rust_and_proto_names() {
        let values = Values::new("order-service", None).unwrap();
        assert_eq!(
            values.fill("{{name}} {{crate}} {{package}} {{Service}}"),
            "order-service order_service order_service OrderService"
        );
        assert!(
            values.fill("{{micro}}").starts_with('"'),
            "a version requirement"
        );
    }
}
