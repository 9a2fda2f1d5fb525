//! [`ConnectionInfo`]: what a handler may know about the connection a request came on.
//!
//! Both connection models put one in every request's extensions before the handler
//! runs (`Responder::answer` in `service.rs`); the addresses are learned once per
//! connection, at accept.

use std::net::SocketAddr;

/// The connection a request arrived on: the client's address, the server's own address
/// on that connection, and which request of the connection this is.
///
/// The server puts one in the extensions of every request before the handler runs:
/// get it with `req.extensions().get::<ConnectionInfo>()`.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{ConnectionInfo, Request, Response, Server};
///
/// let handle = Server::builder().bind("127.0.0.1:0")?.spawn(|req: Request| {
///     let body = match req.extensions().get::<ConnectionInfo>() {
///         Some(conn) => format!(
///             "request {} from {} to {}\n",
///             conn.request_number(),
///             conn.peer_addr(),
///             conn.local_addr()
///         ),
///         None => String::from("not from a connection\n"),
///     };
///     Response::new(body.into())
/// })?;
/// # handle.shutdown();
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    peer: SocketAddr,
    local: SocketAddr,
    request_number: u32,
}

impl ConnectionInfo {
    pub(crate) fn new(peer: SocketAddr, local: SocketAddr, request_number: u32) -> ConnectionInfo {
        ConnectionInfo {
            peer,
            local,
            request_number,
        }
    }

    /// The client's address: the remote end of the connection.
    ///
    /// Behind a reverse proxy this is the proxy; the client's own address is then in a
    /// header the proxy sets (`Forwarded`, `X-Forwarded-For`), which only the proxy can
    /// vouch for.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::{ConnectionInfo, Request};
    ///
    /// fn client(req: &Request) -> String {
    ///     req.extensions()
    ///         .get::<ConnectionInfo>()
    ///         .map_or_else(|| "-".into(), |conn| conn.peer_addr().ip().to_string())
    /// }
    /// assert_eq!(client(&Request::new(Default::default())), "-");
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The server's address on this connection: the local end, the address the client
    /// connected to. On a server bound to `0.0.0.0` it says which of the host's
    /// addresses (which interface) the client reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::{ConnectionInfo, Request};
    ///
    /// fn port(req: &Request) -> Option<u16> {
    ///     req.extensions().get::<ConnectionInfo>().map(|conn| conn.local_addr().port())
    /// }
    /// assert_eq!(port(&Request::new(Default::default())), None);
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Which request of its connection this is: 1 for the first, 2 for the second
    /// request on a keep-alive connection, and so on.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::{ConnectionInfo, Request};
    ///
    /// fn is_first(req: &Request) -> bool {
    ///     req.extensions().get::<ConnectionInfo>().is_some_and(|conn| conn.request_number() == 1)
    /// }
    /// assert!(!is_first(&Request::new(Default::default())));
    /// ```
    pub fn request_number(&self) -> u32 {
        self.request_number
    }
}
