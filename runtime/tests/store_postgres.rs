//! The Postgres store against a real PostgreSQL: the store conformance suite, go-micro's table
//! layout, sweeping, and a server that is down or restarted.
#![cfg(feature = "store-postgres")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use micro::store::{
    self, ErrorKind, PostgresOptions, PostgresStore, ReadOptions, Record, Scope, Store,
    WriteOptions,
};
use micro_test_support::{PostgresServer, free_port};

fn store(server: &PostgresServer) -> PostgresStore {
    PostgresStore::new(PostgresOptions::new(&server.url())).expect("a valid address")
}

#[tokio::test]
async fn passes_the_store_conformance_suite() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    store::conformance::run(Arc::new(store(&server))).await;
}

#[tokio::test]
async fn from_uri_builds_a_postgres_store() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let store = store::from_uri(&server.url()).expect("a postgres URI");
    assert_eq!(store.name(), "postgres");
    store
        .write(&Record::new("k", "v"), WriteOptions::default())
        .await
        .expect("write");
}

#[tokio::test]
async fn records_are_in_go_micro_tables() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let store = store(&server);
    let scope = Scope::new("Order-Service", "line.items");
    let record = Record::new("order/1", "raw bytes")
        .metadata("currency", "EUR")
        .ttl(Duration::from_secs(3600));
    store
        .write(&record, WriteOptions { scope })
        .await
        .expect("write");
    let row = sql(
        &server,
        "SELECT key, convert_from(value, 'UTF8'), metadata->>'currency', expiry > now() + interval '59 minutes' \
         FROM order_service.line_items",
    )
    .await;
    assert_eq!(row, "order/1|raw bytes|EUR|t");
}

#[tokio::test]
async fn sweeping_deletes_expired_rows() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let store = store(&server);
    let scope = Scope::new("sweep", "t");
    for (key, ttl) in [("brief", Some(200)), ("kept", None)] {
        let mut record = Record::new(key, "x");
        record.expiry = ttl.map(Duration::from_millis);
        store
            .write(
                &record,
                WriteOptions {
                    scope: scope.clone(),
                },
            )
            .await
            .expect("write");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.sweep().await.expect("sweep"), 1);
    assert_eq!(sql(&server, "SELECT key FROM sweep.t").await, "kept");
}

