//! The body of a request as a handler receives it: bytes in memory, or, past the
//! in-memory limit, an unlinked temporary file the poller wrote as the body arrived.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use crate::body::{Body, FileRegion};

/// The body of a [`Request`](crate::Request), whole.
///
/// Most bodies are small and arrive as [`Bytes`] ([`as_bytes`](RequestBody::as_bytes)).
/// One larger than [`Builder::body_buffer_bytes`](crate::Builder::body_buffer_bytes)
/// (64 KiB by default) was written to an unlinked temporary file as it arrived, so the
/// server never held it in memory; read it with [`reader`](RequestBody::reader) or
/// [`file`](RequestBody::file). [`reader`](RequestBody::reader) and
/// [`len`](RequestBody::len) work for both.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use nioserve::{Request, Response};
///
/// fn count_lines(req: Request) -> Response {
///     let mut text = String::new();
///     if req.body().len() > 10 * 1024 * 1024 {
///         return Response::new("too long to count here".into());
///     }
///     match req.body().reader().read_to_string(&mut text) {
///         Ok(_) => Response::new(format!("{} lines\n", text.lines().count()).into()),
///         Err(e) => Response::new(format!("unreadable: {e}\n").into()),
///     }
/// }
///
/// let request = Request::new("one\ntwo\n".into());
/// assert_eq!(request.body().as_bytes().map(|b| &b[..]), Some(&b"one\ntwo\n"[..]));
/// # let _ = count_lines(request);
/// ```
#[derive(Clone, Default)]
pub struct RequestBody(Inner);

#[derive(Clone, Default)]
enum Inner {
    #[default]
    Empty,
    Bytes(Bytes),
    /// An unlinked temporary file holding `len` bytes.
    Spooled {
        file: Arc<File>,
        len: u64,
    },
}

impl RequestBody {
    /// A body of `len` bytes written to `file`, an unlinked temporary file.
    pub(crate) fn spooled(file: File, len: u64) -> RequestBody {
        RequestBody(Inner::Spooled {
            file: Arc::new(file),
            len,
        })
    }

    /// The number of bytes in the body.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nioserve::RequestBody::from("four").len(), 4);
    /// ```
    pub fn len(&self) -> u64 {
        match &self.0 {
            Inner::Empty => 0,
            Inner::Bytes(bytes) => bytes.len() as u64,
            Inner::Spooled { len, .. } => *len,
        }
    }

    /// Whether the body has no bytes (most `GET` requests).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nioserve::RequestBody::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body's bytes, when it is held in memory: always but for a body larger than
    /// the in-memory limit, which is in a [file](RequestBody::file) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let body = nioserve::RequestBody::from("hello");
    /// assert_eq!(body.as_bytes().unwrap(), "hello");
    /// ```
    pub fn as_bytes(&self) -> Option<&Bytes> {
        static EMPTY: Bytes = Bytes::new();
        match &self.0 {
            Inner::Empty => Some(&EMPTY),
            Inner::Bytes(bytes) => Some(bytes),
            Inner::Spooled { .. } => None,
        }
    }

    /// The temporary file holding the body, when it was too large to keep in memory. It
    /// is unlinked: it disappears with the last handle to it. Read it at an offset
    /// (`FileExt::read_at`), or through [`reader`](RequestBody::reader).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nioserve::RequestBody::from("small").file().is_none());
    /// ```
    pub fn file(&self) -> Option<&File> {
        match &self.0 {
            Inner::Spooled { file, .. } => Some(file),
            _ => None,
        }
    }

