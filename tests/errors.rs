//! Every error status the server sends on its own, and what follows it: the
//! connection closes, and nothing sent after a rejected request is processed.

mod support;

use std::time::Duration;

use nioserve::{Request, Response};
use support::{echo_server, server, start, wait_until, Client};

/// (request, expected status)
const REJECTED: &[(&str, u16)] = &[
    ("GET / HTTP/1.1\r\n\r\n", 400),                                   // no Host
    ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),             // two Hosts
    ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400), // bad length
    (
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    ), // differing
    (
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        400,
    ), // smuggling
    (
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    ), // bad chunk size
    ("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400),       // space in a name
    (
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    ), // coding we lack
    ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: bogus\r\n\r\n", 400), // final coding not chunked
    ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413), // over max_body_bytes
];

#[test]
fn malformed_requests_get_their_status_and_the_connection_closes() {
    let handle = echo_server(server().max_body_bytes(1000));
    for (request, status) in REJECTED {
        let mut client = Client::connect(handle.local_addr());
        // A valid request right behind the bad one must never be answered.
        client.send(format!("{request}GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, *status, "{request:?}");
        assert!(reply.closes(), "{request:?} must close");
        assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(reply.body_text().starts_with(&status.to_string()));
        client.expect_closed();
    }
    assert_eq!(
        handle.stats().requests,
        0,
        "no rejected or smuggled request reached the handler"
    );
}

#[test]
fn oversized_heads_and_targets() {
    let handle = echo_server(server().max_header_bytes(1024).max_uri_bytes(256));
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(300));
    let big_field = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(2000));
    let many_fields: String = std::iter::once("GET / HTTP/1.1\r\nHost: t\r\n".to_string())
        .chain((0..100).map(|i| format!("X-{i}: v\r\n")))
        .chain(std::iter::once("\r\n".to_string()))
        .collect();
    // A head that never ends is refused once it passes the limit, not when it ends.
    let endless = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}",
        "X-Filler: 0123456789\r\n".repeat(100)
    );
    let uri_never_ends = format!("GET /{}", "c".repeat(2000));

    for (request, status) in [
        (long_uri, 414),
        (big_field, 431),
        (many_fields, 431),
        (endless, 431),
        (uri_never_ends, 414),
    ] {
        let mut client = Client::connect(handle.local_addr());
        client.send(request.as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, status, "{}", &request[..40]);
        assert!(reply.closes());
        client.expect_closed();
    }
}

#[test]
fn a_head_past_the_default_or_a_raised_limit_gets_431_at_once() {
    // The poller reads no more of a head than the limit allows; it must still see
    // the byte past the limit to refuse it, not wait for the request timeout (408).
    for (limit, configure) in [(16 * 1024, server()), (64 * 1024, server().max_header_bytes(64 * 1024))] {
        let handle = echo_server(configure.request_timeout(Duration::from_secs(60)));
        let head = |len: usize| {
            let start = "GET / HTTP/1.1\r\nHost: t\r\nAccept-Encoding: ";
            let filler = len - start.len() - "\r\n\r\n".len();
            format!("{start}{}\r\n\r\n", &"gzip, ".repeat(filler / 6 + 1)[..filler])
        };
        // Exactly at the limit: served.
        let mut client = Client::connect(handle.local_addr());
        client.send(head(limit).as_bytes());
        assert_eq!(client.reply().status, 200, "a head of {limit} bytes");
        for len in [limit + 1, limit + 1000, 1 << 20] {
            let mut client = Client::connect(handle.local_addr());
            client.send(head(len).as_bytes());
            let reply = client.reply();
            assert_eq!(reply.status, 431, "a head of {len} bytes, limit {limit}");
            assert!(reply.closes());
        }
    }
}

#[test]
fn a_request_that_never_completes_gets_408() {
    let handle = echo_server(server().request_timeout(Duration::from_millis(300)));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n");
    let reply = client.reply();
    assert_eq!(reply.status, 408);
    assert!(reply.closes());
    client.expect_closed();
    wait_until("the timeout is counted", || handle.stats().timed_out == 1);
}

#[test]
fn a_panicking_handler_gets_500_and_the_worker_lives_on() {
    let handle = start(server().workers(1), |req: Request| {
        if req.uri().path() == "/panic" {
            panic!("handler bug on purpose");
        }
        Response::new("fine".into())
    });
    for _ in 0..3 {
        let mut client = Client::connect(handle.local_addr());
        let reply = client.get("/panic");
        assert_eq!(reply.status, 500);
        assert!(reply.closes());
        client.expect_closed();
    }
    // The only worker survived all three panics.
    let mut client = Client::connect(handle.local_addr());
    assert_eq!(client.get("/ok").body_text(), "fine");
    wait_until("the worker is free again", || handle.stats().workers_busy == 0);
}
