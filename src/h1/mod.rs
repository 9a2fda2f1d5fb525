//! The HTTP/1.1 codec: bytes in, requests out; responses in, bytes out.
//!
//! Nothing here touches a socket, so every rule is unit-tested on byte slices.

pub(crate) mod body;
pub(crate) mod date;
pub(crate) mod parse;
pub(crate) mod response;
