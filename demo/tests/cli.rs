//! The demo binary as a user runs it: the banner, the bundled web app, `/_status`,
//! the exit codes, signals and logs.
//!
//! Each test starts `nioserve` on 127.0.0.1:0, learns the port from the banner on
//! stdout, and talks raw HTTP/1.1 over `std::net::TcpStream`. This package has no
//! HTTP parser among its dependencies, so the little client here parses by hand.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::{scratch_dir, wait_until, Client, PATIENCE};
use tempfile::TempDir;

/// The web app bundled with the repository.
fn webapp() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../webapp"))
}

/// How the child's logging is set up.
#[derive(Clone, Copy)]
enum Log {
    /// `RUST_LOG` removed from the environment: the binary's default, `info`.
    Default,
    /// `RUST_LOG` set to this.
    Level(&'static str),
}

/// A running `nioserve` process, killed when dropped, whatever the test did.
struct Demo {
    child: Child,
    stdout: Receiver<String>,
    /// Everything written to stderr so far, collected by a thread.
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Demo {
    /// Starts the binary with `args`; it has not necessarily bound its port yet.
    fn spawn(args: &[&str], log: Log) -> Demo {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nioserve"));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match log {
            Log::Default => command.env_remove("RUST_LOG"),
            Log::Level(level) => command.env("RUST_LOG", level),
        };
        let mut child = command.spawn().expect("start the nioserve binary");

        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().expect("piped stderr"));
        let sink = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            let mut line = String::new();
            while matches!(pipe.read_line(&mut line), Ok(n) if n > 0) {
                sink.lock().expect("stderr lock").push_str(&line);
                line.clear();
            }
        });
        Demo {
            child,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Starts the binary serving `dir` on 127.0.0.1:0 with `args`, and waits for
    /// its banner. Returns the process and the banner line.
    fn serve(dir: &Path, args: &[&str], log: Log) -> (Demo, String) {
        let dir = dir.to_str().expect("UTF-8 path");
        let mut all = vec![dir, "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let demo = Demo::spawn(&all, log);
        let banner = match demo.stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => panic!("no banner on stdout ({e}); stderr: {}", demo.stderr()),
        };
        assert!(
            banner.starts_with(&format!("nioserve: serving {dir} on http://127.0.0.1:")),
            "{banner}"
        );
        (demo, banner)
    }

    /// The address in the banner, `nioserve: serving DIR on http://ADDR/ …`.
    fn addr(banner: &str) -> SocketAddr {
        let after = banner.split_once(" on http://").expect("URL in banner").1;
        let addr = after.split_once('/').expect("slash after the address").0;
        addr.parse().expect("socket address in banner")
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    fn wait_for_stderr(&self, what: &str) {
        wait_until(&format!("stderr contains {what:?}"), || self.stderr().contains(what));
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Sends a signal with `kill(1)`, as a user or a service manager would.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Waits for the process to exit, then for stderr to be read to its end.
    /// Returns the exit status and everything written to stderr.
    fn wait_for_exit(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "nioserve did not exit; stderr so far: {}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(5));
        };
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("stderr reader");
        }
        (status, self.stderr())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of the child's stdout, read by a thread so that the test can wait on
/// them with a deadline.
fn lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lines of stderr that are error messages: clap's `error: …` and the
/// binary's own `nioserve: …`.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("error:") || line.starts_with("nioserve:"))
        .collect()
}

#[test]
fn serves_the_bundled_web_app() {
    let (_demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));

    let index = client.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    let on_disk = std::fs::read(webapp().join("index.html")).expect("webapp/index.html");
    assert_eq!(index.body, on_disk);

    let hello = client.get("/hello.txt");
    assert_eq!(hello.status, 200);
    let on_disk = std::fs::read(webapp().join("hello.txt")).expect("webapp/hello.txt");
    assert_eq!(hello.body, on_disk);
}

