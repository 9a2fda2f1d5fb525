//! Server-sent events to many clients with no thread per client: every open stream is
//! a connection on the poller, and ONE ticker thread feeds them all.
//!
//! ```text
//! cargo run --release --example stream -- [ADDR] [WORKERS] [blocking]
//! curl -N http://127.0.0.1:8080/events              # a tick every 100 ms
//! curl -N 'http://127.0.0.1:8080/events?every=1000' # a tick a second
//! curl -N -H 'accept: text/event-stream' http://127.0.0.1:8080/_status
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8080`, `WORKERS` to 2. With a third argument
//! `blocking`, the server runs the thread-per-connection model instead (`WORKERS`
//! then counts connection threads; try 200): each open stream holds a thread, and a
//! fresh client waits once they are all taken. `benches/sse.sh` runs both.
//!
//! - `GET /events[?every=MS]`: `text/event-stream`, one event (`data: N`) at once and
//!   then one every `MS` milliseconds (default 100) for as long as the client stays.
//!   The handler only makes the body channel, queues the first event and hands the
//!   sender to the ticker; its worker is free again at once. The ticker sends each
//!   stream's next event with `try_send`, so one slow client never holds up the
//!   others (a full queue skips that client's tick) and a client that left is
//!   dropped at its next tick.
//! - `GET /csv[?rows=N]`: N generated CSV rows (default 1,000,000), read from a `Read`
//!   by a worker only while the client takes them (`curl -s .../csv | tail -1`; with
//!   `--limit-rate 100k`, watch `workers_busy` stay 0 and the server's memory flat).
//! - `GET /_status`: the server's counters ([`nioserve::Status`]), as JSON or, with
//!   `Accept: text/event-stream`, as a stream.
//! - anything else: `200 ok`.
//!
//! What to look at, with thousands of streams open (`benches/sse.sh` opens 10,000):
//! the process keeps `1 + WORKERS + 2` threads (poller, workers, ticker, main;
//! `ls /proc/PID/task`), `workers_busy` stays at 0 between ticks, and a fresh request
//! is answered as fast as with no stream open. In the blocking model, the threads grow
//! with the streams until `WORKERS` of them hold every thread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use nioserve::{Body, BodySender, Handler, Model, Request, Response, SendError, Server, Status};

/// The period of a stream that does not ask for one.
const DEFAULT_EVERY: Duration = Duration::from_millis(100);
/// The shortest period a client may ask for.
const MIN_EVERY: Duration = Duration::from_millis(10);
/// Bytes a stream's queue holds: a few dozen ticks. A client that falls further behind
/// misses ticks.
const QUEUE_BYTES: usize = 1024;
/// Ticks due this close together are sent in one wake-up of the ticker.
const COALESCE: Duration = Duration::from_millis(2);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let workers = match args.next() {
        None => 2,
        Some(text) => text.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WORKERS must be a positive number, not {text:?}"),
            )
        })?,
    };
    let model = match args.next().as_deref() {
        None | Some("nio") => Model::Nio,
        Some("blocking") => Model::Blocking,
        Some(other) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the third argument is `blocking` or `nio`, not {other:?}"),
            ))
        }
    };

    let server = Server::builder()
        .model(model)
        .workers(workers)
        // Streams are connections: let the file-descriptor limit be the limit.
        .max_connections(1_000_000)
        .bind(&addr)?;
    let status = Status::new(server.counters());
    let (streams, ticker_inbox) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("stream-ticker".into())
        .spawn(move || ticker(ticker_inbox))?;
    println!(
        "stream: listening on http://{}/ ({model:?} model, {workers} workers); try GET /events",
        server.local_addr()
    );
    server.serve(move |req: Request| route(req, &streams, &status))?;
    Ok(())
}

fn route(req: Request, streams: &Sender<Stream>, status: &Status) -> Response {
    match req.uri().path() {
        "/events" => events(&req, streams),
        "/_status" => status.call(req),
        "/csv" => csv(&req),
        _ => Response::new("ok\n".into()),
    }
}

/// The value of `name` in the request's query string, if it is there.
fn query_param<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// `GET /csv?rows=N` (default 1,000,000): `n,square,cube` rows generated as the client
/// reads them. The body is a `Read` ([`Body::reader`]): a worker pulls a burst while the
/// client's socket takes it and lets go when it is full, so a slow download holds no
/// worker and the rows are never all in memory.
fn csv(req: &Request) -> Response {
    let rows = query_param(req, "rows")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000u64);
    let mut response = Response::new(Body::reader(
        Rows {
            next: 0,
            rows,
            line: Vec::new(),
        },
        None,
    ));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/csv"));
    response
}

/// Generated CSV rows, as a `Read`.
struct Rows {
    next: u64,
    rows: u64,
    /// What is left of the row being read.
    line: Vec<u8>,
}

impl io::Read for Rows {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.line.is_empty() {
                if self.next == 0 {
                    self.line.extend_from_slice(b"n,square,cube\n");
                } else if self.next > self.rows {
                    break;
                } else {
                    let k = self.next;
                    self.line = format!("{k},{},{}\n", k * k, k.wrapping_mul(k).wrapping_mul(k)).into_bytes();
                }
                self.next += 1;
            }
            let take = self.line.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.line[..take]);
            self.line.drain(..take);
            n += take;
        }
        Ok(n)
    }
}

/// One open event stream, as the ticker holds it.
struct Stream {
    sender: BodySender,
    every: Duration,
    /// Events sent so far (the next one's number).
    sent: u64,
}

/// `GET /events[?every=MS]`: the first event now, the rest from the ticker.
fn events(req: &Request, streams: &Sender<Stream>) -> Response {
    let every = query_param(req, "every")
        .and_then(|ms| ms.parse().ok())
        .map_or(DEFAULT_EVERY, Duration::from_millis)
        .max(MIN_EVERY);
    let (sender, body) = Body::channel(QUEUE_BYTES);
    let _ = sender.try_send("data: 0\n\n");
    // The ticker outlives every handler: the send cannot fail while the server runs.
    let _ = streams.send(Stream { sender, every, sent: 1 });
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

/// A stream waiting for its next tick, ordered by when that is due.
struct Due {
    at: Instant,
    /// Breaks ties, so that the order is total.
    id: u64,
    stream: Stream,
}

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

/// The one thread that feeds every stream: it sleeps until the earliest tick is due (or
/// a new stream arrives), sends every tick due by then with `try_send`, and drops the
/// streams whose client is gone. Ends when the server's handler is gone and no stream
/// is left.
fn ticker(inbox: Receiver<Stream>) {
    let mut due: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut next_id = 0u64;
    let mut add = |due: &mut BinaryHeap<Reverse<Due>>, stream: Stream| {
        next_id += 1;
        let at = Instant::now() + stream.every;
        due.push(Reverse(Due {
            at,
            id: next_id,
            stream,
        }));
    };
    loop {
        let arrived = match due.peek() {
            Some(Reverse(first)) => inbox.recv_timeout(first.at.saturating_duration_since(Instant::now())),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match arrived {
            Ok(stream) => {
                add(&mut due, stream);
                for stream in inbox.try_iter() {
                    add(&mut due, stream);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if due.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {
                // No new streams will come; feed the open ones until they close.
                if let Some(Reverse(first)) = due.peek() {
                    thread::sleep(first.at.saturating_duration_since(Instant::now()));
                }
            }
        }
        let horizon = Instant::now() + COALESCE;
        while due.peek().is_some_and(|Reverse(first)| first.at <= horizon) {
            let Reverse(Due { at, id, mut stream }) = due.pop().expect("peeked");
            match stream.sender.try_send(format!("data: {}\n\n", stream.sent)) {
                Ok(()) => stream.sent += 1,
                Err(SendError::Full(_)) => {} // a slow client misses this tick
                Err(_) => continue,           // the client is gone: drop its stream
            }
            // The next tick keeps to the stream's own rhythm, not to when this one went.
            let next = (at + stream.every).max(Instant::now());
            due.push(Reverse(Due { at: next, id, stream }));
        }
    }
}
