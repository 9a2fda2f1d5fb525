//! Protocol upgrades (`101 Switching Protocols`, RFC 9110 §7.8, §15.2.2): a handler
//! that switches protocols takes the connection; it leaves the server.
//!
//! The handler answers `101` with an [`Upgrade`] header and an [`OnUpgrade`] in the
//! response's extensions. The server sends the head (keeping `Upgrade` and saying
//! `Connection: upgrade`), stops watching the socket, frees its slot, and calls the
//! callback with the socket ([`Upgraded`]), blocking, and the bytes the client sent after
//! its request, already read. From then on the connection is the callback's: nioserve no
//! longer reads, writes, times out or closes it, and shutdown does not wait for it.
//!
//! [`Upgrade`]: http::header::UPGRADE

use std::fmt;
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use log::error;

/// The callback that takes a connection switched to another protocol, put in the
/// extensions of a `101 Switching Protocols` response.
///
/// It runs on the thread that wrote the `101` (a worker), once the head is sent: it
/// should hand the connection to a thread of its own (or a pool, or an event loop) and
/// return, as a handler should. A `101` without it, or to a request that did not ask to
/// upgrade (`Connection: upgrade` and an `Upgrade` field, RFC 9110 §7.8), cannot be sent
/// honestly: the server answers `500` instead and logs why.
///
/// # Examples
///
/// A toy protocol that echoes every byte, upper-cased:
///
/// ```
/// use std::io::{Read, Write};
/// use nioserve::{OnUpgrade, Request, Response};
///
/// fn shout(_req: Request) -> Response {
///     http::Response::builder()
///         .status(101)
///         .header("upgrade", "shout")
///         .extension(OnUpgrade::new(|upgraded| {
///             std::thread::spawn(move || {
///                 let (mut stream, read_ahead) = upgraded.into_parts();
///                 let _ = stream.write_all(&read_ahead.to_ascii_uppercase());
///                 let mut buf = [0; 1024];
///                 while let Ok(n @ 1..) = stream.read(&mut buf) {
///                     if stream.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
///                         break;
///                     }
///                 }
///             });
///         }))
///         .body(nioserve::Body::empty())
///         .unwrap()
/// }
/// # let _ = shout;
/// ```
#[derive(Clone)]
pub struct OnUpgrade(Arc<Mutex<Option<Callback>>>);

type Callback = Box<dyn FnOnce(Upgraded) + Send>;

impl OnUpgrade {
    /// The callback `f` takes the upgraded connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let on_upgrade = nioserve::OnUpgrade::new(|upgraded| drop(upgraded));
    /// ```
    pub fn new(f: impl FnOnce(Upgraded) + Send + 'static) -> OnUpgrade {
        OnUpgrade(Arc::new(Mutex::new(Some(Box::new(f)))))
    }

    /// Takes the callback out; `None` if a clone took it already.
    pub(crate) fn take(&self) -> Option<Callback> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

/// A connection switched to another protocol: the socket, in blocking mode with no
/// timeouts, and the bytes the client sent after its request that the server had
/// already read (they come first in the new protocol).
///
/// # Examples
///
/// ```no_run
/// # fn take(upgraded: nioserve::Upgraded) {
/// let (stream, read_ahead) = upgraded.into_parts();
/// println!("{} sent {} bytes ahead", stream.peer_addr().unwrap(), read_ahead.len());
/// # }
/// ```
#[derive(Debug)]
pub struct Upgraded {
    stream: TcpStream,
    read_ahead: Bytes,
}

impl Upgraded {
    pub(crate) fn new(stream: TcpStream, read_ahead: Bytes) -> Upgraded {
        Upgraded { stream, read_ahead }
    }

    /// The socket and the bytes read ahead of it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn take(upgraded: nioserve::Upgraded) {
    /// let (stream, read_ahead) = upgraded.into_parts();
    /// # }
    /// ```
    pub fn into_parts(self) -> (TcpStream, Bytes) {
        (self.stream, self.read_ahead)
    }
}

/// Hands `upgraded` to `callback`, the last thing the server does with a connection. A
/// callback that panics is logged; the thread it ran on (a worker) goes on.
pub(crate) fn hand_over(callback: Callback, upgraded: Upgraded) {
    let peer = upgraded.stream.peer_addr().ok();
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || callback(upgraded))) {
        crate::handler::drop_payload(payload);
        error!("{peer:?}: the upgrade callback panicked; the connection is dropped");
    }
}
