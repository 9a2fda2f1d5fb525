//! Errors the server writes itself carry no body when the request was `HEAD` (RFC 9110
//! §9.3.2; issue 9, item 12): the same head a `GET` gets, and not a byte after it. A client
//! that reads a response to `HEAD` stops at the blank line; a body behind it would be read
//! as the start of the next response.
//!
//! Each exchange reads to the end of the connection (the server closes after an error), so
//! a body, or any byte after the head, cannot hide.

mod support;

use std::io::Read;
use std::time::Duration;

use nioserve::{Builder, Model, Request, Response};
use support::{server, start, Client};

/// Sends `request` and returns everything the server sends until it closes.
fn exchange(client: &mut Client, request: &[u8]) -> Vec<u8> {
    client.send(request);
    let mut all = Vec::new();
    client
        .stream
        .read_to_end(&mut all)
        .expect("the server closes after an error");
    all
}

/// The status of a response and what follows its head.
fn split(response: &[u8]) -> (u16, &[u8]) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(response)))
        + 4;
    let status = std::str::from_utf8(&response[9..12])
        .expect("status")
        .parse()
        .expect("status");
    (status, &response[end..])
}

fn panicking(req: Request) -> Response {
    if req.uri().path() == "/panic" {
        panic!("on purpose, for a 500");
    }
    Response::new("fine".into())
}

/// The refusals, each as a `HEAD` and as a `GET`: (status, request line and head after the
/// method).
fn refusals() -> Vec<(u16, String)> {
    vec![
        // Over max_header_bytes (1 KiB here): 431.
        (
            431,
            format!(" / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(2000)),
        ),
        (414, format!(" /{} HTTP/1.1\r\nHost: t\r\n\r\n", "u".repeat(300))),
        (
            413,
            " / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n".to_string(),
        ),
        (400, " / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_string()),
        (
            501,
            " / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_string(),
        ),
        (505, " / HTTP/2.0\r\nHost: t\r\n\r\n".to_string()),
        (500, " /panic HTTP/1.1\r\nHost: t\r\n\r\n".to_string()),
    ]
}

fn builder(model: Model) -> Builder {
    server()
        .model(model)
        .workers(2)
        .max_header_bytes(1024)
        .max_uri_bytes(256)
        .max_body_bytes(1000)
        .request_timeout(Duration::from_millis(300))
}

#[test]
fn a_refused_head_request_gets_the_head_and_no_body() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = start(builder(model), panicking);
        for (status, rest) in refusals() {
            let mut client = Client::connect(handle.local_addr());
            let to_head = exchange(&mut client, format!("HEAD{rest}").as_bytes());
            let (got, after) = split(&to_head);
            assert_eq!(got, status, "{model:?} HEAD{}", &rest[..rest.len().min(40)]);
            assert!(
                after.is_empty(),
                "{model:?}: {status} to HEAD followed by {:?}",
                String::from_utf8_lossy(after)
            );

            // The same refusal to a GET has its body, and the same length announced.
            let mut client = Client::connect(handle.local_addr());
            let to_get = exchange(&mut client, format!("GET{rest}").as_bytes());
            let (got, body) = split(&to_get);
            assert_eq!(got, status);
            assert!(body.starts_with(status.to_string().as_bytes()));
            let head_of = |response: &[u8]| {
                String::from_utf8_lossy(&response[..response.len() - split(response).1.len()])
                    .lines()
                    .filter(|line| !line.starts_with("Date: "))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            assert_eq!(head_of(&to_head), head_of(&to_get), "{model:?} {status}");
        }
    }
}

/// A `HEAD` that never completes gets its 408 without a body too: the request line said
/// `HEAD` before the head stopped coming.
#[test]
fn a_head_request_that_times_out_gets_408_without_a_body() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = start(builder(model), panicking);
        let mut client = Client::connect(handle.local_addr());
        let response = exchange(&mut client, b"HEAD /slow HTTP/1.1\r\nHost: t\r\n");
        let (status, after) = split(&response);
        assert_eq!(status, 408, "{model:?}");
        assert!(after.is_empty(), "{model:?}: {:?}", String::from_utf8_lossy(after));
    }
}
