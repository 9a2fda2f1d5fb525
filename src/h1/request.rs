//! The one entry point of the codec: is a whole request at the front of a buffer yet, and if
//! so, the request; or the reason to refuse it (RFC 9112).
//!
//! Both connection models call [`next`] after every read, with the [`Progress`] kept beside the
//! buffer: the poller with a connection's, a worker for requests pipelined behind the first,
//! the blocking model with its thread's. It runs one head parser ([`head`](super::head)) and
//! one body walker ([`framing`]), so there is one answer to where a request
//! ends and why it is refused. Nothing here touches a socket: the slice may stop anywhere, and
//! a request that has not all arrived is `Partial`, never an error.

use bytes::Bytes;

use super::error::{Limits, ParseError};
use super::framing::{self, Walker};
use super::head::{parse_head, FieldSlots, Head};

/// How far the codec got with the request at the front of a buffer, kept between reads so
/// that each read is walked from where the last one stopped.
///
/// It describes the bytes at the front of the buffer and stays valid while they stay there
/// and more are only appended: whoever takes bytes off the front starts a new one
/// (`ReadBuf::consume` in `connection.rs` does, so the two cannot drift apart). After a
/// refusal it is reset, so asking again gives the same refusal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// `None` while the head has not all arrived. It is parsed again from its start on each
    /// read: httparse does not resume, and a head is at most `max_header_bytes`.
    body: Option<BodyProgress>,
}

/// A head that passed every check, and how far its body has been walked.
#[derive(Clone, Copy, Debug)]
struct BodyProgress {
    /// Bytes of the head, leading empty lines included.
    head_len: usize,
    /// The head asks for `100 Continue` (see [`Next::Partial`]).
    expects_continue: bool,
    walker: Walker,
}

impl Progress {
    /// Where the body starts and how long it says it is (`None`: chunked), once the head
    /// has all arrived and passed; `None` before.
    pub(crate) fn body_started(&self) -> Option<(usize, Option<usize>)> {
        self.body.map(|body| {
            let declared = match body.walker {
                Walker::Length(len) => Some(len),
                Walker::Chunked(_) => None,
            };
            (body.head_len, declared)
        })
    }
}

/// A request whose head has all arrived, for a caller that takes the body itself as it
/// comes (the poller, spooling a large body to a file): its head, built, and the decoder of
/// its body.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) parts: ::http::request::Parts,
    /// Bytes of the head at the front of the buffer.
    pub(crate) head_len: usize,
    pub(crate) decoder: framing::Decoder,
    /// The head asks for `100 Continue` (see [`Next::Partial`]).
    pub(crate) expects_continue: bool,
}

/// The head at the front of `buf`, built, once [`next`] has found it whole and passed it
/// (`progress` says so); `None` before. The body is left to the caller.
pub(crate) fn started(buf: &[u8], progress: &Progress, limits: &Limits) -> Result<Option<Started>, ParseError> {
    if progress.body.is_none() {
        return Ok(None);
    }
    let mut fields = FieldSlots::new();
    let head = parse_head(buf, &mut fields, limits)?.ok_or(ParseError::Malformed)?;
    let (parts, _) = head.to_request(Bytes::new())?.into_parts();
    Ok(Some(Started {
        parts,
        head_len: head.len,
        decoder: framing::Decoder::new(head.framing, limits),
        expects_continue: head.expects_continue(),
    }))
}

/// What [`next`] found at the start of a buffer.
// Returned once per request and moved straight into a worker's job: boxing the
// request would cost an allocation each time to save a move.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Next {
    /// Not a whole request yet.
    Partial {
        /// True when the head is complete, the request is HTTP/1.1 with
        /// `Expect: 100-continue`, its body is not empty, and no byte of it has arrived: the
        /// client is waiting for a `100 Continue` before sending it.
        expects_continue: bool,
    },
    /// A whole request, built, which used `buf[..len]`.
    Complete {
        /// The request, body decoded (chunked data concatenated, trailers dropped).
        request: crate::Request,
        /// Bytes the request took, head and body: a pipelined next request starts at
        /// `buf[len..]`.
        len: usize,
    },
}

