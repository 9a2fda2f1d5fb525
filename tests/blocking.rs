//! The thread-per-connection model: the same HTTP behaviour as the NIO model, and
//! the weakness it exists to show — N idle keep-alive clients hold all N threads.

mod support;

use std::time::Duration;

use nioserve::Model;
use support::{echo, server, start, wait_until, Client};

fn blocking(workers: usize) -> nioserve::Builder {
    server().model(Model::Blocking).workers(workers)
}

#[test]
fn keep_alive_pipelining_and_bodies_work_as_in_the_nio_model() {
    let handle = start(blocking(2), echo);
    let mut client = Client::connect(handle.local_addr());
    assert_eq!(client.get("/a").body_text(), "GET /a");
    client.send(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\nPOST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(client.reply().body_text(), "GET /b");
    assert_eq!(client.reply().body_text(), "POST /c\nabc");
    client.send(b"POST /d HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.reply().status, 100);
    client.send(b"hi");
    assert_eq!(client.reply().body_text(), "POST /d\nhi");
    assert_eq!(handle.stats().accepted, 1);
}

#[test]
fn errors_close_and_timeouts_apply() {
    let handle = start(
        blocking(2)
            .keep_alive_timeout(Duration::from_millis(200))
            .request_timeout(Duration::from_millis(300)),
        echo,
    );
    let mut bad = Client::connect(handle.local_addr());
    bad.send(b"GET / HTTP/1.1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
    let reply = bad.reply();
    assert_eq!(reply.status, 400);
    assert!(reply.closes());
    bad.expect_closed();

    let mut slow = Client::connect(handle.local_addr());
    slow.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(slow.reply().status, 408);
    slow.expect_closed();

    let mut idle = Client::connect(handle.local_addr());
    assert_eq!(idle.get("/").status, 200);
    idle.expect_closed();
    wait_until("both timeouts are counted", || handle.stats().timed_out == 2);
}

#[test]
fn idle_keep_alive_clients_hold_every_thread() {
    let handle = start(blocking(2).keep_alive_timeout(Duration::from_secs(60)), echo);
    let addr = handle.local_addr();
    let mut first = Client::connect(addr);
    let mut second = Client::connect(addr);
    assert_eq!(first.get("/1").status, 200);
    assert_eq!(second.get("/2").status, 200);
    wait_until("both threads wait on idle clients", || {
        handle.stats().connections_idle == 2
    });

    // Both threads sit in read() on idle sockets: the third client is not served...
    let mut third = Client::connect(addr);
    third.send(b"GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    third.expect_silence(Duration::from_millis(300));

    // ...until an idle client goes away and frees its thread.
    drop(first);
    assert_eq!(third.reply().body_text(), "GET /3");
    assert_eq!(second.get("/2-again").status, 200);
}

#[test]
fn shutdown_ends_idle_connections_and_joins_the_threads() {
    let handle = start(blocking(3), echo);
    let mut idle = Client::connect(handle.local_addr());
    assert_eq!(idle.get("/").status, 200);
    handle.shutdown();
    idle.expect_closed();
}
