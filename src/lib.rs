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
//! not a thread: the server has `1 + workers` threads however many clients it holds.
//!
//! Requests and responses are the [`http`](https://docs.rs/http/1) crate's types. Every rule of RFC 9112
//! the server enforces (framing, persistence, limits) is in `src/h1/` and
//! tested on byte slices; the architecture is described in `docs/architecture.md`.
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
mod h1;
mod handler;
#[doc(hidden)]
pub mod internals;
mod nio;
mod read_buf;
mod request_body;
mod server;
mod service;
mod shutdown;
mod spool;
mod static_files;
mod stats;
mod status;
mod stream;
mod transport;
mod upgrade;

pub use crate::body::{Body, BodyReader, FileRegion};
pub use crate::body_policy::BodyPolicy;
pub use crate::config::Model;
pub use crate::handler::Handler;
pub use crate::request_body::{BodyRead, RequestBody};
pub use crate::server::{Builder, Server, ServerHandle};
pub use crate::shutdown::ShutdownReport;
pub use crate::static_files::StaticFiles;
pub use crate::stats::{Counters, Stats};
pub use crate::status::Status;
pub use crate::stream::{BodySender, BodyStream, SendError};
pub use crate::upgrade::{OnUpgrade, Upgraded};

/// A request as a handler receives it: head and complete body.
///
/// The body is a [`RequestBody`]: bytes in memory, or, for one larger than
/// [`Builder::body_buffer_bytes`], a temporary file the server wrote as it arrived.
pub type Request = ::http::Request<RequestBody>;

/// A response as a handler returns it.
///
/// The server frames it: see [`Handler`] for what is sent for each status and which
/// responses are refused (a logged `500`) because they cannot be sent honestly.
pub type Response = ::http::Response<Body>;
