//! `micro auth create account|token|inspect|rules`: JWT accounts and tokens with the keys
//! services take (`--auth-public-key`, `--auth-private-key`), and the rules file they load
//! (`--auth-rules`).

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use micro::auth::{Account, Auth, GenerateOptions, JwtAuth, Token, TokenRequest};

use super::auth_rules::{self, RulesArgs};
use crate::Output;

/// `micro auth`.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuthCommand,
    /// The keys, as services take them.
    #[command(flatten)]
    pub keys: AuthKeys,
}

/// The JWT keys and namespace, with the flags and variables services use.
#[derive(Args, Debug, Clone)]
pub struct AuthKeys {
    /// RSA public key that verifies tokens: base64 of the PEM, as services take it (a PEM
    /// works too).
    #[arg(
        long,
        global = true,
        env = "MICRO_AUTH_PUBLIC_KEY",
        alias = "auth_public_key",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub auth_public_key: Option<String>,
    /// RSA private key that signs accounts and tokens: base64 of the PEM (a PEM works too).
    #[arg(
        long,
        global = true,
        env = "MICRO_AUTH_PRIVATE_KEY",
        alias = "auth_private_key",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub auth_private_key: Option<String>,
    /// The namespace accounts are issued in.
    #[arg(
        long,
        global = true,
        env = "MICRO_AUTH_NAMESPACE",
        alias = "auth_namespace",
        default_value = "micro"
    )]
    pub auth_namespace: String,
}

/// `micro auth` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum AuthCommand {
    /// Create something: `micro auth create account <id>`.
    Create(CreateArgs),
    /// Trade an account's id and secret (or a refresh token) for an access token.
    Token(TokenArgs),
    /// Print the account a token speaks for, or why it is refused.
    Inspect(InspectArgs),
    /// List and edit the JSON rules file services load with `--auth-rules`.
    Rules(RulesArgs),
}

/// `micro auth create`.
#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// What to create.
    #[command(subcommand)]
    pub what: CreateCommand,
}

/// `micro auth create` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum CreateCommand {
    /// An account: prints its id and the secret that gets it tokens.
    Account(AccountArgs),
}

/// `micro auth create account`.
#[derive(Args, Debug, Clone)]
pub struct AccountArgs {
    /// The account's id: a user name, or a service's name.
    pub id: String,
    /// Its scopes, comma-separated (matched by rules).
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Its type.
    #[arg(long = "type", default_value = "user", value_name = "TYPE",
          value_parser = ["user", "service"])]
    pub account_type: String,
    /// How long its secret stays valid.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub expiry: Duration,
    /// Metadata, `key=value`; repeatable.
    #[arg(long = "metadata", short = 'm', value_parser = parse_pair, value_name = "KEY=VALUE")]
    pub metadata: Vec<(String, String)>,
}

/// `micro auth token`.
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// The account's id.
    #[arg(long, requires = "secret", required_unless_present = "refresh_token")]
    pub id: Option<String>,
    /// The account's secret.
    #[arg(long, requires = "id", hide_env_values = true)]
    pub secret: Option<String>,
    /// A refresh token to trade instead of the id and secret.
    #[arg(long, conflicts_with_all = ["id", "secret"])]
    pub refresh_token: Option<String>,
    /// How long the access token lives (the refresh token an hour more).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub expiry: Duration,
}

/// `micro auth inspect`.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// The token (an access token, a refresh token or a secret; `Bearer ` is dropped).
    pub token: String,
}

/// Runs a `micro auth` subcommand.
pub(super) async fn run(output: Output, args: &AuthArgs) -> anyhow::Result<()> {
    let keys = &args.keys;
    match &args.command {
        AuthCommand::Create(CreateArgs {
            what: CreateCommand::Account(account),
        }) => create_account(output, keys, account).await,
        AuthCommand::Token(token) => issue_token(output, keys, token).await,
        AuthCommand::Inspect(inspect) => inspect_token(output, keys, &inspect.token).await,
        AuthCommand::Rules(rules) => auth_rules::run(output, rules),
    }
}

