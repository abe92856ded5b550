//! Creates an account with the shared auth keys and prints its credentials and an access token:
//! what a service needs for `--auth-id`/`--auth-secret`, and what curl needs for
//! `Authorization: Bearer …`. (The `micro` CLI will do this as `micro auth create account`.)
//!
//! ```sh
//! openssl genrsa -out auth.key 2048 && openssl rsa -in auth.key -pubout -out auth.pub
//! export MICRO_AUTH=jwt MICRO_AUTH_PUBLIC_KEY=$(base64 -w0 auth.pub) \
//!        MICRO_AUTH_PRIVATE_KEY=$(base64 -w0 auth.key)
//! cargo run -p examples --bin auth-account -- frontend --scope service --expiry 24h
//! # MICRO_AUTH_ID=frontend
//! # MICRO_AUTH_SECRET=eyJ…
//! # TOKEN=eyJ…
//! ```
//!
//! See docs/auth.md for the whole walk-through.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use micro::Flags;
use micro::auth::{Auth, GenerateOptions, JwtAuth, TokenRequest};

/// Creates an auth account and prints `MICRO_AUTH_ID`, `MICRO_AUTH_SECRET` and a `TOKEN`.
#[derive(Parser)]
struct Args {
    /// The account's id (a service's name, or a user's).
    id: String,
    /// Scopes rules can match; repeat or separate with commas.
    #[arg(long = "scope", value_delimiter = ',')]
    scopes: Vec<String>,
    /// The account's type.
    #[arg(long = "type", default_value = "service")]
    account_type: String,
    /// How long the secret stays valid, in hours.
    #[arg(long, default_value_t = 24)]
    expiry_hours: u64,
    #[command(flatten)]
    micro: Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let public =
        args.micro.auth_public_key.as_deref().context(
            "pass the shared keys: --auth-public-key and --auth-private-key (base64 PEM)",
        )?;
    let private = args.micro.auth_private_key.as_deref();
    let namespace = args.micro.auth_namespace.as_deref().unwrap_or("micro");
    let auth = JwtAuth::new(namespace, public, private)?;
    let options = GenerateOptions {
        account_type: args.account_type,
        ..GenerateOptions::default()
    }
    .scopes(args.scopes)
    .expiry(Duration::from_secs(args.expiry_hours * 3600));
    let account = auth.generate(&args.id, options).await?;
    let token = auth
        .token(TokenRequest::credentials(&account.id, &account.secret))
        .await?;
    println!("MICRO_AUTH_ID={}", account.id);
    println!("MICRO_AUTH_SECRET={}", account.secret);
    println!("TOKEN={}", token.access_token);
    Ok(())
}
