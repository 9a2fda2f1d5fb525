//! Live counters, shared by the poller and the workers, and the snapshot users read.
//!
//! The poller publishes the connection gauges once per turn of its loop; workers
//! count requests and their own busy time. Everything is a relaxed atomic: the
//! numbers are for people and dashboards, not for synchronisation.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A point-in-time copy of a server's counters.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Response, Server};
///
/// let handle = Server::builder().workers(2).bind("127.0.0.1:0")?
///     .spawn(|_req| Response::new("hi".into()))?;
/// let stats = handle.stats();
/// assert_eq!(stats.workers, 2);
/// assert_eq!(stats.connections_open, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections open now, in any state.
    pub connections_open: usize,
    /// Connections waiting for their next request, held by the poller alone.
    pub connections_idle: usize,
    /// Connections handed to the worker pool (running or queued for a worker).
    pub connections_busy: usize,
    /// Connections whose response body is still being produced (a stream from
    /// [`Body::channel`](crate::Body::channel)), all it sent so far written. In the NIO
    /// model they are held by the poller alone, like idle ones.
    pub connections_streaming: usize,
    /// Worker threads running a request now.
    pub workers_busy: usize,
    /// Worker threads in the pool.
    pub workers: usize,
    /// Requests answered since the server started.
    pub requests: u64,
    /// Connections accepted since the server started.
    pub accepted: u64,
    /// Connections closed since the server started.
    pub closed: u64,
    /// Connections closed because a timeout expired (keep-alive, request or send).
    pub timed_out: u64,
    /// Time since the server started.
    pub uptime: Duration,
    /// Connections handed to the worker pool that no worker has taken yet: complete
    /// requests waiting for a worker (and responses whose body, read from a `Read`,
    /// waits for its next burst). Part of `connections_busy`. Always 0 in the blocking
    /// model, which has no queue (waiting connections sit in the kernel's backlog).
    pub queued: usize,
    /// Access-log lines that were never written: dropped because the log's writer
    /// thread was that far behind (its sink slow or stuck), lost in a write that
    /// failed, or left unwritten by a sink still stuck at shutdown. Always 0 unless the
    /// [`AccessLog`](crate::AccessLog) goes to a writer (a file, standard error).
    pub access_log_dropped: u64,
}

impl Stats {
    /// The snapshot as a JSON object, the format of the demo's `/_status`.
    ///
    /// # Examples
    ///
    /// ```
    /// let json = nioserve::Stats::default().to_json();
    /// assert!(json.starts_with("{\"connections_open\":0,"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut json = String::with_capacity(256);
        // Writing to a String cannot fail.
        let _ = write!(
            json,
            "{{\"connections_open\":{},\"connections_idle\":{},\"connections_busy\":{},\
             \"connections_streaming\":{},\"workers_busy\":{},\"workers\":{},\"requests\":{},\"accepted\":{},\
             \"closed\":{},\"timed_out\":{},\"uptime_secs\":{:.1},\"queued\":{}}}",
            self.connections_open,
            self.connections_idle,
            self.connections_busy,
            self.connections_streaming,
            self.workers_busy,
            self.workers,
            self.requests,
            self.accepted,
            self.closed,
            self.timed_out,
            self.uptime.as_secs_f64(),
            self.queued,
        );
        json
    }
}