#[test]
fn status_reports_the_counters_as_json() {
    let (_demo, banner) = Demo::serve(&webapp(), &["--workers", "3"], Log::Default);
    assert!(banner.contains(" with 3 workers, Nio model "), "{banner}");
    let mut client = Client::connect(Demo::addr(&banner));
    assert_eq!(client.get("/hello.txt").status, 200);

    let status = client.get("/_status");
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    assert_eq!(status.header("cache-control"), Some("no-store"));
    let json = status.text();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    for key in [
        "connections_open",
        "connections_idle",
        "connections_busy",
        "workers_busy",
        "workers",
        "requests",
        "accepted",
        "closed",
        "timed_out",
        "uptime_secs",
    ] {
        assert!(json.contains(&format!("\"{key}\":")), "no {key} in {json}");
    }
    let number = |key: &str| -> f64 {
        let rest = json.split_once(&format!("\"{key}\":")).expect("key").1;
        let end = rest.find([',', '}']).expect("end of value");
        rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
    };
    assert_eq!(number("workers"), 3.0);
    assert!(number("accepted") >= 1.0, "{json}");
    assert!(number("requests") >= 1.0, "the /hello.txt before it: {json}");
    assert!(number("connections_open") >= 1.0, "this connection: {json}");
}

#[test]
fn echo_is_off_unless_asked_for() {
    let (_plain, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let refused = client.post("/echo", "ping");
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("allow"), Some("GET, HEAD"));
    assert_ne!(refused.body, b"ping");

    let (_echo, banner) = Demo::serve(&webapp(), &["--echo"], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let echoed = client.post("/echo", "ping, with a body");
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.text(), "ping, with a body");
    // Only POST is echoed; a GET of /echo is a file lookup.
    assert_eq!(client.get("/echo").status, 404);
}

#[test]
fn bad_invocations_exit_2_with_one_error_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port to occupy");
    let taken_addr = taken.local_addr().expect("local addr").to_string();
    let missing = std::env::temp_dir().join(format!("nioserve-it-cli-missing-{}", std::process::id()));
    let missing = missing.to_str().expect("UTF-8 path").to_owned();
    let webapp = webapp();
    let webapp = webapp.to_str().expect("UTF-8 path");

    let cases: [(&str, Vec<&str>, &[&str]); 4] = [
        ("unknown flag", vec![webapp, "--bogus"], &["--bogus"]),
        ("no workers", vec![webapp, "--workers", "0"], &["--workers", "0"]),
        (
            "missing directory",
            vec![&missing, "--addr", "127.0.0.1:0"],
            &[&missing],
        ),
        (
            "address in use",
            vec![webapp, "--addr", &taken_addr],
            &[&taken_addr, "in use"],
        ),
    ];
    for (case, args, mentions) in cases {
        let mut demo = Demo::spawn(&args, Log::Default);
        let (status, stderr) = demo.wait_for_exit();
        assert_eq!(status.code(), Some(2), "{case}: {stderr}");
        let errors = error_lines(&stderr);
        assert_eq!(errors.len(), 1, "{case}: one error line in {stderr:?}");
        for mention in mentions {
            assert!(errors[0].contains(mention), "{case}: {:?} lacks {mention:?}", errors[0]);
        }
        // Its stdout is closed now: the reader ends without having seen a banner.
        match demo.stdout.recv_timeout(PATIENCE) {
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
            other => panic!("{case}: a server that did not start printed {other:?}"),
        }
    }
    drop(taken);
}

