//! The thread-per-connection model (Tomcat's old BIO connector), kept for comparison.
//!
//! A fixed pool of threads; each accepts a connection and owns it for its whole
//! life, including the idle waits between keep-alive requests, blocked in `read()`
//! with the keep-alive timeout as its deadline. Same codec, same handler, same
//! limits and same responses as the NIO model ([`Responder`] decides all of that) —
//! only the ownership of the connection differs. With N threads, N idle keep-alive
//! clients are enough to leave client N+1 waiting in the listen backlog: that is
//! what this model exists to show.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::debug;

use crate::access::{ConnectionLog, Sink};
use crate::body::{BodyReader, Piece};
use crate::config::{self, Config};
use crate::h1::request::{self, Next};
use crate::h1::response::{self, Payload};
use crate::handler::Handler;
use crate::read_buf::ReadBuf;
use crate::service::{self, Answer, CloseReason, ConnParts, Partial, Responder};
use crate::shutdown::ServerThread;
use crate::stats::Counters;
use crate::stream::{self, Pulled};
use crate::transport::{self, AcceptErrors, Drained, Sent};
use crate::upgrade::{self, OnUpgrade, Upgraded};

/// How often a thread blocked in `accept()` or `read()` looks up to see whether
/// the server is shutting down or a deadline has passed.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// Starts `config.workers` threads named `nioserve-conn-K`, each serving one
/// connection at a time from `listener`.
pub(crate) fn spawn<H: Handler>(
    listener: TcpListener,
    responder: Responder<H>,
    config: &Config,
    counters: &Counters,
    shutting_down: &Arc<AtomicBool>,
    access: &Sink,
) -> io::Result<Vec<ServerThread>> {
    listener.set_nonblocking(false)?;
    // Linux applies SO_RCVTIMEO to accept(), so an idle thread notices shutdown.
    socket2::SockRef::from(&listener).set_read_timeout(Some(WAKE_EVERY))?;
    let listener = Arc::new(listener);
    (1..=config.workers)
        .map(|k| {
            let mut thread = ConnThread {
                id: k,
                listener: Arc::clone(&listener),
                responder: responder.clone(),
                counters: counters.clone(),
                shutting_down: Arc::clone(shutting_down),
                keep_alive_timeout: config.keep_alive_timeout,
                request_timeout: config.request_timeout,
                body_timeout: config.body_timeout,
                send_timeout: config.send_timeout,
                max_request_bytes: config.max_request_bytes(),
                input: ReadBuf::with_capacity(config::READ_BUFFER_BYTES),
                out: Vec::with_capacity(4096),
                accept_errors: AcceptErrors::default(),
                switched: None,
                access: access.clone(),
            };
            thread::Builder::new()
                .name(format!("nioserve-conn-{k}"))
                .spawn(move || {
                    thread.run();
                    Ok(())
                })
        })
        .collect()
}

struct ConnThread<H> {
    id: usize,
    listener: Arc<TcpListener>,
    responder: Responder<H>,
    counters: Counters,
    shutting_down: Arc<AtomicBool>,
    keep_alive_timeout: Duration,
    request_timeout: Duration,
    body_timeout: Duration,
    send_timeout: Duration,
    max_request_bytes: usize,
    input: ReadBuf,
    out: Vec<u8>,
    accept_errors: AcceptErrors,
    /// Set when the connection just served switched protocols: its callback, and the
    /// bytes read after the request.
    switched: Option<(OnUpgrade, Bytes)>,
    /// Where the access-log lines of the connections served go.
    access: Sink,
}

/// What a thread keeps about the connection it serves, beside its read buffer.
#[derive(Debug)]
struct Conn {
    /// The server's end of the connection, learned at accept.
    local: SocketAddr,
    served: u32,
    /// Set once the server decided to close after the response being written.
    closing: Option<CloseReason>,
    /// The client shut down its sending side.
    eof: bool,
    /// `100 Continue` was sent for the request being read.
    continue_sent: bool,
    /// Bytes the socket has taken on this connection; the access log counts in them.
    written: u64,
    /// Responses whose last byte is not written yet. Dropped with responses still pending
    /// (a write failed), it logs what went out.
    access: ConnectionLog,
    /// The `101` just written hands the connection to this callback.
    upgrade: Option<OnUpgrade>,
}

impl Conn {
    fn new(local: SocketAddr, access: ConnectionLog) -> Conn {
        Conn {
            local,
            served: 0,
            closing: None,
            eof: false,
            continue_sent: false,
            written: 0,
            access,
            upgrade: None,
        }
    }

