//! Server configuration: plain data with documented defaults.
//!
//! [`Builder`](crate::Builder) fills a [`Config`]; the poller and the workers only
//! read it. Limits that are not worth a knob are named constants here, so every
//! number the server obeys can be found in this one file.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::body_policy::{BodyRule, Policy};
use ::http::header::HeaderValue;
use ::http::StatusCode;
use bytes::Bytes;

use crate::access::AccessLog;
use crate::h1::error::Limits;

/// How long a lingering connection may keep sending before it is dropped.
///
/// After the last response the server shuts down its side and reads (and throws
/// away) what the client still sends, so that unread request bytes do not make the
/// kernel answer with a reset that destroys the response in flight (RFC 9112 §9.6).
pub(crate) const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long accepting pauses after the process ran out of file descriptors.
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The size of a fresh read buffer; it grows up to the request limits when needed.
pub(crate) const READ_BUFFER_BYTES: usize = 16 * 1024;

/// How many spare read buffers the poller keeps for reuse.
pub(crate) const READ_BUFFER_POOL: usize = 64;

/// How much a connection whose body is being spooled reads at a time: what it holds of
/// the body in memory.
pub(crate) const SPOOL_READ_BYTES: usize = 64 * 1024;

/// Responses with an in-memory body up to this size are copied behind their head
/// (pipelined ones gathered into one write); larger ones leave with their head in one
/// `writev`, from where they are. Measured on the 10.7 KB index page: copying it cost
/// about 2.5 % more CPU per request than `writev`.
pub(crate) const COPY_BODY_BYTES: usize = 1024;

/// A request that waited this long for a worker has its socket looked at (one
/// non-blocking `recv` with `MSG_PEEK`) before its handler runs: a client that reset the
/// connection meanwhile is not answered. A request taken sooner is run without the look,
/// so a server that keeps up pays nothing; a client gives up after seconds, not
/// milliseconds. See "On a worker" in `docs/architecture.md`.
pub(crate) const PEEK_AFTER: Duration = Duration::from_millis(10);

/// How connections are tied to threads.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Model, Server};
///
/// let nio = Server::builder().bind("127.0.0.1:0")?;
/// let blocking = Server::builder().model(Model::Blocking).workers(8).bind("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Model {
    /// One poller thread holds every waiting connection; a small pool of workers
    /// runs requests and holds a connection only while it is being answered.
    /// Idle connections cost no thread. The default.
    #[default]
    Nio,
    /// Thread per connection, like Tomcat's old BIO connector: each of the
    /// `workers` threads owns one connection for its whole life, idle waits
    /// included. At most `workers` connections are served at once; the rest wait
    /// in the listen backlog. For comparison with [`Model::Nio`].
    Blocking,
}

/// The server's settings. Every field says its default.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// How connections are tied to threads. Default is [`Model::Nio`].
    pub(crate) model: Model,
    /// Worker threads (connection threads in the blocking model). Default is the number of CPUs.
    pub(crate) workers: usize,
    /// How long an idle keep-alive connection is kept between requests; zero turns
    /// keep-alive off. Default is 5 s.
    pub(crate) keep_alive_timeout: Duration,
    /// How long a client may take to send a request head once it started. Default is 10 s.
    pub(crate) request_timeout: Duration,
    /// How long a request body may go without a byte arriving. Default is 60 s.
    pub(crate) body_timeout: Duration,
    /// The least rate a request body must arrive at, in bytes per second, after a grace
    /// period. Default: none.
    pub(crate) min_body_rate: Option<(u64, Duration)>,
    /// How long a response may wait for the client to take more bytes. Default is 30 s.
    pub(crate) send_timeout: Duration,
    /// Requests served on one connection before it is closed. Default is 1,000.
    pub(crate) max_keep_alive_requests: u32,
    /// Open connections at most; beyond it the kernel's backlog holds the rest. Default is 10,000.
    pub(crate) max_connections: usize,
    /// Length of the kernel's queue of accepted-but-not-yet-taken connections. Default is 1,024.
    pub(crate) backlog: u32,
    /// Bytes in a request head (request line and headers). Default is 16 KiB, so that a
    /// target of `max_uri_bytes` fits with room for the fields.
    pub(crate) max_header_bytes: usize,
    /// Bytes in a request target. Default is 8 KiB (RFC 9112 §3: at least 8,000 octets).
    pub(crate) max_uri_bytes: usize,
    /// Bytes in a request body. Default is 1 MiB.
    pub(crate) max_body_bytes: usize,
    /// A request body larger than this is written to a temporary file as it arrives
    /// instead of kept in memory. Default is 64 KiB.
    pub(crate) body_buffer_bytes: usize,
    /// Where those temporary files go. Default is the system's (`std::env::temp_dir`).
    pub(crate) spool_dir: Option<std::path::PathBuf>,
    /// What may come of each request's body, decided from its head. Default: none, which
    /// accepts bodies up to `max_body_bytes`.
    pub(crate) body_policy: Option<Policy>,
    /// How long shutdown waits for requests in flight. Default is 10 s.
    pub(crate) shutdown_grace: Duration,
    /// The bodies of the error responses the server writes itself. Default is none: a
    /// one-line `text/plain` body such as `400 Bad Request: ...`.
    pub(crate) error_body: ErrorBody,
    /// How long a complete request may wait for a worker before the server answers it
    /// `503 Service Unavailable` itself. Default is `None`: no deadline.
    pub(crate) queue_timeout: Option<Duration>,
    /// Where access-log lines go. Default is the `log` crate (`info`, target
    /// `nioserve::access`).
    pub(crate) access_log: AccessLog,
}

