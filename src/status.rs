//! A handler that reports a server's live counters: as JSON, or as a stream of
//! server-sent events fed by one ticker thread for every client.
//!
//! The stream follows the rule that waiting work holds no thread: a client watching the
//! counters is a streamed response on the poller, and the one ticker thread of a
//! [`Status`] (and of all its clones) sends the next sample to every such client once a
//! second, never waiting for any of them.
//!
//! Each sample also carries two figures read from the process itself (Linux only):
//! its thread count and its resident memory, so that the claim "1 + N threads, however
//! many connections" can be read off the page.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE, VARY};
use http::{Method, StatusCode};
use log::{debug, error};

use crate::{Body, BodySender, Counters, Handler, Request, Response, SendError};

/// How often an event stream gets the next sample.
const PERIOD: Duration = Duration::from_secs(1);

/// The bytes an event stream's queue holds at most: a dozen samples or so. A client that
/// falls further behind misses samples (there is no point in old ones), never slows
/// the others.
const STREAM_QUEUE_BYTES: usize = 4 * 1024;

/// The ticker thread's name (the kernel shows its first 15 bytes, `nioserve-status`).
const TICKER_THREAD: &str = "nioserve-status-ticker";

/// Answers `GET` and `HEAD` with the server's counters as JSON — the demo's `/_status` —
/// or, to a `GET` that accepts `text/event-stream`, with a stream of them.
///
/// The body is [`Stats::to_json`](crate::Stats::to_json): open, idle, busy and streaming
/// connections, busy and total workers, requests served, connections accepted,
/// closed and timed out, uptime in seconds and requests queued; then two figures read
/// from the process itself when this sample is taken:
///
/// - `threads`: the threads of the whole process (Linux: `Threads:` in
///   `/proc/self/status`). A server on its own runs the poller and its N workers
///   (`--model blocking`: its N connection threads), and the access log's writer
///   when the [access log](crate::Builder::access_log) goes to a file or a stream
///   (`nioserve-access`), plus the program's own threads —
///   in the demo, its main thread — plus this handler's ticker thread while an event
///   stream is open. Idle connections add none: that is the figure to watch.
/// - `rss_bytes`: the resident memory of the process in bytes (Linux: `VmRSS:` in
///   `/proc/self/status`, which the kernel gives in KiB).
///
/// Elsewhere (or if `/proc` is not mounted) the two keys are left out of the JSON
/// rather than reported as zero. The file is opened once, by [`Status::new`], and kept
/// (one descriptor, so that a server out of descriptors still reports them and no sample
/// takes a descriptor a client could have had); each JSON response and each ticker beat,
/// whatever the number of streams, reads it again from its start into a buffer on the
/// stack.
///
/// Responses are marked `Cache-Control: no-store` so a page polling it always sees
/// fresh numbers.
///
/// A `GET` whose `Accept` names `text/event-stream` (as a browser's `EventSource`
/// sends) gets the counters as [server-sent events]: one event (`data: {json}`) at once,
/// then one a second for as long as the client stays. No thread waits for such a
/// client. The handler returns the response at once, the poller holds the connection,
/// and one ticker thread, shared by every clone of this `Status`, samples the counters
/// once a second and queues the same event for every open stream without ever waiting
/// for one (a client whose queue is full misses that sample). The ticker starts with the
/// first stream and ends once no stream is left, so a server nobody watches has no
/// ticker, and it never keeps the process alive.
///
/// The counters are read-only: any other method gets `405 Method Not Allowed` with
/// `Allow: GET, HEAD` (RFC 9110 §15.5.6). A request is counted before its response is
/// written, so a client that has its answer to one request and then asks here always
/// finds that request among `requests`.
///
/// [server-sent events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
///
/// # Examples
///
/// Mount it next to other handlers:
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Handler, Request, Response, Server, Status};
///
/// let server = Server::builder().bind("127.0.0.1:0")?;
/// let status = Status::new(server.counters());
/// let handle = server.spawn(move |req: Request| match req.uri().path() {
///     "/_status" => status.call(req),
///     _ => Response::new("hello".into()),
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// Ask for the event stream:
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Handler, Request, Server, Status};
///
/// let server = Server::builder().workers(1).bind("127.0.0.1:0")?;
/// let status = Status::new(server.counters());
/// let request = http::Request::get("/_status")
///     .header("accept", "text/event-stream")
///     .body(Default::default())
///     .unwrap();
/// let response = status.call(request);
/// assert_eq!(response.headers()["content-type"], "text/event-stream");
/// assert_eq!(response.body().len(), None, "a stream of unknown length");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Status {
    /// Shared by every clone: one ticker (and one source of samples) for all of them.
    ticker: Arc<Ticker>,
}

