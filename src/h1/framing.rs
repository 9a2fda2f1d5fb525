//! Message length: every rule that says where a request ends (RFC 9112 §6, §7.1).
//!
//! The head's fields decide the [`Framing`] ([`decide`]): a `Content-Length`, the chunked
//! transfer coding, or neither (no body); fields that contradict each other are refused.
//! Then the body: as in the head parser, the input is a slice that may stop anywhere, and
//! `Ok(None)` means the body has not all arrived. A [`Walker`] is the question asked after
//! every read while the body arrives: it walks the chunk-size lines and skips the data without
//! copying it, and it keeps its place, so each read costs only the bytes it brought.
//! [`decode`] runs once the request is whole: the same walk from the start, once, copying the
//! data out. One walker serves both, so they agree on every input.

use ::http::Version;
use bytes::{Bytes, BytesMut};

use super::error::{Limits, ParseError};
use super::fields::{is_field_char, is_tchar, list_elements, values};

/// How the body of a request is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes follow the head (`Content-Length`, §6.2); 0 when the request
    /// has neither `Content-Length` nor `Transfer-Encoding`.
    Length(usize),
    /// The chunked transfer coding (§7.1).
    Chunked,
}

/// RFC 9112 §6.3: how the length of the request body is determined.
pub(crate) fn decide(
    version: Version,
    fields: &[httparse::Header<'_>],
    limits: &Limits,
) -> Result<Framing, ParseError> {
    let has = |name: &str| fields.iter().any(|field| field.name.eq_ignore_ascii_case(name));
    if has("transfer-encoding") {
        // §6.1: an HTTP/1.0 message with Transfer-Encoding must be treated as faulty framing;
        // a 1.0 client cannot have meant chunked.
        if version == Version::HTTP_10 {
            return Err(ParseError::TransferEncodingInHttp10);
        }
        // §6.1 lets a server reject this. Where two parties pick different headers to frame
        // the same bytes, a second request can hide in the first one's body (smuggling).
        if has("content-length") {
            return Err(ParseError::ContentLengthWithTransferEncoding);
        }
        check_transfer_codings(values(fields, "transfer-encoding"))?;
        return Ok(Framing::Chunked);
    }
    match content_length(values(fields, "content-length"))? {
        // §6.3: a request with neither header has no body.
        None => Ok(Framing::Length(0)),
        // Refused on the head alone, before the client sends a body we would only discard.
        Some(len) if len > limits.max_body_bytes => Err(ParseError::BodyTooLarge),
        Some(len) => Ok(Framing::Length(len)),
    }
}

/// The only transfer coding we undo is `chunked`. RFC 9112 §6.3: a request whose final coding
/// is not `chunked` has no knowable length, and the server MUST answer 400 — whatever the
/// codings are. §7: `chunked` is applied once. §6.1: any other coding before a final `chunked`
/// is one we do not understand (501): we would hand its encoded bytes to the handler as if
/// they were the content.
fn check_transfer_codings<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<(), ParseError> {
    let (mut codings, mut chunked_not_last, mut last_is_chunked) = (0, false, false);
    // RFC 9110 §5.6.1: empty list elements are ignored.
    for coding in list_elements(values).filter(|coding| !coding.is_empty()) {
        chunked_not_last |= last_is_chunked;
        last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        codings += 1;
    }
    if codings == 0 || chunked_not_last || !last_is_chunked {
        Err(ParseError::ChunkedNotFinal)
    } else if codings > 1 {
        Err(ParseError::UnknownTransferCoding)
    } else {
        Ok(())
    }
}

/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. RFC 9112 §6.3: several identical values (on
/// repeated lines or in a comma list) may be taken as one; anything else is a framing error.
fn content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<usize>, ParseError> {
    let mut length = None;
    for element in list_elements(values) {
        let value = parse_decimal(element).ok_or(ParseError::BadContentLength)?;
        if length.is_some_and(|length| length != value) {
            return Err(ParseError::BadContentLength);
        }
        length = Some(value);
    }
    Ok(length)
}

/// `1*DIGIT` as a number; `None` for anything else (a sign, a space, hex) or on overflow.
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |value, &b| {
        let digit = b.is_ascii_digit().then(|| usize::from(b - b'0'))?;
        value.checked_mul(10)?.checked_add(digit)
    })
}

/// Where a body ends, found as its bytes arrive: the walk stops where the bytes do and goes on
/// from there on the next call, so a body sent in tiny reads costs no more than one sent
/// whole. Copies nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Walker {
    /// A `Content-Length` body: nothing to walk, only to count. (The length was checked
    /// against `max_body_bytes` with the head.)
    Length(usize),
    /// A chunked body, checked against `limits` as it arrives: its data and chunk extensions
    /// against `max_body_bytes`, its trailer section against `max_header_bytes`.
    Chunked(Chunked),
}

