//! One client connection: its socket, its buffered input, its pending output.
//!
//! A `Connection` is owned by exactly one thread at a time: the poller while it
//! waits, a worker while a request runs. It moves between them by value, so no
//! lock ever guards it. Which state it is in is the poller's [`Slot`](crate::poller)
//! variant, not a field here; the fields are only what must travel with it.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Buf, Bytes};
use mio::net::TcpStream;

use crate::access::AccessLog;
use crate::body::FileRegion;
use crate::h1::persistence::Why;
use crate::h1::request::Progress;
use crate::h1::response::Payload;
use crate::service::Exchange;

/// Why a connection ends, for the debug log and for the `Connection: close` decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The last response said `Connection: close`, for this reason.
    LastResponse(Why),
    /// The request was refused with this status.
    BadRequest(u16),
    /// The handler panicked, or a panic escaped while its response was being sent.
    HandlerPanicked,
    /// The handler's response could not be sent as it was; a `500` went instead.
    InvalidResponse,
    /// The server is shutting down.
    Shutdown,
    /// The client closed its side (EOF) or reset the connection.
    PeerClosed,
    /// A read or write failed.
    Io,
    /// Nothing arrived within the keep-alive timeout.
    KeepAliveTimeout,
    /// The request did not arrive whole within the request timeout.
    RequestTimeout,
    /// The client took no response bytes within the send timeout.
    SendTimeout,
}

/// A client connection and what travels with it between the poller and a worker.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
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
    /// Identifies this connection's current deadline among stale ones.
    pub(crate) timer: u64,
    /// Bytes handed to [`write_response`](Connection::write_response) so far: where
    /// the next response starts in this connection's output.
    pub(crate) queued: u64,
    /// Bytes of this connection's output the socket has taken so far.
    written: u64,
    /// Responses not yet written whole, for the access log (empty when it is off).
    pub(crate) access: AccessLog,
}

/// What writing pending output ended with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Everything is written.
    Done,
    /// The socket's send buffer is full; wait until it is writable.
    Blocked,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr) -> Connection {
        Connection {
            stream,
            peer,
            input: ReadBuf::default(),
            output: None,
            served: 0,
            closing: None,
            readable: true,
            hung_up: false,
            eof: false,
            continue_sent: false,
            timer: 0,
            queued: 0,
            written: 0,
            access: AccessLog::default(),
        }
    }

    /// Lends what the request/response exchange needs to see of this connection.
    pub(crate) fn exchange(&mut self, id: usize) -> Exchange<'_> {
        Exchange {
            peer: self.peer,
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
    pub(crate) fn write_response(&mut self, head: &[u8], payload: Payload) -> io::Result<Flush> {
        self.queued += head.len() as u64 + payload.len();
        let result = self.write_or_keep(head, payload);
        self.tell_access_log();
        result
    }

    fn write_or_keep(&mut self, head: &[u8], payload: Payload) -> io::Result<Flush> {
        if self.output.is_none() {
            let (written, payload) = write_now(&mut self.stream, head, payload, &mut self.written)?;
            let rest = &head[written.min(head.len())..];
            let payload = payload.unwrap_or(Payload::None);
            if rest.is_empty() && matches!(payload, Payload::None) {
                return Ok(Flush::Done);
            }
            let mut out = Box::<Outgoing>::default();
            out.push(Bytes::copy_from_slice(rest), payload);
            self.output = Some(out);
            return Ok(Flush::Blocked);
        }
        if let Some(out) = self.output.as_mut() {
            out.push(Bytes::copy_from_slice(head), payload);
        }
        self.flush_output()
    }

    /// Writes pending output until it is all gone or the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<Flush> {
        let result = self.flush_output();
        self.tell_access_log();
        result
    }

    fn flush_output(&mut self) -> io::Result<Flush> {
        let Some(out) = self.output.as_mut() else {
            return Ok(Flush::Done);
        };
        match out.write_to(&mut self.stream, &mut self.written)? {
            Flush::Done => {
                self.output = None;
                Ok(Flush::Done)
            }
            Flush::Blocked => Ok(Flush::Blocked),
        }
    }

    /// Lets the access log see how far the output got, failed writes included: a
    /// response logs when its last byte is written, wherever that happens.
    fn tell_access_log(&mut self) {
        if !self.access.is_empty() {
            self.access.written(self.written);
        }
    }

    /// Adds an error response the server wrote itself, whole in `response`, to the
    /// access log (if it is on), before it is written.
    pub(crate) fn log_refusal(&mut self, status: u16, response: &[u8]) {
        if AccessLog::enabled() {
            let text = crate::access::refusal_line(self.peer, status);
            self.access.push_whole(text, Instant::now(), self.queued, response);
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
        }
    }

    /// Writes until done or the socket would block, adding what it took to `written`.
    fn write_to(&mut self, stream: &mut TcpStream, written_total: &mut u64) -> io::Result<Flush> {
        loop {
            let written = match self.chunks.front_mut() {
                None => return Ok(Flush::Done),
                Some(Chunk::File(region)) => match send_file(stream, region) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while it was being sent",
                        ))
                    }
                    Ok(n) => {
                        *written_total += n as u64;
                        region.advance(n as u64);
                        if region.is_empty() {
                            self.chunks.pop_front();
                        }
                        continue;
                    }
                    Err(e) => Err(e),
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
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
        Payload::None | Payload::File(_) => {
            let more = matches!(payload, Payload::File(_));
            while written < head.len() {
                match write_head(stream, &head[written..], more) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        *written_total += n as u64;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((written, Some(payload))),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let Payload::File(mut region) = payload else {
                return Ok((written, None));
            };
            while !region.is_empty() {
                match send_file(stream, &region) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while it was being sent",
                        ))
                    }
                    Ok(n) => {
                        *written_total += n as u64;
                        region.advance(n as u64);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok((written, Some(Payload::File(region))))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok((written, None))
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

/// Sends part of a file region; zero-copy `sendfile` on Linux.
#[cfg(target_os = "linux")]
pub(crate) fn send_file<S: std::os::fd::AsFd + Write>(stream: &mut S, region: &FileRegion) -> io::Result<usize> {
    /// One call sends at most this much, so one connection cannot monopolise a thread.
    const MAX_SENDFILE: u64 = 1 << 20;
    let mut offset = region.offset();
    let count = region.len().min(MAX_SENDFILE) as usize;
    rustix::fs::sendfile(&*stream, region.file(), Some(&mut offset), count).map_err(io::Error::from)
}

/// Sends part of a file region through a buffer, where `sendfile` is not used.
#[cfg(not(target_os = "linux"))]
pub(crate) fn send_file<S: Write>(stream: &mut S, region: &FileRegion) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 64 * 1024];
    let want = region.len().min(buf.len() as u64) as usize;
    let n = region.file().read_at(&mut buf[..want], region.offset())?;
    if n == 0 {
        return Ok(0);
    }
    // A short write is fine: the region advances by what was written.
    stream.write(&buf[..n])
}

