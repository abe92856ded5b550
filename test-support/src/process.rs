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

    /// Kills the process and every process it started abruptly (SIGKILL to its process group
    /// and to each of its descendants), and returns once they are all gone: a postgres backend
    /// outliving its postmaster would go on serving its connection, and backends leave the
    /// postmaster's process group (`setsid`), so the group alone misses them.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let tree = descendants(child.id());
            let mut targets = vec![format!("-{}", child.id())];
            targets.extend(tree.iter().map(u32::to_string));
            let _ = Command::new("kill")
                .args(["-KILL", "--"])
                .args(&targets)
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            // Bounded and without a panic: this also runs in `drop`, maybe while unwinding.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while tree.iter().any(|&pid| is_running(pid)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
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

/// The processes `pid` started, and theirs, from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| Some((child, stat(child)?.1)))
        .collect();
    let mut tree = Vec::new();
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        for &(child, _) in parents.iter().filter(|(_, ppid)| *ppid == parent) {
            tree.push(child);
            next.push(child);
        }
    }
    tree
}

/// Whether `pid` still runs (a zombie, dead but not yet reaped, does not).
fn is_running(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// `pid`'s state letter and parent, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; the command may hold spaces and parentheses.
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}