/// Builds the first request in `buf` once it has all arrived, or says why it is refused.
///
/// `progress` is where the last call on the same buffer (fewer bytes of it) stopped: a body is
/// walked from there, so a request that arrives in many reads costs about what it would cost
/// in one. Until the request is complete nothing is allocated; the body is decoded only then,
/// and an empty body does not allocate.
pub fn next(buf: &[u8], progress: &mut Progress, limits: &Limits) -> Result<Next, ParseError> {
    let mut fields = FieldSlots::new();
    let (len, head) = match frame(buf, progress, &mut fields, limits)? {
        Framed::Partial { expects_continue } => return Ok(Next::Partial { expects_continue }),
        Framed::Whole { len, head } => (len, head),
    };
    let head = match head {
        Some(head) => head,
        // Parsed on an earlier read and not kept (it borrows that read's buffer): parsed
        // again, once, from the same bytes, which it passed then.
        None => parse_head(buf, &mut fields, limits)?.ok_or(ParseError::Malformed)?,
    };
    // Decoded only now that it is whole: a chunked body still arriving is walked, not copied.
    let whole = buf.get(head.len..len).unwrap_or_default();
    let Some((body, _)) = framing::decode(head.framing, whole, limits)? else {
        // `frame` found these bytes whole; decoding walks them by the same rules.
        return Ok(Next::Partial {
            expects_continue: false,
        });
    };
    Ok(Next::Complete {
        request: head.to_request(body)?,
        len,
    })
}

/// What [`frame`] found: [`Next`] before anything is built.
enum Framed<'h, 'b> {
    /// Not a whole request yet; `expects_continue` as in [`Next::Partial`].
    Partial { expects_continue: bool },
    /// A whole request of `len` bytes, with its head if this call parsed it (a call that
    /// resumed in the body did not).
    Whole { len: usize, head: Option<Head<'h, 'b>> },
}

/// Where the request at the start of `buf` ends, if it has all arrived, without copying
/// anything. The one place that decides it.
fn frame<'h, 'b>(
    buf: &'b [u8],
    progress: &mut Progress,
    fields: &'h mut FieldSlots<'b>,
    limits: &Limits,
) -> Result<Framed<'h, 'b>, ParseError> {
    let framed = resume(buf, progress, fields, limits);
    if framed.is_err() {
        *progress = Progress::default();
    }
    framed
}

fn resume<'h, 'b>(
    buf: &'b [u8],
    progress: &mut Progress,
    fields: &'h mut FieldSlots<'b>,
    limits: &Limits,
) -> Result<Framed<'h, 'b>, ParseError> {
    let (head, body) = match &mut progress.body {
        Some(body) => (None, body),
        None => {
            let Some(head) = parse_head(buf, fields, limits)? else {
                return Ok(Framed::Partial {
                    expects_continue: false,
                });
            };
            let body = progress.body.insert(BodyProgress {
                head_len: head.len,
                expects_continue: head.expects_continue(),
                walker: Walker::new(head.framing, limits),
            });
            (Some(head), body)
        }
    };
    let rest = buf.get(body.head_len..).unwrap_or_default();
    Ok(match body.walker.framed_len(rest, limits)? {
        Some(body_len) => Framed::Whole {
            len: body.head_len + body_len,
            head,
        },
        None => Framed::Partial {
            expects_continue: rest.is_empty() && body.expects_continue,
        },
    })
}

#[cfg(test)]
mod tests {
    use ::http::{HeaderMap, Method, Uri, Version};
    use bytes::Bytes;

    use super::*;
    use crate::h1::error::{MAX_HEADERS, TEST_LIMITS as LIMITS};

