//! Protocol upgrades: a `101 Switching Protocols` with an `OnUpgrade` hands the socket
//! (and the bytes read after the request) to the handler's callback and leaves the
//! server; a `101` that cannot be sent honestly is a `500`.

mod support;

use std::io::{Read, Write};

use nioserve::{Body, Model, OnUpgrade, Request, Response, ServerHandle};
use support::{server, start, wait_until, Client};

/// `/shout` switches to a protocol that echoes every byte upper-cased, on a thread of its
/// own; `/no-callback` answers 101 without an `OnUpgrade`; `/no-upgrade-header` without
/// an `Upgrade` header; anything else answers `plain`.
fn shouting_server(builder: nioserve::Builder) -> ServerHandle {
    start(builder, |req: Request| {
        let shout = OnUpgrade::new(|upgraded| {
            std::thread::spawn(move || {
                let (mut stream, read_ahead) = upgraded.into_parts();
                stream.write_all(&read_ahead.to_ascii_uppercase()).unwrap();
                let mut buf = [0; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
                        break;
                    }
                }
            });
        });
        let switching = http::Response::builder().status(101);
        match req.uri().path() {
            "/shout" => switching.header("upgrade", "shout").extension(shout),
            "/no-callback" => switching.header("upgrade", "shout"),
            "/no-upgrade-header" => switching.extension(shout),
            _ => return Response::new("plain".into()),
        }
        .body(Body::empty())
        .unwrap()
    })
}

const UPGRADE: &str = "Host: t\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n";

fn round_trip(handle: &ServerHandle) {
    let mut client = Client::connect(handle.local_addr());
    // Bytes of the new protocol sent right behind the request reach it too.
    client.send(format!("GET /shout HTTP/1.1\r\n{UPGRADE}ahead").as_bytes());
    let head = client.read_head();
    assert_eq!(head.status, 101);
    assert_eq!(head.header("upgrade"), Some("shout"));
    assert_eq!(head.header("connection"), Some("upgrade"));
    assert_eq!(head.header("content-length"), None);
    // The new protocol's first bytes may come in the same segment as the head.
    assert_eq!(client.read_bytes(5), b"AHEAD");
    client.stream.write_all(b"and back").unwrap();
    assert_eq!(client.read_bytes(8), b"AND BACK");
    // The server let the connection go, though it is still open.
    wait_until("the server no longer counts the connection", || {
        handle.stats().connections_open == 0
    });
    client.stream.write_all(b"still").unwrap();
    assert_eq!(client.read_bytes(5), b"STILL");
}

#[test]
fn an_upgrade_hands_the_connection_over_and_bytes_go_both_ways() {
    let handle = shouting_server(server().workers(1));
    round_trip(&handle);
    // The worker is free for others.
    assert_eq!(Client::connect(handle.local_addr()).get("/plain").body_text(), "plain");
    handle.shutdown();
}

#[test]
fn the_blocking_model_hands_the_connection_over_too() {
    let handle = shouting_server(server().model(Model::Blocking).workers(2));
    round_trip(&handle);
    handle.shutdown();
}

#[test]
fn a_101_that_cannot_be_sent_honestly_is_a_500() {
    let handle = shouting_server(server().workers(1));
    for (path, request_fields) in [
        // The client did not ask to upgrade.
        ("/shout", "Host: t\r\n\r\n"),
        ("/shout", "Host: t\r\nUpgrade: shout\r\n\r\n"),
        // The handler did not say to what, or gave nobody the connection.
        ("/no-upgrade-header", UPGRADE),
        ("/no-callback", UPGRADE),
    ] {
        let mut client = Client::connect(handle.local_addr());
        client.send(format!("GET {path} HTTP/1.1\r\n{request_fields}").as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, 500, "{path} {request_fields:?}");
        assert!(reply.closes());
    }
    handle.shutdown();
}

#[test]
fn an_http_10_request_cannot_upgrade() {
    let handle = shouting_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /shout HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n");
    assert_eq!(client.reply().status, 500);
    handle.shutdown();
}
