//! `nioserve`: serve a static web application directory.
//!
//! `cargo run --release` serves the bundled `webapp/` on http://127.0.0.1:8080/.
//! This file is the command line and nothing more: the engine, the static-file
//! handler and the `/_status` counters all live in the library.

mod experiment;
mod load_client;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{self, ExitCode};
use std::thread;
use std::time::Duration;

use clap::Parser;
use http::StatusCode;
use log::{error, info, log_enabled, warn, Level};
use nioserve::{AccessLog, CachePolicy, Handler, Model, Request, Response, Server, StaticFiles, Status};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

/// Serve a static web application directory with nioserve: one poller thread
/// holds every idle keep-alive connection, a small worker pool runs requests.
///
/// Logging: RUST_LOG=info (default) writes one access-log line per request (where
/// --access-log says; RUST_LOG=warn turns it off); RUST_LOG=debug traces each
/// connection's life.
#[derive(Debug, Parser)]
#[command(name = "nioserve", version)]
struct Args {
    /// The directory to serve.
    #[arg(default_value = "webapp")]
    dir: PathBuf,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// How connections are tied to threads: `nio` (one poller holds every idle
    /// connection) or `blocking` (thread per connection, for comparison).
    #[arg(long, value_enum, default_value_t = ModelArg::Nio)]
    model: ModelArg,

    /// Worker threads [default: the number of CPUs]. With `--model blocking`,
    /// the number of connections served at once.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,

    /// Seconds an idle keep-alive connection is kept between requests.
    #[arg(long, default_value = "5", value_parser = seconds)]
    keep_alive_timeout: Duration,

    /// Requests served on one connection before it is closed.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_keep_alive_requests: u32,

    /// Open connections at most; beyond it new clients wait in the listen backlog.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,

    /// Seconds a client may take to send a request's head, from its first byte (408
    /// after); a body has its own limit, 60 s without a byte.
    #[arg(long, default_value = "10", value_parser = seconds)]
    request_timeout: Duration,

    /// Seconds a response may wait for the client to take more bytes.
    #[arg(long, default_value = "30", value_parser = seconds)]
    send_timeout: Duration,

    /// Length of the kernel's listen backlog.
    #[arg(long, default_value_t = 1024)]
    backlog: u32,

    /// Bytes in a request head (431 beyond).
    #[arg(long, default_value_t = 16 * 1024)]
    max_header_bytes: usize,

    /// Bytes in a request target (414 beyond).
    #[arg(long, default_value_t = 8 * 1024)]
    max_uri_bytes: usize,

    /// Bytes in a request body (413 beyond).
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body_bytes: usize,

    /// Seconds shutdown waits for requests in flight.
    #[arg(long, default_value = "10", value_parser = seconds)]
    shutdown_grace: Duration,

    /// Seconds a complete request may wait for a worker before the server answers
    /// `503 Service Unavailable` itself [default: no limit; 0 is no limit too].
    #[arg(long, value_parser = seconds)]
    queue_timeout: Option<Duration>,

    /// Also answer `POST /echo` with the request body (for load and fault tests).
    #[arg(long)]
    echo: bool,

    /// Files up to this many bytes are read once and served from memory (one `writev`
    /// of head and body); larger ones are sent from the cached descriptor with
    /// `sendfile`. 0 sends every file with `sendfile`.
    #[arg(long, default_value_t = 64 * 1024)]
    in_memory_up_to: u64,

    /// Serve dot-files (`.env`, `.git/`, any path component starting with `.`);
    /// by default they are 404, except a leading `/.well-known/`.
    #[arg(long)]
    hidden: bool,

    /// Where the access log goes: FILE (appended to, created if missing), `-` for
    /// standard error, or `off`. Lines are written in batches by a thread of their own,
    /// at least every 0.1 s, and all of them before the server exits. `log` sends them
    /// through the logger instead, among the other logs (one write per line: slower).
    /// SIGUSR1 opens FILE again (after a log rotation renamed it), as nginx does.
    #[arg(long, value_name = "FILE", default_value = "-")]
    access_log: PathBuf,

    /// List a directory that has no index.html (names, sizes, dates) instead of 403.
    #[arg(long)]
    list_directories: bool,

    /// Serve the file PATH under DIR as the body of STATUS errors (repeatable), e.g.
    /// `403=errors/403.html`. DIR/404.html, if present, is the 404 page by default.
    #[arg(long, value_name = "STATUS=PATH", value_parser = error_page)]
    error_page: Vec<(StatusCode, String)>,

    /// Single-page app: answer an unknown path whose last segment has no extension
    /// (`/app/settings`, not `/logo.png`) with DIR/index.html, 200, `no-cache`.
    #[arg(long)]
    spa: bool,

