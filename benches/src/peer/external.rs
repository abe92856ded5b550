//! Load generators nobody here wrote: `h2load` (nghttp2) sending one fixed gRPC request over
//! HTTP/2, and `wrk` sending one fixed Connect JSON request over HTTP/1.1. They check no reply
//! body, only HTTP statuses, so they measure the server alone, with the least client cost.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::report::Report;

/// `Helloworld.Greeting{name: "bench"}` as one uncompressed gRPC frame.
const GRPC_REQUEST: &[u8] = &[0, 0, 0, 0, 7, 0x0a, 5, b'b', b'e', b'n', b'c', b'h'];

/// wrk's script for a Connect JSON unary call.
const WRK_SCRIPT: &str = r#"wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
"#;

/// The files the generators read, in a directory of their own.
pub(crate) struct Inputs {
    dir: PathBuf,
}

impl Inputs {
    pub(crate) fn write() -> anyhow::Result<Inputs> {
        let dir = std::env::temp_dir().join(format!("micro-peers-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("greeting.grpc"), GRPC_REQUEST)?;
        std::fs::write(dir.join("greeting.lua"), WRK_SCRIPT)?;
        Ok(Inputs { dir })
    }

    /// h2load's arguments for `requests` calls over one connection carrying `streams` at once.
    pub(crate) fn h2load(&self, target: &str, streams: u64, requests: u64) -> Vec<String> {
        let body = self.dir.join("greeting.grpc");
        [
            "-n",
            &requests.to_string(),
            "-c",
            "1",
            "-t",
            "1",
            "-m",
            &streams.to_string(),
            "-d",
            &body.to_string_lossy(),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            &format!("http://{target}/helloworld.Helloworld/Greeting"),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// wrk's arguments for `seconds` of calls from `connections` keep-alive connections.
    pub(crate) fn wrk(&self, target: &str, connections: u64, seconds: u64) -> Vec<String> {
        let script = self.dir.join("greeting.lua");
        [
            "-t",
            "1",
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
            &script.to_string_lossy(),
            &format!("http://{target}/helloworld.Helloworld/Greeting"),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sh` arguments running `program arguments`, then printing the CPU time it took (the
/// shell's `times`), so the report can count the generator's CPU as the others do.
pub(crate) fn timed(program: &str, arguments: Vec<String>) -> Vec<String> {
    let script = r#""$@"; status=$?; times; exit $status"#;
    let mut all = ["-c", script, "sh", program].map(str::to_owned).to_vec();
    all.extend(arguments);
    all
}

/// The children's user + system CPU seconds in the last line `times` printed
/// (`0m1.230s 0m0.450s`).
fn children_cpu(output: &str) -> f64 {
    let last = output.lines().rev().find(|line| !line.trim().is_empty());
    last.map_or(f64::NAN, |line| {
        line.split_whitespace()
            .map(|time| {
                let (minutes, seconds) = time.split_once('m').unwrap_or(("0", time));
                let minutes: f64 = minutes.parse().unwrap_or(f64::NAN);
                minutes * 60.0 + duration_seconds(seconds).unwrap_or(f64::NAN)
            })
            .sum()
    })
}

/// Whether `program` runs.
pub(crate) fn available(program: &Path) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// h2load's summary as a report; fails unless every request succeeded.
pub(crate) fn parse_h2load(output: &str) -> anyhow::Result<Report> {
    let cpu_seconds = children_cpu(output);
    let field = |line: &str, prefix: &str| -> Option<String> {
        line.trim().strip_prefix(prefix).map(str::to_owned)
    };
    let finished = output
        .lines()
        .find_map(|line| field(line, "finished in "))
        .ok_or_else(|| anyhow::anyhow!("h2load printed no summary: {output}"))?;
    // "2.50s, 40000.00 req/s, 1.23MB/s"
    let mut parts = finished.split(", ");
    let seconds = parts.next().and_then(duration_seconds);
    let per_second = parts
        .next()
        .and_then(|s| s.strip_suffix(" req/s"))
        .and_then(|s| s.parse::<f64>().ok());
    let requests = output
        .lines()
        .find_map(|line| field(line, "requests: "))
        .ok_or_else(|| anyhow::anyhow!("h2load printed no request counts: {output}"))?;
    // "100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout"
    let count = |what: &str| -> Option<u64> {
        requests
            .split(", ")
            .find_map(|part| part.strip_suffix(what)?.trim().parse().ok())
    };
    let (total, succeeded) = (count(" total"), count(" succeeded"));
    anyhow::ensure!(
        total.is_some() && total == succeeded,
        "h2load: not every request succeeded: {requests}"
    );
    // "time for request:   120us   4.50ms   800us   300us   70.00%"
    let mean = output
        .lines()
        .find_map(|line| field(line, "time for request:"))
        .and_then(|line| line.split_whitespace().nth(2).and_then(duration_seconds));
    match (seconds, per_second) {
        (Some(seconds), Some(per_second)) => Ok(Report {
            requests: total.unwrap_or_default(),
            seconds,
            per_second,
            // h2load gives the mean, not percentiles: reported as p50.
            p50_us: mean.unwrap_or(f64::NAN) * 1e6,
            p99_us: f64::NAN,
            cpu_seconds,
        }),
        _ => anyhow::bail!("h2load's summary did not parse: {finished}"),
    }
}

/// wrk's summary as a report; fails if any reply was not 2xx/3xx or any socket failed.
pub(crate) fn parse_wrk(output: &str) -> anyhow::Result<Report> {
    let cpu_seconds = children_cpu(output);
    anyhow::ensure!(
        !output.contains("Non-2xx or 3xx responses") && !output.contains("Socket errors"),
        "wrk saw failures: {output}"
    );
    let value = |prefix: &str| -> Option<String> {
        output.lines().find_map(|line| {
            line.trim()
                .strip_prefix(prefix)
                .map(|v| v.trim().to_owned())
        })
    };
    let per_second: f64 = value("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("wrk printed no Requests/sec: {output}"))?;
    // "123456 requests in 5.00s, 12.34MB read"
    let (requests, seconds) = output
        .lines()
        .find_map(|line| {
            let (count, rest) = line.trim().split_once(" requests in ")?;
            let seconds = duration_seconds(rest.split(',').next()?)?;
            Some((count.parse::<u64>().ok()?, seconds))
        })
        .ok_or_else(|| anyhow::anyhow!("wrk printed no request count: {output}"))?;
    let percentile = |p: &str| {
        value(p)
            .and_then(|v| duration_seconds(&v))
            .unwrap_or(f64::NAN)
    };
    Ok(Report {
        requests,
        seconds,
        per_second,
        p50_us: percentile("50%") * 1e6,
        p99_us: percentile("99%") * 1e6,
        cpu_seconds,
    })
}

/// `2.50s`, `4.50ms`, `800us`, `1.2m` as seconds.
fn duration_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = [("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0)]
        .iter()
        .find_map(|(unit, scale)| Some((text.strip_suffix(unit)?, *scale)))?;
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_h2loads_summary() {
        let output = "finished in 2.50s, 40000.00 req/s, 1.23MB/s\n\
            requests: 100000 total, 100000 started, 100000 done, \
            100000 succeeded, 0 failed, 0 errored, 0 timeout\n\
            time for request:      120us      4.50ms       800us       300us    70.00%\n\
            0m0.001s 0m0.002s\n1m1.250s 0m0.250s\n";
        let report = parse_h2load(output).unwrap();
        assert!((report.cpu_seconds - 61.5).abs() < 1e-9);
        assert_eq!(report.requests, 100_000);
        assert_eq!(report.per_second, 40_000.0);
        assert!((report.p50_us - 800.0).abs() < 1e-6);
        let failed = output.replace("100000 succeeded", "99999 succeeded");
        assert!(parse_h2load(&failed).is_err());
    }

    #[test]
    fn reads_wrks_summary() {
        let output = "  Latency Distribution\n     50%  250.00us\n     99%    1.50ms\n\
            123456 requests in 5.00s, 12.34MB read\nRequests/sec:  24691.20\n";
        let report = parse_wrk(output).unwrap();
        assert_eq!(report.requests, 123_456);
        assert!((report.p99_us - 1500.0).abs() < 1e-6);
        let failed = format!("{output}  Non-2xx or 3xx responses: 3\n");
        assert!(parse_wrk(&failed).is_err());
    }
}
