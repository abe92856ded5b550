//! What the tests that run protoc and buf share.

use std::path::{Path, PathBuf};

pub(crate) fn tests_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("tests")
}

pub(crate) use micro_test_support::tool;

/// The package's directory, read when the test runs: a path compiled in goes stale when a
/// cached target dir outlives the checkout that built it (cargo does not rebuild for a move).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests")
        .into()
}