    /// A reader of the whole body from its first byte, wherever it is kept. Each call
    /// starts again at the beginning.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let body = nioserve::RequestBody::from("hello");
    /// let mut text = String::new();
    /// body.reader().read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "hello");
    /// ```
    pub fn reader(&self) -> BodyRead<'_> {
        BodyRead { body: self, at: 0 }
    }

    /// The body as bytes in memory, reading a spooled body whole into memory.
    ///
    /// # Errors
    ///
    /// Reading the temporary file failed.
    ///
    /// # Examples
    ///
    /// ```
    /// let body = nioserve::RequestBody::from("hello");
    /// assert_eq!(body.into_bytes().unwrap(), "hello");
    /// ```
    pub fn into_bytes(self) -> io::Result<Bytes> {
        match self.0 {
            Inner::Empty => Ok(Bytes::new()),
            Inner::Bytes(bytes) => Ok(bytes),
            Inner::Spooled { .. } => {
                let mut bytes = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
                self.reader().read_to_end(&mut bytes)?;
                Ok(Bytes::from(bytes))
            }
        }
    }
}

/// Reads a [`RequestBody`] from its first byte: see [`RequestBody::reader`].
#[derive(Debug)]
pub struct BodyRead<'a> {
    body: &'a RequestBody,
    at: u64,
}

impl Read for BodyRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &self.body.0 {
            Inner::Empty => 0,
            Inner::Bytes(bytes) => {
                let rest = bytes.get(self.at as usize..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            }
            Inner::Spooled { file, len } => {
                let want = buf.len().min(usize::try_from(len - self.at).unwrap_or(usize::MAX));
                file.read_at(&mut buf[..want], self.at)?
            }
        };
        self.at += n as u64;
        Ok(n)
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Empty => f.write_str("RequestBody::Empty"),
            Inner::Bytes(bytes) => f.debug_tuple("RequestBody::Bytes").field(&bytes.len()).finish(),
            Inner::Spooled { len, .. } => f.debug_tuple("RequestBody::Spooled").field(len).finish(),
        }
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> RequestBody {
        if bytes.is_empty() {
            RequestBody(Inner::Empty)
        } else {
            RequestBody(Inner::Bytes(bytes))
        }
    }
}

impl From<&'static str> for RequestBody {
    fn from(s: &'static str) -> RequestBody {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for RequestBody {
    fn from(s: &'static [u8]) -> RequestBody {
        Bytes::from_static(s).into()
    }
}

impl From<String> for RequestBody {
    fn from(s: String) -> RequestBody {
        Bytes::from(s).into()
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(v: Vec<u8>) -> RequestBody {
        Bytes::from(v).into()
    }
}

/// A request body sent back as a response body (an echo): bytes stay bytes, and a spooled
/// body is sent from its file (with `sendfile`, on Linux), never read into memory.
impl From<RequestBody> for Body {
    fn from(body: RequestBody) -> Body {
        match body.0 {
            Inner::Empty => Body::Empty,
            Inner::Bytes(bytes) => Body::Bytes(bytes),
            Inner::Spooled { file, len } => Body::File(FileRegion::new(file, 0, len)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};

    use super::*;

    #[test]
    fn a_spooled_body_reads_like_one_in_memory() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"spooled body").unwrap();
        // The file's cursor is at its end: readers do not use it.
        let body = RequestBody::spooled(file, 12);
        assert_eq!(body.len(), 12);
        assert!(body.as_bytes().is_none());
        let mut text = String::new();
        body.reader().read_to_string(&mut text).unwrap();
        assert_eq!(text, "spooled body");
        // A second reader starts over.
        let mut again = Vec::new();
        body.reader().read_to_end(&mut again).unwrap();
        assert_eq!(again, b"spooled body");
        let mut file = body.file().unwrap();
        assert_eq!(file.stream_position().unwrap(), 12);
        assert_eq!(body.into_bytes().unwrap(), "spooled body");
    }

    #[test]
    fn bodies_in_memory() {
        let body = RequestBody::from(vec![1, 2, 3]);
        assert_eq!(body.as_bytes().unwrap(), &[1, 2, 3][..]);
        let mut got = Vec::new();
        body.reader().read_to_end(&mut got).unwrap();
        assert_eq!(got, [1, 2, 3]);
        assert!(RequestBody::from(Bytes::new()).is_empty());
    }
}