    /// What [`next`] says about a buffer seen for the first time.
    fn fresh(buf: &[u8], limits: &Limits) -> Result<Next, ParseError> {
        next(buf, &mut Progress::default(), limits)
    }

    /// What [`next`] said, the request taken apart so that two answers compare.
    // Built and compared once per call in tests: its size does not matter.
    #[allow(clippy::large_enum_variant)]
    #[derive(Debug, PartialEq)]
    enum Said {
        Partial {
            expects_continue: bool,
        },
        Complete {
            len: usize,
            request: (Method, Uri, Version, HeaderMap, Bytes),
        },
    }

    fn said(next: Result<Next, ParseError>) -> Result<Said, ParseError> {
        Ok(match next? {
            Next::Partial { expects_continue } => Said::Partial { expects_continue },
            Next::Complete { request, len } => {
                let (parts, body) = request.into_parts();
                Said::Complete {
                    len,
                    request: (
                        parts.method,
                        parts.uri,
                        parts.version,
                        parts.headers,
                        body.as_bytes().cloned().expect("the codec keeps bodies in memory"),
                    ),
                }
            }
        })
    }

    /// What [`next`] should say about an input.
    #[derive(Clone, Copy, Debug)]
    enum Want {
        /// A whole request that uses all of the input.
        Whole,
        /// A whole request, followed by these bytes of the input (a pipelined request).
        FollowedBy(&'static [u8]),
        /// Not a whole request yet, nothing to send meanwhile.
        Partial,
        /// The head is complete and the client waits for `100 Continue`.
        Continue,
        /// Refused.
        Fail(ParseError),
    }

    use ParseError::*;
    use Want::*;

