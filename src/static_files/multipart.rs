//! `multipart/byteranges` (RFC 9110 §14.6): the body of a `206` that answers
//! several ranges at once.
//!
//! The body is laid out as RFC 2046 §5.1.1 has it, with no preamble:
//!
//! ```text
//! --BOUNDARY CRLF
//! Content-Type: <the file's> CRLF
//! Content-Range: bytes <first>-<last>/<size> CRLF
//! CRLF
//! <the range's bytes> CRLF
//! --BOUNDARY CRLF
//! … one such part per range …
//! <the last range's bytes> CRLF
//! --BOUNDARY-- CRLF
//! ```
//!
//! Its length is known before a byte is sent, so it goes out with `Content-Length`.
//! A file held in memory becomes one [`Bytes`]; a file on disk becomes a
//! [`Body::reader`] that interleaves the part headers with positioned reads
//! (`pread`) of the cached descriptor, so a large file is never read whole into
//! memory and the worker holds no more than one burst of it.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::StatusCode;

use super::cache::Representation;
use super::conditional::header_value;
use super::range::ByteRange;
use crate::{Body, FileRegion, Response};

/// The `206` answering `ranges` (two or more, disjoint) of `file`, whose parts are
/// of type `content_type`.
pub(super) fn response(file: &Representation, ranges: &[ByteRange], content_type: &HeaderValue) -> Response {
    let boundary = boundary();
    let mut pieces = VecDeque::with_capacity(2 * ranges.len() + 1);
    for (i, range) in ranges.iter().enumerate() {
        // The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1),
        // so every part but the first starts with the one ending the last.
        let mut head = Vec::with_capacity(128);
        if i > 0 {
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        head.extend_from_slice(b"Content-Type: ");
        head.extend_from_slice(content_type.as_bytes());
        let (first, last, size) = (range.first, range.last, file.size);
        head.extend_from_slice(format!("\r\nContent-Range: bytes {first}-{last}/{size}\r\n\r\n").as_bytes());
        pieces.push_back(Piece::Bytes(Bytes::from(head)));
        pieces.push_back(match file.body(range.first, range.len()) {
            Body::Bytes(bytes) => Piece::Bytes(bytes),
            Body::File(region) => Piece::File(region),
            other => unreachable!("invariant: a cached file's body is bytes or a file region, not {other:?}"),
        });
    }
    pieces.push_back(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));

    let len = pieces.iter().map(Piece::len).sum();
    let body = if pieces.iter().all(|piece| matches!(piece, Piece::Bytes(_))) {
        let mut whole = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
        for piece in &pieces {
            if let Piece::Bytes(bytes) = piece {
                whole.extend_from_slice(bytes);
            }
        }
        Body::Bytes(whole.freeze())
    } else {
        Body::reader(Parts { pieces }, Some(len))
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header_value(format!("multipart/byteranges; boundary={boundary}")),
    );
    response
}

/// A boundary for one response: 32 hex digits, 128 bits nobody outside the process
/// can predict.
///
/// RFC 2046 §5.1.1 requires that the boundary not occur in any part, and a part's
/// bytes are the file's, which anyone able to upload a file chose. They cannot
/// choose to contain a boundary drawn after they were written, from a key made at
/// start-up from the operating system's randomness (the one `HashMap` uses): at each
/// position of a file, the chance is 2⁻¹²⁸. Scanning the parts for it instead
/// would cost a read of every byte sent.
fn boundary() -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(RandomState::new);
    // Keyed SipHash of a counter: a fresh, unpredictable value per response.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (high, low) = (key.hash_one((n, 0_u8)), key.hash_one((n, 1_u8)));
    format!("{high:016x}{low:016x}")
}

/// A piece of the body: a part header (or the close delimiter), or a range's bytes.
#[derive(Debug)]
enum Piece {
    Bytes(Bytes),
    File(FileRegion),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File(region) => region.len(),
        }
    }
}

/// The body of a multipart response over a file on disk, read piece by piece.
#[derive(Debug)]
struct Parts {
    /// What is left to send, in order; a piece is dropped once sent whole.
    pieces: VecDeque<Piece>,
}

