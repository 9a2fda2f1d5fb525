//! The fixed worker pool, and what a worker does with one connection.
//!
//! A worker is Tomcat's SocketProcessor: it is handed a connection whose buffer
//! holds at least one complete request, runs the handler, writes the response,
//! answers every further complete request already buffered (pipelining, in order),
//! and hands the connection back as soon as it would have to wait — for the socket
//! to drain or for the client's next request. It never reads from the socket, so a
//! slow client can never hold it.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use log::debug;
use mio::Token;

use crate::config::COPY_BODY_BYTES;
use crate::connection::{CloseReason, Connection, Flush};
use crate::handler::Handler;
use crate::http::response::Payload;
use crate::poller::Shared;
use crate::server::ServerThread;
use crate::service::{Answer, Service};
use crate::Request;

/// A connection and the request the poller read from it, on its way to a worker.
/// Whatever the connection still buffers comes after that request.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) token: Token,
    pub(crate) conn: Connection,
    pub(crate) request: Request,
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

/// Starts `workers` threads named `nioserve-worker-K`, serving `jobs`.
pub(crate) fn spawn_pool<H: Handler>(
    workers: usize,
    service: &Service<H>,
    shared: &Arc<Shared>,
    jobs: &Receiver<Job>,
    returns: &Sender<Returned>,
) -> std::io::Result<Vec<ServerThread>> {
    (1..=workers)
        .map(|k| {
            let mut worker = Worker {
                service: service.clone(),
                shared: Arc::clone(shared),
                scratch: Vec::with_capacity(4096),
            };
            let jobs = jobs.clone();
            let returns = returns.clone();
            thread::Builder::new()
                .name(format!("nioserve-worker-{k}"))
                .spawn(move || {
                    worker.run(&jobs, &returns);
                    Ok(())
                })
        })
        .collect()
}

struct Worker<H> {
    service: Service<H>,
    shared: Arc<Shared>,
    /// Response heads (and small bodies) are encoded here; reused, never shrunk.
    scratch: Vec<u8>,
}

impl<H: Handler> Worker<H> {
    fn run(&mut self, jobs: &Receiver<Job>, returns: &Sender<Returned>) {
        // The poller drops its sender when it exits: that ends the loop.
        for Job {
            token,
            mut conn,
            request,
        } in jobs.iter()
        {
            self.shared.counters.worker_busy();
            let (handback, urgent) = match self.serve(token, &mut conn, request) {
                Ok(()) => {
                    // A connection that simply goes idle can wait for the poller's next
                    // turn; anything else needs the poller now.
                    let urgent = conn.output.is_some() || conn.closing.is_some() || conn.eof || !conn.input.is_empty();
                    (Handback::Live(conn), urgent)
                }
                Err(e) => {
                    debug!("{} #{}: write failed: {e}", conn.peer, token.0);
                    (Handback::Dead(conn, CloseReason::Io), true)
                }
            };
            self.shared.counters.worker_free();
            if returns.send(Returned { token, handback }).is_err() {
                // The poller is gone (shutdown past its grace period): dropping closes.
                continue;
            }
            if urgent {
                self.shared.wake_poller();
            }
        }
    }

    /// Answers `first`, then every complete request buffered behind it on `conn`, in order.
    fn serve(&mut self, token: Token, conn: &mut Connection, first: Request) -> std::io::Result<()> {
        self.scratch.clear();
        let mut answered = 0;
        let mut first = Some(first);
        while conn.output.is_none() && conn.closing.is_none() {
            let answer = match first.take() {
                Some(request) => self.service.answer(conn.exchange(token.0), request, &mut self.scratch),
                // Nothing pipelined behind it, the usual case: no parse needed to know.
                None if conn.input.is_empty() => break,
                None => self.service.answer_next(conn.exchange(token.0), &mut self.scratch),
            };
            let payload = match answer {
                Answer::Incomplete => break,
                Answer::Rejected => break,
                Answer::Answered(payload) => payload,
            };
            answered += 1;
            conn.continue_sent = false;
            match payload {
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
}
