//! A handler that reports a server's live counters as JSON.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use crate::{Counters, Handler, Request, Response};

/// Answers every request with the server's counters as JSON — the demo's `/_status`.
///
/// The body is [`Stats::to_json`](crate::Stats::to_json): open, idle and busy
/// connections, busy and total workers, requests served, connections accepted,
/// closed and timed out, and uptime in seconds. Responses are marked
/// `Cache-Control: no-store` so a page polling it always sees fresh numbers.
///
/// # Examples
///
/// Mount it next to other handlers:
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Handler, Request, Response, Server, Status};
///
/// let server = Server::builder().bind("127.0.0.1:0")?;
/// let status = Status::new(server.counters());
/// let handle = server.spawn(move |req: Request| match req.uri().path() {
///     "/_status" => status.call(req),
///     _ => Response::new("hello".into()),
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Status {
    counters: Counters,
}

impl Status {
    /// A handler reporting `counters` (from [`Server::counters`](crate::Server::counters)).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, Server, Status};
    ///
    /// let server = Server::builder().workers(2).bind("127.0.0.1:0")?;
    /// let response = Status::new(server.counters()).call(Request::new(Default::default()));
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(counters: Counters) -> Status {
        Status { counters }
    }
}

impl Handler for Status {
    fn call(&self, _request: Request) -> Response {
        let mut response = Response::new(self.counters.snapshot().to_json().into());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