impl Read for Parts {
    /// Fills `buf` from as many pieces as fit, so that a part header goes out with
    /// the bytes after it rather than in a write of its own.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(piece) = self.pieces.front_mut() else {
                break;
            };
            let room = &mut buf[filled..];
            match piece {
                Piece::Bytes(bytes) => {
                    let n = room.len().min(bytes.len());
                    room[..n].copy_from_slice(&bytes[..n]);
                    bytes.advance(n);
                    filled += n;
                }
                Piece::File(region) => {
                    let want = room.len().min(usize::try_from(region.len()).unwrap_or(usize::MAX));
                    match region.file().read_at(&mut room[..want], region.offset()) {
                        // The file shrank since it was checked: the body cannot be
                        // what Content-Length promised, so the response is aborted.
                        Ok(0) if filled == 0 => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the file shrank while its ranges were being sent",
                            ))
                        }
                        Ok(n) if n > 0 => {
                            region.advance(n as u64);
                            filled += n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if filled == 0 => return Err(e),
                        // Send what was read; the next call meets the end or the error again.
                        Ok(_) | Err(_) => break,
                    }
                }
            }
            if piece.len() == 0 {
                self.pieces.pop_front();
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_differ_and_are_valid() {
        let (a, b) = (boundary(), boundary());
        assert_ne!(a, b);
        // RFC 2046 §5.1.1: 1 to 70 characters from bchars.
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|byte| byte.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn parts_read_across_pieces_and_stop_at_a_short_file() {
        let path = std::env::temp_dir().join(format!("nioserve-multipart-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        let parts = |regions: &[(u64, u64)]| Parts {
            pieces: regions
                .iter()
                .flat_map(|&(offset, len)| {
                    [
                        Piece::Bytes(Bytes::from_static(b"<")),
                        Piece::File(FileRegion::new(std::sync::Arc::clone(&file), offset, len)),
                    ]
                })
                .collect(),
        };

        let mut whole = Vec::new();
        parts(&[(0, 2), (5, 3)]).read_to_end(&mut whole).unwrap();
        assert_eq!(whole, b"<01<567");
        // Read three bytes at a time, the pieces still come out in order.
        let mut reader = parts(&[(0, 2), (5, 3)]);
        let mut small = [0; 3];
        let mut pieced = Vec::new();
        loop {
            let n = reader.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            pieced.extend_from_slice(&small[..n]);
        }
        assert_eq!(pieced, b"<01<567");
        // A region past the end of the file: what there is, then an error.
        let mut short = parts(&[(8, 5)]);
        let mut buf = [0; 16];
        assert_eq!(short.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"<89");
        assert_eq!(short.read(&mut buf).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    proptest::proptest! {
        /// Read through buffers of any sizes, the parts come out as the pieces laid
        /// end to end, and as long as `Piece::len` says.
        #[test]
        fn parts_read_as_their_pieces_whatever_the_buffer_sizes(
            regions in proptest::collection::vec((0_u64..10, 1_u64..10, "[a-z]{1,5}"), 1..5),
            reads in proptest::collection::vec(1_usize..20, 1..40),
        ) {
            static FILE: OnceLock<std::sync::Arc<std::fs::File>> = OnceLock::new();
            let file = FILE.get_or_init(|| {
                let path = std::env::temp_dir().join(format!("nioserve-multipart-prop-{}", std::process::id()));
                std::fs::write(&path, b"0123456789").unwrap();
                let file = std::fs::File::open(&path).unwrap();
                std::fs::remove_file(&path).unwrap();
                std::sync::Arc::new(file)
            });
            let mut expected = Vec::new();
            let mut pieces = VecDeque::new();
            for (offset, len, head) in &regions {
                let len = (*len).min(10 - offset).max(1);
                let offset = (*offset).min(10 - len);
                expected.extend_from_slice(head.as_bytes());
                expected.extend_from_slice(&b"0123456789"[offset as usize..(offset + len) as usize]);
                pieces.push_back(Piece::Bytes(Bytes::from(head.clone())));
                pieces.push_back(Piece::File(FileRegion::new(std::sync::Arc::clone(file), offset, len)));
            }
            proptest::prop_assert_eq!(pieces.iter().map(Piece::len).sum::<u64>(), expected.len() as u64);
            let mut parts = Parts { pieces };
            let mut read = Vec::new();
            for size in reads.iter().copied().cycle() {
                let mut buf = vec![0; size];
                let n = parts.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
            proptest::prop_assert_eq!(read, expected);
        }
    }
}
