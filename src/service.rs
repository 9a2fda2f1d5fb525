//! What both connection models do with one buffered request: parse it, answer
//! `CONNECT` itself, run the handler (a panic becomes a 500), decide whether the
//! connection persists, log the access line, and encode the response (one the
//! server cannot send as it is becomes a 500).
//!
//! The NIO worker and the thread-per-connection model differ only in how bytes get
//! in and out; everything a client can observe about a response is decided here.

use std::fmt;
use std::mem;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::http::{header, Method, StatusCode, Uri, Version};
use log::{debug, error};

use crate::access::{self, ConnectionLog};
use crate::body_policy::{BodyPolicy, BodyRule};
use crate::config::{Config, ErrorBody};
use crate::connection_info::ConnectionInfo;
use crate::h1::error::{Limits, ParseError};
use crate::h1::persistence::{self, Facts, Persistence, Why};
use crate::h1::response::{self, Payload};
use crate::h1::{fields, head, request};
use crate::handler::{self, Handler};
use crate::read_buf::ReadBuf;
use crate::upgrade::OnUpgrade;

/// Why a connection ends, for the debug log and for the `Connection: close` decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The last response said `Connection: close`, for this reason.
    LastResponse(Why),
    /// The request was refused with this status.
    BadRequest(u16),
    /// The handler panicked, or a panic escaped while its response was being sent.
    HandlerPanicked,
    /// The handler's response could not be sent as it was; a `500` went instead.
    InvalidResponse,
    /// The server is shutting down.
    Shutdown,
    /// The client closed its side (EOF) or reset the connection.
    PeerClosed,
    /// A read or write failed.
    Io,
    /// Nothing arrived within the keep-alive timeout.
    KeepAliveTimeout,
    /// The request did not arrive whole within the request timeout.
    RequestTimeout,
    /// The client took no response bytes within the send timeout.
    SendTimeout,
    /// The request waited for a worker longer than the queue timeout; a `503` went instead.
    QueueTimeout,
    /// The producer of a streamed body dropped its sender before finishing: the body
    /// ends without its end, so the client cannot take it for whole.
    StreamAborted,
    /// The connection switched protocols (`101`) and went to the handler's callback.
    Upgraded,
}

/// The per-connection facts a response depends on, lent by the connection model.
#[derive(Debug)]
pub(crate) struct ConnParts<'a> {
    pub(crate) peer: SocketAddr,
    /// The server's end of the connection, learned at accept.
    pub(crate) local: SocketAddr,
    /// The connection's slab token (NIO) or thread number (blocking), for the logs.
    pub(crate) id: usize,
    pub(crate) input: &'a mut ReadBuf,
    pub(crate) served: &'a mut u32,
    pub(crate) closing: &'a mut Option<CloseReason>,
    /// The client shut down its sending side.
    pub(crate) eof: bool,
    /// Where responses wait for their last byte to be logged.
    pub(crate) access: &'a mut ConnectionLog,
    /// Where the first byte of `out` goes in the connection's output: the bytes
    /// handed to the socket (or queued for it) before this exchange.
    pub(crate) queued: u64,
}

/// What [`Responder::answer_next`] did.
#[derive(Debug)]
pub(crate) enum Answer {
    /// No complete request is buffered.
    Incomplete,
    /// A request was answered: its head is in `out`, this payload follows it.
    Answered(Payload),
    /// The buffered bytes are not a valid request: an error response is in `out`
    /// and the connection closes after it.
    Rejected,
}

/// The handler and the rules around it, shared by every worker of a server.
#[derive(Debug)]
pub(crate) struct Responder<H> {
    handler: Arc<H>,
    shutting_down: Arc<AtomicBool>,
    limits: Limits,
    /// False when the keep-alive timeout is zero: no connection outlives its response.
    keep_alive: bool,
    keep_alive_secs: u64,
    max_requests: u32,
    bodies: BodyRule,
    /// The bodies of the error responses the server writes itself.
    error_body: ErrorBody,
}