    /// A Cache-Control rule PATTERN=DIRECTIVES (repeatable), tried in order before the
    /// defaults `hashed=public, max-age=31536000, immutable`, `text/html=no-cache`,
    /// `*=no-cache`. PATTERN: `hashed`, a type (`image/*`), a path glob (`/assets/**`)
    /// or a name glob (`*.js`); DIRECTIVES `none` sends no header (`*=none` turns the
    /// defaults off).
    #[arg(long, value_name = "PATTERN=DIRECTIVES", value_parser = cache_rule)]
    cache_control: Vec<String>,

    /// Do not compress text files held in memory (gzip, brotli) for clients that
    /// accept it; precompressed `.br`/`.zst`/`.gz` siblings are still served.
    #[arg(long)]
    no_compress: bool,

    /// Do not serve precompressed siblings (`app.js.br`, `.zst`, `.gz`) in place
    /// of a file.
    #[arg(long)]
    no_precompressed: bool,

    /// Also run the live experiment shown on the page: a thread-per-connection server
    /// (`--model blocking --workers 200`) and a load client, as child processes on
    /// loopback, holding as many idle keep-alive connections against each server as the
    /// page asks for (see docs/configuration.md).
    #[arg(long)]
    experiment: bool,

    /// Internal to --experiment: run as its load client, commanded on stdin.
    #[arg(long, hide = true)]
    load_client: bool,

