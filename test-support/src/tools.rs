//! Finding the programs tests drive.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The tool named by `env` (set by scripts/test.sh), else `name` from PATH; `None`, with a note
/// on stderr, when neither has it and tools are not required.
pub fn tool(env: &str, name: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
    });
    if path.is_none() {
        require_or_skip(&format!(
            "{name} not found; set {env} or run scripts/test.sh"
        ));
    }
    path
}

/// Fails the test when tools are required (`MICRO_TEST_REQUIRE_TOOLS`), otherwise notes on
/// stderr that it was skipped and why.
pub fn require_or_skip(why: &str) {
    assert!(
        std::env::var_os("MICRO_TEST_REQUIRE_TOOLS").is_none(),
        "required by MICRO_TEST_REQUIRE_TOOLS: {why}"
    );
    eprintln!("SKIPPED: {why}");
}

/// `MICRO_TEST_PYTHON` (or `python3` from PATH) if it can `import {modules}` (e.g.
/// `"grpc, grpc_tools"`); `None`, with a note, when it cannot and tools are not required.
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let python = tool("MICRO_TEST_PYTHON", "python3")?;
    let has_them = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if has_them {
        return Some(python);
    }
    require_or_skip(&format!(
        "{} cannot import {modules}; set MICRO_TEST_PYTHON or run scripts/test.sh, which installs them",
        python.display()
    ));
    None
}

/// Runs `command` to its end with its output captured; kills it and fails the test if it takes
/// longer than `limit`.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let pid = child.id().to_string();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|err| panic!("waiting for {command:?}: {err}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("{command:?} did not finish within {limit:?}");
        }
    }
}
