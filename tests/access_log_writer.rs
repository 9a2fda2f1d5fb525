//! The access log written in batches by a thread of its own ([`AccessLog::file`],
//! [`AccessLog::writer`]): every line is there, whole, when shutdown returns; lines come
//! out within the flush interval without it; a sink that is stuck or fails costs lines
//! (counted and reported), never a request; and no worker or poller ever writes to the
//! sink. This test binary installs a logger that keeps the writer's warnings.

mod support;

use std::collections::HashSet;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use log::Level;
use nioserve::{AccessLog, Model, Request, Response, ServerHandle};
use support::{capture_log, server, start, wait_until, CapturedLog, Client, PATIENCE};

/// The warnings kept by this test binary's logger.
fn warnings() -> &'static CapturedLog {
    capture_log("nioserve::log_writer", Level::Warn)
}

fn wait_for_warning(what: &str) -> String {
    let mut found = None;
    wait_until(&format!("a warning with {what:?}"), || {
        found = warnings().lines().iter().find(|w| w.contains(what)).cloned();
        found.is_some()
    });
    found.expect("found")
}

/// A sink that keeps what it is given, and the name of each thread that wrote to it.
#[derive(Clone, Default)]
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    writers: Arc<Mutex<Vec<String>>>,
}

impl Collected {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().expect("bytes").clone()).expect("UTF-8 lines")
    }

    fn writers(&self) -> Vec<String> {
        self.writers.lock().expect("writers").clone()
    }
}

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let name = thread::current().name().unwrap_or("(unnamed)").to_string();
        self.writers.lock().expect("writers").push(name);
        self.bytes.lock().expect("bytes").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink whose every write waits until the gate is opened.
#[derive(Clone, Default)]
struct Gated {
    open: Arc<(Mutex<bool>, Condvar)>,
    inner: Collected,
}

impl Gated {
    fn open(&self) {
        *self.open.0.lock().expect("gate") = true;
        self.open.1.notify_all();
    }
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (open, opened) = &*self.open;
        let mut open = open.lock().expect("gate");
        while !*open {
            open = opened.wait(open).expect("gate");
        }
        drop(open);
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A gated sink whose write fails once the gate opens.
#[derive(Clone, Default)]
struct FailsLate(Gated);

impl Write for FailsLate {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        self.0.write(b"")?;
        Err(io::Error::other("the late sink failed"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One access-log line, taken apart:
/// `[TIME] PEER "METHOD TARGET VERSION" STATUS BYTES MSms`, TIME in RFC 3339, UTC.
#[derive(Debug)]
struct Line {
    time: SystemTime,
    request: String,
    status: u16,
    bytes: u64,
}

fn parse(line: &str) -> Line {
    let (time, rest) = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .unwrap_or_else(|| panic!("no [time] in {line:?}"));
    let time = humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("time in {line:?}: {e}"));
    let age = SystemTime::now()
        .duration_since(time)
        .unwrap_or_else(|_| panic!("a time in the future in {line:?}"));
    assert!(age < Duration::from_secs(120), "{line:?} is {age:?} old");
    let (peer, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("no peer in {line:?}"));
    assert!(peer.starts_with("127.0.0.1:"), "peer in {line:?}");
    let rest = rest
        .strip_prefix('"')
        .unwrap_or_else(|| panic!("no request in {line:?}"));
    let (request, rest) = rest
        .split_once("\" ")
        .unwrap_or_else(|| panic!("no request in {line:?}"));
    let fields: Vec<&str> = rest.split(' ').collect();
    let [status, bytes, ms] = fields[..] else {
        panic!("not STATUS BYTES TIME in {line:?}")
    };
    let ms: f64 = ms
        .strip_suffix("ms")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("time in {line:?}"));
    assert!(ms >= 0.0, "{line:?}");
    Line {
        time,
        request: request.to_string(),
        status: status.parse().unwrap_or_else(|_| panic!("status in {line:?}")),
        bytes: bytes.parse().unwrap_or_else(|_| panic!("bytes in {line:?}")),
    }
}

fn page(req: Request) -> Response {
    Response::new(format!("page {}", req.uri().path()).into())
}

/// `clients` keep-alive connections at once, each sending `each` requests for
/// `/{prefix}/{client}/{i}`, all answered 200.
fn load(handle: &ServerHandle, prefix: &str, clients: usize, each: usize) {
    let addr = handle.local_addr();
    thread::scope(|scope| {
        for c in 0..clients {
            scope.spawn(move || {
                let mut client = Client::connect(addr);
                for i in 0..each {
                    assert_eq!(client.get(&format!("/{prefix}/{c}/{i}")).status, 200);
                }
            });
        }
    });
}

#[test]
fn every_line_is_in_the_file_whole_when_shutdown_returns() {
    for model in [Model::Nio, Model::Blocking] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("access.log");
        std::fs::write(&path, "a line from before\n").expect("an older log");
        let log = AccessLog::file(&path).expect("open the log");
        let handle = start(server().model(model).workers(4).access_log(log), page);
        load(&handle, "f", 4, 50);
        handle.shutdown();

        let text = std::fs::read_to_string(&path).expect("the log");
        assert!(text.ends_with('\n'), "{model:?}: the last line is whole");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("a line from before"), "{model:?}: appended to");
        let mut seen = HashSet::new();
        let mut last = SystemTime::UNIX_EPOCH;
        for line in lines {
            let line = parse(line);
            // Stamped as each line joins the batch: in the order of the file.
            assert!(line.time >= last, "{model:?}: {line:?} after a later line");
            last = line.time;
            let path = line
                .request
                .strip_prefix("GET ")
                .and_then(|r| r.strip_suffix(" HTTP/1.1"))
                .unwrap_or_else(|| panic!("{line:?}"));
            assert_eq!(line.status, 200);
            assert_eq!(line.bytes, format!("page {path}").len() as u64, "{line:?}");
            assert!(seen.insert(path.to_string()), "{model:?}: {path} twice");
        }
        assert_eq!(seen.len(), 200, "{model:?}: one line per request");
    }
}

