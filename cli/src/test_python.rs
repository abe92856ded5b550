//! Python tools the unit tests run (validators nobody here wrote): found through
//! `MICRO_TEST_PYTHON`, as scripts/test.sh installs them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `MICRO_TEST_PYTHON` (or `python3`) if it can import `module`; `None`, with a note, when it
/// cannot and `MICRO_TEST_REQUIRE_TOOLS` is unset.
pub(crate) fn python_with(module: &str) -> Option<PathBuf> {
    let python = std::env::var_os("MICRO_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let has_it = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if has_it {
        return Some(python);
    }
    assert!(
        std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
        "{} with {module} is required (MICRO_TEST_REQUIRE_TOOLS is set); scripts/test.sh installs it",
        python.display()
    );
    eprintln!("SKIPPED: no Python with {module}; set MICRO_TEST_PYTHON or run scripts/test.sh");
    None
}

/// Runs `command`, killing it (and failing the test) after `limit`.
pub(crate) fn run_within(command: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
