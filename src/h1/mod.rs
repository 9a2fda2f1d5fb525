//! The HTTP/1.1 codec: bytes in, requests out; responses in, bytes out.
//!
//! Nothing here touches a socket, so every rule is unit-tested on byte slices. One file per
//! concept, each importing only those above it in this list (no cycle):
//!
//! - [`error`]: why a request is refused ([`ParseError`](error::ParseError), one status each)
//!   and the [`Limits`](error::Limits) it is measured against.
//! - [`fields`]: field syntax shared by the head and the framing rules (tokens, lists).
//! - [`framing`]: every message-length rule (RFC 9112 §6, §7.1): `Content-Length`, chunked,
//!   where a request ends.
//! - [`head`]: the request line and fields, checked, and the request built from them.
//! - [`request`]: the one entry point, [`request::next`], for both connection models.
//! - [`persistence`]: keep-alive or close after a response, one pure function.
//! - [`response`]: a response head on the wire, and the error responses the server writes.
//! - [`date`]: the `Date` header, cached per second.

pub(crate) mod date;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod framing;
pub(crate) mod head;
pub(crate) mod persistence;
pub(crate) mod request;
pub(crate) mod response;
