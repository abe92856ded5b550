//! A server process a test owns: started from a command, waited on until it is ready, killed
//! (SIGKILL, as a crash) on demand or when dropped.

use std::os::unix::process::CommandExt;
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

    /// Kills the process and every process it started abruptly (SIGKILL to its process
    /// group): a postgres backend outliving its postmaster would go on serving its connection.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
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
        self.spawn();
        self.wait_ready()
    }

    /// Runs `command` without waiting for it to be ready: for members of a cluster, which are
    /// ready only once enough of them run. Wait with [`wait_ready`](Self::wait_ready).
    pub(crate) fn start_unready(
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
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let child = (self.command)()
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{} does not start: {err}", self.name));
        self.child = Some(child);
    }

    /// Waits until the process is ready (`true`) or has exited (`false`).
    pub(crate) fn wait_ready(&mut self) -> bool {
        let mut exited = false;
        wait_until(&format!("{} to be ready", self.name), READY_WITHIN, || {
            exited = self.has_exited();
            exited || (self.ready)()
        });
        !exited
    }

    /// Whether the process has exited, or was killed.
    pub(crate) fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().is_ok_and(|status| status.is_some()))
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process and its children.
    pub(crate) fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running process");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), "--", &format!("-{}", child.id())])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {} failed", self.name);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
