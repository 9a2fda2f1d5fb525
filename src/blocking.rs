//! The thread-per-connection model (Tomcat's old BIO connector), kept for comparison.
//!
//! A fixed pool of threads; each accepts a connection and owns it for its whole
//! life, including the idle waits between keep-alive requests, blocked in `read()`
//! with the keep-alive timeout as its deadline. Same codec, same handler, same
//! limits and same responses as the NIO model ([`Service`] decides all of that) —
//! only the ownership of the connection differs. With N threads, N idle keep-alive
//! clients are enough to leave client N+1 waiting in the listen backlog: that is
//! what this model exists to show.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::access::{self, AccessLog};
use crate::config::{self, Config};
use crate::connection::{send_file, CloseReason, ReadBuf};
use crate::h1::error::ParseError;
use crate::h1::head;
use crate::h1::request::{self, Next};
use crate::h1::response::{self, Payload};
use crate::handler::Handler;
use crate::server::ServerThread;
use crate::service::{Answer, Exchange, Service};
use crate::stats::Counters;

/// How often a thread blocked in `accept()` or `read()` looks up to see whether
/// the server is shutting down or a deadline has passed.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// Starts `config.workers` threads named `nioserve-conn-K`, each serving one
/// connection at a time from `listener`.
pub(crate) fn spawn<H: Handler>(
    listener: TcpListener,
    service: Service<H>,
    config: &Config,
    counters: &Counters,
    shutting_down: &Arc<AtomicBool>,
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
                service: service.clone(),
                counters: counters.clone(),
                shutting_down: Arc::clone(shutting_down),
                keep_alive_timeout: config.keep_alive_timeout,
                request_timeout: config.request_timeout,
                send_timeout: config.send_timeout,
                max_request_bytes: config.max_request_bytes(),
                input: ReadBuf::with_capacity(config::READ_BUFFER_BYTES),
                out: Vec::with_capacity(4096),
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
    service: Service<H>,
    counters: Counters,
    shutting_down: Arc<AtomicBool>,
    keep_alive_timeout: Duration,
    request_timeout: Duration,
    send_timeout: Duration,
    max_request_bytes: usize,
    input: ReadBuf,
    out: Vec<u8>,
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
        let mut warned = false;
        while !self.shutting_down.load(Ordering::Acquire) {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    warned = false;
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
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // EMFILE and friends: wait instead of spinning.
                    if !warned {
                        warn!("accept failed, pausing accepts for {:?}: {e}", config::ACCEPT_PAUSE);
                        warned = true;
                    }
                    thread::sleep(config::ACCEPT_PAUSE);
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
        let mut served = 0;
        let mut closing = None;
        let mut eof = false;
        let mut continue_sent = false;
        let mut waiting_since = Instant::now();
        let mut request_started = None;
        // Bytes the socket has taken on this connection; the access log counts in them.
        // Dropped with responses still pending (a write failed), it logs what went out.
        let mut written = 0u64;
        let mut access = AccessLog::default();
        loop {
            let (buffered, progress) = self.input.bytes_and_progress();
            let parsed = match request::next(buffered, progress, self.service.limits()) {
                Ok(Next::Complete { request, len }) => Some(Ok((request, len))),
                Err(e) => Some(Err(e)),
                Ok(Next::Partial { expects_continue }) => {
                    if eof {
                        return Ok(CloseReason::PeerClosed);
                    }
                    if self.input.len() >= self.max_request_bytes {
                        // Refused like the poller refuses it.
                        let e = ParseError::BodyTooLarge;
                        self.out.clear();
                        let method = head::method_for_refusal(self.input.bytes());
                        response::encode_error(&mut self.out, &method, e.status(), e.reason());
                        self.refusal(&mut access, written, peer, e.status().as_u16());
                        let sent = write_all(stream, &self.out, Payload::None, &mut written);
                        access.written(written);
                        sent?;
                        return Ok(self.linger(stream, CloseReason::BadRequest(e.status().as_u16())));
                    }
                    if expects_continue && !continue_sent {
                        continue_sent = true;
                        write_all(stream, response::CONTINUE, Payload::None, &mut written)?;
                    }
                    None
                }
            };
            if let Some(parsed) = parsed {
                self.out.clear();
                self.counters.worker_busy();
                let ex = Exchange {
                    peer,
                    id: self.id,
                    input: &mut self.input,
                    served: &mut served,
                    closing: &mut closing,
                    eof,
                    access: &mut access,
                    queued: written,
                };
                let answer = match parsed {
                    Ok((request, len)) => {
                        ex.input.consume(len);
                        self.service.answer(ex, request, &mut self.out)
                    }
                    Err(e) => self.service.refuse(ex, e, &mut self.out),
                };
                let sent = match answer {
                    Answer::Answered(payload) => {
                        self.counters.requests(1);
                        write_all(stream, &self.out, payload, &mut written)
                    }
                    Answer::Rejected => write_all(stream, &self.out, Payload::None, &mut written),
                    Answer::Incomplete => unreachable!("a request or an error was in hand"),
                };
                self.counters.worker_free();
                access.written(written);
                sent?;
                if let Some(reason) = closing {
                    return Ok(self.linger(stream, reason));
                }
                continue_sent = false;
                request_started = None;
                waiting_since = Instant::now();
                continue;
            }

            // Wait for more bytes: the keep-alive timeout between requests, the
            // request timeout from a request's first byte (or, on a new
            // connection, from the connection's start).
            let idle = self.input.is_empty() && served > 0;
            let deadline = if idle {
                waiting_since + self.keep_alive_timeout
            } else {
                *request_started.get_or_insert(waiting_since) + self.request_timeout
            };
            if idle {
                self.counters.idle_began();
            }
            let waited = self.wait_for_bytes(stream, deadline);
            if idle {
                self.counters.idle_ended();
            }
            match waited? {
                // The request timeout counts from a new request's first byte.
                Waited::Data if idle => request_started = Some(Instant::now()),
                Waited::Data => {}
                Waited::Eof => eof = true,
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
                    self.out.clear();
                    let method = head::method_for_refusal(self.input.bytes());
                    response::encode_error(&mut self.out, &method, ::http::StatusCode::REQUEST_TIMEOUT, "");
                    self.refusal(&mut access, written, peer, 408);
                    let sent = write_all(stream, &self.out, Payload::None, &mut written);
                    access.written(written);
                    sent?;
                    return Ok(self.linger(stream, CloseReason::RequestTimeout));
                }
            }
        }
    }

    /// Adds the error response in `self.out`, which the server writes itself, to the
    /// access log (if it is on); `written` is where it starts in the output.
    fn refusal(&self, access: &mut AccessLog, written: u64, peer: SocketAddr, status: u16) {
        if AccessLog::enabled() {
            access.push_whole(access::refusal_line(peer, status), Instant::now(), written, &self.out);
        }
    }

    /// Blocks in `read()` until bytes arrive, the client closes, or `deadline`.
    fn wait_for_bytes(&mut self, mut stream: &TcpStream, deadline: Instant) -> io::Result<Waited> {
        loop {
            if self.input.is_empty() && self.shutting_down.load(Ordering::Acquire) {
                return Ok(Waited::ShuttingDown);
            }
            if Instant::now() >= deadline {
                return Ok(Waited::TimedOut);
            }
            match self.input.read_from(&mut stream, self.max_request_bytes) {
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
        let mut discard = [0u8; 4096];
        while Instant::now() < deadline {
            match stream.read(&mut discard) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        reason
    }
}

/// Writes a response head and its payload, blocking until all of it is sent; every
/// byte the socket takes is added to `written`, also when a write fails half way.
fn write_all(mut stream: &TcpStream, head: &[u8], payload: Payload, written: &mut u64) -> io::Result<()> {
    write_counted(stream, head, written)?;
    match payload {
        Payload::None => Ok(()),
        Payload::Bytes(bytes) => write_counted(stream, &bytes, written),
        Payload::File(mut region) => {
            while !region.is_empty() {
                match send_file(&mut stream, &region) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while it was being sent",
                        ))
                    }
                    Ok(n) => {
                        *written += n as u64;
                        region.advance(n as u64);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}

/// `write_all`, counting what the socket takes.
fn write_counted(mut stream: &TcpStream, mut bytes: &[u8], written: &mut u64) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                *written += n as u64;
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
