//! Why a request is refused, and the limits it is measured against: the one [`ParseError`]
//! every rule of the codec returns, each mapped to its status code, and the [`Limits`] the
//! server config fills in.

use ::http::StatusCode;

/// Limits applied while parsing (filled from the server config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the head may take: request line, header fields and the blank line that ends
    /// them. A chunked body's trailer section has a budget of its own of the same size.
    /// Over it: 431.
    pub max_header_bytes: usize,
    /// Longest request-target. Over it: 414.
    pub max_uri_bytes: usize,
    /// Longest body, after chunked decoding (chunk extensions count too). Over it: 413.
    pub max_body_bytes: usize,
}

/// Most header fields a request may have; more is a 431.
pub(crate) const MAX_HEADERS: usize = 64;

/// Longest method. RFC 9112 §3: a server answers 501 to a method longer than any it
/// implements. Handlers see every method, so no list says which those are; the longest in
/// IANA's method registry has 17 bytes (`UPDATEREDIRECTREF`).
pub(crate) const MAX_METHOD_BYTES: usize = 32;

/// The longest request-target `http::Uri` holds, whatever `max_uri_bytes` says.
pub(crate) const URI_LEN_CAP: usize = u16::MAX as usize - 1;

/// Why a request was refused.
///
/// Each maps to one status code. The connection is closed after the error response: once the
/// framing is in doubt, nobody can say where a next request would start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
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
    /// A method over `MAX_METHOD_BYTES`, 32 bytes (501, RFC 9112 §3).
    MethodTooLong,
    /// A chunked body that breaks the grammar of RFC 9112 §7.1 (400).
    BadChunk,
    /// A request-target over `max_uri_bytes` (414, RFC 9112 §3).
    UriTooLong,
    /// A head or trailer section over `max_header_bytes`, or more than `MAX_HEADERS` (64)
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
    pub fn status(self) -> StatusCode {
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
    pub fn reason(self) -> &'static str {
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

/// Limits small enough that every one can be crossed by a literal in a test table.
#[cfg(test)]
pub(crate) const TEST_LIMITS: Limits = Limits {
    max_header_bytes: 128,
    max_uri_bytes: 32,
    max_body_bytes: 16,
};

#[cfg(test)]
mod tests {
    use super::*;
    use ParseError::*;

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
}
