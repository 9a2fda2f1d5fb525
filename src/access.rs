//! The access log: one line per response, written when the response's last byte has
//! been written, or when its connection ends first. That way a line tells the bytes
//! that actually went out and the time to the last byte, whoever wrote it: a worker, or
//! the poller for a client that reads slowly. The error responses the server writes
//! itself (400, 408, 413, 414, 431, 501, 505, 500) get a line like any other.
//!
//! ```text
//! 127.0.0.1:44004 "GET /css/styles.css HTTP/1.1" 200 8325 0.026ms
//! 127.0.0.1:44010 "-" 431 45 0.011ms
//! ```
//!
//! (lines written in batches begin with a time stamp, `[2026-12-01T04:45:00Z] `).
//!
//! Where lines go is the server's [`AccessLog`]: the `log` crate (`info` on the target
//! `nioserve::access`, the default), nowhere, or a writer (a file, standard error) fed
//! in batches by one thread of the server's own ([`writer`]), so that a worker or the
//! poller never makes a system call for a line: it formats the line into memory and
//! appends it to a shared buffer under a lock held for a copy.
//!
//! Each connection carries a [`ConnectionLog`]: the responses not yet written whole, and
//! where their lines go. Lines are made only while the log is on: with it off a
//! response costs one check, no allocation and no clock read. Positions are counted in
//! the connection's output (bytes handed to the socket so far), which costs an addition
//! per write.

mod writer;

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use ::http::{Method, Uri, Version};
use log::{info, log_enabled, Level};

use self::writer::Shared;
pub(crate) use self::writer::Writer;
use crate::stats::Counters;

/// The target of access-log lines sent to the `log` crate, to filter them
/// (`RUST_LOG=nioserve::access=off`).
pub(crate) const TARGET: &str = "nioserve::access";

/// Where a server's access-log lines go: set with
/// [`Builder::access_log`](crate::Builder::access_log).
///
/// - [`log_crate`](AccessLog::log_crate), the default: each line is an `info` record on
///   the target `nioserve::access`, for whatever logger the program installed (or none).
///   Every line is one call to the logger, made by the thread that finished the
///   response; `env_logger` makes that one `write(2)` to standard error per request, from
///   the workers.
/// - [`stderr`](AccessLog::stderr), [`file`](AccessLog::file) and
///   [`writer`](AccessLog::writer): lines are written in batches by one thread of the
///   server's own (`nioserve-access`), at least every 100 ms and whenever 64 KiB have
///   gathered, and on shutdown. A worker only formats the line into memory and appends
///   it to a shared buffer. When the writer cannot keep up (a terminal scrolled back, a
///   pipe nobody reads, a full disk) workers do not wait for it: past 1 MiB waiting,
///   lines are dropped and counted in [`Stats::access_log_dropped`](crate::Stats::access_log_dropped),
///   and a warning (target `nioserve::log_writer`) says how many, at most once a second,
///   once the writer can go on. A write that fails is reported the same way; the lines
///   of that batch count as dropped, and the next batch is tried.
/// - [`off`](AccessLog::off): no lines at all.
///
/// [`ServerHandle::shutdown`](crate::ServerHandle::shutdown) (and [`wait`](crate::ServerHandle::wait),
/// and dropping the handle) returns once every line has been handed to the writer (and
/// `flush`ed), or, if the writer is stuck, after waiting the longer of the
/// [shutdown grace period](crate::Builder::shutdown_grace) and 1 s more, with the lines
/// it could not write counted as dropped.
///
/// Lines are the same wherever they go, one per response: client, request line, status,
/// body bytes sent, time to the last byte. A batched line (stderr, file, writer) begins
/// with the time it was logged, to the second, in RFC 3339 and UTC, and ends in `\n`;
/// stamps are taken in the order lines join the batch, so they never go back in a file
/// (unless the system clock is set back).
/// A line given to the `log` crate has no stamp of its own: the logger's format adds one.
///
/// ```text
/// [2026-12-01T04:45:00Z] 127.0.0.1:44004 "GET /css/styles.css HTTP/1.1" 200 8325 0.026ms
/// ```
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{AccessLog, Server};
///
/// let path = std::env::temp_dir().join(format!("nioserve-doc-access-{}.log", std::process::id()));
/// let server = Server::builder().access_log(AccessLog::file(&path)?).bind("127.0.0.1:0")?;
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct AccessLog(Choice);

