//! A config file (JSON, YAML or TOML) as a source, watched through its directory so that
//! editors which replace the file (write a temporary file, rename it over) are seen too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{BoxFuture, Changes, Error, ErrorKind, Source};

/// How long a file must be quiet after a change before it is read (editors write in bursts).
const DEBOUNCE: Duration = Duration::from_millis(100);

/// A config file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `.json`
    Json,
    /// `.yaml`, `.yml`
    Yaml,
    /// `.toml`
    Toml,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }

    /// `bytes` as a tree, or the parser's error.
    pub fn parse(self, bytes: &[u8]) -> Result<Value, crate::BoxError> {
        Ok(match self {
            Format::Json => serde_json::from_slice(bytes)?,
            Format::Yaml => serde_norway::from_slice(bytes)?,
            Format::Toml => toml::from_str(std::str::from_utf8(bytes)?)?,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        }
    }
}

/// A config file, its format chosen by extension unless set. Watched for changes.
#[derive(Debug, Clone)]
pub struct File {
    path: PathBuf,
    format: Option<Format>,
}

impl File {
    /// The file at `path` (`config.json`, `config.yaml`, `config.toml`).
    pub fn new(path: impl Into<PathBuf>) -> File {
        File {
            path: path.into(),
            format: None,
        }
    }

    /// Reads the file as `format`, whatever its extension.
    pub fn format(mut self, format: Format) -> File {
        self.format = Some(format);
        self
    }

    fn resolved_format(&self) -> Result<Format, Error> {
        self.format
            .or_else(|| Format::from_path(&self.path))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "unknown format of config file {}; name it .json, .yaml, .yml or .toml, \
                         or set File::format",
                        self.path.display()
                    ),
                )
            })
    }

    async fn load(&self) -> Result<Value, Error> {
        let format = self.resolved_format()?;
        let path = self.path.display();
        let read = tokio::task::spawn_blocking({
            let path = self.path.clone();
            move || std::fs::read(path)
        });
        let read = read
            .await
            .unwrap_or_else(|err| Err(std::io::Error::other(err)));
        let bytes = read.map_err(|err| {
            let (kind, hint) = match err.kind() {
                std::io::ErrorKind::NotFound => (ErrorKind::NotFound, "create it or fix the path"),
                _ => (ErrorKind::Unavailable, "check its permissions"),
            };
            let message = format!("cannot read config file {path}: {err}; {hint}");
            Error::new(kind, message).with_source(err)
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // Also what a reader sees between an in-place writer's truncate and its write.
            let what = format!("config file {path}");
            return Err(Error::invalid_data(&what, "the file is empty"));
        }
        let what = format!("config file {path} as {}", format.name());
        match format.parse(&bytes) {
            Ok(tree @ Value::Object(_)) => Ok(tree),
            Ok(other) => Err(Error::invalid_data(
                &what,
                format!("the top level must be a map, not {other}"),
            )),
            Err(err) => Err(Error::invalid_data(&what, err)),
        }
    }

    /// The directories to watch and the file names in them that matter: the file's own, and
    /// its target's when it is a symlink.
    fn watched(&self) -> Result<Vec<(PathBuf, OsString)>, Error> {
        let split = |path: &Path| {
            let name: OsString = path.file_name()?.into();
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => PathBuf::from("."),
            };
            Some((dir, name))
        };
        let own = split(&self.path).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("config file {} has no file name", self.path.display()),
            )
        })?;
        let target = std::fs::canonicalize(&self.path).ok();
        let target = target.as_deref().and_then(split);
        let distinct = target.filter(|target| {
            std::fs::canonicalize(&own.0).ok().as_ref() != Some(&target.0) || *target.1 != *own.1
        });
        Ok([Some(own), distinct].into_iter().flatten().collect())
    }

    /// Watches the file's directory (and its symlink target's); the returned task reads the
    /// file after each burst of changes to it and sends the result, until the receiver is
    /// dropped.
    async fn start_watch(&self) -> Result<Changes, Error> {
        let watched = self.watched()?;
        let names: Vec<OsString> = watched.iter().map(|(_, name)| name.clone()).collect();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let handler = move |event: notify::Result<notify::Event>| {
            let ours = match event {
                Ok(event) => {
                    relevant(&event.kind) && event.paths.iter().any(|path| matters(path, &names))
                }
                // The watcher lost events (queue overflow): read the file to be sure.
                Err(_) => true,
            };
            if ours {
                let _ = events_tx.send(());
            }
        };
        let unwatchable = |dir: &Path, err: notify::Error| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot watch {} for config changes: {err}", dir.display()),
            )
            .with_source(err)
        };
        let mut watcher = RecommendedWatcher::new(handler, notify::Config::default())
            .map_err(|err| unwatchable(&watched[0].0, err))?;
        for (dir, _) in &watched {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|err| unwatchable(dir, err))?;
        }

        // The current content first, read once the watch is in place: a change between
        // read() and watch() is not lost.
        let (changes_tx, changes) = mpsc::channel(1);
        let _ = changes_tx.try_send(self.load().await);
        let file = self.clone();
        tokio::spawn(async move {
            let _watcher = watcher;
            loop {
                tokio::select! {
                    event = events.recv() => if event.is_none() { return },
                    () = changes_tx.closed() => return,
                }
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, events.recv()).await {}
                if changes_tx.send(file.load().await).await.is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(changes)))
    }
}

