//! One client connection: its socket, its buffered input, its pending output.
//!
//! A `Connection` is owned by exactly one thread at a time: the poller while it
//! waits, a worker while a request runs. It moves between them by value, so no
//! lock ever guards it. Which state it is in is its slot's (see
//! [`Wait`](crate::nio::slots::Wait)), not a field here; the fields are only what must
//! travel with it.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Buf, Bytes};
use mio::net::TcpStream;

use crate::access::ConnectionLog;
use crate::body::FileRegion;
use crate::body::{BodyReader, Piece};
use crate::h1::response::Payload;
use crate::read_buf::{ReadBuf, Room};
use crate::service::{CloseReason, ConnParts};
use crate::spool::Spool;
use crate::stream::{self, BodyStream, Pulled};
use crate::transport::{send_region, write_bytes, Sent};

/// A client connection and what travels with it between the poller and a worker.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    /// The server's end of the connection, for the handler's `ConnectionInfo`.
    pub(crate) local: SocketAddr,
    /// Bytes read but not yet consumed by a request. Empty, and without an
    /// allocation, while the connection is idle.
    pub(crate) input: ReadBuf,
    /// Response bytes the socket has not taken yet.
    pub(crate) output: Option<Box<Outgoing>>,
    /// Requests answered on this connection.
    pub(crate) served: u32,
    /// Set once the server decided to close after the pending output is written.
    pub(crate) closing: Option<CloseReason>,
    /// The socket may hold bytes not read yet: not read to the end since the last
    /// readable event. Edge-triggered polling reports readiness only once, so this
    /// is how the poller remembers it.
    pub(crate) readable: bool,
    /// The poller saw the client's FIN (or an error) announced: read until the
    /// socket says so, whatever a short read suggests.
    pub(crate) hung_up: bool,
    /// The client shut down its sending side; what is buffered is all there will be.
    pub(crate) eof: bool,
    /// `100 Continue` was sent for the request being read.
    pub(crate) continue_sent: bool,
    /// Bytes handed to [`write_response`](Connection::write_response) so far: where
    /// the next response starts in this connection's output.
    pub(crate) queued: u64,
    /// Bytes of this connection's output the socket has taken so far.
    written: u64,
    /// Responses not yet written whole, for the access log (empty when it is off).
    pub(crate) access: ConnectionLog,
    /// The rest of the body of the response being written, while it is being produced.
    /// Boxed: most connections never have one, and every idle one carries the field.
    pub(crate) body: Option<Box<LiveBody>>,
    /// The request being read has a large body, which goes to a temporary file as it
    /// arrives; its head was taken off `input`.
    pub(crate) spool: Option<Box<Spool>>,
    /// What the body policy allows the body of the request being read, once its head
    /// was asked about.
    pub(crate) body_limit: Option<u64>,
    /// When the body of the request being read began to arrive, and how many bytes of it
    /// have: for the body timeout and the least rate.
    pub(crate) body_clock: Option<(Instant, u64)>,
}

/// A response body that is neither in memory nor a file: it is produced while it is
/// written. Each piece is framed with the chunked transfer coding when `chunked` (its
/// length was not known in advance and the client speaks HTTP/1.1), and goes as it is
/// otherwise.
#[derive(Debug)]
pub(crate) enum LiveBody {
    /// Sent by a producer on another thread ([`Body::channel`](crate::Body::channel)):
    /// the poller takes what is there ([`Connection::pump`]) and waits for more.
    Stream { body: BodyStream, chunked: bool },
    /// Read from a `Read` ([`Body::reader`](crate::Body::reader)), which may block: a
    /// worker pulls it in bursts ([`Connection::pull`]) while the socket takes them.
    Reader { body: BodyReader, chunked: bool },
}

/// What [`Connection::pump`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pump {
    /// Bytes were queued as output (the body's end among them, perhaps): write them.
    Queued,
    /// Nothing new: the producer is still at work.
    Waiting,
    /// The producer gave up: the response must not look complete, so the connection
    /// closes without the body's end.
    Aborted,
}

