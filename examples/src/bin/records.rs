//! The records service: stores messages made of well-known types (Timestamp, Duration, Struct,
//! Any, wrappers, Value) and reads them back, over gRPC or JSON alike.
//!
//! ```sh
//! cargo run -p examples --bin records            # listens on 127.0.0.1:8080
//! curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Records.Put' \
//!     -d '{"id":"r1","ttl":"3.5s","attributes":{"owner":"ann"},"note":"first",
//!          "extra":{"@type":"type.googleapis.com/records.Tag","name":"blue"}}' \
//!     http://localhost:8080
//! curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Records.Get' \
//!     -d '{"id":"r1"}' http://localhost:8080
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use examples::records::{GetRequest, Record, RecordsHandler, RecordsServer};
use micro::{Context, Service, Status};

#[derive(Default)]
struct Records {
    stored: Mutex<HashMap<String, Record>>,
}

impl Records {
    fn stored(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave a map half-written.
        self.stored
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RecordsHandler for Records {
    async fn put(&self, _ctx: Context, mut record: Record) -> Result<Record, Status> {
        if record.id.is_empty() {
            return Err(Status::invalid_argument("a record needs an id"));
        }
        record
            .created
            .get_or_insert_with(|| SystemTime::now().into());
        self.stored().insert(record.id.clone(), record.clone());
        Ok(record)
    }

    async fn get(&self, _ctx: Context, request: GetRequest) -> Result<Record, Status> {
        self.stored()
            .get(&request.id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no record `{}`", request.id)))
    }

    async fn clear(&self, _ctx: Context, _request: ()) -> Result<(), Status> {
        self.stored().clear();
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    Service::new("records")
        .address("127.0.0.1:8080")
        .handle(RecordsServer::new(Records::default()))
        .run()
        .await
}
