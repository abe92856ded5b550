//! A server process a test owns: started from a command, waited on until it is ready, killed
//! (SIGKILL, as a crash) on demand or when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_until;

/// How long a server may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running (or killed) server process.
pub(crate) struct Process {
    name: &'static str,
    command: Box<dyn Fn() -> Command>,
    ready: Box<dyn Fn() -> bool>,
    child: Option<Child>,
}

impl Process {
    /// Runs `command` (output discarded) and waits until `ready` holds.
    pub(crate) fn start(
        name: &'static str,
        command: impl Fn() -> Command + 'static,
        ready: impl Fn() -> bool + 'static,
    ) -> Process {
        let mut process = Process {
            name,
            command: Box::new(command),
            ready: Box::new(ready),
            child: None,
        };
        process.launch();
        process
    }

    /// Kills the process abruptly (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process if it runs, then starts it again with the same command.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn launch(&mut self) {
        let child = (self.command)()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{} does not start: {err}", self.name));
        self.child = Some(child);
        wait_until(
            &format!("{} to be ready", self.name),
            READY_WITHIN,
            &self.ready,
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
