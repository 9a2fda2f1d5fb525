//! The request head: from the bytes a client sent to an [`http::Request`],
//! or the reason to refuse them (RFC 9112).
//!
//! The poller asks [`parse_next`] after every read: is a whole request buffered yet, and if so,
//! build it. Until it is whole the answer costs no allocation. A worker asks [`parse`] (the
//! same code) for requests pipelined behind the first, and the blocking model asks [`check`]
//! (whole yet? where does it end?) before it parses. All run one head parser (httparse, then
//! the rules of RFC 9112 on the target, `Host` and framing) and one body walker (in
//! [`body`]), so they cannot disagree about where a request ends or why it is
//! refused. None touches a socket: they take a slice that may stop anywhere, and a request
//! that has not all arrived is `Partial`/`None`, never an error.

use std::mem::MaybeUninit;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Method, StatusCode, Uri, Version};
use bytes::Bytes;

use super::body::{self, Framing, Walker};

/// Limits applied while parsing (filled from the server config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Most bytes the head may take: request line, header fields and the blank line that ends
    /// them. A chunked body's trailer section has a budget of its own of the same size.
    /// Over it: 431.
    pub(crate) max_header_bytes: usize,
    /// Longest request-target. Over it: 414.
    pub(crate) max_uri_bytes: usize,
    /// Longest body, after chunked decoding (chunk extensions count too). Over it: 413.
    pub(crate) max_body_bytes: usize,
}

/// Most header fields a request may have; more is a 431.
pub(crate) const MAX_HEADERS: usize = 64;

/// Longest method. RFC 9112 §3: a server answers 501 to a method longer than any it
/// implements. Handlers see every method, so no list says which those are; the longest in
/// IANA's method registry has 17 bytes (`UPDATEREDIRECTREF`).
pub(crate) const MAX_METHOD_BYTES: usize = 32;

/// Room for the field lines of one head.
///
/// httparse writes the fields it finds into `uninit`, left uninitialised: zeroing all 64
/// slots (2 KiB) first cost about 450 instructions per request. `spare` is initialised only
/// for the rare request whose version httparse does not take (`HTTP/1.2`), whose fields are
/// parsed on their own, by a function that wants initialised slots.
struct FieldSlots<'b> {
    uninit: [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
    spare: Option<[httparse::Header<'b>; MAX_HEADERS]>,
}

impl FieldSlots<'_> {
    fn new() -> Self {
        FieldSlots {
            uninit: [MaybeUninit::uninit(); MAX_HEADERS],
            spare: None,
        }
    }
}

/// The longest request-target `http::Uri` holds, whatever `max_uri_bytes` says.
const URI_LEN_CAP: usize = u16::MAX as usize - 1;

/// Why a request was refused.
///
/// Each maps to one status code. The connection is closed after the error response: once the
/// framing is in doubt, nobody can say where a next request would start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not HTTP/1.x: a bad request line, header field or request-target (400).
    Malformed,
    /// An HTTP/1.1 request without `Host` (400, RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` field (400, RFC 9112 §3.2).
    DuplicateHost,
    /// A `Host` that is not `host[:port]`, an empty one included (400, RFC 9112 §3.2).
    BadHost,
    /// A `Content-Length` that is not a number, or several that differ (400, RFC 9112 §6.3).
    BadContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (400, RFC 9112 §6.1).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400, RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// A final transfer coding other than `chunked`, `chunked` applied twice, or no coding
    /// at all: the body's length cannot be known (400, RFC 9112 §6.3, §7).
    ChunkedNotFinal,
    /// A transfer coding other than `chunked` before a final `chunked`, such as
    /// `gzip, chunked` (501, RFC 9112 §6.1).
    UnknownTransferCoding,
    /// A method over [`MAX_METHOD_BYTES`] (501, RFC 9112 §3).
    MethodTooLong,
    /// A chunked body that breaks the grammar of RFC 9112 §7.1 (400).
    BadChunk,
    /// A request-target over `max_uri_bytes` (414, RFC 9112 §3).
    UriTooLong,
    /// A head or trailer section over `max_header_bytes`, or more than [`MAX_HEADERS`]
    /// fields (431, RFC 6585 §5).
    HeadersTooLarge,
    /// A body over `max_body_bytes` (413, RFC 9110 §15.5.14).
    BodyTooLarge,
    /// An HTTP major version other than 1 (505, RFC 9110 §15.6.6). A later 1.x is served as
    /// 1.1 (RFC 9110 §2.5).
    UnsupportedVersion,
}