impl Walker {
    pub(crate) fn new(framing: Framing, limits: &Limits) -> Walker {
        match framing {
            Framing::Length(len) => Walker::Length(len),
            Framing::Chunked => Walker::Chunked(Chunked::new(limits)),
        }
    }

    /// How many bytes at the start of `body` the body occupies, or `None` if it has not all
    /// arrived.
    ///
    /// `body` is what has arrived of the body so far, from its first byte: the same bytes as
    /// on the last call, and maybe more after them. Only the bytes after those already walked
    /// are looked at.
    pub(crate) fn framed_len(&mut self, body: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
        match self {
            Walker::Length(len) => Ok((body.len() >= *len).then_some(*len)),
            Walker::Chunked(chunked) => {
                let more = body.get(chunked.walked..).unwrap_or_default();
                chunked.walk(more, limits, |_| {})
            }
        }
    }
}

/// A body decoded as it arrives, its data handed out piece by piece and its bytes consumed:
/// for a caller that keeps the body somewhere other than the read buffer (the poller,
/// spooling a large body to a file). The same walk as [`Walker`] and [`decode`], by the
/// same rules and limits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Decoder {
    /// A `Content-Length` body with this many bytes still to come.
    Length(usize),
    /// A chunked body.
    Chunked(Chunked),
}

impl Decoder {
    pub(crate) fn new(framing: Framing, limits: &Limits) -> Decoder {
        match framing {
            Framing::Length(len) => Decoder::Length(len),
            Framing::Chunked => Decoder::Chunked(Chunked::new(limits)),
        }
    }

    /// Decodes what `more` holds of the body (the bytes after those fed before), handing the
    /// data to `on_data`. Returns how many bytes of `more` it used (all of them, unless the
    /// body ended within them) and whether the body has ended.
    pub(crate) fn feed(
        &mut self,
        more: &[u8],
        limits: &Limits,
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), ParseError> {
        match self {
            Decoder::Length(left) => {
                let n = (*left).min(more.len());
                if n > 0 {
                    on_data(&more[..n]);
                }
                *left -= n;
                Ok((n, *left == 0))
            }
            Decoder::Chunked(chunked) => {
                let before = chunked.walked;
                let ended = chunked.walk(more, limits, on_data)?.is_some();
                Ok((chunked.walked - before, ended))
            }
        }
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
            let used = Chunked::new(limits).walk(buf, limits, |data| body.extend_from_slice(data))?;
            Ok(used.map(|used| (body.freeze(), used)))
        }
    }
}

/// A chunked body walked as far as it has arrived (RFC 9112 §7.1):
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
///
/// Every part of the grammar can stop in the middle and resume with the next byte, so no
/// byte is read twice: the cost of a body is linear in its length however it is split into
/// reads (a body of 1-byte chunks in 16-byte reads used to be walked again from its start
/// after each read, quadratic, on the poller thread).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chunked {
    /// Bytes of the body walked so far.
    walked: usize,
    /// What is left of max_body_bytes after the chunks so far.
    budget: usize,
    at: ChunkAt,
}

/// Where in the chunked body the walk stopped.
#[derive(Clone, Copy, Debug)]
enum ChunkAt {
    /// In a chunk-size line.
    SizeLine(SizeLine),
    /// In the data of a chunk, with this many bytes to go (never 0).
    Data(usize),
    /// After a chunk's data: the CR that must follow it.
    DataCr,
    /// After that CR: the LF.
    DataLf,
    /// In the trailer section, after the last chunk.
    Trailers(TrailerSection),
    /// The body ended, `walked` bytes from its start.
    End,
}

impl Chunked {
    fn new(limits: &Limits) -> Chunked {
        Chunked {
            walked: 0,
            budget: limits.max_body_bytes,
            at: ChunkAt::SizeLine(SizeLine::default()),
        }
    }

