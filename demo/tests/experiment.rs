//! `nioserve --experiment`: the NIO demo beside a thread-per-connection child, with a
//! load client holding idle connections against both; and no child outliving the demo,
//! however it ends.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{wait_until, Client, LimitedDemo};

fn webapp() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../webapp"))
}

/// Descriptors for each process: the load client holds two sets of idle connections.
const NOFILE: (usize, usize) = (4096, 4096);

/// The blocking child's threads: `--workers 200`.
const BLOCKING_WORKERS: u64 = 200;

/// The threads of the blocking child besides its connection threads: its main thread
/// and the one that watches stdin for the demo's exit.
const BLOCKING_OWN: u64 = 2;

/// How long a child may take to be gone once its parent is (the demo's own stop waits
/// 2 s before it kills).
const GONE_WITHIN: Duration = Duration::from_secs(10);

fn start(args: &[&str]) -> LimitedDemo {
    let mut all = vec!["--experiment"];
    all.extend_from_slice(args);
    LimitedDemo::start(NOFILE, &webapp(), &all)
}

/// `GET /_experiment`.
fn figures(addr: SocketAddr) -> String {
    let reply = Client::connect(addr).get("/_experiment");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.text().to_string()
}

/// The number after `"key":` in `json`, within the object that follows `"within":`
/// (or anywhere, for `None`); `None` for `null`.
fn number(json: &str, within: Option<&str>, key: &str) -> Option<f64> {
    let scope = match within {
        Some(name) => json.split_once(&format!("\"{name}\":{{")).expect(name).1,
        None => json,
    };
    let rest = scope
        .split_once(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        .1;
    let value = &rest[..rest.find([',', '}']).expect("end of value")];
    (value != "null").then(|| value.parse().unwrap_or_else(|_| panic!("{key}: {value:?} in {json}")))
}

/// The `/_status` figure `key` of a model, as the experiment last sampled it.
fn status_number(json: &str, model: &str, key: &str) -> Option<f64> {
    let scope = json.split_once(&format!("\"{model}\":{{")).expect(model).1;
    let status = scope.split_once("\"status\":").expect("status").1;
    if status.starts_with("null") {
        return None;
    }
    number(status, None, key)
}

fn post(addr: SocketAddr, target: &str, extra: &str) -> support::Reply {
    let mut client = Client::connect(addr);
    client.send(format!("POST {target} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\n\r\n").as_bytes());
    client.reply()
}

/// The parent pid of a process, or `None` once it is gone or a zombie (dead, waiting to
/// be reaped by whoever inherited it).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: state and ppid follow.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    (state != "Z" && state != "X").then(|| fields.next()?.parse().ok())?
}

/// The experiment's children, by the pids it reports, checked to be the demo's.
fn children(demo: &LimitedDemo) -> [u32; 2] {
    let json = figures(demo.addr);
    let blocking = number(&json, Some("blocking"), "pid").expect("blocking pid") as u32;
    let client = number(&json, None, "client_pid").expect("client pid") as u32;
    for pid in [blocking, client] {
        assert_eq!(parent_of(pid), Some(demo.child.id()), "pid {pid} is the demo's child");
    }
    [blocking, client]
}