impl Status {
    /// A handler reporting `counters` (from [`Server::counters`](crate::Server::counters)).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, Server, Status};
    ///
    /// let server = Server::builder().workers(2).bind("127.0.0.1:0")?;
    /// let status = Status::new(server.counters());
    /// let response = status.call(Request::new(Default::default()));
    /// assert_eq!(response.headers()["content-type"], "application/json");
    ///
    /// let mut post = Request::new(Default::default());
    /// *post.method_mut() = http::Method::POST;
    /// let refused = status.call(post);
    /// assert_eq!(refused.status(), 405);
    /// assert_eq!(refused.headers()["allow"], "GET, HEAD");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(counters: Counters) -> Status {
        Status {
            ticker: Arc::new(Ticker::new(Source::new(counters), PERIOD)),
        }
    }

    /// The counters as one JSON document.
    fn json(&self) -> Response {
        let mut response = Response::new(self.ticker.source.sample().into());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    /// The counters as an event stream, or as JSON if no ticker can be started.
    fn event_stream(&self) -> Response {
        let (sender, body) = Body::channel(STREAM_QUEUE_BYTES);
        // The first sample goes at once, not at the ticker's next beat: the queue is
        // empty, so it always fits.
        let _ = sender.try_send(self.ticker.source.event());
        if let Err(e) = self.ticker.add(sender) {
            error!("cannot start the {TICKER_THREAD} thread: {e}; answering /_status with JSON");
            return self.json();
        }
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        response
    }
}

impl Handler for Status {
    fn call(&self, request: Request) -> Response {
        let method = request.method();
        let mut response = if method == Method::GET && accepts_event_stream(&request) {
            self.event_stream()
        } else if method == Method::GET || method == Method::HEAD {
            self.json()
        } else {
            let mut response = Response::new("405 Method Not Allowed: the counters are read-only\n".into());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let headers = response.headers_mut();
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            response
        };
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The answer depends on Accept (RFC 9110 §12.5.5).
        headers.insert(VARY, HeaderValue::from_static("accept"));
        response
    }
}

/// Whether the request's `Accept` names `text/event-stream` (any case, any parameters
/// but `q=0`, which refuses it: RFC 9110 §12.4.2). Wildcards do not count: a client
/// that accepts anything gets the JSON it has always had.
fn accepts_event_stream(request: &Request) -> bool {
    request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            media.eq_ignore_ascii_case("text/event-stream")
                && !parts.any(|param| {
                    param
                        .split_once('=')
                        .is_some_and(|(name, q)| name.trim().eq_ignore_ascii_case("q") && is_zero(q.trim()))
                })
        })
}

/// Whether a qvalue is zero (`0`, `0.`, `0.000`).
fn is_zero(q: &str) -> bool {
    q.strip_prefix('0')
        .is_some_and(|rest| rest.is_empty() || rest.strip_prefix('.').is_some_and(|d| d.bytes().all(|b| b == b'0')))
}

/// Where samples come from: the counters, and the process's own `/proc/self/status`.
#[derive(Debug)]
struct Source {
    counters: Counters,
    /// Open for as long as the [`Status`]; `None` where there is no such file.
    proc_status: Option<std::fs::File>,
}

impl Source {
    fn new(counters: Counters) -> Source {
        #[cfg(target_os = "linux")]
        let proc_status = std::fs::File::open("/proc/self/status").ok();
        #[cfg(not(target_os = "linux"))]
        let proc_status = None;
        Source { counters, proc_status }
    }

    /// One sample as a server-sent event.
    fn event(&self) -> Bytes {
        Bytes::from(format!("data: {}\n\n", self.sample()))
    }

    /// One sample as JSON: the counters, then the process's own figures where they can
    /// be read.
    fn sample(&self) -> String {
        sample(&self.counters, self.proc_status.as_ref())
    }
}

/// The counters as JSON, with the figures read from `proc_status` (a `/proc/PID/status`).
fn sample(counters: &Counters, proc_status: Option<&std::fs::File>) -> String {
    let mut json = counters.snapshot().to_json();
    let process = proc_status.map(ProcessFigures::read).unwrap_or_default();
    if process.threads.is_some() || process.rss_bytes.is_some() {
        // `to_json` ends its one object with `}`: the figures go in before it.
        json.pop();
        if let Some(threads) = process.threads {
            json.push_str(",\"threads\":");
            json.push_str(itoa::Buffer::new().format(threads));
        }
        if let Some(rss) = process.rss_bytes {
            json.push_str(",\"rss_bytes\":");
            json.push_str(itoa::Buffer::new().format(rss));
        }
        json.push('}');
    }
    json
}

