//! `max_connections`: the server stops accepting at the limit and lets the kernel's
//! backlog hold new clients; it never accepts a connection only to drop it.

mod support;

use std::net::Shutdown;
use std::time::{Duration, Instant};

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

#[test]
fn a_slot_freed_by_a_hand_back_lets_the_waiting_client_in_at_once() {
    // Timeouts far away: nothing but the freed slot may wake the poller for the client
    // waiting in the backlog. The listener's edge-triggered event was consumed while the
    // server was full, so accepting must resume from the close itself.
    let handle = echo_server(
        server()
            .max_connections(1)
            .keep_alive_timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(30)),
    );
    let addr = handle.local_addr();
    for round in 0..5 {
        let mut holder = Client::connect(addr);
        wait_until("the holder is accepted", || {
            let s = handle.stats();
            s.connections_open == 1 && s.accepted == 2 * round + 1
        });
        let mut waiting = Client::connect(addr);
        waiting.send(format!("GET /waiting/{round} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());

        // Request and FIN together: the connection closes right after the worker hands
        // it back, with no further event from this client.
        holder.send(format!("GET /holder/{round} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        holder.stream.shutdown(Shutdown::Write).expect("half-close");
        assert_eq!(holder.reply().body_text(), format!("GET /holder/{round}"));

        let started = Instant::now();
        waiting
            .stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("read timeout");
        let reply = waiting.reply();
        assert_eq!(reply.body_text(), format!("GET /waiting/{round}"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "round {round}: the waiting client was served only after {:?}",
            started.elapsed()
        );
        drop(waiting);
        wait_until("the waiting client's slot is free again", || {
            handle.stats().connections_open == 0
        });
    }
}
