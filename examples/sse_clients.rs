//! The load client of `benches/sse.sh`: one thread holds N server-sent-event streams
//! (mio), counts their events, and measures the server while they are open.
//!
//! ```text
//! cargo run --release --example sse_clients -- --addr 127.0.0.1:PORT --pid PID \
//!     [--connections 10000] [--path '/events?every=1000'] [--probe 1000] \
//!     [--probe-path /ping] [--window 5] [--timeout 2] [--open-budget 60] [--stall 3] [--label NAME]
//! ```
//!
//! The server runs as a separate process (`examples/stream.rs`); `--pid` names it, and
//! its threads (`/proc/PID/task`), resident memory (`VmRSS`) and per-thread CPU time are
//! read from `/proc` (so: Linux).
//!
//! 1. Raises this process's `RLIMIT_NOFILE` soft limit to the hard limit.
//! 2. With no stream open: samples the server's threads and RSS (once their number has
//!    held still for 250 ms), then runs the probe:
//!    `--probe` sequential `GET --probe-path` requests on one new keep-alive connection,
//!    each allowed `--timeout` seconds (the first that is not answered in time ends the
//!    probe: `probe_error=`).
//! 3. Opens `--connections` connections (at most 512 connecting at once), each sending
//!    `GET --path` with `Accept: text/event-stream`. A stream is *held* once its head
//!    (`200`) and first event have arrived. Opening ends when all are held, when none
//!    more was held for `--stall` seconds after the last connect (a thread-per-connection
//!    server with T threads holds T), or after `--open-budget` seconds.
//! 4. Samples the server again (threads, RSS, what `/_status` says), then counts events
//!    for `--window` seconds together with the CPU time each of the server's thread
//!    groups (poller, workers, ticker, ...) spent meanwhile.
//! 5. Runs the probe again, on a thread of its own, while this one keeps reading events.
//!
//! The last line is machine-readable, `key=value` separated by spaces (values with spaces
//! double-quoted; `-` means not measured), for `benches/plot_sse.py`.
//!
//! Exit status: 0 when the experiment ran (a probe that fails is a result), 2 on a usage
//! error or when the server cannot be observed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

const USAGE: &str = "\
usage: sse_clients --addr HOST:PORT --pid PID [options]

  --connections N     event streams to open [10000]
  --path PATH         request target of each stream [/events?every=1000]
  --probe K           sequential requests of each probe [1000]
  --probe-path PATH   request target of the probe [/ping]
  --window SECS       how long events are counted [5]
  --timeout SECS      time allowed to one probe request [2]
  --open-budget SECS  time allowed for opening the streams [60]
  --stall SECS        opening ends when no stream was held for this long [3]
  --label NAME        server name in the RESULT line [server]";

/// Connections connecting (not yet answered) at once: below the server's listen backlog.
const IN_FLIGHT: usize = 512;