/// A live view of a server's counters, cheap to clone and to read from any thread.
///
/// Get one from [`Server::counters`](crate::Server::counters) before the server
/// starts, to hand to a handler that reports them (the demo's `/_status` does).
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Response, Server};
///
/// let server = Server::builder().workers(1).bind("127.0.0.1:0")?;
/// let counters = server.counters();
/// let handle = server.spawn(move |_req| Response::new(counters.snapshot().to_json().into()))?;
/// assert_eq!(handle.stats().requests, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Counters(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    started: Instant,
    workers: usize,
    connections_open: AtomicUsize,
    connections_idle: AtomicUsize,
    connections_busy: AtomicUsize,
    connections_streaming: AtomicUsize,
    workers_busy: AtomicUsize,
    requests: AtomicU64,
    accepted: AtomicU64,
    closed: AtomicU64,
    timed_out: AtomicU64,
    queued: AtomicUsize,
    access_log_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn new(workers: usize) -> Counters {
        Counters(Arc::new(Inner {
            started: Instant::now(),
            workers,
            connections_open: AtomicUsize::new(0),
            connections_idle: AtomicUsize::new(0),
            connections_busy: AtomicUsize::new(0),
            connections_streaming: AtomicUsize::new(0),
            workers_busy: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            access_log_dropped: AtomicU64::new(0),
        }))
    }

    /// Reads every counter now.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().workers(3).bind("127.0.0.1:0")?;
    /// assert_eq!(server.counters().snapshot().workers, 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn snapshot(&self) -> Stats {
        let c = &self.0;
        Stats {
            connections_open: c.connections_open.load(Relaxed),
            connections_idle: c.connections_idle.load(Relaxed),
            connections_busy: c.connections_busy.load(Relaxed),
            connections_streaming: c.connections_streaming.load(Relaxed),
            workers_busy: c.workers_busy.load(Relaxed),
            workers: c.workers,
            requests: c.requests.load(Relaxed),
            accepted: c.accepted.load(Relaxed),
            closed: c.closed.load(Relaxed),
            timed_out: c.timed_out.load(Relaxed),
            uptime: c.started.elapsed(),
            queued: c.queued.load(Relaxed),
            access_log_dropped: c.access_log_dropped.load(Relaxed),
        }
    }

    /// The poller's gauges, published once per turn of its loop.
    pub(crate) fn set_connections(&self, open: usize, idle: usize, busy: usize, streaming: usize) {
        self.0.connections_open.store(open, Relaxed);
        self.0.connections_idle.store(idle, Relaxed);
        self.0.connections_busy.store(busy, Relaxed);
        self.0.connections_streaming.store(streaming, Relaxed);
    }

    /// The thread-per-connection model counts its gauges one change at a time.
    pub(crate) fn connection_opened(&self) {
        self.0.connections_open.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_ended(&self) {
        self.0.connections_open.fetch_sub(1, Relaxed);
        self.closed();
    }

    pub(crate) fn idle_began(&self) {
        self.0.connections_idle.fetch_add(1, Relaxed);
    }

    pub(crate) fn idle_ended(&self) {
        self.0.connections_idle.fetch_sub(1, Relaxed);
    }

    pub(crate) fn stream_began(&self) {
        self.0.connections_streaming.fetch_add(1, Relaxed);
    }

    pub(crate) fn stream_ended(&self) {
        self.0.connections_streaming.fetch_sub(1, Relaxed);
    }

    pub(crate) fn accepted(&self) {
        self.0.accepted.fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self) {
        self.0.closed.fetch_add(1, Relaxed);
    }

    pub(crate) fn timed_out(&self) {
        self.0.timed_out.fetch_add(1, Relaxed);
    }

    pub(crate) fn requests(&self, n: u64) {
        self.0.requests.fetch_add(n, Relaxed);
    }

    /// The poller handed a job to the pool.
    pub(crate) fn job_queued(&self) {
        self.0.queued.fetch_add(1, Relaxed);
    }

    /// A worker took a job (or the poller took back one no worker could take).
    pub(crate) fn job_taken(&self) {
        self.0.queued.fetch_sub(1, Relaxed);
    }

    pub(crate) fn worker_busy(&self) {
        self.0.workers_busy.fetch_add(1, Relaxed);
    }

    pub(crate) fn worker_free(&self) {
        self.0.workers_busy.fetch_sub(1, Relaxed);
    }

    /// Access-log lines that will never be written.
    pub(crate) fn access_log_dropped(&self, lines: u64) {
        self.0.access_log_dropped.fetch_add(lines, Relaxed);
    }
}
