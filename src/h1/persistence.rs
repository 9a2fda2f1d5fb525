//! Keep-alive or close: whether a connection persists after a response (RFC 9112 §9.3),
//! decided in one pure function, [`decide`], from the facts of one exchange.

use std::time::Duration;

use ::http::header::{self, HeaderMap};
use ::http::Version;

use super::fields::header_has_token;

/// What the `Connection` header of a response says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 persists by default: no header needed.
    KeepAlive,
    /// An HTTP/1.0 client asked for keep-alive: say yes, and for how long
    /// (`Keep-Alive: timeout=T, max=M`).
    KeepAlive10 {
        /// `timeout`: the keep-alive timeout in whole seconds, rounded up (`keep_alive_secs`).
        timeout_secs: u64,
        /// `max`: how many more requests the connection will serve.
        max: u32,
    },
    /// This is the last response on the connection, for this reason.
    Close(Why),
}

/// Why a response is the last on its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The request said `Connection: close` (or was HTTP/1.0 without keep-alive).
    ClientAsked,
    /// The handler's response said `Connection: close`.
    HandlerAsked,
    /// `max_keep_alive_requests` were served on it.
    MaxRequests,
    /// The keep-alive timeout is zero: every response is the last.
    KeepAliveOff,
    /// The server is shutting down.
    Shutdown,
    /// The client half-closed (EOF) after its last request: it is answered, then the
    /// connection closes.
    ClientHalfClosed,
    /// A body of unknown length to an HTTP/1.0 client, which has no chunked coding: the
    /// close is what ends the body (RFC 9112 §6.3, rule 8).
    UnframedBody,
}

/// What [`decide`] goes by: the facts of one exchange, and the server's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts<'a> {
    /// Requests served on the connection, this one included.
    pub(crate) served: u32,
    /// The request's version.
    pub(crate) version: Version,
    /// The request asked for the connection to persist ([`wants_keep_alive`]).
    pub(crate) client_keeps_alive: bool,
    /// The headers of the handler's response.
    pub(crate) response_headers: &'a HeaderMap,
    /// `max_keep_alive_requests`: the most requests one connection serves.
    pub(crate) max_requests: u32,
    /// False when the keep-alive timeout is zero: no connection outlives its response.
    pub(crate) keep_alive: bool,
    /// The keep-alive timeout as an HTTP/1.0 `Keep-Alive` header announces it
    /// ([`keep_alive_secs`]).
    pub(crate) keep_alive_secs: u64,
    /// The server is shutting down (read after the handler ran: it may have begun meanwhile).
    pub(crate) shutting_down: bool,
    /// The client half-closed and this request was the last one buffered.
    pub(crate) last_buffered: bool,
    /// The response body's length is known before it is sent: false only for a stream
    /// from [`Body::channel`](crate::Body::channel).
    pub(crate) body_len_known: bool,
}

/// Whether the connection stays open after this response (RFC 9112 §9.3), and so what the
/// response's `Connection` header says. The first reason to close, in the order of [`Why`],
/// wins.
pub(crate) fn decide(facts: &Facts<'_>) -> Persistence {
    let why = if !facts.client_keeps_alive {
        Why::ClientAsked
    } else if header_has_token(facts.response_headers, header::CONNECTION, "close") {
        Why::HandlerAsked
    } else if facts.served >= facts.max_requests {
        Why::MaxRequests
    } else if !facts.keep_alive {
        // A zero keep-alive timeout: say so now rather than answer as persistent
        // and close the moment the connection is idle.
        Why::KeepAliveOff
    } else if facts.shutting_down {
        Why::Shutdown
    } else if facts.last_buffered {
        // The client half-closed after its last request: answer it, then close.
        Why::ClientHalfClosed
    } else if !facts.body_len_known && facts.version == Version::HTTP_10 {
        Why::UnframedBody
    } else if facts.version == Version::HTTP_10 {
        return Persistence::KeepAlive10 {
            timeout_secs: facts.keep_alive_secs,
            max: facts.max_requests - facts.served,
        };
    } else {
        return Persistence::KeepAlive;
    };
    Persistence::Close(why)
}

/// Whether the client wants the connection kept open after this request (RFC 9112 §9.3).
///
/// HTTP/1.1 connections persist unless `Connection` lists `close`; HTTP/1.0 connections only
/// if it lists `keep-alive` (the pre-1.1 opt-in, RFC 9112 Appendix C.2.2) and not `close`.
pub(crate) fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let close = header_has_token(headers, header::CONNECTION, "close");
    match version {
        Version::HTTP_11 => !close,
        Version::HTTP_10 => !close && header_has_token(headers, header::CONNECTION, "keep-alive"),
        _ => false,
    }
}

