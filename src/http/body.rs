//! Request body framing: where a body ends, and what it decodes to (RFC 9112 §6, §7.1).
//!
//! The head decides the [`Framing`]: a `Content-Length`, or the chunked transfer coding. As in
//! the head parser, the input is a slice that may stop anywhere, and `Ok(None)` means the body
//! has not all arrived. [`framed_len`] is the poller's question, asked after every read: it
//! walks the chunk-size lines and skips the data without copying it. [`decode`] is the
//! worker's: the same walk, copying the data out. One walk serves both, so they agree on
//! every input.

use bytes::{Bytes, BytesMut};

use super::parse::{Limits, ParseError};

/// How the body of a request is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes follow the head (`Content-Length`, §6.2); 0 when the request
    /// has neither `Content-Length` nor `Transfer-Encoding`.
    Length(usize),
    /// The chunked transfer coding (§7.1).
    Chunked,
}

/// How many bytes at the start of `buf` the body occupies, or `None` if it has not all
/// arrived. Copies nothing.
///
/// A chunked body is checked against `limits` as it arrives: its data and chunk extensions
/// against `max_body_bytes`, its trailer section against `max_header_bytes`. (A
/// `Content-Length` was checked against `max_body_bytes` with the head.)
pub(crate) fn framed_len(framing: Framing, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
    match framing {
        Framing::Length(len) => Ok((buf.len() >= len).then_some(len)),
        Framing::Chunked => walk_chunked(buf, limits, |_| {}),
    }
}

/// The decoded body at the start of `buf` and how many bytes of `buf` it occupied, or `None`
/// if it has not all arrived. Chunk extensions and trailer fields are dropped; an empty body
/// does not allocate.
pub(crate) fn decode(framing: Framing, buf: &[u8], limits: &Limits) -> Result<Option<(Bytes, usize)>, ParseError> {
    match framing {
        Framing::Length(len) => Ok(buf.get(..len).map(|body| (Bytes::copy_from_slice(body), len))),
        Framing::Chunked => {
            let mut body = BytesMut::new();
            let used = walk_chunked(buf, limits, |data| body.extend_from_slice(data))?;
            Ok(used.map(|used| (body.freeze(), used)))
        }
    }
}

/// Walks the chunked body at the start of `buf` (RFC 9112 §7.1), handing each chunk's data to
/// `on_data` once the CRLF after it has arrived. Returns how many bytes the body occupies,
/// trailer section included, or `None` if it has not all arrived.
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
fn walk_chunked(buf: &[u8], limits: &Limits, mut on_data: impl FnMut(&[u8])) -> Result<Option<usize>, ParseError> {
    let mut pos = 0;
    // What is left of max_body_bytes after the chunks so far.
    let mut budget = limits.max_body_bytes;
    loop {
        let Some(line) = size_line(&buf[pos..], budget)? else {
            return Ok(None);
        };
        pos += line.len;
        // `size_line` checked that the chunk fits the budget.
        budget -= line.size + line.extensions_len;
        if line.size == 0 {
            // A trailer section is header fields, limited like the head.
            let trailers = trailer_section(&buf[pos..], limits.max_header_bytes)?;
            return Ok(trailers.map(|len| pos + len));
        }
        let Some(data) = buf[pos..].get(..line.size) else {
            return Ok(None);
        };
        // The data is followed by CRLF and nothing else: a size that does not match the data
        // is a framing error, not something to resynchronise from.
        match &buf[pos + line.size..] {
            [b'\r', b'\n', ..] => {}
            [] | [b'\r'] => return Ok(None),
            _ => return Err(ParseError::BadChunk),
        }
        on_data(data);
        pos += line.size + 2;
    }
}

/// A chunk-size line: `chunk-size [ chunk-ext ] CRLF`.
struct SizeLine {
    /// The chunk-size: how many data bytes follow the line.
    size: usize,
    /// Bytes between the size and the CRLF: the chunk extensions, which we skip.
    extensions_len: usize,
    /// Bytes of the whole line, CRLF included.
    len: usize,
}

/// Most hex digits in a chunk-size: 16 make 64 bits, so more can only be padding.
const MAX_SIZE_DIGITS: usize = 16;

/// Where the size-line reader is in the grammar of RFC 9112 §7.1 and §7.1.1:
///
/// ```text
/// chunk-size     = 1*HEXDIG
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// ```
#[derive(Clone, Copy, Debug)]
enum At {
    /// Before the first digit of the size.
    Start,
    /// In the size.
    Size,
    /// In whitespace after the size or a value, which only a `;` may end.
    BeforeSemicolon,
    /// After `;`, before an extension name.
    BeforeName,
    Name,
    /// In whitespace after a name, which `=` or `;` may end.
    AfterName,
    /// After `=`, before the value.
    BeforeValue,
    TokenValue,
    QuotedValue,
    /// After a backslash in a quoted value.
    QuotedPair,
    /// After the quote that closes a value.
    AfterQuote,
    /// After the CR that ends the line.
    Cr,
}

