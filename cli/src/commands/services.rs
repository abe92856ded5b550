//! `micro services`: what the registry holds.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde_json::json;

use crate::Env;
use crate::output::{BOLD, styled, table};

/// One service as listed: its versions and how many nodes run it.
#[derive(Debug, Default)]
struct Listed {
    versions: Vec<String>,
    nodes: usize,
}

/// Lists every registered service with its versions and node count.
pub(super) async fn run(env: &Env) -> anyhow::Result<()> {
    let listed = list(env).await?;
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|(name, service)| {
            vec![
                styled(BOLD, name),
                service.versions.join(","),
                service.nodes.to_string(),
            ]
        })
        .collect();
    let human = if rows.is_empty() {
        format!(
            "no services registered in the {} registry\n",
            env.registry_label
        )
    } else {
        table(&["SERVICE", "VERSION", "NODES"], &rows)
    };
    let json: Vec<_> = listed
        .iter()
        .map(|(name, service)| {
            json!({ "name": name, "versions": service.versions, "nodes": service.nodes })
        })
        .collect();
    env.output.print(&human, &json.into());
    Ok(())
}

async fn list(env: &Env) -> anyhow::Result<BTreeMap<String, Listed>> {
    let services = env.registry.list_services().await.with_context(|| {
        format!(
            "cannot list the services in the {} registry",
            env.registry_label
        )
    })?;
    let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
    for name in services.into_iter().map(|service| service.name) {
        if listed.contains_key(&name) {
            continue;
        }
        // Some registries list services without their nodes; ask for each.
        let versions = env.registry.get_service(&name).await.unwrap_or_default();
        let entry = listed.entry(name).or_default();
        for version in versions {
            entry.nodes += version.nodes.len();
            if !entry.versions.contains(&version.version) {
                entry.versions.push(version.version);
            }
        }
    }
    Ok(listed)
}
