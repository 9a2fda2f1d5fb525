//! The one poller thread: Tomcat's Acceptor and Poller in one mio loop.
//!
//! The poller owns the `mio::Poll`, the listener, a `Slab` of connection slots,
//! the deadlines, the `Waker` and the channel on which workers hand connections
//! back. It accepts, reads and parses; a connection moves to the worker pool only
//! once a complete request is buffered, so a slow or partial request never reaches
//! a worker. It writes what a worker could not (the socket was full), sends error
//! responses, and closes. It never runs handler code and never blocks anywhere but
//! in `poll()`.
//!
//! Sockets are registered once, for both directions, edge-triggered. Readiness is
//! reported once per edge, so whatever the poller learns it must remember: a
//! connection's `readable` flag says "not read to the end yet", and an event for a
//! connection on a worker is kept in its `Busy` slot until it comes back.

use std::io;
use std::mem;
use std::net::Shutdown;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use log::{debug, error, trace, warn};
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::config::{self, Config};
use crate::connection::{CloseReason, Connection, Flush, ReadBuf};
use crate::deadline::Deadlines;
use crate::h1::error::{Limits, ParseError};
use crate::h1::head;
use crate::h1::request::{self, Next};
use crate::h1::response;
use crate::server::ShutdownReport;
use crate::stats::Counters;
use crate::worker::{Handback, Job, Returned};
use crate::Request;

/// How soon the poller collects connections that workers handed back without
/// waking it, while any connection is on a worker.
const COLLECT_EVERY: Duration = Duration::from_millis(1);

/// How long the poller keeps looking (yielding, not sleeping) for a connection
/// that became readable while on a worker. A worker has usually written its
/// response and is handing the connection back; one running a long handler is
/// then collected every `COLLECT_EVERY` instead.
const SPIN_FOR: Duration = Duration::from_micros(200);

/// The listener's token. Slab keys never come near it.
pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
/// The token of the waker that workers (and shutdown) use to interrupt `poll()`.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// What the poller shares with the workers and the server handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) waker: Waker,
    /// The poller is in, or about to enter, `poll()` and may need a wake-up.
    pub(crate) poller_asleep: AtomicBool,
    /// Also read by the workers, to make a response during shutdown the last one.
    pub(crate) shutting_down: Arc<AtomicBool>,
    pub(crate) counters: Counters,
    /// What the end of the grace period cut off, written once by the poller as it exits.
    pub(crate) left: Mutex<ShutdownReport>,
}

impl Shared {
    /// Wakes the poller after handing it a connection, unless it is awake anyway.
    ///
    /// Only the first hand-back while the poller sleeps pays for the wake-up; the
    /// poller drains every returned connection each time it wakes.
    pub(crate) fn wake_poller(&self) {
        // Pairs with the fence in `Poller::run`: either the poller sees the
        // returned connection before it sleeps, or this sees it asleep.
        fence(Ordering::SeqCst);
        if self.poller_asleep.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                error!("waking the poller failed: {e}");
            }
        }
    }
}

/// One connection slot. Every state a connection can be in is here.
#[derive(Debug)]
enum Slot {
    /// Between requests: no buffers held, the keep-alive timeout runs.
    Idle(Connection),
    /// Part of a request is buffered: the request timeout runs.
    Reading(Connection),
    /// Response bytes wait for the client to take them: the send timeout runs.
    Writing(Connection),
    /// The last response is out and our side is shut; what the client still sends
    /// is read and dropped until it closes or the linger timeout runs out.
    Closing(Connection),
    /// On a worker. The token stays reserved; readiness that arrives meanwhile is
    /// kept here and acted on when the connection comes back.
    Busy(Arrived),
}

/// What the events for a connection on a worker announced.
#[derive(Clone, Copy, Debug, Default)]
struct Arrived {
    /// Bytes arrived.
    readable: bool,
    /// The client's FIN (or an error) arrived.
    hung_up: bool,
}

/// The states that wait with a deadline; each has its own FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Idle = 0,
    Reading = 1,
    Writing = 2,
    Closing = 3,
}

