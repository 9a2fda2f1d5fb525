//! `nioserve --experiment`: the question the project exists to answer — won't persistent
//! connections pile up idle threads? — asked live, in the page.
//!
//! The demo itself is the NIO server. Beside it, on free loopback ports, it starts two
//! child processes of its own binary:
//!
//! - the same web app under `--model blocking --workers 200` (Tomcat BIO's old
//!   `maxThreads` default), and
//! - a load client (`--load-client`, see `load_client.rs`) that holds as many idle
//!   keep-alive connections against each server as the page asks for.
//!
//! The page talks only to the demo: `GET /_experiment` answers both servers' figures as
//! JSON, `POST /_experiment?idle=N` sets how many idle connections to hold. The demo
//! talks to its children over loopback and pipes: once a second a sampler thread asks
//! each server's `/_status` (on a keep-alive connection of its own, opened before any
//! load, so the blocking server's answer never waits for a free thread) and times a
//! fresh request to each (a new connection, [`PROBE_TIMEOUT`] to answer, or "no
//! answer"); a reader thread takes the load client's counts from its stdout.
//!
//! No child outlives the demo. SIGINT or SIGTERM: [`Children::stop`] closes their stdin
//! (each exits on end of input), waits [`STOP_GRACE`], kills what is left and reaps
//! them all; a second signal kills and reaps them at once ([`Children::kill`]). SIGKILL
//! of the demo: on Linux the kernel sends each child SIGKILL
//! (`PR_SET_PDEATHSIG`, set by [`exit_with_parent`]); elsewhere each child sees its
//! stdin end when the demo's end of the pipe closes, and exits.
//!
//! Bounds, so that the experiment cannot exhaust the machine: at most
//! [`MAX_PER_SERVER`](crate::load_client::MAX_PER_SERVER) idle connections per server, fewer if the load
//! client's descriptor limit (raised to its hard limit) cannot hold both sets, and
//! [`RESERVE_CONNECTIONS`] fewer than the demo's `--max-connections`, so the page can
//! still reach it; the blocking server has [`BLOCKING_WORKERS`] threads and no more
//! (the rest of its clients wait in its listen backlog, then in their SYN retries);
//! everything listens and connects on 127.0.0.1 only.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN};
use http::{Method, StatusCode};
use log::{info, warn};
use nioserve::{Handler, Request, Response};

/// The blocking server's threads: Tomcat's BIO connector's old `maxThreads` default.
pub const BLOCKING_WORKERS: u16 = 200;

/// How long a fresh request may take to be answered before it counts as "no answer".
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often both servers are sampled.
const PERIOD: Duration = Duration::from_secs(1);

/// How long the children get to exit on their own when the demo stops.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How long a child may take to start (print its first line).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections below the demo's `--max-connections` that the idle ones never take: the
/// page, the sampler's two connections and its probes need some.
pub const RESERVE_CONNECTIONS: usize = 100;

/// The environment variable that tells a child its parent's process id, so that it can
/// tell whether the parent died before it could ask to die with it.
const PARENT_PID_ENV: &str = "NIOSERVE_EXPERIMENT_PARENT";

/// The log filter of an experiment: the access log is off unless `RUST_LOG` asks for it,
/// since every idle connection's request would write a line (thousands at once).
pub const LOG_FILTER: &str = "info,nioserve::access=warn";

/// What the experiment takes from the demo's own command line.
#[derive(Debug)]
pub struct Options {
    /// The directory both servers serve.
    pub dir: PathBuf,
    /// The demo's keep-alive timeout; the blocking server gets the same.
    pub keep_alive_timeout: Duration,
    /// The demo's `--max-connections`.
    pub max_connections: usize,
}

