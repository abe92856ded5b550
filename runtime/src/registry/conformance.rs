//! The behaviour every [`Registry`] backend must have, as one suite to run against each.
//!
//! ```no_run
//! # async fn demo() {
//! let registry = micro::registry::from_uri("memory://").unwrap();
//! micro::registry::conformance::run(registry).await;
//! # }
//! ```
//!
//! It panics with a description of the first behaviour that is wrong. Service names are unique
//! per run, so several runs may share one registry server.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Action, ErrorKind, Event, Node, Registry, Service, Watcher};

/// How long a registry may take to show a change.
const PROPAGATION: Duration = Duration::from_secs(10);

/// Runs every check against `registry`.
pub async fn run(registry: Arc<dyn Registry>) {
    let prefix = format!(
        "conformance-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    register_get_list_deregister(&*registry, &format!("{prefix}-basic")).await;
    versions_and_nodes(&*registry, &format!("{prefix}-versions")).await;
    watch_sees_create_update_delete(&*registry, &format!("{prefix}-watch")).await;
    ttl_expires_unrefreshed_nodes(&*registry, &format!("{prefix}-ttl")).await;
    unknown_service_is_not_found(&*registry, &format!("{prefix}-nobody")).await;
}

/// A service `name`, version `version`, with nodes `ids` on made-up addresses.
fn service(name: &str, version: &str, ids: &[&str]) -> Service {
    let nodes = ids
        .iter()
        .enumerate()
        .map(|(index, id)| Node {
            id: format!("{name}-{id}"),
            address: format!("127.0.0.1:{}", 20000 + index),
            metadata: BTreeMap::from([("protocol".to_owned(), "grpc".to_owned())]),
        })
        .collect();
    Service {
        name: name.into(),
        version: version.into(),
        nodes,
        ..Service::default()
    }
}

/// Polls `check` until it returns `Some`, or panics after [`PROPAGATION`] with `what`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PROPAGATION;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "registry conformance: {what} (waited {PROPAGATION:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The node ids of each version of `name`, or `None` if it is not found.
async fn node_ids(registry: &dyn Registry, name: &str) -> Option<BTreeMap<String, Vec<String>>> {
    let services = registry.get_service(name).await.ok()?;
    let mut versions = BTreeMap::new();
    for service in services {
        assert_eq!(
            service.name, name,
            "get_service({name}) returned another service"
        );
        let mut ids: Vec<String> = service.nodes.iter().map(|node| node.id.clone()).collect();
        ids.sort();
        versions
            .entry(service.version)
            .or_insert_with(Vec::new)
            .extend(ids);
    }
    Some(versions)
}

async fn register_get_list_deregister(registry: &dyn Registry, name: &str) {
    let service = service(name, "1.0.0", &["a"]);
    registry.register(&service, None).await.expect("register");
    let found = eventually("a registered node is found", || async {
        registry
            .get_service(name)
            .await
            .ok()
            .filter(|s| !s.is_empty() && !s[0].nodes.is_empty())
    })
    .await;
    assert_eq!(found[0].version, "1.0.0");
    assert_eq!(
        found[0].nodes[0], service.nodes[0],
        "the node reads back as registered"
    );
    eventually("list_services includes a registered service", || async {
        let listed = registry.list_services().await.ok()?;
        listed.iter().any(|s| s.name == name).then_some(())
    })
    .await;
    registry.deregister(&service).await.expect("deregister");
    eventually("a deregistered service is gone", || async {
        node_ids(registry, name).await.is_none().then_some(())
    })
    .await;
}

async fn versions_and_nodes(registry: &dyn Registry, name: &str) {
    let v1 = service(name, "1", &["a", "b"]);
    let v2 = service(name, "2", &["c"]);
    registry.register(&v1, None).await.expect("register v1");
    registry.register(&v2, None).await.expect("register v2");
    let expected = BTreeMap::from([
        (
            "1".to_owned(),
            vec![format!("{name}-a"), format!("{name}-b")],
        ),
        ("2".to_owned(), vec![format!("{name}-c")]),
    ]);
    eventually("two versions and three nodes are found", || async {
        (node_ids(registry, name).await.as_ref() == Some(&expected)).then_some(())
    })
    .await;
    let only_b = Service {
        nodes: vec![v1.nodes[0].clone()],
        ..v1.clone()
    };
    registry
        .deregister(&only_b)
        .await
        .expect("deregister one node");
    let remaining = BTreeMap::from([
        ("1".to_owned(), vec![format!("{name}-b")]),
        ("2".to_owned(), vec![format!("{name}-c")]),
    ]);
    eventually("deregistering one node leaves the others", || async {
        (node_ids(registry, name).await.as_ref() == Some(&remaining)).then_some(())
    })
    .await;
    registry.deregister(&v1).await.expect("deregister v1");
    registry.deregister(&v2).await.expect("deregister v2");
    eventually("all nodes gone", || async {
        node_ids(registry, name).await.is_none().then_some(())
    })
    .await;
}

/// The next event about node `id`, skipping others.
async fn next_event_for(watcher: &mut Watcher, id: &str, what: &str) -> Event {
    let deadline = Instant::now() + PROPAGATION;
    loop {
        let next = tokio::time::timeout_at(deadline, watcher.next()).await;
        let event = match next {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(err))) => {
                panic!("registry conformance: watch failed while waiting for {what}: {err}")
            }
            Ok(None) => panic!("registry conformance: watch ended while waiting for {what}"),
            Err(_) => panic!("registry conformance: no event for {what} within {PROPAGATION:?}"),
        };
        if event.service.nodes.iter().any(|node| node.id == id) {
            return event;
        }
    }
}

