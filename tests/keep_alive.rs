//! Persistence (RFC 9112 §9.3): which responses keep the connection open.

mod support;

use std::net::Shutdown;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use nioserve::Request;
use support::{echo, echo_server, server, start, wait_until, Client, PATIENCE};

#[test]
fn http11_reuses_one_connection_for_many_requests() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    for path in ["/a", "/b", "/c"] {
        let reply = client.get(path);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("GET {path}"));
        assert!(!reply.closes());
        assert_eq!(reply.header("keep-alive"), None, "HTTP/1.1 needs no Keep-Alive header");
        assert!(reply.header("date").is_some() && reply.header("server").is_some());
    }
    wait_until("all three requests are counted", || handle.stats().requests == 3);
    assert_eq!(handle.stats().accepted, 1, "all three requests on one connection");
}

#[test]
fn http10_closes_unless_it_asks_for_keep_alive() {
    let handle = echo_server(
        server()
            .keep_alive_timeout(Duration::from_secs(7))
            .max_keep_alive_requests(50),
    );

    let mut plain = Client::connect(handle.local_addr());
    plain.send(b"GET /old HTTP/1.0\r\n\r\n");
    let reply = plain.reply();
    assert_eq!(reply.status, 200);
    assert!(reply.closes());
    plain.expect_closed();

    let mut kept = Client::connect(handle.local_addr());
    for i in 1..=2 {
        kept.send(b"GET /kept HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        let reply = kept.reply();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("connection"), Some("keep-alive"));
        assert_eq!(
            reply.header("keep-alive"),
            Some(format!("timeout=7, max={}", 50 - i).as_str())
        );
    }
}

#[test]
fn connection_close_is_honoured_as_a_token_list() {
    let handle = echo_server(server());
    for value in ["close", "Close", "keep-alive, CLOSE", "upgrade ,close"] {
        let mut client = Client::connect(handle.local_addr());
        client.send(format!("GET / HTTP/1.1\r\nHost: t\r\nConnection: {value}\r\n\r\n").as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert!(reply.closes(), "Connection: {value}");
        client.expect_closed();
    }
    // A token that merely contains "close" is not `close`.
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: closed-captions\r\n\r\n");
    assert!(!client.reply().closes());
    assert_eq!(client.get("/again").status, 200);
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection() {
    let handle = echo_server(server().keep_alive_timeout(Duration::from_millis(200)));
    let mut client = Client::connect(handle.local_addr());
    assert_eq!(client.get("/").status, 200);
    // The read blocks until the server gives up on the idle connection.
    client.expect_closed();
    wait_until("the timeout is counted and the slot freed", || {
        let s = handle.stats();
        s.timed_out == 1 && s.connections_open == 0
    });
}

#[test]
fn max_keep_alive_requests_ends_with_connection_close() {
    let handle = echo_server(server().max_keep_alive_requests(3));
    let mut client = Client::connect(handle.local_addr());
    assert!(!client.get("/1").closes());
    assert!(!client.get("/2").closes());
    let last = client.get("/3");
    assert_eq!(last.status, 200);
    assert!(last.closes(), "the third response is the last");
    client.expect_closed();
}

#[test]
fn client_half_close_after_request_still_gets_the_response() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /half HTTP/1.1\r\nHost: t\r\n\r\n");
    client.stream.shutdown(std::net::Shutdown::Write).expect("half-close");
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "GET /half");
    client.expect_closed();
    wait_until("the slot is freed", || handle.stats().connections_open == 0);
}

#[test]
fn a_request_and_fin_sent_while_on_a_worker_are_answered_and_the_connection_closes() {
    // The second request and the client's FIN both arrive while the first request is on a
    // worker, so the poller hears of them together. Reading the second request leaves room
    // in the buffer, which on Linux usually means the socket is drained; with a FIN
    // announced it is not: the poller must read on to it, answer with `Connection: close`
    // and close, rather than hold the connection until the keep-alive timeout (5 minutes).
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let handle = start(
        server().keep_alive_timeout(Duration::from_secs(300)),
        move |req: Request| {
            if req.uri().path() == "/slow" {
                let _ = started_tx.lock().expect("lock").send(());
                let _ = release_rx.lock().expect("lock").recv();
            }
            echo(req)
        },
    );
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    started_rx
        .recv_timeout(PATIENCE)
        .expect("the first request reaches its handler");
    client.send(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    client.stream.shutdown(Shutdown::Write).expect("half-close");
    release_tx.send(()).expect("release the handler");

    let first = client.reply();
    assert_eq!((first.status, first.body_text()), (200, "GET /slow"));
    assert!(!first.closes(), "the FIN is behind the second request");
    let second = client.reply();
    assert_eq!((second.status, second.body_text()), (200, "GET /after"));
    assert!(second.closes(), "the client is gone: this response is the last");
    client.expect_eof();
    wait_until("the slot is freed", || handle.stats().connections_open == 0);
}

#[test]
fn a_new_connection_waits_for_its_first_request_under_the_request_timeout() {
    // Even with keep-alive off (zero), a client that connects first and sends later is served:
    // until its first request it is timed by the request timeout.
    let handle = echo_server(server().keep_alive_timeout(Duration::ZERO));
    let mut client = Client::connect(handle.local_addr());
    wait_until("the connection is accepted", || handle.stats().accepted == 1);
    let reply = client.get("/late");
    assert_eq!(reply.status, 200);
    // Answered and idle, it is closed at once.
    client.expect_closed();

    // A connection that never sends anything is closed when the request timeout expires.
    let handle = echo_server(server().request_timeout(Duration::from_millis(200)));
    let mut silent = Client::connect(handle.local_addr());
    silent.expect_closed();
    wait_until("the timeout is counted", || handle.stats().timed_out == 1);
}
