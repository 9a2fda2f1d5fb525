//! nioserve: an HTTP/1.1 server where a connection is not a thread.
//!
//! HTTP/1.1 keeps connections open between requests. A thread-per-connection
//! server parks a thread in a blocking `read()` for every one of them, idle or not,
//! so a handful of idle keep-alive clients can starve its pool. nioserve works like
//! Tomcat's NIO connector and nginx instead: **one poller thread** holds every idle
//! connection in a slab and watches them all through epoll/kqueue (via `mio`).
//!
//! The poller reads and parses requests itself. Only when a complete request is
//! buffered does it move the connection, by value, to a **small fixed pool of
//! worker threads**, which runs the [`Handler`], writes the response, and hands the
//! connection straight back. An idle connection costs a slab slot and a socket,
//! not a thread: the server has `1 + workers` threads however many clients it holds
//! (`1 + workers + 1` when the [access log](Builder::access_log) goes to a file or a
//! stream: one more thread writes it).
//!
//! Requests and responses are the [`http`](https://docs.rs/http/1) crate's types. Every rule of RFC 9112
//! the server enforces (framing, persistence, limits) is in `src/h1/` and
//! tested on byte slices; the architecture is described in `docs/architecture.md`.
//! `docs/library.md` walks a program through using it (routing, JSON, static files,
//! uploads, server-sent events, tests on port 0, Ctrl-C), in snippets that are doc-tested.
//!
//! # Logging
//!
//! nioserve logs through the [`log`](https://docs.rs/log/0.4) crate; the program picks
//! the logger. The **access log** is one line per response at level `info` on the
//! target `nioserve::access`, written once the response's last byte has gone to the
//! socket (or its connection ended first). Everything else is on targets under
//! `nioserve::` too: `error` for a handler that panicked or a poller that failed,
//! `warn` for accept failures (out of file descriptors), `debug` for each connection's
//! life, `trace` for poll events.
//!
//! A line reads:
//!
//! ```text
//! 127.0.0.1:44004 "GET /css/styles.css HTTP/1.1" 200 8325 0.026ms
//! 127.0.0.1:44010 "-" 431 45 0.011ms
//! ```
//!
//! that is: the client's address, the request line as received (method, target,
//! version), the status sent, the **body bytes** that went out (the head not counted;
//! fewer than the body's length if the connection ended first), and the time from the
//! start of the response (the handler was called, or the server refused the request)
//! to its last byte written, in milliseconds. A request the server refused before it
//! could read it (`400`, `408`, `413`, `414`, `431`, `501`, `505`) has `"-"` for a
//! request line.
//!
//! With [`env_logger`](https://docs.rs/env_logger): `RUST_LOG=nioserve::access=info`
//! turns on the access log alone, `RUST_LOG=info` the access log, warnings and errors,
//! `RUST_LOG=info,nioserve::access=off` the warnings without the access log. With the
//! target off, a response costs one check for it: no allocation, no clock read.
//!
//! That is the default. [`Builder::access_log`] sends the lines elsewhere instead
//! ([`AccessLog::file`], [`AccessLog::stderr`], any writer), without the logger: they
//! are gathered in memory and written in batches by a thread of the server's own, so a
//! busy server's workers make no system call for them; or nowhere ([`AccessLog::off`]).
//!
//! # Examples
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use nioserve::{Request, Response, Server};
//!
//! let server = Server::builder()
//!     .workers(4)
//!     .keep_alive_timeout(Duration::from_secs(5))
//!     .max_keep_alive_requests(100)
//!     .bind("127.0.0.1:0")?;
//! let handle = server.spawn(|req: Request| {
//!     Response::new(format!("hello from {}", req.uri().path()).into())
//! })?;
//! println!("{:?}", handle.stats());
//! handle.shutdown();
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod access;
mod blocking;
mod body;
mod body_policy;
mod config;
mod connection;
mod connection_info;
mod h1;
mod handler;
#[doc(hidden)]
pub mod internals;
mod nio;
mod read_buf;
mod request_body;
mod response_builder;
mod server;
mod service;
mod shutdown;
mod spool;
mod static_files;
mod stats;
mod status;
mod stream;
mod transport;
mod trigger;
mod upgrade;

/// The [`http`](https://docs.rs/http/1) crate, whose types [`Request`] and [`Response`]
/// are: `nioserve::http::StatusCode`, `nioserve::http::header` and the rest, of the
/// very version nioserve uses, so a program need not depend on `http` itself (nor
/// keep its version in step).
pub use http;

/// The [`bytes`](https://docs.rs/bytes/1) crate, whose [`Bytes`](bytes::Bytes) is a
/// request's body and one kind of [`Body`]: of the version nioserve uses, so a
/// program need not depend on `bytes` itself.
pub use bytes;

