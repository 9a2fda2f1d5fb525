//! The fixed worker pool, and what a worker does with one connection.
//!
//! A worker is Tomcat's SocketProcessor: it is handed a connection whose buffer
//! holds at least one complete request, runs the handler, writes the response,
//! answers every further complete request already buffered (pipelining, in order),
//! and hands the connection back as soon as it would have to wait — for the socket
//! to drain or for the client's next request. It never reads from the socket, so a
//! slow client can never hold it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use ::http::{StatusCode, Version};
use crossbeam_channel::{Receiver, Sender};
use log::{debug, error, info, log_enabled, Level};
use mio::Token;

use crate::config::{Config, COPY_BODY_BYTES};
use crate::connection::{CloseReason, Connection, Flush};
use crate::handler::Handler;
use crate::http::parse::{self, Limits};
use crate::http::response::{self, Payload, Persistence};
use crate::poller::Shared;

/// A connection with a complete request buffered, on its way to a worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) token: Token,
    pub(crate) conn: Connection,
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
    /// idle, mid-request, waiting to write, or closing after its last response.
    Live(Connection),
    /// Writing to the socket failed; the poller frees the slot.
    Dead(Connection, CloseReason),
}

/// Pipelined responses are gathered into one write up to about this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

/// Starts `config.workers` threads named `nioserve-worker-K`, serving `jobs`.
pub(crate) fn spawn_pool<H: Handler>(
    handler: Arc<H>,
    config: &Config,
    shared: &Arc<Shared>,
    jobs: &Receiver<Job>,
    returns: &Sender<Returned>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (1..=config.workers)
        .map(|k| {
            let mut worker = Worker {
                handler: Arc::clone(&handler),
                shared: Arc::clone(shared),
                limits: config.limits(),
                keep_alive_secs: config.keep_alive_timeout.as_secs(),
                max_requests: config.max_keep_alive_requests,
                scratch: Vec::with_capacity(4096),
            };
            let jobs = jobs.clone();
            let returns = returns.clone();
            thread::Builder::new()
                .name(format!("nioserve-worker-{k}"))
                .spawn(move || worker.run(&jobs, &returns))
        })
        .collect()
}

struct Worker<H> {
    handler: Arc<H>,
    shared: Arc<Shared>,
    limits: Limits,
    keep_alive_secs: u64,
    max_requests: u32,
    /// Response heads (and small bodies) are encoded here; reused, never shrunk.
    scratch: Vec<u8>,
}

impl<H: Handler> Worker<H> {
    fn run(&mut self, jobs: &Receiver<Job>, returns: &Sender<Returned>) {
        // The poller drops its sender when it exits: that ends the loop.
        for Job { token, mut conn } in jobs.iter() {
            self.shared.counters.worker_busy();
            let handback = match self.serve(token, &mut conn) {
                Ok(()) => Handback::Live(conn),
                Err(e) => {
                    debug!("{} #{}: write failed: {e}", conn.peer, token.0);
                    Handback::Dead(conn, CloseReason::Io)
                }
            };
            self.shared.counters.worker_free();
            if returns.send(Returned { token, handback }).is_err() {
                // The poller is gone (shutdown past its grace period): dropping closes.
                continue;
            }
            self.shared.wake_poller();
        }
    }

    /// Answers every complete request buffered on `conn`, in order.
    fn serve(&mut self, token: Token, conn: &mut Connection) -> std::io::Result<()> {
        self.scratch.clear();
        let mut answered = 0;
        while conn.output.is_none() && conn.closing.is_none() {
            let (request, used) = match parse::parse(conn.input.bytes(), &self.limits) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(e) => {
                    debug!("{} #{}: rejected: {} ({})", conn.peer, token.0, e.reason(), e.status());
                    response::encode_error(&mut self.scratch, e.status(), e.reason());
                    conn.closing = Some(CloseReason::BadRequest(e.status().as_u16()));
                    break;
                }
            };
            conn.input.consume(used);
            conn.continue_sent = false;
            conn.served += 1;
            answered += 1;
            debug!(
                "{} #{}: {} {} {:?}",
                conn.peer,
                token.0,
                request.method(),
                request.uri(),
                request.version()
            );

            let version = request.version();
            let client_keeps_alive = parse::wants_keep_alive(version, request.headers());
            let method = request.method().clone();
            let access =
                log_enabled!(target: "nioserve::access", Level::Info).then(|| (Instant::now(), request.uri().clone()));

            let handler = &self.handler;
            let response = match panic::catch_unwind(AssertUnwindSafe(|| handler.call(request))) {
                Ok(response) => response,
                Err(_) => {
                    error!(
                        "{} #{}: handler panicked on {method}; answering 500",
                        conn.peer, token.0
                    );
                    response::encode_error(&mut self.scratch, StatusCode::INTERNAL_SERVER_ERROR, "");
                    conn.closing = Some(CloseReason::HandlerPanicked);
                    break;
                }
            };
            // Decided after the handler ran: shutdown may have begun meanwhile.
            let persistence = self.persistence(conn, version, client_keeps_alive, response.headers());
            if let Some((started, uri)) = access {
                info!(
                    target: "nioserve::access",
                    "{} \"{method} {uri} {version:?}\" {} {} {:.3}ms",
                    conn.peer,
                    response.status().as_u16(),
                    response.body().len(),
                    started.elapsed().as_secs_f64() * 1000.0,
                );
            }

            match response::encode(&mut self.scratch, &method, response, persistence) {
                Payload::None => {}
                Payload::Bytes(body) if body.len() <= COPY_BODY_BYTES => self.scratch.extend_from_slice(&body),
                payload => {
                    conn.write_response(&self.scratch, payload)?;
                    self.scratch.clear();
                }
            }
            if self.scratch.len() >= BATCH_BYTES {
                conn.write_response(&self.scratch, Payload::None)?;
                self.scratch.clear();
            }
        }
        if !self.scratch.is_empty() {
            // A pending write from the loop above keeps its place in front of these bytes.
            if conn.write_response(&self.scratch, Payload::None)? == Flush::Blocked {
                debug!(
                    "{} #{}: socket full, handing the rest to the poller",
                    conn.peer, token.0
                );
            }
            self.scratch.clear();
        }
        self.shared.counters.requests(answered);
        Ok(())
    }

    /// Whether the connection stays open after this request (RFC 9112 §9.3), and
    /// what the response says about it.
    fn persistence(
        &self,
        conn: &mut Connection,
        version: Version,
        client_keeps_alive: bool,
        response_headers: &::http::HeaderMap,
    ) -> Persistence {
        let reason = if !client_keeps_alive {
            Some(CloseReason::ClientAsked)
        } else if parse::header_has_token(response_headers, ::http::header::CONNECTION, "close") {
            Some(CloseReason::HandlerAsked)
        } else if conn.served >= self.max_requests {
            Some(CloseReason::MaxRequests)
        } else if self.shared.shutting_down.load(Ordering::Acquire) {
            Some(CloseReason::Shutdown)
        } else if conn.eof && conn.input.is_empty() {
            // The client half-closed after its last request: answer it, then close.
            Some(CloseReason::PeerClosed)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                conn.closing = Some(reason);
                Persistence::Close
            }
            None if version == Version::HTTP_10 => Persistence::KeepAlive10 {
                timeout_secs: self.keep_alive_secs,
                max: self.max_requests - conn.served,
            },
            None => Persistence::KeepAlive,
        }
    }
}
