//! Codec entry points for the criterion benchmarks in `benches/`, the property tests in
//! `tests/codec_properties.rs` and the fuzz target in `fuzz/`.
//!
//! Hidden from the docs and not part of the API: benchmarks, integration tests and fuzz
//! targets are separate crates and can only call public functions. Limits are the server's
//! defaults unless a function takes [`CodecLimits`].

use std::sync::OnceLock;

use http::Method;

use crate::config::Config;
use crate::h1::parse::{Limits, Progress};
use crate::h1::{parse, response};
use crate::{Request, Response};

/// Whether `buf` starts with a complete request (`check`, the blocking model's test; no allocation).
pub fn check(buf: &[u8]) -> bool {
    matches!(
        parse::check(buf, &mut Progress::default(), limits()),
        Ok(parse::Parsed::Complete { .. })
    )
}

/// Builds the first request in `buf` (`parse`, as the poller and the workers do; body decoded).
pub fn parse(buf: &[u8]) -> Option<Request> {
    parse::parse(buf, limits()).ok().flatten().map(|(request, _)| request)
}

/// Encodes the head of `response` to a `GET` into `out`, as a keep-alive response;
/// an invalid response (one the server would answer with `500`) leaves `out` as it was.
pub fn encode(out: &mut Vec<u8>, response: Response) {
    let _ = response::encode(out, &Method::GET, response, response::Persistence::KeepAlive);
}

/// The limits the codec enforces, as [`outcome_with`] takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecLimits {
    /// Most bytes in the head, and in a chunked body's trailer section (431 beyond).
    pub max_header_bytes: usize,
    /// Longest request-target (414 beyond).
    pub max_uri_bytes: usize,
    /// Longest decoded body, chunk extensions included (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for CodecLimits {
    /// The server's defaults.
    fn default() -> CodecLimits {
        let limits = limits();
        CodecLimits {
            max_header_bytes: limits.max_header_bytes,
            max_uri_bytes: limits.max_uri_bytes,
            max_body_bytes: limits.max_body_bytes,
        }
    }
}

/// What one of the two codec entry points said about a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a whole request yet.
    Partial,
    /// A whole request occupies `buf[..len]`; a pipelined next one starts at `buf[len..]`.
    Complete {
        /// Bytes the request took, head and body.
        len: usize,
    },
    /// Refused: the status of the error response and its reason, which tells the refusals
    /// that share a status apart.
    Rejected {
        /// 400, 413, 414, 431, 501 or 505.
        status: u16,
        /// The body of the error response.
        reason: &'static str,
    },
}

/// `check`'s answer and `parse_next`'s (the poller's) for the same buffer, side by side.
///
/// Nothing is asserted here: the callers (property tests, fuzz target) compare the two.
#[derive(Debug)]
pub struct Outcome {
    /// What `check` (the blocking model's completeness test) said.
    pub checked: Verdict,
    /// Whether `check` said the client waits for `100 Continue` (only ever with `Partial`).
    pub expects_continue: bool,
    /// What `parse_next` (the poller; a worker's `parse` is the same code) said.
    pub parsed: Verdict,
    /// The request `parse_next` built, body decoded, when it said `Complete`.
    pub request: Option<Request>,
    /// Whether `parse_next` said the client waits for `100 Continue` (only ever with `Partial`).
    pub continue_parsed: bool,
}

/// Runs both `check` and `parse_next` on `buf` with the server's default limits.
pub fn outcome(buf: &[u8]) -> Outcome {
    outcome_with(buf, CodecLimits::default())
}

/// Runs both `check` and `parse_next` on `buf` with the given limits (small limits reach the
/// 413/414/431 paths with small inputs).
pub fn outcome_with(buf: &[u8], limits: CodecLimits) -> Outcome {
    Resumed::new(limits).outcome(buf)
}

/// The codec as a connection uses it, read after read: the buffer only grows, and `check`
/// and `parse_next` each go on from where their last call on it stopped (each with its own
/// progress, as the blocking model and the poller keep theirs).
///
/// What it says about a buffer must be what [`outcome_with`] says about the same bytes seen
/// at once, however they were split into calls.
#[derive(Debug)]
pub struct Resumed {
    limits: Limits,
    checked: Progress,
    parsed: Progress,
}

impl Resumed {
    /// Nothing seen yet.
    pub fn new(limits: CodecLimits) -> Resumed {
        Resumed {
            limits: Limits {
                max_header_bytes: limits.max_header_bytes,
                max_uri_bytes: limits.max_uri_bytes,
                max_body_bytes: limits.max_body_bytes,
            },
            checked: Progress::default(),
            parsed: Progress::default(),
        }
    }

    /// Runs `check` and `parse_next` on `buf`, which holds the bytes of the last call and
    /// maybe more after them.
    pub fn outcome(&mut self, buf: &[u8]) -> Outcome {
        let rejected = |error: parse::ParseError| Verdict::Rejected {
            status: error.status().as_u16(),
            reason: error.reason(),
        };
        let (checked, expects_continue) = match parse::check(buf, &mut self.checked, &self.limits) {
            Ok(parse::Parsed::Partial { expects_continue }) => (Verdict::Partial, expects_continue),
            Ok(parse::Parsed::Complete { len }) => (Verdict::Complete { len }, false),
            Err(error) => (rejected(error), false),
        };
        let (parsed, request, continue_parsed) = match self.parse_next(buf) {
            Ok(parse::Next::Partial { expects_continue }) => (Verdict::Partial, None, expects_continue),
            Ok(parse::Next::Complete { request, len }) => (Verdict::Complete { len }, Some(request), false),
            Err(error) => (rejected(error), None, false),
        };
        Outcome {
            checked,
            expects_continue,
            parsed,
            request,
            continue_parsed,
        }
    }

    /// `parse_next` alone, as the poller calls it after each read: the request once `buf`
    /// holds all of it.
    pub fn next_request(&mut self, buf: &[u8]) -> Option<Request> {
        match self.parse_next(buf) {
            Ok(parse::Next::Complete { request, .. }) => Some(request),
            _ => None,
        }
    }

    fn parse_next(&mut self, buf: &[u8]) -> Result<parse::Next, parse::ParseError> {
        parse::parse_next(buf, &mut self.parsed, &self.limits)
    }
}

/// The default limits, computed once (a default `Config` asks the OS for the CPU count).
fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| Config::default().limits())
}
