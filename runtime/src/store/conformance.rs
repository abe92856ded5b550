//! The behaviour every [`Store`] backend must have, as one suite to run against each.
//!
//! ```no_run
//! # async fn demo() {
//! micro::store::conformance::run(micro::store::memory()).await;
//! # }
//! ```
//!
//! It panics with a description of the first behaviour that is wrong. Every run uses tables of
//! its own, so several runs may share one server. It takes about two seconds (TTL expiry).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{ErrorKind, ListOptions, ReadOptions, Record, Scope, Store, WriteOptions};

/// Runs every check against `store`.
pub async fn run(store: Arc<dyn Store>) {
    let run = Run {
        store,
        table: format!(
            "conformance_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
    };
    run.write_read_overwrite_delete().await;
    run.prefix_suffix_limit_offset().await;
    run.list_filters_and_pages().await;
    run.keys_are_literal_and_byte_ordered().await;
    run.scopes_are_separate().await;
    run.records_expire_after_their_ttl().await;
    run.large_values_and_metadata_survive().await;
    run.concurrent_writers_lose_nothing().await;
    run.bad_input_is_refused().await;
}

struct Run {
    store: Arc<dyn Store>,
    table: String,
}

impl Run {
    fn scope(&self, check: &str) -> Scope {
        Scope::new("micro", format!("{}_{check}", self.table))
    }

    async fn write(&self, scope: &Scope, record: Record) {
        let options = WriteOptions {
            scope: scope.clone(),
        };
        if let Err(err) = self.store.write(&record, options).await {
            panic!(
                "store conformance: writing {} to {scope} failed: {err}",
                record.key
            );
        }
    }

    async fn read(&self, key: &str, options: ReadOptions) -> Vec<Record> {
        match self.store.read(key, options.clone()).await {
            Ok(records) => records,
            Err(err) => panic!("store conformance: reading {key:?} ({options:?}) failed: {err}"),
        }
    }

    async fn keys(&self, key: &str, options: ReadOptions) -> Vec<String> {
        self.read(key, options)
            .await
            .into_iter()
            .map(|r| r.key)
            .collect()
    }

    async fn list(&self, options: ListOptions) -> Vec<String> {
        match self.store.list(options.clone()).await {
            Ok(keys) => keys,
            Err(err) => panic!("store conformance: listing ({options:?}) failed: {err}"),
        }
    }

    async fn write_read_overwrite_delete(&self) {
        let scope = self.scope("basic");
        let exact = ReadOptions::default().scope(scope.clone());
        self.write(&scope, Record::new("a", "1")).await;
        let read = self.read("a", exact.clone()).await;
        assert_eq!(
            read.len(),
            1,
            "store conformance: an exact read returns one record"
        );
        assert_eq!((read[0].key.as_str(), &read[0].value[..]), ("a", &b"1"[..]));
        assert_eq!(
            read[0].expiry, None,
            "store conformance: a record without TTL has no expiry"
        );
        self.write(&scope, Record::new("a", "2")).await;
        assert_eq!(
            self.read("a", exact.clone()).await[0].value,
            "2",
            "store conformance: a write replaces"
        );
        self.store.delete("a", &scope).await.expect("delete");
        match self.store.read("a", exact).await {
            Err(err) => assert_eq!(err.kind(), ErrorKind::NotFound, "store conformance: {err}"),
            Ok(records) => panic!("store conformance: a deleted record was read: {records:?}"),
        }
        self.store
            .delete("a", &scope)
            .await
            .expect("deleting a missing key is not an error");
    }

    async fn prefix_suffix_limit_offset(&self) {
        let scope = self.scope("match");
        for key in ["user/1.json", "user/2.json", "user/3.txt", "group/1.json"] {
            self.write(&scope, Record::new(key, key.to_owned())).await;
        }
        let prefix = ReadOptions::prefix().scope(scope.clone());
        assert_eq!(
            self.keys("user/", prefix.clone()).await,
            ["user/1.json", "user/2.json", "user/3.txt"]
        );
        assert_eq!(
            self.keys("user/", prefix.clone().page(1, 1)).await,
            ["user/2.json"]
        );
        assert!(
            self.keys("nobody/", prefix).await.is_empty(),
            "store conformance: an unmatched prefix is empty"
        );
        let suffix = ReadOptions::suffix().scope(scope.clone());
        assert_eq!(
            self.keys(".json", suffix.clone()).await,
            ["group/1.json", "user/1.json", "user/2.json"]
        );
        assert_eq!(
            self.keys(".json", suffix.page(2, 0)).await,
            ["group/1.json", "user/1.json"]
        );
    }

    async fn list_filters_and_pages(&self) {
        let scope = self.scope("list");
        for key in ["b", "a", "c/1", "c/2", "d"] {
            self.write(&scope, Record::new(key, "x")).await;
        }
        let all = ListOptions {
            scope: scope.clone(),
            ..ListOptions::default()
        };
        assert_eq!(self.list(all.clone()).await, ["a", "b", "c/1", "c/2", "d"]);
        let prefix = ListOptions {
            prefix: Some("c/".into()),
            ..all.clone()
        };
        assert_eq!(self.list(prefix).await, ["c/1", "c/2"]);
        let suffix = ListOptions {
            suffix: Some("2".into()),
            ..all.clone()
        };
        assert_eq!(self.list(suffix).await, ["c/2"]);
        let page = ListOptions {
            limit: Some(2),
            offset: 1,
            ..all
        };
        assert_eq!(self.list(page).await, ["b", "c/1"]);
    }

    async fn keys_are_literal_and_byte_ordered(&self) {
        let scope = self.scope("literal");
        for key in ["a_1", "ab", "a%", "a\\b", "é", "B", "Z/50%"] {
            self.write(&scope, Record::new(key, "x")).await;
        }
        let prefix = ReadOptions::prefix().scope(scope.clone());
        assert_eq!(
            self.keys("a_", prefix.clone()).await,
            ["a_1"],
            "store conformance: `_` in a prefix is a character, not a wildcard"
        );
        assert_eq!(self.keys("a%", prefix.clone()).await, ["a%"]);
        assert_eq!(self.keys("a\\", prefix).await, ["a\\b"]);
        let suffix = ReadOptions::suffix().scope(scope.clone());
        assert_eq!(self.keys("%", suffix).await, ["Z/50%", "a%"]);
        let all = ListOptions {
            scope,
            ..ListOptions::default()
        };
        assert_eq!(
            self.list(all).await,
            ["B", "Z/50%", "a%", "a\\b", "a_1", "ab", "é"],
            "store conformance: keys are listed in byte order"
        );
    }

    async fn scopes_are_separate(&self) {
        let (one, two) = (
            self.scope("one"),
            Scope::new("other", self.scope("one").table),
        );
        self.write(&one, Record::new("k", "one")).await;
        self.write(&two, Record::new("k", "two")).await;
        assert_eq!(
            self.read("k", ReadOptions::default().scope(one.clone()))
                .await[0]
                .value,
            "one"
        );
        assert_eq!(
            self.read("k", ReadOptions::default().scope(two.clone()))
                .await[0]
                .value,
            "two"
        );
        self.store.delete("k", &one).await.expect("delete");
        assert_eq!(
            self.read("k", ReadOptions::default().scope(two))
                .await
                .len(),
            1,
            "store conformance: deleting in one database deleted in another"
        );
    }

    async fn records_expire_after_their_ttl(&self) {
        let scope = self.scope("ttl");
        self.write(
            &scope,
            Record::new("brief", "x").ttl(Duration::from_millis(1500)),
        )
        .await;
        self.write(&scope, Record::new("kept", "x")).await;
        let brief = self
            .read("brief", ReadOptions::default().scope(scope.clone()))
            .await;
        let left = brief[0]
            .expiry
            .expect("store conformance: a record with a TTL reads its time left");
        assert!(
            left <= Duration::from_millis(1500) && left > Duration::from_millis(500),
            "store conformance: time left {left:?} of a 1.5 s TTL"
        );
        tokio::time::sleep(Duration::from_millis(1700)).await;
        assert!(
            self.store
                .read("brief", ReadOptions::default().scope(scope.clone()))
                .await
                .is_err(),
            "store conformance: an expired record was read"
        );
        let all = ListOptions {
            scope: scope.clone(),
            ..ListOptions::default()
        };
        assert_eq!(
            self.list(all).await,
            ["kept"],
            "store conformance: an expired record was listed"
        );
        assert_eq!(
            self.keys("", ReadOptions::prefix().scope(scope)).await,
            ["kept"]
        );
    }

    async fn large_values_and_metadata_survive(&self) {
        let scope = self.scope("large");
        let value: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let record = Record::new("big", Bytes::from(value))
            .metadata("owner", "ada")
            .metadata("size", 4)
            .metadata("tags", serde_json::json!(["a", "b"]));
        self.write(&scope, record.clone()).await;
        let read = self.read("big", ReadOptions::default().scope(scope)).await;
        assert!(
            read[0].value == record.value,
            "store conformance: a 4 MiB value changed"
        );
        assert_eq!(
            read[0].metadata, record.metadata,
            "store conformance: metadata changed"
        );
    }

    async fn concurrent_writers_lose_nothing(&self) {
        let scope = self.scope("concurrent");
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (store, scope) = (self.store.clone(), scope.clone());
                tokio::spawn(async move {
                    for n in 0..50 {
                        let record = Record::new(format!("w{writer}/{n}"), n.to_string());
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
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("a writer");
        }
        let keys: BTreeSet<String> = self
            .list(ListOptions {
                scope,
                ..ListOptions::default()
            })
            .await
            .into_iter()
            .collect();
        assert_eq!(
            keys.len(),
            400,
            "store conformance: concurrent writes were lost"
        );
    }

    async fn bad_input_is_refused(&self) {
        let scope = self.scope("bad");
        let options = || WriteOptions {
            scope: scope.clone(),
        };
        for (record, what) in [
            (Record::new("", "x"), "an empty key"),
            (Record::new("k", "x").ttl(Duration::ZERO), "a zero TTL"),
        ] {
            match self.store.write(&record, options()).await {
                Err(err) => assert_eq!(
                    err.kind(),
                    ErrorKind::InvalidInput,
                    "store conformance: {what}: {err}"
                ),
                Ok(()) => panic!("store conformance: {what} was accepted"),
            }
        }
        let empty = WriteOptions {
            scope: Scope::new("", "t"),
        };
        assert!(
            self.store
                .write(&Record::new("k", "x"), empty)
                .await
                .is_err(),
            "store conformance: an empty database name was accepted"
        );
    }
}