    /// Walks `more`, the bytes that follow those already walked, handing chunk data to
    /// `on_data` as it passes. Returns how many bytes the body occupies, trailer section
    /// included, once it has ended (the bytes after its end are not looked at), or `None`.
    fn walk(
        &mut self,
        more: &[u8],
        limits: &Limits,
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<Option<usize>, ParseError> {
        let mut i = 0;
        while i < more.len() {
            self.at = match self.at {
                ChunkAt::End => break,
                // Data is skipped whole, not byte by byte.
                ChunkAt::Data(left) => {
                    let n = left.min(more.len() - i);
                    on_data(&more[i..i + n]);
                    i += n;
                    match left - n {
                        0 => ChunkAt::DataCr,
                        left => ChunkAt::Data(left),
                    }
                }
                at => {
                    let b = more[i];
                    i += 1;
                    self.step(at, b, limits)?
                }
            };
        }
        self.walked += i;
        Ok(matches!(self.at, ChunkAt::End).then_some(self.walked))
    }

    /// Takes one byte of framing (anything but chunk data).
    fn step(&mut self, at: ChunkAt, b: u8, limits: &Limits) -> Result<ChunkAt, ParseError> {
        Ok(match at {
            ChunkAt::SizeLine(mut line) => match line.step(b, self.budget)? {
                None => ChunkAt::SizeLine(line),
                Some(size) => {
                    // `SizeLine::step` checked that the chunk fits the budget.
                    self.budget -= size + line.extensions_len;
                    match size {
                        0 => ChunkAt::Trailers(TrailerSection::default()),
                        size => ChunkAt::Data(size),
                    }
                }
            },
            // The data is followed by CRLF and nothing else: a size that does not match the
            // data is a framing error, not something to resynchronise from.
            ChunkAt::DataCr if b == b'\r' => ChunkAt::DataLf,
            ChunkAt::DataLf if b == b'\n' => ChunkAt::SizeLine(SizeLine::default()),
            ChunkAt::DataCr | ChunkAt::DataLf => return Err(ParseError::BadChunk),
            ChunkAt::Trailers(mut trailers) => match trailers.step(b, limits.max_header_bytes)? {
                Line::Open => ChunkAt::Trailers(trailers),
                Line::Last => ChunkAt::End,
            },
            ChunkAt::Data(_) | ChunkAt::End => unreachable!("walk handles data and the end itself"),
        })
    }
}

/// A chunk-size line read so far: `chunk-size [ chunk-ext ] CRLF`.
#[derive(Clone, Copy, Debug, Default)]
struct SizeLine {
    at: At,
    /// The chunk-size so far. Never more than [`MAX_SIZE_DIGITS`] digits, so it fits.
    size: u64,
    digits: usize,
    /// Bytes between the size and the CRLF: the chunk extensions, which we skip but count.
    extensions_len: usize,
}

/// Most hex digits in a chunk-size: 16 make 64 bits. More is a size no one can mean, or
/// padding: refused as malformed (400), not as too large.
const MAX_SIZE_DIGITS: usize = 16;

/// Where the size-line reader is in the grammar of RFC 9112 §7.1 and §7.1.1:
///
/// ```text
/// chunk-size     = 1*HEXDIG
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// ```
#[derive(Clone, Copy, Debug, Default)]
enum At {
    /// Before the first digit of the size.
    #[default]
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

impl SizeLine {
    /// Takes the next byte of the line, so that a malformed line is refused at its first wrong
    /// byte rather than once it ends. Returns the chunk's size once the line has ended.
    ///
    /// The chunk's size and the extensions are charged to `budget` (what is left of
    /// max_body_bytes) as soon as they are known: a client announcing a chunk too large is
    /// refused before it sends the data.
    fn step(&mut self, b: u8, budget: usize) -> Result<Option<usize>, ParseError> {
        use At::*;

        if let (Start | Size, Some(digit)) = (self.at, hex_digit(b)) {
            self.digits += 1;
            if self.digits > MAX_SIZE_DIGITS {
                return Err(ParseError::BadChunk);
            }
            self.size = self.size << 4 | digit;
            self.at = Size;
            return Ok(None);
        }
        // The size has ended: only now is it known whether it was a size at all (a 17th
        // digit makes it malformed) or merely one too large.
        let budget = u64::try_from(budget).unwrap_or(u64::MAX);
        if matches!(self.at, Size) && self.size > budget {
            return Err(ParseError::BodyTooLarge);
        }
        self.at = match (self.at, b) {
            (Size | Name | TokenValue | AfterQuote, b'\r') => Cr,
            // Within budget, so within usize.
            (Cr, b'\n') => return Ok(Some(usize::try_from(self.size).map_err(|_| ParseError::BodyTooLarge)?)),
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
        if !matches!(self.at, Cr) {
            self.extensions_len += 1;
            if self.extensions_len as u64 > budget - self.size {
                return Err(ParseError::BodyTooLarge);
            }
        }
        Ok(None)
    }
}

/// The trailer section after the last chunk (RFC 9112 §7.1.2), read so far: field lines, each
/// ending in CRLF, then an empty line.
///
/// Trailer fields are checked for their shape only and dropped: §7.1.2 lets a recipient
/// discard them, and no handler sees them. A line is judged when its LF arrives.
#[derive(Clone, Copy, Debug, Default)]
struct TrailerSection {
    /// Bytes of the section so far.
    len: usize,
    /// The current line so far.
    line: Field,
    /// The last byte was a CR: the end of the line if an LF follows, else a byte of it.
    cr: bool,
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5), read so far: a token, a colon, then no
/// control characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Field {
    /// Nothing yet.
    #[default]
    Empty,
    Name,
    /// After the colon.
    Value,
    /// Not a field line, whatever follows.
    Invalid,
}

/// What a trailer line's LF ended.
enum Line {
    /// A field line: more follow.
    Open,
    /// The empty line that ends the section.
    Last,
}

impl TrailerSection {
    /// Takes the next byte of the section; over `max_len` bytes in all is a 431.
    fn step(&mut self, b: u8, max_len: usize) -> Result<Line, ParseError> {
        self.len += 1;
        if self.len > max_len {
            return Err(ParseError::HeadersTooLarge);
        }
        if b == b'\n' {
            let line = std::mem::take(&mut self.line);
            return match (std::mem::take(&mut self.cr), line) {
                (true, Field::Empty) => Ok(Line::Last),
                (true, Field::Value) => Ok(Line::Open),
                _ => Err(ParseError::BadChunk),
            };
        }
        if self.cr {
            // A CR inside a line: no field line holds one.
            self.line = Field::Invalid;
        }
        self.cr = b == b'\r';
        if !self.cr {
            self.line = match (self.line, b) {
                (Field::Name, b':') => Field::Value,
                (Field::Empty | Field::Name, _) if is_tchar(b) => Field::Name,
                (Field::Value, _) if is_field_char(b) => Field::Value,
                _ => Field::Invalid,
            };
        }
        Ok(Line::Open)
    }
}
fn hex_digit(b: u8) -> Option<u64> {
    char::from(b).to_digit(16).map(u64::from)
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

    /// Where a body that arrived whole ends, walked from its start.
    fn framed_len(framing: Framing, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
        Walker::new(framing, limits).framed_len(buf, limits)
    }

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
        (b"ffffffffffffffff;a\r\n", Fail(BodyTooLarge)),
        (b"11 \r\n", Fail(BodyTooLarge)),
        // a chunk-size that does not fit 64 bits is malformed (400), not too large (413)
        (b"fffffffffffffffff\r\n", Fail(BadChunk)),
        (b"100000000000000000", Fail(BadChunk)),
        (b"ffffffffffffffff", Partial),
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

    /// A walker fed a body in pieces answers what a fresh walk of the same bytes answers, at
    /// every split, and is only ever handed the bytes that are new: it cannot look at a byte
    /// twice, so the work per read is the read's own bytes.
    #[test]
    fn resumed_walk_agrees_with_a_fresh_one_at_every_split() {
        for &(input, _) in CHUNKED {
            // One byte per read: the finest split there is.
            let mut walker = Chunked::new(&LIMITS);
            for end in 1..=input.len() {
                let fresh = framed_len(Framing::Chunked, &input[..end], &LIMITS);
                let resumed = walker.walk(&input[end - 1..end], &LIMITS, |_| {});
                assert_eq!(
                    resumed,
                    fresh,
                    "{:?} byte by byte, at {end}",
                    input.escape_ascii().to_string()
                );
                if resumed != Ok(None) {
                    break;
                }
            }
            // Two reads, split anywhere, through the poller's entry point.
            for split in 0..=input.len() {
                let mut walker = Walker::new(Framing::Chunked, &LIMITS);
                let first = walker.framed_len(&input[..split], &LIMITS);
                let fresh = framed_len(Framing::Chunked, &input[..split], &LIMITS);
                assert_eq!(first, fresh, "{:?} at {split}", input.escape_ascii().to_string());
                if first == Ok(None) {
                    let whole = walker.framed_len(input, &LIMITS);
                    let fresh = framed_len(Framing::Chunked, input, &LIMITS);
                    assert_eq!(
                        whole,
                        fresh,
                        "{:?} resumed at {split}",
                        input.escape_ascii().to_string()
                    );
                }
            }
        }
    }

    /// The data of 1-byte chunks arriving one byte per read is handed out once, in order: the
    /// walker's place is kept across reads, data included.
    #[test]
    fn a_dribbled_body_is_walked_once() {
        let limits = Limits {
            max_body_bytes: 1 << 20,
            ..LIMITS
        };
        let data: Vec<u8> = (0..4096u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut encoded = Vec::new();
        for &b in &data {
            encoded.extend_from_slice(b"1\r\n");
            encoded.push(b);
            encoded.extend_from_slice(b"\r\n");
        }
        encoded.extend_from_slice(b"0\r\n\r\n");
        let mut walker = Chunked::new(&limits);
        let mut seen = Vec::new();
        let mut ended = None;
        for (i, b) in encoded.iter().enumerate() {
            assert_eq!(ended, None, "ended before its last byte");
            ended = walker
                .walk(std::slice::from_ref(b), &limits, |d| seen.extend_from_slice(d))
                .expect("valid body");
            assert_eq!(walker.walked, i + 1, "every byte is walked once, when it arrives");
        }
        assert_eq!(ended, Some(encoded.len()));
        assert_eq!(seen, data);
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
