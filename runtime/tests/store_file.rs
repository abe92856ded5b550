//! The file store survives a crash: a writer process is killed (SIGKILL) in the middle of a
//! stream of writes, and every write it had seen acknowledged is still there.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use micro::store::{FileStore, ReadOptions, Record, Scope, Store, WriteOptions};

const TEST: &str = "a_killed_writer_loses_no_acknowledged_write";
const WRITER_DIR: &str = "MICRO_TEST_STORE_WRITER_DIR";

fn scope() -> Scope {
    Scope::new("crash", "writes")
}

/// In the child: writes records 0, 1, 2, … printing `acked N` once each write returned.
fn writer(dir: std::ffi::OsString) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = FileStore::new(dir);
        for n in 0..100_000u32 {
            let record = Record::new(format!("key-{n:06}"), n.to_string());
            store
                .write(&record, WriteOptions { scope: scope() })
                .await
                .unwrap();
            println!("acked {n}");
            std::io::stdout().flush().unwrap();
        }
    });
}

#[test]
fn a_killed_writer_loses_no_acknowledged_write() {
    if let Some(dir) = std::env::var_os(WRITER_DIR) {
        return writer(dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last_acked = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Some(n) = line
            .unwrap()
            .strip_prefix("acked ")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        last_acked = Some(n);
        if n >= 150 {
            child.kill().unwrap(); // SIGKILL mid-stream: the next write may be half done
            break;
        }
    }
    child.wait().unwrap();
    let last_acked = last_acked.expect("the writer acknowledged writes");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = FileStore::new(dir.path());
        let records = store
            .read("key-", ReadOptions::prefix().scope(scope()))
            .await
            .unwrap();
        assert!(
            records.len() as u32 > last_acked,
            "{} records, {last_acked} acknowledged",
            records.len()
        );
        for (n, record) in records.iter().take(last_acked as usize + 1).enumerate() {
            assert_eq!(
                record.key,
                format!("key-{n:06}"),
                "acknowledged write {n} lost"
            );
            assert_eq!(record.value, n.to_string());
        }
    });
}

/// `--store file --store-address <dir>` gives a service a file store scoped to its name.
#[tokio::test]
async fn a_service_store_comes_from_flags_and_is_scoped_to_the_service() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let dir = tempfile::tempdir().unwrap();
    let address = dir.path().to_str().unwrap();
    let flags = Cli::parse_from(["billing", "--store", "file", "--store-address", address]).micro;
    let service = micro::Service::new("billing").flags(flags);
    let store = service.store().unwrap();
    assert_eq!(store.name(), "file");
    assert_eq!(store.scope(), &Scope::new("billing", "micro"));
    store
        .write(&Record::new("invoice/7", "paid"), WriteOptions::default())
        .await
        .unwrap();

    assert!(
        dir.path().join("billing.db").exists(),
        "one file per database, named after the service"
    );
    let raw = FileStore::new(dir.path());
    let read = raw
        .read(
            "invoice/7",
            ReadOptions::default().scope(Scope::new("billing", "micro")),
        )
        .await;
    assert_eq!(read.unwrap()[0].value, "paid");
    assert!(
        raw.read("invoice/7", ReadOptions::default()).await.is_err(),
        "not in micro/micro"
    );
}
