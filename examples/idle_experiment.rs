//! The idle-connection experiment: what do N idle keep-alive connections cost a server,
//! and can it still answer a fresh client while they sit there?
//!
//! ```text
//! cargo run --release --example idle_experiment -- \
//!     --addr 127.0.0.1:PORT --pid PID[,PID...] --connections N \
//!     [--fresh 200] [--path /hello.txt] [--label NAME] \
//!     [--timeout 5] [--fresh-timeout 2] [--open-budget 240] [--fresh-budget 20] \
//!     [--fresh-from 127.0.0.2] [--settle 1]
//! ```
//!
//! The server runs as a separate process (nioserve's demo, nginx, anything speaking
//! HTTP/1.1 on `--addr`); `--pid` names the process (or processes, comma-separated, e.g.
//! an nginx master and its workers) whose `Threads:` and `VmRSS:` are read from
//! `/proc/PID/status` (so: Linux). Only this process's side of the connections is opened
//! here; the server needs a file descriptor per connection too.
//!
//! 1. Raises this process's `RLIMIT_NOFILE` soft limit to the hard limit (`fd_limit=`).
//! 2. Samples the server's threads and resident memory (`threads_before=`, `rss_before_kib=`)
//!    once its thread count has held still for 250 ms.
//! 3. Opens `--connections` keep-alive connections one after another; each sends one
//!    `GET --path` (HTTP/1.1, `Host`) and reads the whole `Content-Length`-framed response,
//!    then stays open and idle. The first connection that cannot be opened or answered
//!    within `--timeout` seconds (too many open files, refused, reset, timed out, a non-2xx
//!    status) stops the opening and is reported as `limit=` ("limit hit: ..."), as is
//!    running out of `--open-budget` seconds. A thread-per-connection server with T threads
//!    stops at T + 1: that connection waits in the listen backlog and is never answered.
//!    When this process runs out of descriptors, it closes 16 of its idle connections
//!    again so that it can still read `/proc` and send the fresh requests.
//! 4. Waits `--settle` seconds and samples the server again (`threads=`, `rss_kib=`).
//! 5. While the connections idle, sends `--fresh` sequential requests, each on a new
//!    connection with `Connection: close`; one not answered within `--fresh-timeout`
//!    seconds is a failure. The phase ends early when `--fresh-budget` seconds are spent.
//!    With ~20,000 connections open from 127.0.0.1 to one server port, this kernel's search
//!    for a free ephemeral port makes each `connect()` take most of a millisecond, in the
//!    client; `--fresh-from 127.0.0.2` (any 127/8 address is local on Linux) gives the fresh
//!    connections a source address of their own, so their latency is the server's again.
//! 6. Checks, without blocking, how many idle connections are still open (`held=`; EOF,
//!    a reset or unsolicited bytes from the server mean it closed or is closing one).
//!
//! The last line of output is machine-readable, `key=value` pairs separated by spaces,
//! values with spaces double-quoted, `"` and `\` escaped with `\` (Python's `shlex.split`
//! reads it); `-` means "not measured":
//!
//! ```text
//! RESULT server=nio connections=1000 served=1000 held=1000 closed_by_server=0 threads_before=4
//!   threads=4 rss_before_kib=4028 rss_kib=4228 rss_per_conn_kib=0.20 fresh=200 fresh_ok=200
//!   fresh_failed=0 fresh_p50_ms=0.063 fresh_p99_ms=0.150 fresh_max_ms=0.402 open_s=0.13
//!   fd_limit=20000 path=/hello.txt fresh_error=none limit=none
//! RESULT server=blocking connections=1000 served=200 held=200 ... fresh=5 fresh_ok=0 fresh_failed=5
//!   ... fresh_error="response: timed out" limit="connection 201: response: timed out"
//! ```
//!
//! Exit status: 0 when the experiment ran (hitting a limit is a result, not an error),
//! 2 on a usage error or when the server cannot be observed.