/// Whether a changed path may change the file: one of its `names`, or a name starting with `..`
/// (Kubernetes volumes switch a `..data` symlink to publish new content).
fn matters(path: &Path, names: &[OsString]) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    names.iter().any(|ours| ours == name)
        || name.to_str().is_some_and(|name| name.starts_with(".."))
}

/// Whether an event may have changed a file's content (our own reads do not count).
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

impl Source for File {
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>> {
        Box::pin(self.load())
    }

    fn watch(&self) -> BoxFuture<'_, Result<Option<Changes>, Error>> {
        Box::pin(async move { self.start_watch().await.map(Some) })
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_by_extension_parse_to_the_same_tree() {
        let expected = json!({"server": {"port": 8080, "tags": ["a", "b"]}, "debug": true});
        let inputs = [
            (
                "c.json",
                r#"{"server": {"port": 8080, "tags": ["a", "b"]}, "debug": true}"#,
            ),
            (
                "c.YAML",
                "server:\n  port: 8080\n  tags: [a, b]\ndebug: true\n",
            ),
            ("c.yml", "server: {port: 8080, tags: [a, b]}\ndebug: true\n"),
            (
                "c.toml",
                "debug = true\n[server]\nport = 8080\ntags = [\"a\", \"b\"]\n",
            ),
        ];
        for (name, text) in inputs {
            let format = Format::from_path(Path::new(name)).unwrap();
            assert_eq!(format.parse(text.as_bytes()).unwrap(), expected, "{name}");
        }
        assert_eq!(Format::from_path(Path::new("c.ini")), None);
        assert_eq!(Format::from_path(Path::new("config")), None);
    }

    #[test]
    fn broken_content_is_an_error_not_a_panic() {
        for (format, text) in [
            (Format::Json, "{\"a\": "),
            (Format::Yaml, "a: [1, 2\n"),
            (Format::Toml, "a = = 1"),
            (Format::Toml, "\u{0}\u{ff}"),
        ] {
            assert!(
                format.parse(text.as_bytes()).is_err(),
                "{format:?} {text:?}"
            );
        }
        assert!(Format::Toml.parse(&[0xff, 0xfe]).is_err());
    }

    /// Found by fuzzing (fuzz/corpus/config/crash-1a9b0d66…): serde_json's default float
    /// parser read `6e69` as 6.0000000000000004e69; config numbers must read exactly.
    #[test]
    fn numbers_read_exactly() {
        for format in [Format::Json, Format::Yaml] {
            let tree = format.parse(b"[6e69, 92e237, 0.1]").unwrap();
            assert_eq!(tree, serde_json::json!([6e69, 92e237, 0.1]), "{format:?}");
        }
    }
}