    #[rustfmt::skip]
    const CASES: &[(&str, &[u8], Want)] = &[
        ("simple GET", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", Whole),
        ("HEAD", b"HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("bare LF line endings", b"GET / HTTP/1.1\nHost: a\n\n", Whole),
        ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("query", b"GET /search?q=[1]&x={y}|z HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("absolute-form", b"GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n", Whole),
        ("asterisk-form", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("authority-form", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", Whole),
        ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Fail(BadHost)),
        ("empty Host with OWS", b"GET / HTTP/1.0\r\nHost:  \r\n\r\n", Fail(BadHost)),
        ("Host with only a port", b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", Fail(BadHost)),
        ("Host with an empty IP literal", b"GET / HTTP/1.1\r\nHost: []:80\r\n\r\n", Fail(BadHost)),
        ("IPv6 Host", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", Whole),
        ("HTTP/1.0 without Host", b"GET / HTTP/1.0\r\n\r\n", Whole),
        ("pipelined", b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", FollowedBy(b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n")),
        ("pipelined after a body", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET", FollowedBy(b"GET")),
        ("head not complete", b"GET / HTTP/1.1\r\nHost: a\r\n", Partial),
        ("empty buffer", b"", Partial),
        ("only empty lines", b"\r\n\r\n", Partial),
        ("POST with body", b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", Whole),
        ("POST body partial", b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", Partial),
        ("Content-Length: 0", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", Whole),
        ("identical Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", Whole),
        ("Content-Length list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2 , 2\r\n\r\nhi", Whole),
        ("chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Whole),
        ("chunked, any case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", Whole),
        ("chunked partial", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", Partial),
        ("chunked, extensions", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\nhi\r\n0\r\n\r\n", Whole),
        ("chunked, trailers", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nT: v\r\n\r\n", Whole),
        ("chunked, empty coding list elements", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", Whole),
        ("100-continue", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n", Continue),
        ("100-continue, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n", Continue),
        ("100-continue, body started", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhe", Partial),
        ("100-continue, no body", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", Whole),
        ("100-continue in HTTP/1.0", b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", Partial),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\n", Fail(UnsupportedVersion)),
        ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", Fail(UnsupportedVersion)),
        ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", Fail(UnsupportedVersion)),
        // RFC 9110 §2.5: a later 1.x is served as 1.1.
        ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", Whole),
        ("HTTP/1.9, bare LFs, then more", b"GET / HTTP/1.9\nHost: a\n\nGET", FollowedBy(b"GET")),
        ("HTTP/1.2 with a body", b"POST / HTTP/1.2\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", Whole),
        ("HTTP/1.2, chunked", b"POST / HTTP/1.2\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Whole),
        ("HTTP/1.2 needs Host", b"GET / HTTP/1.2\r\n\r\n", Fail(MissingHost)),
        ("HTTP/1.2, head incomplete", b"GET / HTTP/1.2\r\nHost: a\r\n", Partial),
        ("HTTP/1.2, CR then no LF", b"GET / HTTP/1.2\rX", Fail(Malformed)),
        ("HTTP/1.2, bad field", b"GET / HTTP/1.2\r\nHost : a\r\n\r\n", Fail(Malformed)),
        ("HTTP/1.2, head too large", b"GET / HTTP/1.2\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", Fail(HeadersTooLarge)),
        // RFC 9112 §3: a method longer than any implemented is 501, as soon as it is too long.
        ("method at the limit", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF / HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("long method", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\nHost: a\r\n\r\n", Fail(MethodTooLong)),
        ("long method, line incomplete", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", Fail(MethodTooLong)),
        ("long method after empty lines", b"\r\n\nABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", Fail(MethodTooLong)),
        ("long method after a lone CR", b"\r\rABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", Fail(Malformed)),
        ("bad byte in a long method", b"ABCDEFGHIJ\x01LMNOPQRSTUVWXYZABCDEFG", Fail(Malformed)),
        ("HTTP/2 without minor", b"GET / HTTP/2\r\n\r\n", Fail(Malformed)),
        ("HTTP/1.10", b"GET / HTTP/1.10\r\n\r\n", Fail(Malformed)),
        ("not HTTP", b"GET / FTP/1.1\r\n\r\n", Fail(Malformed)),
        ("no version", b"GET /\r\n\r\n", Fail(Malformed)),
        ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", Fail(Malformed)),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", Fail(Malformed)),
        ("control byte in value", b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", Fail(Malformed)),
        ("relative target", b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("fragment in target", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("unescaped < in target", b"GET /<a> HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("asterisk-form with GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("CONNECT to a path", b"CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("CONNECT without port", b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", Fail(Malformed)),
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", Fail(MissingHost)),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", Fail(DuplicateHost)),
        ("two Hosts in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", Fail(DuplicateHost)),
        ("Host with a path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Fail(BadHost)),
        ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", Fail(BadHost)),
        ("Host with a bad port", b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", Fail(BadHost)),
        ("differing Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", Fail(BadContentLength)),
        ("differing Content-Length list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 3\r\n\r\nhi", Fail(BadContentLength)),
        ("signed Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nhi", Fail(BadContentLength)),
        ("hex Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x2\r\n\r\nhi", Fail(BadContentLength)),
        ("space in Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", Fail(BadContentLength)),
        ("empty Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", Fail(BadContentLength)),
        ("overflowing Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", Fail(BadContentLength)),
        ("Content-Length with chunked", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(ContentLengthWithTransferEncoding)),
        ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(TransferEncodingInHttp10)),
        ("gzip, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Fail(UnknownTransferCoding)),
        ("gzip on its own line, then chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(UnknownTransferCoding)),
        ("chunked, gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Fail(ChunkedNotFinal)),
        ("gzip alone", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", Fail(ChunkedNotFinal)),
        ("unknown coding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: bogus\r\n\r\n", Fail(ChunkedNotFinal)),
        ("chunked, then chunked on its own line", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(ChunkedNotFinal)),
        ("chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Fail(ChunkedNotFinal)),
        ("empty Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", Fail(ChunkedNotFinal)),
        ("bad chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n", Fail(BadChunk)),
        ("long target", b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", Fail(UriTooLong)),
        ("long target, line incomplete", b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Fail(UriTooLong)),
        ("long target, then garbage", b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \x01\r\n\r\n", Fail(UriTooLong)),
        ("target at the limit", b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", Whole),
        ("head at the limit", b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", Whole),
        ("large head", b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", Fail(HeadersTooLarge)),
        ("large head, incomplete", b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Fail(HeadersTooLarge)),
        ("endless empty lines", b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", Fail(HeadersTooLarge)),
        ("large Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n", Fail(BodyTooLarge)),
        ("Content-Length at the limit", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n\r\naaaaaaaaaaaaaaaa", Whole),
        ("large chunk", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n", Fail(BodyTooLarge)),
    ];

    /// Whether `next` on a fresh progress gives `want`.
    fn gives(input: &[u8], want: Want) -> bool {
        match (fresh(input, &LIMITS), want) {
            (Ok(Next::Partial { expects_continue }), Partial) => !expects_continue,
            (Ok(Next::Partial { expects_continue }), Continue) => expects_continue,
            (Ok(Next::Complete { len, .. }), Whole) => len == input.len(),
            (Ok(Next::Complete { len, .. }), FollowedBy(rest)) => len == input.len() - rest.len(),
            (Err(error), Fail(want)) => error == want,
            _ => false,
        }
    }

    #[test]
    fn table() {
        for &(name, input, want) in CASES {
            let got = fresh(input, &LIMITS);
            assert!(gives(input, want), "{name}: want {want:?}, got {got:?}");
        }
    }

    /// However the bytes are split across reads, a request is `Partial` until its last byte
    /// arrives and refused no earlier than the byte that makes it wrong.
    #[test]
    fn every_prefix_is_partial_or_the_same_answer() {
        for &(name, input, want) in CASES {
            let end = match want {
                FollowedBy(rest) => input.len() - rest.len(),
                _ => input.len(),
            };
            for split in 0..end {
                match (fresh(&input[..split], &LIMITS), want) {
                    (Ok(Next::Partial { .. }), _) => {}
                    (Err(error), Fail(want)) if error == want => {}
                    (got, _) => panic!("{name}: {split} bytes give {got:?}, all give {want:?}"),
                }
            }
        }
    }

    /// Fed read after read with the [`Progress`] kept between them, as a connection feeds
    /// it, `next` says of each buffer what it says of the same bytes seen at once: one byte
    /// per read, and two reads split anywhere.
    #[test]
    fn read_by_read_is_the_same_as_at_once() {
        for &(name, input, _) in CASES {
            let mut progress = Progress::default();
            for end in 0..=input.len() {
                let resumed = said(next(&input[..end], &mut progress, &LIMITS));
                let at_once = said(fresh(&input[..end], &LIMITS));
                assert_eq!(resumed, at_once, "{name}: byte by byte, at {end}");
                if !matches!(resumed, Ok(Said::Partial { .. })) {
                    break;
                }
            }
            for split in 0..=input.len() {
                let mut progress = Progress::default();
                let first = said(next(&input[..split], &mut progress, &LIMITS));
                assert_eq!(first, said(fresh(&input[..split], &LIMITS)), "{name}: at {split}");
                if matches!(first, Ok(Said::Partial { .. })) {
                    let whole = said(next(input, &mut progress, &LIMITS));
                    assert_eq!(whole, said(fresh(input, &LIMITS)), "{name}: resumed at {split}");
                }
            }
        }
    }

    /// A refusal resets the progress: asking again gives the same refusal.
    #[test]
    fn a_refusal_is_repeated() {
        for &(name, input, want) in CASES {
            if let Fail(want) = want {
                let mut progress = Progress::default();
                assert_eq!(said(next(input, &mut progress, &LIMITS)), Err(want), "{name}");
                assert_eq!(said(next(input, &mut progress, &LIMITS)), Err(want), "{name}, again");
            }
        }
    }

    #[test]
    fn too_many_header_fields() {
        let limits = Limits {
            max_header_bytes: 8192,
            ..LIMITS
        };
        let request = |fields: usize| {
            let mut request = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
            for i in 1..fields {
                request.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            request
        };
        let at_limit = request(MAX_HEADERS);
        assert!(matches!(
            fresh(&at_limit, &limits),
            Ok(Next::Complete { len, .. }) if len == at_limit.len()
        ));
        assert_eq!(
            fresh(&request(MAX_HEADERS + 1), &limits).map(|_| ()),
            Err(HeadersTooLarge)
        );
    }

    /// The complete request in `input`, built.
    fn built(input: &[u8]) -> crate::Request {
        match fresh(input, &LIMITS) {
            Ok(Next::Complete { request, .. }) => request,
            got => panic!("{:?}: {got:?}", input.escape_ascii().to_string()),
        }
    }

    #[test]
    fn builds_the_request() {
        // input, method, target, version, body
        type Row = (&'static [u8], &'static str, &'static str, Version, &'static [u8]);
        #[rustfmt::skip]
        let table: &[Row] = &[
            (b"GET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/a?b=c", Version::HTTP_11, b""),
            (b"GET / HTTP/1.0\r\n\r\n", "GET", "/", Version::HTTP_10, b""),
            (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", "GET", "/", Version::HTTP_11, b""),
            (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", Version::HTTP_11, b""),
            (b"GET http://h:8080/p HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "http://h:8080/p", Version::HTTP_11, b""),
            (b"PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n", "PURGE", "/x", Version::HTTP_11, b""),
            (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET", "POST", "/", Version::HTTP_11, b"hello"),
            (b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n", "PUT", "/", Version::HTTP_11, b"abcde"),
        ];
        for &(input, method, uri, version, body) in table {
            let request = built(input);
            assert_eq!(request.method(), method);
            assert_eq!(request.uri(), uri);
            assert_eq!(request.version(), version);
            assert_eq!(request.body().as_bytes().unwrap(), body);
        }
    }

    #[test]
    fn keeps_every_header_line() {
        let input = b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\nX-Empty:\r\nX-Pad:  v  \r\n\r\n";
        let request = built(input);
        let headers = request.headers();
        assert_eq!(headers.len(), 5);
        assert_eq!(headers["host"], "h");
        let accept: Vec<_> = headers.get_all("accept").iter().collect();
        assert_eq!(accept, ["a", "b"]);
        assert_eq!(headers["x-empty"], "");
        assert_eq!(headers["x-pad"], "v");
        assert!(request.body().is_empty());
    }

    proptest::proptest! {
        /// Whatever the bytes, `next` does not panic; a head [`parse_head`] accepts builds a
        /// request (never a late `Malformed` after the request was judged complete); and fed
        /// in two reads it says what it says of the bytes at once.
        #[test]
        fn any_input_is_judged_the_same_however_it_arrives(
            case in 0..CASES.len(),
            cut in 0usize..200,
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            split in 0usize..240,
        ) {
            let (_, valid, _) = CASES[case];
            let mut input = valid[..cut.min(valid.len())].to_vec();
            input.extend_from_slice(&noise);
            if let Ok(Some(head)) = parse_head(&input, &mut FieldSlots::new(), &LIMITS) {
                let built = head.to_request(Bytes::new());
                proptest::prop_assert!(built.is_ok(), "{:?}", built);
            }
            let at_once = said(fresh(&input, &LIMITS));
            let mut progress = Progress::default();
            let split = split.min(input.len());
            if matches!(said(next(&input[..split], &mut progress, &LIMITS)), Ok(Said::Partial { .. })) {
                proptest::prop_assert_eq!(said(next(&input, &mut progress, &LIMITS)), at_once);
            }
        }
    }
}