/// Reads the chunk-size line at the start of `buf`, byte by byte, so that a malformed line is
/// refused at its first wrong byte rather than once it ends. `None` if it has not all arrived.
///
/// The chunk's size and the extensions are charged to `budget` (what is left of
/// max_body_bytes) as soon as they are read: a client announcing a chunk too large is
/// refused before it sends the data.
fn size_line(buf: &[u8], budget: usize) -> Result<Option<SizeLine>, ParseError> {
    use At::*;

    let (mut at, mut size, mut digits, mut extensions_len) = (Start, 0usize, 0, 0);
    for (i, &b) in buf.iter().enumerate() {
        if let (Start | Size, Some(digit)) = (at, hex_digit(b)) {
            digits += 1;
            if digits > MAX_SIZE_DIGITS {
                return Err(ParseError::BadChunk);
            }
            // An overflow is a size over any budget.
            size = size
                .checked_mul(16)
                .and_then(|size| size.checked_add(digit))
                .filter(|&size| size <= budget)
                .ok_or(ParseError::BodyTooLarge)?;
            at = Size;
            continue;
        }
        at = match (at, b) {
            (Size | Name | TokenValue | AfterQuote, b'\r') => Cr,
            (Cr, b'\n') => {
                return Ok(Some(SizeLine {
                    size,
                    extensions_len,
                    len: i + 1,
                }))
            }
            (Size | TokenValue | AfterQuote | BeforeSemicolon, b' ' | b'\t') => BeforeSemicolon,
            (Size | Name | AfterName | TokenValue | AfterQuote | BeforeSemicolon, b';') => BeforeName,
            (BeforeName, b' ' | b'\t') => BeforeName,
            (BeforeName | Name, _) if is_tchar(b) => Name,
            (Name | AfterName, b' ' | b'\t') => AfterName,
            (Name | AfterName, b'=') => BeforeValue,
            (BeforeValue, b' ' | b'\t') => BeforeValue,
            (BeforeValue | TokenValue, _) if is_tchar(b) => TokenValue,
            (BeforeValue, b'"') => QuotedValue,
            (QuotedValue, b'"') => AfterQuote,
            (QuotedValue, b'\\') => QuotedPair,
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4);
            // `"` and `\` were taken above.
            (QuotedValue, _) if is_field_char(b) => QuotedValue,
            (QuotedPair, _) if is_field_char(b) => QuotedValue,
            // Anything else, a bare LF among them: §7.1 requires CRLF.
            _ => return Err(ParseError::BadChunk),
        };
        if !matches!(at, Cr) {
            extensions_len += 1;
            if extensions_len > budget - size {
                return Err(ParseError::BodyTooLarge);
            }
        }
    }
    Ok(None)
}

/// Reads the trailer section after the last chunk (RFC 9112 §7.1.2): field lines, each ending
/// in CRLF, then an empty line. Returns its length, or `None` if it has not all arrived.
///
/// Trailer fields are checked for their shape only and dropped: §7.1.2 lets a recipient
/// discard them, and no handler sees them.
fn trailer_section(buf: &[u8], max_len: usize) -> Result<Option<usize>, ParseError> {
    let mut pos = 0;
    loop {
        let Some(lf) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() > max_len {
                Err(ParseError::HeadersTooLarge)
            } else {
                Ok(None)
            };
        };
        let end = pos + lf + 1;
        if end > max_len {
            return Err(ParseError::HeadersTooLarge);
        }
        let line = buf[pos..end].strip_suffix(b"\r\n").ok_or(ParseError::BadChunk)?;
        if line.is_empty() {
            return Ok(Some(end));
        }
        if !is_field_line(line) {
            return Err(ParseError::BadChunk);
        }
        pos = end;
    }
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5): a token, a colon, then no control
/// characters.
fn is_field_line(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => {
            line[..colon].iter().all(|&b| is_tchar(b)) && line[colon + 1..].iter().all(|&b| is_field_char(b))
        }
        _ => false,
    }
}

