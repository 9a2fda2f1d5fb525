//! The experiment's load client (`nioserve --load-client`, started by `--experiment`, not
//! meant to be run by hand): holds a number of idle keep-alive connections against each
//! of two servers, told on stdin how many, reporting on stdout what it holds.
//!
//! Each connection is what a browser leaves behind after loading a page: it sends one
//! request (`HEAD /`), reads whatever answer comes, and then stays open, sending nothing.
//! A thread-per-connection server pins one of its threads on such a connection until its
//! keep-alive timeout; an NIO server holds it on its poller. A connection the server
//! closes (its keep-alive timeout) is opened again, so the number held stays where the
//! page set it.
//!
//! The protocol, one line each way:
//!
//! ```text
//! parent → client   servers NIO_ADDR BLOCKING_ADDR   (once, first)
//!                   idle N                           (any time; clamped to the limit)
//! client → parent   limit N                          (once: the most it can hold per server)
//!                   held NIO BLOCKING                (four times a second; each is
//!                                                     OPEN/ANSWERED/CONNECTING, see `Counts`)
//! ```
//!
//! The client ends when its stdin closes (the parent stopped it or is gone) and, on
//! Linux, when its parent dies ([`crate::experiment::exit_with_parent`]). Everything it
//! does is bounded: at most [`MAX_PER_SERVER`] connections per server and never more than
//! its descriptor limit allows, opened at most [`OPEN_BATCH`] per server every
//! [`OPEN_EVERY`].

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

/// The most idle connections held against one server, whatever is asked.
pub const MAX_PER_SERVER: usize = 10_000;

/// Descriptors kept out of the budget for everything else the process opens (stdio,
/// the poll, the waker, the standard library's own).
const SPARE_FDS: usize = 64;

/// Connections opened per server per round, and how often a round comes: at most
/// 10,000 new connections a second per server, so that 10,000 take a second, not a burst
/// that overflows the listen backlog of a server that is only slow to accept.
const OPEN_BATCH: usize = 200;
const OPEN_EVERY: Duration = Duration::from_millis(20);

/// After a connection fails to open (refused, timed out), no new one is tried for this
/// long: a server that is gone is not hammered.
const BACKOFF: Duration = Duration::from_secs(1);

/// How often the counts go to the parent.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// The one request each connection sends. `HEAD` keeps the answer small; whatever the
/// status, an answer means the server gave the connection a thread (blocking) or a
/// moment of a worker (NIO).
const REQUEST: &[u8] = b"HEAD / HTTP/1.1\r\nHost: experiment\r\nUser-Agent: nioserve-load-client\r\n\r\n";

/// The waker's token; connection tokens are `server + 2 * key`.
const WAKER: Token = Token(usize::MAX);

/// Runs the load client until its stdin closes.
pub fn main() -> ExitCode {
    crate::experiment::exit_with_parent(false);
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nioserve --load-client: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> io::Result<()> {
    let limit = per_server_limit(raise_open_files_limit());
    let mut out = io::stdout().lock();
    writeln!(out, "limit {limit}")?;
    out.flush()?;

    let mut poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let commands = read_commands(waker)?;
    let Ok(Command::Servers(addrs)) = commands.recv() else {
        return Err(io::Error::other(
            "the first command must be `servers NIO_ADDR BLOCKING_ADDR`",
        ));
    };
    let mut servers = addrs.map(Server::new);
    let mut target = 0;
    let mut events = Events::with_capacity(1024);
    let mut next_open = Instant::now();
    let mut next_report = Instant::now();
    loop {
        let now = Instant::now();
        let wake_at = next_report.min(next_open.max(now));
        poll.poll(&mut events, Some(wake_at.saturating_duration_since(now)))?;
        for event in &events {
            if event.token() == WAKER {
                continue;
            }
            let (server, key) = (event.token().0 % 2, event.token().0 / 2);
            servers[server].on_event(poll.registry(), key);
        }
        loop {
            match commands.try_recv() {
                Ok(Command::Idle(n)) => target = n.min(limit),
                Ok(Command::Servers(_)) => {}
                // The parent closed our stdin, or is gone: nothing more to do.
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        for (index, server) in servers.iter_mut().enumerate() {
            server.close_down_to(poll.registry(), target);
            if now >= next_open {
                server.open_up_to(poll.registry(), index, target, now);
            }
        }
        if now >= next_open {
            next_open = now + OPEN_EVERY;
        }
        if now >= next_report {
            let [nio, blocking] = &servers;
            // The parent reading this is gone if the write fails: stop.
            writeln!(out, "held {} {}", nio.counts(), blocking.counts())?;
            out.flush()?;
            next_report = now + REPORT_EVERY;
        }
    }
}

/// Raises the soft limit on open files to the hard limit, as the demo does for itself;
/// returns the soft limit it runs with (`None`: unlimited, or not Unix).
#[cfg(unix)]
fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};

    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let soft = limit.current;
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            // macOS refuses an unlimited soft limit: keep the one there is.
            return soft;
        }
    }
    limit.current
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> Option<u64> {
    None
}

/// The most connections per server this process can hold: [`MAX_PER_SERVER`], or what
/// the descriptor limit leaves for two servers.
fn per_server_limit(open_files: Option<u64>) -> usize {
    let budget = open_files.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    (budget.saturating_sub(SPARE_FDS) / 2).min(MAX_PER_SERVER)
}

enum Command {
    Servers([SocketAddr; 2]),
    Idle(usize),
}

