//! What auth costs on unary calls: the same service and client, without auth, with JWT auth
//! (the server inspects an RS256 token and verifies the rules on every call; the client sends
//! a token from its account, refreshed in the background), and over mTLS (certificates from
//! the built-in CA; the client checks the server's identity).
//!
//! ```sh
//! cargo run --release -p micro-benches --bin auth                  # or scripts/bench.sh auth
//! cargo run --release -p micro-benches --bin auth -- --concurrency 1 --requests 20000
//! ```

mod greeter;
mod load;

use std::sync::Arc;

use clap::Parser;
use greeter::{Greeter, caller, greet, pb};
use micro::auth::{
    Auth, CertificateAuthority, GenerateOptions, JwtAuth, MemoryRules, ServerAuth, ServiceTls,
    TokenSource,
};

/// Auth cost benchmark: JWT auth vs none, same stack.
#[derive(Parser)]
struct Args {
    /// Requests per round.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Concurrent callers.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Rounds per stack; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

async fn serve(
    auth: Option<ServerAuth>,
    tls: Option<ServiceTls>,
) -> anyhow::Result<micro::RunningService> {
    let mut service = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(Arc::new(micro::registry::MemoryRegistry::new()))
        .handle(pb::HelloworldServer::new(Greeter));
    if let Some(auth) = auth {
        service = service.auth(auth);
    }
    if let Some(tls) = tls {
        service = service.tls(tls);
    }
    Ok(service.start().await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let jwt = Arc::new(JwtAuth::generate_keys("micro")?);
    let account = jwt.generate("bench", GenerateOptions::service()).await?;

    let plain = serve(None, None).await?;
    let guarded = serve(
        Some(ServerAuth::new(
            jwt.clone(),
            Arc::new(MemoryRules::any_account()),
        )),
        None,
    )
    .await?;
    let tls = ServiceTls::new(Arc::new(CertificateAuthority::generate("micro")?));
    let mtls = serve(None, Some(tls.clone())).await?;
    let mtls_client = pb::HelloworldClient::new(
        micro::Client::builder()
            .address(mtls.local_addr().to_string())
            .tls(&tls, "bench")
            .build()?,
    )
    .with_service("helloworld");
    let plain_client = pb::HelloworldClient::new(
        micro::Client::builder()
            .address(plain.local_addr().to_string())
            .build()?,
    );
    let source = Arc::new(TokenSource::new(jwt.clone(), "bench", &account.secret));
    let jwt_client = pb::HelloworldClient::new(
        micro::Client::builder()
            .address(guarded.local_addr().to_string())
            .token_source(source)
            .build()?,
    );

    let (plain_caller, jwt_caller, mtls_caller) = (
        caller(&plain_client),
        caller(&jwt_client),
        caller(&mtls_client),
    );
    let call = greet;
    let (requests, concurrency) = (args.requests, args.concurrency);
    load::round(requests / 10, concurrency, plain_caller, call).await;
    load::round(requests / 10, concurrency, jwt_caller, call).await;
    load::round(requests / 10, concurrency, mtls_caller, call).await;
    let measured = load::rotate(3, args.rounds, |stack| match stack {
        0 => Box::pin(load::round(requests, concurrency, plain_caller, call)),
        1 => Box::pin(load::round(requests, concurrency, jwt_caller, call)),
        _ => Box::pin(load::round(requests, concurrency, mtls_caller, call)),
    })
    .await;
    println!(
        "unary echo with and without auth, {requests} requests x {} rounds, concurrency \
         {concurrency} (median round)",
        args.rounds
    );
    let names = ["micro, no auth", "micro, JWT auth", "micro, mTLS"];
    load::print_table(
        "stack",
        &names.into_iter().zip(measured).collect::<Vec<_>>(),
    );
    plain.stop().await?;
    guarded.stop().await?;
    mtls.stop().await?;
    Ok(())
}
