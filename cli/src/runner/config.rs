//! What `micro run` runs: the services of `micro.json` or `micro.mu` (go-micro's formats), or
//! every binary crate found under the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// One service to build, run and watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Its name, for logs and dependencies (the crate's name when discovered).
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// The port it serves on: passed as `MICRO_SERVER_ADDRESS=127.0.0.1:<port>`, and
    /// `/health/ready` there is waited for before its dependents start.
    pub port: Option<u16>,
    /// Services that must be ready first.
    pub depends: Vec<String>,
    /// A shell command that builds it (default: `cargo build`, the binary found from cargo's
    /// output).
    pub build: Option<String>,
    /// A shell command that runs it (default: the binary cargo built).
    pub run: Option<String>,
}

/// The services and the environments of a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// In start order: each after the services it depends on.
    pub services: Vec<ServiceSpec>,
    /// Variables per environment name (`development`, `production`, …).
    pub envs: BTreeMap<String, BTreeMap<String, String>>,
}

/// Reads `dir`'s `micro.mu` or `micro.json`, or finds its crates.
pub fn load(dir: &Path) -> anyhow::Result<Project> {
    let mu = dir.join("micro.mu");
    let json = dir.join("micro.json");
    let project = if mu.is_file() {
        let text = read(&mu)?;
        parse_mu(&text).with_context(|| format!("in {}", mu.display()))?
    } else if json.is_file() {
        let text = read(&json)?;
        parse_json(&text).with_context(|| format!("in {}", json.display()))?
    } else {
        discover(dir)?
    };
    let mut project = project;
    for service in &mut project.services {
        if service.path.is_relative() {
            service.path = dir.join(&service.path);
        }
        if !service.path.is_dir() {
            bail!(
                "service `{}`: its path {} is not a directory",
                service.name,
                service.path.display()
            );
        }
    }
    project.services = start_order(project.services)?;
    Ok(project)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonProject {
    #[serde(default)]
    services: BTreeMap<String, JsonService>,
    #[serde(default)]
    env: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonService {
    path: PathBuf,
    port: Option<u16>,
    #[serde(default)]
    depends: Vec<String>,
    build: Option<String>,
    run: Option<String>,
}

/// go-micro's `micro.json`: `{"services": {name: {path, port, depends}}, "env": {…}}`, plus
/// `build` and `run` commands.
pub(super) fn parse_json(text: &str) -> anyhow::Result<Project> {
    let project: JsonProject = serde_json::from_str(text).context(
        "not a micro.json: {\"services\": {\"<name>\": {\"path\": \"./dir\", \"port\": 8081, \
         \"depends\": [\"<name>\"]}}, \"env\": {\"development\": {\"KEY\": \"value\"}}}",
    )?;
    let services = project
        .services
        .into_iter()
        .map(|(name, service)| ServiceSpec {
            name,
            path: service.path,
            port: service.port,
            depends: service.depends,
            build: service.build,
            run: service.run,
        })
        .collect();
    Ok(Project {
        services,
        envs: project.env,
    })
}

/// go-micro's `micro.mu`: `service <name>` and `env <name>` blocks of indented
/// `key value` lines; `#` starts a comment.
pub(super) fn parse_mu(text: &str) -> anyhow::Result<Project> {
    let mut project = Project::default();
    let mut block: Option<(&str, String)> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", number + 1);
        let indented = line.starts_with([' ', '\t']);
        let (key, value) = split_word(line.trim());
        if !indented {
            block = Some(match key {
                "service" | "env" if !value.is_empty() => (key, value.to_owned()),
                _ => bail!("{}: expected `service <name>` or `env <name>`", at()),
            });
            if key == "service" {
                project.services.push(service_named(value));
            } else {
                project.envs.entry(value.to_owned()).or_default();
            }
            continue;
        }
        match &block {
            Some(("service", _)) => {
                let service = project.services.last_mut().expect("pushed with the block");
                set_service_key(service, key, value).with_context(at)?;
            }
            Some((_, env)) => {
                let env = project.envs.entry(env.clone()).or_default();
                env.insert(key.to_owned(), value.to_owned());
            }
            None => bail!("{}: an indented line outside a block", at()),
        }
    }
    Ok(project)
}

fn split_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((key, value)) => (key, value.trim()),
        None => (line, ""),
    }
}

fn service_named(name: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.to_owned(),
        path: PathBuf::from("."),
        port: None,
        depends: Vec::new(),
        build: None,
        run: None,
    }
}

fn set_service_key(service: &mut ServiceSpec, key: &str, value: &str) -> anyhow::Result<()> {
    match key {
        "path" => service.path = PathBuf::from(value),
        "port" => {
            service.port = Some(
                value
                    .parse()
                    .with_context(|| format!("port `{value}` is not a number"))?,
            )
        }
        "depends" => service
            .depends
            .extend(value.split_whitespace().map(str::to_owned)),
        "build" => service.build = Some(value.to_owned()),
        "run" => service.run = Some(value.to_owned()),
        other => bail!("unknown service key `{other}`; use path, port, depends, build or run"),
    }
    Ok(())
}

