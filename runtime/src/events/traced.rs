//! A service's stream with OpenTelemetry spans: each publish a producer span whose context the
//! event carries as `traceparent` metadata, each delivery a consumer span, its child, that ends
//! when the event is settled.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{BoxFuture, ConsumeOptions, Consumer, Error, EventStream, PublishOptions};
use crate::telemetry::{Message, Telemetry};
use crate::trace::{TRACEPARENT, TraceContext};

/// `stream`, whose publishes and deliveries `telemetry` exports as spans if it exports any.
pub(crate) fn traced(stream: Arc<dyn EventStream>, telemetry: Telemetry) -> Arc<dyn EventStream> {
    match telemetry.is_on() {
        true => Arc::new(Traced {
            inner: stream,
            telemetry,
        }),
        false => stream,
    }
}

/// A stream whose publishes and deliveries are spans.
#[derive(Debug)]
struct Traced {
    inner: Arc<dyn EventStream>,
    telemetry: Telemetry,
}

impl EventStream for Traced {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
        mut options: PublishOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let id = options
            .id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        // The publisher's own `traceparent`, else the call being served.
        let parent = options.metadata.get(TRACEPARENT).cloned().or_else(|| {
            let ctx = crate::Context::current()?;
            ctx.trace().map(TraceContext::traceparent)
        });
        let message = Message {
            system: self.inner.name(),
            topic,
            id: Some(&id),
        };
        let (trace, mut span) = self.telemetry.publish(message, parent.as_deref());
        options
            .metadata
            .insert(TRACEPARENT.to_owned(), trace.traceparent());
        Box::pin(async move {
            let published = self.inner.publish(topic, payload, options).await;
            if let Err(err) = &published {
                span.fail(err);
            }
            published
        })
    }

    fn consume<'a>(
        &'a self,
        topic: &'a str,
        options: ConsumeOptions,
    ) -> BoxFuture<'a, Result<Consumer, Error>> {
        let group = options.group.clone();
        Box::pin(async move {
            let consumer = self.inner.consume(topic, options).await?;
            let (telemetry, system, topic) =
                (self.telemetry.clone(), self.inner.name(), topic.to_owned());
            let traced = consumer.map(move |event| {
                let parent = event.metadata.get(TRACEPARENT).map(String::as_str);
                let mut trace = TraceContext::continue_from(parent);
                let message = Message {
                    system,
                    topic: &topic,
                    id: Some(&event.id),
                };
                let span = telemetry.process(message, group.as_deref(), &mut trace);
                event.with_span(span)
            });
            Ok(Consumer::new(traced))
        })
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
