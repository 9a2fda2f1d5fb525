//! Overload that degrades gracefully: a request that waited past `queue_timeout` for a
//! worker gets the server's own `503` and its handler never runs; a request whose client
//! reset the connection while it waited is not run; one whose client only half-closed
//! still is; `Stats::queued` counts what waits.
//!
//! Each test holds the only worker in a handler that blocks until the test lets it go,
//! so the next request queues for as long as the test decides.

mod support;

use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nioserve::{Model, Request, Response, ServerHandle};
use support::{server, start, wait_until, Client, PATIENCE};

/// Longer than the server's `PEEK_AFTER` (10 ms): a request that waited this long has its
/// socket looked at before it runs.
const WAITED_LONG: Duration = Duration::from_millis(50);

/// A server with one worker: `/block` holds it until [`Gate::release`]; every other path
/// counts a run of the handler and answers 200.
struct Gate {
    /// Dropped first (fields drop in order), so that a failed test lets the blocked
    /// handler return before the server's shutdown waits for it.
    release: Sender<()>,
    handle: ServerHandle,
    entered: Receiver<()>,
    runs: Arc<AtomicUsize>,
}

impl Gate {
    fn start(builder: nioserve::Builder) -> Gate {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let handle = start(builder.workers(1), move |req: Request| {
            if req.uri().path() == "/block" {
                entered_tx.send(()).expect("the test waits for the handler");
                // A test that failed drops its sender: the handler returns then.
                let _ = release_rx.lock().expect("one blocked handler at a time").recv();
            } else {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            Response::new(format!("ran {}", req.uri().path()).into())
        });
        Gate {
            release,
            handle,
            entered,
            runs,
        }
    }

    /// Occupies the only worker; returns the client whose request holds it.
    fn occupy(&self) -> Client {
        let mut blocker = Client::connect(self.handle.local_addr());
        blocker.send(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
        self.entered.recv_timeout(PATIENCE).expect("the blocking handler runs");
        blocker
    }

    /// Waits until `n` requests wait for a worker; returns when that was seen, which is no
    /// earlier than the moment they were queued.
    fn wait_queued(&self, n: usize) -> Instant {
        wait_until("the request waits for a worker", || self.handle.stats().queued == n);
        Instant::now()
    }

    /// Lets the blocking handler return, once a request queued no later than `seen` has
    /// waited at least `wait`.
    fn release_after(&self, seen: Instant, wait: Duration) {
        wait_until("the queued request has waited long enough", || seen.elapsed() > wait);
        self.release.send(()).expect("the blocking handler waits");
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[test]
fn a_request_queued_past_the_queue_timeout_gets_503_and_is_never_run() {
    let gate = Gate::start(server().queue_timeout(Duration::from_millis(100)));
    let mut blocker = gate.occupy();

    // Two requests in one write: the second is pipelined behind the first.
    let mut late = Client::connect(gate.handle.local_addr());
    late.send(b"GET /late/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /late/2 HTTP/1.1\r\nHost: t\r\n\r\n");
    let seen = gate.wait_queued(1);
    gate.release_after(seen, Duration::from_millis(150));

    assert_eq!(blocker.reply().status, 200);
    let reply = late.reply();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply.closes(), "a 503 for an overdue request closes the connection");
    // Nothing for the pipelined request: it waited as long.
    late.expect_eof();
    assert_eq!(gate.runs(), 0, "no handler ran for an overdue request");

    // A request that finds a free worker is run as usual.
    assert_eq!(Client::connect(gate.handle.local_addr()).get("/fresh").status, 200);
    assert_eq!(gate.runs(), 1);
}

#[test]
fn a_request_whose_client_reset_while_it_queued_is_not_run() {
    let gate = Gate::start(server());
    let mut blocker = gate.occupy();

    let mut gone = Client::connect(gate.handle.local_addr());
    gone.send(b"GET /gone HTTP/1.1\r\nHost: t\r\n\r\n");
    let seen = gate.wait_queued(1);
    // SO_LINGER 0: closing sends a reset, not a FIN.
    socket2::SockRef::from(&gone.stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(gone);
    gate.release_after(seen, WAITED_LONG);

    assert_eq!(blocker.reply().status, 200);
    // The blocker's connection stays open; the reset one is closed once a worker took it.
    wait_until("the reset connection is closed", || {
        let stats = gate.handle.stats();
        stats.queued == 0 && stats.connections_open == 1
    });
    assert_eq!(gate.runs(), 0, "no handler ran for a client that reset");
}

#[test]
fn a_request_whose_client_half_closed_while_it_queued_is_still_answered() {
    let gate = Gate::start(server());
    let mut blocker = gate.occupy();

    let mut half = Client::connect(gate.handle.local_addr());
    half.send(b"GET /half HTTP/1.1\r\nHost: t\r\n\r\n");
    let seen = gate.wait_queued(1);
    // RFC 9112 §9.6: "that's all I send", not "I am gone".
    half.stream.shutdown(Shutdown::Write).expect("half-close");
    gate.release_after(seen, WAITED_LONG);

    assert_eq!(blocker.reply().status, 200);
    let reply = half.reply();
    assert_eq!((reply.status, reply.body_text()), (200, "ran /half"));
    half.expect_eof();
    assert_eq!(gate.runs(), 1);
}

#[test]
fn stats_count_a_request_waiting_for_a_worker() {
    let gate = Gate::start(server());
    assert_eq!(gate.handle.stats().queued, 0);
    let mut blocker = gate.occupy();
    // The running request is busy, not queued.
    assert_eq!(gate.handle.stats().queued, 0);

    let mut waiting = Client::connect(gate.handle.local_addr());
    waiting.send(b"GET /waiting HTTP/1.1\r\nHost: t\r\n\r\n");
    gate.wait_queued(1);
    let stats = gate.handle.stats();
    assert!(stats.to_json().ends_with(",\"queued\":1}"), "{}", stats.to_json());
    assert_eq!((stats.workers_busy, stats.connections_busy), (1, 2));

    gate.release.send(()).expect("the blocking handler waits");
    assert_eq!(blocker.reply().status, 200);
    assert_eq!(waiting.reply().status, 200);
    wait_until("nothing waits", || gate.handle.stats().queued == 0);
}

#[test]
fn the_blocking_model_has_no_queue_to_time() {
    // One connection thread: the second client waits in the kernel's backlog, where the
    // server cannot see it; its request is run when the thread is free, however late.
    let gate = Gate::start(server().model(Model::Blocking).queue_timeout(Duration::from_millis(10)));
    let mut blocker = gate.occupy();
    blocker.send(b"GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");

    let mut waiting = Client::connect(gate.handle.local_addr());
    waiting.send(b"GET /waiting HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(gate.handle.stats().queued, 0);
    gate.release_after(Instant::now(), WAITED_LONG);

    assert_eq!(blocker.reply().status, 200);
    assert_eq!(blocker.reply().status, 200);
    // Closing our side ends the thread's lingering close at once.
    drop(blocker);
    assert_eq!(waiting.reply().status, 200);
    assert_eq!(gate.runs(), 2);
}
