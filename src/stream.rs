//! A response body fed from any thread: the producer's [`BodySender`] and the
//! connection's end of the same bounded queue.
//!
//! The handler returns the response at once; its body is whatever the sender queues,
//! from whatever thread holds it. The connection's end never blocks: the poller takes
//! what is queued when the socket can take it, and is woken (once per burst, not once
//! per chunk) when more arrives. Only the producer ever waits, and only while the queue
//! is full: the client's pace reaches the producer, and memory per stream is bounded
//! by the queue's capacity.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

/// The producer's half of a streamed response body, from
/// [`Body::channel`](crate::Body::channel) or [`Body::channel_sized`](crate::Body::channel_sized).
///
/// It is `Send`: move it to a timer thread, a thread pool, or a channel. Each chunk it
/// sends goes to the client as soon as the socket takes it. [`finish`](BodySender::finish)
/// ends the body; dropping the sender without finishing aborts the response: the
/// connection closes without the end of the body, so the client can tell it is cut short.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// use nioserve::{Body, Server};
///
/// let handle = Server::builder().workers(1).bind("127.0.0.1:0")?.spawn(|_req| {
///     let (sender, body) = Body::channel(64 * 1024);
///     std::thread::spawn(move || {
///         for tick in 0..3 {
///             if sender.send(format!("data: tick {tick}\n\n")).is_err() {
///                 return; // the client left
///             }
///             std::thread::sleep(Duration::from_millis(10));
///         }
///         let _ = sender.finish();
///     });
///     http::Response::builder()
///         .header("content-type", "text/event-stream")
///         .body(body)
///         .unwrap()
/// })?;
/// # handle.shutdown();
/// # Ok(())
/// # }
/// ```
pub struct BodySender {
    channel: Arc<Channel>,
    /// Set by `finish`: dropping the sender then leaves the body ended.
    finished: bool,
}

/// The receiving half of a [`Body::channel`](crate::Body::channel): what the server takes
/// the body's bytes from. It is inside the [`Body`](crate::Body) a handler returns, and has
/// nothing to call: dropping it (as the server does when the client is gone) is what
/// tells the sender.
pub struct BodyStream {
    channel: Arc<Channel>,
    /// The length declared in advance (`Content-Length`), or `None` for a chunked body.
    len: Option<u64>,
}

/// Why a chunk was not queued, or a body not finished.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The response will never take more: the client closed the connection, did not
    /// take any bytes within the send timeout, or the body is never sent at all (a `HEAD`
    /// request, a `304`, a server shutting down).
    Closed,
    /// From [`try_send`](BodySender::try_send): the queue is full. The chunk is handed back.
    Full(Bytes),
    /// More bytes than the length declared with [`Body::channel_sized`](crate::Body::channel_sized).
    /// Nothing was queued.
    Overflow,
    /// From [`finish`](BodySender::finish): fewer bytes than the declared length were sent.
    /// The response is aborted, as if the sender had been dropped.
    Incomplete,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the response body is closed: the client is gone",
            SendError::Full(_) => "the response body's queue is full",
            SendError::Overflow => "more bytes than the declared Content-Length",
            SendError::Incomplete => "fewer bytes than the declared Content-Length",
        })
    }
}

impl Error for SendError {}

/// The queue between the two halves.
struct Channel {
    state: Mutex<State>,
    /// Signalled when the queue has room again or the connection is gone: a blocked
    /// `send` looks again.
    room: Condvar,
    /// Signalled when there is something for the connection's end (a chunk, the end,
    /// an abort), for a consumer that blocks (the thread-per-connection model).
    data: Condvar,
}

struct State {
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    queued: usize,
    /// The most bytes `chunks` may hold; a single larger chunk is let into an empty queue.
    capacity: usize,
    producer: Producer,
    /// What is left of the declared length, for a sized body.
    remaining: Option<u64>,
    /// The connection dropped its end: nothing sent from now on will be taken.
    gone: bool,
    /// How to tell the connection's end that there is something to take; `None` until
    /// the connection starts waiting for the producer, and for a blocking consumer.
    wake: Option<Wake>,
    /// A wake-up was sent and the connection has not taken anything since: a second one
    /// would be wasted. Coalesces the wake-ups of a burst of chunks into one.
    wake_sent: bool,
}

/// Tells the connection's end that there is something to take.
pub(crate) type Wake = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Producer {
    Sending,
    Finished,
    /// Dropped without finishing, or finished short of the declared length.
    Aborted,
}

