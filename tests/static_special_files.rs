//! Files that are not regular files or directories, in the served tree: a FIFO
//! (whose `open` for reading blocks until a writer comes), a Unix socket. Each is
//! `404 Not Found` at once, and the server goes on serving.

mod support;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nioserve::{Server, StaticFiles};
use rustix::fs::{mknodat, open, FileType, Mode, OFlags, CWD};
use support::{scratch_dir, start, Client};

/// Opens the FIFO's write end when dropped, which releases any reader blocked in
/// `open`: without the fix, this lets the failing test's server shut down.
struct Fifo(PathBuf);

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = open(&self.0, OFlags::WRONLY | OFlags::NONBLOCK, Mode::empty());
    }
}

#[test]
fn a_fifo_or_a_socket_is_not_found_promptly_and_holds_no_worker() {
    let dir = scratch_dir("special");
    let root = dir.path();
    fs::write(root.join("hello.txt"), "hello\n").expect("write hello.txt");
    mknodat(CWD, root.join("fifo"), FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).expect("bind a Unix socket");

    let workers = 2;
    let handle = start(
        Server::builder().workers(workers),
        StaticFiles::new(root).expect("static files root"),
    );
    // Declared after the server, so that it is dropped before it if the test fails.
    let fifo = Fifo(root.join("fifo"));
    // More requests for the FIFO than there are workers: had one of them blocked
    // in `open`, they all would, and `/hello.txt` would never be answered.
    for path in ["/fifo", "/fifo", "/fifo", "/socket", "/fifo/"] {
        let mut client = Client::connect(handle.local_addr());
        let started = Instant::now();
        let reply = client.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let mut client = Client::connect(handle.local_addr());
    let reply = client.get("/hello.txt");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"hello\n");

    handle.shutdown();
    drop(fifo);
}