use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: idle_experiment --addr HOST:PORT --pid PID[,PID...] --connections N [options]

  --addr HOST:PORT      the server to measure (numeric address)
  --pid PID[,PID...]    server process(es) whose Threads/VmRSS are summed from /proc/PID/status
  --connections N       idle keep-alive connections to open
  --fresh K             fresh requests sent while they idle [200]
  --path PATH           request target [/hello.txt]
  --label NAME          server name in the RESULT line [the first PID's command name]
  --timeout SECS        connect + response time allowed to an idle connection [5]
  --fresh-timeout SECS  connect + response time allowed to a fresh request [2]
  --open-budget SECS    time allowed for opening all connections [240]
  --fresh-budget SECS   time allowed for all fresh requests [20]
  --fresh-from IP       source address of the fresh connections, e.g. 127.0.0.2 [any]
  --settle SECS         pause between opening and measuring [1]";

/// Idle connections given up when this process runs out of descriptors, so that it
/// can still read `/proc` and send fresh requests.
const FD_RESERVE: usize = 16;

/// The command line.
struct Args {
    addr: SocketAddr,
    pids: Vec<u32>,
    connections: usize,
    fresh: usize,
    path: String,
    label: Option<String>,
    timeout: Duration,
    fresh_timeout: Duration,
    open_budget: Duration,
    fresh_budget: Duration,
    fresh_from: Option<IpAddr>,
    settle: Duration,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut addr = None;
        let mut pids = None;
        let mut connections = None;
        let mut args = Args {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pids: Vec::new(),
            connections: 0,
            fresh: 200,
            path: "/hello.txt".to_string(),
            label: None,
            timeout: Duration::from_secs(5),
            fresh_timeout: Duration::from_secs(2),
            open_budget: Duration::from_secs(240),
            fresh_budget: Duration::from_secs(20),
            fresh_from: None,
            settle: Duration::from_secs(1),
        };
        while let Some(flag) = argv.next() {
            if flag == "-h" || flag == "--help" {
                return Err(String::new());
            }
            let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => addr = Some(value.parse().map_err(|_| format!("--addr {value:?}: not HOST:PORT"))?),
                "--pid" => {
                    let parsed: Result<Vec<u32>, _> = value.split(',').map(|p| p.trim().parse::<u32>()).collect();
                    pids = Some(parsed.map_err(|_| format!("--pid {value:?}: not a list of process ids"))?);
                }
                "--connections" => connections = Some(count(&flag, &value)?),
                "--fresh" => args.fresh = count(&flag, &value)?,
                "--path" if value.starts_with('/') => args.path = value,
                "--path" => return Err(format!("--path {value:?}: must start with '/'")),
                "--label" => args.label = Some(value),
                "--timeout" => args.timeout = seconds(&flag, &value)?,
                "--fresh-timeout" => args.fresh_timeout = seconds(&flag, &value)?,
                "--open-budget" => args.open_budget = seconds(&flag, &value)?,
                "--fresh-budget" => args.fresh_budget = seconds(&flag, &value)?,
                "--fresh-from" => {
                    let ip = value
                        .parse()
                        .map_err(|_| format!("--fresh-from {value:?}: not an IP address"))?;
                    args.fresh_from = Some(ip);
                }
                "--settle" => args.settle = seconds(&flag, &value)?,
                _ => return Err(format!("unknown option {flag:?}")),
            }
        }
        args.addr = addr.ok_or("--addr is required")?;
        args.pids = pids.ok_or("--pid is required")?;
        args.connections = connections.ok_or("--connections is required")?;
        Ok(args)
    }
}

fn count(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value:?}: not a whole number"))
}

fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{flag} {value:?}: not a number of seconds"))
}

/// Threads and resident memory of the server, summed over its processes.
#[derive(Clone, Copy)]
struct Sample {
    threads: u64,
    rss_kib: u64,
}

fn sample(pids: &[u32]) -> Result<Sample, String> {
    let mut total = Sample { threads: 0, rss_kib: 0 };
    for pid in pids {
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let field = |name: &str| -> Result<u64, String> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{path} has no {name} line (has process {pid} exited?)"))
        };
        total.threads += field("Threads:")?;
        total.rss_kib += field("VmRSS:")?;
    }
    Ok(total)
}

