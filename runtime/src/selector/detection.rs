//! How nodes are ejected: the rules of gRPC's outlier detection (gRFC A50) and their
//! defaults.

use std::time::Duration;

use crate::Code;

/// How nodes are ejected: gRPC's outlier detection (gRFC A50), plus micro's ejection after
/// consecutive connection failures.
///
/// ```
/// use std::time::Duration;
/// use micro::selector::{FailurePercentageEjection, OutlierDetection};
///
/// let detection = OutlierDetection::default()
///     .interval(Duration::from_secs(1))
///     .failure_percentage(Some(FailurePercentageEjection::default().minimum_hosts(3)));
/// # let _ = detection;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierDetection {
    pub(crate) interval: Duration,
    pub(crate) base_ejection_time: Duration,
    pub(crate) max_ejection_time: Duration,
    pub(crate) max_ejection_percent: u32,
    pub(crate) consecutive_failures: u32,
    pub(crate) success_rate: Option<SuccessRateEjection>,
    pub(crate) failure_percentage: Option<FailurePercentageEjection>,
    pub(crate) failure_codes: Vec<Code>,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        OutlierDetection {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            consecutive_failures: 3,
            success_rate: Some(SuccessRateEjection::default()),
            failure_percentage: None,
            failure_codes: vec![
                Code::Unavailable,
                Code::Internal,
                Code::Unknown,
                Code::DataLoss,
                Code::DeadlineExceeded,
            ],
        }
    }
}

impl OutlierDetection {
    /// How often nodes are judged (default 10 s), on the calls of the last interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a node is ejected the first time (default 30 s); the n-th time in a row, n
    /// times as long.
    pub fn base_ejection_time(mut self, time: Duration) -> Self {
        self.base_ejection_time = time;
        self
    }

    /// The longest ejection (default 300 s, or the base time if that is longer).
    pub fn max_ejection_time(mut self, time: Duration) -> Self {
        self.max_ejection_time = time;
        self
    }

    /// The share of nodes, in percent, that may be ejected by success rate or failure
    /// percentage at once (default 10); one node may always be.
    pub fn max_ejection_percent(mut self, percent: u32) -> Self {
        self.max_ejection_percent = percent.min(100);
        self
    }

    /// Consecutive connection failures that eject a node at once (default 3; 0 never).
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = failures;
        self
    }

    /// Ejection by success rate (on by default), or `None`.
    pub fn success_rate(mut self, rule: Option<SuccessRateEjection>) -> Self {
        self.success_rate = rule;
        self
    }

    /// Ejection by failure percentage (off by default), or `None`.
    pub fn failure_percentage(mut self, rule: Option<FailurePercentageEjection>) -> Self {
        self.failure_percentage = rule;
        self
    }

    /// The status codes a node's answer counts as a failure with (default `UNAVAILABLE`,
    /// `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `DEADLINE_EXCEEDED`); connection failures always do.
    pub fn failure_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.failure_codes = codes.into_iter().collect();
        self
    }

    /// How long a node ejected `times` in a row stays out.
    pub(crate) fn ejection_time(&self, times: u32) -> Duration {
        let max = self.max_ejection_time.max(self.base_ejection_time);
        self.base_ejection_time
            .saturating_mul(times.max(1))
            .min(max)
    }
}

/// Ejects nodes whose success rate is below `mean − stdev_factor × stdev` of the nodes'.
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessRateEjection {
    pub(crate) stdev_factor: f64,
    pub(crate) enforcement_percentage: u32,
    pub(crate) minimum_hosts: usize,
    pub(crate) request_volume: u64,
}

impl Default for SuccessRateEjection {
    fn default() -> Self {
        SuccessRateEjection {
            stdev_factor: 1.9,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 100,
        }
    }
}

impl SuccessRateEjection {
    /// How many standard deviations below the mean eject (default 1.9; gRPC's 1900 / 1000).
    pub fn stdev_factor(mut self, factor: f64) -> Self {
        self.stdev_factor = factor;
        self
    }

    /// The chance, in percent, that a node found an outlier is ejected (default 100).
    pub fn enforcement_percentage(mut self, percent: u32) -> Self {
        self.enforcement_percentage = percent.min(100);
        self
    }

    /// Nodes with enough calls needed for the rule to apply (default 5).
    pub fn minimum_hosts(mut self, hosts: usize) -> Self {
        self.minimum_hosts = hosts;
        self
    }

    /// Calls in an interval a node needs to be judged (default 100).
    pub fn request_volume(mut self, calls: u64) -> Self {
        self.request_volume = calls;
        self
    }
}

/// Ejects nodes whose calls fail more than `threshold` percent of the time.
#[derive(Debug, Clone, PartialEq)]
pub struct FailurePercentageEjection {
    pub(crate) threshold: u32,
    pub(crate) enforcement_percentage: u32,
    pub(crate) minimum_hosts: usize,
    pub(crate) request_volume: u64,
}

impl Default for FailurePercentageEjection {
    fn default() -> Self {
        FailurePercentageEjection {
            threshold: 85,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}

impl FailurePercentageEjection {
    /// The failure percentage above which a node is ejected (default 85).
    pub fn threshold(mut self, percent: u32) -> Self {
        self.threshold = percent.min(100);
        self
    }

    /// The chance, in percent, that a node over the threshold is ejected (default 100).
    pub fn enforcement_percentage(mut self, percent: u32) -> Self {
        self.enforcement_percentage = percent.min(100);
        self
    }

    /// Nodes with enough calls needed for the rule to apply (default 5).
    pub fn minimum_hosts(mut self, hosts: usize) -> Self {
        self.minimum_hosts = hosts;
        self
    }

    /// Calls in an interval a node needs to be judged (default 50).
    pub fn request_volume(mut self, calls: u64) -> Self {
        self.request_volume = calls;
        self
    }
}
