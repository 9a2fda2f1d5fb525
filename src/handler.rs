//! What the server calls for each request.
//!
//! A handler is plain synchronous code that runs on a worker thread. It is given
//! one complete request (head and body already read by the poller) and returns one
//! response; it never touches the socket, so it can never wait for a client.

use crate::{Request, Response};

/// Turns one request into one response.
///
/// Implemented for every `Fn(Request) -> Response + Send + Sync + 'static`, so a
/// closure is a handler. Implement it on a type for a handler with state, such as
/// [`StaticFiles`](crate::StaticFiles).
///
/// A handler that panics does not take the server down: the client gets a
/// `500 Internal Server Error`, its connection is closed, and the worker thread
/// goes on serving others.
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
/// assert_eq!(response.body().len(), "hello, /".len() as u64);
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