#[test]
fn signals_stop_the_server_gracefully_even_with_an_idle_client() {
    for (signal, idle_client) in [("-TERM", false), ("-TERM", true), ("-INT", true)] {
        let case = format!("{signal}, idle client: {idle_client}");
        // A long keep-alive timeout: only the shutdown can close the idle client in time.
        let (mut demo, banner) = Demo::serve(&webapp(), &["--keep-alive-timeout", "60"], Log::Default);
        let addr = Demo::addr(&banner);
        let mut idle = idle_client.then(|| {
            let mut client = Client::connect(addr);
            assert_eq!(client.get("/hello.txt").status, 200);
            client
        });

        demo.signal(signal);
        let (status, stderr) = demo.wait_for_exit();
        assert_eq!(status.code(), Some(0), "{case}: {stderr}");
        assert!(stderr.contains("stopped after"), "{case}: {stderr}");
        assert!(!stderr.contains("still open"), "{case}: {stderr}");
        if let Some(client) = &mut idle {
            client.expect_closed();
            assert!(stderr.contains(": 1 requests on 1 connections"), "{case}: {stderr}");
        }
    }
}

#[test]
fn debug_logs_trace_each_connection() {
    let (demo, banner) = Demo::serve(&webapp(), &[], Log::Level("debug"));
    let mut client = Client::connect(Demo::addr(&banner));
    assert_eq!(client.get("/css/styles.css").status, 200);

    let access = "\"GET /css/styles.css HTTP/1.1\" 200";
    demo.wait_for_stderr(access);
    let stderr = demo.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    let find = |what: &str, matches: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|line| matches(line))
            .unwrap_or_else(|| panic!("no {what} line in {stderr}"))
    };
    // The life of the connection, in order.
    let new_client = find("New client", &|line| line.contains("New client: 127.0.0.1:"));
    let request = find("request", &|line| {
        line.contains("GET /css/styles.css HTTP/1.1") && !line.contains("\"GET")
    });
    let resource = find("resource path", &|line| {
        line.contains("resource path: ") && line.contains("css/styles.css")
    });
    let access_line = find("access", &|line| line.contains(access) && line.contains("127.0.0.1:"));
    assert!(
        new_client < request && request < resource && resource < access_line,
        "out of order: {stderr}"
    );
}