/// A sample taken once the server's thread count has held still for 250 ms (3 s at
/// most): a server that starts its pool thread by thread is measured once it is up.
fn steady_sample(pids: &[u32]) -> Result<Sample, String> {
    let give_up = Instant::now() + Duration::from_secs(3);
    let mut last = sample(pids)?;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = sample(pids)?;
        if now.threads == last.threads || Instant::now() >= give_up {
            return Ok(now);
        }
        last = now;
    }
}

/// The command name of a process, for the default label.
fn command_name(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(name.trim().to_string())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now in force.
fn raise_fd_limit() -> Result<u64, String> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit).map_err(|e| format!("cannot raise RLIMIT_NOFILE: {e}"))?;
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// What came back for one request.
struct Reply {
    status: u16,
    /// The server will close the connection after this response.
    close: bool,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an exchange failed.
struct Failure {
    message: String,
    /// This process ran out of file descriptors (EMFILE, ENFILE).
    out_of_fds: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            out_of_fds: false,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::from(message.to_string())
    }
}

/// Connects, sends `request` and reads one whole response, all before `deadline`.
fn exchange(
    addr: SocketAddr,
    source: Option<IpAddr>,
    request: &[u8],
    deadline: Instant,
) -> Result<(TcpStream, Reply), Failure> {
    let remaining = remaining(deadline).ok_or("connect: timed out")?;
    let mut stream = connect(addr, source, remaining).map_err(|e| Failure {
        message: stage_error("connect", &e),
        out_of_fds: rustix::io::Errno::from_io_error(&e)
            .is_some_and(|errno| errno == rustix::io::Errno::MFILE || errno == rustix::io::Errno::NFILE),
    })?;
    // Small requests, whole responses: Nagle would only add delay.
    stream.set_nodelay(true).map_err(|e| stage_error("setsockopt", &e))?;
    let remaining = remaining_or_timeout(deadline, "send")?;
    stream
        .set_write_timeout(Some(remaining))
        .map_err(|e| stage_error("setsockopt", &e))?;
    stream.write_all(request).map_err(|e| stage_error("send", &e))?;
    let reply = read_response(&mut stream, deadline)?;
    Ok((stream, reply))
}

/// Connects to `addr`, from `source` (any free port) when given.
fn connect(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect_timeout(&addr, timeout);
    };
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), timeout)?;
    Ok(socket.into())
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

fn remaining_or_timeout(deadline: Instant, stage: &str) -> Result<Duration, String> {
    remaining(deadline).ok_or_else(|| format!("{stage}: timed out"))
}

fn stage_error(stage: &str, error: &io::Error) -> String {
    match error.kind() {
        // A socket read timeout surfaces as EAGAIN (WouldBlock) on Linux.
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("{stage}: timed out"),
        _ => format!("{stage}: {error}"),
    }
}

/// Reads one `Content-Length`-framed response (the body is counted, not kept).
fn read_response(stream: &mut TcpStream, deadline: Instant) -> Result<Reply, String> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 16 * 1024];
    // Once the head is parsed: the reply and the body bytes still to come.
    let mut parsed: Option<(Reply, usize)> = None;
    loop {
        if let Some((reply, 0)) = parsed {
            return Ok(reply);
        }
        let timeout = remaining_or_timeout(deadline, "response")?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| stage_error("setsockopt", &e))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err("response: connection closed by the server".to_string()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(stage_error("response", &e)),
        };
        match &mut parsed {
            Some((_, body_left)) => *body_left = body_left.saturating_sub(n),
            None => {
                head.extend_from_slice(&chunk[..n]);
                if let Some((reply, head_len, body_len)) = parse_head(&head)? {
                    let body_seen = head.len() - head_len;
                    parsed = Some((reply, body_len.saturating_sub(body_seen)));
                } else if head.len() > 64 * 1024 {
                    return Err("response: head larger than 64 KiB".to_string());
                }
            }
        }
    }
}

