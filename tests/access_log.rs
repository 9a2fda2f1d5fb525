//! The access log (`info`, target `nioserve::access`): a line for every response,
//! refusals the server writes itself included, with the body bytes that actually went
//! out and the time to the last byte. This test binary installs a logger that keeps
//! the lines, so each test can look for its own.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use log::Level;
use nioserve::{Model, Request, Response, ServerHandle};
use support::{capture_log, server, start, wait_until, CapturedLog, Client};

/// The access-log lines kept by this test binary's logger.
fn lines() -> &'static CapturedLog {
    capture_log("nioserve::access", Level::Info)
}

/// Waits for the one access-log line that contains `what`, and returns it.
fn line_with(what: &str) -> String {
    let mut found = None;
    wait_until(&format!("an access-log line with {what:?}"), || {
        let all = lines().lines();
        let matching: Vec<&String> = all.iter().filter(|l| l.contains(what)).collect();
        assert!(matching.len() <= 1, "more than one line for {what:?}: {matching:?}");
        found = matching.first().map(|l| l.to_string());
        found.is_some()
    });
    found.expect("found")
}

/// The body bytes and milliseconds at the end of a line: `… STATUS BYTES MS"ms"`.
fn bytes_and_ms(line: &str) -> (u64, f64) {
    let mut fields = line.rsplit(' ');
    let ms = fields.next().and_then(|f| f.strip_suffix("ms")).expect("time");
    let bytes = fields.next().expect("bytes");
    (
        bytes.parse().unwrap_or_else(|_| panic!("bytes in {line}")),
        ms.parse().unwrap_or_else(|_| panic!("time in {line}")),
    )
}

const BIG: usize = 16 * 1024 * 1024;

fn big_server(model: Model) -> ServerHandle {
    lines();
    start(
        server().model(model).workers(2).max_header_bytes(1024),
        |req: Request| {
            if req.uri().path().starts_with("/big") {
                Response::new(vec![b'x'; BIG].into())
            } else {
                Response::new("small".into())
            }
        },
    )
}

#[test]
fn every_response_has_a_line_with_what_was_sent() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = big_server(model);
        let mut client = Client::connect(handle.local_addr());
        let tag = format!("{model:?}");

        assert_eq!(client.get(&format!("/small/{tag}")).status, 200);
        let line = line_with(&format!("\"GET /small/{tag} HTTP/1.1\" 200 "));
        assert_eq!(bytes_and_ms(&line).0, 5, "{line}");

        // HEAD: the length a GET would get is announced, no body byte is sent.
        client.send(format!("HEAD /big/{tag} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(client.head_reply().status, 200);
        let line = line_with(&format!("\"HEAD /big/{tag} HTTP/1.1\" 200 "));
        assert_eq!(bytes_and_ms(&line).0, 0, "{line}");
    }
}

#[test]
fn refusals_the_server_writes_itself_have_a_line() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = big_server(model);
        let mut client = Client::connect(handle.local_addr());
        let long = "v".repeat(2048);
        client.send(format!("GET /refused HTTP/1.1\r\nHost: t\r\nX-Long: {long}\r\n\r\n").as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, 431);
        let peer = client.stream.local_addr().expect("local addr");
        let line = line_with(&format!("{peer} \"-\" 431 "));
        assert_eq!(bytes_and_ms(&line).0, reply.body.len() as u64, "{line}");
    }
}

#[test]
fn a_response_is_logged_when_its_last_byte_is_written() {
    let handle = big_server(Model::Nio);
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /big/slow-reader HTTP/1.1\r\nHost: t\r\n\r\n");
    // The response waits on the poller for this client, which takes its time.
    wait_until("the response waits for the client", || {
        let s = handle.stats();
        s.requests == 1 && s.connections_busy == 0
    });
    thread::sleep(Duration::from_millis(300));
    assert!(
        !lines().lines().iter().any(|l| l.contains("/big/slow-reader")),
        "logged before the client had it"
    );
    let reply = client.reply();
    assert_eq!(reply.body.len(), BIG);
    let line = line_with("\"GET /big/slow-reader HTTP/1.1\" 200 ");
    let (bytes, ms) = bytes_and_ms(&line);
    assert_eq!(bytes, BIG as u64, "{line}");
    assert!(ms >= 300.0, "the time runs to the last byte: {line}");
}

#[test]
fn a_response_cut_off_by_a_vanished_client_logs_the_bytes_actually_sent() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = big_server(model);
        let mut client = TcpStream::connect(handle.local_addr()).expect("connect");
        let path = format!("/big/vanished/{model:?}");
        std::io::Write::write_all(
            &mut client,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        )
        .expect("request");
        let mut some = [0u8; 64 * 1024];
        client.read_exact(&mut some).expect("the first bytes");
        // Gone, with a reset: the rest of the 16 MiB can never be sent.
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(client);
        let line = line_with(&format!("\"GET {path} HTTP/1.1\" 200 "));
        let (bytes, _) = bytes_and_ms(&line);
        assert!(bytes < BIG as u64, "{model:?}: logged as sent whole: {line}");
        assert!(
            bytes >= 64 * 1024 - 200,
            "{model:?}: at least what the client read: {line}"
        );
    }
}