/// How much of a reader body one worker turn pulls before it lets other connections
/// have the worker: the pull also stops as soon as the socket is full.
const PULL_PER_TURN: usize = 1024 * 1024;

/// The most one read from a reader body asks for: about what the server holds of it.
const PULL_PIECE: usize = 64 * 1024;

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr, local: SocketAddr, access: ConnectionLog) -> Connection {
        Connection {
            stream,
            peer,
            local,
            input: ReadBuf::default(),
            output: None,
            served: 0,
            closing: None,
            readable: true,
            hung_up: false,
            eof: false,
            continue_sent: false,
            queued: 0,
            written: 0,
            access,
            body: None,
            spool: None,
            body_limit: None,
            body_clock: None,
        }
    }

    /// Forgets what was kept about the request being read (its spool, its body limit
    /// and clock): it went to a worker, or was refused.
    pub(crate) fn forget_request(&mut self) {
        self.spool = None;
        self.body_limit = None;
        self.body_clock = None;
    }

    /// The response whose head was just written goes on with `body`, produced while it
    /// is written.
    pub(crate) fn go_on_with(&mut self, body: LiveBody) {
        self.body = Some(Box::new(body));
    }

    /// Takes what the producer of a streamed body sent, framed, into the pending output;
    /// when the body has ended, its end too, and the body is done.
    pub(crate) fn pump(&mut self) -> Pump {
        let Some(LiveBody::Stream { body, chunked }) = self.body.as_deref() else {
            return Pump::Waiting;
        };
        let (queued, ended) = match body.pull() {
            Pulled::Pending => return Pump::Waiting,
            Pulled::Aborted => {
                self.body = None;
                return Pump::Aborted;
            }
            Pulled::Chunks(chunks) => (stream::framed(chunks, *chunked, false), false),
            Pulled::Finished => (stream::framed(Vec::new(), *chunked, true), true),
        };
        let out = self.output.get_or_insert_with(Box::default);
        for bytes in queued {
            self.queued += bytes.len() as u64;
            out.push(bytes, Payload::None);
        }
        if ended {
            self.body = None;
            // The response's last byte is known now: the access log can place it.
            self.access.ends_at(self.queued);
        }
        Pump::Queued
    }

    /// Reads a reader body and writes it, on a worker, until the body ends, the socket
    /// is full, or this turn's share ([`PULL_PER_TURN`]) is written: then the connection
    /// goes back to the poller with the rest still to pull. An error (from the reader, or
    /// a reader that ends short of the declared length) aborts the response.
    pub(crate) fn pull(&mut self) -> io::Result<()> {
        let mut share = PULL_PER_TURN;
        while self.output.is_none() && share > 0 {
            let Some(LiveBody::Reader { body, chunked }) = self.body.as_deref_mut() else {
                return Ok(());
            };
            let chunked = *chunked;
            let (pieces, ended) = match body.read_piece(PULL_PIECE)? {
                Piece::Bytes(bytes) => {
                    share = share.saturating_sub(bytes.len());
                    (stream::framed(vec![bytes], chunked, false), false)
                }
                Piece::End => (stream::framed(Vec::new(), chunked, true), true),
            };
            for piece in pieces {
                self.write_response(&[], Payload::Bytes(piece))?;
            }
            if ended {
                self.body = None;
                self.access.ends_at(self.queued);
            }
        }
        Ok(())
    }

    /// Lends what the request/response exchange needs to see of this connection.
    pub(crate) fn parts(&mut self, id: usize) -> ConnParts<'_> {
        ConnParts {
            peer: self.peer,
            local: self.local,
            id,
            input: &mut self.input,
            served: &mut self.served,
            closing: &mut self.closing,
            eof: self.eof,
            access: &mut self.access,
            queued: self.queued,
        }
    }

    /// Reads until the socket is drained, the client closes, or `input` holds `limit` bytes.
    ///
    /// How it ended is left in the connection: `readable` stays set only when the
    /// buffer filled up first, and `eof` is set when the client closed its side.
    ///
    /// On Linux a read that leaves room in the buffer has drained the socket (epoll(7),
    /// Q9): bytes arriving after it raise a new edge. Stopping there saves the read
    /// that would only say `WouldBlock` — one system call per request. Once the
    /// client's FIN was announced no new edge will come, so then, and elsewhere,
    /// reading goes on until the socket says `WouldBlock` or end of stream.
    pub(crate) fn read_available(&mut self, limit: usize) -> io::Result<()> {
        while self.input.len() < limit {
            match self.input.read_from(&mut self.stream, limit) {
                Ok((0, _)) => {
                    self.readable = false;
                    self.eof = true;
                    return Ok(());
                }
                Ok((_, Room::Left)) if SHORT_READ_DRAINS && !self.hung_up => {
                    self.readable = false;
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes a response head and its payload now, and keeps whatever the socket
    /// does not take as pending output.
    ///
    /// The fast path writes straight from the caller's buffer and allocates
    /// nothing; only bytes left over are copied into [`Outgoing`].
    pub(crate) fn write_response(&mut self, head: &[u8], payload: Payload) -> io::Result<Sent> {
        debug_assert!(
            !matches!(payload, Payload::Stream { .. }),
            "a stream is pumped, not written whole"
        );
        self.queued += head.len() as u64 + payload.len().unwrap_or(0);
        let result = self.write_or_keep(head, payload);
        self.tell_access_log();
        result
    }

    fn write_or_keep(&mut self, head: &[u8], payload: Payload) -> io::Result<Sent> {
        if self.output.is_none() {
            let (written, payload) = write_now(&mut self.stream, head, payload, &mut self.written)?;
            let rest = &head[written.min(head.len())..];
            let payload = payload.unwrap_or(Payload::None);
            if rest.is_empty() && matches!(payload, Payload::None) {
                return Ok(Sent::All);
            }
            let mut out = Box::<Outgoing>::default();
            out.push(Bytes::copy_from_slice(rest), payload);
            self.output = Some(out);
            return Ok(Sent::Blocked);
        }
        if let Some(out) = self.output.as_mut() {
            out.push(Bytes::copy_from_slice(head), payload);
        }
        self.flush_output()
    }

    /// Writes pending output until it is all gone or the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<Sent> {
        let result = self.flush_output();
        self.tell_access_log();
        result
    }

    fn flush_output(&mut self) -> io::Result<Sent> {
        let Some(out) = self.output.as_mut() else {
            return Ok(Sent::All);
        };
        match out.write_to(&mut self.stream, &mut self.written)? {
            Sent::All => {
                self.output = None;
                Ok(Sent::All)
            }
            Sent::Blocked => Ok(Sent::Blocked),
        }
    }

    /// Lets the access log see how far the output got, failed writes included: a
    /// response logs when its last byte is written, wherever that happens.
    fn tell_access_log(&mut self) {
        if !self.access.is_empty() {
            self.access.written(self.written);
        }
    }
}

/// Response bytes not yet taken by the socket: in-memory chunks and file regions, in order.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    chunks: VecDeque<Chunk>,
}

#[derive(Debug)]
enum Chunk {
    Bytes(Bytes),
    File(FileRegion),
}

/// How many in-memory chunks go into one vectored write.
const MAX_IOVECS: usize = 8;

impl Outgoing {
    fn push(&mut self, head: Bytes, payload: Payload) {
        if !head.is_empty() {
            self.chunks.push_back(Chunk::Bytes(head));
        }
        match payload {
            Payload::None => {}
            Payload::Bytes(bytes) if bytes.is_empty() => {}
            Payload::Bytes(bytes) => self.chunks.push_back(Chunk::Bytes(bytes)),
            Payload::File(region) if region.is_empty() => {}
            Payload::File(region) => self.chunks.push_back(Chunk::File(region)),
            Payload::Stream { .. } | Payload::Reader { .. } | Payload::Upgrade(_) => {
                unreachable!("a body produced while it is written is never queued whole")
            }
        }
    }

    /// Writes until done or the socket would block, adding what it took to `written`.
    fn write_to(&mut self, stream: &mut TcpStream, written_total: &mut u64) -> io::Result<Sent> {
        loop {
            let written = match self.chunks.front_mut() {
                None => return Ok(Sent::All),
                Some(Chunk::File(region)) => match send_region(stream, region, written_total)? {
                    Sent::All => {
                        self.chunks.pop_front();
                        continue;
                    }
                    Sent::Blocked => return Ok(Sent::Blocked),
                },
                Some(Chunk::Bytes(_)) => {
                    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                    let mut count = 0;
                    for chunk in self.chunks.iter().take(MAX_IOVECS) {
                        match chunk {
                            Chunk::Bytes(b) => {
                                slices[count] = IoSlice::new(b);
                                count += 1;
                            }
                            Chunk::File(_) => break,
                        }
                    }
                    stream.write_vectored(&slices[..count])
                }
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *written_total += n as u64;
                    self.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops `n` written bytes from the front of the in-memory chunks.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(Chunk::Bytes(front)) = self.chunks.front_mut() else {
                unreachable!("only in-memory chunks are written with write_vectored");
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }
}

/// Writes `head` and then `payload` until done or the socket would block, adding
/// every byte the socket takes to `written_total`.
///
/// Returns how much of `head` went out and, if the payload did not go out whole,
/// what is left of it.
fn write_now(
    stream: &mut TcpStream,
    head: &[u8],
    payload: Payload,
    written_total: &mut u64,
) -> io::Result<(usize, Option<Payload>)> {
    let mut written = 0;
    match payload {
        Payload::Bytes(mut body) => loop {
            let head_rest = &head[written.min(head.len())..];
            if head_rest.is_empty() && body.is_empty() {
                return Ok((written, None));
            }
            match stream.write_vectored(&[IoSlice::new(head_rest), IoSlice::new(&body)]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *written_total += n as u64;
                    let from_head = n.min(head_rest.len());
                    written += from_head;
                    body.advance(n - from_head);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((written, Some(Payload::Bytes(body))));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        },
        Payload::Stream { .. } | Payload::Reader { .. } | Payload::Upgrade(_) => {
            unreachable!("a body produced while it is written is never written whole")
        }
        Payload::None | Payload::File(_) => {
            let more = matches!(payload, Payload::File(_));
            let (written, sent) = write_bytes(|rest| write_head(stream, rest, more), head, written_total)?;
            match payload {
                Payload::File(mut region) if sent == Sent::All => {
                    match send_region(stream, &mut region, written_total)? {
                        Sent::All => Ok((written, None)),
                        Sent::Blocked => Ok((written, Some(Payload::File(region)))),
                    }
                }
                Payload::None if sent == Sent::All => Ok((written, None)),
                payload => Ok((written, Some(payload))),
            }
        }
    }
}

/// Writes (part of) a response head; with `more`, tells the kernel that the body
/// follows at once, so head and first body bytes share a segment.
#[cfg(target_os = "linux")]
fn write_head(stream: &mut TcpStream, head: &[u8], more: bool) -> io::Result<usize> {
    if more {
        rustix::net::send(&*stream, head, rustix::net::SendFlags::MORE).map_err(io::Error::from)
    } else {
        stream.write(head)
    }
}

#[cfg(not(target_os = "linux"))]
fn write_head(stream: &mut TcpStream, head: &[u8], _more: bool) -> io::Result<usize> {
    stream.write(head)
}

/// Whether a read that leaves room means the socket is drained: true of epoll
/// (edge-triggered, as mio uses it on these systems), not promised elsewhere.
const SHORT_READ_DRAINS: bool = cfg!(any(target_os = "linux", target_os = "android"));
