//! `GET api/events`: Server-Sent Events fed by a registry watch, so the open page refreshes
//! its services as soon as one registers, changes or deregisters. Events: `ready` once the
//! watch runs, `services` (`{"action", "service"}`) per registry change, `problem`
//! (`{"detail"}`) when the watch cannot start or fails; the page then keeps polling. The
//! stream ends on Ctrl-C or SIGTERM, so it does not hold a graceful shutdown open.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use micro::registry::Watcher;
use serde_json::json;
use tokio::sync::mpsc;

use super::Dashboard;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long the browser waits before reconnecting when the stream ends.
const RETRY: Duration = Duration::from_secs(3);

pub(crate) async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(forward(dashboard, sender));
    let events = tokio_stream::wrappers::ReceiverStream::new(receiver);
    Sse::new(futures_util::StreamExt::map(events, Ok))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Watches the registry and sends an event per change, until the page goes away, the watch
/// ends, or the process is asked to stop.
async fn forward(dashboard: Dashboard, events: mpsc::Sender<Event>) {
    let env = &dashboard.env;
    let mut watcher = match env.registry.watch(None).await {
        Ok(watcher) => watcher,
        Err(err) => {
            let detail = format!("cannot watch the {} registry: {err}", env.registry_label);
            let _ = events.send(problem(&detail)).await;
            return;
        }
    };
    if events
        .send(Event::default().event("ready").retry(RETRY).data("{}"))
        .await
        .is_err()
    {
        return;
    }
    tokio::select! {
        () = relay(&mut watcher, &events) => {}
        () = events.closed() => {}
        () = crate::listen::signalled() => {}
    }
}

async fn relay(watcher: &mut Watcher, events: &mpsc::Sender<Event>) {
    while let Some(next) = watcher.next().await {
        let event = match next {
            Ok(change) => {
                let data = json!({
                    "action": change.action.as_str(),
                    "service": change.service.name,
                });
                Event::default().event("services").data(data.to_string())
            }
            Err(err) => problem(&format!("the registry watch failed: {err}")),
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

fn problem(detail: &str) -> Event {
    Event::default()
        .event("problem")
        .data(json!({ "detail": detail }).to_string())
}
