//! `send_timeout`: a response may wait that long for the client to take more of it.
//! A client that reads slowly but steadily gets the whole response however long it
//! takes in total; one that stops reading is cut off.

mod support;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use nioserve::{Request, Response};
use socket2::{Domain, Socket, Type};
use support::{server, start, wait_until, PATIENCE};

/// Larger than the most the kernel's send buffer grows to (`net.ipv4.tcp_wmem`, 4 MiB
/// by default): part of the response waits on the server, in `Writing`.
const BIG: usize = 6 * 1024 * 1024;

fn big(_req: Request) -> Response {
    Response::new(vec![b'x'; BIG].into())
}

/// A client with a small receive buffer, so what it has not read waits on the server.
fn small_window_client(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    stream
}

#[test]
fn a_slow_but_steady_reader_gets_the_whole_response() {
    let handle = start(server().workers(1).send_timeout(Duration::from_millis(500)), big);
    let mut client = small_window_client(handle.local_addr());
    std::io::Write::write_all(&mut client, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").expect("request");

    // 64 KiB every 45 ms: about 1.4 MB/s, so 6 MiB take about 4.5 s, nine send timeouts,
    // and the client never stops taking bytes for anything like one. (A kernel send
    // buffer of 4 MiB becomes writable again only once a third of it has drained: about
    // a second at this pace.)
    let started = Instant::now();
    let mut received = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    let total = loop {
        thread::sleep(Duration::from_millis(45));
        let mut got = 0;
        while got < chunk.len() {
            match client.read(&mut chunk[got..]) {
                Ok(0) => panic!(
                    "closed after {received} bytes and {:?}: {:?}",
                    started.elapsed(),
                    handle.stats()
                ),
                Ok(n) => got += n,
                Err(e) => panic!("{e} after {received} bytes and {:?}", started.elapsed()),
            }
            if received + got >= BIG + 64 {
                break;
            }
        }
        received += got;
        if received >= BIG + 64 {
            break received;
        }
    };
    assert!(total >= BIG, "{total}");
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the premise: reading took several send timeouts ({:?})",
        started.elapsed()
    );
    assert_eq!(handle.stats().timed_out, 0);
}

#[test]
fn a_client_that_stops_reading_is_cut_off() {
    let handle = start(server().workers(1).send_timeout(Duration::from_millis(300)), big);
    let mut client = small_window_client(handle.local_addr());
    std::io::Write::write_all(&mut client, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").expect("request");
    // It reads nothing at all.
    wait_until("the send timeout closed the connection", || {
        let s = handle.stats();
        s.timed_out == 1 && s.connections_open == 0
    });
}