#[test]
fn the_default_level_logs_requests_but_not_connections() {
    let (mut demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    assert_eq!(client.get("/css/styles.css").status, 200);
    demo.wait_for_stderr("\"GET /css/styles.css HTTP/1.1\" 200");
    drop(client);

    // Stop it, so that stderr is complete when it is checked.
    demo.signal("-TERM");
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");
    for unwanted in ["New client", "resource path: "] {
        assert!(
            !stderr.contains(unwanted),
            "{unwanted:?} at the default level: {stderr}"
        );
    }
}

#[test]
fn the_blocking_model_serves_files_too() {
    let (_demo, banner) = Demo::serve(&webapp(), &["--model", "blocking", "--workers", "2"], Log::Default);
    assert!(banner.contains(" with 2 workers, Blocking model "), "{banner}");
    let mut client = Client::connect(Demo::addr(&banner));
    let hello = client.get("/hello.txt");
    assert_eq!(hello.status, 200);
    let on_disk = std::fs::read(webapp().join("hello.txt")).expect("webapp/hello.txt");
    assert_eq!(hello.body, on_disk);
}

/// The number after `"key":` in the demo's `/_status` JSON, asked on `client`.
fn status_number(client: &mut Client, key: &str) -> u64 {
    let json = client.get("/_status").text().to_string();
    let rest = json
        .split_once(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        .1;
    let end = rest.find([',', '}']).expect("end of value");
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a whole number in {json}"))
}

/// The state letter of a process in `/proc/PID/stat` (`T` when stopped).
fn process_state(pid: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows it.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn a_second_signal_during_the_grace_period_stops_at_once() {
    for (first, second, code) in [("-TERM", "-TERM", 143), ("-INT", "-INT", 130), ("-TERM", "-INT", 130)] {
        let case = format!("{first} then {second}");
        // A long grace period, held open by a request that never finishes arriving.
        let (mut demo, banner) = Demo::serve(
            &webapp(),
            &["--request-timeout", "60", "--shutdown-grace", "60"],
            Log::Default,
        );
        let addr = Demo::addr(&banner);
        // One connection for every /_status request, so that the count is not muddled
        // by earlier ones still closing.
        let mut status = Client::connect(addr);
        let mut partial = Client::connect(addr);
        partial.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n");
        wait_until("the partial request's connection is accepted", || {
            status_number(&mut status, "connections_open") == 2
        });

        demo.signal(first);
        demo.wait_for_stderr("shutting down");
        assert!(
            demo.child.try_wait().expect("try_wait").is_none(),
            "{case}: the first signal waits for the grace period"
        );
        let started = Instant::now();
        demo.signal(second);
        let (status, stderr) = demo.wait_for_exit();
        assert_eq!(status.code(), Some(code), "{case}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{case}: stopped only after {:?}",
            started.elapsed()
        );
        assert!(stderr.contains("again: stopping at once"), "{case}: {stderr}");
        drop((partial, status));
    }
}

#[test]
fn requests_sent_during_a_stall_longer_than_the_keep_alive_timeout_are_answered() {
    // The whole process is stopped (SIGSTOP) while its keep-alive clients send their next
    // requests, for three keep-alive timeouts, and then continued. Every one of those
    // requests sits in its socket: each must be answered, none reset as "idle too long".
    const CLIENTS: usize = 20;
    let (demo, banner) = Demo::serve(
        &webapp(),
        &["--keep-alive-timeout", "0.5", "--workers", "2"],
        Log::Level("warn"),
    );
    let addr = Demo::addr(&banner);
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::connect(addr)).collect();
    for client in &mut clients {
        assert_eq!(client.get("/hello.txt").status, 200);
    }

    let pid = demo.pid();
    demo.signal("-STOP");
    wait_until("the server is stopped", || process_state(&pid) == Some('T'));
    for client in &mut clients {
        client.send(b"GET /hello.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    }
    // The stall itself: three keep-alive timeouts with the requests unread.
    thread::sleep(Duration::from_millis(1500));
    demo.signal("-CONT");

    let on_disk = std::fs::read(webapp().join("hello.txt")).expect("webapp/hello.txt");
    for (i, client) in clients.iter_mut().enumerate() {
        let reply = client.reply();
        assert_eq!(reply.status, 200, "client {i}");
        assert_eq!(reply.body, on_disk, "client {i}");
    }
    assert!(
        !demo.stderr().contains("ERROR") && !demo.stderr().contains("panicked"),
        "{}",
        demo.stderr()
    );
}

/// A path for an access log, not yet a file, in a directory of its own removed on drop.
struct TempLog {
    path: PathBuf,
    _dir: TempDir,
}

impl TempLog {
    fn new(name: &str) -> TempLog {
        let dir = scratch_dir(&format!("cli-{name}"));
        TempLog {
            path: dir.path().join("access.log"),
            _dir: dir,
        }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }
}

/// The access-log lines in `text` (whatever else it holds) for `GET /hello.txt?n=…`,
/// as they are written: no logger's prefix, `[TIME] PEER "REQUEST" STATUS BYTES TIMEms`.
fn hello_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.contains("\"GET /hello.txt?n="))
        .collect()
}

/// A batched line's stamp, `[TIME] ` (RFC 3339, UTC, the time the line was logged),
/// checked and taken off.
fn unstamped(line: &str) -> &str {
    let (time, rest) = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .unwrap_or_else(|| panic!("no [time] in {line:?}"));
    let time = humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("time in {line:?}: {e}"));
    let age = std::time::SystemTime::now()
        .duration_since(time)
        .unwrap_or_else(|_| panic!("a time in the future in {line:?}"));
    assert!(age.as_secs() < 120, "{line:?} is {age:?} old");
    rest
}

/// `line`, without a stamp, is the access line of a `GET /hello.txt?n=…`.
fn assert_hello_line(line: &str) {
    let size = std::fs::metadata(webapp().join("hello.txt"))
        .expect("webapp/hello.txt")
        .len();
    assert!(line.starts_with("127.0.0.1:"), "{line:?}");
    assert!(line.contains(" HTTP/1.1\" 200 "), "{line:?}");
    let fields: Vec<&str> = line.rsplitn(3, ' ').collect();
    assert_eq!(fields[1], size.to_string(), "{line:?}");
    assert!(fields[0].ends_with("ms"), "{line:?}");
}

#[test]
fn the_access_log_goes_to_a_file_whole_by_the_time_the_server_exits() {
    const REQUESTS: usize = 60;
    let log = TempLog::new("access");
    std::fs::write(&log.path, "a line from the last run\n").expect("an older log");
    let (mut demo, banner) = Demo::serve(&webapp(), &["--access-log", log.arg()], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    for n in 0..REQUESTS {
        assert_eq!(client.get(&format!("/hello.txt?n={n}")).status, 200);
    }
    drop(client);

    demo.signal("-TERM");
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");
    // The other logs still go to stderr; the access lines do not.
    assert!(stderr.contains("stopped after"), "{stderr}");
    assert!(hello_lines(&stderr).is_empty(), "{stderr}");

    let text = std::fs::read_to_string(&log.path).expect("the access log");
    assert!(text.starts_with("a line from the last run\n"), "appended to: {text}");
    assert!(text.ends_with('\n'), "no partial line: {text}");
    let lines = hello_lines(&text);
    assert_eq!(lines.len(), REQUESTS, "{text}");
    for (n, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!("\"GET /hello.txt?n={n} HTTP/1.1\"")), "{line}");
        assert_hello_line(unstamped(line));
    }
}

