//! Writing a response head: status line, the server's own headers, the handler's
//! headers, and framing (RFC 9112 §4, §6; RFC 9110 §6.6, §8.6).

use std::fmt;

use ::http::header::{self, HeaderName, HeaderValue};
use ::http::{HeaderMap, Method, StatusCode, Version};

use super::date;
use super::persistence::Persistence;
use crate::body::{Body, BodyReader};
use crate::stream::BodyStream;
use crate::upgrade::OnUpgrade;

/// The `Server` header nioserve sends unless the handler set one.
const SERVER: &[u8] = concat!("Server: nioserve/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes();

/// The interim response to `Expect: 100-continue` (RFC 9110 §10.1.1).
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Which part of the body goes on the wire after the head.
#[derive(Debug)]
pub enum Payload {
    /// Nothing: the response is its head (an empty body, `HEAD`, `204`, `304`).
    None,
    /// These bytes.
    Bytes(bytes::Bytes),
    /// This part of a file.
    File(crate::body::FileRegion),
    /// A body its producer is still sending: written as it comes, framed as chunks of the
    /// chunked transfer coding when `chunked`, as they are otherwise (its length was
    /// declared, or the connection's close ends it).
    Stream {
        /// Where the bytes come from.
        body: BodyStream,
        /// Whether each piece goes out as a chunk.
        chunked: bool,
    },
    /// Nothing: the head was a `101 Switching Protocols`, and the connection goes to
    /// this callback.
    Upgrade(OnUpgrade),
    /// A body read from a `Read` as the socket takes it, framed as a stream's is.
    Reader {
        /// Where the bytes come from.
        body: BodyReader,
        /// Whether each piece goes out as a chunk.
        chunked: bool,
    },
}

impl Payload {
    /// How many bytes it writes, if that is known: not for a stream, whose framing and
    /// pace are the producer's.
    pub fn len(&self) -> Option<u64> {
        match self {
            Payload::None => Some(0),
            Payload::Bytes(bytes) => Some(bytes.len() as u64),
            Payload::File(region) => Some(region.len()),
            Payload::Upgrade(_) => Some(0),
            Payload::Stream { .. } | Payload::Reader { .. } => None,
        }
    }

    /// Whether it is known to write nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// Why a handler's response cannot go on the wire as it is; the server answers `500`
/// instead (see [`Handler`](crate::Handler) for the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A `1xx` status as the final response (RFC 9110 §15.2): the client would wait for
    /// another response on a connection it then reads as HTTP again. A `101 Switching
    /// Protocols` is sent only by `encode_switch`, for a handler that hands the
    /// connection over ([`OnUpgrade`]); here it is one more interim status.
    Interim(u16),
    /// A status outside 100–599 (`http::StatusCode` takes up to 999): RFC 9110 §15
    /// defines no class for it, so a client cannot tell what it means.
    Unclassed(u16),
    /// A `Content-Length` that is not a decimal number, or several that differ
    /// (RFC 9110 §8.6).
    Length,
    /// Content with `204 No Content` (RFC 9110 §15.3.5): it could never be sent. The
    /// length, if the body knows it.
    ContentIn204(Option<u64>),
    /// A `304` whose `Content-Length` is not the length of the body it carries: it
    /// would tell the client a wrong length for the representation (RFC 9110 §8.6).
    LengthContradicts {
        /// The length the handler's `Content-Length` states.
        declared: u64,
        /// The length of the body it carries.
        body: u64,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Interim(status) => write!(f, "{status} is an interim status, not a final response"),
            Invalid::Unclassed(status) => write!(f, "{status} is not an HTTP status (100-599)"),
            Invalid::Length => f.write_str("Content-Length is not one decimal number"),
            Invalid::ContentIn204(Some(len)) => write!(f, "204 No Content with {len} bytes of content"),
            Invalid::ContentIn204(None) => f.write_str("204 No Content with a streamed body"),
            Invalid::LengthContradicts { declared, body } => {
                write!(f, "304 says Content-Length {declared} but carries {body} bytes")
            }
        }
    }
}

