//! `Server`, its `Builder`, and the `ServerHandle` of a running server.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ::http::header::HeaderValue;
use ::http::StatusCode;
use bytes::Bytes;
use log::error;

use crate::access::{AccessLog, Writer};
use crate::body_policy::{BodyPolicy, Policy};
use crate::config::{Config, ErrorBody, Model};
use crate::handler::Handler;
use crate::nio::{self, Handoff};
use crate::service::Responder;
use crate::shutdown::{ServerThread, ShutdownReport};
use crate::stats::{Counters, Stats};
use crate::trigger::ShutdownTrigger;
use crate::{blocking, transport};

/// Sets up a [`Server`]: threads, timeouts and limits, then the address to listen on.
///
/// Every setting has a default chosen for a small static site; see each method.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// use nioserve::Server;
///
/// let server = Server::builder()
///     .workers(4)
///     .keep_alive_timeout(Duration::from_secs(5))
///     .max_keep_alive_requests(100)
///     .bind("127.0.0.1:0")?;
/// assert!(server.local_addr().port() > 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct Builder {
    config: Config,
}

/// Timeouts longer than this are treated as this: ten years is "never" for a
/// connection, and it keeps `Instant + timeout` far from overflowing.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

impl Builder {
    /// How connections are tied to threads. Default is [`Model::Nio`].
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().model(nioserve::Model::Blocking);
    /// ```
    pub fn model(mut self, model: Model) -> Builder {
        self.config.model = model;
        self
    }

    /// The number of worker threads that run handlers. Default is the number of CPUs.
    ///
    /// The server has this many workers plus one poller thread, however many
    /// connections are open (and one more, the access log's writer, when the
    /// [access log](Builder::access_log) goes to a file or a stream).
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().workers(2);
    /// ```
    pub fn workers(mut self, n: usize) -> Builder {
        assert!(n > 0, "a server needs at least one worker");
        self.config.workers = n;
        self
    }