impl ParseError {
    /// The status code of the error response.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ParseError::Malformed
            | ParseError::MissingHost
            | ParseError::DuplicateHost
            | ParseError::BadHost
            | ParseError::BadContentLength
            | ParseError::ContentLengthWithTransferEncoding
            | ParseError::TransferEncodingInHttp10
            | ParseError::ChunkedNotFinal
            | ParseError::BadChunk => StatusCode::BAD_REQUEST,
            ParseError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ParseError::UriTooLong => StatusCode::URI_TOO_LONG,
            ParseError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ParseError::UnknownTransferCoding | ParseError::MethodTooLong => StatusCode::NOT_IMPLEMENTED,
            ParseError::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }

    /// A short human-readable reason, for the body of the error response.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ParseError::Malformed => "malformed request",
            ParseError::MissingHost => "missing Host header",
            ParseError::DuplicateHost => "more than one Host header",
            ParseError::BadHost => "invalid Host header",
            ParseError::BadContentLength => "invalid Content-Length",
            ParseError::ContentLengthWithTransferEncoding => "Transfer-Encoding with Content-Length",
            ParseError::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            ParseError::ChunkedNotFinal => "chunked must be the final transfer coding, applied once",
            ParseError::UnknownTransferCoding => "unsupported transfer coding",
            ParseError::MethodTooLong => "method not implemented",
            ParseError::BadChunk => "malformed chunked body",
            ParseError::UriTooLong => "request-target too long",
            ParseError::HeadersTooLarge => "request header fields too large",
            ParseError::BodyTooLarge => "request body too large",
            ParseError::UnsupportedVersion => "HTTP version not supported",
        }
    }
}

/// What the start of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Not a whole request yet. `expects_continue` is true when the head is complete, the
    /// request is HTTP/1.1 with `Expect: 100-continue`, its body is not empty, and no byte of
    /// it has arrived: the client is waiting for a `100 Continue` before sending it.
    Partial { expects_continue: bool },
    /// A whole request (head and body) occupies `buf[..len]`.
    Complete { len: usize },
}

/// How far the codec got with the request at the front of a buffer, kept between reads so
/// that each read is walked from where the last one stopped.
///
/// It describes the bytes at the front of the buffer and stays valid while they stay there
/// and more are only appended: whoever takes bytes off the front starts a new one
/// (`ReadBuf::consume` in `connection.rs` does, so the two cannot drift apart). After a
/// refusal it is reset, so asking again gives the same refusal.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Progress {
    /// `None` while the head has not all arrived. It is parsed again from its start on each
    /// read: httparse does not resume, and a head is at most `max_header_bytes`.
    body: Option<BodyProgress>,
}

/// A head that passed every check, and how far its body has been walked.
#[derive(Clone, Copy, Debug)]
struct BodyProgress {
    /// Bytes of the head, leading empty lines included.
    head_len: usize,
    /// The head asks for `100 Continue` (see [`Parsed::Partial`]).
    expects_continue: bool,
    walker: Walker,
}

/// Says whether `buf` starts with a whole request, without allocating.
///
/// Agrees exactly with [`parse`]: `Complete { len }` when `parse` would return a request that
/// used `len` bytes, `Partial` when it would return `None`, and the same errors. `progress`
/// is where the last call on the same buffer (fewer bytes of it) stopped.
pub(crate) fn check(buf: &[u8], progress: &mut Progress, limits: &Limits) -> Result<Parsed, ParseError> {
    let mut fields = FieldSlots::new();
    Ok(match frame(buf, progress, &mut fields, limits)? {
        Framed::Partial { expects_continue } => Parsed::Partial { expects_continue },
        Framed::Whole { len, .. } => Parsed::Complete { len },
    })
}

