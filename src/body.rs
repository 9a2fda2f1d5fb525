//! The response body: nothing, bytes in memory, a region of a file to stream, or a
//! stream fed from another thread.
//!
//! A body whose length is known before the first byte is written (every kind but a
//! chunked stream) is framed by `Content-Length` (RFC 9112 §6.2); a stream of unknown
//! length goes out with the chunked transfer coding (§7.1). Either way the client can
//! tell where the body ends without the connection being closed, and one that ends
//! early (its producer gave up) is never mistaken for a whole one.

use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

pub use crate::stream::BodyStream;
use crate::stream::{self, BodySender};

/// The body of a [`Response`](crate::Response).
///
/// A handler builds one from anything that turns into bytes (`&'static str`,
/// `String`, `Vec<u8>`, [`Bytes`]), from a file region, which the server
/// streams from disk (with `sendfile` on Linux) instead of reading it into memory, or
/// as a [channel](Body::channel) whose bytes another thread sends while the response
/// is open (server-sent events, long-poll, a generated download). No thread waits for
/// such a body: the poller writes what is sent when the socket takes it.
///
/// # Examples
///
/// ```
/// use nioserve::{Body, Response};
///
/// let hello: Response = Response::new("Hello, World!".into());
/// assert_eq!(hello.body().len(), Some(13));
///
/// let empty = Response::new(Body::empty());
/// assert!(empty.body().is_empty());
/// ```
#[derive(Default)]
pub enum Body {
    /// No body: `Content-Length: 0`.
    #[default]
    Empty,
    /// Bytes held in memory, written as they are.
    Bytes(Bytes),
    /// A region of an open file, streamed from disk when the response is written.
    File(FileRegion),
    /// Bytes sent from any thread through a [`BodySender`]: see [`Body::channel`].
    Stream(BodyStream),
}

impl Body {
    /// An empty body.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nioserve::Body::empty().len(), Some(0));
    /// ```
    pub const fn empty() -> Body {
        Body::Empty
    }

    /// The number of bytes the body will write, if it is known before the first one is
    /// written: the value of `Content-Length`. `None` only for a stream from
    /// [`Body::channel`], which goes out chunked.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::Body;
    ///
    /// assert_eq!(Body::from("four").len(), Some(4));
    /// assert_eq!(Body::channel_sized(10, 1024).1.len(), Some(10));
    /// assert_eq!(Body::channel(1024).1.len(), None);
    /// ```
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::File(region) => Some(region.len()),
            Body::Stream(stream) => stream.len(),
        }
    }

    /// Whether the body is known to write no bytes at all.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nioserve::Body::from("").is_empty());
    /// assert!(!nioserve::Body::channel(1024).1.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// A body fed from any thread: returns the [`BodySender`] that sends its bytes and
    /// the body to put in the response. The length is not known in advance, so it goes
    /// out with the chunked transfer coding (to an HTTP/1.0 client, which has no chunked
    /// coding, it goes out as it is and the connection closes after it).
    ///
    /// The sender's queue holds at most `capacity` bytes (a single larger chunk is let
    /// into an empty queue): a producer faster than its client waits in
    /// [`send`](BodySender::send), and memory per open stream is that plus a few hundred
    /// bytes. The handler returns at once; its worker writes the head and goes on to other
    /// requests, and the poller writes what is sent as the socket takes it. The body ends
    /// with [`BodySender::finish`]; a sender dropped before that aborts the response.
    ///
    /// # Examples
    ///
    /// Server-sent events, one a second from a thread of their own:
    ///
    /// ```
    /// use std::time::Duration;
    /// use nioserve::{Body, Request, Response};
    ///
    /// fn events(_req: Request) -> Response {
    ///     let (sender, body) = Body::channel(16 * 1024);
    ///     std::thread::spawn(move || {
    ///         let mut n = 0;
    ///         while sender.send(format!("data: {n}\n\n")).is_ok() {
    ///             n += 1;
    ///             std::thread::sleep(Duration::from_secs(1));
    ///         }
    ///     });
    ///     http::Response::builder()
    ///         .header("content-type", "text/event-stream")
    ///         .header("cache-control", "no-cache")
    ///         .body(body)
    ///         .unwrap()
    /// }
    /// # let _ = events;
    /// ```
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let (sender, stream) = stream::channel(capacity, None);
        (sender, Body::Stream(stream))
    }

    /// A body fed from any thread, as [`Body::channel`], whose length is declared in
    /// advance: it goes out with `Content-Length: len`. Sending more than `len` bytes is
    /// refused ([`SendError::Overflow`](crate::SendError::Overflow)); finishing with fewer
    /// aborts the response.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, body) = nioserve::Body::channel_sized(11, 64 * 1024);
    /// std::thread::spawn(move || {
    ///     sender.send("hello ")?;
    ///     sender.send("world")?;
    ///     sender.finish()
    /// });
    /// let response = nioserve::Response::new(body);
    /// ```
    pub fn channel_sized(len: u64, capacity: usize) -> (BodySender, Body) {
        let (sender, stream) = stream::channel(capacity, Some(len));
        (sender, Body::Stream(stream))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(bytes) => f.debug_tuple("Body::Bytes").field(&bytes.len()).finish(),
            Body::File(region) => f.debug_tuple("Body::File").field(region).finish(),
            Body::Stream(stream) => f.debug_tuple("Body::Stream").field(stream).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::Bytes(Bytes::from_static(s))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(Bytes::from(s))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Bytes(Bytes::from(v))
    }
}