/// Appends the head of `response` to `out` and says which body bytes follow it, or
/// says why the response cannot be sent (then `out` is left as it was).
///
/// The server owns the framing: `Transfer-Encoding`, `Connection` and `Keep-Alive`
/// from the handler are dropped, and `Content-Length` always describes the body a
/// `GET` would get (RFC 9110 §8.6). A `HEAD` response, a `304` and a `204` carry no
/// body (RFC 9112 §6.3). A `Content-Length` set by the handler is kept only where no
/// body is sent and the handler knows the length better (`HEAD`, `304`); anywhere
/// else the body decides, and a `204` never has one. A streamed body of unknown length
/// goes out with `Transfer-Encoding: chunked` to an HTTP/1.1 client (RFC 9112 §7.1), and
/// with no framing to an HTTP/1.0 one: `persistence` then closes the connection after it
/// ([`Why::UnframedBody`](super::persistence::Why::UnframedBody)).
pub fn encode(
    out: &mut Vec<u8>,
    method: &Method,
    version: Version,
    response: crate::Response,
    persistence: Persistence,
) -> Result<Payload, Invalid> {
    let (parts, body) = response.into_parts();
    let status = parts.status;
    match status.as_u16() {
        code @ 100..=199 => return Err(Invalid::Interim(code)),
        code @ 600.. => return Err(Invalid::Unclassed(code)),
        _ => {}
    }
    if status == StatusCode::NO_CONTENT && !body.is_empty() {
        return Err(Invalid::ContentIn204(body.len()));
    }
    let start = out.len();
    let declared = match write_head(out, status, &parts.headers) {
        Ok(declared) => declared,
        Err(invalid) => {
            out.truncate(start);
            return Err(invalid);
        }
    };

    let not_modified = status == StatusCode::NOT_MODIFIED;
    let head_only = method == Method::HEAD || not_modified || status == StatusCode::NO_CONTENT;
    let length = if status == StatusCode::NO_CONTENT {
        // RFC 9110 §8.6: never in a 204.
        None
    } else if not_modified {
        // A 304 may only repeat the length the GET would have had: the handler's, which
        // must agree with the body it was built from, if it kept one.
        match (declared, body.len()) {
            (Some(declared), Some(len)) if len > 0 && declared != len => {
                out.truncate(start);
                return Err(Invalid::LengthContradicts { declared, body: len });
            }
            (declared, _) => declared,
        }
    } else if head_only && body.is_empty() {
        declared.or(Some(0))
    } else if head_only {
        // A HEAD: the length a GET would get, if the body or the handler knows it.
        body.len().or(declared)
    } else {
        body.len()
    };
    // A body of unknown length: chunked where the client reads it (RFC 9112 §7.1).
    let chunked = !head_only && length.is_none() && version != Version::HTTP_10;
    if let Some(length) = length {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
        out.extend_from_slice(b"\r\n");
    } else if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }

    match persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAlive10 { timeout_secs, max } => {
            out.extend_from_slice(b"Connection: keep-alive\r\nKeep-Alive: timeout=");
            out.extend_from_slice(itoa::Buffer::new().format(timeout_secs).as_bytes());
            out.extend_from_slice(b", max=");
            out.extend_from_slice(itoa::Buffer::new().format(max).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Persistence::Close(_) => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");

    if head_only {
        return Ok(Payload::None);
    }
    Ok(match body {
        Body::Empty => Payload::None,
        Body::Bytes(bytes) => Payload::Bytes(bytes),
        Body::File(region) => Payload::File(region),
        Body::Stream(body) => Payload::Stream { body, chunked },
        Body::Reader(body) => Payload::Reader { body, chunked },
    })
}

/// Appends the head of a `101 Switching Protocols` response: the handler's headers (its
/// `Upgrade` among them) but for framing, and `Connection: upgrade` (RFC 9110 §7.8). No
/// body follows: the next bytes are the new protocol's.
///
/// # Errors
///
/// As [`encode`], for a `Content-Length` that is not a number (then `out` is left as it was).
pub(crate) fn encode_switch(out: &mut Vec<u8>, headers: &HeaderMap) -> Result<(), Invalid> {
    let start = out.len();
    if let Err(invalid) = write_head(out, StatusCode::SWITCHING_PROTOCOLS, headers) {
        out.truncate(start);
        return Err(invalid);
    }
    out.extend_from_slice(b"Connection: upgrade\r\n\r\n");
    Ok(())
}

/// Writes the status line, `Date` and `Server` unless the handler set them, and the
/// handler's headers but for framing; returns the `Content-Length` the handler declared.
fn write_head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap) -> Result<Option<u64>, Invalid> {
    write_status_line(out, status);
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"Date: ");
        date::append_now(out);
        out.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(header::SERVER) {
        out.extend_from_slice(SERVER);
    }
    let mut declared = None;
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH {
            declared = Some(content_length(value.as_bytes(), declared)?);
        }
        if is_framing_header(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    Ok(declared)
}

