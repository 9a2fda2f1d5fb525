//! The fixed worker pool, and what a worker does with one connection.
//!
//! A worker is Tomcat's SocketProcessor: it is handed a connection whose buffer
//! holds at least one complete request, runs the handler, writes the response,
//! answers every further complete request already buffered (pipelining, in order),
//! and hands the connection back as soon as it would have to wait — for the socket
//! to drain, for the client's next request, or for a streamed body's producer. It never
//! reads from the socket, so a slow client can never hold it; a body read from a `Read`
//! it pulls only while the socket takes it.

use std::io;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use log::{debug, error};
use mio::Token;

use super::handoff::{Handback, Handoff, Job, Returned, WorkerEnds};
use crate::config::{COPY_BODY_BYTES, PEEK_AFTER};
use crate::connection::{Connection, LiveBody};
use crate::h1::response::Payload;
use crate::handler::{self, Handler};
use crate::service::CloseReason;
use crate::service::{self, Answer, Responder};
use crate::shutdown::ServerThread;
use crate::transport::Sent;
use crate::upgrade::{self, OnUpgrade, Upgraded};
use crate::Request;

/// Pipelined responses are gathered into one write up to about this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

/// Starts `workers` threads named `nioserve-worker-K`, serving `jobs`.
///
/// The pool keeps its size whatever a handler does. A handler's panic is a `500`
/// (`Responder::answer`); a panic that escapes a request anyway (a `Drop` in a response,
/// a logger) closes the connection the worker held ([`Held`]) and the worker starts
/// over on the same thread, so `workers` threads keep serving and every one stays
/// joinable at shutdown.
pub(crate) fn spawn_pool<H: Handler>(
    workers: usize,
    queue_timeout: Option<Duration>,
    responder: &Responder<H>,
    handoff: &Arc<Handoff>,
    ends: WorkerEnds,
) -> io::Result<Vec<ServerThread>> {
    (1..=workers)
        .map(|k| {
            let mut worker = Worker {
                responder: responder.clone(),
                queue_timeout,
                scratch: Vec::with_capacity(4096),
            };
            let handoff = Arc::clone(handoff);
            let WorkerEnds { jobs, returns } = ends.clone();
            thread::Builder::new()
                .name(format!("nioserve-worker-{k}"))
                .spawn(move || {
                    while let Err(payload) =
                        panic::catch_unwind(AssertUnwindSafe(|| worker.run(&handoff, &jobs, &returns)))
                    {
                        handler::drop_payload(payload);
                        error!("nioserve-worker-{k}: a panic escaped the worker; the connection it held is closed, the worker starts over");
                    }
                    Ok(())
                })
        })
        .collect()
}

struct Worker<H> {
    responder: Responder<H>,
    /// A request that waited longer for a worker gets the server's `503` instead.
    queue_timeout: Option<Duration>,
    /// Response heads (and small bodies) are encoded here; reused, never shrunk.
    scratch: Vec<u8>,
}

impl<H: Handler> Worker<H> {
    fn run(&mut self, handoff: &Arc<Handoff>, jobs: &Receiver<Job>, returns: &Sender<Returned>) {
        // The poller drops its sender when it exits: that ends the loop.
        for Job {
            token,
            conn,
            request,
            queued,
        } in jobs.iter()
        {
            handoff.counters.job_taken();
            handoff.counters.worker_busy();
            let mut held = Held {
                token,
                conn: Some(conn),
                handoff,
                returns,
            };
            // A job without a request is a body being pulled: it is answered already.
            let admission = match request {
                Some(_) => self.admit(held.conn(), queued),
                None => Admission::Run,
            };
            if admission == Admission::Gone {
                held.give_up(CloseReason::PeerClosed);
                continue;
            }
            let served = self.serve(handoff, token, held.conn(), request, admission);
            held.hand_back(served);
        }
    }

    /// Decides whether the request a job brings is run, from how long it waited for a
    /// worker since `queued`.
    ///
    /// One clock read per request. Only a request that waited `PEEK_AFTER` or longer has
    /// its socket looked at; a pool that keeps up never pays for the look.
    fn admit(&self, conn: &Connection, queued: Instant) -> Admission {
        let waited = queued.elapsed();
        if waited >= PEEK_AFTER && client_reset(&conn.stream) {
            debug!(
                "{}: the client reset the connection while its request waited {waited:?} for a worker; not run",
                conn.peer
            );
            return Admission::Gone;
        }
        match self.queue_timeout {
            Some(timeout) if waited > timeout => Admission::Overdue(waited),
            _ => Admission::Run,
        }
    }