    /// How long an idle connection is kept open between requests. Default is 5 s.
    ///
    /// When it expires the socket is read once more, so a request that arrived but was
    /// not read yet (after a stall of the process, say) is still answered; otherwise
    /// the connection gets a lingering close, so that a response the client is still
    /// reading is not destroyed by a reset.
    ///
    /// A new connection waits for its first request under the
    /// [request timeout](Builder::request_timeout) instead. Zero turns keep-alive
    /// off: every response says `Connection: close` and the connection closes after it.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().keep_alive_timeout(std::time::Duration::from_secs(15));
    /// ```
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Builder {
        self.config.keep_alive_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// How long a client may take to send a request's head (request line and header
    /// fields), from its first byte. Default is 10 s. A client that takes longer gets
    /// `408 Request Timeout`.
    ///
    /// This is what stops a "slowloris" client that sends a head a byte at a time. The
    /// body that follows has its own limits: [`body_timeout`](Builder::body_timeout)
    /// between reads and, if set, [`min_body_rate`](Builder::min_body_rate), so that a large
    /// upload over a slow link is not cut off for taking longer than a head may.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().request_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Builder {
        self.config.request_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// How long a request body may go without a byte arriving. Default is 60 s (nginx's
    /// `client_body_timeout`). A body that stalls longer gets `408 Request Timeout`.
    ///
    /// The timeout starts over with every read that brings bytes, so an upload of any size
    /// over a slow but steady link is served; a client that sends a byte now and then can
    /// keep it alive, which [`min_body_rate`](Builder::min_body_rate) stops.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().body_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn body_timeout(mut self, timeout: Duration) -> Builder {
        self.config.body_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// The least rate, in bytes per second, a request body must arrive at once `grace`
    /// has passed since its first byte; a slower one gets `408 Request Timeout`. Default:
    /// none. Kestrel's `MinRequestBodyDataRate` (240 bytes/s after 5 s) is the model.
    ///
    /// The rate is the body's average since it began, looked at each time bytes arrive
    /// (and when the body timeout runs out), so a steady slow upload passes and one that
    /// dribbles a byte at a time to hold a connection does not. The NIO model only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = nioserve::Server::builder().min_body_rate(240, Duration::from_secs(5));
    /// ```
    pub fn min_body_rate(mut self, bytes_per_sec: u64, grace: Duration) -> Builder {
        self.config.min_body_rate = Some((bytes_per_sec, grace.min(LONGEST_TIMEOUT)));
        self
    }

    /// How long a response may wait for the client to accept more bytes. Default is 30 s.
    ///
    /// The timeout starts when a write finds the socket full and starts over each time
    /// the socket turns writable again and takes more bytes. On Linux a connection's
    /// socket holds at most 128 KiB not yet sent (`TCP_NOTSENT_LOWAT`) and turns
    /// writable once less than half of that is unsent, so the timeout starts over each
    /// time the client has taken about 64 KiB: a client that reads slowly but steadily
    /// gets the whole response however long it takes; one that takes less than that
    /// within the timeout is cut off.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().send_timeout(std::time::Duration::from_secs(60));
    /// ```
    pub fn send_timeout(mut self, timeout: Duration) -> Builder {
        self.config.send_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// How long a complete request may wait for a worker. Default is none: a request
    /// waits as long as it takes.
    ///
    /// The wait is counted from the poller's turn that found the request complete, to
    /// the moment a worker takes it. A request that waited longer is not run: the server
    /// answers it itself with `503 Service Unavailable`, `Retry-After: 1` and
    /// `Connection: close` (access-logged with its request line), and the connection
    /// closes after it, so requests pipelined behind it are not run either. A zero
    /// duration means no deadline, as if this were never called.
    ///
    /// Set it when the workers may fall behind for long (slow handlers, bursts) and the
    /// clients would rather hear "try again" than wait: a little under the time your
    /// clients (or the proxy in front) wait for a response before they give up, less the
    /// time a handler takes. A worker then does not run a request for a client that has
    /// stopped listening. There is no default because the server cannot know that time: a client
    /// that waits patiently behind a slow report should not get a `503` it never asked
    /// for. Whatever the setting, a request whose client reset the connection while it
    /// waited is not run (see the architecture notes, "On a worker").
    ///
    /// In [`Model::Blocking`] there is no queue to time: a connection's own thread runs
    /// each request as soon as it has read it; connections beyond `workers` wait in the
    /// kernel's listen backlog, out of the server's sight. The setting does nothing there.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().queue_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn queue_timeout(mut self, timeout: Duration) -> Builder {
        self.config.queue_timeout = (!timeout.is_zero()).then(|| timeout.min(LONGEST_TIMEOUT));
        self
    }

    /// How many requests one connection may make before the server closes it.
    /// Default is 1,000 (nginx's `keepalive_requests` since 1.19.10). The last response
    /// says `Connection: close`; requests the client pipelined behind it are not
    /// answered, and a client that pipelines retries them on a new connection.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().max_keep_alive_requests(1000);
    /// ```
    pub fn max_keep_alive_requests(mut self, n: u32) -> Builder {
        assert!(n > 0, "every connection may make at least one request");
        self.config.max_keep_alive_requests = n;
        self
    }

    /// How many connections may be open at once. Default is 10,000.
    ///
    /// At the limit the server stops accepting; new clients wait in the kernel's
    /// listen backlog (see [`backlog`](Builder::backlog)) and are accepted as
    /// connections close. A connection is never accepted only to be dropped.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().max_connections(20_000);
    /// ```
    pub fn max_connections(mut self, n: usize) -> Builder {
        assert!(n > 0, "a server must be able to hold one connection");
        self.config.max_connections = n;
        self
    }

    /// The length of the kernel's queue of connections waiting to be accepted.
    /// Default is 1,024 (the kernel caps it at `net.core.somaxconn`).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().backlog(4096);
    /// ```
    pub fn backlog(mut self, n: u32) -> Builder {
        self.config.backlog = n;
        self
    }

    /// The most bytes a request head (request line and headers) may have.
    /// Default is 16 KiB: room for a request-target of `max_uri_bytes` and the fields
    /// around it. A larger head gets `431 Request Header Fields Too Large`.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().max_header_bytes(32 * 1024);
    /// ```
    pub fn max_header_bytes(mut self, n: usize) -> Builder {
        self.config.max_header_bytes = n;
        self
    }

    /// The most bytes a request target (the URI) may have. Default is 8 KiB (RFC 9112 §3
    /// recommends supporting request lines of at least 8,000 bytes). A longer one gets
    /// `414 URI Too Long`. The target is part of the head, so keep it under
    /// [`max_header_bytes`](Builder::max_header_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().max_uri_bytes(2048);
    /// ```
    pub fn max_uri_bytes(mut self, n: usize) -> Builder {
        self.config.max_uri_bytes = n;
        self
    }

    /// The most bytes a request body may have. Default is 1 MiB.
    /// A larger one gets `413 Content Too Large`, before the body is read.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().max_body_bytes(16 * 1024 * 1024);
    /// ```
    pub fn max_body_bytes(mut self, n: usize) -> Builder {
        self.config.max_body_bytes = n;
        self
    }

    /// The most bytes of a request body kept in memory. Default is 64 KiB (nginx's
    /// `client_body_buffer_size` is 8–16 KiB).
    ///
    /// A larger body (its `Content-Length` says so, or a chunked one grows past it) is
    /// written to an unlinked temporary file in [`spool_dir`](Builder::spool_dir) as it
    /// arrives, by the poller, and the handler gets it as a file
    /// ([`RequestBody::file`](crate::RequestBody::file),
    /// [`RequestBody::reader`](crate::RequestBody::reader)): memory per upload stays about
    /// 64 KiB however large the body. [`max_body_bytes`](Builder::max_body_bytes) still
    /// limits how large it may be. (The thread-per-connection model keeps every body in
    /// memory.)
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().body_buffer_bytes(16 * 1024);
    /// ```
    pub fn body_buffer_bytes(mut self, n: usize) -> Builder {
        self.config.body_buffer_bytes = n;
        self
    }

    /// Where request bodies larger than [`body_buffer_bytes`](Builder::body_buffer_bytes)
    /// are written while they arrive. Default is the system's temporary directory
    /// (`std::env::temp_dir`, `$TMPDIR` or `/tmp`). The files are unlinked at once: nothing
    /// is left behind, even if the process is killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().spool_dir("/var/tmp");
    /// ```
    pub fn spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Builder {
        self.config.spool_dir = Some(dir.into());
        self
    }

    /// Decides, from each request's head, what may come of its body: accept up to a
    /// length, or refuse with a status. Default: accept up to
    /// [`max_body_bytes`](Builder::max_body_bytes) (which a policy replaces: it may allow a
    /// route more, or less).
    ///
    /// Both models ask as soon as the head has arrived (the NIO model on the poller), before
    /// they read any byte of the body or send `100 Continue`: a refused upload is answered
    /// at once, and a client that waits for `100 Continue` never sends its body. Requests
    /// whose body arrived with the head are held to the same answer before the handler
    /// runs. Bodies of requests without one (`GET`) are not asked about. A refusal closes
    /// the connection after the response. (The thread-per-connection model keeps an
    /// accepted body in memory, up to the policy's limit.)
    ///
    /// # Examples
    ///
    /// Uploads to `/upload` of up to 1 GiB, nothing anywhere else:
    ///
    /// ```
    /// use nioserve::{BodyPolicy, Server};
    ///
    /// let builder = Server::builder().body_policy(|head| match head.uri.path() {
    ///     "/upload" => BodyPolicy::Accept { max: 1 << 30 },
    ///     _ => BodyPolicy::Refuse(http::StatusCode::PAYLOAD_TOO_LARGE),
    /// });
    /// ```
    pub fn body_policy(
        mut self,
        policy: impl Fn(&::http::request::Parts) -> BodyPolicy + Send + Sync + 'static,
    ) -> Builder {
        self.config.body_policy = Some(Policy::new(policy));
        self
    }

    /// How long [`ServerHandle::shutdown`] waits for requests in flight. Default is 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = nioserve::Server::builder().shutdown_grace(std::time::Duration::from_secs(2));
    /// ```
    pub fn shutdown_grace(mut self, grace: Duration) -> Builder {
        self.config.shutdown_grace = grace.min(LONGEST_TIMEOUT);
        self
    }

    /// Where the access log goes: one line per response. Default is
    /// [`AccessLog::log_crate`]: an `info` record on the target `nioserve::access`, for the
    /// program's logger.
    ///
    /// The default suits a library: the program decides where logs go, and a program
    /// that installs no logger gets no lines and pays one check per response. Its cost
    /// is the logger's: `env_logger` writes each line to standard error with a system
    /// call of its own, from the worker, which on a terminal can halve the requests a
    /// server answers per second. [`AccessLog::file`], [`AccessLog::stderr`] and
    /// [`AccessLog::writer`] take the writing off the workers: lines are gathered in
    /// memory and written in batches (every 100 ms, or 64 KiB) by one more thread,
    /// `nioserve-access`, so the server has `1 + workers + 1` threads; a worker never
    /// waits for the log, and a line it cannot hand over (the writer 1 MiB behind) is
    /// dropped and counted in [`Stats::access_log_dropped`]. The demo binary uses
    /// [`AccessLog::stderr`] by default. [`AccessLog::off`] turns the log off.
    ///
    /// Shutting the server down (or dropping its handle) writes every line made before
    /// it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use nioserve::{AccessLog, Response, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("nioserve-doc-builder-{}.log", std::process::id()));
    /// let handle = Server::builder()
    ///     .access_log(AccessLog::file(&path)?)
    ///     .bind("127.0.0.1:0")?
    ///     .spawn(|_req| Response::new("hi".into()))?;
    /// let mut client = std::net::TcpStream::connect(handle.local_addr())?;
    /// client.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// client.read_to_end(&mut Vec::new())?;
    /// handle.shutdown(); // every line is in the file when this returns
    /// let log = std::fs::read_to_string(&path)?;
    /// assert!(log.contains("\"GET /hello HTTP/1.1\" 200 2 "));
    /// # std::fs::remove_file(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn access_log(mut self, log: AccessLog) -> Builder {
        self.config.access_log = log;
        self
    }