/// What the process reports of itself: its threads and its resident memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ProcessFigures {
    threads: Option<u64>,
    rss_bytes: Option<u64>,
}

/// The bytes of `/proc/self/status` read at most. The file is about 1.5 KiB; only a
/// `Groups:` line listing thousands of groups makes it longer, and then the figures past
/// the cut are left out rather than read with an allocation.
#[cfg(unix)]
const PROC_STATUS_BYTES: usize = 8 * 1024;

impl ProcessFigures {
    /// Reads an open `/proc/PID/status` from its start (the kernel writes it afresh for
    /// a read at offset 0) into a buffer on the stack. Positioned reads, so that the
    /// ticker and a worker may read the one file at once.
    #[cfg(unix)]
    fn read(file: &std::fs::File) -> ProcessFigures {
        use std::os::unix::fs::FileExt;

        let mut buf = [0u8; PROC_STATUS_BYTES];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return ProcessFigures::default(),
            }
        }
        ProcessFigures::parse(&buf[..filled])
    }

    #[cfg(not(unix))]
    fn read(_file: &std::fs::File) -> ProcessFigures {
        ProcessFigures::default()
    }

    /// The `Threads:` and `VmRSS:` lines of a `/proc/PID/status` text (see proc(5)); a
    /// line missing or garbled leaves its figure out. The kernel writes `VmRSS` in kB,
    /// meaning KiB.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn parse(text: &[u8]) -> ProcessFigures {
        let mut figures = ProcessFigures::default();
        for line in text.split(|&b| b == b'\n') {
            let Some((name, value)) = std::str::from_utf8(line).ok().and_then(|line| line.split_once(':')) else {
                continue;
            };
            match name {
                "Threads" => figures.threads = value.trim().parse().ok(),
                "VmRSS" => {
                    figures.rss_bytes = value
                        .trim()
                        .strip_suffix("kB")
                        .and_then(|kib| kib.trim_end().parse::<u64>().ok())
                        .and_then(|kib| kib.checked_mul(1024));
                }
                _ => {}
            }
        }
        figures
    }
}

/// The one thread that feeds every open event stream of a [`Status`].
///
/// It sleeps a period, samples the counters once, and queues the same event (one
/// shared allocation) for every stream with `try_send`: a full queue skips that
/// stream's sample, a closed one (the client left, the server shut down) is dropped.
/// It ends when it finds no stream left; the next stream starts a new one.
#[derive(Debug)]
struct Ticker {
    source: Source,
    period: Duration,
    streams: Mutex<Streams>,
}

#[derive(Debug, Default)]
struct Streams {
    open: Vec<BodySender>,
    /// A ticker thread is running and will look at `open` again: set and cleared only
    /// under the lock, together with the look at `open`, so that a stream added as the
    /// thread ends starts a new one rather than being left unfed.
    running: bool,
}