/// Every package with a `src/main.rs` under `dir` (`dir` itself included), skipping `target`
/// and hidden directories.
pub(super) fn discover(dir: &Path) -> anyhow::Result<Project> {
    let mut services = Vec::new();
    find_crates(dir, 0, &mut services)?;
    if services.is_empty() {
        bail!(
            "no services in {}: no micro.mu or micro.json, and no crate with src/main.rs \
             (make one with `micro new <name>`)",
            dir.display()
        );
    }
    Ok(Project {
        services,
        envs: BTreeMap::new(),
    })
}

/// How deep crates are looked for below the directory.
const MAX_DEPTH: usize = 4;

fn find_crates(dir: &Path, depth: usize, found: &mut Vec<ServiceSpec>) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() && dir.join("src/main.rs").is_file() {
        let name = package_name(&read(&manifest)?).unwrap_or_else(|| dir_name(dir));
        found.push(ServiceSpec {
            path: dir.to_owned(),
            ..service_named(&name)
        });
    }
    if depth == MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir() && !skipped(path))
        .collect();
    entries.sort();
    for entry in entries {
        find_crates(&entry, depth + 1, found)?;
    }
    Ok(())
}

fn skipped(path: &Path) -> bool {
    let name = dir_name(path);
    name.starts_with('.') || name == "target" || name == "node_modules"
}

fn dir_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `name = "…"` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        let Some(rest) = line.strip_prefix("name") else {
            continue;
        };
        let value = rest.trim_start().strip_prefix('=')?.trim();
        if in_package {
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// `services` ordered so each comes after what it depends on; an unknown dependency or a
/// cycle is an error naming it.
pub(super) fn start_order(services: Vec<ServiceSpec>) -> anyhow::Result<Vec<ServiceSpec>> {
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for service in &services {
        for needed in &service.depends {
            if !names.contains(&needed.as_str()) {
                bail!(
                    "service `{}` depends on `{needed}`, which is not defined",
                    service.name
                );
            }
        }
    }
    let mut ordered: Vec<ServiceSpec> = Vec::new();
    let mut left = services;
    while !left.is_empty() {
        let ready = |service: &ServiceSpec| {
            service
                .depends
                .iter()
                .all(|needed| ordered.iter().any(|done| &done.name == needed))
        };
        let Some(at) = left.iter().position(ready) else {
            let stuck: Vec<&str> = left.iter().map(|s| s.name.as_str()).collect();
            bail!("the dependencies of {} form a cycle", stuck.join(", "));
        };
        ordered.push(left.remove(at));
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MU: &str = "# services
service users
    path ./users
    port 8081

service posts
    path ./posts
    port 8082
    depends users

env development
    STORE_ADDRESS file://./data
    DEBUG true
";

    #[test]
    fn micro_mu_is_read_as_go_micro_writes_it() {
        let project = parse_mu(MU).unwrap();
        assert_eq!(project.services.len(), 2);
        assert_eq!(project.services[1].name, "posts");
        assert_eq!(project.services[1].port, Some(8082));
        assert_eq!(project.services[1].depends, ["users"]);
        assert_eq!(project.envs["development"]["DEBUG"], "true");
        assert_eq!(
            project.envs["development"]["STORE_ADDRESS"],
            "file://./data"
        );
    }

    #[test]
    fn micro_json_is_read_as_go_micro_writes_it() {
        let json = r#"{"services": {"users": {"path": "./users", "port": 8081},
            "posts": {"path": "./posts", "depends": ["users"], "run": "./posts.sh"}},
            "env": {"development": {"DEBUG": "true"}}}"#;
        let project = parse_json(json).unwrap();
        let posts = &project.services[0];
        assert_eq!(
            (posts.name.as_str(), posts.run.as_deref()),
            ("posts", Some("./posts.sh"))
        );
        assert_eq!(project.envs["development"]["DEBUG"], "true");
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse_mu("service a\n    colour red\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        assert!(
            format!("{err:#}").contains("unknown service key `colour`"),
            "{err:#}"
        );
        assert!(parse_mu("    path ./x\n").is_err());
        assert!(parse_json(r#"{"services": {"a": {"paht": "."}}}"#).is_err());
    }

    #[test]
    fn dependencies_start_first_and_cycles_are_refused() {
        let project = parse_mu(MU).unwrap();
        let mut reversed = project.services.clone();
        reversed.reverse();
        let order: Vec<String> = start_order(reversed)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(order, ["users", "posts"]);

        let cycle = parse_mu("service a\n  depends b\nservice b\n  depends a\n").unwrap();
        let err = start_order(cycle.services).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        let missing = parse_mu("service a\n  depends nope\n").unwrap();
        let err = start_order(missing.services).unwrap_err().to_string();
        assert!(err.contains("`nope`"), "{err}");
    }

    #[test]
    fn crates_are_found_by_their_main() {
        let dir = tempfile::tempdir().unwrap();
        for (name, main) in [("users", true), ("shared", false), ("target/x", true)] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.join("src")).unwrap();
            let manifest = format!(
                "[package]\nname = \"{}-svc\"\n\n[dependencies]\nname = 1\n",
                name.replace('/', "-")
            );
            std::fs::write(path.join("Cargo.toml"), manifest).unwrap();
            let file = if main { "src/main.rs" } else { "src/lib.rs" };
            std::fs::write(path.join(file), "").unwrap();
        }
        let project = discover(dir.path()).unwrap();
        let names: Vec<&str> = project.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["users-svc"]);
        assert!(discover(&dir.path().join("shared")).is_err());
    }
}
