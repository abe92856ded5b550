//! TLS to the backends, against real servers that speak only TLS and require client
//! certificates: etcd (registry), NATS (broker and JetStream), Redis (events) and PostgreSQL
//! (store). Each works with the CA and a client certificate, and fails soon, with an error
//! naming what to check, without the certificate, trusting another CA, or with a missing file.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use micro::BackendTls;
use micro_test_support::{Issued, Pki};

/// Failures must come within this (connect timeouts are 5 s).
const SOON: Duration = Duration::from_secs(12);

/// `future`'s output, failing the test if it takes longer than [`SOON`].
async fn soon<T>(what: &str, future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let output = tokio::time::timeout(SOON, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {SOON:?}"));
    assert!(
        started.elapsed() < SOON,
        "{what} took {:?}",
        started.elapsed()
    );
    output
}

/// The CA (and a client certificate from it) the servers do not trust.
fn other_pki(dir: &Path) -> (Pki, Issued) {
    let pki = Pki::new(dir, "another CA");
    let client = pki.issue("stranger", &["DNS:localhost", "IP:127.0.0.1"], 1);
    (pki, client)
}

/// The ways to get TLS wrong, each with what its error must mention: no client certificate,
/// another CA (with its own client certificate), and a CA file that is not there.
fn wrong(ca: &Path, dir: &Path, flags: &str) -> Vec<(&'static str, BackendTls, String)> {
    let (other, stranger) = other_pki(dir);
    vec![
        (
            "no client certificate",
            BackendTls::new().ca(ca),
            format!("{flags}-cert"),
        ),
        (
            "another CA",
            BackendTls::new()
                .ca(other.ca_cert())
                .client_cert(&stranger.cert, &stranger.key),
            format!("{flags}-ca"),
        ),
    ]
}

fn missing_file(dir: &Path) -> (BackendTls, String) {
    let missing = dir.join("missing-ca.pem");
    let shown = missing.display().to_string();
    (BackendTls::new().ca(missing), shown)
}

#[cfg(feature = "registry-etcd")]
mod etcd {
    use micro::registry::{self, ErrorKind, Node, Service};
    use micro_test_support::EtcdServer;

    use super::*;

    fn service() -> Service {
        Service {
            name: "tls.greeter".to_owned(),
            version: "latest".to_owned(),
            nodes: vec![Node {
                id: "tls.greeter-1".to_owned(),
                address: "127.0.0.1:9".to_owned(),
                ..Node::default()
            }],
            ..Service::default()
        }
    }

    #[tokio::test]
    async fn the_etcd_registry_speaks_tls_with_a_client_certificate() {
        let Some(server) = EtcdServer::start_tls() else {
            return;
        };
        let client = server.issue_client("micro");
        let address = [format!("https://{}", server.address())];
        let tls = BackendTls::new()
            .ca(server.ca())
            .client_cert(&client.cert, &client.key);
        let registry = registry::build_with_tls("etcd", &address, &tls).expect("valid files");
        soon("register", registry.register(&service(), None))
            .await
            .expect("register over TLS");
        let found = soon("get", registry.get_service("tls.greeter"))
            .await
            .expect("get over TLS");
        assert_eq!(found[0].nodes[0].id, "tls.greeter-1");

        // A host:port address with TLS files is TLS too.
        let plain_address = [server.address()];
        let registry = registry::build_with_tls("etcd", &plain_address, &tls).unwrap();
        soon("get", registry.get_service("tls.greeter"))
            .await
            .expect("TLS turned on by the files");

        let dir = tempfile::tempdir().unwrap();
        for (what, tls, expected) in wrong(&server.ca(), dir.path(), "--registry-tls") {
            let registry = registry::build_with_tls("etcd", &address, &tls).expect(what);
            let err = soon(what, registry.get_service("tls.greeter"))
                .await
                .expect_err(what);
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{what}: {err}");
            assert!(
                err.to_string().contains(&expected),
                "{what}: `{err}` should mention {expected}"
            );
        }
        let (tls, shown) = missing_file(dir.path());
        let err = registry::build_with_tls("etcd", &address, &tls).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let message = err.to_string();
        assert!(
            message.contains(&shown) && message.contains("--registry-tls-ca"),
            "{message}"
        );
    }
}

#[cfg(feature = "sync-etcd")]
#[tokio::test]
async fn etcd_locks_speak_tls_with_a_client_certificate() {
    use micro::sync::{self, LockOptions};
    use micro_test_support::EtcdServer;

    let Some(server) = EtcdServer::start_tls() else {
        return;
    };
    let client = server.issue_client("micro");
    let tls = BackendTls::new()
        .ca(server.ca())
        .client_cert(&client.cert, &client.key);
    let address = [format!("https://{}", server.address())];
    let locks = sync::build_with_tls("etcd", &address, &tls).expect("valid files");
    soon("lock", locks.lock("tls", LockOptions::default()))
        .await
        .expect("lock over TLS");
    soon("unlock", locks.unlock("tls"))
        .await
        .expect("unlock over TLS");
    let dir = tempfile::tempdir().unwrap();
    let (other, stranger) = other_pki(dir.path());
    let strange = BackendTls::new()
        .ca(other.ca_cert())
        .client_cert(&stranger.cert, &stranger.key);
    let locks = sync::build_with_tls("etcd", &address, &strange).unwrap();
    let err = soon("lock", locks.lock("tls", LockOptions::default()))
        .await
        .expect_err("another CA");
    assert!(err.to_string().contains("--sync-tls-ca"), "{err}");
}

#[cfg(feature = "config-etcd")]
#[tokio::test]
async fn an_etcd_config_source_speaks_tls_with_a_client_certificate() {
    use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
    use micro::config::{self, Config};
    use micro_test_support::EtcdServer;

    let Some(server) = EtcdServer::start_tls() else {
        return;
    };
    let client = server.issue_client("micro");
    let read = |path: &Path| std::fs::read(path).unwrap();
    let raw_tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(read(&server.ca())))
        .identity(Identity::from_pem(read(&client.cert), read(&client.key)));
    let address = format!("https://{}", server.address());
    let options = ConnectOptions::new().with_tls(raw_tls);
    let mut raw = etcd_client::Client::connect([address.as_str()], Some(options))
        .await
        .unwrap();
    raw.put("/micro/config/greeting", "hello", None)
        .await
        .unwrap();

    let uri = format!("etcd://{}", server.address());
    let tls = BackendTls::new()
        .ca(server.ca())
        .client_cert(&client.cert, &client.key);
    let source = config::from_uri_with_tls(&uri, &tls).unwrap();
    let config = soon("config", Config::builder().boxed_source(source).build())
        .await
        .expect("config over TLS");
    assert_eq!(config.get::<String>("greeting").unwrap(), "hello");

    let dir = tempfile::tempdir().unwrap();
    let (other, stranger) = other_pki(dir.path());
    let strange = BackendTls::new()
        .ca(other.ca_cert())
        .client_cert(&stranger.cert, &stranger.key);
    let source = config::from_uri_with_tls(&uri, &strange).unwrap();
    let err = soon("config", Config::builder().boxed_source(source).build())
        .await
        .expect_err("another CA");
    assert!(err.to_string().contains("--config-tls-ca"), "{err}");
}

