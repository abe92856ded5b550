//! `micro run`: runs every service of a project for local development, as go-micro's
//! `micro run` does — built, started in dependency order with the project's environment,
//! rebuilt and restarted when its sources change, behind the API gateway (and dashboard) on
//! one port. See `docs/run.md`.

mod config;
mod service;
mod watch;

pub use config::{Project, ServiceSpec, load};

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::Env;
use crate::cli::RunArgs;
use service::{Supervised, log};

/// Editors save in bursts: changes are gathered this long before a rebuild.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How long a service's dependents wait for it to be ready.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How often exited services are looked for.
const EXIT_CHECK: Duration = Duration::from_secs(1);

/// Runs the project in `args.dir` until Ctrl-C or SIGTERM, then stops its services in
/// reverse order.
pub async fn run(env: Env, args: RunArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .canonicalize()
        .map_err(|err| anyhow::anyhow!("cannot run {}: {err}", args.dir.display()))?;
    let project = load(&dir)?;
    let variables = variables(&env, &project, &args.env)?;
    if !args.no_gateway {
        serve_gateway(env.clone(), &args.address).await?;
    }
    if let Some(address) = &args.mcp_address {
        serve_mcp(env.clone(), address).await?;
    }
    let mut services: Vec<Supervised> = project
        .services
        .iter()
        .map(|spec| Supervised::new(spec.clone(), variables.clone()))
        .collect();
    for service in &mut services {
        start(service).await;
        if has_dependents(&project, &service.spec.name) {
            wait_until_ready(&env, &service.spec).await;
        }
    }
    let (changed, mut changes) = mpsc::channel(256);
    let dirs: Vec<_> = project.services.iter().map(|s| s.path.clone()).collect();
    let _watcher = match args.no_watch {
        true => None,
        false => Some(watch::watch(&dirs, changed)?),
    };
    let shutdown = crate::listen::shutdown_signal();
    tokio::pin!(shutdown);
    let mut exit_check = tokio::time::interval(EXIT_CHECK);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(first) = changes.recv() => {
                for at in gather(first, &mut changes).await {
                    start(&mut services[at]).await;
                }
            }
            _ = exit_check.tick() => report_exits(&mut services),
        }
    }
    for service in services.iter_mut().rev() {
        service.stop().await;
    }
    Ok(())
}

/// Builds and (re)starts `service`; a failed build is reported and the old process kept.
async fn start(service: &mut Supervised) {
    if let Err(err) = service.build_and_start().await {
        let keeping = match service.is_running() {
            true => "; the running version is kept",
            false => "",
        };
        log(&service.spec.name, &format!("{err:#}{keeping}"));
    }
}

/// The services changed within [`DEBOUNCE`] of the first change.
async fn gather(first: usize, changes: &mut mpsc::Receiver<usize>) -> BTreeSet<usize> {
    let mut changed = BTreeSet::from([first]);
    tokio::time::sleep(DEBOUNCE).await;
    while let Ok(more) = changes.try_recv() {
        changed.insert(more);
    }
    changed
}

fn report_exits(services: &mut [Supervised]) {
    for service in services {
        if let Some(status) = service.exited() {
            log(
                &service.spec.name,
                &format!("exited ({status}); it restarts when its sources change"),
            );
        }
    }
}

/// What every service is started with: where the registry and broker are (as `micro`
/// itself was told), and the variables of the project's environment `name`.
fn variables(env: &Env, project: &Project, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let global = &env.global;
    let mut variables = vec![
        ("MICRO_REGISTRY".to_owned(), global.registry.clone()),
        ("MICRO_BROKER".to_owned(), global.broker.clone()),
    ];
    if !global.registry_address.is_empty() {
        let addresses = global.registry_address.join(",");
        variables.push(("MICRO_REGISTRY_ADDRESS".to_owned(), addresses));
    }
    if !global.broker_address.is_empty() {
        let addresses = global.broker_address.join(",");
        variables.push(("MICRO_BROKER_ADDRESS".to_owned(), addresses));
    }
    if project.envs.is_empty() {
        return Ok(variables);
    }
    let Some(chosen) = project.envs.get(name) else {
        let known: Vec<&str> = project.envs.keys().map(String::as_str).collect();
        bail!(
            "no environment `{name}`: the project defines {}; pick one with --env",
            known.join(", ")
        );
    };
    variables.extend(chosen.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(variables)
}

fn has_dependents(project: &Project, name: &str) -> bool {
    project
        .services
        .iter()
        .any(|service| service.depends.iter().any(|needed| needed == name))
}

/// Waits until `spec` is ready: `GET /health/ready` answers 200 on its port, or (without a
/// port) the registry lists it. Gives up after [`READY_WITHIN`] with a warning.
async fn wait_until_ready(env: &Env, spec: &ServiceSpec) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < READY_WITHIN {
        let ready = match spec.port {
            Some(port) => health_ready(port).await,
            None => registered(env, &spec.name).await,
        };
        if ready {
            log(&spec.name, "ready");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log(
        &spec.name,
        "not ready after 60 s (no 200 from /health/ready on its port, or not registered under \
         its name); starting what depends on it anyway",
    );
}

async fn health_ready(port: u16) -> bool {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let Ok(url) = format!("http://127.0.0.1:{port}/health/ready").parse() else {
        return false;
    };
    let answer = tokio::time::timeout(Duration::from_secs(2), client.get(url)).await;
    matches!(answer, Ok(Ok(response)) if response.status() == http::StatusCode::OK)
}

async fn registered(env: &Env, name: &str) -> bool {
    env.registry
        .get_service(name)
        .await
        .is_ok_and(|versions| versions.iter().any(|version| !version.nodes.is_empty()))
}

async fn serve_gateway(env: Env, address: &str) -> anyhow::Result<()> {
    let listener = crate::listen::bind(address).await?;
    let local = listener.local_addr()?;
    eprintln!("micro run: gateway on http://{local} (dashboard at http://{local}/dashboard/)");
    let gateway = crate::gateway::Gateway::new(env);
    tokio::spawn(gateway.run(listener, std::future::pending()));
    Ok(())
}

async fn serve_mcp(env: Env, address: &str) -> anyhow::Result<()> {
    let listener = crate::listen::bind(address).await?;
    let local = listener.local_addr()?;
    let token = env.global.token.clone();
    let toolbox = std::sync::Arc::new(crate::mcp::Toolbox::new(env, Default::default()));
    let server = crate::mcp::McpServer::new(toolbox, token);
    let router = crate::mcp::http_router(server, crate::mcp::allowed_hosts(&[]));
    eprintln!("micro run: MCP (streamable HTTP) on http://{local}/mcp");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(())
}
