//! Fencing tokens: a number that grows each time a lock or leadership changes hands, and the
//! check a resource makes with it to refuse a holder that lost its hold without knowing.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::Error;

/// A fencing token, from [`Coordinator::lock`](super::Coordinator::lock),
/// [`Guard::fence`](super::Guard::fence) or [`Leader::fence`](super::Leader::fence).
///
/// Each time a lock id (or an election) changes hands, the new holder's fence is higher than
/// every earlier holder's. A holder sends its fence with each write; the resource remembers the
/// highest fence it has taken and refuses lower ones, so a holder that was paused past its TTL
/// (and lost the lock to a newer holder without knowing) cannot overwrite the newer holder's
/// work. [`Fenced`] is that check for a value in memory; `docs/sync.md` shows it in SQL.
///
/// On etcd a fence is the revision that created the holder's key, so fences of one id grow
/// across processes and restarts of the holders (not across etcd losing its data, which
/// restarts revisions). In memory they come from a counter shared by a coordinator's nodes.
/// Compare fences of one id from one backend only.
///
/// It is sent as its decimal number: `Display` and `FromStr` (for metadata headers) and serde
/// (a JSON number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fence(u64);

impl Fence {
    /// The fence numbered `value`, as a writer sent it.
    pub const fn new(value: u64) -> Fence {
        Fence(value)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Fence {
    type Err = Error;

    fn from_str(text: &str) -> Result<Fence, Error> {
        text.parse().map(Fence).map_err(|_| {
            Error::invalid(format!(
                "invalid fence {text:?}: a fencing token is a decimal number"
            ))
        })
    }
}

/// A value that takes writes only with a fence at least as high as the highest it has taken:
/// what a resource does with fences, for state kept in memory (in a database, put the same
/// check in the write's `WHERE`, as `docs/sync.md` shows).
///
/// Checking and writing happen under one lock, so a stale write cannot slip in between a newer
/// holder's check and its write. Equal fences are taken: one holder writes many times.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), micro::sync::Error> {
/// use micro::sync::{self, ErrorKind, Fenced, LockOptions};
///
/// let ledger = Fenced::new(0_u64);
/// let sync = sync::memory();
/// let old = sync.lock("ledger", LockOptions::default()).await?;
/// sync.unlock("ledger").await?; // (or: its holder was paused past the TTL)
/// let new = sync.lock("ledger", LockOptions::default()).await?;
///
/// ledger.write(new, |balance| *balance += 10)?;
/// let stale = ledger.write(old, |balance| *balance = 0);
/// assert_eq!(stale.unwrap_err().kind(), ErrorKind::StaleFence);
/// assert_eq!(ledger.read(|balance| *balance), 10);
/// # Ok(())
/// # }
/// ```
pub struct Fenced<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    highest: Option<Fence>,
    value: T,
}

impl<T> Fenced<T> {
    /// `value`, with no fence taken yet.
    pub fn new(value: T) -> Fenced<T> {
        Fenced {
            state: Mutex::new(State {
                highest: None,
                value,
            }),
        }
    }

    /// Runs `write` on the value if `fence` is at least the highest fence taken so far, and
    /// then remembers `fence`; otherwise refuses it, leaving the value alone
    /// ([`ErrorKind::StaleFence`](super::ErrorKind::StaleFence)).
    pub fn write<R>(&self, fence: Fence, write: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        let mut state = self.state();
        if let Some(highest) = state.highest.filter(|highest| fence < *highest) {
            return Err(Error::stale_fence(fence, highest));
        }
        state.highest = Some(fence);
        Ok(write(&mut state.value))
    }

    /// Runs `read` on the value.
    pub fn read<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        read(&self.state().value)
    }

    /// The highest fence taken so far.
    pub fn highest(&self) -> Option<Fence> {
        self.state().highest
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.state
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .value
    }

    // A `write` that panicked left the value as far as it got, fence taken: as a database
    // would keep a partial write without a transaction.
    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Default> Default for Fenced<T> {
    fn default() -> Fenced<T> {
        Fenced::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Fenced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Fenced")
            .field("highest", &state.highest)
            .field("value", &state.value)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ErrorKind;

    #[test]
    fn a_fence_travels_as_its_number() {
        let fence = Fence::new(4096);
        assert_eq!(fence.to_string(), "4096");
        assert_eq!("4096".parse::<Fence>().unwrap(), fence);
        assert_eq!(serde_json::to_string(&fence).unwrap(), "4096");
        assert_eq!(serde_json::from_str::<Fence>("4096").unwrap(), fence);
        let err = "-1".parse::<Fence>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            r#"invalid fence "-1": a fencing token is a decimal number"#
        );
    }

    #[test]
    fn a_lower_fence_is_refused_and_equal_or_higher_taken() {
        let fenced = Fenced::new(Vec::new());
        assert_eq!(fenced.highest(), None);
        fenced.write(Fence::new(5), |log| log.push("a")).unwrap();
        fenced
            .write(Fence::new(5), |log| log.push("a again"))
            .unwrap();
        fenced.write(Fence::new(9), |log| log.push("b")).unwrap();
        let err = fenced
            .write(Fence::new(5), |log| log.push("a, stale"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StaleFence);
        assert!(!err.is_temporary());
        assert!(
            err.to_string()
                .starts_with("stale fence: 5 is lower than 9, the highest this resource took"),
            "{err}"
        );
        assert_eq!(fenced.highest(), Some(Fence::new(9)));
        assert_eq!(fenced.into_inner(), ["a", "a again", "b"]);
    }
}
