//! Writing a response head: status line, the server's own headers, the handler's
//! headers, and framing (RFC 9112 §4, §6; RFC 9110 §6.6, §8.6).

use ::http::header::{self, HeaderName};
use std::time::Duration;

use ::http::{Method, StatusCode};

use crate::body::Body;
use crate::http::date;

/// The `Server` header nioserve sends unless the handler set one.
const SERVER: &[u8] = concat!("Server: nioserve/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes();

/// The interim response to `Expect: 100-continue` (RFC 9110 §10.1.1).
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the `Connection` header of a response says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// HTTP/1.1 persists by default: no header needed.
    KeepAlive,
    /// An HTTP/1.0 client asked for keep-alive: say yes, and for how long
    /// (`Keep-Alive: timeout=T, max=M`).
    KeepAlive10 { timeout_secs: u64, max: u32 },
    /// This is the last response on the connection, for this reason.
    Close(crate::connection::CloseReason),
}

/// Which part of the body goes on the wire after the head.
#[derive(Debug)]
pub(crate) enum Payload {
    None,
    Bytes(bytes::Bytes),
    File(crate::body::FileRegion),
}

/// Appends the head of `response` to `out` and says which body bytes follow it.
///
/// `Content-Length` always describes the body a `GET` would get (RFC 9110 §8.6);
/// a `HEAD` response, a `304` and a `1xx`/`204` carry no body (RFC 9112 §6.3).
/// A `Content-Length` set by the handler is kept only where no body is sent and the
/// handler knows the length better (`HEAD`, `304`): anywhere else the body decides.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    method: &Method,
    response: crate::Response,
    persistence: Persistence,
) -> Payload {
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let headers = &parts.headers;

    write_status_line(out, status);
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"Date: ");
        date::append_now(out);
        out.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(header::SERVER) {
        out.extend_from_slice(SERVER);
    }

    let no_body_status = status.is_informational() || status == StatusCode::NO_CONTENT;
    let head_only = method == Method::HEAD || status == StatusCode::NOT_MODIFIED || no_body_status;
    let keep_handler_length = head_only && body.is_empty() && headers.contains_key(header::CONTENT_LENGTH);

    for (name, value) in headers {
        if is_framing_header(name) && !(name == header::CONTENT_LENGTH && keep_handler_length) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    // RFC 9110 §8.6: no Content-Length in 1xx or 204; a 304 only repeats the
    // handler's (the length the GET would have had).
    let send_length = !no_body_status && !keep_handler_length && status != StatusCode::NOT_MODIFIED;
    if send_length {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
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
        return Payload::None;
    }
    match body {
        Body::Empty => Payload::None,
        Body::Bytes(bytes) => Payload::Bytes(bytes),
        Body::File(region) => Payload::File(region),
    }
}

/// Appends a complete short `text/plain` error response that closes the connection.
///
/// The response to a `HEAD` is the same head without the body (RFC 9110 §9.3.2): its
/// `Content-Length` says what a `GET` would have got. `method` is what the refused request
/// said, as far as it could be told ([`method_for_refusal`](super::parse::method_for_refusal)).
pub(crate) fn encode_error(out: &mut Vec<u8>, method: &Method, status: StatusCode, detail: &str) {
    let reason = reason_phrase(status);
    let reason = if reason.is_empty() { "Error" } else { reason };
    let body_len = 3 + 1 + reason.len() + if detail.is_empty() { 0 } else { 2 + detail.len() } + 1;
    write_status_line(out, status);
    out.extend_from_slice(b"Date: ");
    date::append_now(out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    if method == Method::HEAD {
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

/// The `timeout` of a `Keep-Alive` header for a keep-alive timeout: in whole seconds,
/// rounded up, so that a timeout under a second is not announced as 0 (which would tell the
/// client the connection cannot be reused at all).
pub(crate) fn keep_alive_secs(timeout: Duration) -> u64 {
    timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)
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
    use crate::Response;

    fn encoded(method: Method, response: Response, persistence: Persistence) -> (String, Payload) {
        let mut out = Vec::new();
        let payload = encode(&mut out, &method, response, persistence);
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
                expect_lines: &["content-length: 2048"],
                expect_payload: 0,
            },
            Case {
                // A wrong handler-set length on a GET never reaches the wire.
                method: Method::GET,
                status: 200,
                body: "abc",
                handler_length: Some("99"),
                persistence: Persistence::Close(crate::connection::CloseReason::ClientAsked),
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
            };
            assert_eq!(sent, case.expect_payload, "{head:?}");
        }
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
    fn keep_alive_timeout_is_rounded_up() {
        #[rustfmt::skip]
        let table = [
            (Duration::from_millis(300), 1), (Duration::from_millis(1000), 1),
            (Duration::from_millis(1001), 2), (Duration::from_millis(1500), 2),
            (Duration::from_secs(5), 5), (Duration::from_nanos(1), 1), (Duration::ZERO, 0),
        ];
        for (timeout, secs) in table {
            assert_eq!(keep_alive_secs(timeout), secs, "{timeout:?}");
        }
    }

    /// Every status the server answers on its own: to `HEAD`, the head a `GET` gets, and
    /// not a byte after it.
    #[test]
    fn error_response_to_head_has_no_body() {
        for code in [400, 408, 413, 414, 431, 500, 501, 505] {
            let status = StatusCode::from_u16(code).expect("valid status");
            let (mut get, mut head) = (Vec::new(), Vec::new());
            encode_error(&mut get, &Method::GET, status, "why");
            encode_error(&mut head, &Method::HEAD, status, "why");
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
        encode_error(&mut out, &Method::GET, StatusCode::BAD_REQUEST, "missing Host");
        let text = String::from_utf8(out).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head ends");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("\r\nConnection: close"));
        assert_eq!(body, "400 Bad Request: missing Host\n");
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
