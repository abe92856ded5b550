//! The in-process coordinator: a table of holds, with waiters woken when one is released.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::types::{validate, validate_id};
use super::{BoxFuture, Coordinator, Error, Fence, Leader, LeaderOptions, LockOptions};

/// A [`Coordinator`] for one process. Each `MemorySync` is a node; [`MemorySync::node`] makes
/// more nodes sharing its locks, as processes share an etcd. A node dropped while holding
/// locks keeps them for their TTL, as a process that died would. Fences come from a counter
/// the nodes share, starting at 1.
pub struct MemorySync {
    node: Arc<Node>,
}

/// A node's identity; when the last handle on it goes (the coordinator and its leaders), its
/// holds start to lapse.
struct Node {
    shared: Arc<Shared>,
    id: u64,
}

#[derive(Default)]
struct Shared {
    holds: Mutex<HashMap<String, Hold>>,
    released: Notify,
    /// The last node id given out.
    nodes: AtomicU64,
    /// The last fence given out.
    fences: AtomicU64,
}

struct Hold {
    node: u64,
    fence: Fence,
    ttl: Duration,
    /// When the hold lapses: set once its node is dropped.
    expires: Option<Instant>,
    /// A leader's status, told when the hold goes.
    status: Option<Arc<watch::Sender<bool>>>,
}

impl MemorySync {
    /// A coordinator with no locks held.
    pub fn new() -> MemorySync {
        MemorySync::joining(Arc::new(Shared::default()))
    }

    /// Another node sharing this one's locks and elections.
    pub fn node(&self) -> MemorySync {
        MemorySync::joining(self.node.shared.clone())
    }

    fn joining(shared: Arc<Shared>) -> MemorySync {
        let id = shared.nodes.fetch_add(1, Ordering::Relaxed);
        MemorySync {
            node: Arc::new(Node { shared, id }),
        }
    }

    /// Takes `id` for this node, waiting as `options` say; returns the hold's fence.
    async fn acquire(
        &self,
        id: &str,
        options: LockOptions,
        status: Option<Arc<watch::Sender<bool>>>,
    ) -> Result<Fence, Error> {
        validate(id, &options)?;
        let deadline = options.wait.map(|wait| (Instant::now() + wait, wait));
        loop {
            let released = self.node.shared.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let taken = self
                .node
                .shared
                .try_take(id, self.node.id, options.ttl, &status);
            let lapses = match taken {
                Ok(fence) => return Ok(fence),
                Err(lapses) => lapses,
            };
            if let Some((deadline, wait)) = deadline
                && Instant::now() >= deadline
            {
                return Err(Error::lock_timeout(id, wait));
            }
            match lapses.into_iter().chain(deadline.map(|(at, _)| at)).min() {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, released).await;
                }
                None => released.await,
            }
        }
    }
}

impl Default for MemorySync {
    fn default() -> MemorySync {
        MemorySync::new()
    }
}

impl Shared {
    fn holds(&self) -> MutexGuard<'_, HashMap<String, Hold>> {
        self.holds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `id` if it is free or its hold lapsed; otherwise when the hold lapses, if known.
    fn try_take(
        &self,
        id: &str,
        node: u64,
        ttl: Duration,
        status: &Option<Arc<watch::Sender<bool>>>,
    ) -> Result<Fence, Option<Instant>> {
        let mut holds = self.holds();
        if let Some(hold) = holds.get(id) {
            match hold.expires {
                Some(at) if at <= Instant::now() => {}
                lapses => return Err(lapses),
            }
        }
        // Under the holds' lock: fences grow in the order holds are taken.
        let fence = Fence::new(self.fences.fetch_add(1, Ordering::Relaxed) + 1);
        let hold = Hold {
            node,
            fence,
            ttl,
            expires: None,
            status: status.clone(),
        };
        if let Some(lapsed) = holds.insert(id.to_owned(), hold) {
            lapsed.lost();
        }
        Ok(fence)
    }

    /// Releases `id` if `held` says it is still the hold this caller took; whether it was.
    fn release(&self, id: &str, held: impl Fn(&Hold) -> bool) -> bool {
        let mut holds = self.holds();
        let released = match holds.get(id) {
            Some(hold) if held(hold) => holds.remove(id),
            _ => None,
        };
        drop(holds);
        let Some(hold) = released else { return false };
        hold.lost();
        self.released.notify_waiters();
        true
    }
}

impl Hold {
    fn lost(&self) {
        if let Some(status) = &self.status {
            status.send_replace(false);
        }
    }
}

impl Coordinator for MemorySync {
    fn lock<'a>(
        &'a self,
        id: &'a str,
        options: LockOptions,
    ) -> BoxFuture<'a, Result<Fence, Error>> {
        Box::pin(self.acquire(id, options, None))
    }

    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            validate_id(id)?;
            let node = self.node.id;
            let mine = |hold: &Hold| hold.node == node && hold.expires.is_none();
            match self.node.shared.release(id, mine) {
                true => Ok(()),
                false => Err(Error::not_held(id)),
            }
        })
    }

    fn leader<'a>(
        &'a self,
        id: &'a str,
        options: LeaderOptions,
    ) -> BoxFuture<'a, Result<Leader, Error>> {
        Box::pin(async move {
            let (status, receiver) = watch::channel(true);
            let status = Arc::new(status);
            let fence = self
                .acquire(id, options, Some(status.clone()))
                .await
                .map_err(|err| err.for_leader(id, &options))?;
            // The leadership keeps its node alive: leading is not dying.
            let (node, key) = (self.node.clone(), id.to_owned());
            let resign: super::Resign = Box::new(move || {
                Box::pin(async move {
                    node.shared.release(&key, |hold| hold.fence == fence);
                    status.send_replace(false);
                    Ok(())
                })
            });
            Ok(Leader::new(id, fence, receiver, resign))
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

impl Drop for Node {
    /// The node is gone: its holds lapse after their TTL.
    fn drop(&mut self) {
        let now = Instant::now();
        for hold in self.shared.holds().values_mut() {
            if hold.node == self.id && hold.expires.is_none() {
                hold.expires = Some(now + hold.ttl);
                hold.lost();
            }
        }
        self.shared.released.notify_waiters();
    }
}

impl fmt::Debug for MemorySync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySync")
            .field("node", &self.node.id)
            .field("held", &self.node.shared.holds().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_conformance() {
        let memory = MemorySync::new();
        super::super::conformance::run(|| Arc::new(memory.node())).await;
    }

    #[tokio::test]
    async fn a_waiter_gets_a_lapsed_lock_without_polling() {
        let dead = MemorySync::new();
        let alive = dead.node();
        let ttl = Duration::from_secs(1);
        dead.lock("job", LockOptions::default().ttl(ttl))
            .await
            .unwrap();
        let waiter = tokio::spawn(async move {
            let started = Instant::now();
            alive
                .lock("job", LockOptions::default())
                .await
                .map(|_| started.elapsed())
        });
        tokio::task::yield_now().await;
        drop(dead);
        let waited = waiter.await.unwrap().unwrap();
        assert!(
            waited >= ttl,
            "the lock lapsed {waited:?} after its holder died, not after its TTL"
        );
        assert!(
            waited < ttl * 3,
            "a waiter without a deadline woke {waited:?} late"
        );
    }
}
