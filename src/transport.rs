//! What both connection models do with a socket, written once: the listening socket,
//! the accept failures that pause accepting, the write and `sendfile` loops, and the
//! reads of a lingering close.
//!
//! The models differ in whether a socket blocks. A non-blocking socket that cannot take
//! more says `WouldBlock`; a blocking one whose send timeout (`SO_SNDTIMEO`) ran out says
//! the same. So every loop here stops at `WouldBlock` and says so, and the caller decides
//! what it means: wait for writability (NIO), or give up on the client (blocking).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::time::Duration;

use log::warn;
use socket2::{Domain, Protocol, Socket, Type};

use crate::body::FileRegion;
use crate::config::ACCEPT_PAUSE;

/// How many bytes a connection's socket may hold that the kernel has not sent yet
/// (`TCP_NOTSENT_LOWAT`, Linux). Below it the socket reports writable again.
///
/// This is what makes writability a measure of the client's progress, which the send
/// timeout relies on: the kernel sends only as fast as the client acknowledges, so with
/// at most this much unsent, a client that takes about half of it makes the socket
/// writable again (the kernel wakes a writer once less than half the limit is unsent),
/// and each time the socket takes more bytes the send timeout starts over. Without it,
/// the send buffer grows to `net.ipv4.tcp_wmem`'s maximum (4 MiB by default) and the
/// socket becomes writable only after a third of that drained: a client reading 4 MiB
/// in more than three send timeouts was cut off while it read. It also bounds the kernel
/// memory a slow reader holds: what is in flight plus this.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const NOTSENT_LOWAT: u32 = 128 * 1024;

/// Opens a listening socket on `addr` with `SO_REUSEADDR`, so a restarted server can bind
/// while the last run's connections sit in `TIME_WAIT`.
pub(crate) fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    // Accepted sockets inherit it from the listener: no system call per connection.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_notsent_lowat(NOTSENT_LOWAT)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Judges failed accepts, and logs the first of each run of them.
#[derive(Debug, Default)]
pub(crate) struct AcceptErrors {
    /// A failure was logged and no accept has succeeded since.
    warned: bool,
}

impl AcceptErrors {
    /// An accept succeeded: the next failure is logged again.
    pub(crate) fn accepted(&mut self) {
        self.warned = false;
    }

    /// What to do after `e`: `None` to accept again at once (a signal, a client that gave
    /// up while in the backlog, a blocking accept's wake-up timeout), or how long to pause
    /// when retrying now would only spin: out of file descriptors (`EMFILE`, `ENFILE`) or
    /// memory (`ENOBUFS`, `ENOMEM`). The pause lets connections close and free some.
    pub(crate) fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted
                | io::ErrorKind::ConnectionAborted
        ) {
            return None;
        }
        if !self.warned {
            warn!("accept failed, pausing accepts for {ACCEPT_PAUSE:?}: {e}");
            self.warned = true;
        }
        Some(ACCEPT_PAUSE)
    }
}

/// How a write loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Everything was written.
    All,
    /// The socket would block (a blocking socket: its send timeout ran out).
    Blocked,
}

/// Writes `bytes` with `write` (one system call each) until the socket has taken them
/// all or would block, adding what it takes to `written`. Returns how many of `bytes`
/// went out, and how the loop ended.
pub(crate) fn write_bytes(
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    bytes: &[u8],
    written: &mut u64,
) -> io::Result<(usize, Sent)> {
    let mut done = 0;
    while done < bytes.len() {
        match write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                *written += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((done, Sent::Blocked)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((done, Sent::All))
}

/// Sends `region` until it is all sent or the socket would block; the region advances by
/// what went out, which is added to `written`. A file that ends before the region does
/// (it shrank since it was opened) is an error: the client was promised those bytes.
pub(crate) fn send_region<S: AsFd + Write>(
    stream: &mut S,
    region: &mut FileRegion,
    written: &mut u64,
) -> io::Result<Sent> {
    while !region.is_empty() {
        match send_file(stream, region) {
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Blocked),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Sent::All)
}

/// Sends part of a file region; zero-copy `sendfile` on Linux.
#[cfg(target_os = "linux")]
fn send_file<S: AsFd + Write>(stream: &mut S, region: &FileRegion) -> io::Result<usize> {
    /// One call sends at most this much, so one connection cannot monopolise a thread.
    const MAX_SENDFILE: u64 = 1 << 20;
    let mut offset = region.offset();
    let count = region.len().min(MAX_SENDFILE) as usize;
    rustix::fs::sendfile(&*stream, region.file(), Some(&mut offset), count).map_err(io::Error::from)
}

/// Sends part of a file region through a buffer, where `sendfile` is not used.
#[cfg(not(target_os = "linux"))]
fn send_file<S: AsFd + Write>(stream: &mut S, region: &FileRegion) -> io::Result<usize> {
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

/// What reading a lingering connection found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The client closed its side (or the connection failed): close ours.
    Closed,
    /// Nothing more to read for now; the client may still send.
    Pending,
}

/// Reads and throws away what a client sends after our last response, until it closes
/// or nothing more is there (`WouldBlock`; on a blocking socket, its read timeout).
pub(crate) fn discard(stream: &mut impl Read, scratch: &mut [u8]) -> Drained {
    loop {
        match stream.read(scratch) {
            Ok(0) => return Drained::Closed,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Drained::Pending
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Drained::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn accepted_sockets_inherit_the_notsent_lowat() -> io::Result<()> {
        let listener = listen("127.0.0.1:0".parse().expect("address"), 16)?;
        let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (accepted, _) = listener.accept()?;
        assert_eq!(socket2::SockRef::from(&accepted).tcp_notsent_lowat()?, NOTSENT_LOWAT);
        Ok(())
    }
}
