//! The one JSON line a load generator prints, the Rust one (`peer-load`) and the Go one
//! (`peers/bench/cmd/loadgen`) alike.

use serde::{Deserialize, Serialize};

/// A load run's outcome: `requests` calls (unary) or messages (streams) in `seconds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) per_second: f64,
    /// Latency of a call (unary), a whole stream (server streaming) or a round trip (bidi).
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// The load generator's own CPU time during the run.
    pub(crate) cpu_seconds: f64,
}
