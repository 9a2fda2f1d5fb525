//! Out of file descriptors: the demo binary runs under `prlimit --nofile=64:64`
//! (the test process keeps its own limit) and gets more clients than it has
//! descriptors for. `accept()` fails with `EMFILE`; the server must keep serving the
//! connections it has, log the failure once, not spin on a listener that stays
//! readable, and accept the waiting clients as soon as descriptors free up.
//!
//! Linux only in practice: it needs `prlimit` (util-linux) and `/proc/PID/stat`.

mod support;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{wait_until, Client, LimitedDemo, Reply};

/// How long any single wait may take before it counts as a failure.
/// The server's file-descriptor limit, soft and hard.
const NOFILE: u32 = 64;
/// Clients opened by the test: well over what the server has descriptors for.
const CLIENTS: usize = 100;
/// Served clients the test lets go of, to make room for waiting ones.
const LET_GO: usize = 30;
/// How long the server's CPU time is measured while it cannot accept.
const WINDOW: Duration = Duration::from_secs(1);
/// The share of `WINDOW` it may spend on the CPU: a spinning accept loop takes all of it.
const MAX_CPU_SHARE: f64 = 0.20;
/// The warning the poller logs when `accept()` fails.
const ACCEPT_FAILED: &str = "accept failed";

/// The demo under `prlimit` (see `support::LimitedDemo`).
type Demo = LimitedDemo;

impl LimitedDemo {
    /// Serves the bundled web app with at most `nofile` file descriptors.
    fn serve_with_nofile(nofile: u32, args: &[&str]) -> Demo {
        let webapp = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../webapp"));
        let nofile = nofile as usize;
        LimitedDemo::start((nofile, nofile), &webapp, args)
    }

    /// The lines of stderr that report a failed `accept()`.
    fn accept_warnings(&self) -> usize {
        self.stderr()
            .lines()
            .filter(|line| line.contains(ACCEPT_FAILED))
            .count()
    }

