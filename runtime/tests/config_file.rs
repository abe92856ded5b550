//! Config from files: merge order with defaults and the environment, hot reload of JSON, YAML
//! and TOML files written in place or replaced by rename (as editors do), and broken files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use micro::config::conformance::{self, Fixture};
use micro::config::{BoxFuture, Config, Env, ErrorKind, File, Format, Memory, Source};
use serde::Deserialize;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(10);

/// A config file the suite rewrites, in place or by writing a temporary file and renaming it.
struct FileFixture {
    path: PathBuf,
    format: Format,
    replace: bool,
}

impl FileFixture {
    fn new(dir: &Path, name: &str, replace: bool) -> FileFixture {
        let path = dir.join(name);
        let format = Format::from_path(&path).unwrap();
        FileFixture {
            path,
            format,
            replace,
        }
    }

    fn write(&self, text: &str) {
        if self.replace {
            write_by_rename(&self.path, text);
        } else {
            std::fs::write(&self.path, text).unwrap();
        }
    }
}

/// What editors do: write a temporary file beside the target, then rename it over.
fn write_by_rename(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp~");
    let mut file = std::fs::File::create(&temporary).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.sync_all().unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn render(format: Format, tree: &Value) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(tree).unwrap(),
        Format::Yaml => serde_norway::to_string(tree).unwrap(),
        Format::Toml => toml::to_string(tree).unwrap(),
        _ => unreachable!("the formats of this test"),
    }
}

impl Fixture for FileFixture {
    fn source(&self) -> Box<dyn Source> {
        Box::new(File::new(&self.path))
    }

    fn set<'a>(&'a self, tree: &'a Value) -> BoxFuture<'a, ()> {
        self.write(&render(self.format, tree));
        Box::pin(async {})
    }

    fn corrupt(&self) -> BoxFuture<'_, bool> {
        self.write(match self.format {
            Format::Json => "{\"server\": {\"port\": ",
            Format::Yaml => "server:\n  port: [1, 2\n",
            _ => "[server\nport = = 1\n",
        });
        Box::pin(async { true })
    }
}

#[tokio::test]
async fn json_written_in_place_keeps_the_reload_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(&FileFixture::new(dir.path(), "config.json", false)).await;
}

#[tokio::test]
async fn json_replaced_by_rename_keeps_the_reload_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(&FileFixture::new(dir.path(), "config.json", true)).await;
}

#[tokio::test]
async fn yaml_keeps_the_reload_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(&FileFixture::new(dir.path(), "config.yaml", true)).await;
}

#[tokio::test]
async fn toml_keeps_the_reload_contract() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(&FileFixture::new(dir.path(), "config.toml", false)).await;
}

const DEFAULTS: &str = r#"{"server": {"port": 8080, "name": "default", "timeout": 30}}"#;
const FILE: &str =
    r#"{"server": {"port": 8081, "name": "from-file"}, "database": {"address": "file-db"}}"#;

#[tokio::test]
async fn defaults_then_file_then_env_later_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, FILE).unwrap();
    let defaults = || Memory::new(serde_json::from_str(DEFAULTS).unwrap());
    let env = || {
        Env::new()
            .strip_prefix("MICRO")
            .vars([("MICRO_SERVER_PORT", "9090"), ("OTHER_PORT", "1")])
    };

    let config = Config::builder()
        .source(defaults())
        .source(File::new(&path))
        .source(env())
        .build()
        .await
        .unwrap();
    assert_eq!(config.get::<u16>("server.port").unwrap(), 9090, "env wins");
    assert_eq!(config.get::<String>("server.name").unwrap(), "from-file");
    assert_eq!(
        config.get::<u64>("server.timeout").unwrap(),
        30,
        "defaults fill in"
    );
    assert_eq!(config.get::<String>("database.address").unwrap(), "file-db");
    assert!(
        config.get::<Value>("other").is_err(),
        "the prefix filter drops OTHER_*"
    );

    #[derive(Deserialize, Debug, PartialEq)]
    struct Server {
        port: u16,
        name: String,
        timeout: u64,
    }
    #[derive(Deserialize)]
    struct All {
        server: Server,
    }
    let expected = Server {
        port: 9090,
        name: "from-file".into(),
        timeout: 30,
    };
    assert_eq!(config.scan::<All>().unwrap().server, expected);
    assert_eq!(config.get::<Server>("server").unwrap(), expected);

    let reversed = Config::builder()
        .source(defaults())
        .source(env())
        .source(File::new(&path))
        .build()
        .await
        .unwrap();
    assert_eq!(
        reversed.get::<u16>("server.port").unwrap(),
        8081,
        "the file now wins"
    );
}