/// Parses a response head: `None` while incomplete, else the reply, the head's length and
/// the body's length.
fn parse_head(bytes: &[u8]) -> Result<Option<(Reply, usize, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("response: malformed head: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let mut content_length = None;
    let mut close = response.version == Some(0);
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = value.trim().parse::<usize>();
            content_length = Some(length.map_err(|_| format!("response: bad Content-Length {value:?}"))?);
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && response.version == Some(0) {
                    close = false;
                }
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("response: Transfer-Encoding framing is not supported here".to_string());
        }
    }
    let body_len = match (status, content_length) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(length)) => length,
        (_, None) => return Err(format!("response: status {status} without Content-Length")),
    };
    Ok(Some((Reply { status, close }, head_len, body_len)))
}

/// Whether the server still holds this connection open, judged without blocking.
enum Held {
    Open,
    /// EOF, reset, or bytes the client never asked for (e.g. a 408 before a close).
    Closed,
}

fn held(stream: &TcpStream) -> Held {
    if stream.set_nonblocking(true).is_err() {
        return Held::Closed;
    }
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => Held::Open,
        _ => Held::Closed,
    }
}

/// Latencies, sorted; nearest-rank percentile.
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Quotes a value for the RESULT line when it holds spaces or quotes.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '\'') {
        return value.to_string();
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(if c.is_whitespace() { ' ' } else { c });
    }
    quoted.push('"');
    quoted
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("idle_experiment: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("idle_experiment: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let fd_limit = raise_fd_limit()?;
    let label = args
        .label
        .clone()
        .or_else(|| args.pids.first().and_then(|&pid| command_name(pid)))
        .unwrap_or_else(|| "server".to_string());
    eprintln!(
        "idle_experiment: {label} at {} (pid {:?}); fd limit {fd_limit}",
        args.addr, args.pids
    );
    if args.connections as u64 + 50 > fd_limit {
        eprintln!(
            "idle_experiment: {} connections need as many descriptors here; expect a limit near {fd_limit}",
            args.connections
        );
    }
    let before = steady_sample(&args.pids)?;

    // Open the idle connections.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nioserve-idle-experiment\r\nAccept: */*\r\n\r\n",
        args.path, args.addr
    );
    let started = Instant::now();
    let open_deadline = started + args.open_budget;
    let mut idle = Vec::with_capacity(args.connections);
    let mut served = 0usize;
    let mut closed_by_server = 0usize;
    let mut limit: Option<String> = None;
    for i in 0..args.connections {
        if Instant::now() >= open_deadline {
            limit = Some(format!(
                "open budget of {:.0} s spent after {i} connections",
                args.open_budget.as_secs_f64()
            ));
            break;
        }
        let deadline = (Instant::now() + args.timeout).min(open_deadline);
        match exchange(args.addr, None, request.as_bytes(), deadline) {
            Ok((_, reply)) if !reply.ok() => {
                limit = Some(format!("connection {}: status {}", i + 1, reply.status));
                break;
            }
            Ok((stream, reply)) => {
                served += 1;
                if reply.close {
                    closed_by_server += 1;
                } else {
                    idle.push(stream);
                }
            }
            Err(failure) => {
                let mut text = format!("connection {}: {}", i + 1, failure.message);
                if failure.out_of_fds {
                    // Without a few descriptors there is no /proc to read and no fresh request.
                    let freed = idle.len().min(FD_RESERVE);
                    idle.truncate(idle.len() - freed);
                    let _ = write!(text, " ({freed} idle connections closed again to measure)");
                }
                limit = Some(text);
                break;
            }
        }
        if (i + 1) % 5000 == 0 {
            eprintln!(
                "idle_experiment: {} connections open ({:.1} s)",
                idle.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let open_time = started.elapsed();
    eprintln!(
        "idle_experiment: {served} served, {} kept open in {:.2} s{}",
        idle.len(),
        open_time.as_secs_f64(),
        limit.as_ref().map(|l| format!("; limit hit: {l}")).unwrap_or_default()
    );

    // Measure the server while they idle.
    std::thread::sleep(args.settle);
    let during = match sample(&args.pids) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("idle_experiment: {e}");
            None
        }
    };

    // Fresh requests, one connection each, while the others idle.
    let fresh_request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nioserve-idle-experiment\r\nConnection: close\r\n\r\n",
        args.path, args.addr
    );
    let fresh_started = Instant::now();
    let mut latencies = Vec::with_capacity(args.fresh);
    let mut fresh_failed = 0usize;
    let mut first_failure: Option<String> = None;
    let mut fresh_tried = 0usize;
    for i in 0..args.fresh {
        if fresh_started.elapsed() >= args.fresh_budget {
            eprintln!(
                "idle_experiment: fresh budget of {:.0} s spent after {i} requests",
                args.fresh_budget.as_secs_f64()
            );
            break;
        }
        fresh_tried += 1;
        let t0 = Instant::now();
        match exchange(
            args.addr,
            args.fresh_from,
            fresh_request.as_bytes(),
            t0 + args.fresh_timeout,
        ) {
            Ok((_, reply)) if reply.ok() => latencies.push(t0.elapsed()),
            Ok((_, reply)) => {
                fresh_failed += 1;
                first_failure.get_or_insert_with(|| format!("status {}", reply.status));
            }
            Err(failure) => {
                fresh_failed += 1;
                first_failure.get_or_insert(failure.message);
            }
        }
    }
    latencies.sort_unstable();

    // Which idle connections survived all that?
    let still_open = idle.iter().filter(|s| matches!(held(s), Held::Open)).count();

    let rss_per_conn = during.filter(|_| still_open > 0).map(|d| {
        let grown = d.rss_kib as f64 - before.rss_kib as f64;
        format!("{:.2}", grown / still_open as f64)
    });
    let mut line = String::from("RESULT");
    let fields: [(&str, String); 21] = [
        ("server", quote(&label)),
        ("connections", args.connections.to_string()),
        ("served", served.to_string()),
        ("held", still_open.to_string()),
        ("closed_by_server", closed_by_server.to_string()),
        ("threads_before", before.threads.to_string()),
        ("threads", opt(during.map(|d| d.threads))),
        ("rss_before_kib", before.rss_kib.to_string()),
        ("rss_kib", opt(during.map(|d| d.rss_kib))),
        ("rss_per_conn_kib", opt(rss_per_conn.clone())),
        ("fresh", fresh_tried.to_string()),
        ("fresh_ok", latencies.len().to_string()),
        ("fresh_failed", fresh_failed.to_string()),
        ("fresh_p50_ms", ms(percentile(&latencies, 0.50))),
        ("fresh_p99_ms", ms(percentile(&latencies, 0.99))),
        ("fresh_max_ms", ms(latencies.last().copied())),
        ("open_s", format!("{:.2}", open_time.as_secs_f64())),
        ("fd_limit", fd_limit.to_string()),
        ("path", quote(&args.path)),
        ("fresh_error", quote(first_failure.as_deref().unwrap_or("none"))),
        ("limit", quote(limit.as_deref().unwrap_or("none"))),
    ];
    for (key, value) in &fields {
        let _ = write!(line, " {key}={value}");
    }

    // The human summary, then the machine-readable line last.
    println!("{label} at {}:", args.addr);
    println!(
        "  idle connections: {} requested, {served} served, {still_open} still open{}",
        args.connections,
        if closed_by_server > 0 {
            format!(" ({closed_by_server} closed by the server after their response)")
        } else {
            String::new()
        }
    );
    match &limit {
        Some(l) => println!("  limit hit: {l}"),
        None => println!("  limit hit: none"),
    }
    match during {
        Some(d) => println!(
            "  server: threads {} -> {}, RSS {} -> {} KiB ({} KiB per open connection)",
            before.threads,
            d.threads,
            before.rss_kib,
            d.rss_kib,
            rss_per_conn.as_deref().unwrap_or("-")
        ),
        None => println!("  server: could not be measured while the connections idled"),
    }
    println!(
        "  fresh requests: {} of {fresh_tried} answered within {:.1} s; p50 {} ms, p99 {} ms, max {} ms{}",
        latencies.len(),
        args.fresh_timeout.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied()),
        first_failure
            .map(|f| format!("; first failure: {f}"))
            .unwrap_or_default()
    );
    println!("{line}");
    Ok(())
}