/// What [`frame`] found: [`Parsed`] before anything is built.
enum Framed<'h, 'b> {
    /// Not a whole request yet; `expects_continue` as in [`Parsed::Partial`].
    Partial { expects_continue: bool },
    /// A whole request of `len` bytes, with its head if this call parsed it (a call that
    /// resumed in the body did not).
    Whole { len: usize, head: Option<Head<'h, 'b>> },
}

/// Where the request at the start of `buf` ends, if it has all arrived, without copying
/// anything. The one place that decides it, for [`check`] and [`parse_next`] alike.
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

/// What [`parse_next`] found at the start of a buffer.
// Returned once per request and moved straight into a worker's job: boxing the
// request would cost an allocation each time to save a move.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Next {
    /// Not a whole request yet; `expects_continue` as in [`Parsed::Partial`].
    Partial { expects_continue: bool },
    /// A whole request, built, which used `buf[..len]`.
    Complete { request: crate::Request, len: usize },
}

/// Builds the first request in `buf` once it has all arrived: [`check`] and [`parse`] in one
/// pass, for the poller, which asks after every read and hands a whole request on at once.
///
/// `progress` is where the last call on the same buffer stopped: a body is walked from there,
/// so a request that arrives in many reads costs about what it would cost in one. Until the
/// request is complete nothing is allocated, as with [`check`].
pub(crate) fn parse_next(buf: &[u8], progress: &mut Progress, limits: &Limits) -> Result<Next, ParseError> {
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
    let Some((body, _)) = body::decode(head.framing, whole, limits)? else {
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

/// Builds the first request in `buf`, or returns `Ok(None)` if it has not all arrived.
///
/// Also returns how many bytes of `buf` the request used: a pipelined next request starts at
/// `buf[used..]`. The body is decoded (chunked data concatenated, trailers dropped); an empty
/// body does not allocate. For a buffer seen once (a worker's pipelined requests); the poller,
/// which sees a buffer grow, uses [`parse_next`] with the connection's [`Progress`].
pub(crate) fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(crate::Request, usize)>, ParseError> {
    Ok(match parse_next(buf, &mut Progress::default(), limits)? {
        Next::Partial { .. } => None,
        Next::Complete { request, len } => Some((request, len)),
    })
}

/// The method of the request at the start of `buf`, as far as a response the server writes
/// itself needs it: `HEAD` as soon as the request line says so, even if what follows it is
/// refused, so that the error response carries no body (RFC 9110 §9.3.2); `GET` otherwise,
/// including when the method cannot be told.
pub(crate) fn method_for_refusal(buf: &[u8]) -> Method {
    if buf[request_line_start(buf)..].starts_with(b"HEAD ") {
        Method::HEAD
    } else {
        Method::GET
    }
}

/// Whether the client wants the connection kept open after this request (RFC 9112 §9.3).
///
/// HTTP/1.1 connections persist unless `Connection` lists `close`; HTTP/1.0 connections only
/// if it lists `keep-alive` (the pre-1.1 opt-in, RFC 9112 Appendix C.2.2) and not `close`.
pub(crate) fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let close = header_has_token(headers, header::CONNECTION, "close");
    match version {
        Version::HTTP_11 => !close,
        Version::HTTP_10 => !close && header_has_token(headers, header::CONNECTION, "keep-alive"),
        _ => false,
    }
}

/// Whether the comma-separated header `name`, over all its lines, lists `token`
/// (compared case-insensitively, as `Connection` options are: RFC 9110 §7.6.1).
pub(crate) fn header_has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    list_elements(headers.get_all(name).iter().map(HeaderValue::as_bytes))
        .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
}

/// A complete request head that passed every check, borrowing from the buffer.
struct Head<'h, 'b> {
    method: &'b str,
    target: &'b str,
    version: Version,
    fields: &'h [httparse::Header<'b>],
    /// Bytes from the start of the buffer to the end of the blank line, leading empty lines
    /// included.
    len: usize,
    framing: Framing,
}

impl Head<'_, '_> {
    /// RFC 9110 §10.1.1: `100-continue` is the only expectation defined, and a server must
    /// ignore it in an HTTP/1.0 request.
    fn expects_continue(&self) -> bool {
        self.version == Version::HTTP_11
            && list_elements(values(self.fields, "expect"))
                .any(|expectation| expectation.eq_ignore_ascii_case(b"100-continue"))
    }

