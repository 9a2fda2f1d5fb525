//! The request head: from the bytes a client sent to a checked [`Head`], and from it an
//! [`http::Request`], or the reason to refuse them (RFC 9112 §2-§5).
//!
//! httparse reads the request line and the field lines; the rules of RFC 9112 on the method,
//! the target, the version, `Host` and the framing fields are applied here, before a byte of
//! the body is looked at. The input is a slice that may stop anywhere: a head that has not all
//! arrived is `Ok(None)`, never an error.

use std::mem::MaybeUninit;

use ::http::header::{HeaderName, HeaderValue};
use ::http::{Method, Uri, Version};
use bytes::Bytes;

use super::error::{Limits, ParseError, MAX_HEADERS, MAX_METHOD_BYTES, URI_LEN_CAP};
use super::fields::{is_tchar, list_elements, values};
use super::framing::{self, Framing};

/// Room for the field lines of one head.
///
/// httparse writes the fields it finds into `uninit`, left uninitialised: zeroing all 64
/// slots (2 KiB) first cost about 450 instructions per request. `spare` is initialised only
/// for the rare request whose version httparse does not take (`HTTP/1.2`), whose fields are
/// parsed on their own, by a function that wants initialised slots.
pub(crate) struct FieldSlots<'b> {
    uninit: [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
    spare: Option<[httparse::Header<'b>; MAX_HEADERS]>,
}

impl FieldSlots<'_> {
    pub(crate) fn new() -> Self {
        FieldSlots {
            uninit: [MaybeUninit::uninit(); MAX_HEADERS],
            spare: None,
        }
    }
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

/// A complete request head that passed every check, borrowing from the buffer.
pub(crate) struct Head<'h, 'b> {
    method: &'b str,
    target: &'b str,
    version: Version,
    fields: &'h [httparse::Header<'b>],
    /// Bytes from the start of the buffer to the end of the blank line, leading empty lines
    /// included.
    pub(crate) len: usize,
    pub(crate) framing: Framing,
}

impl Head<'_, '_> {
    /// RFC 9110 §10.1.1: `100-continue` is the only expectation defined, and a server must
    /// ignore it in an HTTP/1.0 request.
    pub(crate) fn expects_continue(&self) -> bool {
        self.version == Version::HTTP_11
            && list_elements(values(self.fields, "expect"))
                .any(|expectation| expectation.eq_ignore_ascii_case(b"100-continue"))
    }

    /// Builds the request around its decoded body.
    ///
    /// The conversions accept everything `parse_head` let through (httparse's grammar for
    /// methods and fields is the `http` crate's, and `check_target` is at least as strict as
    /// `Uri`), so they do not fail; the errors are mapped rather than unwrapped all the same.
    pub(crate) fn to_request(&self, body: Bytes) -> Result<crate::Request, ParseError> {
        let mut request = ::http::Request::new(body.into());
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
/// Everything that can refuse a request before its body is decided here, once, for
/// [`request::next`](super::request::next).
pub(crate) fn parse_head<'h, 'b>(
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
    let framing = framing::decide(version, fields, limits)?;
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
    let method_len = window[start..].iter().take_while(|&&b| is_tchar(b)).count();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::error::TEST_LIMITS as LIMITS;

    /// Whatever byte sits in whatever part of a request, a head that [`parse_head`] accepts
    /// builds a request. It would not if httparse or `check_target` let through a byte that
    /// `http` refuses: [`request::next`](super::super::request::next) would then judge a
    /// request complete and refuse it when building it, a late `Malformed`.
    #[test]
    fn every_accepted_head_builds_with_any_byte_anywhere() {
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
                let mut slots = FieldSlots::new();
                if let Ok(Some(head)) = parse_head(&input, &mut slots, &LIMITS) {
                    let built = head.to_request(Bytes::new());
                    assert!(built.is_ok(), "{:?}: {built:?}", input.escape_ascii().to_string());
                }
            }
        }
    }
}
