//! grpc's interop test client on micro-rs:
//! `interop-client --server_host 127.0.0.1 --server_port 10000 --test_case large_unary`.
//!
//! `--test_case all` runs every case; the exit status is non-zero if any fails.

use clap::Parser;
use micro_interop::client::{CASES, Interop};

/// grpc's interop client flags.
#[derive(Debug, Parser)]
struct Args {
    /// The server's host.
    #[arg(long = "server_host", default_value = "127.0.0.1")]
    server_host: String,
    /// The server's port.
    #[arg(long = "server_port")]
    server_port: u16,
    /// A case from grpc's interop spec, or `all`.
    #[arg(long = "test_case", default_value = "all")]
    test_case: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let interop = Interop::connect(&format!("{}:{}", args.server_host, args.server_port))?;
    let cases: Vec<&str> = match args.test_case.as_str() {
        "all" => CASES.to_vec(),
        case => vec![case],
    };
    let mut failed = 0;
    for case in cases {
        match interop.run(case).await {
            Ok(()) => println!("PASS {case}"),
            Err(err) => {
                failed += 1;
                println!("FAIL {case}: {err:#}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} case(s) failed");
    Ok(())
}