impl Ticker {
    fn new(source: Source, period: Duration) -> Ticker {
        Ticker {
            source,
            period,
            streams: Mutex::new(Streams::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Streams> {
        // Every change under the lock is a push, a retain or one assignment: a panic
        // elsewhere leaves it consistent.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds `sender` from now on, starting the ticker thread if none runs.
    fn add(self: &Arc<Self>, sender: BodySender) -> std::io::Result<()> {
        let mut streams = self.lock();
        if !streams.running {
            let ticker = Arc::clone(self);
            thread::Builder::new()
                .name(TICKER_THREAD.into())
                .spawn(move || ticker.run())?;
            streams.running = true;
            debug!("{TICKER_THREAD} started");
        }
        streams.open.push(sender);
        Ok(())
    }

    fn run(&self) {
        loop {
            thread::sleep(self.period);
            if !self.tick() {
                debug!("{TICKER_THREAD}: no stream left, ending");
                return;
            }
        }
    }

    /// Sends one sample to every open stream; returns whether any is left.
    fn tick(&self) -> bool {
        let mut streams = self.lock();
        if !streams.open.is_empty() {
            let event = self.source.event();
            streams.open.retain(|sender| match sender.try_send(event.clone()) {
                Ok(()) | Err(SendError::Full(_)) => true,
                Err(_) => false,
            });
        }
        streams.running = !streams.open.is_empty();
        streams.running
    }

    #[cfg(test)]
    fn open_streams(&self) -> (usize, bool) {
        let streams = self.lock();
        (streams.open.len(), streams.running)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn request(accept: Option<&str>) -> Request {
        let mut builder = http::Request::get("/_status");
        if let Some(accept) = accept {
            builder = builder.header(ACCEPT, accept);
        }
        builder.body(Bytes::new().into()).unwrap()
    }

    #[test]
    fn only_an_accept_naming_the_event_stream_asks_for_one() {
        for (accept, wanted) in [
            (None, false),
            (Some("*/*"), false),
            (Some("text/*"), false),
            (Some("application/json"), false),
            (Some("text/event-stream"), true),
            (Some("TEXT/Event-Stream"), true),
            (Some("application/json, text/event-stream;q=0.5"), true),
            (Some("text/event-stream; q=0"), false),
            (Some("text/event-stream;q=0.000"), false),
            (Some("text/event-stream;q=0.001"), true),
            (Some("text/event-streams"), false),
        ] {
            assert_eq!(accepts_event_stream(&request(accept)), wanted, "{accept:?}");
        }
    }

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_ticker_drops_closed_streams_and_ends_when_none_is_left() {
        let ticker = Arc::new(Ticker::new(Source::new(Counters::new(1)), Duration::from_millis(10)));
        let (kept, kept_body) = Body::channel(1 << 20);
        let (left, left_body) = Body::channel(1 << 20);
        ticker.add(kept).unwrap();
        ticker.add(left).unwrap();
        assert_eq!(ticker.open_streams(), (2, true));
        drop(left_body); // as when the client leaves
        wait_until("the closed stream is dropped", || ticker.open_streams() == (1, true));
        let Body::Stream(kept_stream) = &kept_body else {
            panic!("a channel body is a stream")
        };
        wait_until("the open one is fed", || {
            matches!(kept_stream.pull(), crate::stream::Pulled::Chunks(_))
        });
        drop(kept_body);
        wait_until("the ticker ends", || ticker.open_streams() == (0, false));
        // A new stream starts a new ticker.
        let (again, again_body) = Body::channel(1 << 20);
        ticker.add(again).unwrap();
        assert_eq!(ticker.open_streams(), (1, true));
        drop(again_body);
        wait_until("the second ticker ends", || ticker.open_streams() == (0, false));
    }

    #[test]
    fn the_process_figures_come_from_the_threads_and_vmrss_lines() {
        let text = b"Name:\tnioserve\nState:\tS (sleeping)\nVmHWM:\t   9000 kB\nVmRSS:\t    7412 kB\n\
                     RssAnon:\t 1000 kB\nThreads:\t5\nSigQ:\t0/1000\n";
        assert_eq!(
            ProcessFigures::parse(text),
            ProcessFigures {
                threads: Some(5),
                rss_bytes: Some(7412 * 1024)
            }
        );
        // Missing, garbled, in other units, or cut off mid-line: left out, never zero.
        for (text, wanted) in [
            (&b""[..], ProcessFigures::default()),
            (b"Threads:\tmany\nVmRSS:\t12 MB\n", ProcessFigures::default()),
            (
                b"Threads: 3\nVmRSS:",
                ProcessFigures {
                    threads: Some(3),
                    rss_bytes: None,
                },
            ),
            (b"VmRSS:\t99999999999999999999 kB\n", ProcessFigures::default()),
        ] {
            assert_eq!(
                ProcessFigures::parse(text),
                wanted,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_json_ends_with_this_process_s_threads_and_resident_memory() {
        let json = Source::new(Counters::new(1)).sample();
        assert!(
            json.starts_with("{\"connections_open\":0,") && json.ends_with('}'),
            "{json}"
        );
        let number = |key: &str| -> u64 {
            let rest = json.split_once(&format!("\"{key}\":")).expect(key).1;
            rest[..rest.find([',', '}']).expect("end")]
                .parse()
                .expect("a whole number")
        };
        // The test harness's threads: at least this one.
        assert!(number("threads") >= 1, "{json}");
        assert!(number("rss_bytes") > 1 << 20, "{json}");
    }

    #[test]
    fn a_full_queue_skips_a_tick_and_keeps_the_stream() {
        let ticker = Arc::new(Ticker::new(Source::new(Counters::new(1)), Duration::from_secs(3600)));
        let (sender, _body) = Body::channel(1);
        sender.try_send("x").unwrap();
        ticker.lock().open.push(sender);
        assert!(ticker.tick(), "the stream is kept");
        assert_eq!(ticker.open_streams().0, 1);
    }
}
