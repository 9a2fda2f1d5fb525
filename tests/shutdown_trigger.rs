//! `ShutdownTrigger`: a graceful shutdown started from any thread, and `serve` and
//! `ServerHandle::wait` returning once the server has stopped, in both models.

mod support;

use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;

use nioserve::{Model, Response, Server};
use support::{server, start, wait_until, Client, PATIENCE};

fn serve_stops_when_a_trigger_fires(model: Model) {
    let server = server().model(model).workers(2).bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr();
    let trigger = server.trigger();
    let (done_tx, done_rx) = mpsc::channel();
    let serving = thread::spawn(move || {
        let ended = server.serve(|_req| Response::new("served".into()));
        let _ = done_tx.send(());
        ended
    });

    let mut client = Client::connect(addr);
    assert_eq!(client.get("/").body_text(), "served");
    assert!(done_rx.try_recv().is_err(), "serve keeps running until a trigger fires");

    assert!(!trigger.is_triggered());
    trigger.trigger();
    assert!(trigger.is_triggered());
    done_rx
        .recv_timeout(PATIENCE)
        .expect("serve returns once the trigger fired");
    let report = serving
        .join()
        .expect("serve does not panic")
        .expect("serve ends without error");
    assert_eq!(report.cut_off(), 0);
    client.expect_closed();
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");

    // Fired again after the server stopped: nothing happens.
    trigger.trigger();
    trigger.clone().trigger();
}

#[test]
fn serve_stops_when_a_trigger_fires_nio() {
    serve_stops_when_a_trigger_fires(Model::Nio);
}

#[test]
fn serve_stops_when_a_trigger_fires_blocking() {
    serve_stops_when_a_trigger_fires(Model::Blocking);
}

fn wait_returns_when_a_trigger_fires_twice(model: Model) {
    let handle = start(server().model(model).workers(2), |_req| Response::new("hi".into()));
    let addr = handle.local_addr();
    let first = handle.trigger();
    let second = first.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let waiting = thread::spawn(move || {
        let ended = handle.wait();
        let _ = done_tx.send(());
        ended
    });
    assert_eq!(
        Client::connect(addr).get("/").status,
        200,
        "wait does not stop the server"
    );
    assert!(done_rx.try_recv().is_err(), "wait waits");

    let firing: Vec<_> = [first, second]
        .into_iter()
        .map(|trigger| thread::spawn(move || trigger.trigger()))
        .collect();
    for thread in firing {
        thread.join().expect("trigger does not panic");
    }
    done_rx
        .recv_timeout(PATIENCE)
        .expect("wait returns once a trigger fired");
    let report = waiting
        .join()
        .expect("wait does not panic")
        .expect("the server stopped cleanly");
    assert_eq!(report.cut_off(), 0);
    wait_until("the listener is closed", || TcpStream::connect(addr).is_err());
}

#[test]
fn wait_returns_when_a_trigger_fires_twice_nio() {
    wait_returns_when_a_trigger_fires_twice(Model::Nio);
}

#[test]
fn wait_returns_when_a_trigger_fires_twice_blocking() {
    wait_returns_when_a_trigger_fires_twice(Model::Blocking);
}

#[test]
fn a_trigger_fired_before_serve_stops_it_at_once() {
    for model in [Model::Nio, Model::Blocking] {
        let server = Server::builder()
            .model(model)
            .workers(1)
            .bind("127.0.0.1:0")
            .expect("bind");
        server.trigger().trigger();
        let (done_tx, done_rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = done_tx.send(server.serve(|_req| Response::new("hi".into())));
        });
        let report = done_rx
            .recv_timeout(PATIENCE)
            .expect("serve returns at once")
            .expect("the server stopped cleanly");
        assert_eq!(report.cut_off(), 0, "{model:?}");
    }
}

#[test]
fn shutdown_still_works_and_a_later_trigger_is_harmless() {
    let handle = start(server().workers(1), |_req| Response::new("hi".into()));
    let trigger = handle.trigger();
    assert_eq!(handle.shutdown().cut_off(), 0);
    assert!(trigger.is_triggered(), "shutdown is what the trigger starts");
    trigger.trigger();
}