impl From<FileRegion> for Body {
    fn from(region: FileRegion) -> Body {
        Body::File(region)
    }
}

/// A byte range of an open file, sent as a response body without being read
/// into memory.
///
/// The file is shared (`Arc`), so one open file can back many responses at once,
/// and a clone is cheap. The server writes `len` bytes starting at `offset`; the
/// file's own cursor is never used, so concurrent responses do not disturb each other.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Body, FileRegion, Response};
///
/// let region = FileRegion::whole(std::fs::File::open("Cargo.toml")?)?;
/// let response = Response::new(Body::File(region));
/// assert!(response.body().len() > Some(0));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct FileRegion {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

impl FileRegion {
    /// The bytes `offset .. offset + len` of `file`.
    ///
    /// The caller makes sure the region lies inside the file; if the file shrinks
    /// before it is sent, the server closes the connection rather than send a short body.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::sync::Arc;
    /// let file = Arc::new(std::fs::File::open("Cargo.toml")?);
    /// let first_ten = nioserve::FileRegion::new(file, 0, 10);
    /// assert_eq!(first_ten.len(), 10);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(file: Arc<File>, offset: u64, len: u64) -> FileRegion {
        FileRegion { file, offset, len }
    }

    /// The whole of `file`, as long as it is now.
    ///
    /// # Errors
    ///
    /// Fails if the file's metadata cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let region = nioserve::FileRegion::whole(std::fs::File::open("Cargo.toml")?)?;
    /// assert_eq!(region.offset(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn whole(file: File) -> io::Result<FileRegion> {
        let len = file.metadata()?.len();
        Ok(FileRegion::new(Arc::new(file), 0, len))
    }

    /// The file the bytes come from.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let region = nioserve::FileRegion::whole(std::fs::File::open("Cargo.toml")?)?;
    /// assert!(region.file().metadata()?.is_file());
    /// # Ok(())
    /// # }
    /// ```
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where in the file the region starts.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let file = std::sync::Arc::new(std::fs::File::open("Cargo.toml")?);
    /// assert_eq!(nioserve::FileRegion::new(file, 5, 1).offset(), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes the region holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let file = std::sync::Arc::new(std::fs::File::open("Cargo.toml")?);
    /// assert_eq!(nioserve::FileRegion::new(file, 5, 1).len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the region holds no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let file = std::sync::Arc::new(std::fs::File::open("Cargo.toml")?);
    /// assert!(nioserve::FileRegion::new(file, 0, 0).is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops the first `n` bytes, after they have been sent.
    pub(crate) fn advance(&mut self, n: u64) {
        debug_assert!(n <= self.len, "advanced past the end of a file region");
        self.offset += n;
        self.len -= n;
    }
}