/// The environment of a real process: this test runs itself again with variables set.
#[test]
fn env_of_the_process_is_read() {
    if std::env::var_os("MICRO_CONFIG_TEST_CHILD").is_some() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = runtime
            .block_on(
                Config::builder()
                    .source(Env::new().strip_prefix("MICRO"))
                    .build(),
            )
            .unwrap();
        assert_eq!(config.get::<u16>("server.port").unwrap(), 9191);
        assert!(config.get::<bool>("database.tls").unwrap());
        assert_eq!(config.get::<String>("database.address").unwrap(), "db:5432");
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_of_the_process_is_read", "--test-threads=1"])
        .env("MICRO_CONFIG_TEST_CHILD", "1")
        .env("MICRO_SERVER_PORT", "9191")
        .env("MICRO_DATABASE_TLS", "true")
        .env("MICRO_DATABASE_ADDRESS", "db:5432")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the child test failed: {stdout}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
}

#[tokio::test]
async fn typed_access_errors_name_the_path_and_type() {
    let config = Config::builder()
        .source(Memory::new(
            json!({"server": {"port": "http", "host": "h"}}),
        ))
        .build()
        .await
        .unwrap();
    let missing = config.get::<u16>("server.timeout").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(
        missing.to_string().contains("\"server.timeout\""),
        "{missing}"
    );
    let wrong = config.get::<u16>("server.port").unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::WrongType);
    assert!(
        wrong.to_string().contains("\"server.port\"") && wrong.to_string().contains("u16"),
        "{wrong}"
    );
    assert_eq!(config.get_or("server.timeout", 30u32), 30);
    assert_eq!(
        config.get_or("server.port", 8080u16),
        8080,
        "wrong type falls back too"
    );
    assert_eq!(config.get_or("server.host", String::new()), "h");
}

#[tokio::test]
async fn missing_and_unknown_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.yaml");
    let err = Config::builder()
        .source(File::new(&missing))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let ini = dir.path().join("config.ini");
    std::fs::write(&ini, "a=1").unwrap();
    let err = Config::builder()
        .source(File::new(&ini))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains(".yaml"), "{err}");
    let config = Config::builder()
        .source(File::new(&ini).format(Format::Toml))
        .build()
        .await
        .unwrap();
    assert_eq!(
        config.get::<i64>("a").unwrap(),
        1,
        "an explicit format wins"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"a\": [1,").unwrap();
    let err = Config::builder()
        .source(File::new(&broken))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("broken.json") && err.to_string().contains("JSON"),
        "{err}"
    );
}

/// Every log line of this test binary (a global subscriber: a scoped one misses events whose
/// callsites other test threads registered first).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_broken_file_is_logged_with_its_name_and_error_and_the_last_good_stays() {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(|| Captured)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.yaml");
    std::fs::write(&path, "server:\n  port: 1\n").unwrap();
    let config = Config::builder()
        .source(File::new(&path))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("server.port");

    write_by_rename(&path, "server:\n  port: [oops\n");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while config.last_error().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broken file was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        config.get::<u16>("server.port").unwrap(),
        1,
        "the last good config stays"
    );
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    let logged = logs
        .lines()
        .find(|line| line.contains("app.yaml"))
        .unwrap_or_default();
    assert!(
        logged.contains("ERROR") && logged.contains("YAML"),
        "{logs}"
    );
    assert!(logged.contains("keeping the last good config"), "{logs}");

    write_by_rename(&path, "server:\n  port: 2\n");
    let next = tokio::time::timeout(DEADLINE, port.next_as::<u16>()).await;
    assert_eq!(
        next.unwrap().unwrap(),
        2,
        "the next good change is applied, and nothing before it"
    );
    assert_eq!(config.last_error(), None);
}

#[tokio::test]
async fn a_deleted_file_keeps_the_last_good_until_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "port = 1\n").unwrap();
    let config = Config::builder()
        .source(File::new(&path))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("port");
    std::fs::remove_file(&path).unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while config.last_error().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deletion was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(config.last_error().unwrap().contains("config.toml"));
    assert_eq!(config.get::<u16>("port").unwrap(), 1);
    std::fs::write(&path, "port = 2\n").unwrap();
    let next = tokio::time::timeout(DEADLINE, port.next()).await;
    assert_eq!(next.unwrap().unwrap(), json!(2));
}