    /// Sets the bodies of the error responses the server writes itself, instead of a
    /// handler: `400`, `408`, `413`, `414`, `431`, `501`, `505` for a request it refuses,
    /// `500` for a handler that panicked or returned what cannot be sent, `501` for
    /// `CONNECT`. Default is a one-line `text/plain` body such as `400 Bad Request: ...`.
    ///
    /// `hook` is given the status and returns the `Content-Type` and the body, or `None`
    /// to keep the default for that status. The server still decides the status and
    /// writes the framing: `Content-Length` is the body's length, the response says
    /// `Connection: close`, and a `HEAD` gets the head without the body. The hook runs
    /// on the poller thread for most refusals, so it should be quick: return a body
    /// made beforehand (`Bytes` clones share it). A hook that panics takes the poller
    /// down; don't.
    ///
    /// Responses a handler returns, such as a `404` from [`StaticFiles`](crate::StaticFiles),
    /// are the handler's own and do not pass through it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::bytes::Bytes;
    /// use nioserve::http::header::HeaderValue;
    /// use nioserve::http::StatusCode;
    ///
    /// let oops = Bytes::from_static(b"<!doctype html><h1>Something broke on our side</h1>\n");
    /// let server = nioserve::Server::builder()
    ///     .error_body(move |status| {
    ///         (status == StatusCode::INTERNAL_SERVER_ERROR)
    ///             .then(|| (HeaderValue::from_static("text/html; charset=utf-8"), oops.clone()))
    ///     })
    ///     .bind("127.0.0.1:0")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn error_body<F>(mut self, hook: F) -> Builder
    where
        F: Fn(StatusCode) -> Option<(HeaderValue, Bytes)> + Send + Sync + 'static,
    {
        self.config.error_body = ErrorBody::new(Arc::new(hook));
        self
    }

