//! What the server calls for each request.
//!
//! A handler is plain synchronous code that runs on a worker thread. It is given
//! one complete request (head and body already read by the poller) and returns one
//! response; it never touches the socket, so it can never wait for a client.

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

use crate::{Request, Response};

/// Turns one request into one response.
///
/// Implemented for every `Fn(Request) -> Response + Send + Sync + 'static`, so a
/// closure is a handler. Implement it on a type for a handler with state, such as
/// [`StaticFiles`](crate::StaticFiles).
///
/// A handler that panics does not take the server down: the client gets a
/// `500 Internal Server Error`, its connection is closed, and the worker thread
/// goes on serving others. That holds for any panic: one whose payload panics again
/// when dropped, or one that escapes after the handler returned (a response whose
/// `Drop` panics); then the connection is closed without a response, and the
/// worker goes on all the same.
///
/// # What the server sends
///
/// The server owns the framing of every response; a handler's response is checked
/// before any of it is written:
///
/// | the handler returns | the client gets |
/// | --- | --- |
/// | a status 200–599 with any body | that status; `Content-Length` is the body's length, whatever the handler set |
/// | `Transfer-Encoding`, `Connection` or `Keep-Alive` headers | the server's own instead: the body's length frames it, and persistence is the server's decision (a handler's `Connection: close` is honoured) |
/// | `204 No Content` with an empty body | no `Content-Length` at all (RFC 9110 §8.6), whatever the handler set |
/// | `304 Not Modified` | no body; the handler's `Content-Length` (the length a `GET` would get) if it set one |
/// | a `HEAD` response with an empty body and a `Content-Length` | that `Content-Length`, so it can announce the `GET`'s length |
/// | a `1xx` status (interim responses are the server's), and a `101 Switching Protocols` without an [`OnUpgrade`](crate::OnUpgrade) and an `Upgrade` header, or to a request that did not ask to upgrade (see [`OnUpgrade`](crate::OnUpgrade)) | `500`, logged at `error` with the route, and the connection closes |
/// | a status 600–999 (`http::StatusCode` accepts them; RFC 9110 §15 gives them no class) | `500`, logged, closed |
/// | a `Content-Length` that is not a decimal number, or several that differ | `500`, logged, closed |
/// | `204 No Content` with a body | `500`, logged, closed |
/// | `304 Not Modified` whose `Content-Length` differs from the body it carries | `500`, logged, closed |
///
/// A `CONNECT` request never reaches a handler: with no tunnels to offer, the server
/// answers it `501 Not Implemented` and closes (RFC 9110 §9.3.6).
///
/// # Examples
///
/// ```
/// use nioserve::{Handler, Request, Response};
///
/// struct Greeter(&'static str);
///
/// impl Handler for Greeter {
///     fn call(&self, req: Request) -> Response {
///         Response::new(format!("{}, {}", self.0, req.uri().path()).into())
///     }
/// }
///
/// let closure = |_req: Request| Response::new("hi".into());
/// let _ = closure.call(Request::new(Default::default()));
/// let response = Greeter("hello").call(Request::new(Default::default()));
/// assert_eq!(response.body().len(), Some("hello, /".len() as u64));
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers `request`.
    fn call(&self, request: Request) -> Response;
}

impl<F> Handler for F
where
    F: Fn(Request) -> Response + Send + Sync + 'static,
{
    fn call(&self, request: Request) -> Response {
        self(request)
    }
}

/// Drops what a panic in user code (a handler, an upgrade callback) carried without
/// letting a second panic out of it: a payload whose own `Drop` panics would otherwise
/// unwind through the worker and end it.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // This payload may be just as hostile: leak it rather than drop it.
        mem::forget(again);
    }
}