    /// Builds the request around its decoded body.
    ///
    /// The conversions accept everything `parse_head` let through (httparse's grammar for
    /// methods and fields is the `http` crate's, and `check_target` is at least as strict as
    /// `Uri`), so they do not fail; the errors are mapped rather than unwrapped all the same.
    fn to_request(&self, body: Bytes) -> Result<crate::Request, ParseError> {
        let mut request = ::http::Request::new(body);
        *request.method_mut() = Method::from_bytes(self.method.as_bytes()).map_err(|_| ParseError::Malformed)?;
        *request.uri_mut() = Uri::try_from(self.target).map_err(|_| ParseError::Malformed)?;
        *request.version_mut() = self.version;
        let headers = request.headers_mut();
        headers.reserve(self.fields.len());
        for field in self.fields {
            // `append`, not `insert`: a field sent on several lines keeps every line.
            headers.append(
                HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| ParseError::Malformed)?,
                HeaderValue::from_bytes(field.value).map_err(|_| ParseError::Malformed)?,
            );
        }
        Ok(request)
    }
}

/// Parses and checks the request head at the start of `buf`: `Ok(None)` until it is complete.
///
/// Everything that can refuse a request before its body is decided here, once, for both
/// [`check`] and [`parse`].
fn parse_head<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut FieldSlots<'b>,
    limits: &Limits,
) -> Result<Option<Head<'h, 'b>>, ParseError> {
    // httparse sees no byte past the head limit, and neither do the length checks: what lies
    // beyond it cannot change the answer, so the status a client gets does not depend on how
    // its bytes were split into reads (431 for an over-long head, whatever follows the limit).
    let window = &buf[..buf.len().min(limits.max_header_bytes + 1)];
    let FieldSlots { uninit, spare } = slots;
    let mut request = httparse::Request::new(&mut []);
    let status = request.parse_with_uninit_headers(window, uninit);
    check_lengths(window, &request, limits)?;
    let parsed = match status {
        Ok(httparse::Status::Complete(len)) => Some((len, None)),
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::Version) => match later_minor_version(window, &request)? {
            None => None,
            // RFC 9110 §2.5: a later minor version of HTTP/1 is handled as the highest one
            // we implement. httparse refuses it, so the fields are parsed on their own.
            Some(line_len) => {
                let fields = spare.insert([httparse::EMPTY_HEADER; MAX_HEADERS]);
                match httparse::parse_headers(&window[line_len..], fields) {
                    Ok(httparse::Status::Complete((len, fields))) => Some((line_len + len, Some(fields))),
                    Ok(httparse::Status::Partial) => None,
                    Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadersTooLarge),
                    Err(_) => return Err(ParseError::Malformed),
                }
            }
        },
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadersTooLarge),
        Err(_) => return Err(ParseError::Malformed),
    };
    // The limit covers the head as far as it has arrived, so a client cannot make us buffer
    // more by never finishing it.
    if parsed.map_or(buf.len(), |(len, _)| len) > limits.max_header_bytes {
        return Err(ParseError::HeadersTooLarge);
    }
    let Some((len, later_fields)) = parsed else {
        return Ok(None);
    };
    // A complete parse fills in every part of the request line (the version aside, on the
    // path that handles a later 1.x).
    let httparse::Request {
        method: Some(method),
        path: Some(target),
        version: minor,
        headers: fields,
    } = request
    else {
        return Err(ParseError::Malformed);
    };
    let (version, fields): (_, &[_]) = match (minor, later_fields) {
        (_, Some(fields)) => (Version::HTTP_11, fields),
        (Some(0), None) => (Version::HTTP_10, fields),
        (Some(1), None) => (Version::HTTP_11, fields),
        _ => return Err(ParseError::UnsupportedVersion),
    };
    check_target(method, target)?;
    check_host(version, fields)?;
    let framing = framing(version, fields, limits)?;
    Ok(Some(Head {
        method,
        target,
        version,
        fields,
        len,
        framing,
    }))
}