    /// Opens the listening socket on the first of `addr`'s addresses that binds.
    ///
    /// The socket has `SO_REUSEADDR`, so a restarted server can bind while the last
    /// run's connections sit in `TIME_WAIT`. Use port 0 for any free port, and
    /// [`Server::local_addr`] to learn which.
    ///
    /// # Errors
    ///
    /// Fails if the address does not resolve, is in use, or may not be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// let taken = server.local_addr();
    /// assert!(nioserve::Server::builder().bind(taken).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            match transport::listen(addr, self.config.backlog) {
                Ok(listener) => {
                    let local_addr = listener.local_addr()?;
                    let counters = Counters::new(self.config.workers);
                    return Ok(Server {
                        listener,
                        local_addr,
                        config: self.config,
                        counters,
                        trigger: ShutdownTrigger::new(),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }
}

/// A bound HTTP/1.1 server, ready to run a [`Handler`].
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Request, Response, Server};
///
/// let server = Server::builder().workers(2).bind("127.0.0.1:0")?;
/// let handle = server.spawn(|_req: Request| Response::new("hello".into()))?;
/// println!("listening on {}", handle.local_addr());
/// handle.shutdown();
/// # Ok(())
/// # }
/// ```
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: Config,
    counters: Counters,
    trigger: ShutdownTrigger,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish()
    }
}