/// The lines of the access log at `path`, parsed; none if there is no file.
fn file_lines(path: &std::path::Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(parse)
        .collect()
}

#[test]
fn a_reopened_file_log_goes_on_in_the_file_now_at_its_path() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let log = AccessLog::file(&path).expect("open the log");
    let handle = start(server().workers(2).access_log(log.clone()), page);
    load(&handle, "before", 2, 10);
    wait_until("the first 20 lines are in the file", || file_lines(&path).len() == 20);

    // A rotation: logrotate renames the file, then has the server open its path again.
    std::fs::rename(&path, &rotated).expect("rename the log");
    log.reopen().expect("reopen");
    load(&handle, "after", 2, 10);
    handle.shutdown();

    let old = file_lines(&rotated);
    let new = file_lines(&path);
    assert_eq!(old.len(), 20, "{old:?}");
    assert!(old.iter().all(|l| l.request.starts_with("GET /before/")), "{old:?}");
    assert_eq!(new.len(), 20, "{new:?}");
    assert!(new.iter().all(|l| l.request.starts_with("GET /after/")), "{new:?}");
}

#[test]
fn a_reopen_that_fails_leaves_the_log_in_its_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("logs")).expect("a log directory");
    let log = AccessLog::file(dir.path().join("logs/access.log")).expect("open the log");
    let handle = start(server().workers(2).access_log(log.clone()), page);
    // The directory goes: the path cannot be opened again.
    std::fs::rename(dir.path().join("logs"), dir.path().join("gone")).expect("move the directory");
    let e = log.reopen().expect_err("nowhere to reopen");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    load(&handle, "still", 2, 5);
    handle.shutdown();
    let lines = file_lines(&dir.path().join("gone/access.log"));
    assert_eq!(lines.len(), 10, "{lines:?}");
}