async fn create_account(output: Output, keys: &AuthKeys, args: &AccountArgs) -> anyhow::Result<()> {
    let auth = signer(keys, "create an account")?;
    let mut options = GenerateOptions::default()
        .scopes(args.scopes.iter().filter(|scope| !scope.is_empty()))
        .expiry(args.expiry);
    options.account_type = args.account_type.clone();
    options.metadata = args.metadata.iter().cloned().collect();
    let account = auth
        .generate(&args.id, options)
        .await
        .context("cannot create the account")?;
    let human = format!(
        "{}secret: {}\n(valid for {}; trade it for a token with `micro auth token --id {} --secret …`)\n",
        account_text(&account),
        account.secret,
        humantime::format_duration(args.expiry),
        account.id
    );
    output.print(&human, &serde_json::to_value(&account)?);
    Ok(())
}

async fn issue_token(output: Output, keys: &AuthKeys, args: &TokenArgs) -> anyhow::Result<()> {
    let auth = signer(keys, "issue tokens")?;
    let request = match (&args.refresh_token, &args.id, &args.secret) {
        (Some(refresh), _, _) => TokenRequest::refresh(refresh),
        (None, Some(id), Some(secret)) => TokenRequest::credentials(id, secret),
        _ => anyhow::bail!("pass --id and --secret, or --refresh-token"),
    };
    let token: Token = auth
        .token(request.expiry(args.expiry))
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "the credentials are refused: {err}\n(check --id and --secret, or --refresh-token: \
             they work only with the key pair that made them, until they expire; create the \
             account again if need be)"
            )
        })?;
    output.print(
        &format!("{}\n", token.access_token),
        &serde_json::to_value(&token)?,
    );
    Ok(())
}

async fn inspect_token(output: Output, keys: &AuthKeys, token: &str) -> anyhow::Result<()> {
    let Some(public) = &keys.auth_public_key else {
        anyhow::bail!(
            "inspecting a token needs the public key that verifies it: pass --auth-public-key \
             (base64 PEM, as services take it) or set MICRO_AUTH_PUBLIC_KEY"
        );
    };
    let auth = JwtAuth::new(&keys.auth_namespace, public, None).context("bad auth key")?;
    let account = auth.inspect(token.trim()).await.map_err(|err| {
        anyhow::anyhow!(
            "the token is refused: {err}\n(services with this public key refuse it too; get a \
             new one with `micro auth token`)"
        )
    })?;
    let mut json = serde_json::to_value(&account)?;
    if let Some(object) = json.as_object_mut() {
        object.remove("secret");
    }
    output.print(&account_text(&account), &json);
    Ok(())
}

/// JWT auth that can sign: both keys are needed (the public one checks secrets).
fn signer(keys: &AuthKeys, to: &str) -> anyhow::Result<JwtAuth> {
    let (Some(public), Some(private)) = (&keys.auth_public_key, &keys.auth_private_key) else {
        anyhow::bail!(
            "to {to}, pass the key pair services use: --auth-private-key and \
             --auth-public-key (base64 PEM), or MICRO_AUTH_PRIVATE_KEY and MICRO_AUTH_PUBLIC_KEY"
        );
    };
    JwtAuth::new(&keys.auth_namespace, public, Some(private)).context("bad auth key")
}

/// The account, one field a line.
fn account_text(account: &Account) -> String {
    let mut metadata: Vec<String> = account
        .metadata
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    metadata.sort();
    let rows = [
        ("id", account.id.clone()),
        ("type", account.account_type.clone()),
        ("issuer", account.issuer.clone()),
        ("scopes", account.scopes.join(",")),
        ("metadata", metadata.join(",")),
    ];
    rows.iter()
        .map(|(name, value)| format!("{}\n", format!("{name}: {value}").trim_end()))
        .collect()
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not key=value"))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_print_one_field_a_line() {
        let account = Account {
            id: "alice".into(),
            account_type: "user".into(),
            issuer: "micro".into(),
            scopes: vec!["admin".into(), "blog".into()],
            ..Account::default()
        };
        assert_eq!(
            account_text(&account),
            "id: alice\ntype: user\nissuer: micro\nscopes: admin,blog\nmetadata:\n"
        );
    }
}
