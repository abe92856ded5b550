//! The inventory service: stock in the service's store, changed under a distributed lock per
//! product, with a per-order limit read from config that reloads while it runs. Run as many
//! instances as you like; together they never oversell.
//!
//! ```sh
//! cargo run -p examples --bin inventory                     # file store, memory sync, mDNS
//! echo '{"inventory": {"max_per_order": 5}}' > inventory.json
//! cargo run -p examples --bin inventory -- --config inventory.json     # edit it while it runs
//! # several instances (cargo feature `full`): etcd for discovery and locks, Postgres for stock
//! cargo run -p examples --features full --bin inventory -- --registry etcd \
//!     --registry-address 127.0.0.1:2379 --sync etcd --sync-address 127.0.0.1:2379 \
//!     --store postgres --store-address postgresql://postgres@127.0.0.1:5432/postgres
//! curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Inventory.Restock' \
//!     -d '{"sku":"tea","quantity":10}' http://localhost:PORT
//! ```

use std::sync::Arc;
use std::time::Duration;

use examples::inventory::{
    InventoryHandler, InventoryServer, ReserveRequest, ReserveResponse, RestockRequest,
    StockRequest, StockResponse,
};
use micro::config::Config;
use micro::store::{self, ErrorKind, ReadOptions, Record, Store};
use micro::sync::{self, Coordinator, Guard, LockOptions};
use micro::{Context, Service, Status};

/// The most one reservation may take unless config says otherwise.
const MAX_PER_ORDER: u64 = 10;

struct Inventory {
    store: store::Scoped,
    sync: Arc<dyn Coordinator>,
    config: Config,
    node: String,
}

impl Inventory {
    /// Holds the lock of `sku` (held at most 10 s if this instance dies; waits up to 5 s).
    async fn lock(&self, sku: &str) -> Result<Guard, Status> {
        let options = LockOptions::default()
            .ttl(Duration::from_secs(10))
            .wait(Duration::from_secs(5));
        Guard::lock(self.sync.clone(), format!("inventory/{sku}"), options)
            .await
            .map_err(|err| match err.kind() {
                sync::ErrorKind::LockTimeout => Status::aborted(err.to_string()),
                _ => Status::unavailable(err.to_string()),
            })
    }

    async fn quantity(&self, sku: &str) -> Result<u64, Status> {
        match self.store.read(sku, ReadOptions::default()).await {
            Ok(records) => std::str::from_utf8(&records[0].value)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| Status::data_loss(format!("the stock of {sku} is not a number"))),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(0),
            Err(err) => Err(Status::unavailable(err.to_string())),
        }
    }

    async fn set_quantity(&self, sku: &str, quantity: u64) -> Result<(), Status> {
        let record = Record::new(sku, quantity.to_string()).metadata("node", self.node.clone());
        self.store
            .write(&record, Default::default())
            .await
            .map_err(|err| Status::unavailable(err.to_string()))
    }

    /// Runs `change` on the stock of `sku` under its lock and stores the result.
    async fn change(
        &self,
        sku: &str,
        change: impl FnOnce(u64) -> Result<u64, Status>,
    ) -> Result<u64, Status> {
        if sku.is_empty() {
            return Err(Status::invalid_argument("a sku is required"));
        }
        let guard = self.lock(sku).await?;
        let changed = match change(self.quantity(sku).await?) {
            Ok(quantity) => self.set_quantity(sku, quantity).await.map(|()| quantity),
            Err(status) => Err(status),
        };
        if let Err(err) = guard.unlock().await {
            eprintln!("inventory: unlocking {sku}: {err}");
        }
        changed
    }
}

impl InventoryHandler for Inventory {
    async fn reserve(&self, _ctx: Context, req: ReserveRequest) -> Result<ReserveResponse, Status> {
        let max = self.config.get_or("inventory.max_per_order", MAX_PER_ORDER);
        if req.quantity == 0 || req.quantity > max {
            return Err(Status::invalid_argument(format!(
                "quantity must be 1 to {max} (inventory.max_per_order)"
            )));
        }
        let left = self
            .change(&req.sku, |stock| {
                stock.checked_sub(req.quantity).ok_or_else(|| {
                    Status::failed_precondition(format!("only {stock} of {} left", req.sku))
                })
            })
            .await?;
        Ok(ReserveResponse {
            left,
            node: self.node.clone(),
        })
    }

    async fn restock(&self, _ctx: Context, req: RestockRequest) -> Result<StockResponse, Status> {
        let quantity = self
            .change(&req.sku, |stock| {
                stock
                    .checked_add(req.quantity)
                    .ok_or_else(|| Status::out_of_range("the stock would overflow"))
            })
            .await?;
        Ok(StockResponse {
            sku: req.sku,
            quantity,
        })
    }

    async fn stock(&self, _ctx: Context, req: StockRequest) -> Result<StockResponse, Status> {
        let quantity = self.quantity(&req.sku).await?;
        Ok(StockResponse {
            sku: req.sku,
            quantity,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = Service::new("inventory").parse_flags();
    let inventory = Inventory {
        store: service.store()?,
        sync: service.sync()?,
        config: service.config().await?,
        node: service.id(),
    };
    eprintln!("inventory: node {} ready", inventory.node);
    Ok(service
        .handle(InventoryServer::new(inventory))
        .run()
        .await?)
}