/// What the connection's end found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// Chunks to send, in order; none empty.
    Chunks(Vec<Bytes>),
    /// Nothing yet; the producer is still at work.
    Pending,
    /// Everything was taken and the producer finished.
    Finished,
    /// Everything was taken and the producer gave up: the response must not look complete.
    Aborted,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (every change is
        // one assignment), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes a body channel whose queue holds at most `capacity` bytes.
pub(crate) fn channel(capacity: usize, len: Option<u64>) -> (BodySender, BodyStream) {
    let channel = Arc::new(Channel {
        state: Mutex::new(State {
            chunks: VecDeque::new(),
            queued: 0,
            capacity: capacity.max(1),
            producer: Producer::Sending,
            remaining: len,
            gone: false,
            wake: None,
            wake_sent: false,
        }),
        room: Condvar::new(),
        data: Condvar::new(),
    });
    let sender = BodySender {
        channel: Arc::clone(&channel),
        finished: false,
    };
    (sender, BodyStream { channel, len })
}

impl BodySender {
    /// Queues `chunk` for the client, waiting while the queue is full.
    ///
    /// Returns once the chunk is queued, not once it is sent. Empty chunks are ignored.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] if the client is gone (the chunk is dropped), and
    /// [`SendError::Overflow`] if it would take a sized body past its length.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, _body) = nioserve::Body::channel(1024);
    /// sender.send("data: hello\n\n").unwrap();
    /// ```
    pub fn send(&self, chunk: impl Into<Bytes>) -> Result<(), SendError> {
        self.queue(chunk.into(), true)
    }

    /// Queues `chunk` if the queue has room now; never waits.
    ///
    /// # Errors
    ///
    /// As [`send`](BodySender::send), and [`SendError::Full`] (with the chunk) when the
    /// queue has no room for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::{Body, SendError};
    ///
    /// let (sender, _body) = Body::channel(4);
    /// sender.try_send("1234").unwrap();
    /// assert!(matches!(sender.try_send("5"), Err(SendError::Full(_))));
    /// ```
    pub fn try_send(&self, chunk: impl Into<Bytes>) -> Result<(), SendError> {
        self.queue(chunk.into(), false)
    }

    /// Whether the response will never take more (see [`SendError::Closed`]). A producer
    /// with nothing to send yet can ask this to stop early.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, body) = nioserve::Body::channel(1024);
    /// assert!(!sender.is_closed());
    /// drop(body); // as when the response is never sent
    /// assert!(sender.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.channel.lock().gone
    }

    /// Ends the body: what is queued is sent, then the end of the body, and the
    /// connection goes on as it would after any response.
    ///
    /// # Errors
    ///
    /// [`SendError::Incomplete`] if a sized body got fewer bytes than it declared (the
    /// response is aborted), and [`SendError::Closed`] if the client is gone anyway.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, _body) = nioserve::Body::channel_sized(5, 1024);
    /// sender.send("hello").unwrap();
    /// sender.finish().unwrap();
    /// ```
    pub fn finish(mut self) -> Result<(), SendError> {
        self.finished = true;
        let short = self.channel.lock().remaining.is_some_and(|left| left > 0);
        if short {
            self.end(Producer::Aborted);
            return Err(SendError::Incomplete);
        }
        // Whether the client was gone is read as the body ends, under the same lock: once
        // it has ended, the connection may take the end and let its half go at once.
        if self.end(Producer::Finished) {
            return Err(SendError::Closed);
        }
        Ok(())
    }

    fn queue(&self, chunk: Bytes, wait: bool) -> Result<(), SendError> {
        let mut state = self.channel.lock();
        loop {
            if state.gone {
                return Err(SendError::Closed);
            }
            if state.remaining.is_some_and(|left| chunk.len() as u64 > left) {
                return Err(SendError::Overflow);
            }
            if chunk.is_empty() {
                // An empty chunk would end a chunked body early; it says nothing anyway.
                return Ok(());
            }
            if state.queued == 0 || state.queued + chunk.len() <= state.capacity {
                break;
            }
            if !wait {
                return Err(SendError::Full(chunk));
            }
            state = self.channel.room.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.queued += chunk.len();
        if let Some(left) = &mut state.remaining {
            *left -= chunk.len() as u64;
        }
        state.chunks.push_back(chunk);
        self.notify(state);
        Ok(())
    }

    /// Ends the body as `how` says; returns whether the connection's end was gone already.
    fn end(&mut self, how: Producer) -> bool {
        let mut state = self.channel.lock();
        if state.producer == Producer::Sending {
            state.producer = how;
        }
        let gone = state.gone;
        self.notify(state);
        gone
    }

    /// Tells the connection's end there is something new: a blocking consumer through the
    /// condition variable, the poller through its wake-up, unless one is on its way
    /// already. The wake-up runs after the lock is released.
    fn notify(&self, mut state: MutexGuard<'_, State>) {
        let wake = match &state.wake {
            Some(wake) if !state.wake_sent => Some(Arc::clone(wake)),
            _ => None,
        };
        state.wake_sent |= wake.is_some();
        drop(state);
        self.channel.data.notify_all();
        if let Some(wake) = wake {
            wake();
        }
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.channel.lock();
        f.debug_struct("BodySender")
            .field("queued", &state.queued)
            .field("remaining", &state.remaining)
            .field("closed", &state.gone)
            .finish()
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        if !self.finished {
            self.end(Producer::Aborted);
        }
    }
}

impl BodyStream {
    /// The length declared in advance, or `None` for a chunked body.
    pub(crate) fn len(&self) -> Option<u64> {
        self.len
    }

    /// Takes everything queued, without waiting, and makes room for the producer.
    pub(crate) fn pull(&self) -> Pulled {
        let mut state = self.channel.lock();
        state.wake_sent = false;
        let pulled = take(&mut state);
        drop(state);
        if matches!(pulled, Pulled::Chunks(_)) {
            self.channel.room.notify_all();
        }
        pulled
    }

    /// Waits up to `timeout` for something to take, then takes it: for a consumer that
    /// owns its thread (the thread-per-connection model).
    pub(crate) fn pull_blocking(&self, timeout: Duration) -> Pulled {
        let state = self.channel.lock();
        let (mut state, _) = self
            .channel
            .data
            .wait_timeout_while(state, timeout, |state| {
                state.chunks.is_empty() && state.producer == Producer::Sending
            })
            .unwrap_or_else(PoisonError::into_inner);
        let pulled = take(&mut state);
        drop(state);
        if matches!(pulled, Pulled::Chunks(_)) {
            self.channel.room.notify_all();
        }
        pulled
    }

    /// From now on, `wake` is called when the producer queues something new (once per
    /// burst: again only after the next [`pull`](BodyStream::pull)). Called at once if
    /// something is there already.
    pub(crate) fn wake_with(&self, wake: Wake) {
        let mut state = self.channel.lock();
        let now = !state.chunks.is_empty() || state.producer != Producer::Sending;
        state.wake_sent = now;
        state.wake = Some(Arc::clone(&wake));
        drop(state);
        if now {
            wake();
        }
    }
}

/// `chunks` as they go on the wire: each framed as a chunk of the chunked transfer
/// coding when `chunked` (RFC 9112 §7.1), as they are otherwise; then, when `last`, the
/// end of a chunked body (the last chunk and an empty trailer section).
pub(crate) fn framed(chunks: Vec<Bytes>, chunked: bool, last: bool) -> Vec<Bytes> {
    if !chunked {
        return chunks;
    }
    let mut framed = Vec::with_capacity(chunks.len() * 3 + 1);
    for chunk in chunks {
        framed.push(Bytes::from(format!("{:x}\r\n", chunk.len())));
        framed.push(chunk);
        framed.push(Bytes::from_static(b"\r\n"));
    }
    if last {
        framed.push(Bytes::from_static(b"0\r\n\r\n"));
    }
    framed
}

/// What the connection's end takes from `state`: every queued chunk, or how the body ended.
///
/// Chunks sent before the producer gave up are still delivered: the client gets every
/// byte that was sent, and then the abort.
fn take(state: &mut State) -> Pulled {
    if !state.chunks.is_empty() {
        state.queued = 0;
        return Pulled::Chunks(state.chunks.drain(..).collect());
    }
    match state.producer {
        Producer::Sending => Pulled::Pending,
        Producer::Finished => Pulled::Finished,
        Producer::Aborted => Pulled::Aborted,
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream").field("len", &self.len).finish()
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        // The connection is closed, or the body is never sent: nothing more is taken.
        let mut state = self.channel.lock();
        state.gone = true;
        state.wake = None;
        state.chunks.clear();
        state.queued = 0;
        drop(state);
        self.channel.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use std::time::Instant;

    use super::*;

    fn counting_wake() -> (Wake, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        (
            Arc::new(move || {
                seen.fetch_add(1, Ordering::SeqCst);
            }),
            count,
        )
    }

    #[test]
    fn chunks_arrive_in_order_and_a_burst_wakes_once() {
        let (sender, body) = channel(1024, None);
        let (wake, woken) = counting_wake();
        body.wake_with(wake);
        assert_eq!(woken.load(Ordering::SeqCst), 0, "nothing queued yet");
        sender.send("a").unwrap();
        sender.send("b").unwrap();
        sender.send("").unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert_eq!(body.pull(), Pulled::Chunks(vec![Bytes::from("a"), Bytes::from("b")]));
        assert_eq!(body.pull(), Pulled::Pending);
        sender.send("c").unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 2, "a pull re-arms the wake-up");
        sender.finish().unwrap();
        assert_eq!(body.pull(), Pulled::Chunks(vec![Bytes::from("c")]));
        assert_eq!(body.pull(), Pulled::Finished);
    }

    #[test]
    fn a_full_queue_blocks_the_producer_until_the_connection_takes_it() {
        let (sender, body) = channel(4, None);
        sender.send("1234").unwrap();
        assert!(matches!(sender.try_send("5"), Err(SendError::Full(chunk)) if chunk == "5"));
        let producer = thread::spawn(move || {
            let started = Instant::now();
            sender.send("5678").unwrap();
            (started.elapsed(), sender)
        });
        // The producer waits until the bytes are taken.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !producer.is_finished() && Instant::now() < deadline {
            if let Pulled::Chunks(chunks) = body.pull() {
                assert_eq!(chunks, [Bytes::from("1234")]);
                break;
            }
        }
        let (_, sender) = producer.join().unwrap();
        drop(sender);
        assert_eq!(
            body.pull(),
            Pulled::Chunks(vec![Bytes::from("5678")]),
            "sent before the abort"
        );
        assert_eq!(body.pull(), Pulled::Aborted, "dropped unfinished");
    }

    #[test]
    fn a_chunk_larger_than_the_queue_goes_into_an_empty_queue() {
        let (sender, body) = channel(2, None);
        sender.try_send("longer than two").unwrap();
        assert_eq!(body.pull(), Pulled::Chunks(vec![Bytes::from("longer than two")]));
    }

    #[test]
    fn a_producer_blocked_on_a_full_queue_learns_that_the_client_left() {
        let (sender, body) = channel(1, None);
        sender.send("x").unwrap();
        let producer = thread::spawn(move || sender.send("y"));
        drop(body);
        assert!(matches!(producer.join().unwrap(), Err(SendError::Closed)));
    }

    #[test]
    fn a_sized_body_refuses_more_and_fewer_bytes_than_declared() {
        let (sender, body) = channel(1024, Some(5));
        assert!(matches!(sender.send("toolong"), Err(SendError::Overflow)));
        sender.send("hel").unwrap();
        assert!(matches!(sender.finish(), Err(SendError::Incomplete)));
        assert_eq!(body.pull(), Pulled::Chunks(vec![Bytes::from("hel")]));
        assert_eq!(body.pull(), Pulled::Aborted);

        let (sender, body) = channel(1024, Some(5));
        sender.send("hel").unwrap();
        sender.send("lo").unwrap();
        sender.finish().unwrap();
        assert_eq!(body.pull(), Pulled::Chunks(vec![Bytes::from("hel"), Bytes::from("lo")]));
        assert_eq!(body.pull(), Pulled::Finished);
    }

    #[test]
    fn a_blocking_consumer_waits_for_the_next_chunk() {
        let (sender, body) = channel(1024, None);
        assert_eq!(body.pull_blocking(Duration::from_millis(10)), Pulled::Pending);
        let producer = thread::spawn(move || {
            sender.send("late").unwrap();
            sender.finish().unwrap();
        });
        let mut got = Vec::new();
        loop {
            match body.pull_blocking(Duration::from_secs(10)) {
                Pulled::Chunks(chunks) => got.extend(chunks),
                Pulled::Finished => break,
                other => panic!("{other:?}"),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [Bytes::from("late")]);
    }

    #[test]
    fn waking_is_at_once_when_something_waits_already() {
        let (sender, body) = channel(1024, None);
        sender.send("early").unwrap();
        let (wake, woken) = counting_wake();
        body.wake_with(wake);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
    }
}
