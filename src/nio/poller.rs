//! The one poller thread: Tomcat's Acceptor and Poller in one mio loop.
//!
//! The poller owns the `mio::Poll`, the listener, the [`Slots`] of every open connection
//! (with their deadlines) and the receiving end of the hand-back channel. It accepts,
//! reads and parses; a connection moves to the worker pool only once a complete request
//! is buffered, so a slow or partial request never reaches a worker. It writes what a
//! worker could not (the socket was full), writes streamed bodies as their producers send
//! them, sends error responses, and closes. It never runs handler code and never blocks
//! anywhere but in `poll()`.
//!
//! Sockets are registered once, for both directions, edge-triggered. Readiness is
//! reported once per edge, so whatever the poller learns it must remember: a
//! connection's `readable` flag says "not read to the end yet", and readiness for a
//! connection on a worker is kept in its slot until it comes back.

use std::io;
use std::mem;
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, error, trace, warn};
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use super::bodies::{Bodies, Fed};
use super::handoff::{Handback, Handoff, Job, PollerEnds, Returned};
use super::slots::{Readiness, Slots, Timeouts, Wait};
use crate::access::Sink;
use crate::config::{self, Config, ErrorBody};
use crate::connection::{Connection, LiveBody, Pump};
use crate::h1::error::Limits;
use crate::h1::request::{self, Next};
use crate::h1::response::{self, Payload};
use crate::read_buf::ReadBuf;
use crate::service::{self, CloseReason, Partial};
use crate::transport::{self, AcceptErrors, Drained, Sent};
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
    slots: Slots<Connection>,
    ends: PollerEnds,
    handoff: Arc<Handoff>,
    max_connections: usize,
    shutdown_grace: Duration,
    limits: Limits,
    max_request_bytes: usize,
    /// What is done with request bodies as they arrive.
    bodies: Bodies,
    /// The bodies of the error responses the poller writes itself.
    error_body: ErrorBody,
    /// Read buffers of connections that went idle, for the next reader.
    buffers: Vec<ReadBuf>,
    /// Where bytes from lingering connections are read to be thrown away.
    discard: Box<[u8]>,
    /// Where the access-log lines of the connections accepted go.
    access: Sink,
    accepting: Accepting,
    accept_errors: AcceptErrors,
    /// Set when shutdown began: the end of the grace period.
    grace_ends: Option<Instant>,
    /// While connections on workers became readable: how long the poller spins waiting
    /// for them, before it goes back to sleeping.
    spin_until: Option<Instant>,
}

impl Poller {
    pub(crate) fn new(
        poll: Poll,
        listener: TcpListener,
        config: &Config,
        handoff: Arc<Handoff>,
        ends: PollerEnds,
        access: Sink,
    ) -> Poller {
        let timeouts = Timeouts {
            idle: config.keep_alive_timeout,
            reading: config.request_timeout,
            reading_body: config.body_timeout,
            writing: config.send_timeout,
            lingering: config::LINGER_TIMEOUT,
        };
        Poller {
            poll,
            listener: Some(listener),
            slots: Slots::new(timeouts, 1024.min(config.max_connections)),
            ends,
            handoff,
            max_connections: config.max_connections,
            shutdown_grace: config.shutdown_grace,
            limits: config.limits(),
            max_request_bytes: config.max_request_bytes(),
            bodies: Bodies::new(config),
            error_body: config.error_body.clone(),
            buffers: Vec::new(),
            discard: vec![0; 16 * 1024].into_boxed_slice(),
            access,
            accepting: Accepting::Open,
            accept_errors: AcceptErrors::default(),
            grace_ends: None,
            spin_until: None,
        }
    }