impl Server {
    /// Starts configuring a server.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the server listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live counters of this server, to hand to a handler that reports them.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// assert_eq!(server.counters().snapshot().requests, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Starts the poller and the workers (and the access log's writer, if it has one:
    /// see [`Builder::access_log`]) and returns at once.
    ///
    /// # Errors
    ///
    /// Fails if the poll instance cannot be created or a thread cannot be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use nioserve::{Response, Server};
    ///
    /// let handle = Server::builder().workers(1).bind("127.0.0.1:0")?
    ///     .spawn(|_req| Response::new("Hello, World!".into()))?;
    /// let mut client = std::net::TcpStream::connect(handle.local_addr())?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut reply = String::new();
    /// client.read_to_string(&mut reply)?;
    /// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
    /// assert!(reply.ends_with("\r\n\r\nHello, World!"));
    /// handle.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn<H: Handler>(self, handler: H) -> io::Result<ServerHandle> {
        let Server {
            listener,
            local_addr,
            config,
            counters,
            trigger,
        } = self;
        let shutting_down = trigger.flag();
        let responder = Responder::new(handler, &config, Arc::clone(shutting_down));
        // Started first and finished last (dropped, if a start below fails): it writes
        // the lines of every other thread.
        let (access, access_writer) = config.access_log.start(&counters, config.shutdown_grace)?;
        let (handoff, threads) = match config.model {
            Model::Nio => {
                let (handoff, threads) = nio::spawn(listener, responder, &config, &counters, shutting_down, &access)?;
                trigger.attach(Arc::clone(&handoff));
                (Some(handoff), threads)
            }
            Model::Blocking => (
                None,
                blocking::spawn(listener, responder, &config, &counters, shutting_down, &access)?,
            ),
        };
        Ok(ServerHandle {
            local_addr,
            counters,
            trigger,
            handoff,
            threads,
            access_writer,
        })
    }

    /// Runs the server until a [`ShutdownTrigger`] stops it, and returns what the
    /// shutdown cut off.
    ///
    /// The server runs on its own threads, as with [`spawn`](Server::spawn); this
    /// call only waits for them, as [`ServerHandle::wait`] does. Take a trigger with
    /// [`trigger`](Server::trigger) first, and fire it from another thread (one that
    /// waits for `SIGTERM`, say): the graceful shutdown runs, with its
    /// [grace period](Builder::shutdown_grace), and then this returns its report. A
    /// trigger fired before `serve` makes it stop at once.
    ///
    /// # Errors
    ///
    /// Fails if the server cannot start, or with the error that stopped the poller.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use nioserve::{Response, Server};
    ///
    /// let server = Server::builder().bind("127.0.0.1:0")?;
    /// let trigger = server.trigger();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(50));
    ///     trigger.trigger();
    /// });
    /// let report = server.serve(|_req| Response::new("hi".into()))?;
    /// println!("stopped: {report}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve<H: Handler>(self, handler: H) -> io::Result<ShutdownReport> {
        self.spawn(handler)?.wait()
    }

    /// A trigger that starts this server's graceful shutdown once it runs (or at once,
    /// if it fired before): the way to stop [`serve`](Server::serve).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let server = nioserve::Server::builder().bind("127.0.0.1:0")?;
    /// let trigger = server.trigger();
    /// trigger.trigger(); // before it even runs
    /// let report = server.serve(|_req| nioserve::Response::new("hi".into()))?;
    /// assert_eq!(report.cut_off(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }
}

