//! The access log: one `info` line per response on the target `nioserve::access`,
//! written when the response's last byte has been written, or when its connection
//! ends first. That way a line tells the bytes that actually went out and the time to
//! the last byte, whoever wrote it: a worker, or the poller for a client that reads
//! slowly. The error responses the server writes itself (400, 408, 413, 414, 431, 501,
//! 505, 500) get a line like any other.
//!
//! ```text
//! 127.0.0.1:44004 "GET /css/styles.css HTTP/1.1" 200 8325 0.026ms
//! 127.0.0.1:44010 "-" 431 45 0.011ms
//! ```
//!
//! Lines are made only while the level is enabled: with it off a response costs one
//! check, no allocation and no clock read. Positions are counted in the connection's
//! output (bytes handed to the socket so far), which costs an addition per write.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use ::http::{Method, Uri, Version};
use log::{info, log_enabled, Level};

/// The target of access-log lines, to filter them (`RUST_LOG=nioserve::access=off`).
pub(crate) const TARGET: &str = "nioserve::access";

/// The responses of one connection whose last byte has not been written yet, in order.
#[derive(Debug, Default)]
pub(crate) struct AccessLog {
    pending: VecDeque<Pending>,
    /// How many bytes of the connection's output the socket has taken, as last told:
    /// what a response cut off by the end of its connection is logged with.
    written: u64,
}

/// One response waiting for its last byte.
#[derive(Debug)]
struct Pending {
    /// The line up to the byte count: `peer "GET /path HTTP/1.1" 200`.
    text: String,
    /// When the response began: the handler was called, or the server refused.
    started: Instant,
    /// Where the body starts in the connection's output.
    body_at: u64,
    /// Where the response ends in the connection's output.
    end: u64,
}

impl AccessLog {
    /// Whether access-log lines are written at all; asked once per response.
    pub(crate) fn enabled() -> bool {
        log_enabled!(target: TARGET, Level::Info)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds a response whose body starts at `body_at` and which ends at `end`, both
    /// counted in the connection's output; it is logged once that much is written.
    pub(crate) fn push(&mut self, text: String, started: Instant, body_at: u64, end: u64) {
        self.pending.push_back(Pending {
            text,
            started,
            body_at,
            end,
        });
    }

    /// Adds an error response the server wrote itself, whole in `response` (head and
    /// body), which starts at `at` in the connection's output.
    pub(crate) fn push_whole(&mut self, text: String, started: Instant, at: u64, response: &[u8]) {
        let head = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |i| i + 4);
        self.push(text, started, at + head as u64, at + response.len() as u64);
    }

    /// The socket has taken the connection's first `written` bytes: logs every
    /// response now written whole.
    /// The response pushed last, a streamed one whose end was not known, ends at
    /// `end`. Bytes the connection has already written are looked at again.
    pub(crate) fn ends_at(&mut self, end: u64) {
        if let Some(last) = self.pending.back_mut() {
            last.end = end;
        }
        let written = self.written;
        self.written(written);
    }

    pub(crate) fn written(&mut self, written: u64) {
        self.written = written;
        while self.pending.front().is_some_and(|p| p.end <= written) {
            if let Some(done) = self.pending.pop_front() {
                done.log(written);
            }
        }
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            // An idle connection holds no allocation for its log either.
            self.pending = VecDeque::new();
        }
    }
}

impl Drop for AccessLog {
    /// The connection ended before these responses were written whole (the client
    /// vanished, a timeout, the end of the shutdown grace period): each is logged with
    /// the body bytes that did go out.
    fn drop(&mut self) {
        for cut_off in self.pending.drain(..) {
            cut_off.log(self.written);
        }
    }
}

impl Pending {
    fn log(&self, written: u64) {
        let body = written.min(self.end).saturating_sub(self.body_at);
        info!(
            target: TARGET,
            "{} {body} {:.3}ms",
            self.text,
            self.started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// The start of the line for a response to a request: `peer "METHOD URI VERSION" STATUS`.
pub(crate) fn request_line(peer: SocketAddr, method: &Method, uri: &Uri, version: Version, status: u16) -> String {
    let mut text = String::with_capacity(64 + uri.path().len());
    // Writing to a String cannot fail.
    let _ = write!(text, "{peer} \"{method} {uri} {version:?}\" {status}");
    text
}

/// The start of the line for an error the server answered without a request to name
/// (it could not be read, or did not arrive in time): `peer "-" STATUS`.
pub(crate) fn refusal_line(peer: SocketAddr, status: u16) -> String {
    format!("{peer} \"-\" {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_done_once_its_last_byte_is_written() {
        let mut log = AccessLog::default();
        let now = Instant::now();
        log.push("a".into(), now, 10, 20);
        log.push("b".into(), now, 30, 40);
        log.written(19);
        assert_eq!(log.pending.len(), 2);
        log.written(20);
        assert_eq!(log.pending.len(), 1);
        log.written(40);
        assert!(log.is_empty());
        assert_eq!(log.pending.capacity(), 0, "nothing held once all is written");
    }

    #[test]
    fn the_body_of_an_error_response_starts_after_its_head() {
        let mut log = AccessLog::default();
        log.push_whole(
            "e".into(),
            Instant::now(),
            100,
            b"HTTP/1.1 400 Bad Request\r\n\r\n400 Bad Request\n",
        );
        let pending = &log.pending[0];
        assert_eq!((pending.body_at, pending.end), (128, 144));
        log.written(144);
    }
}
