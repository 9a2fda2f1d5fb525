//! Status and limit choices that RFC 9110/9112 and an HTTP/1.1 conformance suite agree on
//! (issue 9, item 11), on the wire, against both connection models with default limits.

mod support;

use std::time::Duration;

use nioserve::{Builder, Model, Request, Response};
use support::{echo_server, server, start, Client};

/// A server of each model, with default limits.
fn servers(builder: impl Fn() -> Builder) -> [nioserve::ServerHandle; 2] {
    [echo_server(builder()), echo_server(builder().model(Model::Blocking))]
}

/// RFC 9110 §2.5: a later minor version of HTTP/1 is served as HTTP/1.1, with its rules:
/// persistent by default, `Host` required. Another major version stays 505.
#[test]
fn a_later_http_1_minor_version_is_served_as_1_1() {
    for handle in servers(server) {
        let mut client = Client::connect(handle.local_addr());
        for path in ["/one", "/two"] {
            client.send(format!("GET {path} HTTP/1.2\r\nHost: t\r\n\r\n").as_bytes());
            let reply = client.reply();
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body_text(), format!("GET {path}"));
            assert!(!reply.closes(), "persistent, as 1.1 is");
        }
        client.send(b"POST /c HTTP/1.9\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
        assert_eq!(client.reply().body_text(), "POST /c\nhi");

        for (request, status) in [
            ("GET / HTTP/1.2\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
            ("GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
            ("GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505),
        ] {
            let mut client = Client::connect(handle.local_addr());
            client.send(request.as_bytes());
            assert_eq!(client.reply().status, status, "{request:?}");
        }
    }
}

/// RFC 9112 §3: request lines of at least 8,000 octets should be supported. With the default
/// limits an 8 KiB target is served, and one byte more is a 414.
#[test]
fn the_default_limits_take_an_8000_byte_target() {
    for handle in servers(server) {
        for (len, status) in [(8000, 200), (8192, 200), (8193, 414)] {
            let target = format!("/{}", "t".repeat(len - 1));
            let mut client = Client::connect(handle.local_addr());
            // Real request heads carry more than a Host.
            client.send(
                format!("GET {target} HTTP/1.1\r\nHost: t\r\nUser-Agent: conformance\r\nAccept: */*\r\n\r\n")
                    .as_bytes(),
            );
            let reply = client.reply();
            assert_eq!(reply.status, status, "target of {len} bytes");
            if status == 200 {
                assert_eq!(reply.body_text(), format!("GET {target}"));
            }
        }
    }
}

/// Each refusal gets the status the RFCs give it, with the default limits.
#[test]
fn refusals_get_the_rfc_status() {
    let long_method = "M".repeat(20_000);
    let cases = [
        // RFC 9112 §3: a method longer than any implemented is 501, even one longer than
        // the head limit (it used to be 431), and one only a little too long.
        (format!("{long_method} / HTTP/1.1\r\nHost: t\r\n\r\n"), 501),
        (format!("{} / HTTP/1.1\r\nHost: t\r\n\r\n", "M".repeat(33)), 501),
        // RFC 9112 §7.1: a chunk-size that overflows 64 bits is malformed (it used to be 413).
        (
            "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n".to_string(),
            400,
        ),
        // RFC 9112 §3.2 and RFC 9110 §4.2.1: an empty Host is invalid.
        ("GET / HTTP/1.1\r\nHost:\r\n\r\n".to_string(), 400),
        ("GET / HTTP/1.1\r\nHost: \r\n\r\n".to_string(), 400),
        ("GET / HTTP/1.0\r\nHost:\r\n\r\n".to_string(), 400),
        // And, unchanged, a missing one in HTTP/1.1.
        ("GET / HTTP/1.1\r\n\r\n".to_string(), 400),
    ];
    for handle in servers(server) {
        for (request, status) in &cases {
            let mut client = Client::connect(handle.local_addr());
            client.send(request.as_bytes());
            let reply = client.reply();
            assert_eq!(reply.status, *status, "{:?}", &request[..request.len().min(60)]);
            assert!(reply.closes());
        }
        assert_eq!(handle.stats().requests, 0, "none reached the handler");
    }
}

/// RFC 9110 §15.5.14: 413 is "Content Too Large", on the server's own refusal and on a
/// handler's response alike.
#[test]
fn status_413_is_content_too_large() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = start(server().model(model).max_body_bytes(10), |_: Request| {
            let mut response = Response::new("too big".into());
            *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            response
        });
        for request in [
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
        ] {
            let mut client = Client::connect(handle.local_addr());
            client.send(request.as_bytes());
            let mut head = [0u8; 40];
            std::io::Read::read_exact(&mut client.stream, &mut head).expect("status line");
            assert!(
                head.starts_with(b"HTTP/1.1 413 Content Too Large\r\n"),
                "{:?}",
                String::from_utf8_lossy(&head)
            );
        }
    }
}

/// A `Keep-Alive: timeout=` is in whole seconds, rounded up: a keep-alive timeout under a
/// second is announced as 1, not 0 (which says the connection is useless).
#[test]
fn keep_alive_timeout_is_announced_rounded_up() {
    for (timeout, announced) in [(Duration::from_millis(300), 1), (Duration::from_millis(1500), 2)] {
        for handle in servers(|| server().keep_alive_timeout(timeout).max_keep_alive_requests(10)) {
            let mut client = Client::connect(handle.local_addr());
            client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let reply = client.reply();
            assert_eq!(
                reply.header("keep-alive"),
                Some(format!("timeout={announced}, max=9").as_str()),
                "{timeout:?}"
            );
        }
    }
}
