//! Running the Python tools unit tests drive (validators nobody here wrote; found with
//! `micro_test_support::python_with`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
