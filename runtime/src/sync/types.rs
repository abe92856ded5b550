//! Lock and leader options, the [`Leader`] handle, and the checks every backend applies.

use std::fmt;
use std::time::Duration;

use tokio::sync::watch;

use super::{BoxFuture, Error, Fence};

/// How long a held lock (or leadership) outlives a holder that died, unless set: 60 s, the
/// session TTL go-micro's etcd sync uses.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// The shortest TTL accepted. etcd counts lease TTLs in whole seconds (and raises very short
/// ones to its own minimum, about 2 s by default).
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// How to take a lock (go-micro's `LockTTL` and `LockWait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockOptions {
    /// How long the lock outlives a holder that died without unlocking (at least [`MIN_TTL`];
    /// etcd rounds up to whole seconds). A live holder keeps the lock until it unlocks.
    pub ttl: Duration,
    /// How long to wait for a lock another holder has; `None` waits for ever. When it runs
    /// out, the error is [`ErrorKind::LockTimeout`](super::ErrorKind::LockTimeout). On etcd a
    /// wait shorter than a round trip always times out.
    pub wait: Option<Duration>,
}

impl Default for LockOptions {
    fn default() -> LockOptions {
        LockOptions {
            ttl: DEFAULT_TTL,
            wait: None,
        }
    }
}

impl LockOptions {
    /// Sets the TTL.
    pub fn ttl(mut self, ttl: Duration) -> LockOptions {
        self.ttl = ttl;
        self
    }

    /// Sets how long to wait.
    pub fn wait(mut self, wait: Duration) -> LockOptions {
        self.wait = Some(wait);
        self
    }
}

/// How to run for leader: the same TTL and wait as a lock, since leadership is one.
pub type LeaderOptions = LockOptions;

/// Leadership of an id, won by [`Coordinator::leader`](super::Coordinator::leader).
///
/// Dropping it resigns (in the background); [`Leader::resign`] does so and reports errors.
pub struct Leader {
    id: String,
    fence: Fence,
    status: watch::Receiver<bool>,
    resign: Option<Resign>,
}

/// What a backend does to give up leadership.
pub type Resign = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), Error>> + Send>;

impl Leader {
    /// Leadership of `id` with `fence`: `status` says `true` while it lasts and turns `false`
    /// for good when it is lost; `resign` gives it up.
    pub fn new(
        id: impl Into<String>,
        fence: Fence,
        status: watch::Receiver<bool>,
        resign: Resign,
    ) -> Leader {
        Leader {
            id: id.into(),
            fence,
            status,
            resign: Some(resign),
        }
    }

    /// The id this is leadership of.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The leadership's fencing token: higher than every earlier leader's of this id. Send it
    /// with what the leader writes, since [`Leader::is_leader`] can be stale by the time a
    /// write lands (a leader paused after checking it).
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// `true` while this is still the leader; becomes `false` (and stays so) when leadership is
    /// lost: the TTL ran out without keep-alives (e.g. the process was paused or cut off from
    /// etcd), the backend lost or revoked it, or it was resigned.
    pub fn status(&self) -> watch::Receiver<bool> {
        self.status.clone()
    }

    /// Whether this is still the leader, as far as this node knows.
    pub fn is_leader(&self) -> bool {
        *self.status.borrow()
    }

    /// Resolves when leadership is lost (at once if it already is).
    pub async fn lost(&self) {
        let mut status = self.status.clone();
        // An error means the backend dropped its sender: nobody keeps leadership alive.
        let _ = status.wait_for(|leading| !leading).await;
    }

    /// Gives leadership up, so that another candidate can win it.
    pub async fn resign(mut self) -> Result<(), Error> {
        match self.resign.take() {
            Some(resign) => resign().await,
            None => Ok(()),
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let (Some(resign), Ok(runtime)) =
            (self.resign.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                if let Err(err) = resign().await {
                    tracing::warn!("resigning dropped leadership failed: {err}");
                }
            });
        }
    }
}

impl fmt::Debug for Leader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leader")
            .field("id", &self.id)
            .field("fence", &self.fence)
            .field("leading", &self.is_leader())
            .finish()
    }
}

/// Checks a lock or leader id: not empty, at most 1024 bytes, no control characters.
pub fn validate_id(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid(
            "invalid id: a lock or leader id cannot be empty",
        ));
    }
    if id.len() > 1024 {
        return Err(Error::invalid(format!(
            "invalid id: {} bytes, the limit is 1024",
            id.len()
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "invalid id {id:?}: control characters are not allowed"
        )));
    }
    Ok(())
}

/// Checks a TTL: at least [`MIN_TTL`].
pub fn validate_ttl(ttl: Duration) -> Result<(), Error> {
    if ttl < MIN_TTL {
        return Err(Error::invalid(format!(
            "invalid ttl {ttl:?}: at least 1s (etcd counts lease TTLs in whole seconds)"
        )));
    }
    Ok(())
}

/// Checks an id and lock options.
pub(crate) fn validate(id: &str, options: &LockOptions) -> Result<(), Error> {
    validate_id(id)?;
    validate_ttl(options.ttl)
}