#[test]
fn a_log_reopened_into_a_named_pipe_waits_for_a_slow_reader() {
    use std::os::unix::fs::OpenOptionsExt;

    use rustix::fs::{fcntl_setfl, mknodat, FileType, Mode, OFlags, CWD};

    const REQUESTS: usize = 100;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("access.log");
    let log = AccessLog::file(&path).expect("open the log");
    let handle = start(server().workers(2).access_log(log.clone()), page);

    // The file is replaced by a pipe that a log collector reads, and the log reopened.
    std::fs::remove_file(&path).expect("remove the log");
    mknodat(CWD, &path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    let collector = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(&path)
        .expect("the collector's end");
    fcntl_setfl(&collector, OFlags::empty()).expect("the collector reads blocking");
    log.reopen().expect("reopen into the pipe");

    // Lines of about 3 KiB, 300 KiB in all, while the collector has not begun: the
    // pipe's buffer (64 KiB) fills, and the writer waits for it.
    let long = "x".repeat(3000);
    let mut client = Client::connect(handle.local_addr());
    for i in 0..REQUESTS {
        assert_eq!(client.get(&format!("/pipe/{i}/{long}")).status, 200);
    }
    drop(client);
    let collected = read_to_end_on_a_thread(collector);
    handle.shutdown();
    drop(log);
    let text = collected.join().expect("the collector");
    assert_eq!(text.lines().map(parse).count(), REQUESTS, "every line, none dropped");
}

/// Reads `pipe` to its end on a thread of its own, as a log collector would.
fn read_to_end_on_a_thread(mut pipe: std::fs::File) -> thread::JoinHandle<String> {
    use std::io::Read;
    thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).expect("read the pipe");
        text
    })
}

