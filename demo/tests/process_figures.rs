//! `/_status` reports the process's own threads and resident memory, read from the
//! demo process itself (a test harness has threads of its own, so the server runs as
//! the demo binary in a child process).

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use support::{wait_until, Client, LimitedDemo};

fn webapp() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../webapp"))
}

/// Descriptors for the server: the idle connections and some to spare.
const NOFILE: (usize, usize) = (4096, 4096);

/// The number after `"key":` in a `/_status` JSON document, if the key is there.
fn number(json: &str, key: &str) -> Option<u64> {
    let rest = json.split_once(&format!("\"{key}\":"))?.1;
    let end = rest.find([',', '}'])?;
    Some(
        rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a whole number in {json}")),
    )
}

fn status(addr: SocketAddr) -> String {
    let mut client = Client::connect(addr);
    let reply = client.get("/_status");
    assert_eq!(reply.status, 200);
    reply.text().to_string()
}

fn threads(addr: SocketAddr) -> u64 {
    let json = status(addr);
    number(&json, "threads").unwrap_or_else(|| panic!("no threads in {json}"))
}

/// `n` connections that have each had one request answered and now sit idle.
fn idle_connections(addr: SocketAddr, n: usize) -> Vec<Client> {
    (0..n)
        .map(|_| {
            let mut client = Client::connect(addr);
            assert_eq!(client.get("/hello.txt").status, 200);
            client
        })
        .collect()
}

// The threads of the demo (`nioserve`), by name, as /proc/PID/task lists them:
//   nioserve-poller        1 (NIO model only)
//   nioserve-worker-K      one per --workers (NIO); nioserve-conn-K with --model blocking
//   nioserve               the main thread: waits for signals
//   nioserve-status        the /_status ticker, only while an event stream is open
//   nioserve-access        the access log's writer: the demo's default `--access-log -`
//                          writes batches to stderr from it (with RUST_LOG unset, as here)
const POLLER: u64 = 1;
const MAIN: u64 = 1;
const TICKER: u64 = 1;
const ACCESS_LOG: u64 = 1;

#[test]
fn threads_are_the_poller_the_workers_and_main_however_many_connections_idle() {
    const WORKERS: u64 = 3;
    const IDLE: usize = 500;
    let demo = LimitedDemo::start(
        NOFILE,
        &webapp(),
        &["--workers", &WORKERS.to_string(), "--keep-alive-timeout", "60"],
    );
    let expected = POLLER + WORKERS + MAIN + ACCESS_LOG;
    assert_eq!(threads(demo.addr), expected, "before any idle connection");

    let idle = idle_connections(demo.addr, IDLE);
    wait_until("all the connections are idle on the poller", || {
        number(&status(demo.addr), "connections_idle") >= Some(IDLE as u64)
    });
    let json = status(demo.addr);
    assert_eq!(
        number(&json, "threads"),
        Some(expected),
        "with {IDLE} idle connections: {json}"
    );
    assert_eq!(
        std::fs::read_dir(format!("/proc/{}/task", demo.child.id()))
            .map(Iterator::count)
            .ok(),
        Some(expected as usize),
        "the kernel's count agrees"
    );

    // An event stream adds the ticker thread, and only that.
    let mut stream = std::net::TcpStream::connect(demo.addr).expect("connect");
    stream
        .write_all(b"GET /_status HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
        .expect("ask for the stream");
    let mut first = [0u8; 64];
    assert!(stream.read(&mut first).expect("the stream's head") > 0);
    assert_eq!(threads(demo.addr), expected + TICKER, "with an event stream open");
    drop((idle, stream));
}

#[test]
fn the_blocking_model_has_one_thread_per_worker_and_main() {
    const WORKERS: u64 = 4;
    let demo = LimitedDemo::start(
        NOFILE,
        &webapp(),
        &["--model", "blocking", "--workers", &WORKERS.to_string()],
    );
    assert_eq!(threads(demo.addr), WORKERS + MAIN + ACCESS_LOG);
}

#[test]
fn resident_memory_is_reported_and_plausible() {
    let demo = LimitedDemo::start(NOFILE, &webapp(), &["--workers", "2"]);
    let json = status(demo.addr);
    let rss = number(&json, "rss_bytes").unwrap_or_else(|| panic!("no rss_bytes in {json}"));
    assert!(rss > 1 << 20 && rss < 1 << 30, "{rss} bytes resident: {json}");
}

#[test]
fn the_event_stream_carries_the_process_figures_too() {
    let demo = LimitedDemo::start(NOFILE, &webapp(), &["--workers", "2"]);
    let mut stream = std::net::TcpStream::connect(demo.addr).expect("connect");
    stream.set_read_timeout(Some(support::PATIENCE)).expect("read timeout");
    stream
        .write_all(b"GET /_status HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
        .expect("ask for the stream");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The first event is sampled before the ticker starts; the second comes from it.
    while String::from_utf8_lossy(&got).matches("}\n\n").count() < 2 {
        let n = stream.read(&mut buf).expect("two events");
        assert!(n > 0, "the stream ended early");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let event = text.split("data: ").nth(2).expect("a second event");
    // The ticker that sent it is running: poller, two workers, main, the writer and the ticker.
    assert_eq!(
        number(event, "threads"),
        Some(POLLER + 2 + MAIN + ACCESS_LOG + TICKER),
        "{event}"
    );
    assert!(number(event, "rss_bytes").is_some(), "{event}");
}