/// The length one `Content-Length` field value states, agreeing with `so_far` (what
/// earlier fields stated). RFC 9110 §8.6: `1*DIGIT`; a list of one repeated number is
/// the same number, anything else is invalid.
fn content_length(value: &[u8], so_far: Option<u64>) -> Result<u64, Invalid> {
    let mut length = so_far;
    for element in value.split(|&b| b == b',') {
        let digits = element.trim_ascii();
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Invalid::Length);
        }
        let n = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if length.is_some_and(|m| m != n) {
            return Err(Invalid::Length);
        }
        length = Some(n);
    }
    length.ok_or(Invalid::Length)
}

/// Appends a complete error response that closes the connection: a short `text/plain` one.
///
/// The response to a `HEAD` is the same head without the body (RFC 9110 §9.3.2): its
/// `Content-Length` says what a `GET` would have got. `method` is what the refused request
/// said, as far as it could be told ([`method_for_refusal`](super::head::method_for_refusal)).
///
/// `custom`, when given, is the `Content-Type` and the body instead of the one-line text.
pub(crate) fn encode_error(
    out: &mut Vec<u8>,
    method: &Method,
    status: StatusCode,
    detail: &str,
    custom: Option<(&HeaderValue, &[u8])>,
) {
    let reason = reason_phrase(status);
    let reason = if reason.is_empty() { "Error" } else { reason };
    let body_len = match custom {
        Some((_, body)) => body.len(),
        None => 3 + 1 + reason.len() + if detail.is_empty() { 0 } else { 2 + detail.len() } + 1,
    };
    write_status_line(out, status);
    out.extend_from_slice(b"Date: ");
    date::append_now(out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"Content-Type: ");
    match custom {
        Some((content_type, _)) => out.extend_from_slice(content_type.as_bytes()),
        None => out.extend_from_slice(b"text/plain; charset=utf-8"),
    }
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // The server's own 503 means "overloaded now" (a request that waited past the
        // queue timeout): RFC 9110 §10.2.3, when to try again.
        out.extend_from_slice(b"\r\nRetry-After: 1");
    }
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    if method == Method::HEAD {
        return;
    }
    if let Some((_, body)) = custom {
        out.extend_from_slice(body);
        return;
    }
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    if !detail.is_empty() {
        out.extend_from_slice(b": ");
        out.extend_from_slice(detail.as_bytes());
    }
    out.push(b'\n');
}

