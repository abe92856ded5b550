//! `micro publish <topic> '<json>'`: a JSON message to a topic, with go-micro's headers.

use anyhow::Context as _;
use micro::broker::{self, Message, TOPIC_HEADER};
use serde_json::json;

use crate::Env;
use crate::cli::PublishArgs;

/// Publishes the message through the `--broker` and prints its id.
pub(super) async fn run(env: &Env, args: &PublishArgs) -> anyhow::Result<()> {
    let body: serde_json::Value = serde_json::from_str(&args.message)
        .with_context(|| format!("the message is not JSON: {}", args.message))?;
    let broker = broker::build(
        &env.global.broker,
        &env.global.broker_address,
        env.registry.clone(),
    )
    .context("cannot open the broker")?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut message = Message::new(serde_json::to_vec(&body)?)
        .header("Content-Type", "application/json")
        .header(TOPIC_HEADER, &args.topic)
        .header("Micro-Id", &id)
        .header("Micro-From-Service", "micro")
        .header(
            micro::trace::TRACEPARENT,
            micro::trace::TraceContext::start().traceparent(),
        );
    for (key, value) in &args.metadata {
        message = message.header(key, value);
    }
    let published = broker.publish(&args.topic, &message).await;
    let _ = broker.disconnect().await;
    published.with_context(|| {
        format!(
            "cannot publish to {} through the {} broker at {}",
            args.topic,
            broker.name(),
            broker.address()
        )
    })?;
    let human = format!("published {id} to {}\n", args.topic);
    env.output
        .print(&human, &json!({ "topic": args.topic, "id": id }));
    Ok(())
}