#[test]
fn the_access_log_goes_to_stderr_by_default_and_can_be_turned_off() {
    for (case, args, log, logged) in [
        ("default", &[][..], Log::Default, true),
        ("-", &["--access-log", "-"][..], Log::Default, true),
        ("off", &["--access-log", "off"][..], Log::Default, false),
        ("RUST_LOG=warn", &[][..], Log::Level("warn"), false),
    ] {
        let (mut demo, banner) = Demo::serve(&webapp(), args, log);
        let mut client = Client::connect(Demo::addr(&banner));
        for n in 0..3 {
            assert_eq!(client.get(&format!("/hello.txt?n={n}")).status, 200);
        }
        if logged {
            // Written within the flush interval, not only at exit.
            wait_until(&format!("{case}: three access lines on stderr"), || {
                hello_lines(&demo.stderr()).len() == 3
            });
        }
        drop(client);
        demo.signal("-TERM");
        let (status, stderr) = demo.wait_for_exit();
        assert_eq!(status.code(), Some(0), "{case}: {stderr}");
        let lines = hello_lines(&stderr);
        if logged {
            assert_eq!(lines.len(), 3, "{case}: {stderr}");
            lines.iter().for_each(|line| assert_hello_line(unstamped(line)));
        } else {
            assert!(lines.is_empty(), "{case}: {stderr}");
        }
        if let Log::Default = log {
            assert!(stderr.contains("stopped after"), "{case}: {stderr}");
        }
    }
}