    /// Internal to --experiment: exit when the parent process does.
    #[arg(long, hide = true)]
    exit_with_parent: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ModelArg {
    Nio,
    Blocking,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is not a usable number of seconds"))
}

/// `STATUS=PATH`: a 4xx or 5xx status and a file under the served directory.
fn error_page(text: &str) -> Result<(StatusCode, String), String> {
    let usage = || format!("{text:?} is not STATUS=PATH, e.g. 404=errors/404.html");
    let (status, path) = text.split_once('=').ok_or_else(usage)?;
    let status = status
        .parse::<StatusCode>()
        .ok()
        .filter(|status| status.is_client_error() || status.is_server_error())
        .ok_or_else(|| format!("{status:?} is not a 4xx or 5xx status"))?;
    // What StaticFiles::error_page refuses, said here rather than as a panic.
    let names_a_file = !path.ends_with('/') && path.split('/').any(|segment| !segment.is_empty());
    let stays_visible = path
        .split('/')
        .all(|segment| segment == "." || !segment.starts_with('.'));
    if !names_a_file || !stays_visible || path.contains(['\\', '\0']) {
        return Err(format!(
            "{path:?} is not a file under the served directory (no `..`, no dot-files)"
        ));
    }
    Ok((status, path.to_owned()))
}

/// A `--cache-control` rule, checked now so that a typo stops the start.
fn cache_rule(text: &str) -> Result<String, String> {
    CachePolicy::new().parse_rule(text).map_err(|e| e.to_string())?;
    Ok(text.to_owned())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print them as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, not clap's usage block: `nioserve: unexpected argument '--bogus' found (see --help)`.
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("nioserve: {} (see --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let log_filter = if args.experiment {
        experiment::LOG_FILTER
    } else {
        "info"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(log_filter)).init();
    if args.load_client {
        return load_client::main();
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("nioserve: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    if args.exit_with_parent {
        experiment::exit_with_parent(true);
    }
    // Before StaticFiles::new, which sizes its descriptor budget from the limit.
    raise_open_files_limit();
    let mut policy = CachePolicy::new();
    for rule in &args.cache_control {
        policy = policy.parse_rule(rule).map_err(|e| e.to_string())?;
    }
    let mut files = StaticFiles::new(&args.dir)
        .map_err(|e| e.to_string())?
        .serve_hidden(args.hidden)
        .in_memory_up_to(args.in_memory_up_to)
        .list_directories(args.list_directories)
        .compress(!args.no_compress)
        .precompressed(!args.no_precompressed)
        .cache_control(policy.append(CachePolicy::recommended()));
    for (status, page) in &args.error_page {
        files = files.error_page(*status, page);
    }
    if args.spa {
        files = files.spa_fallback("index.html");
    }
    let model = match args.model {
        ModelArg::Nio => Model::Nio,
        ModelArg::Blocking => Model::Blocking,
    };
    let mut builder = Server::builder()
        .model(model)
        .keep_alive_timeout(args.keep_alive_timeout)
        .max_keep_alive_requests(args.max_keep_alive_requests)
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX))
        .request_timeout(args.request_timeout)
        .send_timeout(args.send_timeout)
        .backlog(args.backlog)
        .max_header_bytes(args.max_header_bytes)
        .max_uri_bytes(args.max_uri_bytes)
        .max_body_bytes(args.max_body_bytes)
        .shutdown_grace(args.shutdown_grace);
    if let Some(workers) = args.workers {
        builder = builder.workers(usize::from(workers));
    }
    if let Some(timeout) = args.queue_timeout {
        builder = builder.queue_timeout(timeout);
    }
    let log = access_log(&args.access_log)?;
    builder = builder.access_log(log.clone());
    let server = builder
        .bind(args.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    // Register for signals before serving, so an early Ctrl-C is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1]).map_err(|e| format!("cannot handle signals: {e}"))?;

    let (panel, children) = if args.experiment {
        let options = experiment::Options {
            dir: args.dir.clone(),
            keep_alive_timeout: args.keep_alive_timeout,
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        };
        let (panel, children) = experiment::start(&options, server.local_addr())?;
        (Some(panel), Some(std::sync::Arc::new(children)))
    } else {
        (None, None)
    };

    let status = Status::new(server.counters());
    let echo = args.echo;
    let workers = server.counters().snapshot().workers;
    let handle = server
        .spawn(move |req: Request| match req.uri().path() {
            "/_status" => status.call(req),
            "/echo" if echo && req.method() == http::Method::POST => Response::new(req.into_body().into()),
            "/_experiment" if panel.is_some() => panel.as_ref().map_or_else(Response::default, |p| p.call(req)),
            _ => files.call(req),
        })
        .map_err(|e| format!("cannot start: {e}"))?;
    println!(
        "nioserve: serving {} on http://{}/ with {workers} workers, {model:?} model (Ctrl-C to stop)",
        args.dir.display(),
        handle.local_addr()
    );

    let listening = signals.handle();
    if let Some(signal) = next_stop(&mut signals, &log, &args.access_log) {
        info!("signal {signal}: shutting down (a second signal stops at once)");
    }
    let counters = handle.counters();
    // The graceful shutdown runs on a thread of its own, so that this one still hears a
    // second signal: an operator who does not want to wait for the grace period (as
    // nginx's fast shutdown).
    let stopping = children.clone();
    let stopper = thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || {
            // The experiment's children go first: their idle connections then close, and
            // none of them outlives the demo.
            if let Some(children) = stopping {
                children.stop();
            }
            let report = handle.shutdown();
            listening.close();
            report
        })
        .map_err(|e| format!("cannot shut down: {e}"))?;
    if let Some(signal) = next_stop(&mut signals, &log, &args.access_log) {
        error!("signal {signal} again: stopping at once, cutting off whatever is in flight");
        if let Some(children) = &children {
            children.kill();
        }
        // 128 + the signal's number, as a shell reports a process a signal ended.
        process::exit(128 + signal);
    }
    let report = stopper.join().map_err(|_| "the shutdown thread panicked".to_string())?;
    let stats = counters.snapshot();
    info!(
        "stopped after {:.1}s: {} requests on {} connections ({} timed out)",
        stats.uptime.as_secs_f64(),
        stats.requests,
        stats.accepted,
        stats.timed_out
    );
    if report.cut_off() > 0 {
        error!("{report}");
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM, reopening the access log at `path` on each SIGUSR1
/// meanwhile; `None` once the signals are closed.
fn next_stop(signals: &mut Signals, log: &AccessLog, path: &Path) -> Option<i32> {
    signals.forever().find(|&signal| {
        if signal != SIGUSR1 {
            return true;
        }
        match log.reopen() {
            Ok(()) => info!("signal {signal}: access log reopened"),
            Err(e) => warn!(
                "signal {signal}: cannot reopen the access log {}: {e}; it goes on in the file it had",
                path.display()
            ),
        }
        false
    })
}

/// The access log `--access-log` asks for, if `RUST_LOG` lets the target
/// `nioserve::access` log at `info` (the default level does; `RUST_LOG=warn` does not).
fn access_log(to: &Path) -> Result<AccessLog, String> {
    let log = match to.to_str() {
        Some("off") => AccessLog::off(),
        Some("-") => AccessLog::stderr(),
        Some("log") => AccessLog::log_crate(),
        _ => AccessLog::file(to).map_err(|e| format!("cannot open the access log {}: {e}", to.display()))?,
    };
    Ok(if log_enabled!(target: "nioserve::access", Level::Info) {
        log
    } else {
        AccessLog::off()
    })
}

/// Raises the soft limit on open files to the hard limit, as nginx's
/// `worker_rlimit_nofile` and Go's runtime do: every connection and every large
/// file being sent takes a descriptor, and the usual soft limit (1,024) is far below
/// the default `--max-connections`. Logs the figure it runs with.
#[cfg(unix)]
fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};

    let show = |limit: Option<u64>| limit.map_or_else(|| String::from("unlimited"), |n| n.to_string());
    let mut limit = getrlimit(Resource::Nofile);
    let soft = limit.current;
    if soft == limit.maximum {
        info!("open files limit: {}", show(soft));
        return;
    }
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => info!("open files limit: {} (raised from {})", show(limit.maximum), show(soft)),
        // macOS refuses an unlimited soft limit; the one there is still works.
        Err(e) => warn!(
            "open files limit: {} (could not raise it to {}: {e})",
            show(soft),
            show(limit.maximum)
        ),
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit() {}