#[derive(Clone, Default)]
enum Choice {
    #[default]
    LogCrate,
    Off,
    /// Shared, so that a cloned builder's servers write whole batches in turn.
    Writer(Arc<Mutex<dyn Write + Send>>),
    /// A file, where to open it again, and what a reopen opened while the writer was
    /// busy with a batch (see [`LogFile`]).
    File(Arc<Path>, Arc<Mutex<LogFile>>, Reopened),
}

impl AccessLog {
    /// Each line is an `info` record on the target `nioserve::access` of the
    /// [`log`](https://docs.rs/log/0.4) crate, made by the thread that finished the
    /// response. The default. The logger's level for that target is asked once per
    /// response, so `RUST_LOG=nioserve::access=off` (with `env_logger`) turns it off.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().access_log(nioserve::AccessLog::log_crate());
    /// ```
    pub fn log_crate() -> AccessLog {
        AccessLog(Choice::LogCrate)
    }

    /// No access log.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().access_log(nioserve::AccessLog::off());
    /// ```
    pub fn off() -> AccessLog {
        AccessLog(Choice::Off)
    }

    /// Lines go to standard error, in batches written by the server's writer thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().access_log(nioserve::AccessLog::stderr());
    /// ```
    pub fn stderr() -> AccessLog {
        AccessLog::writer(io::stderr())
    }

    /// Lines are appended to the file at `path`, created if missing, in batches written
    /// by the server's writer thread.
    ///
    /// The file is opened now, in append mode (`O_APPEND`): every batch goes to the end
    /// of the file as it is then, so a log rotated with `copytruncate` (logrotate) goes
    /// on at the start of the truncated file. A rotation that renames the file
    /// (logrotate's default, `create`) calls [`reopen`](AccessLog::reopen) afterwards,
    /// as nginx is sent `SIGUSR1` (the demo binary reopens on `SIGUSR1` too).
    ///
    /// # Errors
    ///
    /// Fails if the file cannot be opened for appending or created.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("nioserve-doc-file-{}.log", std::process::id()));
    /// let log = nioserve::AccessLog::file(&path)?;
    /// assert!(path.exists());
    /// # std::fs::remove_file(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn file(path: impl AsRef<Path>) -> io::Result<AccessLog> {
        let path = path.as_ref();
        let reopened = Reopened::default();
        let file = LogFile {
            file: open_for_appending(path)?,
            reopened: Arc::clone(&reopened),
            in_batch: false,
        };
        Ok(AccessLog(Choice::File(
            Arc::from(path),
            Arc::new(Mutex::new(file)),
            reopened,
        )))
    }

    /// Opens a [`file`](AccessLog::file) log's path again, and writes on to the file
    /// found there: what a log rotation that renamed the file asks for. Lines not yet
    /// written go to the new file; a batch being written finishes in the old one first.
    /// It never waits for that batch, nor for a reader of a named pipe. Every server
    /// and clone using this log follows. Other logs have nothing to reopen: `Ok(())`.
    ///
    /// # Errors
    ///
    /// Fails if the path cannot be opened for appending or created (its directory is
    /// gone, say), or is a named pipe that nobody reads (it is not waited for); the log
    /// then goes on in the file it had.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("nioserve-doc-reopen-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let log = nioserve::AccessLog::file(dir.join("access.log"))?;
    /// // A rotation: the file is renamed, and the log told to open its path again.
    /// std::fs::rename(dir.join("access.log"), dir.join("access.log.1"))?;
    /// log.reopen()?;
    /// assert!(dir.join("access.log").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn reopen(&self) -> io::Result<()> {
        if let Choice::File(path, file, waiting) = &self.0 {
            let reopened = reopen_for_appending(path)?;
            *waiting.lock().unwrap_or_else(PoisonError::into_inner) = Some(reopened);
            // Taken up now, unless the writer is writing a batch (maybe to a pipe that
            // nobody drains): then before its next one, and the caller does not wait.
            let log = match file.try_lock() {
                Ok(log) => Some(log),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut log) = log {
                log.take_reopened();
            }
        }
        Ok(())
    }

    /// Lines go to `sink`, in batches written by the server's writer thread: each batch
    /// is one `write_all` of whole lines, then a `flush`. The sink may be slow or block:
    /// only the writer thread waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// struct Collector(std::sync::mpsc::Sender<Vec<u8>>);
    ///
    /// impl Write for Collector {
    ///     fn write(&mut self, batch: &[u8]) -> std::io::Result<usize> {
    ///         let _ = self.0.send(batch.to_vec());
    ///         Ok(batch.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let builder = nioserve::Server::builder().access_log(nioserve::AccessLog::writer(Collector(tx)));
    /// # let _ = rx;
    /// ```
    pub fn writer(sink: impl Write + Send + 'static) -> AccessLog {
        AccessLog(Choice::Writer(Arc::new(Mutex::new(sink))))
    }

    /// Starts what a running server logs through: the writer thread, if lines go to a
    /// writer. `wait` bounds how long finishing it waits for a stuck sink.
    pub(crate) fn start(&self, counters: &Counters, wait: Duration) -> io::Result<(Sink, Option<Writer>)> {
        Ok(match &self.0 {
            Choice::LogCrate => (Sink::LogCrate, None),
            Choice::Off => (Sink::Off, None),
            Choice::Writer(sink) => Self::batched(Arc::clone(sink), counters, wait)?,
            Choice::File(_, file, _) => {
                Self::batched(Arc::clone(file) as Arc<Mutex<dyn Write + Send>>, counters, wait)?
            }
        })
    }

    fn batched(
        sink: Arc<Mutex<dyn Write + Send>>,
        counters: &Counters,
        wait: Duration,
    ) -> io::Result<(Sink, Option<Writer>)> {
        let writer = Writer::spawn(sink, counters.clone(), wait)?;
        Ok((Sink::Batched(writer.shared()), Some(writer)))
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Choice::LogCrate => "AccessLog(log crate)",
            Choice::Off => "AccessLog(off)",
            Choice::Writer(_) => "AccessLog(writer)",
            Choice::File(..) => "AccessLog(file)",
        })
    }
}

