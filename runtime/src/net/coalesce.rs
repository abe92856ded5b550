//! Fewer, larger socket writes for the server's HTTP/2 connections.
//!
//! An HTTP/2 connection is one task; every call on it is another. When a call finishes, it
//! hands its frames to the connection and wakes it, and tokio runs the woken connection next,
//! so it writes each call's reply with a system call of its own: with 32 calls in flight, 32
//! `writev`s where one would do (measured: one `writev` per request, ~30 % of the server's CPU
//! on loopback). [`Coalesce`] gathers what the connection writes and, when it flushes a few
//! small frames, lets the other ready tasks run once before writing: their replies join the
//! same system call. A flush is delayed by one turn of the scheduler, never by a timer, so a
//! lone call waits for nothing; larger flushes (a stream's messages) are written at once, and
//! when a turn takes long (hundreds of calls ready at once, where holding each reply for the
//! last would add their whole time to its latency) the connection writes at once for a while.
//!
//! It is off unless a service asks for it ([`crate::Service::gather_writes`]): it trades a
//! scheduler turn of latency per flush for fewer system calls, which pays under heavy
//! multiplexed load and costs a little at light load (BENCHMARKS.md has both).
//!
//! HTTP/1.1 connections pass through untouched: one request at a time has nothing to gather.
//! Clients do not gather: when both ends wait for their ready tasks, they fall into lock-step
//! (each idle while the other works through a whole batch), which halved the throughput of 32
//! callers in `scripts/bench.sh peers`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered at most. A write that would reach it sends what is gathered, then goes
/// straight to the socket itself: large writes (a stream's messages, which HTTP/2 already
/// writes many at a time) are neither copied nor held back.
const GATHER_LIMIT: usize = 4 * 1024;

/// The longest a flush may have waited for the other tasks and still be worth waiting for:
/// a longer wait means hundreds of calls were ready at once, and holding every reply until
/// the last is done adds their whole time to each one's latency.
const WAIT_BUDGET: Duration = Duration::from_millis(1);

/// How long a connection writes at once after a flush waited longer than [`WAIT_BUDGET`].
const HOLD_OFF: Duration = Duration::from_millis(20);

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A server connection whose HTTP/2 writes are gathered into one system call per scheduler
/// turn.
#[derive(Debug)]
pub(crate) struct Coalesce<I> {
    io: I,
    mode: Mode,
    /// Written by the connection, not yet by the socket.
    gathered: Vec<u8>,
    /// How much of `gathered` the socket has taken.
    sent: usize,
    /// When this flush let the other tasks run, if it did.
    yielded_at: Option<Instant>,
    /// Whether bytes went straight to the socket since the last flush (a stream's messages):
    /// then the rest is written at once too.
    wrote_through: bool,
    /// Until when flushes are written at once (a wait went over [`WAIT_BUDGET`]).
    hold_off_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A server connection before its first bytes say which protocol it speaks.
    Sniffing,
    Gather,
    PassThrough,
}

impl<I> Coalesce<I> {
    /// The server side of a connection that may speak HTTP/1.1 or HTTP/2: gathers once the
    /// client's first bytes are HTTP/2's preface.
    pub(crate) fn server(io: I) -> Coalesce<I> {
        Coalesce::new(io, Mode::Sniffing)
    }

    /// A connection written as it is (gathering is off): every call goes straight through.
    pub(crate) fn pass_through(io: I) -> Coalesce<I> {
        Coalesce::new(io, Mode::PassThrough)
    }

    fn new(io: I, mode: Mode) -> Coalesce<I> {
        Coalesce {
            io,
            mode,
            gathered: Vec::new(),
            sent: 0,
            yielded_at: None,
            wrote_through: false,
            hold_off_until: None,
        }
    }

    fn gathering(&self) -> bool {
        self.mode == Mode::Gather
    }

    /// Whether a flush now should wait for the other ready tasks.
    fn should_wait(&self, now: Instant) -> bool {
        !self.wrote_through && self.hold_off_until.is_none_or(|until| now >= until)
    }

    /// Notes how long the flush waited, and holds off waiting if that was too long.
    fn waited(&mut self, since: Instant) {
        let now = Instant::now();
        if now.duration_since(since) > WAIT_BUDGET {
            self.hold_off_until = Some(now + HOLD_OFF);
        }
    }
}

