//! The demo's static files under a low file-descriptor limit (`prlimit`), and its
//! `--hidden` flag.
//!
//! With 64 descriptors the cache may hold 16. Hundreds of spellings of one large
//! file, and more large files than that, must all be served, with the descriptors on
//! the served files staying within the budget; when the process is out of
//! descriptors, a new file is 200 if the cache can give one back and 503 (with
//! `Retry-After`) if not, never 500. At start the demo raises its soft limit to the
//! hard one and logs it.
//!
//! Linux only in practice: it needs `prlimit` (util-linux) and `/proc/PID/fd`.

mod support;

use std::fs;
use std::path::Path;

use support::{scratch_dir, wait_until, Client, LimitedDemo};
use tempfile::TempDir;

/// The server's file-descriptor limit, soft and hard.
const NOFILE: usize = 64;
/// What the cache may hold under it: a quarter.
const BUDGET: usize = NOFILE / 4;
/// Larger than the demo keeps in memory (64 KiB), so each is held open.
const BIG_LEN: usize = 100 * 1024;
/// Distinct large files: well over the budget.
const BIG_FILES: usize = 3 * BUDGET;

/// A document root of large files in a temp directory, removed on drop.
struct Site(TempDir);

impl Site {
    fn new(name: &str) -> Site {
        let dir = scratch_dir(&format!("fds-{name}"));
        let root = dir.path();
        for i in 0..BIG_FILES {
            fs::write(root.join(format!("big-{i}.bin")), vec![b'x'; BIG_LEN]).expect("write big file");
        }
        fs::write(root.join("big.bin"), vec![b'b'; BIG_LEN]).expect("write big.bin");
        fs::write(root.join("hello.txt"), "hello\n").expect("write hello.txt");
        fs::write(root.join(".env"), "SECRET=1\n").expect("write .env");
        Site(dir)
    }
}

/// The demo under `prlimit` (see `support::LimitedDemo`).
type Demo = LimitedDemo;

impl LimitedDemo {
    /// Serves `dir` with two workers and timeouts no test here waits for.
    fn serve(nofile: (usize, usize), dir: &Path, args: &[&str]) -> Demo {
        let mut all = vec![
            "--workers",
            "2",
            "--keep-alive-timeout",
            "60",
            "--request-timeout",
            "60",
        ];
        all.extend(["--max-keep-alive-requests", "100000"]);
        all.extend(args);
        LimitedDemo::start(nofile, dir, &all)
    }

    /// The server's open descriptors: number and target.
    fn descriptors(&self) -> Vec<(usize, String)> {
        let dir = format!("/proc/{}/fd", self.child.id());
        fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let number = entry.file_name().to_str()?.parse().ok()?;
                let target = fs::read_link(entry.path()).ok()?;
                Some((number, target.to_string_lossy().into_owned()))
            })
            .collect()
    }

    /// How many of the descriptor numbers below `NOFILE` are taken. A descriptor
    /// inherited above the limit (cargo's jobserver pipe, say) takes none: `open`
    /// fails with `EMFILE` only when every number below the limit is in use.
    fn slots_used(&self) -> usize {
        self.descriptors().iter().filter(|(number, _)| *number < NOFILE).count()
    }

    /// How many of the server's descriptors are on files under `dir`.
    fn descriptors_under(&self, dir: &Path) -> usize {
        let dir = fs::canonicalize(dir).expect("canonical root");
        let dir = dir.to_string_lossy();
        let prefix = format!("{dir}/");
        self.descriptors()
            .iter()
            .filter(|(_, target)| target.starts_with(&prefix))
            .count()
    }
}

