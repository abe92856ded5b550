//! Every call gets a tracing span with its service, endpoint, peer, trace id, status and
//! latency.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::kitchen::GetRequest;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

type Fields = HashMap<String, String>;

/// Records the fields of every `rpc` span, in creation order.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(Id, Fields)>>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "rpc" {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            self.0.lock().unwrap().push((id.clone(), fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().find(|(span, _)| span == id) {
            values.record(&mut Collect(fields));
        }
    }
}

#[tokio::test]
async fn each_call_records_a_span_with_its_outcome() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let (service, kitchen, _) = support::start_kitchen().await;
    kitchen
        .get(GetRequest { id: "apple".into() })
        .await
        .unwrap();
    kitchen
        .get(GetRequest {
            id: "missing".into(),
        })
        .await
        .unwrap_err();
    service.stop().await.unwrap();

    let spans = spans.0.lock().unwrap();
    let fields: Vec<&Fields> = spans.iter().map(|(_, fields)| fields).collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    for (span, status) in fields.iter().zip(["Ok", "NotFound"]) {
        assert_eq!(span["service"], "kitchen");
        assert_eq!(span["endpoint"], "Kitchen.Get");
        assert_eq!(span["status"], status);
        assert!(span["peer"].starts_with("127.0.0.1:"), "{span:?}");
        assert!(span["latency_us"].parse::<u64>().is_ok(), "{span:?}");
        let trace_id = &span["trace_id"];
        assert!(
            trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{span:?}"
        );
    }
    assert_ne!(
        fields[0]["trace_id"], fields[1]["trace_id"],
        "each call starts a trace"
    );
}