#[cfg(feature = "broker-nats")]
mod nats_broker {
    use std::sync::Arc;

    use micro::broker::{self, ErrorKind, Message, SubscribeOptions};
    use micro_test_support::NatsServer;
    use tokio::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn the_nats_broker_speaks_tls_with_a_client_certificate() {
        let Some(server) = NatsServer::start_tls() else {
            return;
        };
        let client = server.issue_client("micro");
        let tls = BackendTls::new()
            .ca(server.ca())
            .client_cert(&client.cert, &client.key);
        let registry = micro::registry::from_uri("memory://").unwrap();
        let address = [server.address()];
        let broker =
            broker::build_with_tls("nats", &address, registry.clone(), &tls).expect("valid");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handler = broker::handler(move |event| {
            let sent = tx.send(event.message().body.clone());
            async move { Ok(sent?) }
        });
        let options = SubscribeOptions::default();
        let _subscriber = soon("subscribe", broker.subscribe("tls.topic", handler, options))
            .await
            .expect("subscribe over TLS");
        let message = Message::new("over TLS");
        soon("publish", broker.publish("tls.topic", &message))
            .await
            .expect("publish over TLS");
        let body = soon("delivery", rx.recv()).await.expect("delivered");
        assert_eq!(body, "over TLS");

        let dir = tempfile::tempdir().unwrap();
        for (what, tls, expected) in wrong(&server.ca(), dir.path(), "--broker-tls") {
            let broker = broker::build_with_tls("nats", &address, registry.clone(), &tls)
                .expect("valid files");
            let err = soon(what, broker.connect()).await.expect_err(what);
            assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
            assert!(!err.is_temporary());
            let message = err.to_string();
            assert!(
                message.contains("TLS handshake") && message.contains(&expected),
                "{what}: `{message}` should mention {expected}"
            );
        }
        let (tls, shown) = missing_file(dir.path());
        let err = broker::build_with_tls("nats", &address, Arc::clone(&registry), &tls)
            .expect_err("no such CA file");
        assert_eq!(err.kind(), ErrorKind::Config);
        let message = err.to_string();
        assert!(
            message.contains(&shown) && message.contains("--broker-tls-ca"),
            "{message}"
        );
    }
}