#[test]
fn sigusr1_reopens_the_access_log_after_a_rotation() {
    let log = TempLog::new("rotate");
    let rotated = TempLog::new("rotated");
    let (mut demo, banner) = Demo::serve(&webapp(), &["--access-log", log.arg()], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    for n in 0..3 {
        assert_eq!(client.get(&format!("/hello.txt?n={n}")).status, 200);
    }
    let read = |log: &TempLog| std::fs::read_to_string(&log.path).unwrap_or_default();
    wait_until("three lines in the log", || hello_lines(&read(&log)).len() == 3);

    // logrotate's way: rename the file, then signal the server to open its path again.
    std::fs::rename(&log.path, &rotated.path).expect("rotate the log");
    demo.signal("-USR1");
    demo.wait_for_stderr("access log reopened");
    for n in 3..5 {
        assert_eq!(client.get(&format!("/hello.txt?n={n}")).status, 200);
    }
    drop(client);
    demo.signal("-TERM");
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");

    let (old, new) = (read(&rotated), read(&log));
    let (old, new) = (hello_lines(&old), hello_lines(&new));
    assert_eq!(old.len(), 3, "{old:?}");
    assert_eq!(new.len(), 2, "{new:?}");
    for (n, line) in old.iter().chain(&new).enumerate() {
        assert!(line.contains(&format!("\"GET /hello.txt?n={n} HTTP/1.1\"")), "{line}");
        assert_hello_line(unstamped(line));
    }
}

#[test]
fn sigusr1_with_a_pipe_nobody_reads_at_the_log_s_path_does_not_stop_the_server_hearing_signals() {
    let log = TempLog::new("fifo");
    let (mut demo, banner) = Demo::serve(&webapp(), &["--access-log", log.arg()], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    assert_eq!(client.get("/hello.txt?n=0").status, 200);
    // The file is gone and a named pipe with no reader is in its place: opening it to
    // write would wait for a reader for ever.
    std::fs::remove_file(&log.path).expect("remove the log");
    let made = Command::new("mkfifo").arg(&log.path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    demo.signal("-USR1");
    demo.wait_for_stderr("cannot reopen the access log");
    assert_eq!(client.get("/hello.txt?n=1").status, 200);
    drop(client);
    demo.signal("-TERM");
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped after"), "{stderr}");
}

#[test]
fn an_access_log_that_cannot_be_opened_stops_the_start() {
    let missing = std::env::temp_dir().join(format!("nioserve-it-cli-no-dir-{}/access.log", std::process::id()));
    let missing = missing.to_str().expect("UTF-8 path");
    let webapp = webapp();
    let webapp = webapp.to_str().expect("UTF-8 path");
    let mut demo = Demo::spawn(
        &[webapp, "--addr", "127.0.0.1:0", "--access-log", missing],
        Log::Default,
    );
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(missing), "{stderr}");
}

#[test]
fn the_access_log_can_go_through_the_logger_among_the_other_logs() {
    let (mut demo, banner) = Demo::serve(&webapp(), &["--access-log", "log"], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    assert_eq!(client.get("/hello.txt?n=0").status, 200);
    drop(client);
    demo.signal("-TERM");
    let (status, stderr) = demo.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines = hello_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    // env_logger's format: `[TIME INFO  nioserve::access] PEER "REQUEST" …`.
    let (prefix, line) = lines[0].split_once("nioserve::access] ").expect("the logger's prefix");
    assert!(prefix.starts_with('[') && prefix.contains("INFO"), "{stderr}");
    assert_hello_line(line);
}

/// A directory to serve, made for one test and removed on drop.
struct Site(TempDir);

impl Site {
    fn new(name: &str, files: &[(&str, &str)]) -> Site {
        let root = scratch_dir(&format!("cli-{name}"));
        for (path, content) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directory");
            std::fs::write(path, content).expect("write file");
        }
        Site(root)
    }
}

#[test]
fn a_missing_path_gets_the_bundled_404_page_with_status_404() {
    let (_demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let on_disk = std::fs::read(webapp().join("404.html")).expect("webapp/404.html");
    for path in ["/nope", "/deep/er/path.css"] {
        let reply = client.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert_eq!(reply.body, on_disk, "{path}");
        assert_eq!(reply.header("etag"), None, "{path}");
    }
}

#[test]
fn error_page_sets_the_page_of_a_status() {
    let site = Site::new(
        "error-page",
        &[
            ("errors/403.html", "<h1>private</h1>\n"),
            ("private/notes.txt", "notes\n"),
        ],
    );
    let (_demo, banner) = Demo::serve(site.0.path(), &["--error-page", "403=errors/403.html"], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let reply = client.get("/private/");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.text(), "<h1>private</h1>\n");
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    // No 404.html in this directory: the plain body.
    assert_eq!(client.get("/missing").text(), "404 Not Found\n");
}

#[test]
fn spa_answers_routes_with_the_index_page() {
    let (_demo, banner) = Demo::serve(&webapp(), &["--spa"], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let index = std::fs::read(webapp().join("index.html")).expect("webapp/index.html");
    let route = client.get("/app/settings");
    assert_eq!(route.status, 200);
    assert_eq!(route.body, index);
    assert_eq!(route.header("cache-control"), Some("no-cache"));
    assert_eq!(client.get("/missing.png").status, 404);
    assert_eq!(client.get("/.env").status, 404);

    let (_demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    assert_eq!(Client::connect(Demo::addr(&banner)).get("/app/settings").status, 404);
}

#[test]
fn cache_control_has_sensible_defaults_and_takes_rules() {
    let site = Site::new(
        "cache-control",
        &[
            ("index.html", "<h1>home</h1>\n"),
            ("app.3f9a2c1b.js", "console.log(1);\n"),
            ("styles.css", "body {}\n"),
        ],
    );
    let immutable = "public, max-age=31536000, immutable";
    let cases: [(&[&str], [Option<&str>; 3]); 3] = [
        (&[], [Some("no-cache"), Some(immutable), Some("no-cache")]),
        (
            &[
                "--cache-control",
                "*.css=max-age=60",
                "--cache-control",
                "hashed=max-age=5",
            ],
            [Some("no-cache"), Some("max-age=5"), Some("max-age=60")],
        ),
        (&["--cache-control", "*=none"], [None, None, None]),
    ];
    for (args, expected) in cases {
        let (_demo, banner) = Demo::serve(site.0.path(), args, Log::Default);
        let mut client = Client::connect(Demo::addr(&banner));
        for (path, expected) in ["/", "/app.3f9a2c1b.js", "/styles.css"].into_iter().zip(expected) {
            let reply = client.get(path);
            assert_eq!(reply.status, 200, "{args:?} {path}");
            assert_eq!(reply.header("cache-control"), expected, "{args:?} {path}");
        }
        assert_eq!(client.get("/missing").header("cache-control"), None, "{args:?}");
    }
}

#[test]
fn list_directories_shows_sizes_and_escaped_names() {
    let hostile = "<script>&\"'.txt";
    let site = Site::new("listing", &[(&format!("files/{hostile}"), "0123456789")]);
    let (_demo, banner) = Demo::serve(site.0.path(), &[], Log::Default);
    assert_eq!(Client::connect(Demo::addr(&banner)).get("/files/").status, 403);

    let (_demo, banner) = Demo::serve(site.0.path(), &["--list-directories"], Log::Default);
    let listing = Client::connect(Demo::addr(&banner)).get("/files/");
    assert_eq!(listing.status, 200);
    let html = listing.text();
    assert!(!html.contains("<script>"), "{html}");
    let row = html
        .lines()
        .find(|line| line.contains(">&lt;script&gt;&amp;&quot;&#39;.txt</a>"))
        .unwrap_or_else(|| panic!("no escaped name in {html}"));
    assert!(row.contains(">10<"), "no size in {row}");
}

#[test]
fn bad_page_and_cache_control_flags_exit_2_with_one_error_line() {
    let webapp = webapp();
    let webapp = webapp.to_str().expect("UTF-8 path");
    let cases: [(&str, &str, &[&str]); 7] = [
        ("--cache-control", "*.js", &["--cache-control", "PATTERN=DIRECTIVES"]),
        ("--cache-control", "*.js=max-age=1h", &["max-age", "seconds"]),
        ("--cache-control", "text/=no-cache", &["media type"]),
        ("--error-page", "404", &["--error-page", "STATUS=PATH"]),
        ("--error-page", "200=index.html", &["4xx or 5xx"]),
        ("--error-page", "404=../outside.html", &["not a file under"]),
        ("--error-page", "404=.secret.html", &["not a file under"]),
    ];
    for (flag, value, mentions) in cases {
        let mut demo = Demo::spawn(&[webapp, "--addr", "127.0.0.1:0", flag, value], Log::Default);
        let (status, stderr) = demo.wait_for_exit();
        assert_eq!(status.code(), Some(2), "{flag} {value}: {stderr}");
        let errors = error_lines(&stderr);
        assert_eq!(errors.len(), 1, "{flag} {value}: one error line in {stderr:?}");
        for mention in mentions {
            assert!(
                errors[0].contains(mention),
                "{flag} {value}: {:?} lacks {mention:?}",
                errors[0]
            );
        }
    }
}

#[test]
fn text_assets_arrive_compressed_unless_no_compress_is_given() {
    let (_demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let (_plain, plain_banner) = Demo::serve(&webapp(), &["--no-compress"], Log::Default);
    for path in ["/", "/css/styles.css", "/js/app.js", "/favicon.svg"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n");
        let mut client = Client::connect(Demo::addr(&banner));
        client.send(request.as_bytes());
        let compressed = client.reply();
        assert_eq!(compressed.status, 200, "{path}");
        assert_eq!(compressed.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(compressed.header("vary"), Some("accept-encoding"), "{path}");

        let mut client = Client::connect(Demo::addr(&plain_banner));
        client.send(request.as_bytes());
        let plain = client.reply();
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert!(compressed.body.len() < plain.body.len(), "{path}");
    }
}

#[test]
fn a_browser_gets_the_web_app_in_brotli_revalidated_and_its_404_page() {
    // What Chrome and Firefox send; the demo's defaults, nothing on the command line.
    let browser = "gzip, deflate, br, zstd";
    let (_demo, banner) = Demo::serve(&webapp(), &[], Log::Default);
    let mut client = Client::connect(Demo::addr(&banner));
    let get = |client: &mut Client, path: &str| {
        client.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {browser}\r\n\r\n").as_bytes());
        client.reply()
    };
    for (path, file) in [
        ("/", "index.html"),
        ("/css/styles.css", "css/styles.css"),
        ("/js/app.js", "js/app.js"),
    ] {
        let on_disk = std::fs::read(webapp().join(file)).expect("a file of the web app");
        let reply = get(&mut client, path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-encoding"), Some("br"), "{path}");
        assert_eq!(reply.header("vary"), Some("accept-encoding"), "{path}");
        // CachePolicy::recommended: names without a hash are revalidated.
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
        assert!(
            reply.body.len() < on_disk.len() / 2,
            "{path}: {} bytes",
            reply.body.len()
        );

        // The browser revalidates with the tag it got: 304, still saying how it varies.
        let etag = reply.header("etag").expect("an ETag").to_string();
        assert!(etag.ends_with("-br\""), "{path}: {etag}");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {browser}\r\nIf-None-Match: {etag}\r\n\r\n");
        client.send(request.as_bytes());
        let revalidated = client.reply();
        assert_eq!(revalidated.status, 304, "{path}");
        assert_eq!(revalidated.header("etag"), Some(etag.as_str()), "{path}");
        assert_eq!(revalidated.header("vary"), Some("accept-encoding"), "{path}");
        assert_eq!(revalidated.header("cache-control"), Some("no-cache"), "{path}");
    }
    // The bundled 404 page, as it is: an error is not negotiated, cached or ranged.
    let missing = get(&mut client, "/no/such/page");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        std::fs::read(webapp().join("404.html")).expect("webapp/404.html")
    );
    assert_eq!(missing.header("content-encoding"), None);
    assert_eq!(missing.header("cache-control"), None);
}