fn wait_until_gone(pids: [u32; 2], case: &str) {
    let deadline = Instant::now() + GONE_WITHIN;
    for pid in pids {
        while parent_of(pid).is_some() {
            assert!(Instant::now() < deadline, "{case}: child {pid} outlived the demo");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

fn wait_for_exit(demo: &mut LimitedDemo, case: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + support::PATIENCE;
    loop {
        if let Some(status) = demo.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{case}: the demo did not exit: {}",
            demo.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_blocking_model_runs_out_of_threads_the_nio_one_holds_every_connection() {
    // More idle connections than the blocking server has threads.
    const IDLE: f64 = 250.0;
    let demo = start(&["--workers", "2", "--keep-alive-timeout", "60"]);
    wait_until("both servers are sampled", || {
        let json = figures(demo.addr);
        status_number(&json, "nio", "threads").is_some() && status_number(&json, "blocking", "threads").is_some()
    });
    let before = figures(demo.addr);
    let nio_threads = status_number(&before, "nio", "threads");
    assert!(
        number(&before, Some("blocking"), "latency_ms").is_some(),
        "a fresh request answered: {before}"
    );

    let set = post(demo.addr, "/_experiment?idle=250", "");
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(number(set.text(), None, "target"), Some(IDLE));

    wait_until(
        "the blocking server has no thread left and the NIO one holds them all",
        || {
            let json = figures(demo.addr);
            number(&json, Some("nio"), "held") == Some(IDLE)
            && number(&json, Some("blocking"), "held") == Some(IDLE)
            // One thread is the sampler's own kept-alive connection.
            && status_number(&json, "blocking", "connections_open") == Some(BLOCKING_WORKERS as f64)
            && number(&json, Some("blocking"), "latency_ms").is_none()
            && number(&json, Some("nio"), "latency_ms").is_some()
            && status_number(&json, "nio", "connections_idle") >= Some(IDLE)
        },
    );
    let json = figures(demo.addr);
    assert_eq!(
        status_number(&json, "nio", "threads"),
        nio_threads,
        "NIO threads unchanged: {json}"
    );
    assert_eq!(
        status_number(&json, "blocking", "threads"),
        Some((BLOCKING_WORKERS + BLOCKING_OWN) as f64),
        "{json}"
    );
    // Only the ones the blocking server took got an answer; the rest wait in its backlog.
    assert_eq!(
        number(&json, Some("blocking"), "answered"),
        Some((BLOCKING_WORKERS - 1) as f64)
    );

    // Back to none: the blocking server answers fresh requests again.
    assert_eq!(post(demo.addr, "/_experiment?idle=0", "").status, 200);
    wait_until("the blocking server answers again", || {
        let json = figures(demo.addr);
        number(&json, Some("blocking"), "held") == Some(0.0) && number(&json, Some("blocking"), "latency_ms").is_some()
    });
}

#[test]
fn the_target_is_a_whole_number_clamped_to_the_limit_and_set_from_this_page_only() {
    let demo = start(&[]);
    let limit = number(&figures(demo.addr), None, "limit").expect("limit");
    // The load client's share of 4096 descriptors for two servers, and never 10,000.
    assert!(limit > 1000.0 && limit <= 2048.0, "{limit}");

    let huge = post(demo.addr, "/_experiment?idle=99999999999999999999999", "");
    assert_eq!(huge.status, 200);
    assert_eq!(number(huge.text(), None, "target"), Some(limit));
    for bad in [
        "/_experiment",
        "/_experiment?idle=",
        "/_experiment?idle=-5",
        "/_experiment?idle=1e3",
    ] {
        let reply = post(demo.addr, bad, "");
        assert_eq!(reply.status, 400, "{bad}");
    }
    let foreign = post(demo.addr, "/_experiment?idle=0", "Origin: http://evil.example\r\n");
    assert_eq!(foreign.status, 403);
    // A page whose DNS name was made to point at 127.0.0.1 after it loaded: its
    // Origin names the Host it sends, but a name is not this server's own page.
    let mut rebound = Client::connect(demo.addr);
    rebound.send(
        b"POST /_experiment?idle=0 HTTP/1.1\r\nHost: rebound.example:8080\r\n\
          Origin: http://rebound.example:8080\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(rebound.reply().status, 403);
    assert_eq!(number(&figures(demo.addr), None, "target"), Some(limit), "unchanged");
    let own = post(
        demo.addr,
        "/_experiment?idle=0",
        &format!("Origin: http://{}\r\n", demo.addr),
    );
    assert_eq!(own.status, 200);
    assert_eq!(number(own.text(), None, "target"), Some(0.0));

    let mut client = Client::connect(demo.addr);
    client.send(b"DELETE /_experiment HTTP/1.1\r\nHost: t\r\n\r\n");
    let refused = client.reply();
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("allow"), Some("GET, HEAD, POST"));
}

#[test]
fn without_the_flag_there_is_no_experiment() {
    let demo = LimitedDemo::start(NOFILE, &webapp(), &[]);
    assert_eq!(Client::connect(demo.addr).get("/_experiment").status, 404);
    assert_eq!(post(demo.addr, "/_experiment?idle=10", "").status, 405);
    let threads = std::fs::read_dir(format!("/proc/{}/task", demo.child.id()))
        .expect("/proc")
        .count();
    // Poller, the workers (one per CPU by default), main and the access log's writer
    // (the demo's default `--access-log -`): no experiment threads.
    let workers = {
        let reply = Client::connect(demo.addr).get("/_status");
        let json = reply.text();
        let rest = json.split_once("\"workers\":").expect("workers").1;
        rest[..rest.find(',').expect(",")].parse::<usize>().expect("a number")
    };
    assert_eq!(threads, 1 + workers + 1 + 1);
    let no_children = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent_of(pid) == Some(demo.child.id()))
        .count();
    assert_eq!(no_children, 0);
}

#[test]
fn no_child_outlives_the_demo_whatever_signal_ends_it() {
    for (sig, code) in [("-INT", Some(0)), ("-TERM", Some(0)), ("-KILL", None)] {
        let mut demo = start(&[]);
        let pids = children(&demo);
        assert_eq!(post(demo.addr, "/_experiment?idle=20", "").status, 200);
        wait_until("the idle connections are held", || {
            number(&figures(demo.addr), Some("nio"), "held") == Some(20.0)
        });
        signal(demo.child.id(), sig);
        let status = wait_for_exit(&mut demo, sig);
        assert_eq!(status.code(), code, "{sig}: {}", demo.stderr());
        wait_until_gone(pids, sig);
    }
}

#[test]
fn a_second_signal_kills_the_children_at_once() {
    // The blocking child is stopped (SIGSTOP), so it cannot exit when its stdin closes:
    // the demo's first signal waits for it; the second kills it.
    let mut demo = start(&[]);
    let pids = children(&demo);
    signal(pids[0], "-STOP");
    signal(demo.child.id(), "-TERM");
    wait_until("the demo is shutting down", || demo.stderr().contains("shutting down"));
    signal(demo.child.id(), "-TERM");
    let status = wait_for_exit(&mut demo, "TERM, TERM");
    assert_eq!(status.code(), Some(143), "{}", demo.stderr());
    wait_until_gone(pids, "TERM, TERM");
}

#[test]
fn a_child_that_ignores_its_closed_stdin_is_killed_after_the_grace() {
    let mut demo = start(&[]);
    let pids = children(&demo);
    signal(pids[0], "-STOP");
    signal(demo.child.id(), "-TERM");
    let status = wait_for_exit(&mut demo, "TERM");
    assert_eq!(status.code(), Some(0), "{}", demo.stderr());
    assert!(
        demo.stderr().contains("killing the blocking server"),
        "{}",
        demo.stderr()
    );
    wait_until_gone(pids, "TERM with a stopped child");
}