impl<H> Clone for Responder<H> {
    fn clone(&self) -> Responder<H> {
        Responder {
            handler: Arc::clone(&self.handler),
            shutting_down: Arc::clone(&self.shutting_down),
            limits: self.limits,
            keep_alive: self.keep_alive,
            keep_alive_secs: self.keep_alive_secs,
            max_requests: self.max_requests,
            bodies: self.bodies.clone(),
            error_body: self.error_body.clone(),
        }
    }
}

impl<H: Handler> Responder<H> {
    pub(crate) fn new(handler: H, config: &Config, shutting_down: Arc<AtomicBool>) -> Responder<H> {
        Responder {
            handler: Arc::new(handler),
            shutting_down,
            limits: config.limits(),
            keep_alive: !config.keep_alive_timeout.is_zero(),
            keep_alive_secs: persistence::keep_alive_secs(config.keep_alive_timeout),
            max_requests: config.max_keep_alive_requests,
            bodies: config.body_rule(),
            error_body: config.error_body.clone(),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The body rule, for a model that asks it from the head.
    pub(crate) fn bodies(&self) -> &BodyRule {
        &self.bodies
    }

    /// What the bodies of the server's own error responses are, for [`refuse`].
    pub(crate) fn error_body(&self) -> &ErrorBody {
        &self.error_body
    }

    /// Answers the first complete request in `ex.input`, appending the response head to
    /// `out` (and the whole response, when the server writes it itself: a refusal, a
    /// `500`); the [`Answer`] carries the body that follows it.
    pub(crate) fn answer_next(&self, ex: ConnParts<'_>, out: &mut Vec<u8>) -> Answer {
        let (buffered, progress) = ex.input.bytes_and_progress();
        let (request, used) = match request::next(buffered, progress, &self.limits) {
            Ok(request::Next::Complete { request, len }) => (request, len),
            Ok(request::Next::Partial { .. }) => return Answer::Incomplete,
            Err(e) => {
                debug!("{} #{}: rejected: {} ({})", ex.peer, ex.id, e.reason(), e.status());
                refuse(ex, out, e.status(), e.reason(), &self.error_body);
                return Answer::Rejected;
            }
        };
        ex.input.consume(used);
        self.answer(ex, request, out)
    }

    /// Answers `request`, already taken from `ex.input`, appending the response head to
    /// `out` (the whole response when the server writes its own), as
    /// [`answer_next`](Responder::answer_next) does.
    pub(crate) fn answer(&self, ex: ConnParts<'_>, request: crate::Request, out: &mut Vec<u8>) -> Answer {
        *ex.served += 1;
        debug!(
            "{} #{}: {} {} {:?} (request {} on this connection)",
            ex.peer,
            ex.id,
            request.method(),
            request.uri(),
            request.version(),
            ex.served
        );

        if request.method() == Method::CONNECT {
            // RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection into a tunnel, with
            // no framing. nioserve has no tunnels, so it answers CONNECT itself and no
            // handler ever sees one. What follows it may already be bytes meant for the
            // tunnel: never a request.
            ex.input.consume(ex.input.len());
            let logged = ex.access.enabled().then(|| (Instant::now(), request.uri().clone()));
            let answer = Own {
                method: request.method(),
                version: request.version(),
                status: StatusCode::NOT_IMPLEMENTED,
                detail: "CONNECT is not supported",
                reason: CloseReason::BadRequest(StatusCode::NOT_IMPLEMENTED.as_u16()),
            };
            return answer.write(ex, out, logged, &self.error_body);
        }

        // A body the policy does not accept: the poller refused it from the head already if
        // it came apart from it; one that came with its head (or to the blocking model) is
        // held to the same answer here, before the handler runs.
        let mut request = request;
        if let Some(status) = self.body_refusal(&mut request) {
            debug!("{} #{}: body refused by the policy ({status})", ex.peer, ex.id);
            let logged = ex.access.enabled().then(|| (Instant::now(), request.uri().clone()));
            let answer = Own {
                method: request.method(),
                version: request.version(),
                status,
                detail: "",
                reason: CloseReason::BadRequest(status.as_u16()),
            };
            return answer.write(ex, out, logged, &self.error_body);
        }
        request
            .extensions_mut()
            .insert(ConnectionInfo::new(ex.peer, ex.local, *ex.served));
        let version = request.version();
        let client_keeps_alive = persistence::wants_keep_alive(version, request.headers());
        // RFC 9110 §7.8: a server may switch only to a protocol the client asked for.
        let client_upgrades = version == Version::HTTP_11
            && request.headers().contains_key(header::UPGRADE)
            && fields::header_has_token(request.headers(), header::CONNECTION, "upgrade");
        let method = request.method().clone();
        let route = Route::of(&request);
        // The line is logged once the response's last byte is written (see `access`).
        let access = ex.access.enabled().then(|| (Instant::now(), request.uri().clone()));

        let handler = &self.handler;
        let response = match panic::catch_unwind(AssertUnwindSafe(|| handler.call(request))) {
            Ok(response) => response,
            Err(payload) => {
                handler::drop_payload(payload);
                error!(
                    "{} #{}: handler panicked on {method} {route}; answering 500",
                    ex.peer, ex.id
                );
                return Own::failure(&method, version, CloseReason::HandlerPanicked).write(
                    ex,
                    out,
                    access,
                    &self.error_body,
                );
            }
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return self.switch(ex, out, response, client_upgrades, (&method, version, &route), access);
        }
        // Decided after the handler ran: shutdown may have begun meanwhile.
        let last_buffered = ex.eof && ex.input.is_empty();
        let persistence = persistence::decide(&Facts {
            served: *ex.served,
            version,
            client_keeps_alive,
            response_headers: response.headers(),
            max_requests: self.max_requests,
            keep_alive: self.keep_alive,
            keep_alive_secs: self.keep_alive_secs,
            shutting_down: self.shutting_down.load(Ordering::Acquire),
            last_buffered,
            body_len_known: response.body().len().is_some(),
        });
        let status = response.status().as_u16();
        let payload = match response::encode(out, &method, version, response, persistence) {
            Ok(payload) => payload,
            Err(invalid) => {
                error!(
                    "{} #{}: the handler's response to {method} {route} cannot be sent: {invalid}; answering 500",
                    ex.peer, ex.id
                );
                return Own::failure(&method, version, CloseReason::InvalidResponse).write(
                    ex,
                    out,
                    access,
                    &self.error_body,
                );
            }
        };
        if let Persistence::Close(why) = persistence {
            *ex.closing = Some(CloseReason::LastResponse(why));
        }
        if let Some((started, uri)) = access {
            let body_at = ex.queued + out.len() as u64;
            let text = access::request_line(ex.peer, &method, &uri, version, status);
            // A streamed body's end is known once its producer finishes (`ConnectionLog::ends_at`).
            let end = payload.len().map_or(u64::MAX, |len| body_at + len);
            ex.access.push(text, started, body_at, end);
        }
        Answer::Answered(payload)
    }
}

impl<H: Handler> Responder<H> {
    /// Holds a request with a body to the body rule: the status to refuse it with, if the
    /// rule does not accept it.
    fn body_refusal(&self, request: &mut crate::Request) -> Option<StatusCode> {
        if !self.bodies.is_custom() || request.body().is_empty() {
            return None;
        }
        let (head, body) = mem::take(request).into_parts();
        let refusal = match self.bodies.decide(&head) {
            BodyPolicy::Refuse(status) => Some(status),
            BodyPolicy::Accept { max } if body.len() > max => Some(StatusCode::PAYLOAD_TOO_LARGE),
            BodyPolicy::Accept { .. } => None,
        };
        *request = crate::Request::from_parts(head, body);
        refusal
    }

    /// Sends a handler's `101 Switching Protocols` and hands the connection over, or the
    /// `500` for one that cannot be sent honestly.
    fn switch(
        &self,
        ex: ConnParts<'_>,
        out: &mut Vec<u8>,
        response: crate::Response,
        client_upgrades: bool,
        (method, version, route): (&Method, Version, &Route),
        access: Option<(Instant, Uri)>,
    ) -> Answer {
        let on_upgrade = response.extensions().get::<OnUpgrade>().cloned();
        let refused = if !client_upgrades {
            Some("the request did not ask to upgrade (Connection: upgrade, Upgrade)")
        } else if !response.headers().contains_key(header::UPGRADE) {
            Some("it has no Upgrade header")
        } else if on_upgrade.is_none() {
            Some("it has no OnUpgrade to take the connection")
        } else {
            None
        };
        let at = out.len();
        let switched = match refused {
            None => response::encode_switch(out, response.headers()).map_err(|invalid| invalid.to_string()),
            Some(why) => Err(why.to_string()),
        };
        if let Err(why) = switched {
            error!(
                "{} #{}: the handler's 101 to {method} {route} cannot be sent: {why}; answering 500",
                ex.peer, ex.id
            );
            return Own::failure(method, version, CloseReason::InvalidResponse).write(
                ex,
                out,
                access,
                &self.error_body,
            );
        }
        *ex.closing = Some(CloseReason::Upgraded);
        if let Some((started, uri)) = access {
            let text = access::request_line(ex.peer, method, &uri, version, 101);
            ex.access.push_whole(text, started, ex.queued + at as u64, &out[at..]);
        }
        Answer::Answered(Payload::Upgrade(on_upgrade.expect("checked above")))
    }
}

/// Refuses the request at the front of `ex.input` with `status` (`detail` is the body):
/// appends the error response to `out` and queues its access-log line, drops whatever the
/// client sent, and marks the connection to close after the response. Once a request is
/// refused, nobody can say where a next one would start.
///
/// The one refusal of both models, whether the codec refused the bytes, the request was
/// too large to buffer, or it did not arrive within the request timeout (408). The body
/// is `error_body`'s, if it makes one for `status`.
pub(crate) fn refuse(ex: ConnParts<'_>, out: &mut Vec<u8>, status: StatusCode, detail: &str, error_body: &ErrorBody) {
    let method = head::method_for_refusal(ex.input.bytes());
    let at = out.len();
    let custom = error_body.for_status(status);
    let custom = custom.as_ref().map(|(content_type, body)| (content_type, &body[..]));
    response::encode_error(out, &method, status, detail, custom);
    if ex.access.enabled() {
        let text = access::refusal_line(ex.peer, status.as_u16());
        ex.access
            .push_whole(text, Instant::now(), ex.queued + at as u64, &out[at..]);
    }
    // Whatever else the client sent is never processed as a request.
    ex.input.consume(ex.input.len());
    *ex.closing = Some(if status == StatusCode::REQUEST_TIMEOUT {
        CloseReason::RequestTimeout
    } else {
        CloseReason::BadRequest(status.as_u16())
    });
}

/// Answers `request`, which waited `waited` for a worker, past the queue timeout, with the
/// server's own `503 Service Unavailable` (and `Retry-After: 1`) instead of running the
/// handler. The connection closes after it and nothing buffered behind it is run: those
/// requests waited as long, and a client told to come back later should not be kept
/// busy on this connection meanwhile. Access-logged with its request line, as a `500`
/// written in place of a handler's response is.
pub(crate) fn overdue(
    ex: ConnParts<'_>,
    request: &crate::Request,
    waited: Duration,
    out: &mut Vec<u8>,
    error_body: &ErrorBody,
) -> Answer {
    *ex.served += 1;
    debug!(
        "{} #{}: {} {} waited {waited:?} for a worker, past the queue timeout; answering 503",
        ex.peer,
        ex.id,
        request.method(),
        request.uri()
    );
    ex.input.consume(ex.input.len());
    let logged = ex.access.enabled().then(|| (Instant::now(), request.uri().clone()));
    let answer = Own {
        method: request.method(),
        version: request.version(),
        status: StatusCode::SERVICE_UNAVAILABLE,
        detail: "no worker was free in time, try again",
        reason: CloseReason::QueueTimeout,
    };
    answer.write(ex, out, logged, error_body)
}

/// What to do about a request that has not all arrived, in either model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Partial {
    /// Wait for more bytes.
    Wait,
    /// The client waits for `100 Continue` before it sends the body: send it, then wait.
    SendContinue,
    /// The buffer holds as much as one request may take and it is still not whole:
    /// refuse it (413).
    Refuse(ParseError),
}

/// Decides [`Partial`]: `buffered` bytes of a request that is not whole yet, whose head
/// (if complete) asks for `100 Continue` when `expects_continue`; `continue_sent` if that
/// was answered already.
///
/// RFC 9110 §10.1.1: the body is asked for only once the head is acceptable, which the
/// codec has decided by now (a refused head is an error, never `Partial`).
pub(crate) fn partial(
    buffered: usize,
    max_request_bytes: usize,
    expects_continue: bool,
    continue_sent: bool,
) -> Partial {
    if buffered >= max_request_bytes {
        Partial::Refuse(ParseError::BodyTooLarge)
    } else if expects_continue && !continue_sent {
        Partial::SendContinue
    } else {
        Partial::Wait
    }
}

/// A response the server writes itself in place of a handler's (a `500` for a handler
/// that failed, a `501` for `CONNECT`, a `503` for a request that waited too long); the
/// connection closes after it.
struct Own<'m> {
    method: &'m Method,
    version: Version,
    status: StatusCode,
    detail: &'static str,
    reason: CloseReason,
}