/// Publishes on `topic` and consumes it back from the start, over `stream`.
#[cfg(any(feature = "events-nats", feature = "events-redis"))]
async fn round_trip(stream: &dyn micro::events::EventStream, topic: &str) {
    use micro::events::{ConsumeOptions, Offset, PublishOptions};

    soon(
        "publish",
        stream.publish(topic, "over TLS".into(), PublishOptions::default()),
    )
    .await
    .expect("publish over TLS");
    let options = ConsumeOptions::default().group("tls").offset(Offset::Start);
    let mut consumer = soon("consume", stream.consume(topic, options))
        .await
        .expect("consume over TLS");
    let event = soon("event", consumer.next()).await.expect("an event");
    assert_eq!(event.payload, "over TLS");
}

/// Each way of getting TLS wrong fails to publish, soon, with a `Config` error mentioning what
/// to check.
#[cfg(any(feature = "events-nats", feature = "events-redis"))]
async fn refused(
    build: impl Fn(
        &BackendTls,
    ) -> Result<std::sync::Arc<dyn micro::events::EventStream>, micro::events::Error>,
    ca: &Path,
) {
    use micro::events::{ErrorKind, PublishOptions};

    let dir = tempfile::tempdir().unwrap();
    for (what, tls, expected) in wrong(ca, dir.path(), "--events-tls") {
        let stream = build(&tls).expect("valid files");
        let publish = stream.publish("tls.refused", "x".into(), PublishOptions::default());
        let err = soon(what, publish).await.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.contains("TLS handshake") && message.contains(&expected),
            "{what}: `{message}` should mention {expected}"
        );
    }
    let (tls, shown) = missing_file(dir.path());
    let err = build(&tls).expect_err("no such CA file");
    assert_eq!(err.kind(), ErrorKind::Config);
    let message = err.to_string();
    assert!(
        message.contains(&shown) && message.contains("--events-tls-ca"),
        "{message}"
    );
}

#[cfg(feature = "events-nats")]
#[tokio::test]
async fn jetstream_events_speak_tls_with_a_client_certificate() {
    use micro_test_support::NatsServer;

    let Some(server) = NatsServer::start_tls() else {
        return;
    };
    let client = server.issue_client("micro");
    let tls = BackendTls::new()
        .ca(server.ca())
        .client_cert(&client.cert, &client.key);
    let address = [format!("tls://{}", server.address())];
    let stream = micro::events::build_with_tls("nats", &address, &tls).expect("valid files");
    round_trip(stream.as_ref(), "tls.events").await;
    refused(
        |tls| micro::events::build_with_tls("nats", &address, tls),
        &server.ca(),
    )
    .await;
}