/// A file a reopen opened, until the writer takes it up.
type Reopened = Arc<Mutex<Option<File>>>;

/// A file log's sink: the file, and the one to go on in after a reopen, taken up when
/// a batch begins. A batch being written ends in the file it began in, whole.
struct LogFile {
    file: File,
    reopened: Reopened,
    /// A batch has begun and not yet been flushed or given up.
    in_batch: bool,
}

impl LogFile {
    fn take_reopened(&mut self) {
        if self.in_batch {
            return;
        }
        if let Some(file) = self.reopened.lock().unwrap_or_else(PoisonError::into_inner).take() {
            // The old file is closed here: a rotated file is not held open.
            self.file = file;
        }
    }
}

impl Write for LogFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.take_reopened();
        self.in_batch = true;
        let written = self.file.write(bytes);
        match &written {
            Ok(n) if *n > 0 => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // `write_all` gives the batch up: the next one may go to a reopened file.
            _ => self.in_batch = false,
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.in_batch = false;
        self.file.flush()
    }
}

fn open_for_appending(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// Opens `path` as [`open_for_appending`] does, but never waits: a named pipe that
/// nobody reads, found at the path, fails the reopen (`ENXIO`) instead of holding the
/// caller (a program's signal-handling thread) until a reader comes.
#[cfg(unix)]
fn reopen_for_appending(path: &Path) -> io::Result<File> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    use std::os::unix::fs::OpenOptionsExt;

    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    // Writes may wait: only the writer thread makes them, and a pipe read slowly
    // must not make them fail.
    fcntl_setfl(&file, fcntl_getfl(&file)?.difference(OFlags::NONBLOCK))?;
    Ok(file)
}

#[cfg(not(unix))]
fn reopen_for_appending(path: &Path) -> io::Result<File> {
    open_for_appending(path)
}

/// Where a running server's lines go; each connection holds a clone.
#[derive(Clone, Debug, Default)]
pub(crate) enum Sink {
    #[default]
    Off,
    LogCrate,
    Batched(Arc<Shared>),
}

impl Sink {
    /// The log of a new connection.
    pub(crate) fn connection_log(&self) -> ConnectionLog {
        ConnectionLog {
            pending: VecDeque::new(),
            written: 0,
            sink: self.clone(),
        }
    }
}

/// The responses of one connection whose last byte has not been written yet, in order,
/// and where their lines go.
#[derive(Debug, Default)]
pub(crate) struct ConnectionLog {
    pending: VecDeque<Pending>,
    /// How many bytes of the connection's output the socket has taken, as last told:
    /// what a response cut off by the end of its connection is logged with.
    written: u64,
    sink: Sink,
}

/// One response waiting for its last byte.
#[derive(Debug)]
struct Pending {
    /// The line up to the byte count: `peer "GET /path HTTP/1.1" 200`.
    text: String,
    /// When the response began: the handler was called, or the server refused.
    started: Instant,
    /// Where the body starts in the connection's output.
    body_at: u64,
    /// Where the response ends in the connection's output.
    end: u64,
}