impl Slot {
    fn waiting(&self) -> Option<(Wait, &Connection)> {
        match self {
            Slot::Idle(c) => Some((Wait::Idle, c)),
            Slot::Reading(c) => Some((Wait::Reading, c)),
            Slot::Writing(c) => Some((Wait::Writing, c)),
            Slot::Closing(c) => Some((Wait::Closing, c)),
            Slot::Busy(_) => None,
        }
    }
}

/// Why [`Poller::drive`] runs, which decides what it does when the client has sent
/// nothing more to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Something happened (an event, a hand-back, an accept): wait for the client
    /// again if there is nothing to do.
    Event,
    /// The deadline of this waiting state passed. The socket is read first, so that
    /// a request that arrived while the poller could not look (a stall, an event not
    /// yet taken) is answered rather than dropped; only what is still missing then
    /// counts as timed out.
    Expired(Wait),
}

/// Whether accepting goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accepting {
    Open,
    /// At `max_connections`: the kernel's backlog holds new clients until a slot frees.
    Full,
    /// Out of file descriptors (or another accept failure): retry at this instant.
    Paused(Instant),
    /// Shutting down: the listener is closed.
    Closed,
}

pub(crate) struct Poller {
    poll: Poll,
    listener: Option<TcpListener>,
    slab: Slab<Slot>,
    deadlines: [Deadlines; 4],
    next_timer: u64,
    jobs: Sender<Job>,
    returns: Receiver<Returned>,
    shared: Arc<Shared>,
    max_connections: usize,
    shutdown_grace: Duration,
    limits: Limits,
    max_request_bytes: usize,
    /// Read buffers of connections that went idle, for the next reader.
    buffers: Vec<ReadBuf>,
    /// Where bytes from closing connections are read to be thrown away.
    discard: Box<[u8]>,
    accepting: Accepting,
    /// Set once an accept failure was logged, until an accept succeeds again.
    accept_warned: bool,
    /// Set when shutdown began: the end of the grace period.
    grace_ends: Option<Instant>,
    idle: usize,
    busy: usize,
    /// Busy connections that became readable while on a worker.
    awaited: usize,
    /// How long the poller spins waiting for those, before it goes back to sleeping.
    spin_until: Option<Instant>,
}

impl Poller {
    pub(crate) fn new(
        poll: Poll,
        listener: TcpListener,
        config: &Config,
        shared: Arc<Shared>,
        jobs: Sender<Job>,
        returns: Receiver<Returned>,
    ) -> Poller {
        Poller {
            poll,
            listener: Some(listener),
            slab: Slab::with_capacity(1024.min(config.max_connections)),
            deadlines: [
                Deadlines::new(config.keep_alive_timeout),
                Deadlines::new(config.request_timeout),
                Deadlines::new(config.send_timeout),
                Deadlines::new(config::LINGER_TIMEOUT),
            ],
            next_timer: 0,
            jobs,
            returns,
            shared,
            max_connections: config.max_connections,
            shutdown_grace: config.shutdown_grace,
            limits: config.limits(),
            max_request_bytes: config.max_request_bytes(),
            buffers: Vec::new(),
            discard: vec![0; 16 * 1024].into_boxed_slice(),
            accepting: Accepting::Open,
            accept_warned: false,
            grace_ends: None,
            idle: 0,
            busy: 0,
            awaited: 0,
            spin_until: None,
        }
    }

    /// Runs until shutdown has finished or `poll()` fails.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            self.take_returns(now);
            if self.grace_ends.is_none() && self.shared.shutting_down.load(Ordering::Acquire) {
                self.begin_shutdown(now);
            }
            if let Some(end) = self.grace_ends {
                if self.slab.is_empty() || now >= end {
                    self.finish();
                    return Ok(());
                }
            }
            // The one place accepting resumes, just before the poller may sleep: a slot
            // freed on any path since the last look (a hand-back closed above, an event,
            // an expiry, a lingering close that ended) is used at once. The listener is
            // edge-triggered and its edge was consumed while the server was full, so no
            // event would come for the clients already waiting in the backlog.
            match self.accepting {
                Accepting::Paused(at) if at <= now => self.accept(now),
                Accepting::Full if self.slab.len() < self.max_connections => self.accept(now),
                _ => {}
            }
            self.shared
                .counters
                .set_connections(self.slab.len(), self.idle, self.busy);