#[cfg(feature = "events-redis")]
#[tokio::test]
async fn redis_events_speak_tls_with_a_client_certificate() {
    use micro::events::{ErrorKind, PublishOptions};
    use micro_test_support::RedisServer;

    let Some(server) = RedisServer::start_tls() else {
        return;
    };
    let client = server.issue_client("micro");
    let tls = BackendTls::new()
        .ca(server.ca())
        .client_cert(&client.cert, &client.key);
    let address = [format!("rediss://{}", server.address())];
    let stream = micro::events::build_with_tls("redis", &address, &tls).expect("valid files");
    round_trip(stream.as_ref(), "tls.events").await;
    refused(
        |tls| micro::events::build_with_tls("redis", &address, tls),
        &server.ca(),
    )
    .await;

    // Plain text to a TLS port fails soon too.
    let plain = micro::events::build("redis", &[server.address()]).unwrap();
    let publish = plain.publish("tls.plain", "x".into(), PublishOptions::default());
    let err = soon("plain text", publish).await.expect_err("plain text");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

#[cfg(feature = "store-postgres")]
mod postgres {
    use micro::store::WriteOptions;
    use micro::store::{ErrorKind, PostgresOptions, PostgresStore, ReadOptions, Record, Store};
    use micro_test_support::PostgresServer;

    use super::*;

    fn connect(server: &PostgresServer, parameters: &str) -> PostgresStore {
        let address = format!("{}?sslmode=verify-full&{parameters}", server.url());
        PostgresStore::new(PostgresOptions::new(&address)).expect("a valid address")
    }

    #[tokio::test]
    async fn the_postgres_store_presents_a_client_certificate() {
        let Some(server) = PostgresServer::start_client_certs() else {
            return;
        };
        let ca = server.ca().display().to_string();
        let client = server.issue_client("postgres");
        let (cert, key) = (client.cert.display(), client.key.display());
        let with_cert = format!("sslrootcert={ca}&sslcert={cert}&sslkey={key}");
        let store = connect(&server, &with_cert);
        let record = Record::new("tls/1", "over TLS");
        soon("write", store.write(&record, WriteOptions::default()))
            .await
            .expect("write with a client certificate");
        let read = soon("read", store.read("tls/1", ReadOptions::default()))
            .await
            .expect("read with a client certificate");
        assert_eq!(read[0].value, "over TLS");

        let dir = tempfile::tempdir().unwrap();
        let (other, stranger) = other_pki(dir.path());
        let refused = [
            (
                format!("sslrootcert={ca}"),
                "certificate",
                "no client certificate",
            ),
            (
                format!(
                    "sslrootcert={}&sslcert={}&sslkey={}",
                    other.ca_cert().display(),
                    stranger.cert.display(),
                    stranger.key.display()
                ),
                "sslrootcert",
                "another CA",
            ),
        ];
        for (parameters, expected, what) in refused {
            let store = connect(&server, &parameters);
            let err = soon(what, store.read("tls/1", ReadOptions::default()))
                .await
                .expect_err(what);
            assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
            assert!(
                err.to_string().contains(expected),
                "{what}: `{err}` should mention {expected}"
            );
        }
        let missing = dir.path().join("missing.crt");
        let parameters = format!(
            "sslrootcert={ca}&sslcert={}&sslkey={key}",
            missing.display()
        );
        let address = format!("{}?sslmode=verify-full&{parameters}", server.url());
        let err = PostgresStore::new(PostgresOptions::new(&address)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let message = err.to_string();
        assert!(
            message.contains("sslcert") && message.contains(&missing.display().to_string()),
            "{message}"
        );
    }
}

/// The `--<backend>-tls-*` flags and their `MICRO_*` variables parse.
#[test]
fn tls_flags_parse() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }
    let cli = Cli::try_parse_from([
        "svc",
        "--registry-tls-ca=/ca.pem",
        "--broker-tls-cert=/c.pem",
        "--broker-tls-key=/c.key",
        "--events-tls-ca=/e.pem",
        "--sync-tls-ca=/s.pem",
        "--config-tls-ca=/k.pem",
    ])
    .unwrap();
    let flags = cli.micro;
    assert_eq!(flags.registry_tls_ca.as_deref(), Some(Path::new("/ca.pem")));
    assert_eq!(flags.broker_tls_key.as_deref(), Some(Path::new("/c.key")));
    assert_eq!(flags.events_tls_ca.as_deref(), Some(Path::new("/e.pem")));
    assert_eq!(flags.sync_tls_ca.as_deref(), Some(Path::new("/s.pem")));
    assert_eq!(flags.config_tls_ca.as_deref(), Some(Path::new("/k.pem")));
    let half = Cli::try_parse_from(["svc", "--registry-tls-cert=/c.pem"]);
    let err = half.err().expect("a certificate needs its key");
    assert!(err.to_string().contains("--registry-tls-key"), "{err}");
}
