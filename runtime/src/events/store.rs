//! Event history kept in memory.
use super::{BoxFuture, Error, Event, ReadOptions, Store, WriteOptions};
/// Memory store.
#[derive(Debug, Default)]
pub struct MemoryStore;
impl Store for MemoryStore {
    fn read<'a>(
        &'a self,
        _topic: &'a str,
        _options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Event>, Error>> {
        todo!()
    }
    fn write<'a>(
        &'a self,
        _event: &'a Event,
        _options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        todo!()
    }
}