fn write_status_line(out: &mut Vec<u8>, status: StatusCode) {
    // nioserve speaks HTTP/1.1 to every client, 1.0 ones included (RFC 9110 §2.5).
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase of a status: RFC 9110's names (§15), where they differ from the older
/// ones the `http` crate has (413 was "Payload Too Large" in RFC 7231, 422 "Unprocessable
/// Entity" in RFC 4918).
fn reason_phrase(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Content Too Large",
        StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable Content",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// Headers the server writes itself, from the body and the connection's state.
fn is_framing_header(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONNECTION
        || name == "keep-alive"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::persistence::Why;
    use crate::Response;

    fn encoded(method: Method, response: Response, persistence: Persistence) -> (String, Payload) {
        let mut out = Vec::new();
        let payload = encode(&mut out, &method, Version::HTTP_11, response, persistence).expect("a valid response");
        (String::from_utf8(out).expect("ascii head"), payload)
    }

    fn header_lines(head: &str) -> Vec<&str> {
        head.split("\r\n").filter(|l| !l.starts_with("Date: ")).collect()
    }

    #[test]
    fn table() {
        struct Case {
            method: Method,
            status: u16,
            body: &'static str,
            handler_length: Option<&'static str>,
            persistence: Persistence,
            expect_lines: &'static [&'static str],
            expect_payload: usize,
        }
        let cases = [
            Case {
                method: Method::GET,
                status: 200,
                body: "Hello, World!",
                handler_length: None,
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 200 OK", "Content-Length: 13"],
                expect_payload: 13,
            },
            Case {
                method: Method::HEAD,
                status: 200,
                body: "Hello, World!",
                handler_length: None,
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 200 OK", "Content-Length: 13"],
                expect_payload: 0,
            },
            Case {
                method: Method::HEAD,
                status: 200,
                body: "",
                handler_length: Some("2048"),
                persistence: Persistence::KeepAlive,
                expect_lines: &["Content-Length: 2048"],
                expect_payload: 0,
            },
            Case {
                // A wrong handler-set length on a GET never reaches the wire.
                method: Method::GET,
                status: 200,
                body: "abc",
                handler_length: Some("99"),
                persistence: Persistence::Close(Why::ClientAsked),
                expect_lines: &["Content-Length: 3", "Connection: close"],
                expect_payload: 3,
            },
            Case {
                method: Method::GET,
                status: 204,
                body: "",
                handler_length: None,
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 204 No Content"],
                expect_payload: 0,
            },
            Case {
                // RFC 9110 §8.6: never a Content-Length in a 204, whatever the handler says.
                method: Method::GET,
                status: 204,
                body: "",
                handler_length: Some("5"),
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 204 No Content"],
                expect_payload: 0,
            },
            Case {
                // A 304 repeats the length the GET would have had, once.
                method: Method::GET,
                status: 304,
                body: "",
                handler_length: Some("2048, 2048"),
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 304 Not Modified", "Content-Length: 2048"],
                expect_payload: 0,
            },
            Case {
                method: Method::GET,
                status: 304,
                body: "",
                handler_length: None,
                persistence: Persistence::KeepAlive,
                expect_lines: &["HTTP/1.1 304 Not Modified"],
                expect_payload: 0,
            },
            Case {
                method: Method::GET,
                status: 200,
                body: "",
                handler_length: None,
                persistence: Persistence::KeepAlive10 {
                    timeout_secs: 5,
                    max: 99,
                },
                expect_lines: &[
                    "Content-Length: 0",
                    "Connection: keep-alive",
                    "Keep-Alive: timeout=5, max=99",
                ],
                expect_payload: 0,
            },
        ];
        for case in cases {
            let mut builder = ::http::Response::builder().status(case.status);
            if let Some(len) = case.handler_length {
                builder = builder.header(header::CONTENT_LENGTH, len);
            }
            let response = builder.body(case.body.into()).expect("valid response");
            let (head, payload) = encoded(case.method.clone(), response, case.persistence);
            let lines = header_lines(&head);
            for expected in case.expect_lines {
                assert!(
                    lines.contains(expected),
                    "{} {}: {expected:?} missing from {head:?}",
                    case.method,
                    case.status
                );
            }
            let content_lengths = lines
                .iter()
                .filter(|l| l.to_ascii_lowercase().starts_with("content-length"))
                .count();
            let wants_length = case
                .expect_lines
                .iter()
                .any(|l| l.to_ascii_lowercase().starts_with("content-length"));
            assert_eq!(content_lengths, usize::from(wants_length), "{head:?}");
            assert!(head.ends_with("\r\n\r\n"));
            assert!(lines.iter().any(|l| l.starts_with("Server: nioserve")));
            assert!(head.contains("\r\nDate: "));
            let sent = match payload {
                Payload::None => 0,
                Payload::Bytes(b) => b.len(),
                Payload::File(f) => f.len() as usize,
                Payload::Stream { .. } | Payload::Reader { .. } | Payload::Upgrade(_) => {
                    unreachable!("no stream among these cases")
                }
            };
            assert_eq!(sent, case.expect_payload, "{head:?}");
        }
    }

    /// A streamed body: chunked when its length is unknown and the client reads chunked,
    /// unframed to HTTP/1.0 (the close ends it), `Content-Length` when declared, and no
    /// body at all where none is sent.
    #[test]
    fn frames_a_streamed_body() {
        fn encoded(method: Method, version: Version, status: u16, sized: Option<u64>) -> (String, Option<bool>) {
            let (_sender, body) = match sized {
                Some(len) => Body::channel_sized(len, 1024),
                None => Body::channel(1024),
            };
            let mut response = crate::Response::new(body);
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            let mut out = Vec::new();
            let payload = encode(&mut out, &method, version, response, Persistence::KeepAlive).expect("valid");
            let chunked = match payload {
                Payload::Stream { chunked, .. } => Some(chunked),
                Payload::None => None,
                other => panic!("{other:?}"),
            };
            (String::from_utf8(out).unwrap(), chunked)
        }
        let (head, chunked) = encoded(Method::GET, Version::HTTP_11, 200, None);
        assert!(head.contains("\r\nTransfer-Encoding: chunked\r\n") && !head.contains("Content-Length"));
        assert_eq!(chunked, Some(true));
        let (head, chunked) = encoded(Method::GET, Version::HTTP_10, 200, None);
        assert!(
            !head.contains("Transfer-Encoding") && !head.contains("Content-Length"),
            "{head}"
        );
        assert_eq!(chunked, Some(false));
        let (head, chunked) = encoded(Method::GET, Version::HTTP_11, 200, Some(42));
        assert!(head.contains("\r\nContent-Length: 42\r\n") && !head.contains("Transfer-Encoding"));
        assert_eq!(chunked, Some(false));
        let (head, chunked) = encoded(Method::HEAD, Version::HTTP_11, 200, Some(42));
        assert!(head.contains("\r\nContent-Length: 42\r\n"), "{head}");
        assert_eq!(chunked, None, "a HEAD response sends no body");
        let (head, chunked) = encoded(Method::HEAD, Version::HTTP_11, 200, None);
        assert!(
            !head.contains("Transfer-Encoding") && !head.contains("Content-Length"),
            "{head}"
        );
        assert_eq!(chunked, None);

        let (_sender, body) = Body::channel(1024);
        let mut no_content = crate::Response::new(body);
        *no_content.status_mut() = StatusCode::NO_CONTENT;
        let invalid = encode(
            &mut Vec::new(),
            &Method::GET,
            Version::HTTP_11,
            no_content,
            Persistence::KeepAlive,
        );
        assert!(matches!(invalid, Err(Invalid::ContentIn204(None))));
    }

    #[test]
    fn handler_headers_pass_through_and_framing_headers_do_not() {
        let response = ::http::Response::builder()
            .header("x-custom", "1")
            .header(header::TRANSFER_ENCODING, "chunked")
            .header(header::SERVER, "mine")
            .body("x".into())
            .expect("valid response");
        let (head, _) = encoded(Method::GET, response, Persistence::KeepAlive);
        assert!(head.contains("\r\nx-custom: 1\r\n"));
        assert!(head.contains("\r\nserver: mine\r\n"));
        assert!(!head.contains("Server: nioserve"));
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding"));
    }

    #[test]
    fn invalid_responses_are_refused_and_leave_nothing_behind() {
        let cases: [(u16, &str, &[&str], Invalid); 9] = [
            (100, "", &[], Invalid::Interim(100)),
            (101, "", &[], Invalid::Interim(101)),
            (600, "", &[], Invalid::Unclassed(600)),
            (999, "x", &[], Invalid::Unclassed(999)),
            (200, "abc", &["3", "4"], Invalid::Length),
            (200, "abc", &["3, 4"], Invalid::Length),
            (200, "abc", &["three"], Invalid::Length),
            (204, "abc", &[], Invalid::ContentIn204(Some(3))),
            (304, "abc", &["4"], Invalid::LengthContradicts { declared: 4, body: 3 }),
        ];
        for (status, body, lengths, expected) in cases {
            let mut builder = ::http::Response::builder().status(status);
            for len in lengths {
                builder = builder.header(header::CONTENT_LENGTH, *len);
            }
            let response = builder.body(body.into()).expect("a response http accepts");
            let mut out = b"earlier".to_vec();
            let result = encode(
                &mut out,
                &Method::GET,
                Version::HTTP_11,
                response,
                Persistence::KeepAlive,
            );
            assert_eq!(result.err(), Some(expected), "{status} {lengths:?}");
            assert_eq!(out, b"earlier", "{status} {lengths:?}: nothing written");
        }
    }

    #[test]
    fn reason_phrases_are_rfc_9110s() {
        #[rustfmt::skip]
        let table = [
            (200, "OK"), (404, "Not Found"), (413, "Content Too Large"),
            (414, "URI Too Long"), (422, "Unprocessable Content"),
            (431, "Request Header Fields Too Large"), (505, "HTTP Version Not Supported"),
            (599, ""),
        ];
        for (code, reason) in table {
            let status = StatusCode::from_u16(code).expect("valid status");
            assert_eq!(reason_phrase(status), reason, "{code}");
            let mut out = Vec::new();
            write_status_line(&mut out, status);
            assert_eq!(out, format!("HTTP/1.1 {code} {reason}\r\n").as_bytes());
        }
    }

    #[test]
    fn content_length_values() {
        assert_eq!(content_length(b"0", None), Ok(0));
        assert_eq!(content_length(b" 42 ", None), Ok(42));
        assert_eq!(content_length(b"42,42", Some(42)), Ok(42));
        assert_eq!(
            content_length(b"9999999999999999999", None),
            Ok(9_999_999_999_999_999_999)
        );
        for bad in [&b""[..], b"-1", b"+1", b"1e3", b"42,", b"0x10", b"99999999999999999999"] {
            assert_eq!(content_length(bad, None), Err(Invalid::Length), "{bad:?}");
        }
        assert_eq!(content_length(b"41", Some(42)), Err(Invalid::Length));
    }

    /// Every status the server answers on its own: to `HEAD`, the head a `GET` gets, and
    /// not a byte after it.
    #[test]
    fn error_response_to_head_has_no_body() {
        for code in [400, 408, 413, 414, 431, 500, 501, 505] {
            let status = StatusCode::from_u16(code).expect("valid status");
            let (mut get, mut head) = (Vec::new(), Vec::new());
            encode_error(&mut get, &Method::GET, status, "why", None);
            encode_error(&mut head, &Method::HEAD, status, "why", None);
            let get = String::from_utf8(get).expect("ascii");
            let head = String::from_utf8(head).expect("ascii");
            let (get_head, body) = get.split_once("\r\n\r\n").expect("head ends");
            assert!(!body.is_empty(), "{code}");
            assert!(head.ends_with("\r\n\r\n"), "{code}: {head:?}");
            assert_eq!(
                header_lines(&head),
                header_lines(&format!("{get_head}\r\n\r\n")),
                "{code}"
            );
        }
    }

    #[test]
    fn error_response_is_complete_and_closes() {
        let mut out = Vec::new();
        encode_error(&mut out, &Method::GET, StatusCode::BAD_REQUEST, "missing Host", None);
        let text = String::from_utf8(out).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head ends");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("\r\nConnection: close"));
        assert_eq!(body, "400 Bad Request: missing Host\n");
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
