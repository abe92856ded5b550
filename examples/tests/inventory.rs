//! Store, sync and config between processes: two `inventory` instances find each other in
//! etcd, keep stock in a real PostgreSQL and change it under etcd locks, so 150 concurrent
//! reservations of 100 items sell exactly 100 (no lost update, no oversell); a config file
//! edited while they run changes their per-order limit.

#![cfg(feature = "full")]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use examples::inventory::{InventoryClient, ReserveRequest, RestockRequest, StockRequest};
use micro::registry::{EtcdOptions, EtcdRegistry};
use micro::{Client, Code};
use micro_test_support::{EtcdServer, PostgresServer};
use support::Example;

const INVENTORY: &str = env!("CARGO_BIN_EXE_inventory");

fn write_limit(path: &Path, max: u64) {
    // As editors save: a new file renamed over the old one.
    let next = path.with_extension("json.tmp");
    let text = format!(r#"{{"inventory": {{"max_per_order": {max}}}}}"#);
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// Reserves `quantity` of `sku` until every instance answers with `code` (random balancing
/// reaches both within 40 calls), or panics after 15 s.
async fn until_both_answer(inventory: &InventoryClient, quantity: u64, code: Code) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut agreeing = 0;
        for _ in 0..40 {
            let request = ReserveRequest {
                sku: "tea".into(),
                quantity,
            };
            match inventory.reserve(request).await {
                Err(status) if status.code() == code => agreeing += 1,
                _ => break,
            }
        }
        if agreeing == 40 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the instances never all answered {code:?} to a reservation of {quantity}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_never_oversell_and_follow_config() {
    let (Some(etcd), Some(postgres)) = (EtcdServer::start(), PostgresServer::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("inventory.json");
    write_limit(&config, 10);
    let (etcd_address, url) = (etcd.address(), postgres.url());
    let config_path = config.to_str().unwrap();
    let args = [
        "--registry",
        "etcd",
        "--registry-address",
        &etcd_address,
        "--sync",
        "etcd",
        "--sync-address",
        &etcd_address,
        "--store",
        "postgres",
        "--store-address",
        &url,
        "--config",
        config_path,
    ];
    let instances = [
        Example::start(INVENTORY, &args),
        Example::start(INVENTORY, &args),
    ];
    // `start` returns once the port is open; calls through the registry need both registered.
    for instance in &instances {
        instance.wait_ready(Duration::from_secs(20));
    }
    let registry = EtcdRegistry::new(EtcdOptions::from_addresses(std::slice::from_ref(
        &etcd_address,
    )));
    let inventory = InventoryClient::new(Client::with_registry(Arc::new(registry)).unwrap());

    let restocked = inventory
        .restock(RestockRequest {
            sku: "tea".into(),
            quantity: 100,
        })
        .await
        .unwrap();
    assert_eq!(restocked.quantity, 100);

    let calls: Vec<_> = (0..150)
        .map(|_| {
            let inventory = inventory.clone();
            tokio::spawn(async move {
                let request = ReserveRequest {
                    sku: "tea".into(),
                    quantity: 1,
                };
                inventory.reserve(request).await
            })
        })
        .collect();
    let (mut sold, mut refused, mut nodes) = (0, 0, BTreeSet::new());
    for call in calls {
        match call.await.unwrap() {
            Ok(reply) => {
                sold += 1;
                nodes.insert(reply.node);
            }
            Err(status) if status.code() == Code::FailedPrecondition => refused += 1,
            Err(status) => panic!("a reservation failed: {status}"),
        }
    }
    assert_eq!((sold, refused), (100, 50), "exactly the stock was sold");
    assert_eq!(nodes.len(), 2, "both instances sold: {nodes:?}");
    let stock = inventory
        .stock(StockRequest { sku: "tea".into() })
        .await
        .unwrap();
    assert_eq!(stock.quantity, 0);

    // Out of stock: a reservation of 3 is refused for stock, until the limit drops below 3.
    until_both_answer(&inventory, 3, Code::FailedPrecondition).await;
    write_limit(&config, 2);
    until_both_answer(&inventory, 3, Code::InvalidArgument).await;
    write_limit(&config, 5);
    until_both_answer(&inventory, 3, Code::FailedPrecondition).await;
}