/// The `timeout` of a `Keep-Alive` header for a keep-alive timeout: in whole seconds,
/// rounded up, so that a timeout under a second is not announced as 0 (which would tell the
/// client the connection cannot be reused at all).
pub(crate) fn keep_alive_secs(timeout: Duration) -> u64 {
    timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::fields::{header_map, Lines};

    #[test]
    fn keep_alive() {
        const HTTP_10: Version = Version::HTTP_10;
        const HTTP_11: Version = Version::HTTP_11;
        #[rustfmt::skip]
        let table: &[(Version, Lines, bool)] = &[
            (HTTP_11, &[], true),
            (HTTP_11, &[("connection", "close")], false),
            (HTTP_11, &[("connection", "Close")], false),
            (HTTP_11, &[("connection", "keep-alive, close")], false),
            (HTTP_11, &[("connection", "keep-alive"), ("connection", "close")], false),
            (HTTP_11, &[("connection", "closed")], true),
            (HTTP_11, &[("connection", "upgrade")], true),
            (HTTP_11, &[("x-connection", "close")], true),
            (HTTP_10, &[], false),
            (HTTP_10, &[("connection", "Keep-Alive")], true),
            (HTTP_10, &[("connection", "foo"), ("connection", " keep-alive ")], true),
            (HTTP_10, &[("connection", "keep-alive, close")], false),
            (Version::HTTP_2, &[], false),
        ];
        for &(version, lines, want) in table {
            let headers = header_map(lines);
            assert_eq!(wants_keep_alive(version, &headers), want, "{version:?} {lines:?}");
        }
    }
    /// An exchange that keeps the connection: HTTP/1.1, the 3rd of at most 10 requests.
    fn facts(response_headers: &HeaderMap) -> Facts<'_> {
        Facts {
            served: 3,
            version: Version::HTTP_11,
            client_keeps_alive: true,
            response_headers,
            max_requests: 10,
            keep_alive: true,
            keep_alive_secs: 5,
            shutting_down: false,
            last_buffered: false,
            body_len_known: true,
        }
    }

    #[test]
    fn decides() {
        use Persistence::{Close, KeepAlive, KeepAlive10};
        use Why::*;

        fn none(_: &mut Facts<'_>) {}
        fn http_10(f: &mut Facts<'_>) {
            f.version = Version::HTTP_10;
        }
        fn client_close(f: &mut Facts<'_>) {
            f.client_keeps_alive = false;
        }
        fn at_max(f: &mut Facts<'_>) {
            f.served = f.max_requests;
        }
        fn below_max(f: &mut Facts<'_>) {
            f.served = f.max_requests - 1;
        }
        fn off(f: &mut Facts<'_>) {
            f.keep_alive = false;
        }
        fn shutdown(f: &mut Facts<'_>) {
            f.shutting_down = true;
        }
        fn half_closed(f: &mut Facts<'_>) {
            f.last_buffered = true;
        }
        fn streamed(f: &mut Facts<'_>) {
            f.body_len_known = false;
        }
        const CLOSE: Lines = &[("connection", "keep-alive, Close")];
        // name, response headers, what differs from `facts`, and the decision
        type Row = (&'static str, Lines, &'static [fn(&mut Facts<'_>)], Persistence);
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("HTTP/1.1 persists", &[], &[none], KeepAlive),
            ("HTTP/1.0 keep-alive, with timeout and max", &[], &[http_10], KeepAlive10 { timeout_secs: 5, max: 7 }),
            ("HTTP/1.0, one request left", &[], &[http_10, below_max], KeepAlive10 { timeout_secs: 5, max: 1 }),
            // One row per reason.
            ("client asked", &[], &[client_close], Close(ClientAsked)),
            ("handler asked", CLOSE, &[none], Close(HandlerAsked)),
            ("handler's other Connection options", &[("connection", "closed")], &[none], KeepAlive),
            ("one below max requests", &[], &[below_max], KeepAlive),
            ("max requests", &[], &[at_max], Close(MaxRequests)),
            ("HTTP/1.0 at max requests", &[], &[http_10, at_max], Close(MaxRequests)),
            ("keep-alive off", &[], &[off], Close(KeepAliveOff)),
            ("shutting down", &[], &[shutdown], Close(Shutdown)),
            ("HTTP/1.0 while shutting down", &[], &[http_10, shutdown], Close(Shutdown)),
            ("half-closed after the last request", &[], &[half_closed], Close(ClientHalfClosed)),
            ("HTTP/1.0, a body of unknown length", &[], &[http_10, streamed], Close(UnframedBody)),
            ("HTTP/1.1, a body of unknown length (chunked)", &[], &[streamed], KeepAlive),
            // Precedence: the first reason in the order of `Why` wins.
            ("client over everything", CLOSE, &[client_close, at_max, off, shutdown, half_closed], Close(ClientAsked)),
            ("handler over the server", CLOSE, &[at_max, off, shutdown, half_closed], Close(HandlerAsked)),
            ("max requests over the rest", &[], &[at_max, off, shutdown, half_closed], Close(MaxRequests)),
            ("keep-alive off over shutdown", &[], &[off, shutdown, half_closed], Close(KeepAliveOff)),
            ("shutdown over half-close", &[], &[shutdown, half_closed], Close(Shutdown)),
            ("half-close over an unframed body", &[], &[http_10, streamed, half_closed], Close(ClientHalfClosed)),
        ];
        for &(name, lines, changes, want) in table {
            let headers = header_map(lines);
            let mut facts = facts(&headers);
            for change in changes {
                change(&mut facts);
            }
            assert_eq!(decide(&facts), want, "{name}");
        }
    }

    #[test]
    fn keep_alive_timeout_is_rounded_up() {
        #[rustfmt::skip]
        let table = [
            (Duration::from_millis(300), 1), (Duration::from_millis(1000), 1),
            (Duration::from_millis(1001), 2), (Duration::from_millis(1500), 2),
            (Duration::from_secs(5), 5), (Duration::from_nanos(1), 1), (Duration::ZERO, 0),
        ];
        for (timeout, secs) in table {
            assert_eq!(keep_alive_secs(timeout), secs, "{timeout:?}");
        }
    }
}