/// Starts the blocking server and the load client, then the sampler, against the demo
/// listening on `nio`. Returns the `/_experiment` handler and the children.
///
/// # Errors
///
/// A child that cannot be started, or does not say it is ready within
/// [`START_TIMEOUT`]; the children started so far are stopped.
pub fn start(options: &Options, nio: SocketAddr) -> Result<(Panel, Children), String> {
    let exe = std::env::current_exe().map_err(|e| format!("experiment: cannot find this program: {e}"))?;
    let children = Children::default();

    let mut blocking = Command::new(&exe);
    blocking
        .arg(&options.dir)
        .args(["--addr", "127.0.0.1:0", "--model", "blocking"])
        .args(["--workers", &BLOCKING_WORKERS.to_string()])
        .args([
            "--keep-alive-timeout",
            &options.keep_alive_timeout.as_secs_f64().to_string(),
        ])
        // The sampler's keep-alive connection must never be closed for having asked too
        // often: a new one would wait behind the idle ones. Idle connections ask once.
        .args(["--max-keep-alive-requests", &u32::MAX.to_string()])
        .arg("--exit-with-parent")
        // Its access log would list every idle connection's request.
        .env("RUST_LOG", "warn");
    let (blocking_pid, banner, stdout) = children.spawn("blocking server", blocking)?;
    children.keep(stdout);
    let blocking_addr = banner
        .split_once(" on http://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .and_then(|(addr, _)| addr.parse::<SocketAddr>().ok())
        .ok_or_else(|| format!("experiment: the blocking server said {banner:?}"))?;

    let mut client = Command::new(&exe);
    client.arg("--load-client");
    let (client_pid, first, counts) = children.spawn("load client", client)?;
    let client_limit: usize = first
        .strip_prefix("limit ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("experiment: the load client said {first:?}"))?;
    let limit = client_limit.min(options.max_connections.saturating_sub(RESERVE_CONNECTIONS));
    let commands = children.command_pipe();
    send(&mut lock(&commands), &format!("servers {nio} {blocking_addr}"))
        .map_err(|e| format!("experiment: cannot command the load client: {e}"))?;

    let shared = Arc::new(Mutex::new(Shared {
        target: 0,
        limit,
        seq: 0,
        client_pid,
        models: [
            Model::new(std::process::id(), nio),
            Model::new(blocking_pid, blocking_addr),
        ],
    }));
    let reader_shared = Arc::clone(&shared);
    thread::Builder::new()
        .name("nioserve-exp-client".into())
        .spawn(move || read_counts(counts, &reader_shared))
        .map_err(|e| format!("experiment: cannot start a thread: {e}"))?;
    // Both monitors connect now, before any idle connection exists: the blocking server
    // then has a thread for the sampler for as long as the experiment runs.
    let mut monitors = [Monitor::connect(nio), Monitor::connect(blocking_addr)];
    let (stop, stopped) = crossbeam_channel::bounded(0);
    let sampler_shared = Arc::clone(&shared);
    thread::Builder::new()
        .name("nioserve-experiment".into())
        .spawn(move || sample(&mut monitors, &sampler_shared, &stopped))
        .map_err(|e| format!("experiment: cannot start a thread: {e}"))?;
    *lock(&children.sampler) = Some(stop);

    info!(
        "experiment: blocking server (pid {blocking_pid}, {BLOCKING_WORKERS} threads) on http://{blocking_addr}/, \
         load client (pid {client_pid}) holding up to {limit} idle connections against each server"
    );
    Ok((Panel { shared, commands }, children))
}

/// The child processes of an experiment; stopped and reaped when dropped.
#[derive(Debug, Default)]
pub struct Children {
    /// Every child started, in order: the blocking server, then the load client.
    procs: Mutex<Vec<(&'static str, Child)>>,
    /// The load client's stdin, shared with the [`Panel`]; closing it ends the client.
    commands: Arc<Mutex<Option<ChildStdin>>>,
    /// The blocking server's stdout, kept open (it writes nothing after its banner).
    kept: Mutex<Vec<BufReader<ChildStdout>>>,
    /// Dropped to stop the sampler.
    sampler: Mutex<Option<Sender<()>>>,
}

impl Children {
    /// Starts `command` as a child tied to this process (its own process group, so a
    /// Ctrl-C reaches only the demo, which then stops it) and returns its pid, its first
    /// line on stdout and the rest of its stdout. Its stdin stays with it, open.
    fn spawn(&self, what: &'static str, mut command: Command) -> Result<(u32, String, BufReader<ChildStdout>), String> {
        command
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // On Linux the child asks for SIGKILL when the thread that spawned it ends: this
        // is the demo's main thread, which lives as long as the process.
        let mut child = command
            .spawn()
            .map_err(|e| format!("experiment: cannot start the {what}: {e}"))?;
        let pid = child.id();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        lock(&self.procs).push((what, child));
        let (line, stdout) = first_line(stdout, START_TIMEOUT)
            .map_err(|e| format!("experiment: the {what} (pid {pid}) did not start: {e}"))?;
        Ok((pid, line, stdout))
    }

    /// Keeps a child's stdout open (a child writing to a closed pipe would fail).
    fn keep(&self, stdout: BufReader<ChildStdout>) {
        lock(&self.kept).push(stdout);
    }

    /// Takes the stdin of the child started last, to command it: the [`Panel`] writes
    /// to it, [`Children::stop`] closes it.
    fn command_pipe(&self) -> Arc<Mutex<Option<ChildStdin>>> {
        let stdin = lock(&self.procs).last_mut().and_then(|(_, child)| child.stdin.take());
        *lock(&self.commands) = stdin;
        Arc::clone(&self.commands)
    }

    /// Stops the children: closes their stdin (each exits at the end of its input),
    /// waits up to [`STOP_GRACE`] for them, kills what is left and reaps every one.
    pub fn stop(&self) {
        drop(lock(&self.sampler).take());
        drop(lock(&self.commands).take());
        for (_, child) in lock(&self.procs).iter_mut() {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            // The lock is not held across the sleep: a second signal's kill takes it.
            let running = lock(&self.procs)
                .iter_mut()
                .filter_map(|(_, child)| child.try_wait().ok())
                .filter(Option::is_none)
                .count();
            if running == 0 || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }

    /// Kills every child that is still running and reaps them all, at once.
    pub fn kill(&self) {
        for (what, child) in lock(&self.procs).iter_mut() {
            // A child already reaped is not signalled again (its pid may be reused).
            if matches!(child.try_wait(), Ok(None)) {
                warn!("experiment: killing the {what} (pid {})", child.id());
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a child's first line on a short-lived thread, so that a child that never
/// writes one cannot hang the demo's start-up.
fn first_line(
    mut stdout: BufReader<ChildStdout>,
    timeout: Duration,
) -> Result<(String, BufReader<ChildStdout>), String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    thread::Builder::new()
        .name("nioserve-exp-start".into())
        .spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let _ = tx.send((read, line, stdout));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok((Ok(n), line, stdout)) if n > 0 => Ok((line.trim_end().to_string(), stdout)),
        Ok((Ok(_), ..)) => Err("it exited (see its error above)".into()),
        Ok((Err(e), ..)) => Err(e.to_string()),
        Err(_) => Err(format!("nothing on its stdout within {timeout:?}")),
    }
}

/// Writes one command line to the load client.
fn send(commands: &mut Option<ChildStdin>, line: &str) -> io::Result<()> {
    let pipe = commands
        .as_mut()
        .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the load client is stopped"))?;
    pipe.write_all(format!("{line}\n").as_bytes())?;
    pipe.flush()
}

/// Run in a child of the experiment (`--exit-with-parent`, and the load client): exit
/// when the demo does, however it ends.
///
/// On Linux, asks the kernel for SIGKILL when the parent dies (`PR_SET_PDEATHSIG`),
/// then checks that the parent is still the one that started it: if it died before the
/// request was made, this process was re-parented already and no signal would come. With
/// `watch_stdin`, a thread also waits for the end of stdin, a pipe from the parent whose
/// other end closes when the parent stops the child or dies: the portable backup, and
/// the way [`Children::stop`] asks the blocking server to go.
pub fn exit_with_parent(watch_stdin: bool) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getppid, set_parent_process_death_signal, Pid, Signal};

        if let Err(e) = set_parent_process_death_signal(Some(Signal::KILL)) {
            warn!("cannot ask to die with the parent process: {e}");
        }
        let expected = std::env::var(PARENT_PID_ENV)
            .ok()
            .and_then(|pid| pid.parse::<i32>().ok());
        if let Some(expected) = expected {
            if getppid().map(Pid::as_raw_nonzero).map(i32::from) != Some(expected) {
                eprintln!("nioserve: the experiment's demo (pid {expected}) is gone; exiting");
                std::process::exit(1);
            }
        }
    }
    if watch_stdin {
        let watcher = thread::Builder::new().name("nioserve-parent-watch".into()).spawn(|| {
            let mut sink = [0u8; 64];
            let mut stdin = io::stdin().lock();
            loop {
                match stdin.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            info!("stdin closed: the experiment is over, exiting");
            std::process::exit(0);
        });
        if let Err(e) = watcher {
            warn!("cannot watch stdin for the parent's exit: {e}");
        }
    }
}

/// What the page is shown, shared by the handler, the sampler and the count reader.
#[derive(Debug)]
struct Shared {
    /// Idle connections asked for per server (already clamped to `limit`).
    target: usize,
    /// The most that may be asked for.
    limit: usize,
    /// Bumped by every sample, so the page adds each one to its chart once.
    seq: u64,
    client_pid: u32,
    /// The NIO server (the demo), then the blocking one.
    models: [Model; 2],
}

#[derive(Debug)]
struct Model {
    pid: u32,
    addr: SocketAddr,
    /// The load client's connections to it: `OPEN/ANSWERED/CONNECTING`.
    held: [usize; 3],
    /// Its last `/_status` JSON (`None`: it did not answer the sampler).
    status: Option<String>,
    /// How long the last fresh request took (`None`: no answer within the timeout).
    latency: Option<Duration>,
}

impl Model {
    fn new(pid: u32, addr: SocketAddr) -> Model {
        Model {
            pid,
            addr,
            held: [0; 3],
            status: None,
            latency: None,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is one assignment or push: a panic elsewhere
    // leaves them consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the load client's `held …` lines into `shared` until its stdout ends.
fn read_counts(stdout: BufReader<ChildStdout>, shared: &Mutex<Shared>) {
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        if words.next() != Some("held") {
            continue;
        }
        let mut shared = lock(shared);
        for (model, word) in shared.models.iter_mut().zip(words) {
            let mut numbers = word.split('/').map(|n| n.parse().unwrap_or(0));
            model.held = [(); 3].map(|()| numbers.next().unwrap_or(0));
        }
    }
}

/// The sampler: once a [`PERIOD`], each server's `/_status` and one fresh request's
/// latency, until `stopped` disconnects.
fn sample(monitors: &mut [Monitor; 2], shared: &Mutex<Shared>, stopped: &Receiver<()>) {
    loop {
        let started = Instant::now();
        let figures = monitors
            .each_mut()
            .map(|monitor| (monitor.status(), probe(monitor.addr)));
        {
            let mut shared = lock(shared);
            for (model, (status, latency)) in shared.models.iter_mut().zip(figures) {
                model.status = status;
                model.latency = latency;
            }
            shared.seq += 1;
        }
        match stopped.recv_timeout(PERIOD.saturating_sub(started.elapsed())) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

/// Times a fresh request on a new connection: until the status line arrives, or `None`
/// if it does not within [`PROBE_TIMEOUT`] (the blocking server has no free thread: the
/// connection waits in its listen backlog).
fn probe(addr: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let deadline = started + PROBE_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream
        .write_all(b"HEAD / HTTP/1.1\r\nHost: experiment\r\nUser-Agent: nioserve-probe\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    head.starts_with(b"HTTP/1.1 ").then(|| started.elapsed())
}

/// The sampler's own keep-alive connection to one server's `/_status`.
struct Monitor {
    addr: SocketAddr,
    stream: Option<TcpStream>,
}

impl Monitor {
    fn connect(addr: SocketAddr) -> Monitor {
        let mut monitor = Monitor { addr, stream: None };
        monitor.reconnect();
        monitor
    }

    fn reconnect(&mut self) {
        self.stream = TcpStream::connect_timeout(&self.addr, PROBE_TIMEOUT)
            .ok()
            .filter(|stream| {
                stream.set_read_timeout(Some(PROBE_TIMEOUT)).is_ok()
                    && stream.set_write_timeout(Some(PROBE_TIMEOUT)).is_ok()
            });
    }

    /// The server's `/_status` JSON, or `None` if it did not answer in time (the
    /// connection is then dropped and opened again next time).
    fn status(&mut self) -> Option<String> {
        if self.stream.is_none() {
            self.reconnect();
        }
        let answer = self.stream.as_mut().and_then(|stream| fetch_status(stream).ok());
        match answer {
            Some((json, keep)) => {
                if !keep {
                    self.stream = None;
                }
                Some(json)
            }
            None => {
                self.stream = None;
                None
            }
        }
    }
}

/// One `GET /_status` on a kept-alive connection: the body, and whether the connection
/// stays open. Every nioserve response to it has a `Content-Length`.
fn fetch_status(stream: &mut TcpStream) -> io::Result<(String, bool)> {
    stream.write_all(b"GET /_status HTTP/1.1\r\nHost: experiment\r\nUser-Agent: nioserve-sampler\r\n\r\n")?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let head_len = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if data.len() > 16 * 1024 {
            return Err(bad("head too long"));
        }
        match stream.read(&mut buf)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = std::str::from_utf8(&data[..head_len]).map_err(|_| bad("head not UTF-8"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(bad("not 200"));
    }
    let mut len = None;
    let mut keep = true;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            keep &= !value.split(',').any(|token| token.trim().eq_ignore_ascii_case("close"));
        }
    }
    let len = len
        .filter(|&len| len <= 64 * 1024)
        .ok_or_else(|| bad("no usable Content-Length"))?;
    while data.len() < head_len + len {
        match stream.read(&mut buf)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => data.extend_from_slice(&buf[..n]),
        }
    }
    let json = String::from_utf8(data[head_len..head_len + len].to_vec()).map_err(|_| bad("body not UTF-8"))?;
    if !(json.starts_with('{') && json.ends_with('}')) {
        return Err(bad("not a JSON object"));
    }
    Ok((json, keep))
}

/// The `/_experiment` handler: `GET` (or `HEAD`) both servers' figures as JSON;
/// `POST /_experiment?idle=N` sets the idle connections to hold against each.
#[derive(Clone, Debug)]
pub struct Panel {
    shared: Arc<Mutex<Shared>>,
    commands: Arc<Mutex<Option<ChildStdin>>>,
}

impl Handler for Panel {
    fn call(&self, request: Request) -> Response {
        let mut response = match *request.method() {
            Method::GET | Method::HEAD => self.json(),
            Method::POST => self.set(&request),
            _ => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "the experiment takes GET and POST\n");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
                response
            }
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl Panel {
    /// `POST /_experiment?idle=N`. A POST from another site's page (an `Origin` that is
    /// not this server) is refused: a browser sends such a form without asking first
    /// (no CORS preflight for a simple request).
    fn set(&self, request: &Request) -> Response {
        if !same_origin(request) {
            return text(
                StatusCode::FORBIDDEN,
                "the experiment takes orders from its own page only\n",
            );
        }
        let Some(asked) = request.uri().query().and_then(idle_param) else {
            return text(
                StatusCode::BAD_REQUEST,
                "expected POST /_experiment?idle=N, N a whole number of connections\n",
            );
        };
        // One POST at a time from setting the target to telling the client: two
        // interleaved would leave the page showing one target and the client holding
        // the other's.
        let mut commands = lock(&self.commands);
        let target = {
            let mut shared = lock(&self.shared);
            shared.target = usize::try_from(asked).unwrap_or(usize::MAX).min(shared.limit);
            shared.target
        };
        if let Err(e) = send(&mut commands, &format!("idle {target}")) {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the load client is not running: {e}\n"),
            );
        }
        info!("experiment: holding {target} idle connections against each server");
        self.json()
    }

    fn json(&self) -> Response {
        let shared = lock(&self.shared);
        let mut json = String::with_capacity(2048);
        let _ = write!(
            json,
            "{{\"target\":{},\"limit\":{},\"seq\":{},\"client_pid\":{},\"blocking_workers\":{},\"probe_timeout_ms\":{}",
            shared.target,
            shared.limit,
            shared.seq,
            shared.client_pid,
            BLOCKING_WORKERS,
            PROBE_TIMEOUT.as_millis()
        );
        for (name, model) in ["nio", "blocking"].into_iter().zip(&shared.models) {
            let [open, answered, connecting] = model.held;
            let _ = write!(
                json,
                ",\"{name}\":{{\"pid\":{},\"addr\":\"{}\",\"held\":{open},\"answered\":{answered},\"connecting\":{connecting},\"latency_ms\":",
                model.pid, model.addr
            );
            match model.latency {
                Some(latency) => {
                    let _ = write!(json, "{:.3}", latency.as_secs_f64() * 1000.0);
                }
                None => json.push_str("null"),
            }
            json.push_str(",\"status\":");
            json.push_str(model.status.as_deref().unwrap_or("null"));
            json.push('}');
        }
        json.push('}');
        let mut response = Response::new(json.into());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// The `idle` parameter of a query: digits only; more than any limit saturates (it is
/// clamped anyway). `None` if it is missing, empty, signed or not a number.
fn idle_param(query: &str) -> Option<u64> {
    let value = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "idle")?
        .1;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

/// Whether a request comes from this server's own page: no `Origin` (not a browser's
/// cross-site request), or an `Origin` naming the `Host` the request was sent to, when
/// that host is an IP address or `localhost`. A page served under a DNS name is
/// refused: a name can be made to point at 127.0.0.1 after its page has loaded (DNS
/// rebinding), and that page would then be "same-origin" with the demo.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(ORIGIN) else {
        return true;
    };
    let host = request.headers().get(HOST).and_then(|host| host.to_str().ok());
    match (origin.to_str().ok().and_then(|o| o.strip_prefix("http://")), host) {
        (Some(origin), Some(host)) => origin.eq_ignore_ascii_case(host) && names_no_dns(host),
        _ => false,
    }
}

/// Whether `host` (a `Host` header: name or address, maybe a port) is an IP address or
/// `localhost`, names no DNS can give another address.
fn names_no_dns(host: &str) -> bool {
    if host.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.parse::<std::net::IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost")
}

fn text(status: StatusCode, body: &str) -> Response {
    let mut response = Response::new(body.to_string().into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_takes_digits_only_and_saturates() {
        for (query, wanted) in [
            ("idle=1000", Some(1000)),
            ("x=1&idle=0", Some(0)),
            ("idle=99999999999999999999999", Some(u64::MAX)),
            ("idle=", None),
            ("idle=-1", None),
            ("idle=+5", None),
            ("idle=1e3", None),
            ("idle=10%30", None),
            ("idle", None),
            ("Idle=5", None),
            ("", None),
        ] {
            assert_eq!(idle_param(query), wanted, "{query:?}");
        }
    }

    #[test]
    fn only_this_server_s_own_page_may_set_the_target() {
        let post = |origin: Option<&str>, host: &str| {
            let mut builder = http::Request::post("/_experiment?idle=5").header(HOST, host);
            if let Some(origin) = origin {
                builder = builder.header(ORIGIN, origin);
            }
            same_origin(&builder.body(Default::default()).unwrap())
        };
        assert!(post(None, "127.0.0.1:8080"), "curl sends no Origin");
        assert!(post(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"));
        assert!(!post(Some("http://evil.example"), "127.0.0.1:8080"));
        assert!(!post(Some("http://127.0.0.1:8081"), "127.0.0.1:8080"));
        assert!(!post(Some("null"), "127.0.0.1:8080"), "a sandboxed or file: page");
        assert!(post(Some("http://localhost:8080"), "localhost:8080"));
        assert!(post(Some("http://[::1]:8080"), "[::1]:8080"));
        assert!(
            post(Some("http://192.168.1.5:8080"), "192.168.1.5:8080"),
            "--addr 0.0.0.0, from the LAN"
        );
        assert!(
            !post(Some("http://rebound.example:8080"), "rebound.example:8080"),
            "a DNS name rebound to 127.0.0.1"
        );
        assert!(!post(Some("http://localhost.evil.example"), "localhost.evil.example"));
    }
}