#[test]
fn under_a_low_fd_limit_every_spelling_and_every_large_file_is_served() {
    let site = Site::new("spellings");
    let demo = Demo::serve((NOFILE, NOFILE), site.0.path(), &[]);
    let mut client = Client::connect(demo.addr);

    // 300 spellings of one path: one file, at most one descriptor.
    let mut spellings = Vec::new();
    for slashes in 1..=15 {
        for dots in 0..10 {
            let prefix = "/".repeat(slashes) + &"./".repeat(dots);
            spellings.push(format!("{prefix}big.bin"));
            spellings.push(format!("{prefix}%62ig.bin"));
        }
    }
    for spelling in &spellings {
        let reply = client.get(spelling);
        assert_eq!(reply.status, 200, "{spelling}: {}", demo.stderr());
        assert_eq!(reply.body.len(), BIG_LEN, "{spelling}");
    }
    assert!(demo.descriptors_under(site.0.path()) <= 1, "{:?}", demo.descriptors());

    // Three times as many large files as the cache may hold open, twice over.
    for round in 0..2 {
        for i in 0..BIG_FILES {
            let reply = client.get(&format!("/big-{i}.bin"));
            assert_eq!(reply.status, 200, "round {round}, big-{i}.bin: {}", demo.stderr());
            assert_eq!(reply.body.len(), BIG_LEN);
            // The budget, and the one file a response may still be sending from.
            let held = demo.descriptors_under(site.0.path());
            assert!(
                held <= BUDGET + 1,
                "{held} descriptors on served files after big-{i}.bin"
            );
        }
    }
    // Spare descriptors remain: a new client is accepted and served.
    let mut fresh = Client::connect(demo.addr);
    assert_eq!(fresh.get("/hello.txt").status, 200);
}

#[test]
fn out_of_descriptors_the_cache_gives_its_own_back_and_then_it_is_503_not_500() {
    let site = Site::new("exhausted");
    let demo = Demo::serve((NOFILE, NOFILE), site.0.path(), &[]);
    let mut client = Client::connect(demo.addr);
    assert_eq!(client.get("/_status").status, 200);

    // Take every descriptor the server has left with idle connections, each one
    // seen served, so that none waits in the backlog to take a freed descriptor.
    let mut idle = Vec::new();
    while demo.slots_used() < NOFILE {
        for _ in demo.slots_used()..NOFILE {
            let mut other = Client::connect(demo.addr);
            assert_eq!(other.get("/_status").status, 200);
            idle.push(other);
        }
    }

    // Nothing cached, nothing to give back: 503, and when to come back.
    let unavailable = client.get("/hello.txt");
    assert_eq!(unavailable.status, 503, "{}", demo.stderr());
    assert_eq!(unavailable.header("retry-after"), Some("1"));

    // One descriptor frees; a large file takes it and the cache keeps it.
    idle.pop();
    wait_until("the server closed the connection", || demo.slots_used() < NOFILE);
    assert_eq!(client.get("/big-0.bin").status, 200);
    assert_eq!(demo.slots_used(), NOFILE, "big-0.bin is held open");

    // Out again: the cache closes big-0.bin, and the next file is served.
    for i in 1..4 {
        let reply = client.get(&format!("/big-{i}.bin"));
        assert_eq!(reply.status, 200, "big-{i}.bin: {}", demo.stderr());
        assert_eq!(reply.body.len(), BIG_LEN);
    }
    // The connections held all along are still served.
    assert_eq!(idle[0].get("/_status").status, 200);
}

#[test]
fn the_soft_fd_limit_is_raised_to_the_hard_one_and_logged() {
    let site = Site::new("rlimit");
    let demo = Demo::serve((100, 200), site.0.path(), &[]);
    let limits = fs::read_to_string(format!("/proc/{}/limits", demo.child.id())).expect("/proc/PID/limits");
    let nofile = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("Max open files in /proc/PID/limits");
    let figures: Vec<&str> = nofile.split_whitespace().skip(3).take(2).collect();
    assert_eq!(figures, ["200", "200"], "{nofile}");
    assert!(
        demo.stderr().contains("open files limit: 200 (raised from 100)"),
        "{}",
        demo.stderr()
    );
}

#[test]
fn dot_files_are_404_unless_the_hidden_flag_is_given() {
    let site = Site::new("hidden");
    let refusing = Demo::serve((NOFILE, NOFILE), site.0.path(), &[]);
    let serving = Demo::serve((NOFILE, NOFILE), site.0.path(), &["--hidden"]);
    assert_eq!(Client::connect(refusing.addr).get("/.env").status, 404);
    let served = Client::connect(serving.addr).get("/.env");
    assert_eq!(served.status, 200);
    assert_eq!(served.text(), "SECRET=1\n");
}
