//! What the poller does with a request body while it arrives: asks the body policy from
//! the head, moves a large body to a temporary file and feeds it there, and keeps the
//! body's clock for the least rate. The poller's loop ([`Poller::drive`](super::poller))
//! decides what follows each answer.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, error};
use mio::Token;

use crate::body_policy::BodyRule;
use crate::config::{self, Config};
use crate::connection::Connection;
use crate::h1::error::Limits;
use crate::h1::request;
use crate::h1::response::{self, Payload};
use crate::spool::{Spool, SpoolError};
use crate::Request;

/// The status to refuse a request with, and the detail for the error body.
pub(super) type Refusal = (::http::StatusCode, &'static str);

/// The poller's settings for request bodies.
#[derive(Debug)]
pub(super) struct Bodies {
    rule: BodyRule,
    /// The least rate a body must arrive at after its grace period, if any.
    min_rate: Option<(u64, Duration)>,
    /// Request bodies larger than this go to a temporary file in `spool_dir`.
    buffer_bytes: usize,
    spool_dir: PathBuf,
    limits: Limits,
}

/// What feeding a spooled body found.
#[derive(Debug)]
pub(super) enum Fed {
    /// The body has ended: the request, whole.
    Whole(Box<Request>),
    /// More of the body is to come.
    More,
    /// The body breaks a rule, or could not be stored.
    Refused(Refusal),
}

impl Bodies {
    pub(super) fn new(config: &Config) -> Bodies {
        Bodies {
            rule: config.body_rule(),
            min_rate: config.min_body_rate,
            buffer_bytes: config.body_buffer_bytes,
            spool_dir: config.spool_dir.clone().unwrap_or_else(std::env::temp_dir),
            limits: config.limits(),
        }
    }

    /// How many bytes the connection's read buffer may hold after the next read. A body
    /// going to a file is read a buffer at a time. Until a head has arrived, no more than
    /// a head may take, and one byte more: whether the body goes to a file is decided
    /// from the head, before the body is read into memory, and a head is refused (431)
    /// once more than `max_header_bytes` of it have arrived, which a buffer capped at
    /// the limit would never show. Then up to the most one request may take.
    pub(super) fn read_limit(&self, conn: &Connection, max_request_bytes: usize) -> usize {
        if conn.spool.is_some() {
            config::SPOOL_READ_BYTES
        } else if conn.input.progress().body_started().is_none() {
            (self.limits.max_header_bytes + 1).max(config::READ_BUFFER_BYTES)
        } else {
            max_request_bytes
        }
    }

    /// Writes what the connection buffers of its spooled body to the file.
    pub(super) fn feed(&self, token: Token, conn: &mut Connection) -> Fed {
        let Some(spool) = conn.spool.as_deref_mut() else {
            return Fed::More;
        };
        match spool.feed(&mut conn.input) {
            Ok(true) => Fed::Whole(Box::new(conn.spool.take().expect("spooling").into_request())),
            Ok(false) => Fed::More,
            Err(SpoolError::Refused(e)) => {
                debug!("{} #{}: rejected: {} ({})", conn.peer, token.0, e.reason(), e.status());
                Fed::Refused((e.status(), e.reason()))
            }
            Err(SpoolError::Io(e)) => {
                error!(
                    "{} #{}: the request body could not be written to a temporary file: {e}",
                    conn.peer, token.0
                );
                Fed::Refused((::http::StatusCode::INTERNAL_SERVER_ERROR, ""))
            }
        }
    }

    /// Starts the clock of the body being read, for the least rate, unless it runs already.
    /// What arrived of the body before its first wait (with the head, or in the reads that
    /// followed in the same turn) counts as arrived by now: a client that sent most of its
    /// body at once is not a slow one, however long the rest takes.
    pub(super) fn start_clock(conn: &mut Connection, now: Instant) {
        if conn.body_clock.is_some() {
            return;
        }
        let arrived = match (&conn.spool, conn.input.progress().body_started()) {
            (Some(spool), _) => spool.len() + conn.input.len() as u64,
            (None, Some((head_len, _))) => conn.input.len().saturating_sub(head_len) as u64,
            (None, None) => 0,
        };
        conn.body_clock = Some((now, arrived));
    }

    /// Whether the body being read arrives slower than the least rate, once its grace
    /// period is over.
    pub(super) fn too_slow(&self, conn: &Connection, now: Instant) -> bool {
        let (Some((rate, grace)), Some((since, arrived))) = (self.min_rate, conn.body_clock) else {
            return false;
        };
        let elapsed = now.saturating_duration_since(since);
        elapsed > grace && (arrived as f64) < rate as f64 * elapsed.as_secs_f64()
    }

    /// Asks the body policy about the request being read, once its head has arrived and
    /// before any of its body is asked for: the status to refuse it with, or the limit it
    /// may have (kept in `conn.body_limit`).
    pub(super) fn ask_policy(&self, conn: &mut Connection) -> Result<(), Refusal> {
        conn.body_limit = self.rule.ask(&mut conn.input, &self.limits)?;
        Ok(())
    }

    /// Whether the body of the request being read goes to a temporary file: its head has
    /// arrived, and its `Content-Length`, or what has arrived of a chunked body, is over
    /// the in-memory limit.
    pub(super) fn spools(&self, conn: &Connection) -> bool {
        let Some((head_len, declared)) = conn.input.progress().body_started() else {
            return false;
        };
        declared.unwrap_or(conn.input.len() - head_len) > self.buffer_bytes
    }

    /// Starts writing the body of the request being read to a temporary file (and asks the
    /// client for it, if it waits for `100 Continue`); the status to refuse it with if that
    /// cannot be done.
    pub(super) fn start_spool(&self, token: Token, conn: &mut Connection) -> Result<(), Refusal> {
        // The policy's limit for this body, if it has one, bounds the decoder.
        let limits = Limits {
            max_body_bytes: conn.body_limit.map_or(self.limits.max_body_bytes, |max| {
                usize::try_from(max).unwrap_or(usize::MAX)
            }),
            ..self.limits
        };
        let (buffered, progress) = conn.input.bytes_and_progress();
        let started = match request::started(buffered, progress, &limits) {
            Ok(Some(started)) => started,
            Ok(None) => unreachable!("`spools` saw the head complete"),
            Err(e) => return Err((e.status(), e.reason())),
        };
        let asks_for_body = started.expects_continue && !conn.continue_sent;
        match Spool::start(started, &mut conn.input, &self.spool_dir, limits) {
            Ok(spool) => conn.spool = Some(Box::new(spool)),
            Err(e) => {
                error!(
                    "{} #{}: no temporary file for a request body in {}: {e}",
                    conn.peer,
                    token.0,
                    self.spool_dir.display()
                );
                return Err((::http::StatusCode::INTERNAL_SERVER_ERROR, ""));
            }
        }
        if asks_for_body && conn.input.is_empty() {
            conn.continue_sent = true;
            if let Err(e) = conn.write_response(response::CONTINUE, Payload::None) {
                debug!("{} #{}: 100 Continue not sent: {e}", conn.peer, token.0);
                conn.eof = true;
            }
        }
        Ok(())
    }
}
