//! A store confined to one database and table, like go-micro's `store.Scope`.

use std::sync::Arc;

use super::{BoxFuture, Error, ListOptions, ReadOptions, Record, Scope, Store, WriteOptions};

/// Every call goes to its scope, whatever scope the options name: what
/// [`Service::store`](crate::Service::store) hands a service (its name as the database).
#[derive(Debug, Clone)]
pub struct Scoped {
    store: Arc<dyn Store>,
    scope: Scope,
}

impl Scoped {
    /// `store`, confined to `scope`.
    pub fn new(store: Arc<dyn Store>, scope: Scope) -> Scoped {
        Scoped { store, scope }
    }

    /// The scope every call goes to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl Store for Scoped {
    fn read<'a>(
        &'a self,
        key: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Record>, Error>> {
        self.store.read(key, options.scope(self.scope.clone()))
    }

    fn write<'a>(
        &'a self,
        record: &'a Record,
        _options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.store.write(
            record,
            WriteOptions {
                scope: self.scope.clone(),
            },
        )
    }

    fn delete<'a>(&'a self, key: &'a str, _scope: &'a Scope) -> BoxFuture<'a, Result<(), Error>> {
        self.store.delete(key, &self.scope)
    }

    fn list(&self, options: ListOptions) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        self.store.list(ListOptions {
            scope: self.scope.clone(),
            ..options
        })
    }

    fn name(&self) -> &'static str {
        self.store.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn calls_stay_in_the_scope() {
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let billing = Scoped::new(inner.clone(), Scope::new("billing", "micro"));
        billing
            .write(&Record::new("k", "v"), WriteOptions::default())
            .await
            .unwrap();
        assert!(
            inner.read("k", ReadOptions::default()).await.is_err(),
            "not in micro/micro"
        );
        let elsewhere = ReadOptions::default().scope(Scope::new("other", "t"));
        assert_eq!(billing.read("k", elsewhere).await.unwrap()[0].value, "v");
        assert_eq!(billing.list(ListOptions::default()).await.unwrap(), ["k"]);
    }
}
