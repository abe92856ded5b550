//! Lists the services in a registry, with their versions, nodes and endpoints; `--watch` then
//! prints changes as they happen. (The `micro services` command will grow from this.)
//!
//! Run it:
//!
//! ```sh
//! cargo run -p examples --bin services                                  # mDNS
//! cargo run -p examples --features full --bin services -- \
//!     --registry etcd --registry-address 127.0.0.1:2379 --watch
//! ```

use std::time::Duration;

use clap::Parser;
use micro::registry::{self, Registry, Service};

/// Lists services and nodes from a registry.
#[derive(Parser)]
struct Args {
    /// Registry to read: mdns, etcd or memory.
    #[arg(long, env = "MICRO_REGISTRY", default_value = "mdns")]
    registry: String,
    /// Registry addresses (etcd), comma-separated.
    #[arg(long, env = "MICRO_REGISTRY_ADDRESS", value_delimiter = ',')]
    registry_address: Vec<String>,
    /// Only this service.
    #[arg(long)]
    service: Option<String>,
    /// Keep running and print changes.
    #[arg(long)]
    watch: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let registry = registry::build(&args.registry, &args.registry_address)?;
    let names: Vec<String> = match &args.service {
        Some(name) => vec![name.clone()],
        None => {
            let mut names: Vec<String> = registry
                .list_services()
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect();
            names.sort();
            names.dedup();
            names
        }
    };
    for name in &names {
        match registry.get_service(name).await {
            Ok(versions) => versions.iter().for_each(print_service),
            Err(err) if err.kind() == registry::ErrorKind::NotFound => println!("{name}: no nodes"),
            Err(err) => return Err(err.into()),
        }
    }
    if names.is_empty() {
        println!("no services in the {} registry", registry.name());
    }
    if args.watch {
        watch(&*registry, args.service.as_deref()).await?;
    }
    Ok(())
}

fn print_service(service: &Service) {
    println!("{} {}", service.name, service.version);
    for node in &service.nodes {
        let metadata: Vec<String> = node
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  node {} {} {}", node.id, node.address, metadata.join(","));
    }
    for endpoint in &service.endpoints {
        let stream = if endpoint.metadata.contains_key("stream") {
            " (stream)"
        } else {
            ""
        };
        println!("  endpoint {}{stream}", endpoint.name);
    }
}

async fn watch(registry: &dyn Registry, service: Option<&str>) -> anyhow::Result<()> {
    let mut watcher = registry.watch(service).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(3600), watcher.next()).await {
            Ok(Some(Ok(event))) => {
                for node in &event.service.nodes {
                    println!(
                        "{} {} {} {}",
                        event.action.as_str(),
                        event.service.name,
                        node.id,
                        node.address
                    );
                }
            }
            Ok(Some(Err(err))) => eprintln!("watch: {err}"),
            Ok(None) => return Ok(()),
            Err(_) => {}
        }
    }
}
