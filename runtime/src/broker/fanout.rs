//! Who gets a message, and delivering to them: every broadcast subscriber, one member of each
//! queue group, with failed deliveries retried (on another member of the group when it has one).

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::future::join_all;

use super::{Error, ErrorKind};
use crate::backoff;

/// Tries per recipient before a delivery counts as failed.
pub(crate) const DELIVERY_ATTEMPTS: u32 = 3;

/// One recipient per broadcast subscriber and per queue group; each is the list of subscribers
/// to try in turn (the group's members in random order).
pub(crate) fn recipients<T>(
    subscribers: impl IntoIterator<Item = (Option<String>, T)>,
) -> Vec<Vec<T>> {
    let mut broadcast = Vec::new();
    let mut groups: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for (queue, subscriber) in subscribers {
        match queue {
            Some(queue) => groups.entry(queue).or_default().push(subscriber),
            None => broadcast.push(vec![subscriber]),
        }
    }
    for mut members in groups.into_values() {
        fastrand::shuffle(&mut members);
        broadcast.push(members);
    }
    broadcast
}

/// Sends to every recipient at once with `send`, retrying each up to [`DELIVERY_ATTEMPTS`]
/// times with go-micro's backoff; fails naming how many recipients never got it.
pub(crate) async fn deliver_to_all<T, F, Fut>(
    topic: &str,
    recipients: Vec<Vec<T>>,
    send: F,
) -> Result<(), Error>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let total = recipients.len();
    let outcomes = join_all(
        recipients
            .iter()
            .map(|candidates| deliver_to_one(candidates, &send)),
    )
    .await;
    let mut failures: Vec<Error> = outcomes.into_iter().filter_map(Result::err).collect();
    let failed = failures.len();
    match failures.pop() {
        None => Ok(()),
        Some(last) => Err(Error::new(
            ErrorKind::Undelivered,
            format!(
                "a message on {topic} reached {} of {total} subscribers (each tried \
                 {DELIVERY_ATTEMPTS} times); last error: {last}",
                total - failed
            ),
        )
        .with_source(last)),
    }
}

async fn deliver_to_one<T, F, Fut>(candidates: &[T], send: &F) -> Result<(), Error>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut attempt = 0;
    loop {
        let Some(candidate) = candidates.get(attempt as usize % candidates.len().max(1)) else {
            return Ok(());
        };
        match send(candidate.clone()).await {
            Ok(()) => return Ok(()),
            Err(err) if attempt + 1 >= DELIVERY_ATTEMPTS => return Err(err),
            Err(err) => tracing::debug!(error = %err, attempt, "delivery failed; retrying"),
        }
        attempt += 1;
        tokio::time::sleep(backoff::go_micro(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn one_recipient_per_broadcast_subscriber_and_per_group() {
        let recipients = recipients([
            (None, "a"),
            (Some("g".to_owned()), "b"),
            (None, "c"),
            (Some("g".to_owned()), "d"),
            (Some("h".to_owned()), "e"),
        ]);
        let mut sorted: Vec<Vec<&str>> = recipients
            .into_iter()
            .map(|mut members| {
                members.sort_unstable();
                members
            })
            .collect();
        sorted.sort();
        assert_eq!(
            sorted,
            vec![vec!["a"], vec!["b", "d"], vec!["c"], vec!["e"]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_member_is_retried_on_another() {
        let tried = Mutex::new(Vec::new());
        let result = deliver_to_all("t", vec![vec!["down", "up"]], |name| {
            tried.lock().unwrap().push(name);
            async move {
                match name {
                    "up" => Ok(()),
                    _ => Err(Error::new(ErrorKind::Unavailable, "down")),
                }
            }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(*tried.lock().unwrap(), ["down", "up"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_recipient_that_always_fails_is_reported() {
        let err = deliver_to_all("orders", vec![vec!["ok"], vec!["bad"]], |name| async move {
            match name {
                "ok" => Ok(()),
                _ => Err(Error::new(ErrorKind::Unavailable, "connection refused")),
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Undelivered);
        let text = err.to_string();
        assert!(
            text.contains("orders")
                && text.contains("1 of 2")
                && text.contains("connection refused"),
            "{text}"
        );
    }
}
