//! A client that stops reading a large response holds no worker: the worker hands
//! the rest of the response to the poller, which writes it as the client reads.

mod support;

use std::io::Read;

use nioserve::{Request, Response};
use support::{server, start, wait_until, Client};

const BIG: usize = 32 * 1024 * 1024;

#[test]
fn a_slow_reader_holds_no_worker() {
    let handle = start(server().workers(1), |req: Request| {
        if req.uri().path() == "/big" {
            Response::new(vec![b'x'; BIG].into())
        } else {
            Response::new("small".into())
        }
    });
    let addr = handle.local_addr();

    let mut slow = Client::connect(addr);
    slow.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // The socket buffers fill up long before 32 MiB; the response waits on the poller.
    wait_until("the big response waits on the poller", || {
        let s = handle.stats();
        s.requests == 1 && s.workers_busy == 0 && s.connections_busy == 0
    });

    // The one worker is free for everybody else.
    for _ in 0..3 {
        assert_eq!(Client::connect(addr).get("/small").body_text(), "small");
    }

    // The slow reader still gets every byte, in order.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        slow.stream.read_exact(&mut byte).expect("head byte");
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains(&format!("Content-Length: {BIG}")));
    let mut received = 0usize;
    let mut chunk = vec![0u8; 1 << 20];
    while received < BIG {
        let n = slow.stream.read(&mut chunk).expect("body bytes");
        assert!(n > 0, "connection closed after {received} bytes");
        assert!(chunk[..n].iter().all(|&b| b == b'x'));
        received += n;
    }
    assert_eq!(received, BIG);
}
