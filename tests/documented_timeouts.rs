//! Timeouts behave as `docs/configuration.md` says: a new connection waits for its first
//! request under the request timeout (not the keep-alive timeout), and a timeout too
//! large to add to a clock reading is capped, not a panic.

mod support;

use std::time::Duration;

use support::{echo_server, server, wait_until, Client};

#[test]
fn a_silent_new_connection_is_closed_by_the_request_timeout_not_the_keep_alive_timeout() {
    let handle = echo_server(
        server()
            .keep_alive_timeout(Duration::from_secs(300))
            .request_timeout(Duration::from_millis(200)),
    );
    let mut silent = Client::connect(handle.local_addr());
    // Well before the keep-alive timeout, and with nothing sent: closed, no response.
    silent.expect_closed();
    wait_until("the timeout is counted", || handle.stats().timed_out == 1);
}

#[test]
fn timeouts_too_large_for_the_clock_are_capped_and_the_server_serves() {
    let handle = echo_server(
        server()
            .keep_alive_timeout(Duration::MAX)
            .request_timeout(Duration::MAX)
            .send_timeout(Duration::MAX)
            .shutdown_grace(Duration::MAX),
    );
    // A connection that waits idle, one that waits mid-request, and one that is served:
    // every one of them sets a deadline `Duration::MAX` from now.
    let mut idle = Client::connect(handle.local_addr());
    assert_eq!(idle.get("/idle").body_text(), "GET /idle");
    let mut partial = Client::connect(handle.local_addr());
    partial.send(b"GET /partial HTTP/1.1\r\n");
    wait_until("both connections wait on the poller", || {
        let s = handle.stats();
        s.connections_open == 2 && s.connections_busy == 0 && s.requests == 1
    });
    let mut client = Client::connect(handle.local_addr());
    assert_eq!(client.get("/served").body_text(), "GET /served");
    partial.send(b"Host: t\r\n\r\n");
    assert_eq!(partial.reply().body_text(), "GET /partial");
    assert_eq!(idle.get("/again").body_text(), "GET /again");
    drop((idle, partial, client));
    wait_until("every connection is closed", || handle.stats().connections_open == 0);
    handle.shutdown();
}
