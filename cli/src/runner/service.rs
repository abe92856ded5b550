//! One service under `micro run`: built, started with its output prefixed by its name,
//! stopped gracefully, and restarted after a rebuild.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::output::outln;

use super::config::ServiceSpec;

/// How long a service has to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// A service and its running process, if any.
pub(super) struct Supervised {
    pub(super) spec: ServiceSpec,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Supervised {
    /// `spec`, to be run with the variables `env`.
    pub(super) fn new(spec: ServiceSpec, env: Vec<(String, String)>) -> Supervised {
        Supervised {
            spec,
            env,
            child: None,
        }
    }

    /// Builds the service and starts it; on a failed build the running process (if any) is
    /// left alone.
    pub(super) async fn build_and_start(&mut self) -> anyhow::Result<()> {
        let program = self.build().await?;
        self.stop().await;
        self.start(program)
    }

    /// What to run: the `run` command, or the binary cargo built.
    async fn build(&self) -> anyhow::Result<Program> {
        let name = &self.spec.name;
        log(name, "building");
        if let Some(build) = &self.spec.build {
            let status = shell(build)
                .current_dir(&self.spec.path)
                .status()
                .await
                .with_context(|| format!("cannot run `{build}`"))?;
            if !status.success() {
                bail!("`{build}` failed ({status})");
            }
        }
        if let Some(run) = &self.spec.run {
            return Ok(Program::Shell(run.clone()));
        }
        if self.spec.build.is_some() {
            bail!("a service with a `build` command needs a `run` command too");
        }
        cargo_build(&self.spec).await.map(Program::Binary)
    }

    fn start(&mut self, program: Program) -> anyhow::Result<()> {
        let mut command = match &program {
            Program::Binary(path) => Command::new(path),
            Program::Shell(line) => shell(line),
        };
        command
            .current_dir(&self.spec.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(port) = self.spec.port {
            command.env("MICRO_SERVER_ADDRESS", format!("127.0.0.1:{port}"));
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", program.describe()))?;
        let name = self.spec.name.clone();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(prefix_lines(out, name.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(prefix_lines(err, name.clone(), true));
        }
        log(&name, &format!("started (pid {})", child.id().unwrap_or(0)));
        self.child = Some(child);
        Ok(())
    }

    /// The process's exit status, once, if it has exited on its own.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }

    /// Whether a process of the service is running.
    pub(super) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the process: SIGTERM, then SIGKILL after [`GRACE`].
    pub(super) async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(GRACE, child.wait()).await {
            Ok(_) => log(&self.spec.name, "stopped"),
            Err(_) => {
                let _ = child.kill().await;
                log(
                    &self.spec.name,
                    "killed: it did not stop within 5 s of SIGTERM",
                );
            }
        }
    }
}

enum Program {
    Binary(PathBuf),
    Shell(String),
}

impl Program {
    fn describe(&self) -> String {
        match self {
            Program::Binary(path) => path.display().to_string(),
            Program::Shell(line) => format!("`{line}`"),
        }
    }
}

fn shell(line: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", line]);
    command
}

/// `cargo build` in the service's directory; the binary it built, from cargo's JSON messages
/// (diagnostics are shown as cargo renders them).
async fn cargo_build(spec: &ServiceSpec) -> anyhow::Result<PathBuf> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--message-format", "json-render-diagnostics"])
        .current_dir(&spec.path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("cannot run cargo: is it installed and on PATH?")?;
    if !output.status.success() {
        bail!("cargo build failed; fix the errors above and save again");
    }
    let manifest = spec.path.join("Cargo.toml").canonicalize().ok();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            let built = message["manifest_path"].as_str().map(PathBuf::from);
            manifest.is_none() || built == manifest
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no binary in {}", spec.path.display()))
}

/// Copies `stream` to this process's stdout (or stderr) line by line, prefixed `[name] `.
async fn prefix_lines(stream: impl AsyncRead + Unpin, name: String, to_stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match to_stderr {
            true => eprintln!("[{name}] {line}"),
            false => outln!("[{name}] {line}"),
        }
    }
}

/// A line from `micro run` itself about `name`.
pub(super) fn log(name: &str, what: &str) {
    eprintln!("micro run: {name}: {what}");
}