async fn watch_sees_create_update_delete(registry: &dyn Registry, name: &str) {
    let mut one = registry.watch(Some(name)).await.expect("watch one service");
    let mut all = registry.watch(None).await.expect("watch every service");
    let service = service(name, "1", &["w"]);
    let id = service.nodes[0].id.clone();
    registry.register(&service, None).await.expect("register");
    let created = next_event_for(&mut one, &id, "the node's creation").await;
    assert_eq!(created.action, Action::Create);
    assert_eq!(created.service.name, name);
    assert_eq!(
        next_event_for(&mut all, &id, "the creation, watching all")
            .await
            .action,
        Action::Create
    );

    let mut changed = service.clone();
    changed.nodes[0].metadata.insert("zone".into(), "b".into());
    registry
        .register(&changed, None)
        .await
        .expect("register again, changed");
    let updated = next_event_for(&mut one, &id, "the node's change").await;
    assert!(
        matches!(updated.action, Action::Update | Action::Create),
        "a change is an update: {updated:?}"
    );
    assert_eq!(
        updated.service.nodes[0]
            .metadata
            .get("zone")
            .map(String::as_str),
        Some("b")
    );

    registry.deregister(&changed).await.expect("deregister");
    let deleted = next_event_for(&mut one, &id, "the node's removal").await;
    assert_eq!(deleted.action, Action::Delete);
}

async fn ttl_expires_unrefreshed_nodes(registry: &dyn Registry, name: &str) {
    let kept = service(name, "1", &["kept"]);
    let lapsing = service(name, "1", &["lapsing"]);
    registry
        .register(&kept, Some(Duration::from_secs(60)))
        .await
        .expect("register kept");
    registry
        .register(&lapsing, Some(Duration::from_secs(2)))
        .await
        .expect("register lapsing");
    let expected = BTreeMap::from([("1".to_owned(), vec![format!("{name}-kept")])]);
    eventually("a node whose TTL ran out is gone, others stay", || async {
        (node_ids(registry, name).await.as_ref() == Some(&expected)).then_some(())
    })
    .await;
    registry.deregister(&kept).await.expect("deregister");
}

async fn unknown_service_is_not_found(registry: &dyn Registry, name: &str) {
    let err = registry
        .get_service(name)
        .await
        .expect_err("an unknown service is an error");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains(name),
        "the error names the service: {err}"
    );
}
