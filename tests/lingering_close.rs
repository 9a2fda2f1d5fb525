//! Lingering close (RFC 9112 §9.6) on every close the server decides, not only after a
//! "last" response: when the keep-alive timeout expires and at shutdown, a connection
//! may still have a response on its way to a client that reads slowly, and that client
//! may already pipeline its next request (the response did not say `Connection: close`).
//! Closing the socket outright would make the kernel answer that request with a reset,
//! and the reset destroys the tail of the response still queued.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use nioserve::{Request, Response, ServerHandle};
use socket2::{Domain, Socket, Type};
use support::{server, start, wait_until, PATIENCE};

/// Large enough to fill the kernel's buffers on both sides for a slow reader.
const BIG: usize = 2 * 1024 * 1024;

fn body_byte(i: usize) -> u8 {
    (i % 251) as u8
}

fn big_server(keep_alive: Duration) -> ServerHandle {
    start(server().workers(1).keep_alive_timeout(keep_alive), |req: Request| {
        if req.uri().path() == "/big" {
            Response::new((0..BIG).map(body_byte).collect::<Vec<u8>>().into())
        } else {
            Response::new("small".into())
        }
    })
}

/// A client with a small receive buffer, so that what it has not read stays in the
/// server's socket rather than in its own.
fn slow_client(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    stream
}

/// Sends `GET /big` and reads until the server has handed the whole response to the
/// kernel (the connection is idle on the server); returns the body bytes read so far.
fn read_until_the_server_is_idle(client: &mut TcpStream, handle: &ServerHandle) -> (usize, Vec<u8>) {
    client
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("request");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        let n = client.read(&mut chunk).expect("response head");
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&chunk[..n]);
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..head_len]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains(&format!("Content-Length: {BIG}")), "{head}");
    assert!(!head.to_ascii_lowercase().contains("connection: close"), "{head}");
    let mut body = got.split_off(head_len);
    wait_until("the server handed the whole response to the kernel", || {
        if handle.stats().connections_idle == 1 {
            return true;
        }
        let n = client.read(&mut chunk).expect("body while the server writes");
        assert!(n > 0, "closed in the middle of the response");
        body.extend_from_slice(&chunk[..n]);
        false
    });
    // The server's socket holds at most what is in flight to this small receive window
    // plus the unsent bytes it allows (`TCP_NOTSENT_LOWAT`, 128 KiB on Linux).
    assert!(
        BIG - body.len() >= 32 * 1024,
        "the premise: part of the response still waits in the kernel ({} of {BIG} read)",
        body.len()
    );
    (head_len, body)
}

/// Pipelines the next request now that the server has closed its side, then reads the
/// rest: the whole previous response must arrive, and then end of stream.
fn pipeline_and_read_the_rest(client: &mut TcpStream, mut body: Vec<u8>) {
    // Allowed: the response did not say `Connection: close` (RFC 9112 §9.3).
    client
        .write_all(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("pipelined request");
    let mut chunk = vec![0u8; 64 * 1024];
    while body.len() < BIG {
        match client.read(&mut chunk) {
            Ok(0) => panic!("end of stream after {} of {BIG} body bytes", body.len()),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("{e} after {} of {BIG} body bytes: the response was cut off", body.len()),
        }
    }
    assert_eq!(body.len(), BIG, "nothing after the response");
    assert!(
        body.iter().enumerate().all(|(i, &b)| b == body_byte(i)),
        "the body arrived intact"
    );
    // The server closed after this response; the pipelined request gets no answer,
    // and no reset either.
    match client.read(&mut chunk) {
        Ok(0) => {}
        Ok(n) => panic!("{n} more bytes after the response"),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => panic!("reset after the whole response"),
        Err(e) => panic!("{e} instead of end of stream"),
    }
}

#[test]
fn keep_alive_expiry_lets_a_slow_reader_have_the_whole_response() {
    let handle = big_server(Duration::from_millis(300));
    let mut client = slow_client(handle.local_addr());
    let (_, body) = read_until_the_server_is_idle(&mut client, &handle);
    wait_until("the keep-alive timeout expired", || handle.stats().timed_out == 1);
    pipeline_and_read_the_rest(&mut client, body);
    wait_until("the slot is freed", || handle.stats().connections_open == 0);
}

#[test]
fn shutdown_lets_a_slow_reader_have_the_whole_response() {
    let handle = big_server(Duration::from_secs(30));
    let addr = handle.local_addr();
    let mut client = slow_client(addr);
    let (_, body) = read_until_the_server_is_idle(&mut client, &handle);
    let counters = handle.counters();
    let stopper = thread::spawn(move || handle.shutdown());
    // The listener closes in the same step as idle connections are closed.
    wait_until("the listener is closed", || TcpStream::connect(addr).is_err());
    pipeline_and_read_the_rest(&mut client, body);
    drop(client);
    stopper.join().expect("shutdown returns");
    assert_eq!(counters.snapshot().connections_open, 0);
}