#[derive(Clone)]
struct Options {
    addr: SocketAddr,
    pid: u32,
    connections: usize,
    path: String,
    probe: usize,
    probe_path: String,
    window: Duration,
    timeout: Duration,
    open_budget: Duration,
    stall: Duration,
    label: String,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = None;
    let mut pid = None;
    let mut o = Options {
        addr: "127.0.0.1:8080".parse().expect("a literal address"),
        pid: 0,
        connections: 10_000,
        path: "/events?every=1000".into(),
        probe: 1000,
        probe_path: "/ping".into(),
        window: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        open_budget: Duration::from_secs(60),
        stall: Duration::from_secs(3),
        label: "server".into(),
    };
    let secs = |v: String| {
        v.parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or(format!("{v:?} is not a number of seconds"))
    };
    let number = |v: String| v.parse::<usize>().map_err(|_| format!("{v:?} is not a number"));
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = Some(value.parse().map_err(|_| format!("{value:?} is not HOST:PORT"))?),
            "--pid" => pid = Some(value.parse().map_err(|_| format!("{value:?} is not a PID"))?),
            "--connections" => o.connections = number(value)?,
            "--path" => o.path = value,
            "--probe" => o.probe = number(value)?,
            "--probe-path" => o.probe_path = value,
            "--window" => o.window = secs(value)?,
            "--timeout" => o.timeout = secs(value)?,
            "--open-budget" => o.open_budget = secs(value)?,
            "--stall" => o.stall = secs(value)?,
            "--label" => o.label = value,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    o.addr = addr.ok_or("--addr is required")?;
    o.pid = pid.ok_or("--pid is required")?;
    Ok(o)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sse_clients: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(result) => {
            println!("RESULT {result}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sse_clients: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(o: &Options) -> io::Result<String> {
    let fd_limit = raise_fd_limit();
    let mut r = Line::default();
    r.put("server", &o.label);
    r.put("fd_limit", fd_limit);

    // 2. With no stream open, once the server's thread count has held still for 250 ms
    // (a thread-per-connection server starts its threads after it listens).
    let settled = Instant::now() + Duration::from_secs(5);
    let mut before = Sample::of(o.pid)?;
    while Instant::now() < settled {
        thread::sleep(Duration::from_millis(250));
        let again = Sample::of(o.pid)?;
        let still = again.threads == before.threads;
        before = again;
        if still {
            break;
        }
    }
    let probe_idle = probe(o);
    eprintln!(
        "sse_clients: no streams: {} threads, {} KiB; probe {}",
        before.threads, before.rss_kib, probe_idle
    );

    // 3. Open the streams.
    let mut streams = Streams::new(o)?;
    let opened = Instant::now();
    streams.open(o)?;
    let open_s = opened.elapsed().as_secs_f64();
    eprintln!(
        "sse_clients: {} of {} streams held after {open_s:.1}s ({} failed: {})",
        streams.held(),
        o.connections,
        streams.failed,
        streams.first_error.as_deref().unwrap_or("none")
    );

    // 4. The server with the streams open, then events and CPU over the window.
    streams.pump(Duration::from_secs(1))?;
    let during = Sample::of(o.pid)?;
    // Asked on a thread of its own: the events must keep being read meanwhile, or they
    // would pile up and be counted in the window. A thread-per-connection server with
    // every thread holding a stream does not answer (`streaming=-`).
    let status = {
        let (addr, timeout) = (o.addr, o.timeout);
        let asking = thread::spawn(move || fetch(addr, "/_status", timeout).unwrap_or_default());
        while !asking.is_finished() {
            streams.pump(Duration::from_millis(50))?;
        }
        asking.join().expect("the /_status thread does not panic")
    };
    streams.pump(Duration::from_millis(500))?;
    let cpu_before = thread_cpu(o.pid);
    let events_before = streams.events;
    let window_started = Instant::now();
    streams.pump(o.window)?;
    let window = window_started.elapsed().as_secs_f64();
    let events = streams.events - events_before;
    let cpu_after = thread_cpu(o.pid);

    // 5. The probe again, while the events keep coming.
    let probe_open = {
        let o = o.clone();
        let prober = thread::spawn(move || probe(&o));
        while !prober.is_finished() {
            streams.pump(Duration::from_millis(50))?;
        }
        prober.join().expect("the probe thread does not panic")
    };
    let held_end = streams.held();

    r.put("connections", o.connections);
    r.put("held", held_end);
    r.put("failed", streams.failed);
    r.put("open_s", format!("{open_s:.1}"));
    r.put("threads_before", before.threads);
    r.put("threads", during.threads);
    r.put("thread_names", during.names.clone());
    r.put("rss_before_kib", before.rss_kib);
    r.put("rss_kib", during.rss_kib);
    let per = if held_end > 0 {
        format!(
            "{:.2}",
            (during.rss_kib as f64 - before.rss_kib as f64) / held_end as f64
        )
    } else {
        "-".into()
    };
    r.put("rss_per_stream_kib", per);
    r.put("streaming", figure(&status, "connections_streaming"));
    r.put("workers_busy_status", figure(&status, "workers_busy"));
    r.put("events_per_s", format!("{:.0}", events as f64 / window));
    for (group, ticks) in cpu_use(&cpu_before, &cpu_after) {
        // Clock ticks are 1/100 s on Linux (USER_HZ).
        r.put(&format!("cpu_{group}_pct"), format!("{:.1}", ticks as f64 / window));
    }
    probe_idle.put(&mut r, "probe_idle");
    probe_open.put(&mut r, "probe_open");
    r.put(
        "first_error",
        streams.first_error.clone().unwrap_or_else(|| "none".into()),
    );
    Ok(r.0)
}

/// The RESULT line being built.
#[derive(Default)]
struct Line(String);

impl Line {
    fn put(&mut self, key: &str, value: impl ToString) {
        let value = value.to_string();
        let sep = if self.0.is_empty() { "" } else { " " };
        if value.is_empty() || value.contains([' ', '"', '\\']) {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(self.0, "{sep}{key}=\"{escaped}\"");
        } else {
            let _ = write!(self.0, "{sep}{key}={value}");
        }
    }
}

// ---- the streams ----------------------------------------------------------------------

struct Conn {
    socket: MioStream,
    /// The request is written (it is sent once the connection is established).
    asked: bool,
    /// The response head, until its end has arrived; then `None`.
    head: Option<Vec<u8>>,
    /// The last byte read was a `\n`: a second one ends an event.
    newline: bool,
    events: u64,
    closed: bool,
}

struct Streams {
    poll: Poll,
    conns: Vec<Conn>,
    request: Vec<u8>,
    events: u64,
    failed: usize,
    first_error: Option<String>,
    buf: Vec<u8>,
}

impl Streams {
    fn new(o: &Options) -> io::Result<Streams> {
        Ok(Streams {
            poll: Poll::new()?,
            conns: Vec::with_capacity(o.connections),
            request: format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                o.path, o.addr
            )
            .into_bytes(),
            events: 0,
            failed: 0,
            first_error: None,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Streams whose head and first event have arrived and that are still open.
    fn held(&self) -> usize {
        self.conns.iter().filter(|c| !c.closed && c.events > 0).count()
    }

    fn connecting(&self) -> usize {
        self.conns.iter().filter(|c| !c.closed && c.events == 0).count()
    }

    fn open(&mut self, o: &Options) -> io::Result<()> {
        let deadline = Instant::now() + o.open_budget;
        let mut last_progress = Instant::now();
        let mut held = 0;
        let mut connecting = 0;
        while Instant::now() < deadline {
            while self.conns.len() < o.connections && connecting < IN_FLIGHT {
                match MioStream::connect(o.addr) {
                    Ok(mut socket) => {
                        let token = Token(self.conns.len());
                        self.poll
                            .registry()
                            .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)?;
                        self.conns.push(Conn {
                            socket,
                            asked: false,
                            head: Some(Vec::new()),
                            newline: false,
                            events: 0,
                            closed: false,
                        });
                        connecting += 1;
                    }
                    Err(e) => {
                        self.fail(format!("connect {}: {e}", self.conns.len() + 1));
                        break;
                    }
                }
            }
            self.pump(Duration::from_millis(20))?;
            connecting = self.connecting();
            let now_held = self.held();
            if now_held > held {
                held = now_held;
                last_progress = Instant::now();
            }
            if held == o.connections {
                break;
            }
            let all_tried = self.conns.len() >= o.connections || self.first_error.is_some();
            if all_tried && last_progress.elapsed() >= o.stall {
                break;
            }
        }
        Ok(())
    }

    fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }

    /// Handles socket events for `time`.
    fn pump(&mut self, time: Duration) -> io::Result<()> {
        let until = Instant::now() + time;
        let mut events = Events::with_capacity(1024);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.poll.poll(&mut events, Some(left)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in &events {
                let i = event.token().0;
                if event.is_writable() {
                    self.ask(i);
                }
                if event.is_readable() {
                    self.read(i);
                }
            }
            if left.is_zero() {
                return Ok(());
            }
        }
    }

    fn ask(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if conn.asked || conn.closed {
            return;
        }
        if let Ok(Some(e)) | Err(e) = conn.socket.take_error() {
            return self.close(i, format!("connect: {e}"));
        }
        if conn.socket.peer_addr().is_err() {
            return; // not connected yet
        }
        // A request this small goes out in one write on a new connection.
        match conn.socket.write(&self.request) {
            Ok(n) if n == self.request.len() => {
                conn.asked = true;
                let _ = self
                    .poll
                    .registry()
                    .reregister(&mut conn.socket, Token(i), Interest::READABLE);
            }
            Ok(_) => self.close(i, "request: short write".into()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => self.close(i, format!("request: {e}")),
        }
    }

    fn read(&mut self, i: usize) {
        loop {
            let conn = &mut self.conns[i];
            if conn.closed {
                return;
            }
            let n = match conn.socket.read(&mut self.buf) {
                Ok(0) => return self.close(i, "closed by the server".into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return self.close(i, format!("read: {e}")),
            };
            let mut body = &self.buf[..n];
            if let Some(head) = &mut conn.head {
                head.extend_from_slice(body);
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                if !head.starts_with(b"HTTP/1.1 200") {
                    let line = String::from_utf8_lossy(&head[..head.len().min(40)]).into_owned();
                    return self.close(i, format!("status: {}", line.lines().next().unwrap_or("")));
                }
                let rest = head.split_off(end + 4);
                conn.head = None;
                let counted = count_events(conn, &rest);
                self.events += counted;
                continue;
            }
            let counted = count_events(conn, std::mem::take(&mut body));
            self.events += counted;
        }
    }

    fn close(&mut self, i: usize, error: String) {
        let conn = &mut self.conns[i];
        if conn.closed {
            return;
        }
        conn.closed = true;
        let _ = self.poll.registry().deregister(&mut conn.socket);
        self.fail(error);
    }
}

/// Counts the events (a blank line: `\n\n`) in the next bytes of a stream. The chunked
/// framing around them (`SIZE\r\n` … `\r\n`) never holds two `\n` in a row.
fn count_events(conn: &mut Conn, bytes: &[u8]) -> u64 {
    let mut counted = 0;
    for &b in bytes {
        if b == b'\n' {
            if conn.newline {
                counted += 1;
                conn.newline = false;
            } else {
                conn.newline = true;
            }
        } else {
            conn.newline = false;
        }
    }
    conn.events += counted;
    counted
}

// ---- the probe ------------------------------------------------------------------------

struct Probe {
    ok: usize,
    latencies: Vec<Duration>,
    error: Option<String>,
}

impl Probe {
    fn percentile(&self, p: f64) -> String {
        if self.latencies.is_empty() {
            return "-".into();
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        format!("{:.3}", sorted[i].as_secs_f64() * 1000.0)
    }

    fn put(&self, r: &mut Line, name: &str) {
        r.put(&format!("{name}_ok"), self.ok);
        r.put(&format!("{name}_p50_ms"), self.percentile(0.50));
        r.put(&format!("{name}_p99_ms"), self.percentile(0.99));
        r.put(&format!("{name}_error"), self.error.as_deref().unwrap_or("none"));
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ok, p50 {} ms, p99 {} ms, error {}",
            self.ok,
            self.percentile(0.5),
            self.percentile(0.99),
            self.error.as_deref().unwrap_or("none")
        )
    }
}

/// `o.probe` sequential requests on one new keep-alive connection.
fn probe(o: &Options) -> Probe {
    let mut probe = Probe {
        ok: 0,
        latencies: Vec::with_capacity(o.probe),
        error: None,
    };
    let mut client = match Client::connect(o.addr, o.timeout) {
        Ok(client) => client,
        Err(e) => {
            probe.error = Some(format!("connect: {e}"));
            return probe;
        }
    };
    for _ in 0..o.probe {
        let started = Instant::now();
        match client.get(&o.probe_path) {
            Ok(_) => {
                probe.latencies.push(started.elapsed());
                probe.ok += 1;
            }
            Err(e) => {
                let what = if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                    format!("no answer within {:?}", o.timeout)
                } else {
                    e.to_string()
                };
                probe.error = Some(what);
                break;
            }
        }
    }
    probe
}

/// A blocking keep-alive client for `Content-Length`-framed responses.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    fn get(&mut self, path: &str) -> io::Result<String> {
        write!(self.stream, "GET {path} HTTP/1.1\r\nHost: probe\r\n\r\n")?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "no Content-Length"))?;
        while self.buf.len() < head_end + len {
            self.fill()?;
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + len]).into_owned();
        self.buf.drain(..head_end + len);
        Ok(body)
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// One `GET path` on a new connection.
fn fetch(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<String> {
    Client::connect(addr, timeout)?.get(path)
}

/// The whole-number figure `name` in a `/_status` JSON body, or `-`.
fn figure(json: &str, name: &str) -> String {
    json.split_once(&format!("\"{name}\":"))
        .map(|(_, after)| after.chars().take_while(char::is_ascii_digit).collect::<String>())
        .filter(|digits| !digits.is_empty())
        .unwrap_or_else(|| "-".into())
}

// ---- the server, from /proc ------------------------------------------------------------

struct Sample {
    threads: usize,
    rss_kib: u64,
    /// Thread groups and how many threads each has, e.g. `nioserve-worker:2,...`.
    names: String,
}

impl Sample {
    fn of(pid: u32) -> io::Result<Sample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> io::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, format!("no {name} in /proc/{pid}/status")))
        };
        let mut groups: BTreeMap<String, usize> = BTreeMap::new();
        for (name, _) in thread_cpu(pid) {
            *groups.entry(name).or_default() += 1;
        }
        let names = groups
            .iter()
            .map(|(name, n)| format!("{name}:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Sample {
            threads: usize::try_from(field("Threads:")?).unwrap_or(usize::MAX),
            rss_kib: field("VmRSS:")?,
            names,
        })
    }
}

/// Each of the server's threads: its group (its name without a trailing number) and the
/// CPU time it has used, in clock ticks.
fn thread_cpu(pid: u32) -> Vec<(String, u64)> {
    let mut threads = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, counted from 1.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        threads.push((name.to_string(), ticks(14) + ticks(15)));
    }
    threads
}

/// CPU ticks used between two readings, by thread group.
fn cpu_use(before: &[(String, u64)], after: &[(String, u64)]) -> BTreeMap<String, u64> {
    let sum = |threads: &[(String, u64)]| {
        let mut groups: BTreeMap<String, u64> = BTreeMap::new();
        for (name, ticks) in threads {
            *groups.entry(name.clone()).or_default() += ticks;
        }
        groups
    };
    let before = sum(before);
    sum(after)
        .into_iter()
        .map(|(name, ticks)| {
            let used = ticks.saturating_sub(before.get(&name).copied().unwrap_or(0));
            (name.replace(['-', ' '], "_"), used)
        })
        .collect()
}

fn raise_fd_limit() -> String {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile)
        .current
        .map_or_else(|| "unlimited".into(), |n| n.to_string())
}
