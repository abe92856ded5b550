//! The service's data backends: its store (scoped to the service), its sync coordinator and
//! its config.

use std::sync::Arc;

use super::{Choice, Error, Service, built_once};
use crate::config::{self, Config};
use crate::store;
use crate::sync::{self, Coordinator};

impl Service {
    /// Uses `store` instead of the one `--store` names (default: the file store).
    pub fn store_backend(mut self, store: Arc<dyn store::Store>) -> Service {
        self.options.store = Choice::Instance(store);
        self
    }

    /// The service's store (built once from `--store`/`--store-address`), scoped to a database
    /// named after the service (or `--store-database`) and table `micro` (or `--store-table`),
    /// as go-micro v6 scopes `service.Store()`:
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use micro::store::{Record, Store};
    ///
    /// let store = micro::Service::new("billing").parse_flags().store()?;
    /// store.write(&Record::new("invoice/7", "paid"), Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub fn store(&self) -> Result<store::Scoped, Error> {
        let options = self.options_with_flags()?;
        let store = built_once(&self.store, || options.store.build(store::build))?;
        let (database, table) = options.store_scope.clone();
        let scope = store::Scope::new(
            database.unwrap_or_else(|| options.name.clone()),
            table.unwrap_or_else(|| store::DEFAULT_NAME.to_owned()),
        );
        Ok(store::Scoped::new(store, scope))
    }

    /// Uses `coordinator` instead of the one `--sync` names (default: memory).
    pub fn sync_backend(mut self, coordinator: Arc<dyn Coordinator>) -> Service {
        self.options.sync = Choice::Instance(coordinator);
        self
    }

    /// The service's locks and leader election (built once from `--sync`/`--sync-address`):
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use micro::sync::LockOptions;
    ///
    /// let sync = micro::Service::new("billing").parse_flags().sync()?;
    /// let guard = micro::sync::Guard::lock(sync, "invoice/7", LockOptions::default()).await?;
    /// // … one process at a time here …
    /// guard.unlock().await?;
    /// # Ok(()) }
    /// ```
    pub fn sync(&self) -> Result<Arc<dyn Coordinator>, Error> {
        let options = self.options_with_flags()?;
        built_once(&self.sync, || {
            let tls = &options.backend_tls.sync;
            options
                .sync
                .build(|name, addresses| sync::build_with_tls(name, addresses, tls))
        })
    }

    /// Config defaults: the first source of [`config`](Self::config), under every `--config`.
    pub fn config_defaults(mut self, defaults: serde_json::Value) -> Service {
        self.options.config_defaults = defaults;
        self
    }

    /// The service's config (loaded once, then kept up to date): the
    /// [defaults](Self::config_defaults), then each `--config` source in order, later ones
    /// winning. Files and etcd keys are watched; a change that does not parse keeps the last
    /// good config.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// // billing --config /etc/billing.yaml --config env://BILLING
    /// let service = micro::Service::new("billing")
    ///     .config_defaults(serde_json::json!({"invoice": {"due_days": 30}}))
    ///     .parse_flags();
    /// let config = service.config().await?;
    /// let due_days: u32 = config.get("invoice.due_days")?;
    /// # Ok(()) }
    /// ```
    pub async fn config(&self) -> Result<Config, Error> {
        let options = self.options_with_flags()?;
        let config = self
            .config
            .get_or_try_init(|| async {
                let mut builder =
                    Config::builder().source(config::Memory::new(options.config_defaults.clone()));
                for uri in &options.config_sources {
                    let tls = &options.backend_tls.config;
                    builder = builder.boxed_source(config::from_uri_with_tls(uri, tls)?);
                }
                builder.build().await
            })
            .await
            .map_err(|err| Error::config(format!("config: {err}")))?;
        Ok(config.clone())
    }
}
