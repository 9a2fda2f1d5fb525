//! `max_connections`: the server stops accepting at the limit and lets the kernel's
//! backlog hold new clients; it never accepts a connection only to drop it.

mod support;

use std::time::Duration;

use support::{echo_server, server, wait_until, Client};

#[test]
fn the_client_over_the_limit_waits_and_is_served_when_a_slot_frees() {
    let handle = echo_server(server().max_connections(2));
    let addr = handle.local_addr();
    let mut first = Client::connect(addr);
    let mut second = Client::connect(addr);
    assert_eq!(first.get("/1").status, 200);
    assert_eq!(second.get("/2").status, 200);

    // The TCP handshake completes in the kernel's backlog; the server does not accept.
    let mut third = Client::connect(addr);
    third.send(b"GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    third.expect_silence(Duration::from_millis(300));
    assert_eq!(handle.stats().accepted, 2);

    drop(first);
    let reply = third.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "GET /3");
    wait_until("the freed slot was reused", || handle.stats().accepted == 3);
    assert!(handle.stats().connections_open <= 2);
    assert_eq!(second.get("/2-again").status, 200);
}
