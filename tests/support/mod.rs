//! Shared by the integration tests: a server on 127.0.0.1:0 and a raw HTTP client
//! with timeouts, so a broken server fails a test instead of hanging it.

#![allow(dead_code)] // each test file uses a different part of this

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use log::{Level, Log, Metadata, Record};
use tempfile::TempDir;

use nioserve::{Builder, Handler, Request, Response, Server, ServerHandle};

/// How long any single wait in a test may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Starts `handler` on 127.0.0.1:0 with the given settings.
pub fn start(builder: Builder, handler: impl Handler) -> ServerHandle {
    builder
        .bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .spawn(handler)
        .expect("spawn server")
}

/// A fresh directory for one test's files, `nioserve-it-{name}-` and a random suffix
/// in the system's temporary directory; it is removed with its contents on drop.
pub fn scratch_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("nioserve-it-{name}-"))
        .tempdir()
        .expect("create a scratch directory")
}

/// A server with two workers whose handler answers `METHOD PATH` followed by the request body.
pub fn echo_server(builder: Builder) -> ServerHandle {
    start(builder.workers(2), echo)
}

pub fn echo(req: Request) -> Response {
    let mut body = format!("{} {}", req.method(), req.uri().path()).into_bytes();
    if !req.body().is_empty() {
        body.push(b'\n');
        req.body()
            .reader()
            .read_to_end(&mut body)
            .expect("read the request body");
    }
    Response::new(body.into())
}

/// Polls `cond` until it holds or `PATIENCE` runs out.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw HTTP/1.1 client on one connection.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
        stream.set_write_timeout(Some(PATIENCE)).expect("write timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> &mut Client {
        self.stream.write_all(bytes).expect("send request bytes");
        self
    }

    /// `GET path` with a Host header.
    pub fn get(&mut self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    /// `GET path` with a Host header and `headers` (name, value) after it.
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers)
    }

    /// `METHOD path` with a Host header and `headers` (name, value) after it; the reply
    /// read as one to `HEAD` (no body) if `method` is `HEAD`.
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.send(request.as_bytes());
        if method == "HEAD" {
            self.head_reply()
        } else {
            self.reply()
        }
    }

    /// Reads one response to a request that is not `HEAD`.
    pub fn reply(&mut self) -> Reply {
        self.read_reply(false)
    }

    /// Reads one response whose body is framed but not sent (a `HEAD` response).
    pub fn head_reply(&mut self) -> Reply {
        self.read_reply(true)
    }

    fn read_reply(&mut self, head_only: bool) -> Reply {
        let reply = self.read_head();
        let code = reply.status;
        let no_body = head_only || code / 100 == 1 || code == 204 || code == 304;
        let len: usize = if no_body {
            0
        } else {
            reply
                .header("content-length")
                .expect("every response has Content-Length")
                .parse()
                .expect("numeric length")
        };
        while self.buf.len() < len {
            self.fill().expect("response body");
        }
        let body = self.buf.drain(..len).collect();
        Reply { body, ..reply }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Asserts the server closes the connection (EOF or reset) with nothing more sent.
    pub fn expect_closed(&mut self) {
        self.expect_end(true);
    }

    /// Asserts nothing arrives within `wait` (the server is holding this client back).
    pub fn expect_silence(&mut self, wait: Duration) {
        self.stream.set_read_timeout(Some(wait)).expect("read timeout");
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            other => panic!("expected silence, got {other:?}"),
        }
        self.stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Raises this process's open-file limit to its hard limit (tests that hold
/// thousands of sockets need more than a default soft limit of 1,024).
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).expect("raise RLIMIT_NOFILE");
    limit.current.unwrap_or(u64::MAX)
}

/// Names of this process's threads that belong to nioserve.
pub fn nioserve_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let comm = task.expect("task entry").path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            let name = name.trim().to_string();
            if name.starts_with("nioserve-") {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

/// This process's resident set size in KiB, from /proc/self/status.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

pub fn server() -> Builder {
    Server::builder()
}

impl Client {
    /// Asserts the server closes the connection cleanly (a FIN, not a reset) with
    /// nothing more sent.
    pub fn expect_eof(&mut self) {
        self.expect_end(false);
    }

    fn expect_end(&mut self, reset_is_fine: bool) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("expected the connection to close, got more bytes"),
            Err(e) if reset_is_fine && e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection to close, got {e}"),
        }
    }
}

impl Client {
    /// Reads a response head only, leaving its body (chunked, streamed) to be read.
    pub fn read_head(&mut self) -> Reply {
        let head_len = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().expect("response head");
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        parsed.parse(&self.buf[..head_len]).expect("valid response head");
        let reply = Reply {
            status: parsed.code.expect("status code"),
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                .collect(),
            body: Vec::new(),
        };
        self.buf.drain(..head_len);
        reply
    }

    /// Reads one chunk of a chunked body: its data, or `None` for the last chunk (whose
    /// empty trailer section is read too). Panics on anything that is not a chunk.
    pub fn read_chunk(&mut self) -> Option<Vec<u8>> {
        let line_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                break i;
            }
            self.fill().expect("chunk-size line");
        };
        let line = std::str::from_utf8(&self.buf[..line_end]).expect("ascii chunk-size line");
        let size = usize::from_str_radix(line, 16).unwrap_or_else(|_| panic!("chunk-size line {line:?}"));
        self.buf.drain(..line_end + 2);
        while self.buf.len() < size + 2 {
            self.fill().expect("chunk data");
        }
        assert_eq!(&self.buf[size..size + 2], b"\r\n", "chunk data ends with CRLF");
        let data = self.buf[..size].to_vec();
        self.buf.drain(..size + 2);
        (size > 0).then_some(data)
    }

    /// Reads until the server closes the connection; returns all it sent after what
    /// was read already.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("reading to the close: {e}"),
            }
        }
        std::mem::take(&mut self.buf)
    }
}

impl Client {
    /// Reads exactly `n` more bytes, those already buffered first (bytes that came with
    /// the last response head, such as those of an upgraded protocol).
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill().expect("more bytes");
        }
        self.buf.drain(..n).collect()
    }
}

/// The log records of one target, kept in memory, for a test binary that asserts what
/// the server logged.
pub struct CapturedLog {
    target: &'static str,
    level: Level,
    lines: Mutex<Vec<String>>,
}

impl CapturedLog {
    /// The messages kept so far, oldest first.
    pub fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Log for CapturedLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with(self.target) && metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            self.lines().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Installs, once per test binary, the logger that keeps the records at `level` or
/// more severe whose target starts with `target`, and returns it. A test binary has
/// one logger: every call must name the same target and level.
pub fn capture_log(target: &'static str, level: Level) -> &'static CapturedLog {
    static CAPTURED: OnceLock<&'static CapturedLog> = OnceLock::new();
    let captured = CAPTURED.get_or_init(|| {
        let captured: &'static CapturedLog = Box::leak(Box::new(CapturedLog {
            target,
            level,
            lines: Mutex::new(Vec::new()),
        }));
        log::set_logger(captured).expect("the only logger of this test binary");
        log::set_max_level(level.to_level_filter());
        captured
    });
    assert_eq!(
        (captured.target, captured.level),
        (target, level),
        "one captured log per test binary"
    );
    captured
}
