//! Running the three front ends over a set of protos: micro-build, protoc with the plugin, and
//! `buf generate` with the plugin.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use micro_test_support::tool;

/// The corpus crate's directory, read when the test runs (a compiled-in path goes stale when
/// the target dir outlives the checkout).
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR for tests")
        .into()
}

/// The `protoc-gen-micro` binary of this checkout, built (or found up to date) once per test
/// process: `cargo test -p micro-corpus` alone does not rebuild it.
pub fn plugin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "protoc-gen-micro",
                    "--bin",
                    "protoc-gen-micro",
                ])
                .status()
                .unwrap();
            assert!(status.success(), "building protoc-gen-micro failed");
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap();
            dir.join("protoc-gen-micro")
        })
        .clone()
}

/// Every file under `dir` (recursively), by path relative to it, with its content.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Asserts two generated trees hold the same files, byte for byte.
#[track_caller]
pub fn assert_same_tree(what: &str, expected: &Path, actual: &Path) {
    let (expected, actual) = (read_tree(expected), read_tree(actual));
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "{what}: not the same files"
    );
    let differing: Vec<&String> = expected
        .iter()
        .filter(|(name, content)| actual.get(*name) != Some(*content))
        .map(|(name, _)| name)
        .collect();
    assert!(differing.is_empty(), "{what}: {differing:?} differ");
    assert!(!expected.is_empty(), "{what}: nothing was generated");
}

/// Runs protoc with the plugin over `files` (paths under `include`), into `out`.
pub fn protoc(protoc: &Path, include: &Path, files: &[String], out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).unwrap();
    let output = Command::new(protoc)
        .arg(format!("--plugin=protoc-gen-micro={}", plugin().display()))
        .arg(format!("--micro_out={}", out.display()))
        .arg("--micro_opt=include_file=_includes.rs")
        .arg("-I")
        .arg(include)
        .args(files)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Runs `buf generate` with the plugin over the module in `module`, into `out`.
pub fn buf_generate(buf: &Path, module: &Path, out: &Path) {
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("buf.gen.yaml");
    // `strategy: all`: one plugin run for every directory, so one include file covers them.
    std::fs::write(
        &template,
        format!(
            "version: v2\nplugins:\n  - local: {}\n    out: {}\n    opt: include_file=_includes.rs\n    strategy: all\n",
            plugin().display(),
            out.display()
        ),
    )
    .unwrap();
    let output = Command::new(buf)
        .current_dir(work.path())
        .env("BUF_CACHE_DIR", work.path().join("cache"))
        .arg("generate")
        .arg(module)
        .arg("--template")
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