#[tokio::test]
async fn a_server_that_is_down_is_named_and_a_restart_is_survived() {
    let Some(mut server) = PostgresServer::start() else {
        return;
    };
    let store = store(&server);
    store
        .write(&Record::new("before", "1"), WriteOptions::default())
        .await
        .expect("write");
    server.kill();
    let started = Instant::now();
    let err = store
        .write(&Record::new("during", "1"), WriteOptions::default())
        .await
        .expect_err("the server is down");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(
        err.to_string().contains(&server.address()),
        "the error names the server: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    server.restart();
    // Pooled connections died with the server; the pool replaces them.
    let mut read = store.read("before", ReadOptions::default()).await;
    for _ in 0..20 {
        if read.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        read = store.read("before", ReadOptions::default()).await;
    }
    assert_eq!(read.expect("read after the restart")[0].value, "1");
}

#[tokio::test]
async fn nothing_listening_is_a_clear_error() {
    let address = format!("postgresql://postgres@127.0.0.1:{}/postgres", free_port());
    let store = PostgresStore::new(PostgresOptions::new(&address)).expect("a valid address");
    let err = store
        .read("k", ReadOptions::default())
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let message = err.to_string();
    assert!(
        message.starts_with("postgres at 127.0.0.1:") && message.contains("start the database"),
        "{message}"
    );
}

/// One row of `query` as `a|b|c`, through psql-free tokio-postgres.
async fn sql(server: &PostgresServer, query: &str) -> String {
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let rows = client.simple_query(query).await.expect("query");
    rows.iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL"))
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// `--store postgres --store-address <url> --store-table invoices` gives a service its table.
#[tokio::test]
async fn a_service_store_comes_from_flags() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let Some(server) = PostgresServer::start() else {
        return;
    };
    let url = server.url();
    let args = ["billing", "--store", "postgres", "--store-address", &url];
    let flags = Cli::parse_from(args.into_iter().chain(["--store-table", "invoices"])).micro;
    let store = micro::Service::new("billing").flags(flags).store().unwrap();
    assert_eq!(store.name(), "postgres");
    assert_eq!(store.scope(), &Scope::new("billing", "invoices"));
    store
        .write(&Record::new("invoice/7", "paid"), WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        sql(&server, "SELECT key FROM billing.invoices").await,
        "invoice/7"
    );
}

/// TLS follows libpq's `sslmode`, against a server that refuses unencrypted connections.
#[tokio::test]
async fn tls_follows_libpq_sslmode() {
    let Some(server) = PostgresServer::start_tls() else {
        return;
    };
    let ca = server.ca().display().to_string();
    let other_dir = tempfile::tempdir().unwrap();
    let other_ca = other_dir.path().join("other-ca.crt").display().to_string();
    let key = other_dir.path().join("other-ca.key").display().to_string();
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args([
            "-subj",
            "/CN=another CA",
            "-keyout",
            &key,
            "-out",
            &other_ca,
        ])
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let port = server.address().rsplit(':').next().unwrap().to_owned();
    let pairs = |host: &str, tls: &str| {
        format!("host={host} hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres {tls}")
    };
    let works = [
        (pairs("127.0.0.1", ""), "prefer (the default) encrypts"),
        (pairs("127.0.0.1", "sslmode=require"), "require"),
        (
            pairs(
                "127.0.0.1",
                &format!("sslmode=verify-full sslrootcert={ca}"),
            ),
            "verify-full with the CA",
        ),
        (
            pairs(
                "elsewhere.example",
                &format!("sslmode=verify-ca sslrootcert={ca}"),
            ),
            "verify-ca does not check the name",
        ),
        (
            format!("{}?sslmode=verify-full&sslrootcert={ca}", server.url()),
            "a URL with verify-full",
        ),
    ];
    for (address, what) in works {
        let store = PostgresStore::new(PostgresOptions::new(&address)).expect(what);
        let written = store
            .write(&Record::new("k", "v"), WriteOptions::default())
            .await;
        assert!(written.is_ok(), "{what}: {}", written.unwrap_err());
    }
    let fails = [
        (pairs("127.0.0.1", "sslmode=disable"), "no encryption"),
        (
            pairs(
                "elsewhere.example",
                &format!("sslmode=verify-full sslrootcert={ca}"),
            ),
            "certificate",
        ),
        (
            pairs(
                "127.0.0.1",
                &format!("sslmode=verify-ca sslrootcert={other_ca}"),
            ),
            "certificate",
        ),
    ];
    for (address, expected) in fails {
        let store = PostgresStore::new(PostgresOptions::new(&address)).expect("valid");
        let err = store
            .read("k", ReadOptions::default())
            .await
            .expect_err(&address);
        assert_eq!(err.kind(), ErrorKind::Config, "refused, not down: {err}");
        assert!(!err.is_temporary());
        assert!(
            err.to_string().contains(expected),
            "{address}: `{err}` should mention {expected}"
        );
    }
}

/// Four writers write until stopped (at most 5,000 writes each) while the server is killed and
/// started again: every write either succeeds or fails naming the server, the pool reconnects,
/// and every acknowledged write is there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_writes_loses_no_acknowledged_write() {
    let Some(mut server) = PostgresServer::start() else {
        return;
    };
    let store = Arc::new(store(&server));
    let stop = Arc::new(AtomicBool::new(false));
    let back = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (store, stop, back) = (store.clone(), stop.clone(), back.clone());
            let address = server.address();
            tokio::spawn(async move {
                let (mut acked, mut failed, mut after_restart) = (Vec::new(), 0, 0);
                for n in 0..5_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let key = format!("w{writer}-{n}");
                    let was_back = back.load(Ordering::SeqCst);
                    match store
                        .write(&Record::new(&key, "v"), WriteOptions::default())
                        .await
                    {
                        Ok(()) => {
                            acked.push(key);
                            after_restart += usize::from(was_back);
                        }
                        Err(err) => {
                            assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
                            assert!(err.to_string().contains(&address), "{err}");
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (acked, failed, after_restart)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    back.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut acked, mut failed, mut after_restart) = (Vec::new(), 0, 0);
    for writer in writers {
        let (keys, failures, after) = writer.await.unwrap();
        acked.extend(keys);
        failed += failures;
        after_restart += after;
    }
    assert!(failed > 0, "no write met the server down");
    let after = store.read("w", ReadOptions::prefix()).await;
    let stored: std::collections::HashSet<String> = after
        .expect("reads after the restart")
        .into_iter()
        .map(|record| record.key)
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|key| !stored.contains(*key)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(
        after_restart > 50,
        "the pool did not reconnect: {after_restart} writes after"
    );
}