impl<I: AsyncWrite + Unpin> Coalesce<I> {
    /// Writes everything gathered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.gathered[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.gathered.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// `Ready(true)` if `len` more bytes are to be gathered; `Ready(false)` once what was
    /// gathered is written, if they are too many and go straight to the socket.
    fn poll_gather(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<bool>> {
        if self.gathered.len() + len < GATHER_LIMIT {
            return Poll::Ready(Ok(true));
        }
        ready!(self.poll_drain(cx))?;
        self.wrote_through = true;
        Poll::Ready(Ok(false))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Coalesce<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if this.mode == Mode::Sniffing && !read.is_empty() {
            let http2 = read.starts_with(H2_PREFACE) || H2_PREFACE.starts_with(read);
            this.mode = if http2 {
                Mode::Gather
            } else {
                Mode::PassThrough
            };
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Coalesce<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.gathering() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        if !ready!(this.poll_gather(cx, buf.len()))? {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        this.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.gathering() {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        let len = bufs.iter().map(|buf| buf.len()).sum();
        if !ready!(this.poll_gather(cx, len))? {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        for buf in bufs {
            this.gathered.extend_from_slice(buf);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.gathering() && this.sent < this.gathered.len() {
            match this.yielded_at {
                None => {
                    let now = Instant::now();
                    if this.should_wait(now) {
                        // Woken from within its own poll, a tokio task goes to the back of the
                        // run queue: the tasks ready now run first, and their frames join these.
                        this.yielded_at = Some(now);
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Some(since) => {
                    this.yielded_at = None;
                    this.waited(since);
                }
            }
            ready!(this.poll_drain(cx))?;
        }
        this.wrote_through = false;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<I> Coalesce<I> {
        /// Gathering from the start, as a server connection once it has read HTTP/2's preface.
        fn gathering_from_start(io: I) -> Coalesce<I> {
            Coalesce::new(io, Mode::Gather)
        }
    }
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, duplex};

    #[tokio::test]
    async fn gathered_writes_reach_the_peer_only_when_flushed() {
        let (near, mut far) = duplex(1 << 20);
        let mut near = Coalesce::gathering_from_start(near);
        near.write_all(b"one ").await.unwrap();
        near.write_all(b"two").await.unwrap();
        let mut buf = [0; 16];
        let early = tokio::time::timeout(std::time::Duration::from_millis(20), far.read(&mut buf));
        assert!(early.await.is_err(), "nothing is written before a flush");
        near.flush().await.unwrap();
        let n = far.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one two", "one write carries both");
    }

    #[tokio::test]
    async fn a_write_past_the_limit_sends_what_was_gathered_first_in_order() {
        let (near, mut far) = duplex(1 << 20);
        let mut near = Coalesce::gathering_from_start(near);
        let big = vec![7u8; GATHER_LIMIT + 1];
        near.write_all(b"head").await.unwrap();
        near.write_all(&big).await.unwrap();
        near.write_all(b"tail").await.unwrap();
        near.flush().await.unwrap();
        near.shutdown().await.unwrap();
        let mut all = Vec::new();
        far.read_to_end(&mut all).await.unwrap();
        assert_eq!(&all[..4], b"head");
        assert_eq!(&all[4..4 + big.len()], &big[..]);
        assert_eq!(&all[4 + big.len()..], b"tail");
    }

    #[tokio::test]
    async fn a_server_gathers_http2_and_passes_http1_through() {
        for (first, gathers) in [
            (H2_PREFACE, true),
            (&b"POST / HTTP/1.1\r\n"[..], false),
            (&b"PRI"[..], true),
        ] {
            let (near, mut far) = duplex(1 << 20);
            let mut near = Coalesce::server(near);
            far.write_all(first).await.unwrap();
            let mut buf = vec![0; first.len()];
            near.read_exact(&mut buf).await.unwrap();
            assert_eq!(near.gathering(), gathers, "{first:?}");
            near.write_all(b"reply").await.unwrap();
            let mut reply = [0; 5];
            let read = tokio::time::timeout(
                std::time::Duration::from_millis(20),
                far.read_exact(&mut reply),
            );
            assert_eq!(read.await.is_ok(), !gathers, "{first:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn after_a_long_wait_flushes_write_at_once() {
        let (near, _far) = duplex(1 << 20);
        let mut near = Coalesce::gathering_from_start(near);
        let slow = tokio::spawn(async { std::thread::sleep(WAIT_BUDGET * 3) });
        near.write_all(b"x").await.unwrap();
        near.flush().await.unwrap();
        slow.await.unwrap();
        assert!(near.hold_off_until.is_some(), "the wait was over budget");

        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = ran.clone();
            async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) }
        });
        near.write_all(b"y").await.unwrap();
        near.flush().await.unwrap();
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "the flush did not wait for the ready task"
        );
        other.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_flush_lets_ready_tasks_run_once_before_writing() {
        let (near, mut far) = duplex(1 << 20);
        let mut near = Coalesce::gathering_from_start(near);
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = ran.clone();
            async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) }
        });
        near.write_all(b"x").await.unwrap();
        near.flush().await.unwrap();
        assert!(
            ran.load(std::sync::atomic::Ordering::SeqCst),
            "the spawned task ran before the flush completed"
        );
        other.await.unwrap();
        let mut buf = [0; 1];
        far.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"x");
    }
}
