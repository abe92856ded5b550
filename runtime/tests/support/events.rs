//! Helpers for the event stream backends' tests: waiting for events, reading payloads, and
//! capturing log lines.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::events::{Consumer, Event};

/// The next event within `within`, panicking with `what` otherwise.
pub async fn next(consumer: &mut Consumer, within: Duration, what: &str) -> Event {
    match tokio::time::timeout(within, consumer.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the consumer ended while waiting for {what}"),
        Err(_) => panic!("{what} did not arrive within {within:?}"),
    }
}

pub fn text(event: &Event) -> String {
    String::from_utf8_lossy(&event.payload).into_owned()
}

/// Log lines, as `tracing`'s formatter writes them, for assertions about warnings.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures this thread's logs (a `#[tokio::test]` runs its tasks on it) while the guard lives.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