impl ConnectionLog {
    /// Whether access-log lines are made at all; asked once per response.
    pub(crate) fn enabled(&self) -> bool {
        match self.sink {
            Sink::Off => false,
            Sink::LogCrate => log_enabled!(target: TARGET, Level::Info),
            Sink::Batched(_) => true,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds a response whose body starts at `body_at` and which ends at `end`, both
    /// counted in the connection's output; it is logged once that much is written.
    pub(crate) fn push(&mut self, text: String, started: Instant, body_at: u64, end: u64) {
        self.pending.push_back(Pending {
            text,
            started,
            body_at,
            end,
        });
    }

    /// Adds an error response the server wrote itself, whole in `response` (head and
    /// body), which starts at `at` in the connection's output.
    pub(crate) fn push_whole(&mut self, text: String, started: Instant, at: u64, response: &[u8]) {
        let head = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |i| i + 4);
        self.push(text, started, at + head as u64, at + response.len() as u64);
    }

    /// The response pushed last, a streamed one whose end was not known, ends at
    /// `end`. Bytes the connection has already written are looked at again.
    pub(crate) fn ends_at(&mut self, end: u64) {
        if let Some(last) = self.pending.back_mut() {
            last.end = end;
        }
        let written = self.written;
        self.written(written);
    }

    /// The socket has taken the connection's first `written` bytes: logs every
    /// response now written whole.
    pub(crate) fn written(&mut self, written: u64) {
        self.written = written;
        while self.pending.front().is_some_and(|p| p.end <= written) {
            if let Some(done) = self.pending.pop_front() {
                done.log(written, &self.sink);
            }
        }
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            // An idle connection holds no allocation for its log either.
            self.pending = VecDeque::new();
        }
    }
}

impl Drop for ConnectionLog {
    /// The connection ended before these responses were written whole (the client
    /// vanished, a timeout, the end of the shutdown grace period): each is logged with
    /// the body bytes that did go out.
    fn drop(&mut self) {
        for cut_off in self.pending.drain(..) {
            cut_off.log(self.written, &self.sink);
        }
    }
}

impl Pending {
    fn log(self, written: u64, sink: &Sink) {
        let body = written.min(self.end).saturating_sub(self.body_at);
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match sink {
            Sink::Off => {}
            Sink::LogCrate => info!(target: TARGET, "{} {body} {ms:.3}ms", self.text),
            Sink::Batched(shared) => {
                // The line is finished in the string that holds its start, which was
                // sized for it: usually no allocation here.
                let mut line = self.text;
                // Writing to a String cannot fail.
                let _ = writeln!(line, " {body} {ms:.3}ms");
                shared.append(line.as_bytes());
            }
        }
    }
}

/// The start of the line for a response to a request: `peer "METHOD URI VERSION" STATUS`.
pub(crate) fn request_line(peer: SocketAddr, method: &Method, uri: &Uri, version: Version, status: u16) -> String {
    let mut text = String::with_capacity(64 + uri.path().len());
    // Writing to a String cannot fail.
    let _ = write!(text, "{peer} \"{method} {uri} {version:?}\" {status}");
    text
}

/// The start of the line for an error the server answered without a request to name
/// (it could not be read, or did not arrive in time): `peer "-" STATUS`.
pub(crate) fn refusal_line(peer: SocketAddr, status: u16) -> String {
    format!("{peer} \"-\" {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_done_once_its_last_byte_is_written() {
        let mut log = ConnectionLog::default();
        let now = Instant::now();
        log.push("a".into(), now, 10, 20);
        log.push("b".into(), now, 30, 40);
        log.written(19);
        assert_eq!(log.pending.len(), 2);
        log.written(20);
        assert_eq!(log.pending.len(), 1);
        log.written(40);
        assert!(log.is_empty());
        assert_eq!(log.pending.capacity(), 0, "nothing held once all is written");
    }

    #[test]
    fn the_body_of_an_error_response_starts_after_its_head() {
        let mut log = ConnectionLog::default();
        log.push_whole(
            "e".into(),
            Instant::now(),
            100,
            b"HTTP/1.1 400 Bad Request\r\n\r\n400 Bad Request\n",
        );
        let pending = &log.pending[0];
        assert_eq!((pending.body_at, pending.end), (128, 144));
        log.written(144);
    }
}