/// Reads stdin on a thread of its own, parsing each line into a [`Command`] and waking
/// the poll. The channel disconnects when stdin ends.
fn read_commands(waker: Waker) -> io::Result<Receiver<Command>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::Builder::new().name("load-client-stdin".into()).spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            let command = match (words.next(), words.next(), words.next()) {
                (Some("servers"), Some(nio), Some(blocking)) => match (nio.parse(), blocking.parse()) {
                    (Ok(nio), Ok(blocking)) => Command::Servers([nio, blocking]),
                    _ => continue,
                },
                (Some("idle"), Some(n), None) => match n.parse() {
                    Ok(n) => Command::Idle(n),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if tx.send(command).is_err() {
                break;
            }
            let _ = waker.wake();
        }
        drop(tx);
        let _ = waker.wake();
    })?;
    Ok(rx)
}

/// One server's connections.
struct Server {
    addr: SocketAddr,
    conns: Slab<Conn>,
    /// No connection is opened before then (see [`BACKOFF`]).
    quiet_until: Instant,
}

struct Conn {
    stream: TcpStream,
    state: State,
}

/// Where a connection is in its short life.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// The handshake has not completed: the server's listen backlog is full.
    Connecting,
    /// Connected, the request sent (or about to be), no answer yet: the connection sits
    /// in the listen backlog, or on a server that has not answered.
    Waiting,
    /// Answered and idle: a kept-alive connection.
    Answered,
}

/// What one server's connections are doing, as reported: `OPEN/ANSWERED/CONNECTING`,
/// where OPEN counts every connection whose handshake completed (answered or not).
struct Counts {
    open: usize,
    answered: usize,
    connecting: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.open, self.answered, self.connecting)
    }
}

impl Server {
    fn new(addr: SocketAddr) -> Server {
        Server {
            addr,
            conns: Slab::new(),
            quiet_until: Instant::now(),
        }
    }

    fn counts(&self) -> Counts {
        let mut counts = Counts {
            open: 0,
            answered: 0,
            connecting: 0,
        };
        for (_, conn) in &self.conns {
            match conn.state {
                State::Connecting => counts.connecting += 1,
                State::Waiting => counts.open += 1,
                State::Answered => {
                    counts.open += 1;
                    counts.answered += 1;
                }
            }
        }
        counts
    }

    fn open_up_to(&mut self, registry: &mio::Registry, index: usize, target: usize, now: Instant) {
        if now < self.quiet_until {
            return;
        }
        for _ in 0..target.saturating_sub(self.conns.len()).min(OPEN_BATCH) {
            let mut stream = match TcpStream::connect(self.addr) {
                Ok(stream) => stream,
                Err(_) => {
                    // Out of descriptors or ports: try again later.
                    self.quiet_until = now + BACKOFF;
                    return;
                }
            };
            let entry = self.conns.vacant_entry();
            let token = Token(index + 2 * entry.key());
            if registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                return;
            }
            entry.insert(Conn {
                stream,
                state: State::Connecting,
            });
        }
    }

    /// Closes connections until at most `target` are left: first those still connecting
    /// or unanswered (they cost the server least), then kept-alive ones.
    fn close_down_to(&mut self, registry: &mio::Registry, target: usize) {
        let excess = self.conns.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut doomed: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, conn)| conn.state != State::Answered)
            .map(|(key, _)| key)
            .take(excess)
            .collect();
        if doomed.len() < excess {
            let more = excess - doomed.len();
            doomed.extend(
                self.conns
                    .iter()
                    .filter(|(_, conn)| conn.state == State::Answered)
                    .map(|(key, _)| key)
                    .take(more),
            );
        }
        for key in doomed {
            self.close(registry, key);
        }
    }

    fn close(&mut self, registry: &mio::Registry, key: usize) {
        if let Some(mut conn) = self.conns.try_remove(key) {
            let _ = registry.deregister(&mut conn.stream);
        }
    }

    /// Moves a connection along on readiness: connected → request written; bytes in →
    /// answered (and read away); end of stream or an error → closed, to be opened again.
    fn on_event(&mut self, registry: &mio::Registry, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.state == State::Connecting {
            // mio's documented way to learn how a non-blocking connect ended.
            match (conn.stream.take_error(), conn.stream.peer_addr()) {
                (Ok(None), Ok(_)) => conn.state = State::Waiting,
                (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return,
                _ => {
                    self.quiet_until = Instant::now() + BACKOFF;
                    self.close(registry, key);
                    return;
                }
            }
            // The request is a few dozen bytes: a fresh socket's buffer takes it whole.
            if !matches!(conn.stream.write(REQUEST), Ok(n) if n == REQUEST.len()) {
                self.close(registry, key);
                return;
            }
        }
        let mut buf = [0u8; 4096];
        let open = loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => break false,
                Ok(_) => conn.state = State::Answered,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break false,
            }
        };
        if !open {
            self.close(registry, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_leaves_room_for_two_servers_and_never_passes_the_cap() {
        assert_eq!(per_server_limit(Some(1024)), (1024 - SPARE_FDS) / 2);
        assert_eq!(per_server_limit(Some(20_000)), (20_000 - SPARE_FDS) / 2);
        assert_eq!(per_server_limit(Some(1 << 20)), MAX_PER_SERVER);
        assert_eq!(per_server_limit(None), MAX_PER_SERVER);
        assert_eq!(per_server_limit(Some(10)), 0);
    }
}
