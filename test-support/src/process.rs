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
    /// Runs `command` (output discarded) and waits until `ready` holds; `None` if the process
    /// exited first (say, another process took its port between our choosing and its binding).
    pub(crate) fn try_start(
        name: &'static str,
        command: impl Fn() -> Command + 'static,
        ready: impl Fn() -> bool + 'static,
    ) -> Option<Process> {
        let mut process = Process {
            name,
            command: Box::new(command),
            ready: Box::new(ready),
            child: None,
        };
        process.launch().then_some(process)
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
        assert!(self.launch(), "{} exited while restarting", self.name);
    }

    /// Starts the process and waits until it is ready (`true`) or has exited (`false`).
    fn launch(&mut self) -> bool {
        let child = (self.command)()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{} does not start: {err}", self.name));
        self.child = Some(child);
        let mut exited = false;
        wait_until(&format!("{} to be ready", self.name), READY_WITHIN, || {
            exited = self
                .child
                .as_mut()
                .is_none_or(|child| child.try_wait().is_ok_and(|status| status.is_some()));
            exited || (self.ready)()
        });
        !exited
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