            self.shared.poller_asleep.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let timeout = if !self.returns.is_empty() {
                Some(Duration::ZERO)
            } else if self.awaited > 0 && now < *self.spin_until.get_or_insert(now + SPIN_FOR) {
                // A connection with more to read is about to come back from a worker
                // that will not wake us for it: let the worker run, then look again.
                thread::yield_now();
                Some(Duration::ZERO)
            } else {
                let deadline = self.next_deadline().map(|at| at.saturating_duration_since(now));
                if self.busy > 0 {
                    // Workers hand back idle connections without a wake-up; collect them soon.
                    Some(deadline.map_or(COLLECT_EVERY, |d| d.min(COLLECT_EVERY)))
                } else {
                    deadline
                }
            };
            let polled = self.poll.poll(&mut events, timeout);
            self.shared.poller_asleep.store(false, Ordering::SeqCst);
            match polled {
                Ok(()) => {}
                // A signal, or a stop and continue (SIGSTOP, SIGCONT: epoll_wait fails with
                // EINTR, signal(7)). No events were taken: expiring deadlines now would
                // act before the events of the stall, so poll again first.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error!("poll failed, the server stops: {e}");
                    return Err(e);
                }
            }

            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    // Paused or full, accepting resumes on its own schedule (below).
                    LISTENER if self.accepting == Accepting::Open => self.accept(now),
                    LISTENER => {}
                    token => self.on_event(token, event, now),
                }
            }
            self.expire(now);
        }
    }

    /// Closes whatever is left when the grace period is over, and says what that was.
    fn finish(&mut self) {
        let mut left = ShutdownReport::default();
        for slot in self.slab.drain() {
            match slot {
                Slot::Reading(_) => left.reading += 1,
                Slot::Writing(_) => left.writing += 1,
                Slot::Busy(_) => left.on_worker += 1,
                Slot::Closing(_) => left.lingering += 1,
                // Never during the grace period (`drive` closes instead of parking);
                // and nothing to lose.
                Slot::Idle(_) => {}
            }
            self.shared.counters.closed();
        }
        self.shared.counters.set_connections(0, 0, 0);
        debug!("shutdown: {left}");
        *self.shared.left.lock().unwrap_or_else(PoisonError::into_inner) = left;
    }

    /// Accepts until the kernel has no more pending connections.
    fn accept(&mut self, now: Instant) {
        self.accepting = Accepting::Open;
        loop {
            let Some(listener) = &self.listener else {
                self.accepting = Accepting::Closed;
                return;
            };
            if self.slab.len() >= self.max_connections {
                // Never accept only to drop: the backlog holds the rest.
                self.accepting = Accepting::Full;
                return;
            }
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    self.accept_warned = false;
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!("{peer}: TCP_NODELAY not set: {e}");
                    }
                    let entry = self.slab.vacant_entry();
                    let token = Token(entry.key());
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    {
                        warn!("{peer}: could not register the connection: {e}");
                        continue;
                    }
                    entry.insert(Slot::Busy(Arrived::default()));
                    self.shared.counters.accepted();
                    debug!("New client: {peer} #{}", token.0);
                    self.drive(token, Connection::new(stream, peer), Turn::Event, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying now would spin.
                    if !self.accept_warned {
                        warn!("accept failed, pausing accepts for {:?}: {e}", config::ACCEPT_PAUSE);
                        self.accept_warned = true;
                    }
                    self.accepting = Accepting::Paused(now + config::ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, token: Token, event: &Event, now: Instant) {
        let hung_up = event.is_read_closed() || event.is_error();
        let readable = event.is_readable() || hung_up;
        let writable = event.is_writable() || event.is_write_closed() || event.is_error();
        trace!(
            "#{} event: readable={readable} hung_up={hung_up} writable={writable}",
            token.0
        );
        let act = match self.slab.get_mut(token.0) {
            // A late event for a connection already closed.
            None => false,
            Some(Slot::Busy(arrived)) => {
                if readable && !arrived.readable {
                    arrived.readable = true;
                    self.awaited += 1;
                }
                arrived.hung_up |= hung_up;
                false
            }
            Some(Slot::Idle(conn) | Slot::Reading(conn) | Slot::Closing(conn)) => {
                conn.readable |= readable;
                conn.hung_up |= hung_up;
                readable
            }
            Some(Slot::Writing(conn)) => {
                // Bytes that arrive while a response is stuck wait their turn.
                conn.readable |= readable;
                conn.hung_up |= hung_up;
                writable
            }
        };
        if !act {
            return;
        }
        match self.take(token) {
            Slot::Closing(conn) => self.drain_closing(token, conn),
            Slot::Idle(conn) | Slot::Reading(conn) | Slot::Writing(conn) => self.drive(token, conn, Turn::Event, now),
            Slot::Busy(_) => unreachable!("a busy slot is never acted on"),
        }
    }

    /// Moves a connection as far as it can go without waiting: writes pending
    /// output, reads, parses, and then hands it to a worker or parks it.
    fn drive(&mut self, token: Token, mut conn: Connection, mut turn: Turn, now: Instant) {
        loop {
            match conn.flush() {
                Ok(Flush::Done) => {}
                Ok(Flush::Blocked) => return self.park(token, Slot::Writing(conn), now),
                Err(e) => return self.close_after_error(token, conn, &e),
            }
            if let Some(reason) = conn.closing {
                return self.linger(token, conn, reason, now);
            }
            if conn.readable {
                if !conn.input.is_allocated() {
                    conn.input = self
                        .buffers
                        .pop()
                        .unwrap_or_else(|| ReadBuf::with_capacity(config::READ_BUFFER_BYTES));
                }
                if let Err(e) = conn.read_available(self.max_request_bytes) {
                    return self.close_after_error(token, conn, &e);
                }
            }
            let (buffered, progress) = conn.input.bytes_and_progress();
            match request::next(buffered, progress, &self.limits) {
                Ok(Next::Complete { request, len }) => {
                    conn.input.consume(len);
                    if conn.input.is_empty() {
                        // Nothing pipelined behind it: the worker needs no read buffer,
                        // and the next reader can have this one now.
                        let buf = mem::take(&mut conn.input);
                        self.recycle(buf);
                    }
                    return self.dispatch(token, conn, request);
                }
                Ok(Next::Partial { expects_continue }) => {
                    if conn.eof {
                        // The client stopped sending before a whole request arrived.
                        return self.close(token, conn, CloseReason::PeerClosed);
                    }
                    if conn.input.is_empty() {
                        let stop = if self.grace_ends.is_some() {
                            Some(CloseReason::Shutdown)
                        } else {
                            match turn {
                                Turn::Expired(Wait::Idle) => Some(CloseReason::KeepAliveTimeout),
                                Turn::Expired(_) => Some(CloseReason::RequestTimeout),
                                Turn::Event => None,
                            }
                        };
                        if let Some(reason) = stop {
                            if matches!(turn, Turn::Expired(_)) {
                                self.shared.counters.timed_out();
                            }
                            if conn.served == 0 {
                                // Nothing was ever sent on it: nobody to tell, nothing to lose.
                                return self.close(token, conn, reason);
                            }
                            // Responses may still be on their way to a client that reads
                            // slowly, which may already be sending its next request.
                            return self.linger(token, conn, reason, now);
                        }
                        if conn.served == 0 {
                            // A new connection waits for its first request under the
                            // request timeout (nginx's client_header_timeout): it has
                            // not been kept alive for anything yet.
                            return self.park(token, Slot::Reading(conn), now);
                        }
                        return self.park(token, Slot::Idle(conn), now);
                    }
                    if turn == Turn::Expired(Wait::Reading) {
                        // RFC 9110 §15.5.9: tell the client why, then close.
                        self.shared.counters.timed_out();
                        turn = Turn::Event;
                        self.refuse_with(&mut conn, ::http::StatusCode::REQUEST_TIMEOUT, "");
                        continue;
                    }
                    if conn.input.len() >= self.max_request_bytes {
                        self.refuse(&mut conn, ParseError::BodyTooLarge);
                        continue;
                    }
                    if expects_continue && !conn.continue_sent {
                        // RFC 9110 §10.1.1: ask for the body only once the head is acceptable.
                        conn.continue_sent = true;
                        if let Err(e) = conn.write_response(response::CONTINUE, response::Payload::None) {
                            return self.close_after_error(token, conn, &e);
                        }
                        continue;
                    }
                    return self.park(token, Slot::Reading(conn), now);
                }
                Err(e) => {
                    debug!("{} #{}: rejected: {} ({})", conn.peer, token.0, e.reason(), e.status());
                    self.refuse(&mut conn, e);
                }
            }
        }
    }

    /// Queues the error response for `e`; the connection closes after it.
    fn refuse(&mut self, conn: &mut Connection, e: ParseError) {
        self.refuse_with(conn, e.status(), e.reason());
    }

    /// Queues an error response the server writes itself; the connection closes after it.
    fn refuse_with(&mut self, conn: &mut Connection, status: ::http::StatusCode, detail: &str) {
        let mut out = Vec::with_capacity(256);
        let method = head::method_for_refusal(conn.input.bytes());
        response::encode_error(&mut out, &method, status, detail);
        conn.closing = Some(if status == ::http::StatusCode::REQUEST_TIMEOUT {
            CloseReason::RequestTimeout
        } else {
            CloseReason::BadRequest(status.as_u16())
        });
        // Whatever else the client sent is never processed as a request.
        conn.input.consume(conn.input.len());
        conn.log_refusal(status.as_u16(), &out);
        if let Err(err) = conn.write_response(&out, response::Payload::None) {
            debug!("{}: error response not sent: {err}", conn.peer);
            conn.eof = true;
        }
    }

    fn dispatch(&mut self, token: Token, mut conn: Connection, request: Request) {
        // The next request's timeout starts with its own first byte.
        conn.timer = 0;
        self.slab[token.0] = Slot::Busy(Arrived::default());
        self.busy += 1;
        // Published before the worker can see the request, so a handler reporting
        // the counters (`/_status`) counts its own connection as busy.
        self.shared
            .counters
            .set_connections(self.slab.len(), self.idle, self.busy);
        if let Err(crossbeam_channel::SendError(job)) = self.jobs.send(Job { token, conn, request }) {
            // Only when every worker thread is gone; nothing can serve it.
            error!("no worker left to serve #{}", token.0);
            self.busy -= 1;
            self.slab[token.0] = Slot::Busy(Arrived::default());
            self.close(token, job.conn, CloseReason::Shutdown);
        }
    }

    /// Takes back every connection the workers have finished with.
    fn take_returns(&mut self, now: Instant) {
        while let Ok(Returned { token, handback }) = self.returns.try_recv() {
            self.busy -= 1;
            let meanwhile = match self.slab.get(token.0) {
                Some(Slot::Busy(arrived)) => *arrived,
                other => unreachable!("#{} came back from a worker but its slot is {other:?}", token.0),
            };
            if meanwhile.readable {
                self.awaited -= 1;
                if self.awaited == 0 {
                    self.spin_until = None;
                }
            }
            match handback {
                Handback::Live(mut conn) => {
                    // During shutdown a next request may have arrived unannounced; look.
                    conn.readable |= meanwhile.readable || self.grace_ends.is_some();
                    conn.hung_up |= meanwhile.hung_up;
                    self.drive(token, conn, Turn::Event, now);
                }
                Handback::Dead(conn, reason) => self.close(token, conn, reason),
            }
        }
    }

    /// Puts a connection into a waiting state and starts that state's timeout.
    fn park(&mut self, token: Token, mut slot: Slot, now: Instant) {
        let (wait, conn) = match &mut slot {
            Slot::Idle(c) => (Wait::Idle, c),
            Slot::Reading(c) => (Wait::Reading, c),
            Slot::Writing(c) => (Wait::Writing, c),
            Slot::Closing(c) => (Wait::Closing, c),
            Slot::Busy(_) => unreachable!("park takes a waiting state"),
        };
        if conn.input.is_empty() {
            // A waiting connection with nothing buffered holds no read buffer: an
            // idle one, or a new one that has not sent its first byte yet.
            let buf = mem::take(&mut conn.input);
            self.recycle(buf);
        }
        // A timer id carries its state in the low two bits. The request timeout
        // counts from the request's first byte, so a connection that stays in
        // Reading keeps its deadline; entering any state starts a new one.
        if !(wait == Wait::Reading && timer_wait(conn.timer) == Some(Wait::Reading)) {
            self.next_timer += 1;
            conn.timer = self.next_timer << 2 | wait as u64;
            self.deadlines[wait as usize].push(now, token, conn.timer);
        }
        if wait == Wait::Idle {
            self.idle += 1;
        }
        self.slab[token.0] = slot;
        self.sweep(wait);
    }

    /// Removes a slot's connection for the poller to work on. The slot is marked
    /// busy meanwhile; every path puts a state back or frees the slot.
    fn take(&mut self, token: Token) -> Slot {
        let slot = mem::replace(&mut self.slab[token.0], Slot::Busy(Arrived::default()));
        if matches!(slot, Slot::Idle(_)) {
            self.idle -= 1;
        }
        slot
    }

    /// Ends our side after the last response and reads what the client still sends
    /// until it closes too (RFC 9112 §9.6): closing with unread bytes would make the
    /// kernel reset the connection, and the reset can destroy the response in flight.
    fn linger(&mut self, token: Token, mut conn: Connection, reason: CloseReason, now: Instant) {
        if conn.eof {
            return self.close(token, conn, reason);
        }
        if let Err(e) = conn.stream.shutdown(Shutdown::Write) {
            return self.close_after_error(token, conn, &e);
        }
        conn.closing = Some(reason);
        conn.input.consume(conn.input.len());
        self.park(token, Slot::Closing(conn), now);
        if let Slot::Closing(conn) = self.take(token) {
            self.drain_closing(token, conn);
        }
    }

    /// Reads and drops what a closing connection sends, until it closes or blocks.
    fn drain_closing(&mut self, token: Token, mut conn: Connection) {
        let reason = conn.closing.unwrap_or(CloseReason::PeerClosed);
        if conn.readable {
            loop {
                match io::Read::read(&mut conn.stream, &mut self.discard) {
                    Ok(0) => return self.close(token, conn, reason),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return self.close(token, conn, reason),
                }
            }
            conn.readable = false;
        }
        self.slab[token.0] = Slot::Closing(conn);
    }

    fn close_after_error(&mut self, token: Token, conn: Connection, e: &io::Error) {
        let reason = match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
                CloseReason::PeerClosed
            }
            _ => CloseReason::Io,
        };
        debug!("{} #{}: {e}", conn.peer, token.0);
        self.close(token, conn, reason);
    }

    /// Frees the slot; dropping the socket closes it and removes it from the poll set.
    fn close(&mut self, token: Token, mut conn: Connection, reason: CloseReason) {
        debug!(
            "{} #{}: closed ({reason:?}) after {} requests",
            conn.peer, token.0, conn.served
        );
        let mut buf = mem::take(&mut conn.input);
        buf.consume(buf.len());
        self.recycle(buf);
        self.slab.remove(token.0);
        self.shared.counters.closed();
    }

    /// Keeps an emptied read buffer for the next reader. Only buffers of the
    /// standard size are kept: one that grew for a large request is let go, so
    /// the pool never holds more than `READ_BUFFER_POOL` standard buffers.
    fn recycle(&mut self, buf: ReadBuf) {
        debug_assert!(buf.is_empty(), "a recycled buffer holds no bytes");
        if buf.capacity() == config::READ_BUFFER_BYTES && self.buffers.len() < config::READ_BUFFER_POOL {
            self.buffers.push(buf);
        }
    }

    /// Acts on every deadline that has passed.
    fn expire(&mut self, now: Instant) {
        for wait in [Wait::Idle, Wait::Reading, Wait::Writing, Wait::Closing] {
            while let Some((token, timer)) = self.deadlines[wait as usize].pop_expired(now) {
                let live = matches!(
                    self.slab.get(token.0).and_then(Slot::waiting),
                    Some((w, conn)) if w == wait && conn.timer == timer
                );
                if !live {
                    continue;
                }
                let (Slot::Idle(mut conn)
                | Slot::Reading(mut conn)
                | Slot::Writing(mut conn)
                | Slot::Closing(mut conn)) = self.take(token)
                else {
                    unreachable!("a live deadline belongs to a waiting slot");
                };
                match wait {
                    Wait::Idle | Wait::Reading => {
                        // Whatever the socket holds is read before anything is given up
                        // on: after a stall longer than the timeout, requests sent
                        // meanwhile sit there, and closing with them unread would reset
                        // the connection (and whatever response is still in flight).
                        conn.readable = true;
                        self.drive(token, conn, Turn::Expired(wait), now);
                    }
                    Wait::Writing => {
                        // The client took nothing for a whole send timeout: what is in
                        // flight is lost either way.
                        self.shared.counters.timed_out();
                        self.close(token, conn, CloseReason::SendTimeout);
                    }
                    Wait::Closing => {
                        let reason = conn.closing.unwrap_or(CloseReason::PeerClosed);
                        self.close(token, conn, reason);
                    }
                }
            }
        }
    }

    /// Sweeps stale deadlines out once they clearly outnumber the connections.
    fn sweep(&mut self, wait: Wait) {
        let queue = &mut self.deadlines[wait as usize];
        if queue.len() <= 2 * self.slab.len() + 1024 {
            return;
        }
        let slab = &self.slab;
        queue.retain(|token, timer| {
            matches!(slab.get(token.0).and_then(Slot::waiting), Some((w, conn)) if w == wait && conn.timer == timer)
        });
    }

    /// When `poll()` must return at the latest.
    fn next_deadline(&self) -> Option<Instant> {
        let accept = match self.accepting {
            Accepting::Paused(at) => Some(at),
            _ => None,
        };
        self.deadlines
            .iter()
            .filter_map(Deadlines::next)
            .chain(accept)
            .chain(self.grace_ends)
            .min()
    }

    /// Stops accepting, closes idle connections, and gives the rest the grace period.
    fn begin_shutdown(&mut self, now: Instant) {
        debug!("shutdown: closing the listener and {} idle connections", self.idle);
        if let Some(mut listener) = self.listener.take() {
            if let Err(e) = self.poll.registry().deregister(&mut listener) {
                debug!("deregistering the listener: {e}");
            }
        }
        self.accepting = Accepting::Closed;
        self.grace_ends = Some(now + self.shutdown_grace);
        // Idle connections, and new ones that have sent nothing yet (a browser's
        // preconnect, a health check): none of them may hold the exit.
        let quiet: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, slot)| match slot {
                Slot::Idle(_) => true,
                Slot::Reading(conn) => conn.input.is_empty(),
                _ => false,
            })
            .map(|(key, _)| key)
            .collect();
        for key in quiet {
            if let Slot::Idle(mut conn) | Slot::Reading(mut conn) = self.take(Token(key)) {
                // A request may have arrived since the last poll: read before closing. A
                // complete one is still answered (with `Connection: close`); with nothing
                // buffered, `drive` closes the connection now that shutdown has begun
                // (lingering, if responses were sent on it).
                conn.readable = true;
                self.drive(Token(key), conn, Turn::Event, now);
            }
        }
    }
}

/// The state a timer id was issued for (see [`Poller::park`]).
fn timer_wait(timer: u64) -> Option<Wait> {
    if timer == 0 {
        return None;
    }
    Some(match timer & 3 {
        0 => Wait::Idle,
        1 => Wait::Reading,
        2 => Wait::Writing,
        _ => Wait::Closing,
    })
}
