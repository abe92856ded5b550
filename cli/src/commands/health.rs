//! `micro health <service>`: asks each node's `grpc.health.v1` how it is.

use anyhow::bail;
use micro::dynamic::{HealthStatus, check_health};
use serde_json::json;

use super::describe::nodes;
use crate::Env;
use crate::cli::HealthArgs;
use crate::output::{DIM, ERROR, GOOD, styled, table};

/// One node's answer.
struct Checked {
    id: String,
    address: String,
    status: Result<HealthStatus, micro::Status>,
}

/// Checks every node of the service (or the one at `--address`); fails unless all serve.
pub(super) async fn run(env: &Env, args: &HealthArgs) -> anyhow::Result<()> {
    let targets = match &args.address {
        Some(address) => vec![(String::new(), address.clone())],
        None => nodes(env, &args.service)
            .await?
            .into_iter()
            .map(|node| (node.id, node.address))
            .collect(),
    };
    let checks = targets.into_iter().map(|(id, address)| async move {
        let status = check_health(&env.client, &args.service, Some(&address)).await;
        Checked {
            id,
            address,
            status,
        }
    });
    let checked = futures_util::future::join_all(checks).await;
    print(env, &args.service, &checked);
    let failing = checked
        .iter()
        .filter(|check| !matches!(check.status, Ok(HealthStatus::Serving)))
        .count();
    if failing > 0 {
        bail!(
            "{failing} of {} nodes of {} are not serving",
            checked.len(),
            args.service
        );
    }
    Ok(())
}

fn print(env: &Env, service: &str, checked: &[Checked]) {
    let rows: Vec<Vec<String>> = checked
        .iter()
        .map(|check| {
            let status = match &check.status {
                Ok(HealthStatus::Serving) => styled(GOOD, "SERVING"),
                Ok(other) => styled(ERROR, other),
                Err(err) => format!(
                    "{} {}",
                    styled(ERROR, "UNREACHABLE"),
                    styled(DIM, err.message())
                ),
            };
            vec![check.id.clone(), check.address.clone(), status]
        })
        .collect();
    let json: Vec<_> = checked
        .iter()
        .map(|check| match &check.status {
            Ok(status) => json!({ "service": service, "node": check.id, "address": check.address, "status": status.to_string() }),
            Err(err) => json!({ "service": service, "node": check.id, "address": check.address, "status": "UNREACHABLE", "error": err.message() }),
        })
        .collect();
    env.output
        .print(&table(&["NODE", "ADDRESS", "STATUS"], &rows), &json.into());
}
