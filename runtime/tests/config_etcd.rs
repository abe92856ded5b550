//! Config from a real etcd: go-micro's `/micro/config/` layout, hot reload on put and delete,
//! broken values, etcd restarting under a watch, and an unreachable etcd.

#![cfg(feature = "config-etcd")]

use std::time::{Duration, Instant};

use etcd_client::{Client, DeleteOptions};
use micro::config::conformance::{self, Fixture};
use micro::config::{BoxFuture, Config, ErrorKind, Etcd, Memory, Source};
use micro_test_support::EtcdServer;
use serde::Deserialize;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(10);

async fn client(server: &EtcdServer) -> Client {
    Client::connect([server.address()], None).await.unwrap()
}

fn source(server: &EtcdServer) -> Etcd {
    Etcd::new(&[server.address()])
}

/// The keys under `/micro/config/` the suite rewrites: one per leaf, strings stored plain.
struct EtcdFixture {
    address: String,
}

impl EtcdFixture {
    async fn client(&self) -> Client {
        Client::connect([self.address.as_str()], None)
            .await
            .unwrap()
    }
}

fn leaves(prefix: &str, tree: &Value, out: &mut Vec<(String, String)>) {
    match tree {
        Value::Object(map) => {
            for (key, value) in map {
                leaves(&format!("{prefix}{key}/"), value, out);
            }
        }
        Value::String(text) => out.push((prefix.trim_end_matches('/').to_owned(), text.clone())),
        other => out.push((prefix.trim_end_matches('/').to_owned(), other.to_string())),
    }
}

impl Fixture for EtcdFixture {
    fn source(&self) -> Box<dyn Source> {
        Box::new(Etcd::new(std::slice::from_ref(&self.address)))
    }

    fn set<'a>(&'a self, tree: &'a Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut client = self.client().await;
            let mut wanted = Vec::new();
            leaves("/micro/config/", tree, &mut wanted);
            let stored = client
                .get(
                    "/micro/config/",
                    Some(etcd_client::GetOptions::new().with_prefix()),
                )
                .await
                .unwrap();
            for kv in stored.kvs() {
                let key = kv.key_str().unwrap();
                if !wanted.iter().any(|(wanted, _)| wanted == key) {
                    client.delete(key, None).await.unwrap();
                }
            }
            for (key, value) in wanted {
                client.put(key, value, None).await.unwrap();
            }
        })
    }

    fn corrupt(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let mut client = self.client().await;
            client
                .put("/micro/config/server/name", "{\"broken", None)
                .await
                .unwrap();
            true
        })
    }
}

#[tokio::test]
async fn etcd_keeps_the_reload_contract() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    conformance::run(&EtcdFixture {
        address: server.address(),
    })
    .await;
}

#[tokio::test]
async fn keys_nest_values_are_json_or_plain_and_merge_over_defaults() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut etcd = client(&server).await;
    etcd.put(
        "/micro/config/database",
        r#"{"address": "db:5432", "pool": 4}"#,
        None,
    )
    .await
    .unwrap();
    etcd.put("/micro/config/database/pool", "8", None)
        .await
        .unwrap();
    etcd.put("/micro/config/greeting", "hello there", None)
        .await
        .unwrap();
    etcd.put("/micro/registry/greeter/1", "not config", None)
        .await
        .unwrap();

    let config = Config::builder()
        .source(Memory::new(
            json!({"database": {"timeout": 5, "pool": 1}, "greeting": "hi"}),
        ))
        .source(source(&server))
        .build()
        .await
        .unwrap();

    #[derive(Deserialize, Debug, PartialEq)]
    struct Database {
        address: String,
        pool: u32,
        timeout: u64,
    }
    let database: Database = config.get("database").unwrap();
    assert_eq!(
        database,
        Database {
            address: "db:5432".into(),
            pool: 8,
            timeout: 5
        }
    );
    assert_eq!(config.get::<String>("greeting").unwrap(), "hello there");
    assert!(
        config.get::<Value>("registry").is_err(),
        "only keys under /micro/config/"
    );
}