pub use crate::access::AccessLog;
pub use crate::body::{Body, BodyReader, FileRegion};
pub use crate::body_policy::BodyPolicy;
pub use crate::config::Model;
pub use crate::connection_info::ConnectionInfo;
pub use crate::handler::Handler;
pub use crate::request_body::{BodyRead, RequestBody};
pub use crate::response_builder::{response, ResponseBuilder};
pub use crate::server::{Builder, Server, ServerHandle};
pub use crate::shutdown::ShutdownReport;
pub use crate::static_files::{CachePolicy, StaticFiles};
pub use crate::stats::{Counters, Stats};
pub use crate::status::Status;
pub use crate::stream::{BodySender, BodyStream, SendError};
pub use crate::trigger::ShutdownTrigger;
pub use crate::upgrade::{OnUpgrade, Upgraded};

/// `docs/library.md`, the walk-through for a program that uses nioserve: included here
/// so that `cargo test --doc` compiles and runs every snippet of it.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
struct LibraryWalkThrough;

/// A request as a handler receives it: head and complete body.
///
/// The body is a [`RequestBody`]: bytes in memory, or, for one larger than
/// [`Builder::body_buffer_bytes`], a temporary file the server wrote as it arrived.
///
/// Its extensions hold a [`ConnectionInfo`], put there by the server before the handler
/// runs: the client's address, the server's address on the connection, and the request's
/// number on it. Get it with `req.extensions().get::<ConnectionInfo>()`; a request made
/// by hand (in a test) has none.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// use nioserve::{ConnectionInfo, Request, Response, Server};
///
/// let handle = Server::builder().bind("127.0.0.1:0")?.spawn(|req: Request| {
///     let conn = req.extensions().get::<ConnectionInfo>().expect("the server puts it there");
///     Response::new(format!("{} #{}", conn.peer_addr(), conn.request_number()).into())
/// })?;
/// let mut client = std::net::TcpStream::connect(handle.local_addr())?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.ends_with(&format!("\r\n\r\n{} #1", client.local_addr()?)));
/// handle.shutdown();
/// # Ok(())
/// # }
/// ```
pub type Request = ::http::Request<RequestBody>;

/// A response as a handler returns it.
///
/// The server frames it: see [`Handler`] for what is sent for each status and which
/// responses are refused (a logged `500`) because they cannot be sent honestly.
///
/// It is `http`'s type, so `Response::builder()` is not there (that one is on
/// `http::Response<()>`, and its `body` returns a `Result`). Make one with
/// `Response::new(body.into())`, from anything that becomes a [`Body`], or with
/// [`nioserve::response()`](response), whose [`ResponseBuilder`] takes a status and
/// headers and returns the `Response` from [`body`](ResponseBuilder::body).
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::bytes::Bytes;
/// use nioserve::http::{header, StatusCode};
/// use nioserve::{Body, FileRegion, Response};
///
/// // 200 OK, from each kind of body:
/// let text = Response::new("Hello, World!".into()); // &'static str, not copied
/// let owned = Response::new(format!("{} items", 3).into()); // String
/// let binary = Response::new(vec![0x89, b'P', b'N', b'G'].into()); // Vec<u8>
/// let shared = Response::new(Bytes::from_static(b"cached page").into()); // Bytes
/// let file = Response::new(FileRegion::whole(std::fs::File::open("Cargo.toml")?)?.into()); // sendfile
/// assert_eq!(text.body().len(), Some(13));
///
/// // Status and headers:
/// let missing = nioserve::response()
///     .status(StatusCode::NOT_FOUND)
///     .content_type("text/plain; charset=utf-8")
///     .header(header::CACHE_CONTROL, "no-store")
///     .body("no such page\n");
/// let moved = nioserve::response()
///     .status(301)
///     .header(header::LOCATION, "/new/")
///     .body(Body::Empty);
/// let download = nioserve::response()
///     .content_type("application/octet-stream")
///     .header(header::CONTENT_DISPOSITION, "attachment; filename=\"Cargo.toml\"")
///     .body(FileRegion::whole(std::fs::File::open("Cargo.toml")?)?);
/// assert_eq!(missing.status(), 404);
/// assert_eq!(moved.headers()["location"], "/new/");
///
/// // Or change one after it is made:
/// let mut created = Response::new(String::from("made").into());
/// *created.status_mut() = StatusCode::CREATED;
/// created.headers_mut().insert(header::LOCATION, header::HeaderValue::from_static("/items/7"));
/// # let _ = (owned, binary, shared, file, download);
/// # Ok(())
/// # }
/// ```
pub type Response = ::http::Response<Body>;