#[test]
fn a_reopen_does_not_wait_for_a_batch_stuck_in_a_pipe() {
    use std::os::unix::fs::OpenOptionsExt;

    use rustix::fs::{fcntl_setfl, mknodat, FileType, Mode, OFlags, CWD};

    const REQUESTS: usize = 100;
    // The log is a pipe that a log collector reads, and the collector has stopped.
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("access.log");
    mknodat(CWD, &path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    let collector = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(&path)
        .expect("the collector's end");
    fcntl_setfl(&collector, OFlags::empty()).expect("the collector reads blocking");
    let log = AccessLog::file(&path).expect("open the log");
    let handle = start(server().workers(2).access_log(log.clone()), page);
    // Lines of about 3 KiB, 300 KiB in all: the pipe's buffer (64 KiB) fills, and the
    // writer waits in its write for the collector.
    let long = "x".repeat(3000);
    let mut client = Client::connect(handle.local_addr());
    for i in 0..REQUESTS {
        assert_eq!(client.get(&format!("/stuck/{i}/{long}")).status, 200);
    }
    wait_until("the pipe is full", || {
        rustix::io::ioctl_fionread(&collector).expect("FIONREAD") >= 64 * 1024
    });

    // logrotate's SIGUSR1, handled by the thread that also hears SIGTERM: it must come back.
    let reopening = log.clone();
    let (reopened, returned) = mpsc::channel();
    thread::spawn(move || {
        let _ = reopened.send(reopening.reopen());
    });
    let result = returned.recv_timeout(PATIENCE);
    // The collector goes on, and the writer with it.
    let collected = read_to_end_on_a_thread(collector);
    result.expect("reopen returns at once").expect("reopen the pipe");
    drop(client);
    handle.shutdown();
    drop(log);
    let text = collected.join().expect("the collector");
    assert_eq!(text.lines().map(parse).count(), REQUESTS, "every line, none dropped");
}

#[test]
fn reopening_a_log_that_is_not_a_file_does_nothing() {
    let sink = Collected::default();
    let log = AccessLog::writer(sink.clone());
    let handle = start(server().access_log(log.clone()), page);
    log.reopen().expect("nothing to reopen");
    AccessLog::off().reopen().expect("nothing to reopen");
    AccessLog::log_crate().reopen().expect("nothing to reopen");
    load(&handle, "w", 1, 3);
    handle.shutdown();
    assert_eq!(sink.text().lines().map(parse).count(), 3);
}

#[test]
fn lines_are_written_within_the_flush_interval_without_a_shutdown() {
    for model in [Model::Nio, Model::Blocking] {
        let sink = Collected::default();
        let handle = start(
            server()
                .model(model)
                .workers(2)
                .access_log(AccessLog::writer(sink.clone())),
            page,
        );
        let mut client = Client::connect(handle.local_addr());
        let path = format!("/soon/{model:?}");
        assert_eq!(client.get(&path).status, 200);
        let wanted = format!("\"GET {path} HTTP/1.1\" 200 ");
        wait_until("the line is written", || sink.text().contains(&wanted));
        assert!(sink.text().ends_with('\n'), "whole lines: {}", sink.text());
        // The server is still up, and the next line comes out the same way.
        assert_eq!(client.get(&format!("{path}/again")).status, 200);
        wait_until("the next line is written", || {
            sink.text().contains("/again HTTP/1.1\" 200 ")
        });
        drop(handle);
    }
}

#[test]
fn no_worker_or_poller_ever_writes_to_the_sink() {
    const BIG: usize = 8 * 1024 * 1024;
    for model in [Model::Nio, Model::Blocking] {
        let sink = Collected::default();
        let handle = start(
            server()
                .model(model)
                .workers(2)
                .access_log(AccessLog::writer(sink.clone())),
            |req: Request| {
                if req.uri().path() == "/big" {
                    Response::new(vec![b'x'; BIG].into())
                } else {
                    page(req)
                }
            },
        );
        load(&handle, "t", 3, 30);
        // A response the client takes its time over is finished, and logged, by the
        // poller (NIO): the worker handed it over when the socket was full.
        let mut slow = Client::connect(handle.local_addr());
        slow.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
        wait_until("the big response waits for the client", || {
            let stats = handle.stats();
            stats.requests == 91 && (model == Model::Blocking || stats.connections_busy == 0)
        });
        assert_eq!(slow.reply().body.len(), BIG);
        wait_until("the big response's line is written", || {
            sink.text().contains(&format!("\"GET /big HTTP/1.1\" 200 {BIG} "))
        });
        handle.shutdown();

        assert_eq!(sink.text().lines().count(), 91, "{model:?}");
        let writers = sink.writers();
        assert!(!writers.is_empty());
        assert!(
            writers.iter().all(|name| name == "nioserve-access"),
            "{model:?}: written by {writers:?}"
        );
    }
}

#[test]
fn a_sink_that_blocks_costs_lines_not_requests() {
    warnings();
    let sink = Gated::default();
    let handle = start(server().workers(2).access_log(AccessLog::writer(sink.clone())), page);
    // Lines of about 3 KiB: the writer's 1 MiB of room is full after some 350. The
    // client goes on until lines are being dropped, and 50 requests more.
    let long = "x".repeat(3000);
    let addr = handle.local_addr();
    let counters = handle.counters();
    let (answered, all_answered) = mpsc::channel();
    thread::spawn(move || {
        let mut client = Client::connect(addr);
        let mut after_first_drop = 0;
        for i in 0..5000 {
            assert_eq!(client.get(&format!("/blocked/{i}/{long}")).status, 200, "request {i}");
            if counters.snapshot().access_log_dropped > 0 {
                after_first_drop += 1;
                if after_first_drop == 50 {
                    let _ = answered.send(i + 1);
                    return;
                }
            }
        }
        panic!("5000 requests and no line dropped");
    });
    let Ok(requests) = all_answered.recv_timeout(PATIENCE * 3) else {
        // Its threads may be stuck: shutting it down would wait for them for ever.
        std::mem::forget(handle);
        panic!("requests stalled behind the blocked access log");
    };
    assert!(sink.inner.text().is_empty(), "nothing could be written yet");

    sink.open();
    let warning = wait_for_warning("lines dropped");
    let reported: u64 = warning
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("a number in {warning:?}"));
    assert!(reported > 0, "{warning}");
    let counters = handle.counters();
    handle.shutdown();
    let written = sink.inner.text().lines().map(parse).count() as u64;
    assert!(written > 0);
    assert_eq!(
        written + counters.snapshot().access_log_dropped,
        requests,
        "every line is written or counted as dropped"
    );
}

/// How many requests `stuck_behind` makes.
const STUCK_REQUESTS: u64 = 20;