    /// Answers `first` (if any), then every complete request buffered behind it on
    /// `conn`, in order; a response whose body is read from a `Read` is pulled as far as
    /// the socket takes it first. Without `first`, the connection came back only for
    /// that: to pull more of such a body.
    fn serve(
        &mut self,
        handoff: &Arc<Handoff>,
        token: Token,
        conn: &mut Connection,
        first: Option<Request>,
        admission: Admission,
    ) -> io::Result<Option<OnUpgrade>> {
        self.scratch.clear();
        let mut first = first;
        let mut upgrade = None;
        loop {
            if matches!(conn.body.as_deref(), Some(LiveBody::Reader { .. })) {
                conn.pull()?;
            }
            if conn.output.is_some() || conn.closing.is_some() || conn.body.is_some() {
                break;
            }
            let answer = match first.take() {
                Some(request) => match admission {
                    Admission::Overdue(waited) => service::overdue(
                        conn.parts(token.0),
                        &request,
                        waited,
                        &mut self.scratch,
                        self.responder.error_body(),
                    ),
                    _ => self.responder.answer(conn.parts(token.0), request, &mut self.scratch),
                },
                // Nothing pipelined behind it, the usual case: no parse needed to know.
                None if conn.input.is_empty() => break,
                None => self.responder.answer_next(conn.parts(token.0), &mut self.scratch),
            };
            let payload = match answer {
                Answer::Incomplete => break,
                Answer::Rejected => break,
                Answer::Answered(payload) => payload,
            };
            // Counted before a byte of it is written: a client holding this response
            // must never read a count (`/_status`) that leaves it out.
            handoff.counters.requests(1);
            conn.continue_sent = false;
            match payload {
                Payload::None => {}
                Payload::Bytes(body) if body.len() <= COPY_BODY_BYTES => self.scratch.extend_from_slice(&body),
                Payload::Stream { body, chunked } => {
                    // The head goes now; the body as its producer sends it, written by the
                    // poller, which this wakes when it does.
                    conn.write_response(&self.scratch, Payload::None)?;
                    self.scratch.clear();
                    body.wake_with(handoff.stream_waker(token));
                    conn.go_on_with(LiveBody::Stream { body, chunked });
                }
                Payload::Reader { body, chunked } => {
                    // The head goes now; the body is pulled at the top of the loop.
                    conn.write_response(&self.scratch, Payload::None)?;
                    self.scratch.clear();
                    conn.go_on_with(LiveBody::Reader { body, chunked });
                }
                Payload::Upgrade(on_upgrade) => {
                    // The `101` head goes now; the connection is handed over after.
                    conn.write_response(&self.scratch, Payload::None)?;
                    self.scratch.clear();
                    upgrade = Some(on_upgrade);
                }
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
            if conn.write_response(&self.scratch, Payload::None)? == Sent::Blocked {
                debug!(
                    "{} #{}: socket full, handing the rest to the poller",
                    conn.peer, token.0
                );
            }
            self.scratch.clear();
        }
        Ok(upgrade)
    }
}

/// What becomes of the request a job brings, decided before its handler runs
/// ([`Worker::admit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admission {
    /// Run the handler.
    Run,
    /// It waited this long, past the queue timeout: the server answers `503` itself and
    /// the connection closes.
    Overdue(Duration),
    /// The client reset the connection while the request waited: nothing is answered,
    /// the connection closes.
    Gone,
}

/// Whether the client reset the connection (or it failed otherwise) since the poller
/// read the request: one non-blocking `recv` with `MSG_PEEK`, which takes nothing from
/// the socket.
///
/// A FIN is not a reset. A client may send its request and shut its sending side
/// (RFC 9112 §9.6 allows the half-close); it still reads the answer, and nothing on the
/// wire tells it from a client that closed both sides and went away. So a FIN (the peek
/// reads 0 bytes) runs the request, as the poller would answer it had it been complete
/// with the FIN already read; the queue timeout is what bounds the work done for clients
/// that left that way. Bytes (a request pipelined behind this one) say nothing either way.
fn client_reset(stream: &mio::net::TcpStream) -> bool {
    let mut byte = [MaybeUninit::uninit()];
    loop {
        match socket2::SockRef::from(stream).peek(&mut byte) {
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // ECONNRESET, or another error the next read or write would meet as well.
            Err(_) => return true,
        }
    }
}