    fn proc_file(&self, name: &str) -> String {
        let path = format!("/proc/{}/{name}", self.child.id());
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// CPU time the server has used so far (user + system), from `/proc/PID/stat`.
    fn cpu_time(&self, ticks_per_second: f64) -> Duration {
        let stat = self.proc_file("stat");
        // Fields after the command name, which is in parentheses and may hold spaces:
        // state is field 3, utime field 14, stime field 15 (proc(5)).
        let after_comm = stat.rsplit_once(')').expect("comm in /proc/PID/stat").1;
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let ticks = |i: usize| -> f64 { fields[i].parse().expect("numeric CPU time") };
        Duration::from_secs_f64((ticks(11) + ticks(12)) / ticks_per_second)
    }
}

/// The unit of the CPU times in `/proc/PID/stat`.
fn clock_ticks_per_second() -> f64 {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("run getconf CLK_TCK");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("getconf CLK_TCK prints a number")
}

impl Reply {
    /// A number from the `/_status` JSON.
    fn number(&self, key: &str) -> u64 {
        let body = self.text();
        let rest = body
            .split_once(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("no {key} in {body}"))
            .1;
        let end = rest.find([',', '}']).expect("end of value");
        rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a count in {body}"))
    }
}

impl Client {
    /// Sends a request for the server's counters (which needs no file descriptor,
    /// unlike a file) without waiting for the answer.
    fn ask_status(&mut self) {
        self.stream
            .write_all(b"GET /_status HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("send request");
    }

    fn status(&mut self) -> Reply {
        self.ask_status();
        self.reply()
    }

    /// Asserts that nothing at all has come back yet: no response, no EOF, no
    /// reset. The client is still waiting to be accepted.
    fn assert_still_waiting(&mut self, which: usize) {
        self.stream.set_nonblocking(true).expect("non-blocking");
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Ok(0) => panic!("client {which} was closed without a response"),
            Ok(_) => panic!("client {which} got an answer while the server had no descriptor for it"),
            Err(e) => panic!("client {which}: {e}"),
        }
        self.stream.set_nonblocking(false).expect("blocking");
        assert!(self.buf.is_empty());
    }
}

#[test]
fn out_of_file_descriptors_the_server_serves_what_it_has_and_does_not_spin() {
    let ticks_per_second = clock_ticks_per_second();
    // Long timeouts: nothing may be closed by the server while the test watches.
    let demo = Demo::serve_with_nofile(
        NOFILE,
        &[
            "--workers",
            "2",
            "--keep-alive-timeout",
            "60",
            "--request-timeout",
            "60",
        ],
    );
    // The limit is the server's own, and the PID is the server's (prlimit exec'd it).
    assert_eq!(demo.proc_file("comm").trim(), "nioserve");
    let limits = demo.proc_file("limits");
    let nofile_line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("Max open files in /proc/PID/limits");
    assert_eq!(
        nofile_line.split_whitespace().nth(3),
        Some(NOFILE.to_string().as_str()),
        "{nofile_line}"
    );

    // Every client asks at once; those the server accepts stay open, idle.
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let mut client = Client::connect(demo.addr);
            client.ask_status();
            client
        })
        .collect();
    wait_until("the server ran out of file descriptors", || {
        demo.stderr().contains(ACCEPT_FAILED)
    });

    // (a) It serves the connections it has. The first client, accepted first, says how many.
    assert_eq!(clients[0].reply().status, 200);
    let counters = clients[0].status();
    assert_eq!(counters.status, 200);
    let accepted = usize::try_from(counters.number("accepted")).expect("a count");
    assert_eq!(counters.number("connections_open"), counters.number("accepted"));
    assert!(
        LET_GO < accepted && accepted < CLIENTS,
        "with {NOFILE} descriptors the server accepted {accepted} of {CLIENTS} clients: {}",
        counters.text()
    );
    // The kernel's accept queue is first in, first out: the first `accepted` clients are in.
    for (i, client) in clients.iter_mut().enumerate().take(accepted).skip(1) {
        assert_eq!(client.reply().status, 200, "accepted client {i}");
    }

    // (b) Saturated, with clients waiting on a listener that stays readable, it
    // sleeps between accept attempts instead of spinning.
    let cpu_before = demo.cpu_time(ticks_per_second);
    let started = Instant::now();
    thread::sleep(WINDOW);
    let cpu = demo.cpu_time(ticks_per_second) - cpu_before;
    let wall = started.elapsed();
    assert!(
        cpu.as_secs_f64() < MAX_CPU_SHARE * wall.as_secs_f64(),
        "the server used {cpu:?} of CPU in {wall:?} while it could not accept: it spins"
    );
    for (i, client) in clients.iter_mut().enumerate().skip(accepted) {
        client.assert_still_waiting(i);
    }
    let early = clients[1].status();
    assert_eq!(early.status, 200, "an early connection is still served");
    assert_eq!(
        early.number("accepted"),
        accepted as u64,
        "nobody else got in meanwhile"
    );

    // (c) One warning for the episode, however many times accept() failed.
    assert_eq!(
        demo.accept_warnings(),
        1,
        "one `{ACCEPT_FAILED}` line while out of descriptors; stderr: {}",
        demo.stderr()
    );

    // (d) Served clients leave; as many waiting ones are accepted and answered, in order.
    let waiting = CLIENTS - accepted;
    let admitted = waiting.min(LET_GO);
    clients.drain(1..=LET_GO);
    let first_waiting = accepted - LET_GO;
    for (i, client) in clients.iter_mut().enumerate().skip(first_waiting).take(admitted) {
        assert_eq!(client.reply().status, 200, "client {} was waiting", i + LET_GO);
    }
    let counters = clients[0].status();
    assert_eq!(
        counters.number("accepted"),
        (accepted + admitted) as u64,
        "{}",
        counters.text()
    );
    assert_eq!(
        counters.number("connections_open"),
        (accepted - LET_GO + admitted) as u64
    );
    // The rest still wait for a descriptor: neither answered nor dropped.
    for (i, client) in clients.iter_mut().enumerate().skip(first_waiting + admitted) {
        client.assert_still_waiting(i + LET_GO);
    }
}
