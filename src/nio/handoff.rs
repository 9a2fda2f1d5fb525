//! Everything the poller and the workers exchange: the jobs that go out, the
//! connections that come back, and the wake-up that brings the poller to them.
//!
//! A connection moves by value, over a channel each way, so no lock ever guards it. A
//! third channel carries no connection, only a token: a response body's producer
//! ([`BodySender`](crate::BodySender)) saying it sent something for the poller to write.
//! The poller sleeps in `poll()`; a worker that hands a connection back must wake it only
//! when it may be asleep, and the poller must never go to sleep with a connection
//! returned that it has not seen. The two halves of that agreement are
//! [`Handoff::poller_sleeps`] and [`Handoff::wake_poller`], side by side below.

use std::io;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use log::error;
use mio::{Registry, Token, Waker};

use crate::connection::Connection;
use crate::service::CloseReason;
use crate::shutdown::ShutdownReport;
use crate::stats::Counters;
use crate::stream::Wake;
use crate::Request;

/// What the poller shares with the workers and the server handle.
#[derive(Debug)]
pub(crate) struct Handoff {
    waker: Waker,
    /// The poll instance's registry, for a worker to take an upgraded socket out of it.
    registry: Registry,
    /// The poller is in, or about to enter, `poll()` and may need a wake-up.
    poller_asleep: AtomicBool,
    /// Set by the server handle; read by the poller, which then stops accepting, and by
    /// the workers, which then make each response the last on its connection.
    pub(crate) shutting_down: Arc<AtomicBool>,
    pub(crate) counters: Counters,
    /// What the end of the grace period cut off, written once by the poller as it exits.
    left: Mutex<ShutdownReport>,
    /// Where producers of streamed bodies say which connection has bytes to write.
    ready: Sender<Token>,
}

impl Handoff {
    fn new(
        waker: Waker,
        registry: Registry,
        shutting_down: Arc<AtomicBool>,
        counters: Counters,
        ready: Sender<Token>,
    ) -> Handoff {
        Handoff {
            waker,
            registry,
            poller_asleep: AtomicBool::new(false),
            shutting_down,
            counters,
            left: Mutex::new(ShutdownReport::default()),
            ready,
        }
    }

    /// What a streamed body's producer calls (once per burst of chunks) to have the
    /// poller write the connection at `token`. It holds the hand-off weakly: a sender
    /// kept after the server stopped keeps nothing of it alive.
    pub(crate) fn stream_waker(self: &Arc<Handoff>, token: Token) -> Wake {
        let handoff = Arc::downgrade(self);
        Arc::new(move || {
            if let Some(handoff) = Weak::upgrade(&handoff) {
                // Fails only once the poller is gone; then nothing is left to write to.
                if handoff.ready.send(token).is_ok() {
                    handoff.wake_poller();
                }
            }
        })
    }

    /// Takes a socket that leaves the server out of the poll instance: no event for it
    /// reaches the poller any more, whatever becomes of its token.
    pub(crate) fn deregister(&self, stream: &mut mio::net::TcpStream) -> io::Result<()> {
        self.registry.deregister(stream)
    }

    /// The poller is about to sleep in `poll()`: from here on, a hand-back wakes it.
    ///
    /// After this the poller looks at the return channel once more before it sleeps
    /// (and polls without sleeping if anything is there).
    pub(crate) fn poller_sleeps(&self) {
        self.poller_asleep.store(true, Ordering::SeqCst);
        // Pairs with the fence in `wake_poller`: either the poller sees the returned
        // connection before it sleeps, or the worker sees it asleep and wakes it.
        fence(Ordering::SeqCst);
    }

    /// The poller is back from `poll()`.
    pub(crate) fn poller_woke(&self) {
        self.poller_asleep.store(false, Ordering::SeqCst);
    }

    /// Wakes the poller after handing it a connection, unless it is awake anyway.
    ///
    /// Only the first hand-back while the poller sleeps pays for the wake-up; the
    /// poller drains every returned connection each time it wakes.
    pub(crate) fn wake_poller(&self) {
        // Pairs with the fence in `poller_sleeps`.
        fence(Ordering::SeqCst);
        if self.poller_asleep.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                error!("waking the poller failed: {e}");
            }
        }
    }

    /// Asks the poller to stop, whether it sleeps or not.
    pub(crate) fn begin_shutdown(&self) -> io::Result<()> {
        self.shutting_down.store(true, Ordering::Release);
        self.waker.wake()
    }

    /// The poller's last word: what it had to cut off.
    pub(crate) fn set_left(&self, left: ShutdownReport) {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner) = left;
    }

    /// What the poller had to cut off, once it has exited.
    pub(crate) fn left(&self) -> ShutdownReport {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection on its way to a worker, with the request the poller read from it
/// (whatever the connection still buffers comes after that request), or without one: it
/// goes back only to have more of its response body read from a `Read`.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) token: Token,
    pub(crate) conn: Connection,
    pub(crate) request: Option<Request>,
    /// The poller's turn that sent it: the start of its wait for a worker (the
    /// `queue_timeout`, and whether its socket is looked at before it runs).
    pub(crate) queued: Instant,
}

/// A connection on its way back to the poller.
#[derive(Debug)]
pub(crate) struct Returned {
    pub(crate) token: Token,
    pub(crate) handback: Handback,
}

/// What a worker hands back.
#[derive(Debug)]
pub(crate) enum Handback {
    /// The connection lives on. From what it carries the poller sees whether it is
    /// idle, mid-request, waiting to write, streaming a response body, or closing after
    /// its last response.
    Live(Connection),
    /// Writing to the socket failed, or the worker unwound: the poller frees the slot.
    Dead(Connection, CloseReason),
    /// The connection switched protocols and left the server: the poller frees the slot.
    /// The socket is no longer registered with the poll instance.
    Upgraded,
}

/// The poller's ends of the channels.
#[derive(Debug)]
pub(crate) struct PollerEnds {
    pub(crate) jobs: Sender<Job>,
    pub(crate) returns: Receiver<Returned>,
    /// Connections whose streamed body has something new to write.
    pub(crate) ready: Receiver<Token>,
}

impl PollerEnds {
    /// Whether anything waits for the poller: a connection handed back, or a stream
    /// with bytes to write.
    pub(crate) fn pending(&self) -> bool {
        !self.returns.is_empty() || !self.ready.is_empty()
    }
}

/// The workers' ends of the two channels.
#[derive(Clone, Debug)]
pub(crate) struct WorkerEnds {
    pub(crate) jobs: Receiver<Job>,
    pub(crate) returns: Sender<Returned>,
}

/// The hand-off between the poller and the workers: the shared half, and each side's
/// ends of the channels. The poller dropping its ends is what ends the workers; a worker
/// sending on a channel whose poller is gone drops (and so closes) the connection.
pub(crate) fn handoff(
    waker: Waker,
    registry: Registry,
    shutting_down: Arc<AtomicBool>,
    counters: Counters,
) -> (Arc<Handoff>, PollerEnds, WorkerEnds) {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let (returns_tx, returns_rx) = crossbeam_channel::unbounded();
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
    (
        Arc::new(Handoff::new(waker, registry, shutting_down, counters, ready_tx)),
        PollerEnds {
            jobs: jobs_tx,
            returns: returns_rx,
            ready: ready_rx,
        },
        WorkerEnds {
            jobs: jobs_rx,
            returns: returns_tx,
        },
    )
}