    /// Runs until shutdown has finished or `poll()` fails.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            self.take_returns(now);
            self.take_ready(now);
            if self.grace_ends.is_none() && self.handoff.shutting_down.load(Ordering::Acquire) {
                self.begin_shutdown(now);
            }
            if let Some(end) = self.grace_ends {
                if self.slots.is_empty() || now >= end {
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
                Accepting::Full if self.slots.len() < self.max_connections => self.accept(now),
                _ => {}
            }
            self.publish_counts();

            self.handoff.poller_sleeps();
            let timeout = if self.ends.pending() {
                Some(Duration::ZERO)
            } else if self.slots.readable_on_workers() > 0 && now < *self.spin_until.get_or_insert(now + SPIN_FOR) {
                // A connection with more to read is about to come back from a worker
                // that will not wake us for it: let the worker run, then look again.
                thread::yield_now();
                Some(Duration::ZERO)
            } else {
                let deadline = self.next_deadline().map(|at| at.saturating_duration_since(now));
                if self.slots.on_workers() > 0 {
                    // Workers hand back idle connections without a wake-up; collect them soon.
                    Some(deadline.map_or(COLLECT_EVERY, |d| d.min(COLLECT_EVERY)))
                } else {
                    deadline
                }
            };
            let polled = self.poll.poll(&mut events, timeout);
            self.handoff.poller_woke();
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

    /// Publishes the connection gauges (`Stats`).
    fn publish_counts(&self) {
        self.handoff.counters.set_connections(
            self.slots.len(),
            self.slots.idle(),
            self.slots.on_workers(),
            self.slots.streaming(),
        );
    }

    /// Closes whatever is left when the grace period is over, and says what that was.
    fn finish(&mut self) {
        for _ in 0..self.slots.len() {
            self.handoff.counters.closed();
        }
        let left = self.slots.drain();
        self.handoff.counters.set_connections(0, 0, 0, 0);
        debug!("shutdown: {left}");
        self.handoff.set_left(left);
    }

    /// Accepts until the kernel has no more pending connections.
    fn accept(&mut self, now: Instant) {
        self.accepting = Accepting::Open;
        loop {
            let Some(listener) = &self.listener else {
                self.accepting = Accepting::Closed;
                return;
            };
            if self.slots.len() >= self.max_connections {
                // Never accept only to drop: the backlog holds the rest.
                self.accepting = Accepting::Full;
                return;
            }
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    self.accept_errors.accepted();
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!("{peer}: TCP_NODELAY not set: {e}");
                    }
                    let local = match stream.local_addr() {
                        Ok(local) => local,
                        Err(e) => {
                            warn!("{peer}: the connection's local address is unknown: {e}");
                            continue;
                        }
                    };
                    let token = self.slots.next_token();
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self.poll.registry().register(&mut stream, token, interest) {
                        warn!("{peer}: could not register the connection: {e}");
                        continue;
                    }
                    let token = self.slots.reserve();
                    self.handoff.counters.accepted();
                    debug!("New client: {peer} #{}", token.0);
                    let conn = Connection::new(stream, peer, local, self.access.connection_log());
                    self.drive(token, conn, Turn::Event, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    if let Some(pause) = self.accept_errors.failed(&e) {
                        self.accepting = Accepting::Paused(now + pause);
                        return;
                    }
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
        let act = match self.slots.event(token, Readiness { readable, hung_up }) {
            // On a worker (kept for its return), or a late event for a closed connection.
            None => false,
            Some((wait, conn)) => {
                // Bytes that arrive while a response is stuck wait their turn.
                conn.readable |= readable;
                conn.hung_up |= hung_up;
                if wait == Wait::Writing {
                    writable
                } else {
                    readable
                }
            }
        };
        if !act {
            return;
        }
        match self.slots.take(token) {
            Some((Wait::Lingering, conn)) => self.drain_lingering(token, conn, now),
            Some((_, conn)) => self.drive(token, conn, Turn::Event, now),
            None => unreachable!("#{} was waiting a moment ago", token.0),
        }
    }

    /// Moves a connection as far as it can go without waiting: writes pending
    /// output, reads, parses, and then hands it to a worker or parks it.
    fn drive(&mut self, token: Token, mut conn: Connection, mut turn: Turn, now: Instant) {
        loop {
            match conn.flush() {
                Ok(Sent::All) => {}
                Ok(Sent::Blocked) => return self.park(token, Wait::Writing, conn, now),
                Err(e) => return self.close_after_error(token, conn, &e),
            }
            match conn.body.as_deref() {
                Some(LiveBody::Stream { .. }) => {
                    if conn.hung_up && conn.readable {
                        // The client closed (or reset) while its response streams: read to
                        // tell a FIN from bytes it sent ahead (kept for after the stream).
                        // A FIN here is taken as the client leaving, as nginx takes it for a
                        // proxied response: a stream has no end to wait for.
                        if let Err(e) = conn.read_available(self.max_request_bytes) {
                            return self.close_after_error(token, conn, &e);
                        }
                        if conn.eof {
                            // Dropping the connection tells the producer (`SendError::Closed`).
                            return self.close(token, conn, CloseReason::PeerClosed);
                        }
                    }
                    match conn.pump() {
                        Pump::Queued => continue,
                        Pump::Waiting => return self.park(token, Wait::Streaming, conn, now),
                        // Lingering, so that bytes the client sent ahead do not turn the
                        // close into a reset that destroys what was sent before the abort.
                        Pump::Aborted => return self.linger(token, conn, CloseReason::StreamAborted, now),
                    }
                }
                // All that was pulled is written: a worker reads the next burst (the reader
                // may block, so never here).
                Some(LiveBody::Reader { .. }) => return self.dispatch(token, conn, None, now),
                None => {}
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
                // A body going to a file is read a buffer at a time. Until a head has
                // arrived, no more than a head may take: whether the body goes to a file is
                // decided from the head, before the body is read into memory. Then up to
                // the most one request may take.
                let limit = self.bodies.read_limit(&conn, self.max_request_bytes);
                let before = conn.input.len();
                if let Err(e) = conn.read_available(limit) {
                    return self.close_after_error(token, conn, &e);
                }
                if let Some((_, arrived)) = &mut conn.body_clock {
                    *arrived += (conn.input.len() - before) as u64;
                }
            }
            if self.bodies.too_slow(&conn, now) {
                // The body arrives slower than the least rate: tell the client, then close.
                self.handoff.counters.timed_out();
                self.refuse(token, &mut conn, ::http::StatusCode::REQUEST_TIMEOUT, "");
                continue;
            }
            if conn.spool.is_some() {
                match self.bodies.feed(token, &mut conn) {
                    Fed::Whole(request) => {
                        if conn.input.is_empty() {
                            let buf = mem::take(&mut conn.input);
                            self.recycle(buf);
                        }
                        return self.dispatch(token, conn, Some(*request), now);
                    }
                    // More of the body is in the socket: read it.
                    Fed::More if conn.readable => continue,
                    Fed::More if conn.eof => return self.close(token, conn, CloseReason::PeerClosed),
                    Fed::More if turn == Turn::Expired(Wait::ReadingBody) => {
                        self.handoff.counters.timed_out();
                        turn = Turn::Event;
                        self.refuse(token, &mut conn, ::http::StatusCode::REQUEST_TIMEOUT, "");
                        continue;
                    }
                    Fed::More => return self.park_body(token, conn, now),
                    Fed::Refused((status, detail)) => {
                        self.refuse(token, &mut conn, status, detail);
                        continue;
                    }
                }
            }
            let (buffered, progress) = conn.input.bytes_and_progress();
            let expects_continue = match request::next(buffered, progress, &self.limits) {
                Ok(Next::Complete { request, len }) => {
                    conn.input.consume(len);
                    if conn.input.is_empty() {
                        // Nothing pipelined behind it: the worker needs no read buffer,
                        // and the next reader can have this one now.
                        let buf = mem::take(&mut conn.input);
                        self.recycle(buf);
                    }
                    return self.dispatch(token, conn, Some(request), now);
                }
                Ok(Next::Partial { expects_continue }) => expects_continue,
                Err(e) => {
                    debug!("{} #{}: rejected: {} ({})", conn.peer, token.0, e.reason(), e.status());
                    self.refuse(token, &mut conn, e.status(), e.reason());
                    continue;
                }
            };
            if conn.eof {
                // The client stopped sending before a whole request arrived.
                return self.close(token, conn, CloseReason::PeerClosed);
            }
            if conn.input.is_empty() {
                return self.wait_for_request(token, conn, turn, now);
            }
            if matches!(turn, Turn::Expired(Wait::Reading | Wait::ReadingBody)) {
                // RFC 9110 §15.5.9: tell the client why, then close.
                self.handoff.counters.timed_out();
                turn = Turn::Event;
                self.refuse(token, &mut conn, ::http::StatusCode::REQUEST_TIMEOUT, "");
                continue;
            }
            if conn.body_limit.is_none() {
                if let Err((status, detail)) = self.bodies.ask_policy(&mut conn) {
                    self.refuse(token, &mut conn, status, detail);
                    continue;
                }
            }
            if self.bodies.spools(&conn) {
                if let Err((status, detail)) = self.bodies.start_spool(token, &mut conn) {
                    self.refuse(token, &mut conn, status, detail);
                }
                continue;
            }
            match service::partial(
                conn.input.len(),
                self.max_request_bytes,
                expects_continue,
                conn.continue_sent,
            ) {
                // A head still arriving waits under the request timeout; a body, under the
                // body timeout.
                Partial::Wait if conn.input.progress().body_started().is_some() => {
                    return self.park_body(token, conn, now)
                }
                Partial::Wait => return self.park(token, Wait::Reading, conn, now),
                Partial::Refuse(e) => self.refuse(token, &mut conn, e.status(), e.reason()),
                Partial::SendContinue => {
                    conn.continue_sent = true;
                    if let Err(e) = conn.write_response(response::CONTINUE, Payload::None) {
                        return self.close_after_error(token, conn, &e);
                    }
                }
            }
        }
    }

    /// Parks a connection whose request body is arriving: the body timeout runs between
    /// reads, and the body's clock (for the least rate) starts with its first wait.
    fn park_body(&mut self, token: Token, mut conn: Connection, now: Instant) {
        Bodies::start_clock(&mut conn, now);
        self.park(token, Wait::ReadingBody, conn, now);
    }

    /// A connection with nothing buffered: it waits for its next request, unless a
    /// timeout just ran out or shutdown began.
    fn wait_for_request(&mut self, token: Token, conn: Connection, turn: Turn, now: Instant) {
        let stop = if self.grace_ends.is_some() {
            Some(CloseReason::Shutdown)
        } else {
            match turn {
                Turn::Expired(Wait::Idle) => Some(CloseReason::KeepAliveTimeout),
                Turn::Expired(_) => Some(CloseReason::RequestTimeout),
                Turn::Event => None,
            }
        };
        match stop {
            Some(reason) => {
                if matches!(turn, Turn::Expired(_)) {
                    self.handoff.counters.timed_out();
                }
                if conn.served == 0 {
                    // Nothing was ever sent on it: nobody to tell, nothing to lose.
                    return self.close(token, conn, reason);
                }
                // Responses may still be on their way to a client that reads
                // slowly, which may already be sending its next request.
                self.linger(token, conn, reason, now)
            }
            // A new connection waits for its first request under the request timeout
            // (nginx's client_header_timeout): it has not been kept alive for anything yet.
            None if conn.served == 0 => self.park(token, Wait::Reading, conn, now),
            None => self.park(token, Wait::Idle, conn, now),
        }
    }

    /// Queues an error response the server writes itself; the connection closes after it.
    fn refuse(&mut self, token: Token, conn: &mut Connection, status: ::http::StatusCode, detail: &str) {
        conn.forget_request();
        let mut out = Vec::with_capacity(256);
        service::refuse(conn.parts(token.0), &mut out, status, detail, &self.error_body);
        if let Err(err) = conn.write_response(&out, Payload::None) {
            debug!("{}: error response not sent: {err}", conn.peer);
            conn.eof = true;
        }
    }

    /// Sends a connection to the worker pool. `now` is this turn's clock, read once per
    /// turn: the job's wait is counted from it, which costs no clock read per request
    /// and counts the rest of the turn (time the request was already complete) as waiting.
    fn dispatch(&mut self, token: Token, mut conn: Connection, request: Option<Request>, now: Instant) {
        conn.forget_request();
        self.slots.sent_to_worker(token);
        // Published before the worker can see the request, so a handler reporting
        // the counters (`/_status`) counts its own connection as busy.
        self.publish_counts();
        self.handoff.counters.job_queued();
        let job = Job {
            token,
            conn,
            request,
            queued: now,
        };
        if let Err(crossbeam_channel::SendError(job)) = self.ends.jobs.send(job) {
            // Only when every worker thread is gone; nothing can serve it.
            error!("no worker left to serve #{}", token.0);
            self.handoff.counters.job_taken();
            self.slots.back_from_worker(token);
            self.close(token, job.conn, CloseReason::Shutdown);
        }
    }

    /// Takes back every connection the workers have finished with.
    fn take_returns(&mut self, now: Instant) {
        while let Ok(Returned { token, handback }) = self.ends.returns.try_recv() {
            let meanwhile = self.slots.back_from_worker(token);
            if self.slots.readable_on_workers() == 0 {
                self.spin_until = None;
            }
            match handback {
                Handback::Live(mut conn) => {
                    // During shutdown a next request may have arrived unannounced; look.
                    conn.readable |= meanwhile.readable || self.grace_ends.is_some();
                    conn.hung_up |= meanwhile.hung_up;
                    self.drive(token, conn, Turn::Event, now);
                }
                Handback::Dead(conn, reason) => self.close(token, conn, reason),
                Handback::Upgraded => {
                    debug!("#{}: switched protocols; the connection left the server", token.0);
                    self.slots.free(token);
                    self.handoff.counters.closed();
                }
            }
        }
    }

    /// Writes what the producers of streamed bodies sent since the last look.
    fn take_ready(&mut self, now: Instant) {
        while let Ok(token) = self.ends.ready.try_recv() {
            // A connection that is not waiting for its producer (on a worker, writing, or
            // gone and its slot reused) is written anyway when its turn comes.
            if let Some(conn) = self.slots.take_if(token, Wait::Streaming) {
                self.drive(token, conn, Turn::Event, now);
            }
        }
    }

    /// Puts a connection into a waiting state; a waiting connection with nothing
    /// buffered holds no read buffer (an idle one, or a new one that has not sent its
    /// first byte yet).
    fn park(&mut self, token: Token, wait: Wait, mut conn: Connection, now: Instant) {
        if conn.input.is_empty() {
            let buf = mem::take(&mut conn.input);
            self.recycle(buf);
        }
        self.slots.park(token, wait, conn, now);
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
        self.drain_lingering(token, conn, now);
    }

    /// Reads and drops what a lingering connection sends, until it closes or blocks.
    fn drain_lingering(&mut self, token: Token, mut conn: Connection, now: Instant) {
        if conn.readable {
            if transport::discard(&mut conn.stream, &mut self.discard) == Drained::Closed {
                let reason = conn.closing.unwrap_or(CloseReason::PeerClosed);
                return self.close(token, conn, reason);
            }
            conn.readable = false;
        }
        // The linger timeout runs from our side's shutdown, however much the client sends.
        self.park(token, Wait::Lingering, conn, now);
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
        self.slots.free(token);
        self.handoff.counters.closed();
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
        while let Some((token, wait, mut conn)) = self.slots.expired(now) {
            match wait {
                Wait::Idle | Wait::Reading | Wait::ReadingBody => {
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
                    self.handoff.counters.timed_out();
                    self.close(token, conn, CloseReason::SendTimeout);
                }
                Wait::Lingering => {
                    let reason = conn.closing.unwrap_or(CloseReason::PeerClosed);
                    self.close(token, conn, reason);
                }
                Wait::Streaming => unreachable!("a streaming connection has no deadline"),
            }
        }
    }

    /// When `poll()` must return at the latest.
    fn next_deadline(&self) -> Option<Instant> {
        let accept = match self.accepting {
            Accepting::Paused(at) => Some(at),
            _ => None,
        };
        self.slots
            .next_deadline()
            .into_iter()
            .chain(accept)
            .chain(self.grace_ends)
            .min()
    }

    /// Stops accepting, closes idle connections, and gives the rest the grace period.
    fn begin_shutdown(&mut self, now: Instant) {
        debug!(
            "shutdown: closing the listener and {} idle connections",
            self.slots.idle()
        );
        if let Some(mut listener) = self.listener.take() {
            if let Err(e) = self.poll.registry().deregister(&mut listener) {
                debug!("deregistering the listener: {e}");
            }
        }
        self.accepting = Accepting::Closed;
        self.grace_ends = Some(now + self.shutdown_grace);
        // Idle connections, and new ones that have sent nothing yet (a browser's
        // preconnect, a health check): none of them may hold the exit.
        let quiet = self
            .slots
            .waiting(|wait, conn| wait == Wait::Idle || (wait == Wait::Reading && conn.input.is_empty()));
        for token in quiet {
            if let Some((_, mut conn)) = self.slots.take(token) {
                // A request may have arrived since the last poll: read before closing. A
                // complete one is still answered (with `Connection: close`); with nothing
                // buffered, `drive` closes the connection now that shutdown has begun
                // (lingering, if responses were sent on it).
                conn.readable = true;
                self.drive(token, conn, Turn::Event, now);
            }
        }
    }
}