#[tokio::test]
async fn puts_and_deletes_reload_and_a_broken_value_keeps_the_last_good() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut etcd = client(&server).await;
    etcd.put("/micro/config/server/port", "8080", None)
        .await
        .unwrap();
    etcd.put("/micro/config/feature", "true", None)
        .await
        .unwrap();
    let config = Config::builder()
        .source(Memory::new(json!({"server": {"port": 1}})))
        .source(source(&server))
        .build()
        .await
        .unwrap();
    let mut port = config.watch("server.port");
    let mut feature = config.watch("feature");

    etcd.put("/micro/config/server/port", "9090", None)
        .await
        .unwrap();
    assert_eq!(next(&mut port).await, json!(9090), "a put reloads");

    etcd.put("/micro/config/server/port", "{\"oops", None)
        .await
        .unwrap();
    poll(
        || config.last_error().is_some(),
        "the broken value was not reported",
    )
    .await;
    let error = config.last_error().unwrap();
    assert!(error.contains("/micro/config/server/port"), "{error}");
    assert_eq!(
        config.get::<u16>("server.port").unwrap(),
        9090,
        "the last good stays"
    );

    // Another key still reloads while that one is broken; the broken one keeps its last good.
    etcd.put("/micro/config/feature", "false", None)
        .await
        .unwrap();
    assert_eq!(next(&mut feature).await, json!(false));
    assert_eq!(config.get::<u16>("server.port").unwrap(), 9090);

    etcd.put("/micro/config/server/port", "7070", None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut port).await,
        json!(7070),
        "the next good value applies"
    );

    etcd.delete("/micro/config/server/port", None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut port).await,
        json!(1),
        "a delete falls back to the defaults"
    );
    etcd.delete("/micro/config/", Some(DeleteOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut feature).await,
        Value::Null,
        "a deleted key is gone"
    );
}

#[tokio::test]
async fn the_watch_survives_etcd_restarting() {
    let Some(mut server) = EtcdServer::start() else {
        return;
    };
    client(&server)
        .await
        .put("/micro/config/level", "1", None)
        .await
        .unwrap();
    let config = Config::builder()
        .source(source(&server))
        .build()
        .await
        .unwrap();
    let mut level = config.watch("level");

    server.kill();
    poll(
        || config.last_error().is_some(),
        "losing etcd was not reported",
    )
    .await;
    let error = config.last_error().unwrap();
    assert!(error.contains(&server.address()), "{error}");
    assert_eq!(
        config.get::<u32>("level").unwrap(),
        1,
        "the last good stays while etcd is down"
    );

    server.restart(false);
    client(&server)
        .await
        .put("/micro/config/level", "2", None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut level).await,
        json!(2),
        "changes arrive again after etcd is back"
    );
}

#[tokio::test]
async fn a_broken_value_at_start_fails_the_build_naming_the_key() {
    let Some(server) = EtcdServer::start() else {
        return;
    };
    let mut etcd = client(&server).await;
    etcd.put("/micro/config/app/name", "\"greeter\"", None)
        .await
        .unwrap();
    let uri = format!("etcd://{}", server.address());
    let config = Config::builder()
        .boxed_source(micro::config::from_uri(&uri).unwrap())
        .build()
        .await
        .unwrap();
    assert_eq!(
        config.get::<String>("app.name").unwrap(),
        "greeter",
        "a quoted JSON string"
    );

    etcd.put("/micro/config/app/limits", "{\"rps\": ", None)
        .await
        .unwrap();
    let err = Config::builder()
        .source(source(&server))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("/micro/config/app/limits"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_etcd_is_a_clear_error_in_bounded_time() {
    let port = micro_test_support::free_port();
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let err = Config::builder()
        .source(Etcd::new(std::slice::from_ref(&address)))
        .build()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    let message = err.to_string();
    assert!(
        message.contains(&format!("etcd at {address} unreachable")),
        "{message}"
    );
}

async fn next(watcher: &mut micro::config::Watcher) -> Value {
    match tokio::time::timeout(DEADLINE, watcher.next()).await {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => panic!("watching {}: {err}", watcher.path()),
        Err(_) => panic!("no change at {} within {DEADLINE:?}", watcher.path()),
    }
}

async fn poll(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
