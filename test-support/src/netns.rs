//! Running a test inside a network namespace of its own, with only a loopback interface, so
//! multicast (mDNS) never reaches the machine's network card, and packet filters a test sets
//! (partitions) never touch the machine's own.

use std::process::Command;

/// Set in the environment of a test re-run inside its namespace.
const MARKER: &str = "MICRO_TEST_IN_NETNS";

/// Whether this process runs inside a namespace made by [`run_in_network_namespace`].
pub fn in_network_namespace() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// Re-runs the test `name` of the current test binary inside a new network namespace whose
/// loopback is up and multicast-capable, and fails if it fails. The test itself should start
/// with `if !in_network_namespace() { return run_in_network_namespace("its_name") }`.
///
/// Returns without running it (noting why) when namespaces cannot be created here, unless
/// tools are required (`MICRO_TEST_REQUIRE_TOOLS`).
pub fn run_in_network_namespace(name: &str) {
    let setup = "ip link set lo up && ip link set lo multicast on && ";
    run_in_namespace(name, setup, &["--map-root-user"]);
}

/// Like [`run_in_network_namespace`], but with no interface up at all: a host where multicast
/// cannot work.
pub fn run_in_isolated_network_namespace(name: &str) {
    run_in_namespace(name, "", &["--map-root-user"]);
}

/// Like [`run_in_network_namespace`], but as the real root user rather than root of a user
/// namespace of its own: the test may then filter packets (iptables) *and* run processes under
/// other group ids, which packet filters can tell apart (see `EtcdCluster::start_partitionable`).
/// Skipped (with a note) when not run as root, unless tools are required.
pub fn run_in_privileged_network_namespace(name: &str) {
    run_in_namespace(name, "ip link set lo up && ", &[]);
}

fn run_in_namespace(name: &str, setup: &str, user_namespace: &[&str]) {
    let binary = std::env::current_exe().expect("the test binary's path");
    let script = format!(
        "{setup}exec {} --exact {name} --nocapture --test-threads=1",
        binary.display()
    );
    let output = Command::new("unshare")
        .arg("--net")
        .args(user_namespace)
        .args(["sh", "-c", &script])
        .env(MARKER, "1")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => {
            crate::require_or_skip(&format!(
                "cannot run unshare ({err}); mDNS tests need a network namespace"
            ));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("unshare failed") {
        let need = match user_namespace.is_empty() {
            true => " as root (partition drills filter packets and set group ids: run as root)",
            false => "",
        };
        crate::require_or_skip(&format!(
            "cannot create a network namespace{need}: {stderr}"
        ));
        return;
    }
    assert!(
        output.status.success(),
        "{name} failed inside its network namespace:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run inside its namespace:\n{stdout}\n{stderr}"
    );
    // What the test said (figures, notes), shown with `--nocapture`.
    eprint!("{stderr}");
}