/// RFC 9112 §3: a server answers 501 to a method longer than any it implements, and 414 to a
/// request-target longer than it is willing to parse.
///
/// Checked whatever httparse made of the rest, even while the line is still arriving, so an
/// over-long method or target is refused as soon as it is known to be too long. Both are
/// measured within `window`, the bytes httparse sees: a limit that only bytes past the head
/// limit could cross is left to the head limit (431), whatever the split into reads.
fn check_lengths(window: &[u8], request: &httparse::Request<'_, '_>, limits: &Limits) -> Result<(), ParseError> {
    let start = request_line_start(window);
    // The method so far: the token characters httparse takes for one.
    let method_len = window[start..].iter().take_while(|&&b| body::is_tchar(b)).count();
    if method_len > MAX_METHOD_BYTES {
        return Err(ParseError::MethodTooLong);
    }
    let target_len = match (request.method, request.path) {
        (_, Some(target)) => target.len(),
        // The target so far: the bytes after the method and its space that httparse takes
        // for a target (anything but SP, controls and DEL). Measured the same way whether
        // httparse is still reading or has stopped at a bad byte, so the answer (414 for
        // a target over the limit, 400 for a bad byte within it) does not depend on how
        // the bytes were split into reads.
        (Some(method), None) => {
            let from = (start + method.len() + 1).min(window.len());
            window[from..]
                .iter()
                .position(|&b| b <= b' ' || b == 0x7f)
                .unwrap_or(window.len() - from)
        }
        _ => 0,
    };
    if target_len > limits.max_uri_bytes.min(URI_LEN_CAP) {
        return Err(ParseError::UriTooLong);
    }
    Ok(())
}

/// Where the request line starts: RFC 9112 §2.2 lets a server skip empty lines before it,
/// which httparse does (CRLF or a bare LF; a CR without its LF is where the line starts, and
/// httparse refuses it).
fn request_line_start(buf: &[u8]) -> usize {
    let mut start = 0;
    loop {
        match &buf[start..] {
            [b'\r', b'\n', ..] => start += 2,
            [b'\n', ..] => start += 1,
            _ => return start,
        }
    }
}

/// Judges a version httparse does not take. A later minor version of HTTP/1 (`HTTP/1.2`) is
/// served: returns the length of the request line, its line ending included. Another
/// `HTTP/<digit>.<digit>` gets 505 (RFC 9110 §15.6.6); anything else is not HTTP/1.x and gets
/// 400.
///
/// `Ok(None)` while what has arrived could still become a well-formed version.
fn later_minor_version(buf: &[u8], request: &httparse::Request<'_, '_>) -> Result<Option<usize>, ParseError> {
    // httparse reads the version after the method and the target, each followed by one space.
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(ParseError::Malformed);
    };
    let start = request_line_start(buf) + method.len() + 1 + target.len() + 1;
    let rest = buf.get(start..).unwrap_or_default();
    let end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
    let version = &rest[..end.unwrap_or(rest.len())];
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT
    const SHAPE: &[u8] = b"HTTP/#.#";
    let well_formed_so_far = version.len() <= SHAPE.len()
        && version.iter().zip(SHAPE).all(|(&b, &shape)| match shape {
            b'#' => b.is_ascii_digit(),
            _ => b == shape,
        });
    let Some(end) = end else {
        return if well_formed_so_far {
            Ok(None)
        } else {
            Err(ParseError::Malformed)
        };
    };
    if !well_formed_so_far || version.len() != SHAPE.len() {
        return Err(ParseError::Malformed);
    }
    // httparse takes 1.0 and 1.1 itself, so a 1.x here is a later one.
    if version[5] != b'1' {
        return Err(ParseError::UnsupportedVersion);
    }
    // The line ends as httparse ends it: CRLF, or a bare LF.
    match &rest[end..] {
        [b'\r', b'\n', ..] => Ok(Some(start + end + 2)),
        [b'\n', ..] => Ok(Some(start + end + 1)),
        [b'\r'] => Ok(None),
        _ => Err(ParseError::Malformed),
    }
}

