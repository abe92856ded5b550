//! The behaviour every [`Coordinator`] backend must have, as one suite to run against each.
//!
//! ```no_run
//! # async fn demo() {
//! let memory = std::sync::Arc::new(micro::sync::MemorySync::new());
//! micro::sync::conformance::run(move || std::sync::Arc::new(memory.node())).await;
//! # }
//! ```
//!
//! `new` makes a node: each call another participant (another process, for a real backend)
//! sharing the same locks. The suite panics with a description of the first behaviour that is
//! wrong. Its ids are its own, so runs may share a server. It takes about 10 s (TTLs).
//!
//! Fences are checked wherever an id changes hands: under contention, on unlock, when a dead
//! holder's lock lapses, and when leadership passes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Coordinator, ErrorKind, Fence, Leader, LockOptions};

/// How long anything that should happen promptly may take.
const PROMPTLY: Duration = Duration::from_secs(10);
/// How long something that should not happen is given to happen anyway.
const A_WHILE: Duration = Duration::from_millis(300);
/// The TTL the suite uses: etcd's own minimum is about 2 s.
const TTL: Duration = Duration::from_secs(2);

/// Runs every check, with nodes made by `new`.
pub async fn run(new: impl Fn() -> Arc<dyn Coordinator>) {
    let run = format!(
        "conformance-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let id = |check: &str| format!("{run}/{check}");
    bad_input_is_refused(&*new()).await;
    locks_exclude_each_other(&new, &id("exclusion")).await;
    unlock_lets_a_waiter_in(&*new(), &*new(), &id("handover")).await;
    waiting_times_out(&*new(), &*new(), &id("timeout")).await;
    a_live_holder_keeps_its_lock_past_its_ttl(&*new(), &*new(), &id("kept")).await;
    a_dead_holders_lock_lapses_after_its_ttl(&new, &id("ttl")).await;
    one_leader_at_a_time(&new, &id("leader")).await;
}

fn options() -> LockOptions {
    LockOptions::default().ttl(TTL).wait(PROMPTLY)
}

async fn bad_input_is_refused(node: &dyn Coordinator) {
    let cases = [
        ("", LockOptions::default(), "an empty id"),
        ("a\nb", LockOptions::default(), "an id with a newline"),
        (
            "ok",
            LockOptions::default().ttl(Duration::ZERO),
            "a zero TTL",
        ),
        (
            "ok",
            LockOptions::default().ttl(Duration::from_millis(500)),
            "a 500 ms TTL",
        ),
    ];
    for (id, options, what) in cases {
        let kind = node.lock(id, options).await.map_err(|err| err.kind());
        assert_eq!(
            kind,
            Err(ErrorKind::InvalidInput),
            "sync conformance: lock with {what}"
        );
        let kind = node.leader(id, options).await.map_err(|err| err.kind());
        assert_eq!(
            kind.err(),
            Some(ErrorKind::InvalidInput),
            "sync conformance: leader with {what}"
        );
    }
    let kind = node.unlock("").await.map_err(|err| err.kind());
    assert_eq!(
        kind,
        Err(ErrorKind::InvalidInput),
        "sync conformance: unlock of an empty id"
    );
}

/// 4 nodes × 4 tasks × 5 read-pause-write increments under one lock: none is lost, no two
/// holders ever overlap, and each holder's fence is higher than the one before.
async fn locks_exclude_each_other(new: &impl Fn() -> Arc<dyn Coordinator>, id: &str) {
    let counter = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicU64::new(0));
    let last_fence = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..4 {
        let node = new();
        for _ in 0..4 {
            let (node, id) = (node.clone(), id.to_owned());
            let (counter, inside) = (counter.clone(), inside.clone());
            let last_fence = last_fence.clone();
            tasks.spawn(async move {
                for _ in 0..5 {
                    let fence = match node.lock(&id, options()).await {
                        Ok(fence) => fence,
                        Err(err) => panic!("sync conformance: lock {id} failed: {err}"),
                    };
                    let overlapping = inside.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(
                        overlapping, 0,
                        "sync conformance: two holders of {id} at once"
                    );
                    let previous = last_fence.swap(fence.get(), Ordering::SeqCst);
                    assert!(
                        fence.get() > previous,
                        "sync conformance: a holder of {id} got fence {fence} after one with \
                         {previous}"
                    );
                    let read = counter.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    counter.store(read + 1, Ordering::SeqCst);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    if let Err(err) = node.unlock(&id).await {
                        panic!("sync conformance: unlock {id} failed: {err}");
                    }
                }
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(err) = done {
            std::panic::resume_unwind(err.into_panic());
        }
    }
    let total = counter.load(Ordering::SeqCst);
    assert_eq!(
        total,
        80,
        "sync conformance: {} increments lost under the lock",
        80 - total
    );
}

async fn unlock_lets_a_waiter_in(a: &dyn Coordinator, b: &dyn Coordinator, id: &str) {
    let first = a.lock(id, options()).await.expect("sync conformance: lock");
    let kind = b.unlock(id).await.map_err(|err| err.kind());
    assert_eq!(
        kind,
        Err(ErrorKind::NotHeld),
        "sync conformance: unlock by a non-holder"
    );
    let waiter = b.lock(id, options());
    tokio::pin!(waiter);
    let early = tokio::time::timeout(A_WHILE, waiter.as_mut()).await;
    assert!(
        early.is_err(),
        "sync conformance: a waiter got {id} while it was held"
    );
    a.unlock(id).await.expect("sync conformance: unlock");
    let second = match tokio::time::timeout(PROMPTLY, waiter).await {
        Ok(Ok(fence)) => fence,
        after => {
            panic!("sync conformance: the waiter did not get {id} promptly after unlock: {after:?}")
        }
    };
    assert_fence_grows(id, "the waiter that got it on unlock", first, second);
    b.unlock(id)
        .await
        .expect("sync conformance: unlock by the new holder");
    let kind = b.unlock(id).await.map_err(|err| err.kind());
    assert_eq!(
        kind,
        Err(ErrorKind::NotHeld),
        "sync conformance: a second unlock"
    );
    let third = b
        .lock(id, options())
        .await
        .expect("sync conformance: relock");
    assert_fence_grows(id, "the same node locking it again", second, third);
    b.unlock(id).await.expect("sync conformance: unlock");
}

async fn waiting_times_out(a: &dyn Coordinator, b: &dyn Coordinator, id: &str) {
    a.lock(id, options()).await.expect("sync conformance: lock");
    let wait = Duration::from_millis(400);
    let started = Instant::now();
    let err = match b.lock(id, options().wait(wait)).await {
        Ok(_) => panic!("sync conformance: {id} was taken twice"),
        Err(err) => err,
    };
    let took = started.elapsed();
    assert_eq!(
        err.kind(),
        ErrorKind::LockTimeout,
        "sync conformance: {err}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("lock timeout") && message.contains(id),
        "sync conformance: the timeout should say so and name the id: {message}"
    );
    assert!(
        took >= wait && took < wait + PROMPTLY,
        "sync conformance: a {wait:?} wait took {took:?}"
    );
    a.unlock(id).await.expect("sync conformance: unlock");
    b.lock(id, options())
        .await
        .expect("sync conformance: lock after the timeout");
    b.unlock(id).await.expect("sync conformance: unlock");
}

/// The TTL bounds only a dead holder: a live one keeps its lock (etcd: keep-alives).
async fn a_live_holder_keeps_its_lock_past_its_ttl(
    a: &dyn Coordinator,
    b: &dyn Coordinator,
    id: &str,
) {
    a.lock(id, options()).await.expect("sync conformance: lock");
    let kind = b
        .lock(id, options().wait(TTL * 2 + A_WHILE))
        .await
        .map_err(|err| err.kind());
    assert_eq!(
        kind,
        Err(ErrorKind::LockTimeout),
        "sync conformance: a live holder lost {id} after its TTL"
    );
    if let Err(err) = a.unlock(id).await {
        panic!("sync conformance: unlock after twice the TTL: {err}");
    }
}

/// A node that goes away holding a lock (dropped, as a process dies) keeps it about its TTL.
async fn a_dead_holders_lock_lapses_after_its_ttl(
    new: &impl Fn() -> Arc<dyn Coordinator>,
    id: &str,
) {
    let dead = new();
    let dead_fence = dead
        .lock(id, options())
        .await
        .expect("sync conformance: lock");
    drop(dead);
    let died = Instant::now();
    let other = new();
    let soon = other
        .lock(id, options().wait(A_WHILE))
        .await
        .map_err(|err| err.kind());
    assert_eq!(
        soon,
        Err(ErrorKind::LockTimeout),
        "sync conformance: a dead holder's lock must last about its TTL"
    );
    let fence = other
        .lock(id, options().wait(TTL + PROMPTLY))
        .await
        .expect("sync conformance: a dead holder's lock never lapsed");
    let lapsed = died.elapsed();
    assert_fence_grows(id, "the holder after one that died", dead_fence, fence);
    assert!(
        lapsed >= TTL / 3 && lapsed < TTL + PROMPTLY,
        "sync conformance: a {TTL:?} lock lapsed {lapsed:?} after its holder died"
    );
    other.unlock(id).await.expect("sync conformance: unlock");
}

/// Three candidates: one leads; resigning hands over to exactly one other.
async fn one_leader_at_a_time(new: &impl Fn() -> Arc<dyn Coordinator>, id: &str) {
    let mut candidates = JoinSet::new();
    for _ in 0..3 {
        let (node, id) = (new(), id.to_owned());
        candidates.spawn(async move { node.leader(&id, options().wait(TTL * 10)).await });
    }
    let first = elected(&mut candidates, id).await;
    match new().leader(id, options().wait(A_WHILE)).await {
        Ok(_) => panic!("sync conformance: a second leader of {id}"),
        Err(err) => assert!(
            err.kind() == ErrorKind::LockTimeout && err.to_string().contains("leadership of"),
            "sync conformance: a campaign that timed out: {err}"
        ),
    }
    let none = tokio::time::timeout(A_WHILE, candidates.join_next()).await;
    assert!(
        none.is_err(),
        "sync conformance: two candidates lead {id} at once"
    );

    let (status, first_fence) = (first.status(), first.fence());
    assert!(
        *status.borrow(),
        "sync conformance: a new leader's status says not leading"
    );
    first.resign().await.expect("sync conformance: resign");
    assert!(
        !*status.borrow(),
        "sync conformance: a resigned leader's status says leading"
    );
    let second = elected(&mut candidates, id).await;
    assert!(second.is_leader());
    assert_fence_grows(id, "the second leader", first_fence, second.fence());
    let none = tokio::time::timeout(A_WHILE, candidates.join_next()).await;
    assert!(
        none.is_err(),
        "sync conformance: resigning elected two leaders of {id}"
    );
    let second_fence = second.fence();
    second.resign().await.expect("sync conformance: resign");
    let third = elected(&mut candidates, id).await;
    assert_fence_grows(id, "the third leader", second_fence, third.fence());
    third.resign().await.expect("sync conformance: resign");
}

/// Panics unless `later`, the fence of `who`, is higher than `earlier`, the last holder's.
fn assert_fence_grows(id: &str, who: &str, earlier: Fence, later: Fence) {
    assert!(
        later > earlier,
        "sync conformance: {who} of {id} got fence {later}, not higher than the last holder's \
         {earlier}"
    );
}

async fn elected(candidates: &mut JoinSet<Result<Leader, super::Error>>, id: &str) -> Leader {
    match tokio::time::timeout(PROMPTLY, candidates.join_next()).await {
        Ok(Some(Ok(Ok(leader)))) => leader,
        other => panic!("sync conformance: no leader of {id} elected promptly: {other:?}"),
    }
}
