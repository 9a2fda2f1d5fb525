//! A handler that reports a server's live counters as JSON.

use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, StatusCode};

use crate::{Counters, Handler, Request, Response};

/// Answers `GET` and `HEAD` with the server's counters as JSON — the demo's `/_status`.
///
/// The body is [`Stats::to_json`](crate::Stats::to_json): open, idle and busy
/// connections, busy and total workers, requests served, connections accepted,
/// closed and timed out, and uptime in seconds. Responses are marked
/// `Cache-Control: no-store` so a page polling it always sees fresh numbers.
///
/// The counters are read-only: any other method gets `405 Method Not Allowed` with
/// `Allow: GET, HEAD` (RFC 9110 §15.5.6). A request is counted before its response is
/// written, so a client that has its answer to one request and then asks here always
/// finds that request among `requests`.
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
    /// let status = Status::new(server.counters());
    /// let response = status.call(Request::new(Default::default()));
    /// assert_eq!(response.headers()["content-type"], "application/json");
    ///
    /// let mut post = Request::new(Default::default());
    /// *post.method_mut() = http::Method::POST;
    /// let refused = status.call(post);
    /// assert_eq!(refused.status(), 405);
    /// assert_eq!(refused.headers()["allow"], "GET, HEAD");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(counters: Counters) -> Status {
        Status { counters }
    }
}

impl Handler for Status {
    fn call(&self, request: Request) -> Response {
        let method = request.method();
        let mut response = if method == Method::GET || method == Method::HEAD {
            let mut response = Response::new(self.counters.snapshot().to_json().into());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        } else {
            let mut response = Response::new("405 Method Not Allowed: the counters are read-only\n".into());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let headers = response.headers_mut();
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            response
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
