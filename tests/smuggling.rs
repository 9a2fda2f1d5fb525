//! Request smuggling (RFC 9112 §11): a table of raw requests and what the server must do with
//! each, covering the message format (§2), the request line (§3), field syntax (§5), the
//! message body length (§6) and the chunked coding (§7).
//!
//! Every row is sent on a fresh connection with a valid request right behind it, in the same
//! write. A rejected row gets exactly one response, the error with `Connection: close`, then
//! the connection closes: the request behind it is never answered. An accepted row is answered
//! and so is the request behind it, which proves the server's framing ended exactly where the
//! row's bytes did. Either way, a disagreement about where a request ends shows.

mod support;

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use support::{echo_server, server, Client, PATIENCE};

/// Sent behind every row, in the same write.
const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

/// What the server must do with a row.
#[derive(Clone, Copy, Debug)]
enum Expect<B> {
    /// Answered by the echo handler with this body: `METHOD PATH`, then `\n` and the request
    /// body if there is one.
    Ok(B),
    /// Refused with this status; nothing after it is answered.
    Rejected(u16),
}

use Expect::{Ok, Rejected};

/// `(name, raw request, outcome)`
type Row = (&'static str, &'static [u8], Expect<&'static str>);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // §2.2 Message parsing: line endings and what may precede the request line.
    ("plain GET", b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /")),
    // §2.2 lets a recipient take a bare LF as the end of the request line or a field line;
    // httparse does.
    ("bare LF everywhere in the head", b"GET /lf HTTP/1.1\nHost: t\n\n", Ok("GET /lf")),
    ("bare LF after the request line", b"GET /lf HTTP/1.1\nHost: t\r\n\r\n", Ok("GET /lf")),
    ("bare LF ends the head", b"GET /lf HTTP/1.1\r\nHost: t\r\n\n", Ok("GET /lf")),
    // A field line that a bare LF ends is a field line: this X is followed by a real
    // Transfer-Encoding, and the body is chunked.
    ("bare LF then Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nX: y\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    // §2.2: a server SHOULD ignore at least one empty line before the request line.
    ("empty line before the request line", b"\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /")),
    ("bare LF before the request line", b"\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /")),
    // §2.2: a bare CR MUST be treated as invalid or replaced by SP; either way these are 400.
    ("bare CR ends the request line", b"GET / HTTP/1.1\rHost: t\r\n\r\n", Rejected(400)),
    // Here replacing the CR by SP would also be allowed; the server rejects.
    ("bare CR inside a field value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", Rejected(400)),
    ("bare CR at the end of the head", b"GET / HTTP/1.1\r\nHost: t\r\n\rX", Rejected(400)),
    // §2.2: whitespace-preceded lines before the first field MUST be rejected or ignored;
    // the server rejects.
    ("whitespace line before the first field", b"GET / HTTP/1.1\r\n X: y\r\nHost: t\r\n\r\n", Rejected(400)),

    // §3 Request line: method SP request-target SP HTTP-version, single spaces. §3 lets a
    // recipient split on any whitespace instead; the server does not (400, as §3 suggests).
    ("space before the method", b" GET / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("empty method", b" / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("two spaces after the method", b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("two spaces before the version", b"GET /  HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("space after the version", b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n", Rejected(400)),
    ("tab after the method", b"GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("tab before the version", b"GET /\tHTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("no version", b"GET /\r\nHost: t\r\n\r\n", Rejected(400)),
    ("no target", b"GET HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // §3.1: method = token.
    ("non-token method character", b"GE(T / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("NUL in the method", b"GE\0T / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("non-ASCII method", b"G\xc3\x89T / HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // §3.1: the method is case-sensitive: `get` is another method, passed on as it is.
    ("lowercase method", b"get / HTTP/1.1\r\nHost: t\r\n\r\n", Ok("get /")),
    ("extension method", b"PURGE /x HTTP/1.1\r\nHost: t\r\n\r\n", Ok("PURGE /x")),
    // §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, and HTTP-name is case-sensitive.
    ("lowercase http/1.1", b"GET / http/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("HTTP/1.10", b"GET / HTTP/1.10\r\nHost: t\r\n\r\n", Rejected(400)),
    ("HTTP/1 without minor", b"GET / HTTP/1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("HTTPS/1.1", b"GET / HTTPS/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // RFC 9110 §15.6.6: a well-formed version of another major version is 505.
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", Rejected(505)),
    ("HTTP/0.9", b"GET / HTTP/0.9\r\nHost: t\r\n\r\n", Rejected(505)),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", Rejected(505)),
    // RFC 9110 §2.5: a higher minor version is processed as the highest one implemented,
    // HTTP/1.1, with its rules (Host required, chunked allowed, persistent by default).
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: t\r\n\r\n", Ok("GET /")),
    ("HTTP/1.9, chunked", b"POST / HTTP/1.9\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    ("HTTP/1.2 without Host", b"GET / HTTP/1.2\r\n\r\n", Rejected(400)),
    // §3.2.1 origin-form.
    ("query", b"GET /p?a=1&b=[2] HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /p")),
    ("percent-encoded target", b"GET /a%20b HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /a%20b")),
    ("relative target", b"GET a HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("NUL in the target", b"GET /a\0b HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("space in the target", b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("DEL in the target", b"GET /a\x7fb HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("non-ASCII in the target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // A fragment is never sent (RFC 9110 §4.2.5); the server refuses one.
    ("fragment in the target", b"GET /a#f HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // §3.2.2: a server MUST accept the absolute-form, and an origin server MUST then ignore Host.
    ("absolute-form", b"GET http://t/path?q HTTP/1.1\r\nHost: t\r\n\r\n", Ok("GET /path")),
    ("absolute-form, other Host", b"GET http://a/p HTTP/1.1\r\nHost: b\r\n\r\n", Ok("GET /p")),
    // §3.2: every HTTP/1.1 request needs Host, whatever its target.
    ("absolute-form without Host", b"GET http://t/p HTTP/1.1\r\n\r\n", Rejected(400)),
    // §3.2.3: the authority-form is for CONNECT only.
    ("authority-form with GET", b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    ("CONNECT with origin-form", b"CONNECT /a HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
    // §3.2.4: the asterisk-form is for OPTIONS only.
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", Ok("OPTIONS *")),
    ("* with GET", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),

    // §3.2 Host: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any
    // request with more than one Host line or an invalid one.
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\nX: y\r\n\r\n", Rejected(400)),
    ("no Host in HTTP/1.0", b"GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", Ok("GET /ten")),
    ("Host in HTTP/1.0", b"GET /ten HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n", Ok("GET /ten")),
    ("two identical Hosts", b"GET / HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n", Rejected(400)),
    ("two Hosts, names in other cases", b"GET / HTTP/1.1\r\nHost: t\r\nhOST: u\r\n\r\n", Rejected(400)),
    ("two Hosts in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: t\r\nHost: u\r\n\r\n", Rejected(400)),
    ("Host list", b"GET / HTTP/1.1\r\nHost: t, u\r\n\r\n", Rejected(400)),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Rejected(400)),
    ("Host with a path", b"GET / HTTP/1.1\r\nHost: t/x\r\n\r\n", Rejected(400)),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@t\r\n\r\n", Rejected(400)),
    ("Host with a bad port", b"GET / HTTP/1.1\r\nHost: t:8x\r\n\r\n", Rejected(400)),
    ("Host with an unclosed IP literal", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", Rejected(400)),
    ("Host with a port", b"GET / HTTP/1.1\r\nHost: t:8080\r\n\r\n", Ok("GET /")),
    ("Host IP literal", b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", Ok("GET /")),
    ("Host with OWS", b"GET / HTTP/1.1\r\nHost: \t t \t\r\n\r\n", Ok("GET /")),
    // §3.2: a Host with an invalid value is 400, and RFC 9110 §4.2.1 makes an http URI with
    // an empty host invalid (an empty Host is only for targets without an authority, which
    // an http server never has).
    ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Rejected(400)),
    ("Host with only a port", b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", Rejected(400)),
    ("Host with an empty IP literal", b"GET / HTTP/1.1\r\nHost: []\r\n\r\n", Rejected(400)),

    // §5 Field syntax: field-name ":" OWS field-value OWS.
    // §5.1: a server MUST reject whitespace between a field name and the colon with 400.
    ("space before the colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", Rejected(400)),
    ("tab before the colon", b"GET / HTTP/1.1\r\nHost: t\r\nX\t: v\r\n\r\n", Rejected(400)),
    // §5.2: an obs-fold MUST be rejected with 400 or replaced by SP; the server rejects.
    ("obs-fold with a space", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", Rejected(400)),
    ("obs-fold with a tab", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n", Rejected(400)),
    ("obs-fold hiding a Host", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n Host: u\r\n\r\n", Rejected(400)),
    // RFC 9110 §5.1: field-name = token.
    ("non-token name character", b"GET / HTTP/1.1\r\nHost: t\r\nX(Y: v\r\n\r\n", Rejected(400)),
    ("quote in a name", b"GET / HTTP/1.1\r\nHost: t\r\nX\"Y: v\r\n\r\n", Rejected(400)),
    ("NUL in a name", b"GET / HTTP/1.1\r\nHost: t\r\nX\0Y: v\r\n\r\n", Rejected(400)),
    ("non-ASCII name", b"GET / HTTP/1.1\r\nHost: t\r\nX\xc3\xa9: v\r\n\r\n", Rejected(400)),
    ("empty name", b"GET / HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n", Rejected(400)),
    ("line without a colon", b"GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", Rejected(400)),
    ("underscore in a name", b"GET / HTTP/1.1\r\nHost: t\r\nX_Y: v\r\n\r\n", Ok("GET /")),
    // RFC 9110 §5.5: NUL MUST be rejected or replaced by SP; other controls MAY be kept. The
    // server rejects them all.
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n", Rejected(400)),
    ("control byte in a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", Rejected(400)),
    ("vertical tab in a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x0bb\r\n\r\n", Rejected(400)),
    ("DEL in a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n", Rejected(400)),
    ("obs-text in a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: caf\xc3\xa9\r\n\r\n", Ok("GET /")),
    ("tab inside a value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\tb\r\n\r\n", Ok("GET /")),
    ("empty value", b"GET / HTTP/1.1\r\nHost: t\r\nX:\r\n\r\n", Ok("GET /")),

    // §6.1 Transfer-Encoding.
    ("chunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("chunked GET", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("GET /\nhi")),
    // Coding names and field names are case-insensitive (§7, RFC 9110 §5.1).
    ("CHUNKED", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    ("lowercase transfer-encoding", b"POST / HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    ("chunked between spaces", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:   chunked   \r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    ("chunked between tabs", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\tchunked\t\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    // RFC 9110 §5.6.1: empty list elements MUST be accepted and ignored.
    ("chunked among empty elements", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: , chunked,\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    ("empty line, then chunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", Ok("POST /\nhi")),
    // Not Transfer-Encoding at all: this request has no body.
    ("Transfer_Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer_Encoding: chunked\r\n\r\n", Ok("POST /")),
    // §6.3: a Transfer-Encoding whose final coding is not chunked leaves the length unknown:
    // the server MUST answer 400 and close.
    ("chunked, gzip", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Rejected(400)),
    ("chunked, then identity line", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", Rejected(400)),
    ("identity", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n", Rejected(400)),
    ("xchunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n", Rejected(400)),
    ("empty Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\r\n", Rejected(400)),
    // §7: chunked is applied once; the server refuses it twice.
    ("chunked, chunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("chunked on two lines", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    // §6.1: a coding the server does not understand, before a final chunked, SHOULD be 501.
    ("gzip, then chunked line", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Rejected(501)),
    // Obfuscated names and values are not Transfer-Encoding: chunked.
    ("Transfer-Encoding obs-folded", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("space before Transfer-Encoding colon", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("vertical tab before chunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    // §6.1: Transfer-Encoding with Content-Length MAY be rejected (§11.2: it is how requests
    // are smuggled), and MUST be treated as faulty framing in HTTP/1.0.
    ("Transfer-Encoding then Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("Content-Length then Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("Transfer-Encoding with Content-Length: 0", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("Transfer-Encoding and Content-Length in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", Rejected(400)),

    // §6.2, §6.3 Content-Length = 1*DIGIT.
    ("Content-Length body", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", Ok("POST /\nhello")),
    ("Content-Length: 0", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", Ok("POST /")),
    ("GET with a body", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", Ok("GET /\nhello")),
    ("HTTP/1.0 body", b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", Ok("POST /\nhi")),
    ("Content-Length with leading zeros", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 005\r\n\r\nhello", Ok("POST /\nhello")),
    // OWS around a field value is not part of it (§5.1).
    ("Content-Length between spaces", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length:  5  \r\n\r\nhello", Ok("POST /\nhello")),
    // §6.3 and RFC 9110 §8.6 let a recipient take identical values as one; the server does.
    ("identical Content-Lengths", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Ok("POST /\nhello")),
    ("Content-Length: 5, 5", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello", Ok("POST /\nhello")),
    // "all values in the list are the same": the server compares them as numbers.
    ("Content-Length: 5, 05", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 05\r\n\r\nhello", Ok("POST /\nhello")),
    // A body that holds a whole request is a body, not a request.
    ("request inside a body", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 33\r\n\r\nGET /hidden HTTP/1.1\r\nHost: t\r\n\r\n", Ok("POST /\nGET /hidden HTTP/1.1\r\nHost: t\r\n\r\n")),
    // §6.3: an invalid Content-Length in a request MUST get 400 and a close.
    ("differing Content-Lengths", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", Rejected(400)),
    ("Content-Length: 5, 6", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!", Rejected(400)),
    ("Content-Length: +5", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", Rejected(400)),
    ("Content-Length: -5", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nhello", Rejected(400)),
    ("Content-Length: 5.0", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5.0\r\n\r\nhello", Rejected(400)),
    ("Content-Length: 0x5", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello", Rejected(400)),
    ("Content-Length: 5 5", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\nhello", Rejected(400)),
    ("Content-Length: 5,", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5,\r\n\r\nhello", Rejected(400)),
    ("empty Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", Rejected(400)),
    // RFC 9110 §8.6: a recipient MUST guard against overflow; the server calls it invalid.
    ("overflowing Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\nhello", Rejected(400)),

    // §7.1 Chunked transfer coding.
    ("hex size in capitals", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", Ok("POST /\n0123456789")),
    ("sizes with leading zeros", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n005\r\nhello\r\n000\r\n\r\n", Ok("POST /\nhello")),
    ("several chunks", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("empty chunked body", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Ok("POST /")),
    ("data that looks like a last chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n0\r\n\r\n\r\n0\r\n\r\n", Ok("POST /\n0\r\n\r\n")),
    // chunk-size = 1*HEXDIG, nothing else.
    ("size +5", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size -5", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size 0x5", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size not hex", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\ng\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size missing", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("space before the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    // BWS is allowed before a `;` only (§7.1.1).
    ("space after the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("tab after the size, then an extension", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\t;a=b\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    // §7.1: a recipient MUST anticipate large numerals and guard against overflow. More than
    // 16 digits cannot be a 64-bit size (nor anything but padding): malformed, 400, whatever
    // the limits. A size that is a number but over max_body_bytes is too large, 413.
    ("size with 17 digits", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size over 64 bits", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size of 18 fs", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("size of 16 fs", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", Rejected(413)),
    // The data is exactly chunk-size bytes, then CRLF.
    ("data longer than the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("data shorter than the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("no CRLF after the data", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n", Rejected(400)),
    // §2.2's bare-LF allowance covers the head only: chunked framing is CRLF.
    ("LF-only chunked framing", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", Rejected(400)),
    ("LF after the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("LF after the data", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", Rejected(400)),
    ("LF after the last chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\r\n", Rejected(400)),
    ("LF ends the chunked body", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n", Rejected(400)),
    ("bare CR after the size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n", Rejected(400)),
    // Without a last chunk, the request behind is read as a chunk-size line.
    ("no last chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", Rejected(400)),
    // Without the final CRLF, the request behind is read as a trailer line.
    ("no CRLF after the last chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", Rejected(400)),
    // §7.1.1 chunk extensions: accepted and ignored.
    ("extension without a value", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("extension with a value", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("extension with a quoted value", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x y;\\\"z\"\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("extensions with BWS", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a = b ; c\r\nhello\r\n0\r\n\r\n", Ok("POST /\nhello")),
    ("extension on the last chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0;done\r\n\r\n", Ok("POST /\nhello")),
    ("extension without a name", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("extension =value", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;=b\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("extension name= without a value", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("extension with a space in it", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("extension with an unclosed quote", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    ("extension with a control byte", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n", Rejected(400)),
    // §7.1.2 trailer section: accepted, dropped, and never used for framing.
    ("trailer field", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: v\r\n\r\n", Ok("POST /\nhello")),
    ("several trailer fields", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nA: 1\r\nB:\r\n\r\n", Ok("POST /\nhello")),
    ("Content-Length trailer", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 40\r\n\r\n", Ok("POST /\nhello")),
    ("Transfer-Encoding trailer", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", Ok("POST /\nhello")),
    ("trailer line without a colon", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nno colon\r\n\r\n", Rejected(400)),
    ("trailer with a space before the colon", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX : v\r\n\r\n", Rejected(400)),
    ("trailer with an empty name", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n: v\r\n\r\n", Rejected(400)),
    ("obs-folded trailer", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", Rejected(400)),
    ("NUL in a trailer", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\0b\r\n\r\n", Rejected(400)),
    ("trailer line ending in LF", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: v\n\r\n", Rejected(400)),

    // §11.2 The classic desynchronisations, each of which a lenient server would frame
    // differently from a strict one.
    ("CL.TE", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", Rejected(400)),
    ("TE.CL", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", Rejected(400)),
    ("TE.TE, decoy coding on a second line", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("TE.TE, quoted chunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", Rejected(400)),
    ("CL.CL, second length hides a request", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 33\r\n\r\nGET /hidden HTTP/1.1\r\nHost: t\r\n\r\n", Rejected(400)),
];

/// Rows whose bytes depend on the server's limits: max_uri_bytes 512, max_header_bytes 2048,
/// max_body_bytes 1024, and at most 64 header fields.
#[rustfmt::skip]
fn limit_rows() -> Vec<(&'static str, Vec<u8>, Expect<String>)> {
    let request =
        |line: &str, fields: &str, body: &str| format!("{line}\r\nHost: t\r\n{fields}\r\n{body}").into_bytes();
    let get = |target: &str, fields: &str| request(&format!("GET {target} HTTP/1.1"), fields, "");
    // A head of exactly `len` bytes, padded with one field.
    let head_of = |len: usize| get("/", &format!("X: {}\r\n", "a".repeat(len - get("/", "X: \r\n").len())));
    let fields = |n: usize| (1..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    let post = |framing: &str, body: &str| request("POST / HTTP/1.1", &format!("{framing}\r\n"), body);
    let chunk = |data: &str| format!("{:x}\r\n{data}\r\n", data.len());
    let target_512 = format!("/{}", "a".repeat(511));
    let target_513 = format!("/{}", "a".repeat(512));
    let method_32 = "M".repeat(32);
    let method_33 = "M".repeat(33);
    let method_3000 = "M".repeat(3000);
    let body_1024 = "b".repeat(1024);
    let chunk_1024 = chunk(&body_1024);
    let chunk_1025 = chunk(&"b".repeat(1025));
    let long_trailer = format!("0\r\nX: {}\r\n\r\n", "t".repeat(2100));
    let echo_1024 = format!("POST /\n{body_1024}");

    vec![
        // §3: a target longer than the server is willing to parse gets 414.
        ("target at max_uri_bytes", get(&target_512, ""), Ok(format!("GET {target_512}"))),
        ("target over max_uri_bytes", get(&target_513, ""), Rejected(414)),
        // RFC 6585 §5: a head too large gets 431.
        ("head at max_header_bytes", head_of(2048), Ok("GET /".into())),
        ("head over max_header_bytes", head_of(2049), Rejected(431)),
        ("64 fields", get("/", &fields(64)), Ok("GET /".into())),
        ("65 fields", get("/", &fields(65)), Rejected(431)),
        ("trailer section over max_header_bytes", post("Transfer-Encoding: chunked", &long_trailer), Rejected(431)),
        // §3: 501 for a method longer than any the server implements. Every method up to
        // 32 bytes reaches the handler; no registered method comes close.
        ("32-byte method", request(&format!("{method_32} / HTTP/1.1"), "", ""), Ok(format!("{method_32} /"))),
        ("33-byte method", request(&format!("{method_33} / HTTP/1.1"), "", ""), Rejected(501)),
        ("method over max_header_bytes", request(&format!("{method_3000} / HTTP/1.1"), "", ""), Rejected(501)),
        // RFC 9110 §15.5.14: a body too large gets 413; a Content-Length is judged alone.
        ("Content-Length at max_body_bytes", post("Content-Length: 1024", &body_1024), Ok(echo_1024.clone())),
        ("Content-Length over max_body_bytes", post("Content-Length: 1025", ""), Rejected(413)),
        ("chunked at max_body_bytes", post("Transfer-Encoding: chunked", &format!("{chunk_1024}0\r\n\r\n")), Ok(echo_1024)),
        ("one chunk over max_body_bytes", post("Transfer-Encoding: chunked", &format!("{chunk_1025}0\r\n\r\n")), Rejected(413)),
        ("chunks over max_body_bytes together", post("Transfer-Encoding: chunked", &format!("{chunk_1024}1\r\nb\r\n0\r\n\r\n")), Rejected(413)),
    ]
}

#[test]
fn every_row_is_answered_as_rfc_9112_requires_and_nothing_is_smuggled() {
    let handle = echo_server(server().max_body_bytes(1024).max_header_bytes(2048).max_uri_bytes(512));
    let generated = limit_rows();
    let rows: Vec<(&str, &[u8], Expect<&str>)> = ROWS
        .iter()
        .copied()
        .chain(generated.iter().map(|(name, raw, expect)| {
            let expect = match expect {
                Ok(body) => Ok(body.as_str()),
                Rejected(status) => Rejected(*status),
            };
            (*name, &raw[..], expect)
        }))
        .collect();
    for (i, (name, ..)) in rows.iter().enumerate() {
        assert!(
            rows[..i].iter().all(|(other, ..)| other != name),
            "two rows are named {name:?}"
        );
    }

    let mut failures = Vec::new();
    for &(name, raw, expect) in &rows {
        let exchange = panic::catch_unwind(AssertUnwindSafe(|| exchange(handle.local_addr(), name, raw, expect)));
        if let Err(panic) = exchange {
            failures.push(format!("{name}: {}", panic_message(&*panic)));
        }
    }

    // Each accepted row is two requests (it and the one behind it); nothing else may have
    // reached the handler. The counter is bumped after a response is written, so wait for it.
    let answered = 2 * rows.iter().filter(|(.., expect)| matches!(expect, Ok(_))).count() as u64;
    let deadline = Instant::now() + PATIENCE;
    while handle.stats().requests < answered && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let requests = handle.stats().requests;
    if requests != answered {
        failures.push(format!(
            "the handler saw {requests} requests, the accepted rows make {answered}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n  {}",
        failures.len(),
        rows.len(),
        failures.join("\n  ")
    );
}

/// Sends `raw` with [`SMUGGLED`] behind it, on a fresh connection, and checks what comes back.
fn exchange(addr: SocketAddr, name: &str, raw: &[u8], expect: Expect<&str>) {
    let mut client = Client::connect(addr);
    client.send(&[raw, SMUGGLED].concat());
    let reply = client.reply();
    let body = String::from_utf8_lossy(&reply.body);
    match expect {
        Ok(want) => {
            assert_eq!((reply.status, &*body), (200, want), "{name}: the response to the row");
            assert!(!reply.closes(), "{name}: the connection stays open");
            let behind = client.reply();
            assert_eq!(
                (behind.status, behind.body_text()),
                (200, "GET /smuggled"),
                "{name}: the request behind the row is answered"
            );
        }
        Rejected(status) => {
            assert_eq!(reply.status, status, "{name}: the status (body {body:?})");
            assert!(reply.closes(), "{name}: the error says Connection: close");
            client.expect_closed();
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}
