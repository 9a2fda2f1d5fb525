//! The claim itself: idle and half-sent connections hold no thread.
//!
//! With two workers, 2,000 idle keep-alive connections and 50 clients stuck half
//! way through a request head, a fresh request is still answered at once, and the
//! server still has exactly one poller and two workers. (One test in this file, so
//! no other server shares the process while threads are counted.)

mod support;

use std::time::{Duration, Instant};

use support::{echo_server, nioserve_threads, raise_fd_limit, rss_kib, server, wait_until, Client};

const IDLE: usize = 2_000;
const HALF_SENT: usize = 50;

#[test]
fn idle_connections_cost_no_threads() {
    let fd_limit = raise_fd_limit();
    assert!(
        fd_limit > 2 * (IDLE + HALF_SENT) as u64 + 100,
        "need file descriptors for both ends of every connection"
    );

    let handle = echo_server(
        server()
            .workers(2)
            .max_connections(10_000)
            .keep_alive_timeout(Duration::from_secs(120))
            .request_timeout(Duration::from_secs(120)),
    );
    let addr = handle.local_addr();
    wait_until("the server threads are up", || nioserve_threads().len() == 3);
    let rss_before = rss_kib();

    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut client = Client::connect(addr);
        assert_eq!(client.get(&format!("/{i}")).status, 200);
        idle.push(client);
    }
    let mut half_sent = Vec::with_capacity(HALF_SENT);
    for _ in 0..HALF_SENT {
        let mut client = Client::connect(addr);
        client.send(b"GET /never-finished HTTP/1.1\r\nHost: t\r\nX-Partial: ");
        half_sent.push(client);
    }
    wait_until("every connection is held", || {
        let s = handle.stats();
        s.connections_open == IDLE + HALF_SENT && s.connections_idle == IDLE
    });
    let rss_after = rss_kib();

    let started = Instant::now();
    let mut fresh = Client::connect(addr);
    let reply = fresh.get("/fresh");
    let latency = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "GET /fresh");

    let threads = nioserve_threads();
    let stats = handle.stats();
    eprintln!(
        "idle={IDLE} half-sent={HALF_SENT} threads={threads:?} fresh request={latency:?} \
         rss before={rss_before} KiB after={rss_after} KiB (client and server ends, one process) stats={stats:?}"
    );
    assert_eq!(
        threads,
        ["nioserve-poller", "nioserve-worker", "nioserve-worker"],
        "1 poller + 2 workers, whatever the connections"
    );
    wait_until("no worker waits on an idle or half-sent client", || {
        handle.stats().workers_busy == 0
    });
    // Not a memory target (benches/idle.sh measures that), a guard against a gross
    // regression: a 16 KiB read buffer kept per idle connection would add 32 MiB here.
    let growth_kib = rss_after.saturating_sub(rss_before);
    assert!(
        growth_kib < 8 * 1024,
        "RSS grew {growth_kib} KiB for {IDLE} idle connections (both ends)"
    );

    // The idle connections are alive, not dropped: each still answers.
    for (i, client) in idle.iter_mut().enumerate().step_by(97) {
        assert_eq!(client.get(&format!("/again/{i}")).status, 200);
    }
}
