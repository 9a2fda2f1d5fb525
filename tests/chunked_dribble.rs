//! A chunked body sent in tiny writes costs the poller time in proportion to its bytes.
//!
//! The poller parses what a connection has buffered after every read. It used to walk a
//! chunked body from its first byte each time, so a client sending 1-byte chunks a few bytes
//! per write cost it time in the square of the body's length, on the one thread every other
//! client waits on (issue 9, item 8). Its progress is now kept per connection.
//!
//! Asserted on the poller thread's own CPU time (`/proc/self/task/<tid>/schedstat`), which
//! does not depend on what else the machine is running; one test in this file, so the
//! poller found by name is this test's.

mod support;

use std::time::Duration;

use nioserve::{Request, Response};
use support::{server, start, wait_until, Client};

/// The CPU time a thread of this process has used so far.
fn cpu_time(task: &std::path::Path) -> Duration {
    let schedstat = std::fs::read_to_string(task.join("schedstat")).expect("schedstat of the poller");
    let ns = schedstat
        .split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .expect("time on CPU, in ns");
    Duration::from_nanos(ns)
}

/// `/proc/self/task/<tid>` of the one poller thread in this process, once it has named itself.
fn poller_task() -> std::path::PathBuf {
    let pollers = || -> Vec<_> {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .map(|task| task.expect("task entry").path())
            .filter(|task| {
                std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.trim() == "nioserve-poller")
            })
            .collect()
    };
    wait_until("the poller thread has its name", || !pollers().is_empty());
    let pollers = pollers();
    assert_eq!(pollers.len(), 1, "one server in this test binary");
    pollers.into_iter().next().expect("one poller")
}

#[test]
fn chunked_bodies_in_tiny_writes_cost_the_poller_time_linear_in_their_bytes() {
    let handle = start(server().workers(2), |req: Request| {
        Response::new(format!("{} bytes", req.body().len()).into())
    });
    let poller = poller_task();
    let before = cpu_time(&poller);

    // Slow clients, as in the attack: each sends 8,000 bytes of data in 1-byte chunks
    // (48,000 bytes on the wire), 16 bytes per write, and all of them take turns, one write
    // per round and a millisecond between rounds, so that each write arrives on its own and
    // the poller reads and parses after each (it reads big batches if a client hurries).
    const CLIENTS: usize = 20;
    const DATA: usize = 8_000;
    let mut body = Vec::with_capacity(6 * DATA + 5);
    for i in 0..DATA {
        body.extend_from_slice(b"1\r\n");
        body.push(b'a' + (i % 26) as u8);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let mut client = Client::connect(handle.local_addr());
            client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
            client
        })
        .collect();
    let writes: Vec<&[u8]> = body.chunks(16).collect();
    for (round, write) in writes.iter().enumerate() {
        for client in &mut clients {
            client.send(write);
        }
        if round == writes.len() / 2 {
            // Meanwhile another client is served.
            let mut other = Client::connect(handle.local_addr());
            assert_eq!(other.get("/").body_text(), "0 bytes");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for client in &mut clients {
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("{DATA} bytes"));
    }

    // Measured here (debug build, 2 shared cores): 0.31 s with the walk resumed, 3.3 s when
    // each body was walked from its start after each read. The bound sits between, a
    // factor of 3 from each.
    let spent = cpu_time(&poller) - before;
    assert!(
        spent < Duration::from_secs(1),
        "the poller spent {spent:?} of CPU time on {CLIENTS} bodies of {} bytes",
        body.len()
    );
}
