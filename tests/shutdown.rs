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

#[test]
fn what_the_end_of_the_grace_period_cuts_off_is_reported_by_state() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let handle = start(
        server()
            .workers(2)
            .shutdown_grace(Duration::from_millis(300))
            .request_timeout(Duration::from_secs(30))
            .send_timeout(Duration::from_secs(30)),
        move |req: Request| match req.uri().path() {
            "/slow" => {
                // Outlives the grace period: held until the test releases it.
                let _ = started_tx.lock().expect("lock").send(());
                let _ = release_rx.lock().expect("lock").recv();
                Response::new("late".into())
            }
            "/big" => Response::new(vec![b'x'; 32 * 1024 * 1024].into()),
            _ => Response::new("x".into()),
        },
    );
    let addr = handle.local_addr();

    let mut on_worker = Client::connect(addr);
    on_worker.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    started_rx
        .recv_timeout(support::PATIENCE)
        .expect("the slow handler starts");
    // A client that never reads its 32 MiB: the response waits on the poller.
    let mut writing = Client::connect(addr);
    writing.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // Half a request head.
    let mut reading = Client::connect(addr);
    reading.send(b"GET /never-finished HTTP/1.1\r\nHost: t\r\n");
    wait_until("one connection in each state", || {
        let s = handle.stats();
        s.connections_open == 3 && s.connections_busy == 1 && s.requests == 1
    });

    let counters = handle.counters();
    let stopper = thread::spawn(move || handle.shutdown());
    wait_until("the grace period is over", || counters.snapshot().connections_open == 0);
    release_tx.send(()).expect("release the handler");
    let report = stopper.join().expect("shutdown returns");

    assert_eq!(
        (report.on_worker, report.writing, report.reading, report.lingering),
        (1, 1, 1, 0),
        "{report:?}"
    );
    assert_eq!(report.cut_off(), 3);
    assert_eq!(
        report.to_string(),
        "3 connections were still open at the end of the grace period and were closed: \
         1 on a worker, 1 writing a response, 1 reading a request"
    );
    reading.expect_closed();
    drop((on_worker, writing));
}
