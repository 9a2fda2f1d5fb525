//! Codec entry points for the criterion benchmarks in `benches/`.
//!
//! Hidden from the docs and not part of the API: benchmarks are separate crates
//! and can only call public functions. Limits are the server's defaults.

use std::sync::OnceLock;

use http::Method;

use crate::config::Config;
use crate::http::parse::Limits;
use crate::http::{parse, response};
use crate::{Request, Response};

/// Whether `buf` starts with a complete request (the poller's check; no allocation).
pub fn check(buf: &[u8]) -> bool {
    matches!(parse::check(buf, limits()), Ok(parse::Parsed::Complete { .. }))
}

/// Builds the first request in `buf` (the worker's parse, body decoded).
pub fn parse(buf: &[u8]) -> Option<Request> {
    parse::parse(buf, limits()).ok().flatten().map(|(request, _)| request)
}

/// Encodes the head of `response` to a `GET` into `out`, as a keep-alive response.
pub fn encode(out: &mut Vec<u8>, response: Response) {
    response::encode(out, &Method::GET, response, response::Persistence::KeepAlive);
}

/// The default limits, computed once (a default `Config` asks the OS for the CPU count).
fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| Config::default().limits())
}
