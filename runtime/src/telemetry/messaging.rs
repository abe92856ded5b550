//! The spans of messages published and processed, broker messages and events alike, with
//! OpenTelemetry's messaging attributes; the publish's trace travels in the message's
//! `traceparent`.

use super::{Kind, Span, Telemetry};
use crate::trace::TraceContext;

/// What a message's spans are labelled with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    /// The broker or stream backend: `messaging.system` (`memory`, `nats`, `redis`, `http`).
    pub(crate) system: &'a str,
    /// The topic: `messaging.destination.name`.
    pub(crate) topic: &'a str,
    /// The message's id: `messaging.message.id`.
    pub(crate) id: Option<&'a str>,
}

impl Telemetry {
    /// The producer span (`publish <topic>`) of publishing `message`, the child of `parent`
    /// (the `traceparent` of the call being served, if any), and the trace the message
    /// carries as its `traceparent`: the span's, or without an exporter `parent` itself (a new
    /// trace when there is none, which subscribers then continue).
    pub(crate) fn publish(
        &self,
        message: Message<'_>,
        parent: Option<&str>,
    ) -> (TraceContext, Span) {
        if !self.is_on() {
            let trace = parent
                .and_then(TraceContext::parse)
                .unwrap_or_else(TraceContext::start);
            return (trace, Span::none());
        }
        let mut trace = TraceContext::continue_from(parent);
        let topic = message.topic;
        let mut span = self.start(Kind::Producer, || format!("publish {topic}"), &mut trace);
        message.label(&mut span, "publish");
        (trace, span)
    }

    /// The consumer span (`process <topic>`) of handling `message` as a member of `group`,
    /// with `trace`'s ids (continued from the message's `traceparent`, so the child of its
    /// publish).
    pub(crate) fn process(
        &self,
        message: Message<'_>,
        group: Option<&str>,
        trace: &mut TraceContext,
    ) -> Span {
        let topic = message.topic;
        let mut span = self.start(Kind::Consumer, || format!("process {topic}"), trace);
        message.label(&mut span, "process");
        if let Some(group) = group
            && span.is_recording()
        {
            span.set("messaging.consumer.group.name", group.to_owned());
        }
        span
    }
}

impl Message<'_> {
    /// Sets the messaging attributes of `operation` (`publish` or `process`) on `span`.
    fn label(&self, span: &mut Span, operation: &'static str) {
        if !span.is_recording() {
            return;
        }
        span.set("messaging.system", self.system.to_owned());
        span.set("messaging.destination.name", self.topic.to_owned());
        span.set("messaging.operation.type", operation);
        span.set("messaging.operation.name", operation);
        if let Some(id) = self.id {
            span.set("messaging.message.id", id.to_owned());
        }
    }
}