impl<'m> Own<'m> {
    /// The `500` for a handler that panicked or returned what cannot be sent.
    fn failure(method: &'m Method, version: Version, reason: CloseReason) -> Own<'m> {
        Own {
            method,
            version,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "",
            reason,
        }
    }

    /// Encodes it into `out`, marks the connection closing, and queues its access-log
    /// line when `logged` holds the request's start and target.
    fn write(
        self,
        ex: ConnParts<'_>,
        out: &mut Vec<u8>,
        logged: Option<(Instant, Uri)>,
        error_body: &ErrorBody,
    ) -> Answer {
        let at = out.len();
        let custom = error_body.for_status(self.status);
        let custom = custom.as_ref().map(|(content_type, body)| (content_type, &body[..]));
        response::encode_error(out, self.method, self.status, self.detail, custom);
        *ex.closing = Some(self.reason);
        if let Some((started, uri)) = logged {
            let text = access::request_line(ex.peer, self.method, &uri, self.version, self.status.as_u16());
            ex.access.push_whole(text, started, ex.queued + at as u64, &out[at..]);
        }
        Answer::Rejected
    }
}

/// How much of a request's path an error line names.
const ROUTE_BYTES: usize = 96;

/// A request's path as far as an error line needs it, copied before the handler takes
/// the request. Kept on the stack: naming the route costs no allocation per request.
struct Route {
    bytes: [u8; ROUTE_BYTES],
    len: usize,
    cut: bool,
}

impl Route {
    fn of(request: &crate::Request) -> Route {
        let path = request.uri().path().as_bytes();
        let len = path.len().min(ROUTE_BYTES);
        let mut bytes = [0; ROUTE_BYTES];
        bytes[..len].copy_from_slice(&path[..len]);
        Route {
            bytes,
            len,
            cut: len < path.len(),
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes[..self.len]))?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}
