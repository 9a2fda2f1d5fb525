//! Graceful shutdown: accepting stops, idle connections close, requests in flight finish.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nioserve::{Request, Response};
use support::{server, start, wait_until, Client};

#[test]
fn shutdown_lets_a_request_in_flight_finish_and_closes_the_rest() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let handle = start(
        server().workers(2).shutdown_grace(Duration::from_secs(10)),
        move |req: Request| {
            if req.uri().path() == "/slow" {
                // Blocks this worker until the test says go.
                let _ = started_tx.lock().expect("lock").send(());
                let _ = release_rx.lock().expect("lock").recv();
            }
            Response::new("done".into())
        },
    );
    let addr = handle.local_addr();

    let mut idle = Client::connect(addr);
    assert_eq!(idle.get("/quick").status, 200);

    let mut in_flight = Client::connect(addr);
    in_flight.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    started_rx
        .recv_timeout(support::PATIENCE)
        .expect("the slow request reaches its handler");

    let counters = handle.counters();
    let stopper = thread::spawn(move || handle.shutdown());

    // Idle connections are closed at once, and nobody new gets in.
    idle.expect_closed();
    wait_until("the listener is closed", || std::net::TcpStream::connect(addr).is_err());
    assert_eq!(counters.snapshot().workers_busy, 1, "the slow request is still running");

    release_tx.send(()).expect("release the handler");
    let reply = in_flight.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "done");
    assert!(reply.closes(), "a response during shutdown is the connection's last");
    in_flight.expect_closed();
    drop(in_flight);

    stopper.join().expect("shutdown returns once every thread has finished");
    assert_eq!(counters.snapshot().connections_open, 0);
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let handle = start(server().workers(1), |_req: Request| Response::new("x".into()));
    let addr = handle.local_addr();
    assert_eq!(Client::connect(addr).get("/").status, 200);
    drop(handle);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn a_silent_new_connection_does_not_hold_the_exit() {
    // A browser's preconnect or a health check: connected, nothing sent. Only the request
    // timeout (30 s) would ever close it; shutdown must not wait for that.
    let handle = start(
        server()
            .request_timeout(Duration::from_secs(30))
            .shutdown_grace(Duration::from_secs(30)),
        |_req: Request| Response::new("x".into()),
    );
    let mut silent = Client::connect(handle.local_addr());
    wait_until("the silent connection is accepted", || {
        handle.stats().connections_open == 1
    });

    let started = Instant::now();
    let counters = handle.counters();
    handle.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?} with a silent connection open",
        started.elapsed()
    );
    assert_eq!(counters.snapshot().connections_open, 0);
    silent.expect_closed();
}
