//! The buffer between a streaming handler's [`Sender`](super::Sender) and the response stream
//! that sends its messages: bounded, for any number of senders, one receiver.
//!
//! The response stream polls the handler itself, so sends mostly happen inside the receiver's
//! own poll: a plain mutex-guarded queue serves them with one uncontended lock per message
//! sent, and the receiver takes everything queued under one lock, so a message costs a lock
//! and a half rather than tokio's `mpsc` semaphore permit and waker (most of a
//! server-streaming call's CPU time). A task is woken only when one actually waits.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A bounded queue of `capacity` messages and its two ends.
pub(crate) fn queue<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        messages: VecDeque::with_capacity(capacity),
        capacity: capacity.max(1),
        receiver: None,
        waiting_senders: Vec::new(),
        senders: 1,
        receiver_gone: false,
    }));
    (
        QueueSender {
            shared: shared.clone(),
        },
        QueueReceiver {
            shared,
            taken: VecDeque::new(),
        },
    )
}

#[derive(Debug)]
struct State<T> {
    messages: VecDeque<T>,
    capacity: usize,
    /// The receiver, when it waits for a message.
    receiver: Option<Waker>,
    /// Senders waiting for room.
    waiting_senders: Vec<Waker>,
    /// Live senders; none left ends the queue once it is empty.
    senders: usize,
    receiver_gone: bool,
}

fn lock<T>(shared: &Mutex<State<T>>) -> MutexGuard<'_, State<T>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sending end; clones share the queue.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    shared: Arc<Mutex<State<T>>>,
}

impl<T> QueueSender<T> {
    /// Queues `message`, waiting while the queue is full; gives it back if the receiver is gone.
    pub(crate) async fn send(&self, message: T) -> Result<(), T> {
        let mut message = Some(message);
        poll_fn(|cx| self.poll_send(cx, &mut message)).await
    }

    fn poll_send(&self, cx: &mut Context<'_>, message: &mut Option<T>) -> Poll<Result<(), T>> {
        let mut state = lock(&self.shared);
        let Some(item) = message.take() else {
            return Poll::Ready(Ok(()));
        };
        if state.receiver_gone {
            return Poll::Ready(Err(item));
        }
        if state.messages.len() >= state.capacity {
            *message = Some(item);
            if !state
                .waiting_senders
                .iter()
                .any(|w| w.will_wake(cx.waker()))
            {
                state.waiting_senders.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        state.messages.push_back(item);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Poll::Ready(Ok(()))
    }

    /// Whether the receiver is gone, so that [`send`](Self::send) would fail.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.shared).receiver_gone
    }
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared).senders += 1;
        QueueSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.senders -= 1;
        let receiver = match state.senders {
            0 => state.receiver.take(),
            _ => None,
        };
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }
}

/// The receiving end.
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    shared: Arc<Mutex<State<T>>>,
    /// Messages taken from the queue in one go, not yet handed out: with the queue refilling
    /// meanwhile, up to twice its capacity is held in all.
    taken: VecDeque<T>,
}

impl<T> QueueReceiver<T> {
    /// The next queued message, if any, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        if self.taken.is_empty() {
            take_all(lock(&self.shared), &mut self.taken);
        }
        self.taken.pop_front()
    }

    /// The next message, or `None` once it is empty and every sender is gone.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(message) = self.taken.pop_front() {
            return Poll::Ready(Some(message));
        }
        let mut state = lock(&self.shared);
        if state.messages.is_empty() {
            if state.senders == 0 {
                return Poll::Ready(None);
            }
            state.receiver = Some(cx.waker().clone());
            return Poll::Pending;
        }
        take_all(state, &mut self.taken);
        Poll::Ready(self.taken.pop_front())
    }
}

/// Moves every queued message into `taken` (empty), and wakes the senders waiting for room.
fn take_all<T>(mut state: MutexGuard<'_, State<T>>, taken: &mut VecDeque<T>) {
    if state.messages.is_empty() {
        return;
    }
    // Swapped, so that both buffers keep their allocations.
    std::mem::swap(&mut state.messages, taken);
    let senders = std::mem::take(&mut state.waiting_senders);
    drop(state);
    senders.into_iter().for_each(Waker::wake);
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.receiver_gone = true;
        let senders = std::mem::take(&mut state.waiting_senders);
        // Queued messages are dropped with the queue's last handle.
        drop(state);
        senders.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_in_order_then_ends_when_the_senders_are_gone() {
        let (sender, mut receiver) = queue(2);
        let other = sender.clone();
        sender.send(1).await.unwrap();
        other.send(2).await.unwrap();
        drop((sender, other));
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(1));
        assert_eq!(receiver.try_recv(), Some(2));
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, None);
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_sender_until_a_message_is_taken() {
        let (sender, mut receiver) = queue(1);
        sender.send(1).await.unwrap();
        let blocked = tokio::spawn(async move { sender.send(2).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!blocked.is_finished(), "sent into a full queue");
        assert_eq!(receiver.try_recv(), Some(1));
        blocked.await.unwrap().unwrap();
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(2));
    }

    #[tokio::test]
    async fn taking_a_batch_makes_room_and_keeps_the_order() {
        let (sender, mut receiver) = queue(2);
        sender.send(1).await.unwrap();
        sender.send(2).await.unwrap();
        assert_eq!(receiver.try_recv(), Some(1));
        // Both were taken at once, so the queue has room for two more.
        sender.send(3).await.unwrap();
        sender.send(4).await.unwrap();
        drop(sender);
        let mut rest = Vec::new();
        while let Some(message) = poll_fn(|cx| receiver.poll_recv(cx)).await {
            rest.push(message);
        }
        assert_eq!(rest, [2, 3, 4]);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_task() {
        let (sender, mut receiver) = queue::<u32>(4);
        let late = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            sender.send(7).await.unwrap();
        });
        assert_eq!(poll_fn(|cx| receiver.poll_recv(cx)).await, Some(7));
        late.await.unwrap();
    }

    #[tokio::test]
    async fn sends_fail_and_waiting_senders_wake_once_the_receiver_is_gone() {
        let (sender, receiver) = queue(1);
        sender.send(1).await.unwrap();
        let blocked = {
            let sender = sender.clone();
            tokio::spawn(async move { sender.send(2).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(receiver);
        assert_eq!(blocked.await.unwrap(), Err(2));
        assert!(sender.is_closed());
        assert_eq!(sender.send(3).await, Err(3));
    }
}
