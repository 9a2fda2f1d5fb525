//! A handler that panics, many times, on several connections at once: each panic
//! is a 500 that closes its connection, every other request is answered, and the
//! server still runs on the same 1 poller + N workers. (One test in this file, so
//! no other server shares the process while threads are counted.)

mod support;

use std::thread;

use nioserve::{Request, Response};
use support::{nioserve_threads, server, start, wait_until, Client};

const WORKERS: usize = 2;
const CLIENTS: usize = 8;
const REQUESTS: usize = 50;

#[test]
fn panics_under_load_get_500_and_the_threads_survive() {
    let handle = start(server().workers(WORKERS), |req: Request| {
        if req.uri().path() == "/panic" {
            panic!("handler bug on purpose");
        }
        Response::new("ok".into())
    });
    let addr = handle.local_addr();
    let expected_threads: Vec<String> = std::iter::once("nioserve-poller")
        .chain(std::iter::repeat_n("nioserve-worker", WORKERS))
        .map(String::from)
        .collect();
    wait_until("the server threads are up", || nioserve_threads() == expected_threads);

    let clients: Vec<_> = (0..CLIENTS)
        .map(|t| {
            thread::spawn(move || {
                let (mut ok, mut panicked) = (0, 0);
                let mut client = Client::connect(addr);
                for i in 0..REQUESTS {
                    if i % 5 == 4 {
                        let reply = client.get("/panic");
                        assert_eq!(reply.status, 500, "client {t}, request {i}: {reply:?}");
                        assert!(reply.closes(), "client {t}, request {i}: a 500 closes: {reply:?}");
                        client.expect_closed();
                        panicked += 1;
                        client = Client::connect(addr);
                    } else {
                        let reply = client.get(&format!("/ok/{t}/{i}"));
                        assert_eq!(reply.status, 200, "client {t}, request {i}: {reply:?}");
                        assert_eq!(reply.body_text(), "ok");
                        assert!(!reply.closes(), "client {t}, request {i}: kept alive: {reply:?}");
                        ok += 1;
                    }
                }
                (ok, panicked)
            })
        })
        .collect();
    let (mut ok, mut panicked) = (0, 0);
    for client in clients {
        let (o, p) = client.join().expect("a client thread failed (see its panic above)");
        ok += o;
        panicked += p;
    }
    assert_eq!((ok, panicked), (CLIENTS * REQUESTS * 4 / 5, CLIENTS * REQUESTS / 5));

    assert_eq!(
        nioserve_threads(),
        expected_threads,
        "still 1 poller + {WORKERS} workers after {panicked} panics"
    );
    wait_until("no worker is busy", || handle.stats().workers_busy == 0);
    let mut fresh = Client::connect(addr);
    assert_eq!(fresh.get("/after").body_text(), "ok");
    // One connection per panic, plus the first of each client and the fresh one.
    assert_eq!(handle.stats().accepted, (panicked + CLIENTS + 1) as u64);
}