/// A read buffer that is initialised once and reused, so reading never zeroes memory.
///
/// Bytes live in `data[start..end]`; requests are consumed from the front, reads
/// append at the back. The default value holds no allocation: that is what an
/// idle connection carries.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// How far the codec got with the request at the front. Kept here, beside the bytes
    /// it describes, and reset by `consume`, the only way bytes leave the front.
    progress: Progress,
}

impl ReadBuf {
    /// A buffer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> ReadBuf {
        ReadBuf {
            data: vec![0; capacity],
            start: 0,
            end: 0,
            progress: Progress::default(),
        }
    }

    /// The buffered bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The buffered bytes and how far the codec got with the request at their front, for
    /// `request::next` to go on from there.
    pub(crate) fn bytes_and_progress(&mut self) -> (&[u8], &mut Progress) {
        (&self.data[self.start..self.end], &mut self.progress)
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// How many bytes the buffer can hold before it grows.
    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Whether the buffer holds an allocation (idle connections must not).
    pub(crate) fn is_allocated(&self) -> bool {
        self.data.capacity() > 0
    }

    /// Forgets the first `n` buffered bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len(), "consumed more than was buffered");
        // What the codec learnt was about the bytes that were at the front.
        self.progress = Progress::default();
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `reader` into the buffer, taking it to `limit` bytes at most.
    /// Says how many bytes came, and whether they left room in what was offered.
    pub(crate) fn read_from(&mut self, reader: &mut impl Read, limit: usize) -> io::Result<(usize, Room)> {
        let want = limit.saturating_sub(self.len()).max(1);
        let spare = self.spare(want);
        let offered = spare.len();
        let n = reader.read(spare)?;
        self.filled_by(n);
        Ok((n, if n < offered { Room::Left } else { Room::Filled }))
    }

    /// Room to read into: up to `want` bytes, at least one, after moving buffered
    /// bytes to the front or growing the buffer if needed.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let grown = (self.data.len() * 2).max(READ_CHUNK).min(self.end + want.max(1));
            self.data.resize(grown.max(self.end + 1), 0);
        }
        let stop = self.data.len().min(self.end + want.max(1));
        &mut self.data[self.end..stop]
    }

    fn filled_by(&mut self, n: usize) {
        self.end += n;
    }
}

/// Whether a read filled all the room it was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// Fewer bytes came than there was room for.
    Left,
    /// Every byte of room was used: more may be waiting.
    Filled,
}

/// Whether a read that leaves room means the socket is drained: true of epoll
/// (edge-triggered, as mio uses it on these systems), not promised elsewhere.
const SHORT_READ_DRAINS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// The least a buffer grows by.
const READ_CHUNK: usize = 4096;

#[cfg(test)]
mod tests {
    use super::ReadBuf;

    #[test]
    fn read_buf_appends_consumes_and_compacts() {
        let mut buf = ReadBuf::with_capacity(8);
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 8);
        spare[..6].copy_from_slice(b"abcdef");
        buf.filled_by(6);
        buf.consume(4);
        assert_eq!(buf.bytes(), b"ef");
        // Two bytes of room at the back are still free; fill them.
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 2);
        spare.copy_from_slice(b"gh");
        buf.filled_by(2);
        // Full at the back with consumed bytes at the front: compacts instead of growing.
        let spare = buf.spare(100);
        assert_eq!(spare.len(), 4);
        assert_eq!(buf.bytes(), b"efgh");
        buf.consume(4);
        assert!(buf.is_empty());
    }

    #[test]
    fn read_buf_grows_up_to_what_is_wanted() {
        let mut buf = ReadBuf::default();
        assert!(!buf.is_allocated());
        assert_eq!(buf.spare(10).len(), 10);
        let mut buf = ReadBuf::default();
        assert_eq!(buf.spare(1 << 20).len(), 4096);
    }
}
