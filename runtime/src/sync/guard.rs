//! A held lock that unlocks itself: the RAII form of `lock`/`unlock`.

use std::fmt;
use std::sync::Arc;

use super::{Coordinator, Error, Fence, LockOptions};

/// A lock held through a [`Coordinator`], released by [`Guard::unlock`] or, when dropped, in
/// the background (errors are then only logged).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), micro::sync::Error> {
/// use micro::sync::{self, Guard, LockOptions};
///
/// let sync = sync::memory();
/// let guard = Guard::lock(sync.clone(), "report", LockOptions::default()).await?;
/// // … work while holding `report`, sending guard.fence() with each write …
/// guard.unlock().await?;
/// # Ok(())
/// # }
/// ```
pub struct Guard {
    coordinator: Arc<dyn Coordinator>,
    id: String,
    fence: Fence,
    held: bool,
}

impl Guard {
    /// Takes the lock `id` as [`Coordinator::lock`] does.
    pub async fn lock(
        coordinator: Arc<dyn Coordinator>,
        id: impl Into<String>,
        options: LockOptions,
    ) -> Result<Guard, Error> {
        let id = id.into();
        let fence = coordinator.lock(&id, options).await?;
        Ok(Guard {
            coordinator,
            id,
            fence,
            held: true,
        })
    }

    /// The id of the held lock.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The hold's fencing token, as [`Coordinator::lock`] returned it.
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// Releases the lock, reporting whether that worked.
    pub async fn unlock(mut self) -> Result<(), Error> {
        self.held = false;
        self.coordinator.unlock(&self.id).await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "lock `{}` dropped outside a runtime: it lapses after its TTL",
                self.id
            );
            return;
        };
        let (coordinator, id) = (self.coordinator.clone(), std::mem::take(&mut self.id));
        runtime.spawn(async move {
            if let Err(err) = coordinator.unlock(&id).await {
                tracing::warn!("unlocking dropped lock `{id}` failed: {err}");
            }
        });
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("id", &self.id)
            .field("fence", &self.fence)
            .field("backend", &self.coordinator.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sync::ErrorKind;

    #[tokio::test]
    async fn a_dropped_guard_unlocks() {
        let sync = crate::sync::memory();
        let options = LockOptions::default().wait(Duration::from_secs(5));
        let guard = Guard::lock(sync.clone(), "job", options).await.unwrap();
        let first = guard.fence();
        let busy = sync
            .lock("job", options.wait(Duration::from_millis(50)))
            .await;
        assert_eq!(busy.map_err(|err| err.kind()), Err(ErrorKind::LockTimeout));
        drop(guard);
        let again = Guard::lock(sync.clone(), "job", options).await.unwrap();
        assert!(again.fence() > first, "a later holder's fence is higher");
        again.unlock().await.unwrap();
        let kind = sync.unlock("job").await.map_err(|err| err.kind());
        assert_eq!(kind, Err(ErrorKind::NotHeld), "unlocked twice");
    }
}
