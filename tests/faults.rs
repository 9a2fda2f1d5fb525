//! Clients that misbehave: reset in the middle of a request or of a response,
//! half-close after a pipelined pair, or arrive all at once beyond
//! `max_connections`. Each time the slot comes back and the server goes on serving.
//!
//! (Handler panics under load are in `tests/panics_under_load.rs`: that test counts
//! the process's threads, so it runs alone.)

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nioserve::{Request, Response};
use support::{echo_server, server, start, wait_until, Client, PATIENCE};

/// Closes `stream` with a TCP reset instead of a FIN, as a crashing client or a
/// middlebox does: `SO_LINGER` with a zero timeout makes `close()` send RST.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(stream);
}

#[test]
fn resets_in_the_middle_of_a_request_free_the_slot() {
    // Timeouts far away: only the resets can free these slots.
    let handle = echo_server(server().request_timeout(Duration::from_secs(60)));
    let addr = handle.local_addr();

    let mut clients = Vec::with_capacity(100);
    for i in 0..50 {
        let mut client = Client::connect(addr);
        client.send(format!("GET /half/{i} HTTP/1.1\r\nHost: t\r\nX-Partial: ").as_bytes());
        clients.push(client);
    }
    for i in 0..50 {
        let mut client = Client::connect(addr);
        client
            .send(format!("POST /body/{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789").as_bytes());
        clients.push(client);
    }
    wait_until("the server holds all 100 partial requests", || {
        let s = handle.stats();
        s.accepted == 100 && s.connections_open == 100
    });

    for client in clients {
        reset(client.stream);
    }
    wait_until("every reset freed its slot", || handle.stats().connections_open == 0);
    let stats = handle.stats();
    assert_eq!(stats.closed, 100, "{stats:?}");
    assert_eq!(stats.timed_out, 0, "freed by the resets, not by a timeout: {stats:?}");
    assert_eq!(stats.requests, 0, "no partial request reached the handler: {stats:?}");

    let mut fresh = Client::connect(addr);
    assert_eq!(fresh.get("/fresh").body_text(), "GET /fresh");
}

#[test]
fn clients_vanishing_during_a_large_response_free_the_slot_and_the_worker() {
    const BIG: usize = 32 * 1024 * 1024;
    const CLIENTS: usize = 10;
    // One body shared by every response: ten copies of 32 MiB are not the point.
    let big = Bytes::from(vec![b'x'; BIG]);
    let handle = start(
        server().workers(2).send_timeout(Duration::from_secs(60)),
        move |req: Request| {
            if req.uri().path() == "/big" {
                Response::new(big.clone().into())
            } else {
                Response::new("small".into())
            }
        },
    );
    let addr = handle.local_addr();

    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::connect(addr)).collect();
    for client in &mut clients {
        client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    // Each takes a few KB of its response, so the server is surely writing it...
    for client in &mut clients {
        let mut got = 0;
        let mut chunk = [0u8; 4096];
        while got < 8 * 1024 {
            let n = client.stream.read(&mut chunk).expect("the start of the response");
            assert!(n > 0, "closed after {got} bytes of a {BIG}-byte response");
            got += n;
        }
    }
    // ...and then is gone.
    for client in clients {
        reset(client.stream);
    }

    wait_until("every slot and every worker is free again", || {
        let s = handle.stats();
        s.connections_open == 0 && s.workers_busy == 0 && s.connections_busy == 0
    });
    let stats = handle.stats();
    assert_eq!(stats.accepted, CLIENTS as u64, "{stats:?}");
    assert_eq!(
        stats.timed_out, 0,
        "freed by the resets, not by the send timeout: {stats:?}"
    );

    let mut fresh = Client::connect(addr);
    assert_eq!(fresh.get("/small").body_text(), "small");
}

#[test]
fn half_close_after_a_pipelined_pair_gets_both_responses_then_eof() {
    let handle = echo_server(server());
    let addr = handle.local_addr();

    let mut client = Client::connect(addr);
    client.send(
        b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    );
    client.stream.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");

    let first = client.reply();
    assert_eq!((first.status, first.body_text()), (200, "GET /first"));
    let second = client.reply();
    assert_eq!((second.status, second.body_text()), (200, "POST /second\nhello"));
    // A clean close: a reset could have destroyed the responses in flight.
    client.expect_eof();

    wait_until("the slot is freed", || handle.stats().connections_open == 0);
    assert_eq!(handle.stats().requests, 2);
}

/// One flood client: connects, waits for the others, sends one `Connection: close`
/// request, and reads to the end. Returns the whole response, or what went wrong.
fn flood_client(addr: SocketAddr, i: usize, connected: &Barrier, go: &Barrier) -> Result<String, String> {
    let stream = TcpStream::connect(addr);
    connected.wait();
    let mut stream = stream.map_err(|e| format!("connect: {e}"))?;
    go.wait();
    stream.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET /flood/{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) if response.is_empty() => Err("EOF without a response".to_string()),
        Ok(_) => Ok(String::from_utf8_lossy(&response).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(format!(
            "reset after {} bytes: {:?}",
            response.len(),
            String::from_utf8_lossy(&response)
        )),
        Err(e) => Err(format!("read: {e}")),
    }
}

#[test]
fn a_flood_beyond_max_connections_waits_in_the_backlog_and_is_served() {
    const LIMIT: usize = 8;
    const CLIENTS: usize = 64;
    let handle = echo_server(server().max_connections(LIMIT).backlog(128));
    let addr = handle.local_addr();

    let connected = Arc::new(Barrier::new(CLIENTS + 1));
    let go = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (connected, go) = (Arc::clone(&connected), Arc::clone(&go));
            thread::spawn(move || flood_client(addr, i, &connected, &go))
        })
        .collect();

    // Every handshake is done. The server took exactly its limit; the kernel holds the rest.
    connected.wait();
    wait_until("the server is at max_connections", || {
        let s = handle.stats();
        s.accepted == LIMIT as u64 && s.connections_open == LIMIT
    });
    let mut most_open = handle.stats().connections_open;
    go.wait();

    // Watch the gauge while the flood is served.
    let deadline = Instant::now() + PATIENCE;
    while !clients.iter().all(|c| c.is_finished()) {
        assert!(Instant::now() < deadline, "the flood was not served in {PATIENCE:?}");
        most_open = most_open.max(handle.stats().connections_open);
        thread::sleep(Duration::from_micros(200));
    }

    let mut failures = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        match client.join().expect("flood client thread") {
            Ok(response) => {
                let expected_body = format!("GET /flood/{i}");
                if !(response.starts_with("HTTP/1.1 200 ") && response.ends_with(&expected_body)) {
                    failures.push(format!("client {i}: unexpected response {response:?}"));
                }
            }
            Err(e) => failures.push(format!("client {i}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed: {failures:#?}",
        failures.len()
    );
    assert!(
        most_open <= LIMIT,
        "{most_open} connections open at once, over max_connections = {LIMIT}"
    );
    wait_until("every connection is closed", || handle.stats().connections_open == 0);
    let stats = handle.stats();
    assert_eq!(stats.accepted, CLIENTS as u64, "{stats:?}");
    assert_eq!(stats.requests, CLIENTS as u64, "{stats:?}");
}
