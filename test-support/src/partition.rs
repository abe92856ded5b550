//! Network partitions made with the kernel's packet filter (iptables), inside a test's own
//! network namespace: every connection of a process that is cut off is blackholed (its packets
//! dropped, not refused, so peers hang as they do behind a real partition) until it is healed.
//!
//! Processes on one loopback are told apart by group id: each runs under a group of its own,
//! and conntrack marks (`CONNMARK`) every connection on which a process of that group sent a
//! packet, whichever end dialed. On loopback every packet passes the OUTPUT chain, so dropping
//! a group's marked connections there cuts it off in both directions.

use std::path::PathBuf;
use std::process::Command;

use crate::{in_network_namespace, tool};

/// The first group id given to processes a test may cut off (well above distributions' own).
const FIRST_GROUP: u32 = 61_000;

/// The namespace's packet filter. Creating one needs a namespace made by
/// [`run_in_privileged_network_namespace`](crate::run_in_privileged_network_namespace).
pub(crate) struct Firewall {
    iptables: PathBuf,
}

/// The group id process number `index` runs under, so that it can be cut off.
pub(crate) fn group(index: usize) -> u32 {
    FIRST_GROUP + u32::try_from(index).expect("a small index")
}

impl Firewall {
    /// The packet filter (`MICRO_TEST_IPTABLES_BIN`, or `iptables` on PATH); `None` when
    /// iptables is not installed and tools are not required.
    pub(crate) fn new() -> Option<Firewall> {
        assert!(
            in_network_namespace(),
            "partitions filter packets: run the test in its own namespace \
             (run_in_privileged_network_namespace), not on the machine's network"
        );
        let iptables = tool("MICRO_TEST_IPTABLES_BIN", "iptables")?;
        Some(Firewall { iptables })
    }

    /// Marks every connection a process of `group` takes part in, from now on, so that
    /// [`cut_off`](Self::cut_off) can drop it, except those on `reachable` (a port the test
    /// observes the process through, as over a management network). Idempotent.
    pub(crate) fn track(&self, group: u32, reachable: u16) {
        let mark = format!("OUTPUT -m owner --gid-owner {group} -j CONNMARK --set-mark {group}");
        if !self.try_run(&format!("-t mangle -C {mark}")) {
            self.run(&format!("-t mangle -A {mark}"));
        }
        // The chain a cut-off group's packets jump to; it may exist from an earlier attempt.
        let chain = chain(group);
        self.try_run(&format!("-N {chain}"));
        self.run(&format!("-F {chain}"));
        self.run(&format!("-A {chain} -p tcp --sport {reachable} -j RETURN"));
        self.run(&format!("-A {chain} -p tcp --dport {reachable} -j RETURN"));
        self.run(&format!("-A {chain} -j DROP"));
    }

    /// Drops every packet of every connection `group` (tracked) takes part in.
    pub(crate) fn cut_off(&self, group: u32) {
        self.run(&format!("-A {}", jump(group)));
    }

    /// Lets `group`'s packets through again.
    pub(crate) fn heal(&self, group: u32) {
        self.run(&format!("-D {}", jump(group)));
    }

    fn run(&self, rule: &str) {
        assert!(self.try_run(rule), "iptables {rule} failed");
    }

    /// Runs `iptables <rule>` (words split on spaces), quietly; whether it succeeded.
    fn try_run(&self, rule: &str) -> bool {
        Command::new(&self.iptables)
            .args(["-w", "5"])
            .args(rule.split_whitespace())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|err| panic!("{} does not run: {err}", self.iptables.display()))
            .success()
    }
}

fn chain(group: u32) -> String {
    format!("micro-cut-{group}")
}

/// The OUTPUT rule that sends `group`'s marked connections to its chain.
fn jump(group: u32) -> String {
    format!("OUTPUT -m connmark --mark {group} -j {}", chain(group))
}