/// `tchar` (RFC 9110 §5.6.2): the characters of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// HTAB, SP, visible ASCII and obs-text: what a field value or a quoted string may hold
/// (RFC 9110 §5.5).
fn is_field_char(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

fn hex_digit(b: u8) -> Option<usize> {
    char::from(b).to_digit(16).and_then(|digit| usize::try_from(digit).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParseError::*;

    const LIMITS: Limits = Limits {
        max_header_bytes: 16,
        max_uri_bytes: 0,
        max_body_bytes: 16,
    };

    /// What a chunked input should decode to.
    #[derive(Clone, Copy, Debug)]
    enum Want {
        /// This body, using all of the input.
        Whole(&'static [u8]),
        /// This body, followed by these bytes of the input (a pipelined request).
        FollowedBy(&'static [u8], &'static [u8]),
        Partial,
        Fail(ParseError),
    }
    use Want::*;

    #[rustfmt::skip]
    const CHUNKED: &[(&[u8], Want)] = &[
        (b"0\r\n\r\n", Whole(b"")),
        (b"5\r\nhello\r\n0\r\n\r\n", Whole(b"hello")),
        (b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", Whole(b"hello")),
        (b"A\r\n0123456789\r\n0\r\n\r\n", Whole(b"0123456789")),
        (b"a\r\n0123456789\r\n0\r\n\r\n", Whole(b"0123456789")),
        (b"0005\r\nhello\r\n000\r\n\r\n", Whole(b"hello")),
        (b"0000000000000005\r\nhello\r\n0\r\n\r\n", Whole(b"hello")),
        (b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", FollowedBy(b"hello", b"GET / HTTP/1.1")),
        (b"2\r\n\r\n\r\n0\r\n\r\n", Whole(b"\r\n")),
        // chunk extensions
        (b"2;a\r\nhi\r\n0\r\n\r\n", Whole(b"hi")),
        (b"2;a=b\r\nhi\r\n0;c=d\r\n\r\n", Whole(b"hi")),
        (b"2;a=\"q;\\\"x\"\r\nhi\r\n0\r\n\r\n", Whole(b"hi")),
        (b"2 ; a = b ;c\r\nhi\r\n0\r\n\r\n", Whole(b"hi")),
        (b"2;a;b=c\r\nhi\r\n0\r\n\r\n", Whole(b"hi")),
        // trailer section
        (b"2\r\nhi\r\n0\r\nT: v\r\n\r\n", Whole(b"hi")),
        (b"2\r\nhi\r\n0\r\nA: 1\r\nB:\r\n\r\nX", FollowedBy(b"hi", b"X")),
        // not all here yet
        (b"", Partial),
        (b"5", Partial),
        (b"5\r", Partial),
        (b"5;a=\"b", Partial),
        (b"5\r\nhel", Partial),
        (b"5\r\nhello", Partial),
        (b"5\r\nhello\r", Partial),
        (b"5\r\nhello\r\n0\r\n", Partial),
        (b"5\r\nhello\r\n0\r\nT: v\r\n", Partial),
        (b"5\r\nhello\r\n0\r\n\r", Partial),
        // chunk-size is 1*HEXDIG and nothing else
        (b"\r\n", Fail(BadChunk)),
        (b"x\r\n", Fail(BadChunk)),
        (b"-1\r\n", Fail(BadChunk)),
        (b"+1\r\n", Fail(BadChunk)),
        (b"0x1\r\n", Fail(BadChunk)),
        (b" 1\r\n", Fail(BadChunk)),
        (b"1 \r\n", Fail(BadChunk)),
        (b"00000000000000000\r\n", Fail(BadChunk)),
        // extensions
        (b"1;\r\n", Fail(BadChunk)),
        (b"1;=b\r\n", Fail(BadChunk)),
        (b"1;a=\r\n", Fail(BadChunk)),
        (b"1;a b\r\n", Fail(BadChunk)),
        (b"1;a=\"b\"c\r\n", Fail(BadChunk)),
        (b"1;a=\x01\r\n", Fail(BadChunk)),
        // CRLF, exactly
        (b"1\nx\r\n0\r\n\r\n", Fail(BadChunk)),
        (b"1\rx", Fail(BadChunk)),
        (b"1\r\nx\n0\r\n\r\n", Fail(BadChunk)),
        (b"1\r\nxy\r\n0\r\n\r\n", Fail(BadChunk)),
        (b"1\r\nx\rz", Fail(BadChunk)),
        (b"0\r\n\n", Fail(BadChunk)),
        (b"0\r\nT: v\n\r\n", Fail(BadChunk)),
        // trailer fields
        (b"0\r\nno colon\r\n\r\n", Fail(BadChunk)),
        (b"0\r\n: v\r\n\r\n", Fail(BadChunk)),
        (b"0\r\nT : v\r\n\r\n", Fail(BadChunk)),
        (b"0\r\nT: \x7f\r\n\r\n", Fail(BadChunk)),
        (b"0\r\nTrailer: aaaaaaa\r\n\r\n", Fail(HeadersTooLarge)),
        (b"0\r\nTrailer: aaaaaaaa", Fail(HeadersTooLarge)),
        (b"0\r\nT: 1\r\nT: 2\r\nT: 3\r\n", Fail(HeadersTooLarge)),
        // max_body_bytes
        (b"10\r\n0123456789abcdef\r\n0\r\n\r\n", Whole(b"0123456789abcdef")),
        (b"11\r\n", Fail(BodyTooLarge)),
        (b"8\r\n01234567\r\n9\r\n", Fail(BodyTooLarge)),
        (b"ffffffffffffffff\r\n", Fail(BodyTooLarge)),
        (b"8;aaaaaaaa\r\n", Fail(BodyTooLarge)),
        (b"8;aaaaaaa\r\n01234567\r\n0\r\n\r\n", Whole(b"01234567")),
    ];

    #[test]
    fn chunked_table() {
        for &(input, want) in CHUNKED {
            let decoded = decode(Framing::Chunked, input, &LIMITS);
            let framed = framed_len(Framing::Chunked, input, &LIMITS);
            let ok = match (&decoded, want) {
                (Ok(Some((body, used))), Whole(want)) => body == want && *used == input.len(),
                (Ok(Some((body, used))), FollowedBy(want, rest)) => body == want && *used == input.len() - rest.len(),
                (Ok(None), Partial) => true,
                (Err(error), Fail(want)) => *error == want,
                _ => false,
            };
            assert!(
                ok,
                "{:?}: want {want:?}, got {decoded:?}",
                input.escape_ascii().to_string()
            );
            assert_eq!(
                framed,
                decoded.map(|decoded| decoded.map(|(_, used)| used)),
                "{:?}: framed_len and decode disagree",
                input.escape_ascii().to_string()
            );
        }
    }

    /// A body split across reads is partial until its last byte, and refused no earlier than
    /// the byte that makes it wrong.
    #[test]
    fn every_prefix_is_partial_or_the_same_answer() {
        for &(input, want) in CHUNKED {
            let end = match want {
                FollowedBy(_, rest) => input.len() - rest.len(),
                _ => input.len(),
            };
            for split in 0..end {
                let got = decode(Framing::Chunked, &input[..split], &LIMITS);
                let ok = match (&got, want) {
                    (Ok(None), _) => true,
                    (Err(error), Fail(want)) => *error == want,
                    _ => false,
                };
                assert!(ok, "{:?} at {split}: got {got:?}", input.escape_ascii().to_string());
            }
        }
    }

    #[test]
    fn content_length() {
        // Content-Length, input, the body and how many bytes it used
        type Row = (usize, &'static [u8], Option<(&'static [u8], usize)>);
        #[rustfmt::skip]
        let table: &[Row] = &[
            (0, b"", Some((b"", 0))),
            (0, b"GET", Some((b"", 0))),
            (5, b"hel", None),
            (5, b"hello", Some((b"hello", 5))),
            (5, b"helloGET", Some((b"hello", 5))),
        ];
        for &(len, input, want) in table {
            let framing = Framing::Length(len);
            let decoded = decode(framing, input, &LIMITS).unwrap();
            let got = decoded.as_ref().map(|(body, used)| (&body[..], *used));
            assert_eq!(got, want, "{len} {input:?}");
            assert_eq!(framed_len(framing, input, &LIMITS), Ok(want.map(|(_, used)| used)));
        }
    }

    proptest::proptest! {
        /// Any data, cut into any chunks (sizes in either case, with padding zeros), decodes
        /// back to itself.
        #[test]
        fn decodes_what_was_encoded(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            cuts in proptest::collection::vec(1usize..16, 0..8),
            upper in proptest::prelude::any::<bool>(),
        ) {
            let mut encoded = Vec::new();
            let mut rest = &data[..];
            for cut in cuts.into_iter().chain(std::iter::repeat(16)) {
                if rest.is_empty() {
                    break;
                }
                let (chunk, after) = rest.split_at(cut.min(rest.len()));
                let size = if upper { format!("0{:X}", chunk.len()) } else { format!("{:x}", chunk.len()) };
                encoded.extend_from_slice(size.as_bytes());
                encoded.extend_from_slice(b"\r\n");
                encoded.extend_from_slice(chunk);
                encoded.extend_from_slice(b"\r\n");
                rest = after;
            }
            encoded.extend_from_slice(b"0\r\n\r\n");
            let limits = Limits { max_header_bytes: 2, max_uri_bytes: 0, max_body_bytes: 64 };
            let decoded = decode(Framing::Chunked, &encoded, &limits);
            proptest::prop_assert_eq!(decoded, Ok(Some((Bytes::from(data), encoded.len()))));
        }
    }
}