/// A connection on a worker. It goes back to the poller through [`Held::hand_back`];
/// if the worker unwinds first, dropping it hands the connection back to be closed, so
/// the poller frees the slot instead of keeping it on a worker for good.
struct Held<'a> {
    token: Token,
    /// Always `Some` until handed back.
    conn: Option<Connection>,
    handoff: &'a Handoff,
    returns: &'a Sender<Returned>,
}

impl Held<'_> {
    fn conn(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a held connection is there until it is handed back")
    }

    /// Gives the connection back to the poller after `served`, waking it if it is needed
    /// now; or, after a `101`, to the handler's upgrade callback.
    fn hand_back(mut self, served: io::Result<Option<OnUpgrade>>) {
        let token = self.token;
        let conn = self.conn();
        let (failed, urgent) = match served {
            Ok(Some(upgrade)) => return self.hand_over(upgrade),
            // A connection that simply goes idle can wait for the poller's next turn;
            // anything else needs the poller now.
            Ok(None) => (
                false,
                conn.output.is_some()
                    || conn.closing.is_some()
                    || conn.body.is_some()
                    || conn.eof
                    || !conn.input.is_empty(),
            ),
            Err(e) => {
                debug!("{} #{}: write failed: {e}", conn.peer, token.0);
                (true, true)
            }
        };
        if let Some(conn) = self.conn.take() {
            let handback = if failed {
                Handback::Dead(conn, CloseReason::Io)
            } else {
                Handback::Live(conn)
            };
            self.send(handback, urgent);
        }
    }

    /// Hands the connection back to be closed without a word: its client is gone.
    fn give_up(mut self, reason: CloseReason) {
        if let Some(conn) = self.conn.take() {
            self.send(Handback::Dead(conn, reason), true);
        }
    }

    /// Hands the connection over to the upgrade callback: the poller stops watching it
    /// and frees its slot; the socket, in blocking mode, and the bytes read after the
    /// request go to the callback. A client that has not taken the whole `101` head at once
    /// is closed instead: the new protocol must not start behind bytes still owed to it.
    fn hand_over(mut self, upgrade: OnUpgrade) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let callback = upgrade.take();
        let handed = match (&conn.output, callback) {
            (None, Some(callback)) => self
                .handoff
                .deregister(&mut conn.stream)
                .and_then(|()| {
                    let Connection { stream, input, .. } = conn;
                    let stream = std::net::TcpStream::from(stream);
                    stream.set_nonblocking(false)?;
                    Ok((stream, input))
                })
                .map(|(stream, input)| (callback, Upgraded::new(stream, Bytes::copy_from_slice(input.bytes())))),
            (Some(_), _) => {
                debug!(
                    "{} #{}: the client did not take the 101 at once; closing",
                    conn.peer, self.token.0
                );
                return self.send(Handback::Dead(conn, CloseReason::Io), true);
            }
            (None, None) => {
                error!(
                    "{} #{}: the upgrade callback was taken by another response",
                    conn.peer, self.token.0
                );
                return self.send(Handback::Dead(conn, CloseReason::InvalidResponse), true);
            }
        };
        self.send(Handback::Upgraded, true);
        match handed {
            Ok((callback, upgraded)) => upgrade::hand_over(callback, upgraded),
            Err(e) => debug!(
                "#{}: the upgraded connection could not be handed over: {e}",
                self.token.0
            ),
        }
    }

    fn send(&self, handback: Handback, urgent: bool) {
        self.handoff.counters.worker_free();
        if self
            .returns
            .send(Returned {
                token: self.token,
                handback,
            })
            .is_err()
        {
            // The poller is gone (shutdown past its grace period): dropping closes.
            return;
        }
        if urgent {
            self.handoff.wake_poller();
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Only when the worker unwinds while holding the connection: `hand_back` took it
        // otherwise. The client sees its connection close; the slot is freed.
        if let Some(conn) = self.conn.take() {
            self.send(Handback::Dead(conn, CloseReason::HandlerPanicked), true);
        }
    }
}
