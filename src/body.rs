//! The response body: nothing, bytes in memory, or a region of a file to stream.
//!
//! Every variant has a length known before the first byte is written, so every
//! response nioserve sends is framed by `Content-Length` (RFC 9112 §6.2) and a
//! client can tell where it ends without the connection being closed.

use std::fmt;
use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

/// The body of a [`Response`](crate::Response).
///
/// A handler builds one from anything that turns into bytes (`&'static str`,
/// `String`, `Vec<u8>`, [`Bytes`]) or from a file region, which the server
/// streams from disk (with `sendfile` on Linux) instead of reading it into memory.
///
/// # Examples
///
/// ```
/// use nioserve::{Body, Response};
///
/// let hello: Response = Response::new("Hello, World!".into());
/// assert_eq!(hello.body().len(), 13);
///
/// let empty = Response::new(Body::empty());
/// assert!(empty.body().is_empty());
/// ```
#[derive(Clone, Default)]
pub enum Body {
    /// No body: `Content-Length: 0`.
    #[default]
    Empty,
    /// Bytes held in memory, written as they are.
    Bytes(Bytes),
    /// A region of an open file, streamed from disk when the response is written.
    File(FileRegion),
}

impl Body {
    /// An empty body.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nioserve::Body::empty().len(), 0);
    /// ```
    pub const fn empty() -> Body {
        Body::Empty
    }

    /// The number of bytes the body will write: the value of `Content-Length`.
    ///
    /// # Examples
    ///
    /// ```
    /// let body = nioserve::Body::from("four");
    /// assert_eq!(body.len(), 4);
    /// ```
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(region) => region.len(),
        }
    }

    /// Whether the body writes no bytes at all.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nioserve::Body::from("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Bytes(bytes) => f.debug_tuple("Body::Bytes").field(&bytes.len()).finish(),
            Body::File(region) => f.debug_tuple("Body::File").field(region).finish(),
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
/// assert!(response.body().len() > 0);
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
