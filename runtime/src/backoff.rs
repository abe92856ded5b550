//! Backoff between retries.

use std::time::Duration;

/// Longest wait go-micro's backoff reaches.
const CAP: Duration = Duration::from_secs(120);

/// go-micro's default backoff before attempt `n` (1-based): `n^e × 100 ms`, so 100 ms, 658 ms,
/// 1.98 s, 4.33 s…, capped at two minutes.
pub(crate) fn go_micro(attempt: u32) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let millis = f64::from(attempt).powf(std::f64::consts::E) * 100.0;
    Duration::from_secs_f64(millis / 1000.0).min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_micros_sequence() {
        let millis: Vec<u128> = (0..5).map(|n| go_micro(n).as_millis()).collect();
        assert_eq!(millis, [0, 100, 658, 1981, 4330]);
        assert_eq!(go_micro(100), CAP);
    }
}