#[tokio::test]
async fn without_watching_changes_apply_only_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, r#"{"port": 1}"#).unwrap();
    let config = Config::builder()
        .source(File::new(&path))
        .watch(false)
        .build()
        .await
        .unwrap();
    std::fs::write(&path, r#"{"port": 2}"#).unwrap();
    assert_eq!(config.get::<u16>("port").unwrap(), 1);
    config.reload().await.unwrap();
    assert_eq!(config.get::<u16>("port").unwrap(), 2);
    std::fs::write(&path, "{").unwrap();
    assert_eq!(
        config.reload().await.unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(
        config.get::<u16>("port").unwrap(),
        2,
        "a failed reload keeps the last good"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_file_reloads_when_its_target_changes() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("config.json"), r#"{"port": 1}"#).unwrap();
    let link = dir.path().join("config.json");
    std::os::unix::fs::symlink(real.join("config.json"), &link).unwrap();
    let config = Config::builder()
        .source(File::new(&link))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("port");
    write_by_rename(&real.join("config.json"), r#"{"port": 2}"#);
    let next = tokio::time::timeout(DEADLINE, port.next()).await;
    assert_eq!(next.unwrap().unwrap(), json!(2));
}

/// A Kubernetes ConfigMap volume: `config.yaml -> ..data/config.yaml`, `..data -> ..v1`, and an
/// update swaps `..data` to a new directory by renaming a new link over it.
#[cfg(unix)]
#[tokio::test]
async fn a_kubernetes_style_volume_reloads_when_data_is_swapped() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let version = |name: &str, text: &str| {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("config.yaml"), text).unwrap();
    };
    version("..v1", "port: 1\n");
    symlink("..v1", dir.path().join("..data")).unwrap();
    symlink("..data/config.yaml", dir.path().join("config.yaml")).unwrap();
    let path = dir.path().join("config.yaml");
    let config = Config::builder()
        .source(File::new(&path))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("port");

    version("..v2", "port: 2\n");
    symlink("..v2", dir.path().join("..data_tmp")).unwrap();
    std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
    std::fs::remove_dir_all(dir.path().join("..v1")).unwrap();
    let next = tokio::time::timeout(DEADLINE, port.next()).await;
    assert_eq!(next.unwrap().unwrap(), json!(2));
}

/// 40 writes 5 ms apart are one burst: read once it is quiet, not once per write.
#[tokio::test]
async fn a_burst_of_writes_is_read_once_it_settles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, r#"{"port": 0}"#).unwrap();
    let config = Config::builder()
        .source(File::new(&path))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("port");
    let before = config.version();
    for value in 1..=40 {
        std::fs::write(&path, format!(r#"{{"port": {value}}}"#)).unwrap();
        // Pacing the writes, well under the quiet period; not waiting for anything.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while port.current() != Some(json!(40)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            tokio::time::timeout(left, port.next()).await.is_ok(),
            "40 never arrived"
        );
    }
    let reloads = config.version() - before;
    assert!(
        reloads <= 10,
        "{reloads} reloads for one burst of 40 writes"
    );
}

/// A service's config: its defaults, then each `--config` source in order; a bad source is a
/// clear error naming it.
#[tokio::test]
async fn a_service_config_comes_from_defaults_and_config_flags() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let dir = tempfile::tempdir().unwrap();
    let (base, local) = (dir.path().join("base.yaml"), dir.path().join("local.toml"));
    std::fs::write(&base, "db:\n  host: db.internal\n  port: 5432\n").unwrap();
    std::fs::write(&local, "[db]\nport = 6432\n").unwrap();
    let (base, local) = (base.to_str().unwrap(), local.to_str().unwrap());
    let args = ["billing", "--config", base, "--config", local];
    let service = micro::Service::new("billing")
        .config_defaults(json!({"db": {"host": "localhost", "pool": 8}}))
        .flags(Cli::parse_from(args).micro);
    let config = service.config().await.unwrap();
    assert_eq!(
        config.get::<Value>("db").unwrap(),
        json!({"host": "db.internal", "port": 6432, "pool": 8})
    );

    let missing = dir.path().join("missing.json");
    let args = ["billing", "--config", missing.to_str().unwrap()];
    let service = micro::Service::new("billing").flags(Cli::parse_from(args).micro);
    let err = service.config().await.unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}
