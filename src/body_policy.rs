//! What may come of a request's body, decided from its head before any of it is read:
//! the per-request limit (or refusal) of [`Builder::body_policy`](crate::Builder::body_policy).

use std::fmt;
use std::sync::Arc;

use ::http::request::Parts;
use ::http::StatusCode;

use crate::h1::error::{Limits, ParseError};
use crate::h1::request;
use crate::read_buf::ReadBuf;

/// A policy's answer for one request, from its head alone.
///
/// # Examples
///
/// ```
/// use nioserve::BodyPolicy;
///
/// let uploads = BodyPolicy::Accept { max: 1 << 30 };
/// let refused = BodyPolicy::Refuse(http::StatusCode::METHOD_NOT_ALLOWED);
/// # let _ = (uploads, refused);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyPolicy {
    /// Take a body of at most `max` bytes: kept in memory up to
    /// [`body_buffer_bytes`](crate::Builder::body_buffer_bytes), written to a temporary
    /// file beyond. A longer one is refused with `413 Content Too Large`, before it is read
    /// when its `Content-Length` says so, as soon as it grows past `max` when chunked.
    Accept {
        /// The most bytes the body may have.
        max: u64,
    },
    /// Refuse the request with this status before any byte of its body is read (and
    /// without `100 Continue`); the connection closes after the response.
    Refuse(StatusCode),
}

/// A body policy as the server keeps it.
#[derive(Clone)]
pub(crate) struct Policy(Arc<dyn Fn(&Parts) -> BodyPolicy + Send + Sync>);

impl Policy {
    pub(crate) fn new(f: impl Fn(&Parts) -> BodyPolicy + Send + Sync + 'static) -> Policy {
        Policy(Arc::new(f))
    }

    /// The policy's answer for `head`.
    pub(crate) fn decide(&self, head: &Parts) -> BodyPolicy {
        (self.0)(head)
    }
}

/// The body rule a server applies: its policy, or, without one, `max_body_bytes`.
#[derive(Clone, Debug)]
pub(crate) struct BodyRule {
    pub(crate) policy: Option<Policy>,
    /// `max_body_bytes`: the limit when there is no policy.
    pub(crate) max: u64,
}

impl BodyRule {
    /// What may come of the body of the request whose head is `head`.
    pub(crate) fn decide(&self, head: &Parts) -> BodyPolicy {
        match &self.policy {
            Some(policy) => policy.decide(head),
            None => BodyPolicy::Accept { max: self.max },
        }
    }

    /// Whether a policy decides: without one the codec's own limit already did.
    pub(crate) fn is_custom(&self) -> bool {
        self.policy.is_some()
    }

    /// Asks the policy about the request at the front of `input`, once its head has
    /// arrived and before any of its body is asked for, in either model: the most bytes
    /// its body may have, or the status to refuse it with (with the detail for the error
    /// body). `None` without a policy, or before the head has arrived.
    pub(crate) fn ask(&self, input: &mut ReadBuf, limits: &Limits) -> Result<Option<u64>, (StatusCode, &'static str)> {
        if !self.is_custom() {
            return Ok(None);
        }
        let Some((_, declared)) = input.progress().body_started() else {
            return Ok(None);
        };
        let (buffered, progress) = input.bytes_and_progress();
        let started = match request::started(buffered, progress, limits) {
            Ok(Some(started)) => started,
            Ok(None) => return Ok(None),
            Err(e) => return Err((e.status(), e.reason())),
        };
        match self.decide(&started.parts) {
            BodyPolicy::Refuse(status) => Err((status, "")),
            BodyPolicy::Accept { max } if declared.is_some_and(|len| len as u64 > max) => {
                let e = ParseError::BodyTooLarge;
                Err((e.status(), e.reason()))
            }
            BodyPolicy::Accept { max } => Ok(Some(max)),
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Policy(..)")
    }
}
