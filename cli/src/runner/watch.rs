//! Which service's sources changed: a file watcher over every service directory.

use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Watches `dirs` (recursively); sends the index of the directory a source changed in. Build
/// output (`target/`), hidden files and editors' swap files are not sources. The watch lasts
/// as long as the returned watcher.
pub(super) fn watch(
    dirs: &[PathBuf],
    changed: mpsc::Sender<usize>,
) -> anyhow::Result<RecommendedWatcher> {
    let roots: Vec<PathBuf> = dirs
        .iter()
        .map(|dir| dir.canonicalize().unwrap_or_else(|_| dir.clone()))
        .collect();
    let owners = roots.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return;
        }
        for path in &event.paths {
            let Some(index) = owner(&owners, path) else {
                continue;
            };
            let inside = path.strip_prefix(&owners[index]).unwrap_or(path);
            if is_source(inside) {
                let _ = changed.try_send(index);
            }
        }
    };
    let mut watcher = RecommendedWatcher::new(handler, notify::Config::default())
        .context("cannot watch files for changes; run with --no-watch")?;
    for root in &roots {
        watcher
            .watch(root, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", root.display()))?;
    }
    Ok(watcher)
}

/// The index of the deepest root `path` is under.
fn owner(roots: &[PathBuf], path: &Path) -> Option<usize> {
    roots
        .iter()
        .enumerate()
        .filter(|(_, root)| path.starts_with(root))
        .max_by_key(|(_, root)| root.components().count())
        .map(|(index, _)| index)
}

/// Whether a change to `path` (relative to the service's directory, which may itself be
/// hidden, as temporary directories are) should rebuild: not build output, VCS data, hidden or
/// swap files.
fn is_source(path: &Path) -> bool {
    let hidden_or_built = path.components().any(|part| match part {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            name == "target" || name == "node_modules" || name.starts_with('.')
        }
        _ => false,
    });
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let swap = name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".tmp");
    !hidden_or_built && !swap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_belong_to_the_deepest_service() {
        let roots = [PathBuf::from("/p"), PathBuf::from("/p/users")];
        assert_eq!(owner(&roots, Path::new("/p/users/src/main.rs")), Some(1));
        assert_eq!(owner(&roots, Path::new("/p/posts/src/main.rs")), Some(0));
        assert_eq!(owner(&roots, Path::new("/elsewhere/x.rs")), None);
    }

    #[test]
    fn build_output_and_editor_files_are_not_sources() {
        assert!(is_source(Path::new("src/main.rs")));
        assert!(is_source(Path::new("proto/greeter.proto")));
        assert!(!is_source(Path::new("target/debug/greeter")));
        assert!(!is_source(Path::new(".git/index")));
        assert!(!is_source(Path::new("src/.main.rs.swp")));
        assert!(!is_source(Path::new("src/main.rs~")));
    }
}