    /// Lends the responder what it sees of the connection, with its read buffer.
    fn parts<'a>(&'a mut self, input: &'a mut ReadBuf, peer: SocketAddr, id: usize) -> ConnParts<'a> {
        ConnParts {
            peer,
            local: self.local,
            id,
            input,
            served: &mut self.served,
            closing: &mut self.closing,
            eof: self.eof,
            access: &mut self.access,
            queued: self.written,
        }
    }
}

/// What waiting for more request bytes ended with.
enum Waited {
    Data,
    Eof,
    TimedOut,
    ShuttingDown,
}

impl<H: Handler> ConnThread<H> {
    fn run(&mut self) {
        while !self.shutting_down.load(Ordering::Acquire) {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.accept_errors.accepted();
                    self.counters.accepted();
                    self.counters.connection_opened();
                    debug!("New client: {peer} #{}", self.id);
                    let reason = match self.serve(&stream, peer) {
                        Ok(reason) => reason,
                        Err(e) => {
                            debug!("{peer} #{}: {e}", self.id);
                            CloseReason::Io
                        }
                    };
                    debug!("{peer} #{}: closed ({reason:?})", self.id);
                    self.counters.connection_ended();
                    if let Some((on_upgrade, read_ahead)) = self.switched.take() {
                        hand_over(stream, on_upgrade, read_ahead);
                    }
                }
                Err(e) => {
                    if let Some(pause) = self.accept_errors.failed(&e) {
                        thread::sleep(pause);
                    }
                }
            }
        }
    }

    /// Serves one connection until it closes; says why it closed.
    fn serve(&mut self, stream: &TcpStream, peer: SocketAddr) -> io::Result<CloseReason> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(WAKE_EVERY))?;
        stream.set_write_timeout(Some(self.send_timeout))?;
        self.input.consume(self.input.len());
        let mut conn = Conn::new(stream.local_addr()?, self.access.connection_log());
        let mut waiting_since = Instant::now();
        let mut request_started = None;
        let mut last_data = Instant::now();
        // The most bytes the request being read may take: `max_request_bytes`, or what the
        // body policy allows its body once its head was asked about.
        let mut request_limit = None;
        loop {
            let (buffered, progress) = self.input.bytes_and_progress();
            let parsed = match request::next(buffered, progress, self.responder.limits()) {
                Ok(Next::Complete { request, len }) => Some(Ok((request, len))),
                Err(e) => Some(Err(e)),
                Ok(Next::Partial { expects_continue }) => {
                    if conn.eof {
                        return Ok(CloseReason::PeerClosed);
                    }
                    // Asked from the head, as the NIO model does: before any of the body is
                    // read or `100 Continue` sent.
                    if request_limit.is_none() {
                        match self.responder.bodies().ask(&mut self.input, self.responder.limits()) {
                            Ok(Some(max)) => {
                                let head = self.responder.limits().max_header_bytes;
                                request_limit = Some(config::request_bytes(head, max));
                            }
                            Ok(None) => {}
                            Err((status, detail)) => return self.refuse(stream, peer, &mut conn, status, detail),
                        }
                    }
                    match service::partial(
                        self.input.len(),
                        request_limit.unwrap_or(self.max_request_bytes),
                        expects_continue,
                        conn.continue_sent,
                    ) {
                        Partial::Wait => {}
                        Partial::SendContinue => {
                            conn.continue_sent = true;
                            write_all(stream, response::CONTINUE, Payload::None, &mut conn.written)?;
                        }
                        Partial::Refuse(e) => return self.refuse(stream, peer, &mut conn, e.status(), e.reason()),
                    }
                    None
                }
            };
            if let Some(parsed) = parsed {
                self.out.clear();
                self.counters.worker_busy();
                let sent = match parsed {
                    Ok((request, len)) => {
                        self.input.consume(len);
                        let ex = conn.parts(&mut self.input, peer, self.id);
                        match self.responder.answer(ex, request, &mut self.out) {
                            Answer::Answered(payload) => {
                                self.counters.requests(1);
                                self.write_response(stream, payload, &mut conn)
                            }
                            Answer::Rejected => write_all(stream, &self.out, Payload::None, &mut conn.written),
                            Answer::Incomplete => unreachable!("a whole request was in hand"),
                        }
                    }
                    Err(e) => {
                        debug!("{peer} #{}: rejected: {} ({})", self.id, e.reason(), e.status());
                        let ex = conn.parts(&mut self.input, peer, self.id);
                        service::refuse(ex, &mut self.out, e.status(), e.reason(), self.responder.error_body());
                        write_all(stream, &self.out, Payload::None, &mut conn.written)
                    }
                };
                self.counters.worker_free();
                conn.access.written(conn.written);
                sent?;
                if let Some(on_upgrade) = conn.upgrade.take() {
                    // The rest is the new protocol's, and the socket the callback's.
                    self.switched = Some((on_upgrade, Bytes::copy_from_slice(self.input.bytes())));
                    return Ok(CloseReason::Upgraded);
                }
                if let Some(reason) = conn.closing {
                    return Ok(self.linger(stream, reason));
                }
                conn.continue_sent = false;
                request_limit = None;
                request_started = None;
                waiting_since = Instant::now();
                // A next request's body, whose head may have come with this one, has its
                // body timeout from now: not from bytes read before the handler ran.
                last_data = waiting_since;
                continue;
            }

            // Wait for more bytes: the keep-alive timeout between requests, the
            // request timeout from a request's first byte (or, on a new
            // connection, from the connection's start).
            let idle = self.input.is_empty() && conn.served > 0;
            let deadline = if idle {
                waiting_since + self.keep_alive_timeout
            } else {
                // The head under the request timeout, from its first byte; the body under
                // the body timeout, between reads.
                match self.input.progress().body_started() {
                    Some(_) => last_data + self.body_timeout,
                    None => *request_started.get_or_insert(waiting_since) + self.request_timeout,
                }
            };
            if idle {
                self.counters.idle_began();
            }
            let waited = self.wait_for_bytes(stream, deadline, request_limit.unwrap_or(self.max_request_bytes));
            if idle {
                self.counters.idle_ended();
            }
            match waited? {
                // The request timeout counts from a new request's first byte.
                Waited::Data if idle => {
                    request_started = Some(Instant::now());
                    last_data = Instant::now();
                }
                Waited::Data => last_data = Instant::now(),
                Waited::Eof => conn.eof = true,
                Waited::ShuttingDown => return Ok(CloseReason::Shutdown),
                Waited::TimedOut if idle => {
                    self.counters.timed_out();
                    return Ok(CloseReason::KeepAliveTimeout);
                }
                Waited::TimedOut if self.input.is_empty() => {
                    // A new connection that never sent a byte: nobody to tell.
                    self.counters.timed_out();
                    return Ok(CloseReason::RequestTimeout);
                }
                Waited::TimedOut => {
                    self.counters.timed_out();
                    let status = ::http::StatusCode::REQUEST_TIMEOUT;
                    return self.refuse(stream, peer, &mut conn, status, "");
                }
            }
        }
    }

    /// Writes the response whose head is in `self.out`, and its payload. A streamed body
    /// is written as its producer sends it: the thread waits for it, as it waits for
    /// everything else in this model. Shutdown cuts a stream off when its producer is
    /// quiet, as it does an idle connection.
    fn write_response(&mut self, stream: &TcpStream, payload: Payload, conn: &mut Conn) -> io::Result<()> {
        let (body, chunked) = match payload {
            Payload::Stream { body, chunked } => (body, chunked),
            Payload::Reader { mut body, chunked } => {
                write_all(stream, &self.out, Payload::None, &mut conn.written)?;
                return write_reader(stream, &mut body, chunked, conn);
            }
            Payload::Upgrade(on_upgrade) => {
                conn.upgrade = Some(on_upgrade);
                return write_all(stream, &self.out, Payload::None, &mut conn.written);
            }
            payload => return write_all(stream, &self.out, payload, &mut conn.written),
        };
        write_all(stream, &self.out, Payload::None, &mut conn.written)?;
        self.counters.stream_began();
        let streamed = loop {
            let (chunks, last) = match body.pull_blocking(WAKE_EVERY) {
                Pulled::Chunks(chunks) => (chunks, false),
                Pulled::Finished => (Vec::new(), true),
                Pulled::Pending if self.shutting_down.load(Ordering::Acquire) => {
                    break Err(io::Error::other("shutdown cut the stream off"));
                }
                Pulled::Pending => continue,
                Pulled::Aborted => {
                    conn.closing = Some(CloseReason::StreamAborted);
                    break Err(io::Error::other("the producer abandoned the response body"));
                }
            };
            let sent = stream::framed(chunks, chunked, last)
                .iter()
                .try_for_each(|bytes| write_all(stream, bytes, Payload::None, &mut conn.written));
            if sent.is_err() || last {
                conn.access.ends_at(conn.written);
                break sent;
            }
            conn.access.written(conn.written);
        };
        self.counters.stream_ended();
        streamed
    }

    /// Sends the server's own error response for the request being read, and closes.
    fn refuse(
        &mut self,
        stream: &TcpStream,
        peer: SocketAddr,
        conn: &mut Conn,
        status: ::http::StatusCode,
        detail: &str,
    ) -> io::Result<CloseReason> {
        self.out.clear();
        service::refuse(
            conn.parts(&mut self.input, peer, self.id),
            &mut self.out,
            status,
            detail,
            self.responder.error_body(),
        );
        let sent = write_all(stream, &self.out, Payload::None, &mut conn.written);
        conn.access.written(conn.written);
        sent?;
        let reason = conn.closing.unwrap_or(CloseReason::BadRequest(status.as_u16()));
        Ok(self.linger(stream, reason))
    }

    /// Blocks in `read()` until bytes arrive, the client closes, or `deadline`; the buffer
    /// holds at most `limit` bytes.
    fn wait_for_bytes(&mut self, mut stream: &TcpStream, deadline: Instant, limit: usize) -> io::Result<Waited> {
        loop {
            if self.input.is_empty() && self.shutting_down.load(Ordering::Acquire) {
                return Ok(Waited::ShuttingDown);
            }
            if Instant::now() >= deadline {
                return Ok(Waited::TimedOut);
            }
            match self.input.read_from(&mut stream, limit) {
                Ok((0, _)) => return Ok(Waited::Eof),
                Ok(_) => return Ok(Waited::Data),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Shuts our side and reads what the client still sends, briefly (see
    /// `LINGER_TIMEOUT`), so unread bytes do not turn the close into a reset.
    fn linger(&mut self, mut stream: &TcpStream, reason: CloseReason) -> CloseReason {
        if stream.shutdown(Shutdown::Write).is_err() {
            return reason;
        }
        let deadline = Instant::now() + config::LINGER_TIMEOUT;
        let mut scratch = [0u8; 4096];
        // Each read waits at most `WAKE_EVERY` (the read timeout) before the deadline is looked at.
        while Instant::now() < deadline && transport::discard(&mut stream, &mut scratch) == Drained::Pending {}
        reason
    }
}

/// Gives a connection that switched protocols to its callback, blocking and with no
/// timeouts: from now on it is the callback's.
fn hand_over(stream: TcpStream, on_upgrade: OnUpgrade, read_ahead: Bytes) {
    let ready = stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None));
    match (ready, on_upgrade.take()) {
        (Ok(()), Some(callback)) => upgrade::hand_over(callback, Upgraded::new(stream, read_ahead)),
        (Err(e), _) => debug!("the upgraded connection could not be handed over: {e}"),
        (Ok(()), None) => log::error!("the upgrade callback was taken by another response"),
    }
}

/// Writes a body read from a `Read`, piece by piece as the reader gives it. An error
/// (from the reader, or one that ends short of the declared length) aborts the response.
fn write_reader(stream: &TcpStream, body: &mut BodyReader, chunked: bool, conn: &mut Conn) -> io::Result<()> {
    loop {
        let (pieces, last) = match body.read_piece(64 * 1024) {
            Ok(Piece::Bytes(bytes)) => (stream::framed(vec![bytes], chunked, false), false),
            Ok(Piece::End) => (stream::framed(Vec::new(), chunked, true), true),
            Err(e) => {
                conn.closing = Some(CloseReason::StreamAborted);
                return Err(e);
            }
        };
        for piece in pieces {
            write_all(stream, &piece, Payload::None, &mut conn.written)?;
        }
        conn.access.written(conn.written);
        if last {
            conn.access.ends_at(conn.written);
            return Ok(());
        }
    }
}

/// Writes a response head and its payload, blocking until all of it is sent; every
/// byte the socket takes is added to `written`, also when a write fails half way.
fn write_all(mut stream: &TcpStream, head: &[u8], payload: Payload, written: &mut u64) -> io::Result<()> {
    let (_, mut sent) = transport::write_bytes(|bytes| stream.write(bytes), head, written)?;
    if sent == Sent::All {
        sent = match payload {
            Payload::None => Sent::All,
            Payload::Bytes(body) => transport::write_bytes(|bytes| stream.write(bytes), &body, written)?.1,
            Payload::File(mut region) => transport::send_region(&mut stream, &mut region, written)?,
            Payload::Stream { .. } | Payload::Reader { .. } | Payload::Upgrade(_) => {
                unreachable!("a body produced while it is written is written as it comes")
            }
        };
    }
    match sent {
        Sent::All => Ok(()),
        // A blocking socket whose send timeout ran out.
        Sent::Blocked => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took nothing within the send timeout",
        )),
    }
}
