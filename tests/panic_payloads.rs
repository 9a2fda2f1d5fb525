//! The worker pool survives any panic, even one that panics again: a handler's panic
//! whose payload panics when dropped, or a panic that escapes after the handler
//! returned (a response whose `Drop` panics). The client's connection is closed, the
//! slot is freed, and every worker goes on serving.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nioserve::{Request, Response, ServerHandle};
use support::{server, start, wait_until, Client};

const WORKERS: usize = 2;

/// A value whose `Drop` panics.
#[derive(Clone)]
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("dropping a Bomb panics too");
    }
}

/// `/bomb` panics with a `Bomb`; `/escape` returns a response carrying one, so the panic
/// comes when the server drops the response; `/together` answers `together` once
/// `WORKERS` requests are in the handler at the same time (or `alone` after 5 s).
fn bomb_server() -> ServerHandle {
    let arrived = Arc::new(AtomicUsize::new(0));
    start(server().workers(WORKERS), move |req: Request| match req.uri().path() {
        "/bomb" => std::panic::panic_any(Bomb),
        "/escape" => {
            let mut response = Response::new("never sent".into());
            response.extensions_mut().insert(Bomb);
            response
        }
        "/together" => {
            arrived.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(5);
            while arrived.load(Ordering::SeqCst) < WORKERS && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            let together = arrived.load(Ordering::SeqCst) >= WORKERS;
            Response::new(if together { "together" } else { "alone" }.into())
        }
        _ => Response::new("ok".into()),
    })
}

/// Every worker is alive: more requests than workers, at once, each of which needs
/// `WORKERS` handlers running together; then the gauges come back to zero.
fn assert_every_worker_serves(handle: &ServerHandle) {
    let addr = handle.local_addr();
    let clients: Vec<_> = (0..2 * WORKERS)
        .map(|_| thread::spawn(move || Client::connect(addr).get("/together").body_text().to_string()))
        .collect();
    for client in clients {
        assert_eq!(client.join().expect("client thread"), "together");
    }
    wait_until("no worker is busy and every slot is freed", || {
        let s = handle.stats();
        s.workers_busy == 0 && s.connections_busy == 0 && s.connections_open == 0
    });
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_gets_500_and_every_worker_lives_on() {
    let handle = bomb_server();
    // More such panics than there are workers: each would otherwise end one.
    for _ in 0..2 * WORKERS {
        let mut client = Client::connect(handle.local_addr());
        let reply = client.get("/bomb");
        assert_eq!(reply.status, 500);
        assert!(reply.closes());
        client.expect_closed();
    }
    assert_every_worker_serves(&handle);
    handle.shutdown();
}

#[test]
fn a_panic_after_the_handler_returned_closes_the_connection_and_every_worker_lives_on() {
    let handle = bomb_server();
    for _ in 0..2 * WORKERS {
        let mut client = Client::connect(handle.local_addr());
        client.send(b"GET /escape HTTP/1.1\r\nHost: t\r\n\r\n");
        // Nothing of the response was written; the connection just closes.
        client.expect_closed();
    }
    assert_every_worker_serves(&handle);
    handle.shutdown();
}