/// What [`Builder::error_body`](crate::Builder::error_body) was given.
pub(crate) type ErrorBodyFn = dyn Fn(StatusCode) -> Option<(HeaderValue, Bytes)> + Send + Sync;

/// The hook that makes the bodies of the server's own error responses, if one was set.
#[derive(Clone, Default)]
pub(crate) struct ErrorBody(Option<Arc<ErrorBodyFn>>);

impl ErrorBody {
    pub(crate) fn new(hook: Arc<ErrorBodyFn>) -> ErrorBody {
        ErrorBody(Some(hook))
    }

    /// The `Content-Type` and body for an error with `status`; `None` for the default.
    pub(crate) fn for_status(&self, status: StatusCode) -> Option<(HeaderValue, Bytes)> {
        self.0.as_ref().and_then(|hook| hook(status))
    }
}

impl fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ErrorBody(custom)"
        } else {
            "ErrorBody(default)"
        })
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            model: Model::Nio,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            keep_alive_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            min_body_rate: None,
            send_timeout: Duration::from_secs(30),
            max_keep_alive_requests: 1000,
            max_connections: 10_000,
            backlog: 1024,
            max_header_bytes: 16 * 1024,
            max_uri_bytes: 8 * 1024,
            max_body_bytes: 1024 * 1024,
            body_buffer_bytes: 64 * 1024,
            spool_dir: None,
            body_policy: None,
            shutdown_grace: Duration::from_secs(10),
            error_body: ErrorBody::default(),
            queue_timeout: None,
            access_log: AccessLog::default(),
        }
    }
}

impl Config {
    /// The limits the codec enforces.
    /// The limits the codec enforces. With a body policy the policy decides how long a
    /// body may be (it may allow a route more than `max_body_bytes`), so the codec does not.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_header_bytes: self.max_header_bytes,
            max_uri_bytes: self.max_uri_bytes,
            max_body_bytes: match self.body_policy {
                Some(_) => usize::MAX,
                None => self.max_body_bytes,
            },
        }
    }

    /// The rule for request bodies: the policy, or `max_body_bytes`.
    pub(crate) fn body_rule(&self) -> BodyRule {
        BodyRule {
            policy: self.body_policy.clone(),
            max: self.max_body_bytes as u64,
        }
    }

    /// The most bytes buffered for one request; a request still incomplete at this
    /// size is refused. Leaves room for chunked framing around a full-size body.
    pub(crate) fn max_request_bytes(&self) -> usize {
        request_bytes(self.max_header_bytes, self.max_body_bytes as u64)
    }
}

/// The most bytes buffered for one request whose body may have `max_body_bytes`: its head,
/// its body, and room for chunked framing around a full-size body.
pub(crate) fn request_bytes(max_header_bytes: usize, max_body_bytes: u64) -> usize {
    let body = usize::try_from(max_body_bytes).unwrap_or(usize::MAX);
    max_header_bytes
        .saturating_add(body)
        .saturating_add(body / 8)
        .saturating_add(4096)
}
