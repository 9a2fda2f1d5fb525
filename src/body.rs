//! The response body: nothing, bytes in memory, a region of a file to stream, or a
//! stream fed from another thread.
//!
//! A body whose length is known before the first byte is written (every kind but a
//! chunked stream) is framed by `Content-Length` (RFC 9112 §6.2); a stream of unknown
//! length goes out with the chunked transfer coding (§7.1). Either way the client can
//! tell where the body ends without the connection being closed (but for an HTTP/1.0
//! client, which has no chunked coding: it gets a body of unknown length unframed, and
//! the close ends it), and one that ends early (its producer gave up) is never mistaken
//! for a whole one.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;

use crate::stream::{self, BodySender, BodyStream};

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
    /// Bytes read from a [`Read`] as the client takes them: see [`Body::reader`].
    Reader(BodyReader),
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
            Body::Reader(reader) => reader.len,
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

    /// A body read from `reader` as the client takes it: a generated report, a
    /// decompressed file, anything that is a [`Read`]. With `len`, it goes out with
    /// `Content-Length` (a reader that ends sooner aborts the response; bytes past `len`
    /// are not read); without, chunked (to an HTTP/1.0 client: unframed, and the
    /// connection closes after it).
    ///
    /// A worker reads it in bursts while the client's socket takes them and hands the
    /// connection back to the poller as soon as the socket is full, so a slow client
    /// holds no worker and the server holds about one burst (64 KiB) of the body at a
    /// time, however large it is. `reader` may block (a file, a pipe): it is only read on
    /// a worker. An error from it aborts the response: the connection closes without
    /// the body's end.
    ///
    /// # Examples
    ///
    /// A CSV of a million rows, never whole in memory:
    ///
    /// ```
    /// use std::io::Read;
    /// use nioserve::{Body, Response};
    ///
    /// let rows = (0..1_000_000).map(|n| format!("{n},{}\n", n * n));
    /// let csv = std::io::Cursor::new(String::from("n,square\n"))
    ///     .chain(RowReader { rows: Box::new(rows), pending: Vec::new() });
    /// let response = Response::new(Body::reader(csv, None));
    /// assert_eq!(response.body().len(), None);
    ///
    /// /// Turns an iterator of lines into a `Read`.
    /// struct RowReader {
    ///     rows: Box<dyn Iterator<Item = String> + Send>,
    ///     pending: Vec<u8>,
    /// }
    ///
    /// impl Read for RowReader {
    ///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
    ///         while self.pending.is_empty() {
    ///             match self.rows.next() {
    ///                 Some(row) => self.pending = row.into_bytes(),
    ///                 None => return Ok(0),
    ///             }
    ///         }
    ///         let n = buf.len().min(self.pending.len());
    ///         buf[..n].copy_from_slice(&self.pending[..n]);
    ///         self.pending.drain(..n);
    ///         Ok(n)
    ///     }
    /// }
    /// ```
    pub fn reader(reader: impl Read + Send + 'static, len: Option<u64>) -> Body {
        Body::Reader(BodyReader {
            reader: Box::new(reader),
            len,
            left: len,
        })
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(bytes) => f.debug_tuple("Body::Bytes").field(&bytes.len()).finish(),
            Body::File(region) => f.debug_tuple("Body::File").field(region).finish(),
            Body::Stream(stream) => f.debug_tuple("Body::Stream").field(stream).finish(),
            Body::Reader(reader) => f.debug_tuple("Body::Reader").field(reader).finish(),
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

/// A body read from a [`Read`], from [`Body::reader`]. It is inside the [`Body`] a handler
/// returns, and has nothing to call.
pub struct BodyReader {
    reader: Box<dyn Read + Send>,
    /// The declared length, if any.
    len: Option<u64>,
    /// What is left of the declared length.
    left: Option<u64>,
}

/// What [`BodyReader::read_piece`] found.
#[derive(Debug)]
pub(crate) enum Piece {
    /// The next bytes of the body.
    Bytes(Bytes),
    /// The body has ended.
    End,
}

impl BodyReader {
    /// Reads the next piece of the body, at most `max` bytes, retrying an interrupted
    /// read. A sized body ends at its length (the reader is not read past it) and fails
    /// if the reader ends before it.
    pub(crate) fn read_piece(&mut self, max: usize) -> io::Result<Piece> {
        let want = match self.left {
            Some(0) => return Ok(Piece::End),
            Some(left) => max.min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => max,
        };
        let mut buf = vec![0; want];
        let n = loop {
            match self.reader.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return match self.left {
                None => Ok(Piece::End),
                Some(left) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the body's reader ended {left} bytes short of its declared length"),
                )),
            };
        }
        if let Some(left) = &mut self.left {
            *left -= n as u64;
        }
        buf.truncate(n);
        Ok(Piece::Bytes(Bytes::from(buf)))
    }
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader")
            .field("len", &self.len)
            .field("left", &self.left)
            .finish_non_exhaustive()
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