/// A running server: its address, its counters, and the way to stop it.
///
/// Dropping the handle shuts the server down as [`shutdown`](ServerHandle::shutdown) does.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Response, Server};
///
/// let handle = Server::builder().bind("127.0.0.1:0")?.spawn(|_req| Response::new("hi".into()))?;
/// assert_eq!(handle.stats().connections_open, 0);
/// handle.shutdown();
/// # Ok(())
/// # }
/// ```
pub struct ServerHandle {
    local_addr: SocketAddr,
    counters: Counters,
    /// Sets the flag every thread looks at, and wakes the NIO model's poller.
    trigger: ShutdownTrigger,
    /// The NIO model's poller reports what it cut off; blocking threads cut off nothing.
    handoff: Option<Arc<Handoff>>,
    /// Every thread of the server; empty once joined.
    threads: Vec<ServerThread>,
    /// The access log's writer thread, if it has one: finished once every other thread
    /// has ended, so that it writes every line they made.
    access_writer: Option<Writer>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// assert!(handle.local_addr().port() > 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's counters now: connections open, idle and busy, busy workers,
    /// requests served, connections accepted, closed and timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().workers(2).bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// assert_eq!(handle.stats().workers_busy, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The live counters, to read from another thread after the handle is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// let counters = handle.counters();
    /// handle.shutdown();
    /// assert_eq!(counters.snapshot().connections_open, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Stops the server gracefully and waits for every thread to finish.
    ///
    /// Accepting stops. Idle connections, and new ones that have not sent a byte, are
    /// closed at once (after a lingering close if responses were sent on them). Requests
    /// in flight finish within the grace period (see [`Builder::shutdown_grace`]); their
    /// responses say `Connection: close`. A connection still open when the grace period
    /// ends is closed, and the returned report says how many were cut off that way, and
    /// in which state. Returns once the poller and every worker have exited, and every
    /// access-log line has been written (see [`Builder::access_log`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// let addr = handle.local_addr();
    /// let report = handle.shutdown();
    /// assert_eq!(report.cut_off(), 0);
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(mut self) -> ShutdownReport {
        self.trigger.trigger();
        if let Err(e) = self.join_threads() {
            error!("the poller had failed before shutdown: {e}");
        }
        self.report()
    }

    /// A trigger that starts this server's graceful shutdown from any thread, without
    /// waiting for it, as [`shutdown`](ServerHandle::shutdown) would start it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// let trigger = handle.trigger();
    /// std::thread::spawn(move || trigger.trigger());
    /// let report = handle.wait()?;
    /// assert_eq!(report.cut_off(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Waits for the server to stop, without asking it to, and returns what its
    /// shutdown cut off.
    ///
    /// The server stops when a [`ShutdownTrigger`] fires (see
    /// [`trigger`](ServerHandle::trigger)), and the graceful shutdown has run; or when
    /// its poller fails.
    ///
    /// # Errors
    ///
    /// Fails with the error that stopped the poller, or if a thread of the server
    /// panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let handle = nioserve::Server::builder().bind("127.0.0.1:0")?
    ///     .spawn(|_req| nioserve::Response::new("hi".into()))?;
    /// handle.trigger().trigger();
    /// let report = handle.wait()?;
    /// assert_eq!(report.cut_off(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(mut self) -> io::Result<ShutdownReport> {
        self.join_threads()?;
        Ok(self.report())
    }

    /// What the poller had to cut off, once it has exited.
    fn report(&self) -> ShutdownReport {
        self.handoff.as_ref().map(|handoff| handoff.left()).unwrap_or_default()
    }

    /// Joins every thread, the access log's writer last; the first error any of them
    /// ended with is returned.
    fn join_threads(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            let ended = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
            if result.is_ok() {
                result = ended;
            }
        }
        // Every connection, and with it every line, is gone with the threads above.
        if let Some(mut writer) = self.access_writer.take() {
            writer.finish();
        }
        result
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.trigger.trigger();
            let _ = self.join_threads();
        }
    }
}