/// RFC 9112 §3.2: the method decides which of the four forms the request-target may take.
///
/// The origin-form that nearly every request uses is checked here without allocating; the
/// forms only proxies and tunnels see are handed to `Uri`, which allocates.
fn check_target(method: &str, target: &str) -> Result<(), ParseError> {
    let valid = match target {
        // §3.2.4 asterisk-form, for a server-wide OPTIONS.
        "*" if method == "OPTIONS" => true,
        // §3.2.3 authority-form, `host:port` and nothing else, for CONNECT only.
        _ if method == "CONNECT" => Uri::try_from(target).is_ok_and(|uri| {
            uri.authority()
                .is_some_and(|authority| authority.as_str() == target && authority.port().is_some())
        }),
        // §3.2.1 origin-form: absolute-path [ "?" query ].
        _ if target.starts_with('/') => target.bytes().all(is_origin_form_char),
        // §3.2.2 absolute-form: a scheme and an authority (Uri refuses a scheme without one).
        _ => Uri::try_from(target).is_ok_and(|uri| uri.scheme().is_some()),
    };
    if valid {
        Ok(())
    } else {
        Err(ParseError::Malformed)
    }
}

/// The bytes an origin-form target may hold: visible ASCII except `"`, `<`, `>` and `` ` ``,
/// which RFC 3986 §2 leaves to percent-encoding, and `#`, since a fragment is never sent.
///
/// This keeps the `[]{}|^\` that browsers send unescaped in query strings, and is exactly
/// what `http::Uri` accepts in both a path and a query, so every target that passes converts.
fn is_origin_form_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'#' | b'<' | b'>' | b'`')
}

/// RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without `Host`, and to any
/// request with more than one `Host` line or an invalid one.
fn check_host(version: Version, fields: &[httparse::Header<'_>]) -> Result<(), ParseError> {
    let mut hosts = values(fields, "host");
    match (hosts.next(), hosts.next()) {
        // HTTP/1.0 predates Host.
        (None, _) if version == Version::HTTP_10 => Ok(()),
        (None, _) => Err(ParseError::MissingHost),
        (Some(_), Some(_)) => Err(ParseError::DuplicateHost),
        (Some(host), None) if is_valid_host(host) => Ok(()),
        (Some(_), None) => Err(ParseError::BadHost),
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), checked character by character: a
/// reg-name or IPv4 address, or an IP literal in brackets, then an optional port. The host
/// may not be empty: the target of a request to this server is an `http` URI, and RFC 9110
/// §4.2.1 has a recipient reject an `http` URI with an empty host as invalid.
fn is_valid_host(value: &[u8]) -> bool {
    // RFC 3986 §3.2.2: unreserved / pct-encoded / sub-delims.
    let is_name_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
    let (host_ok, port) = match value.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|&b| b == b']') {
            Some(end) => (
                end > 0 && literal[..end].iter().all(|&b| is_name_char(b) || b == b':'),
                &literal[end + 1..],
            ),
            None => return false,
        },
        None => {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            (end > 0 && value[..end].iter().all(|&b| is_name_char(b)), &value[end..])
        }
    };
    host_ok
        && match port {
            [] => true,
            [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
            _ => false,
        }
}

/// RFC 9112 §6.3: how the length of the request body is determined.
fn framing(version: Version, fields: &[httparse::Header<'_>], limits: &Limits) -> Result<Framing, ParseError> {
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

/// The values of every field line named `name` (case-insensitively), in order.
fn values<'a>(fields: &'a [httparse::Header<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    fields
        .iter()
        .filter(move |field| field.name.eq_ignore_ascii_case(name))
        .map(|field| field.value)
}

/// The elements of a comma-separated list spread over several field values
/// (RFC 9110 §5.6.1), optional whitespace trimmed. Empty elements are kept for the caller to
/// judge. Field values hold no CR or LF, so trimming ASCII whitespace trims exactly OWS.
fn list_elements<'a>(values: impl Iterator<Item = &'a [u8]>) -> impl Iterator<Item = &'a [u8]> {
    values
        .flat_map(|value| value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough that every limit can be crossed by a literal in the tables below.
    const LIMITS: Limits = Limits {
        max_header_bytes: 128,
        max_uri_bytes: 32,
        max_body_bytes: 16,
    };

    /// What [`check`] says about a buffer seen for the first time.
    fn fresh_check(buf: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
        check(buf, &mut Progress::default(), limits)
    }

    /// What [`check`] should say about an input.
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

    /// What [`parse`] must return for an input [`check`] judged `want`.
    fn parse_agrees(input: &[u8], want: Want) -> bool {
        match (parse(input, &LIMITS), want) {
            (Ok(None), Partial | Continue) => true,
            (Ok(Some((_, used))), Whole) => used == input.len(),
            (Ok(Some((_, used))), FollowedBy(rest)) => used == input.len() - rest.len(),
            (Err(error), Fail(want)) => error == want,
            _ => false,
        }
    }

    fn check_gives(input: &[u8], want: Want) -> bool {
        match (fresh_check(input, &LIMITS), want) {
            (Ok(Parsed::Partial { expects_continue }), Partial) => !expects_continue,
            (Ok(Parsed::Partial { expects_continue }), Continue) => expects_continue,
            (Ok(Parsed::Complete { len }), Whole) => len == input.len(),
            (Ok(Parsed::Complete { len }), FollowedBy(rest)) => len == input.len() - rest.len(),
            (Err(error), Fail(want)) => error == want,
            _ => false,
        }
    }

    #[test]
    fn check_table() {
        for &(name, input, want) in CASES {
            let got = fresh_check(input, &LIMITS);
            assert!(check_gives(input, want), "{name}: want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn parse_agrees_with_check() {
        for &(name, input, want) in CASES {
            let got = parse(input, &LIMITS).map(|parsed| parsed.map(|(_, used)| used));
            assert!(parse_agrees(input, want), "{name}: want {want:?}, got {got:?}");
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
                let prefix = &input[..split];
                match (fresh_check(prefix, &LIMITS), want) {
                    (Ok(Parsed::Partial { .. }), _) => {}
                    (Err(error), Fail(want)) if error == want => {}
                    (got, _) => panic!("{name}: {split} bytes give {got:?}, all give {want:?}"),
                }
                assert_eq!(
                    fresh_check(prefix, &LIMITS).map(|p| matches!(p, Parsed::Partial { .. })),
                    parse(prefix, &LIMITS).map(|p| p.is_none()),
                    "{name}: check and parse disagree at {split} bytes"
                );
            }
        }
    }

    #[test]
    fn every_status() {
        #[rustfmt::skip]
        let table = [
            (Malformed, 400), (MissingHost, 400), (DuplicateHost, 400), (BadHost, 400),
            (BadContentLength, 400), (ContentLengthWithTransferEncoding, 400),
            (TransferEncodingInHttp10, 400), (ChunkedNotFinal, 400), (BadChunk, 400),
            (BodyTooLarge, 413), (UriTooLong, 414), (HeadersTooLarge, 431),
            (UnknownTransferCoding, 501), (MethodTooLong, 501), (UnsupportedVersion, 505),
        ];
        for (error, status) in table {
            assert_eq!(error.status(), status, "{error:?}");
            assert!(!error.reason().is_empty(), "{error:?}");
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
        assert_eq!(
            fresh_check(&at_limit, &limits),
            Ok(Parsed::Complete { len: at_limit.len() })
        );
        assert_eq!(fresh_check(&request(MAX_HEADERS + 1), &limits), Err(HeadersTooLarge));
        assert_eq!(
            parse(&request(MAX_HEADERS + 1), &limits).map(|_| ()),
            Err(HeadersTooLarge)
        );
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
            let (request, _) = parse(input, &LIMITS).expect("valid request").expect("complete request");
            assert_eq!(request.method(), method);
            assert_eq!(request.uri(), uri);
            assert_eq!(request.version(), version);
            assert_eq!(request.body(), body);
        }
    }

    #[test]
    fn keeps_every_header_line() {
        let input = b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\nX-Empty:\r\nX-Pad:  v  \r\n\r\n";
        let (request, _) = parse(input, &LIMITS).unwrap().unwrap();
        let headers = request.headers();
        assert_eq!(headers.len(), 5);
        assert_eq!(headers["host"], "h");
        let accept: Vec<_> = headers.get_all("accept").iter().collect();
        assert_eq!(accept, ["a", "b"]);
        assert_eq!(headers["x-empty"], "");
        assert_eq!(headers["x-pad"], "v");
        assert!(request.body().is_empty());
    }

    /// Whatever byte sits in whatever part of a request, `check` and `parse` agree. `parse`
    /// would refuse what `check` accepted if httparse or `check_target` let through a byte
    /// that `http` refuses.
    #[test]
    fn check_and_parse_agree_on_every_byte_everywhere() {
        // Each request is split where the byte goes.
        #[rustfmt::skip]
        const AROUND: &[(&[u8], &[u8])] = &[
            (b"G", b"T / HTTP/1.1\r\nHost: a\r\n\r\n"),
            (b"GET /", b" HTTP/1.1\r\nHost: a\r\n\r\n"),
            (b"GET /a?", b" HTTP/1.1\r\nHost: a\r\n\r\n"),
            (b"GET http://a", b"/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            (b"CONNECT a:1", b" HTTP/1.1\r\nHost: a\r\n\r\n"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX", b": v\r\n\r\n"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: v", b"v\r\n\r\n"),
            (b"GET / HTTP/1.1\r\nHost: a", b"\r\n\r\n"),
        ];
        for &(before, after) in AROUND {
            for b in 0..=u8::MAX {
                let input = [before, &[b], after].concat();
                let checked = fresh_check(&input, &LIMITS).map(|parsed| match parsed {
                    Parsed::Complete { len } => Some(len),
                    Parsed::Partial { .. } => None,
                });
                let parsed = parse(&input, &LIMITS).map(|parsed| parsed.map(|(_, used)| used));
                assert_eq!(checked, parsed, "{:?}", input.escape_ascii().to_string());
            }
        }
    }

    /// Header field lines, as (name, value).
    type Lines = &'static [(&'static str, &'static str)];

    fn header_map(lines: Lines) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for &(name, value) in lines {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn keep_alive() {
        const HTTP_10: Version = Version::HTTP_10;
        const HTTP_11: Version = Version::HTTP_11;
        #[rustfmt::skip]
        let table: &[(Version, Lines, bool)] = &[
            (HTTP_11, &[], true),
            (HTTP_11, &[("connection", "close")], false),
            (HTTP_11, &[("connection", "Close")], false),
            (HTTP_11, &[("connection", "keep-alive, close")], false),
            (HTTP_11, &[("connection", "keep-alive"), ("connection", "close")], false),
            (HTTP_11, &[("connection", "closed")], true),
            (HTTP_11, &[("connection", "upgrade")], true),
            (HTTP_11, &[("x-connection", "close")], true),
            (HTTP_10, &[], false),
            (HTTP_10, &[("connection", "Keep-Alive")], true),
            (HTTP_10, &[("connection", "foo"), ("connection", " keep-alive ")], true),
            (HTTP_10, &[("connection", "keep-alive, close")], false),
            (Version::HTTP_2, &[], false),
        ];
        for &(version, lines, want) in table {
            let headers = header_map(lines);
            assert_eq!(wants_keep_alive(version, &headers), want, "{version:?} {lines:?}");
        }
    }

    #[test]
    fn has_token() {
        #[rustfmt::skip]
        let table: &[(Lines, &str, bool)] = &[
            (&[], "close", false),
            (&[("connection", "close")], "close", true),
            (&[("connection", "CLOSE")], "close", true),
            (&[("connection", "a,b,close")], "close", true),
            (&[("connection", "a, b"), ("connection", "c,\tclose ")], "close", true),
            (&[("connection", "closer, enclose")], "close", false),
            (&[("connection", ",,")], "close", false),
        ];
        for &(lines, token, want) in table {
            let headers = header_map(lines);
            let got = header_has_token(&headers, header::CONNECTION, token);
            assert_eq!(got, want, "{lines:?} {token}");
        }
    }

    proptest::proptest! {
        /// Whatever the bytes, `check` and `parse` agree, and neither panics.
        #[test]
        fn check_and_parse_agree_on_any_input(
            case in 0..CASES.len(),
            cut in 0usize..200,
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            let (_, valid, _) = CASES[case];
            let mut input = valid[..cut.min(valid.len())].to_vec();
            input.extend_from_slice(&noise);
            let checked = fresh_check(&input, &LIMITS).map(|parsed| match parsed {
                Parsed::Complete { len } => Some(len),
                Parsed::Partial { .. } => None,
            });
            let parsed = parse(&input, &LIMITS).map(|parsed| parsed.map(|(_, used)| used));
            proptest::prop_assert_eq!(checked, parsed);
        }
    }
}
