//! `micro call <service> <Svc.Method> '<json>'`: a unary call without generated code.

use anyhow::bail;
use micro::dynamic::{self, DynamicMessage, Method};
use micro::{Call, JsonOptions};
use serde_json::Value;

use crate::Env;
use crate::cli::CallArgs;
use crate::output::outln;

/// Calls a unary endpoint and prints the reply as JSON.
pub(super) async fn run(env: &Env, args: &CallArgs) -> anyhow::Result<()> {
    let method = match super::method(env, args).await {
        Ok(method) => method,
        // No reflection: a go-micro service, called with the JSON as is, as go-micro's CLI does.
        Err(err) => match super::mucp::call(env, args).await? {
            Some(reply) => return print_value(env, &reply),
            None => return Err(err),
        },
    };
    if method.kind() != micro::server::RpcKind::Unary {
        bail!(
            "{} streams; call it with `micro stream {} {}`",
            method.endpoint(),
            args.service,
            args.endpoint
        );
    }
    let request = parse(&method, args.request.as_deref().unwrap_or("{}"))?;
    let call = env.client.dynamic_unary(&args.service, &method, request);
    let reply = options(env, args, call)
        .await
        .map_err(|status| super::call_error(env, &args.service, &status))?;
    print(env, &reply)
}

/// Reads a request of `method`'s input type from JSON text.
pub(crate) fn parse(method: &Method, text: impl AsRef<[u8]>) -> anyhow::Result<DynamicMessage> {
    dynamic::from_json(&method.input(), text.as_ref(), &JsonOptions::default())
        .map_err(|status| anyhow::anyhow!("{}", status.message()))
}

/// Applies `--metadata`, `--address`, `--token` and `--timeout` to a call.
pub(crate) fn options<T: Send + 'static>(env: &Env, args: &CallArgs, mut call: Call<T>) -> Call<T> {
    for (key, value) in &args.metadata {
        call = call.metadata(&key.to_ascii_lowercase(), value);
    }
    if let Some(address) = &args.address {
        call = call.address(address);
    }
    env.authorize(call).timeout(env.global.timeout)
}

/// Prints a reply: pretty JSON for people, one line for scripts.
pub(crate) fn print(env: &Env, reply: &DynamicMessage) -> anyhow::Result<()> {
    let text = dynamic::to_json(reply, &JsonOptions::default())?;
    if env.output.is_json() {
        outln!("{text}");
    } else {
        let value: Value = serde_json::from_str(&text)?;
        outln!("{value:#}");
    }
    Ok(())
}

/// Prints a reply that is JSON already.
fn print_value(env: &Env, reply: &Value) -> anyhow::Result<()> {
    match env.output.is_json() {
        true => outln!("{reply}"),
        false => outln!("{reply:#}"),
    }
    Ok(())
}

/// Prints one reply of a stream as a JSON line, whatever the output.
pub(crate) fn print_line(reply: &DynamicMessage) -> anyhow::Result<()> {
    outln!("{}", dynamic::to_json(reply, &JsonOptions::default())?);
    Ok(())
}
