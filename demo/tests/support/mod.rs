//! Shared by the demo binary's tests: a raw HTTP/1.1 client with timeouts, waiting
//! on a condition with a deadline, and the demo run under a file-descriptor limit.

#![allow(dead_code)] // each test file uses a different part of this

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long any single wait may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A fresh directory for one test's files, `nioserve-demo-{name}-` and a random
/// suffix in the system's temporary directory; it is removed with its contents on drop.
pub fn scratch_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("nioserve-demo-{name}-"))
        .tempdir()
        .expect("create a scratch directory")
}

/// Polls `cond` until it holds or `PATIENCE` runs out.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
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

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// A raw HTTP/1.1 client on one connection, with timeouts.
pub struct Client {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
        stream.set_write_timeout(Some(PATIENCE)).expect("write timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send request");
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.reply()
    }

    pub fn post(&mut self, path: &str, body: &str) -> Reply {
        let len = body.len();
        self.send(format!("POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len}\r\n\r\n{body}").as_bytes());
        self.reply()
    }

    /// Reads one response framed by `Content-Length` (every nioserve response is).
    pub fn reply(&mut self) -> Reply {
        let head_len = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().expect("response head");
        };
        let head = String::from_utf8(self.buf[..head_len - 4].to_vec()).expect("ASCII head");
        let mut head_lines = head.split("\r\n");
        let status_line = head_lines.next().expect("status line");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = head_lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header field");
                (name.to_string(), value.trim().to_string())
            })
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = if status == 304 || status == 204 {
            0
        } else {
            reply
                .header("content-length")
                .expect("Content-Length")
                .parse()
                .expect("numeric Content-Length")
        };
        while self.buf.len() < head_len + len {
            self.fill().expect("response body");
        }
        reply.body = self.buf[head_len..head_len + len].to_vec();
        self.buf.drain(..head_len + len);
        reply
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Asserts the server closes the connection (EOF or reset) with nothing more sent.
    pub fn expect_closed(&mut self) {
        assert!(self.buf.is_empty(), "bytes before close: {:?}", self.buf);
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("expected the connection to close, got more bytes"),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection to close, got {e}"),
        }
    }
}

/// The demo binary serving `dir` on 127.0.0.1:0 under `prlimit --nofile=SOFT:HARD`
/// (prlimit sets the limit on itself and execs the server: one process, one PID), its
/// stderr collected by a thread; killed on drop. A test file adds what it reads of
/// the process (`/proc/PID/…`) in an `impl` of its own.
pub struct LimitedDemo {
    pub child: Child,
    /// Everything written to stderr so far.
    stderr: Arc<Mutex<String>>,
    pub addr: SocketAddr,
}

impl LimitedDemo {
    /// Starts the server with `args` and waits for its banner.
    pub fn start(nofile: (usize, usize), dir: &Path, args: &[&str]) -> LimitedDemo {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={}:{}", nofile.0, nofile.1))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_nioserve"))
            .arg(dir)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "this test runs the server under `prlimit`, which was not found: \
                 install util-linux (.ci/run does)"
            ),
            Err(e) => panic!("cannot run prlimit: {e}"),
        };

        let (tx, stdout) = mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        thread::spawn(move || {
            let mut line = String::new();
            while matches!(out.read_line(&mut line), Ok(n) if n > 0) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().expect("piped stderr"));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut line = String::new();
            while matches!(pipe.read_line(&mut line), Ok(n) if n > 0) {
                sink.lock().expect("stderr lock").push_str(&line);
                line.clear();
            }
        });

        let banner = match stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no banner on stdout ({e}); stderr: {}",
                    stderr.lock().expect("stderr lock")
                );
            }
        };
        let after = banner.split_once(" on http://").expect("URL in banner").1;
        let addr = after.split_once('/').expect("slash after the address").0;
        let addr = addr.parse().expect("socket address in banner");
        LimitedDemo { child, stderr, addr }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }
}

impl Drop for LimitedDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