/// A server that has answered `STUCK_REQUESTS` requests, with its access log going
/// to `sink`, a sink that takes nothing yet (their lines wait for it); its shutdown
/// gives up on the log after 100 ms.
fn stuck_behind(sink: impl Write + Send + 'static, prefix: &str) -> ServerHandle {
    let handle = start(
        server()
            .workers(2)
            .shutdown_grace(std::time::Duration::from_millis(100))
            .access_log(AccessLog::writer(sink)),
        page,
    );
    load(&handle, prefix, 2, STUCK_REQUESTS as usize / 2);
    handle
}

#[test]
fn shutdown_gives_up_on_a_sink_stuck_for_good() {
    let sink = Gated::default();
    let handle = stuck_behind(sink.clone(), "stuck");
    let counters = handle.counters();
    let (done, shut) = mpsc::channel();
    thread::spawn(move || {
        handle.shutdown();
        let _ = done.send(());
    });
    shut.recv_timeout(PATIENCE)
        .expect("shutdown returns though the sink never takes a byte");
    assert_eq!(counters.snapshot().access_log_dropped, STUCK_REQUESTS);
    // The gate stays shut: the writer thread stays blocked in its write until the
    // process ends, and reports nothing to the other tests' logger.
    std::mem::forget(sink);
}

#[test]
fn lines_given_up_on_at_shutdown_count_once_whatever_the_stuck_write_does_later() {
    warnings();
    let sink = FailsLate::default();
    let handle = stuck_behind(sink.clone(), "late");
    let counters = handle.counters();
    handle.shutdown();
    assert_eq!(counters.snapshot().access_log_dropped, STUCK_REQUESTS);
    // The stuck write returns at last, with an error: its lines were counted already.
    sink.0.open();
    wait_for_warning("the late sink failed");
    assert_eq!(
        counters.snapshot().access_log_dropped,
        STUCK_REQUESTS,
        "each line counted once"
    );
}

#[test]
fn a_sink_that_fails_costs_its_lines_and_is_reported() {
    warnings();
    // A real EPIPE: the other end of the socket is gone.
    let (sink, reader) = UnixStream::pair().expect("socket pair");
    drop(reader);
    let handle = start(server().workers(2).access_log(AccessLog::writer(sink)), page);
    let mut client = Client::connect(handle.local_addr());
    for i in 0..5 {
        assert_eq!(client.get(&format!("/epipe/{i}")).status, 200);
    }
    wait_until("the lines are counted as lost", || {
        handle.stats().access_log_dropped == 5
    });
    let warning = wait_for_warning("Broken pipe");
    assert!(warning.contains("lines lost"), "{warning}");
    // The writer lives on: the next lines are tried too.
    assert_eq!(client.get("/epipe/after").status, 200);
    wait_until("the next line is counted as lost", || {
        handle.stats().access_log_dropped == 6
    });
    drop(handle);
}

/// A sink whose first write panics and second fails; the rest succeed.
#[derive(Clone, Default)]
struct Flaky {
    calls: Arc<AtomicU32>,
    inner: Collected,
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => panic!("the flaky sink panics, as a user's sink might"),
            1 => Err(io::Error::other("the flaky sink says no")),
            _ => self.inner.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_writer_survives_a_sink_that_panics_or_fails() {
    warnings();
    let sink = Flaky::default();
    let handle = start(server().workers(2).access_log(AccessLog::writer(sink.clone())), page);
    let mut client = Client::connect(handle.local_addr());
    assert_eq!(client.get("/flaky/1").status, 200);
    wait_until("the first line is lost", || handle.stats().access_log_dropped == 1);
    assert_eq!(client.get("/flaky/2").status, 200);
    wait_until("the second line is lost", || handle.stats().access_log_dropped == 2);
    assert_eq!(client.get("/flaky/3").status, 200);
    wait_until("the third line is written", || {
        sink.inner.text().contains("\"GET /flaky/3 HTTP/1.1\" 200 ")
    });
    wait_for_warning("the access log's sink panicked");
    wait_for_warning("the flaky sink says no");
    let report = handle.shutdown();
    assert_eq!(report.cut_off(), 0);
    assert_eq!(sink.inner.text().lines().count(), 1);
}
