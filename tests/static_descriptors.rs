//! What `StaticFiles` keeps open, seen from `/proc/self/fd` (the server runs in
//! this process): one descriptor per large file however it is spelled, and none
//! for a file that was deleted or replaced once the server has looked again.
//!
//! Linux only in practice: it reads `/proc/self/fd`.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, wait_until, Client};
use tempfile::TempDir;

/// Larger than what is kept in memory (64 KiB), so the cache holds it open.
const BIG_LEN: usize = 300 * 1024;

/// A fresh document root served by a two-worker server whose cache trusts what it
/// learned for `validity`; removed on drop once the server has stopped (fields drop
/// in order).
struct Site {
    handle: ServerHandle,
    root: TempDir,
}

impl Site {
    fn start(name: &str, validity: Duration) -> Site {
        let root = scratch_dir(&format!("fds-{name}"));
        fs::write(root.path().join("big.bin"), vec![b'a'; BIG_LEN]).expect("write big.bin");
        let files = StaticFiles::new(root.path())
            .expect("static files root")
            .cache_validity(validity);
        let handle = start(Server::builder().workers(2), files);
        Site { handle, root }
    }

    fn client(&self) -> Client {
        Client::connect(self.handle.local_addr())
    }
}

/// The targets of this process's descriptors that lead to `path` (deleted or not).
fn descriptors_on(path: &Path) -> Vec<String> {
    let path = path.to_string_lossy();
    fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target == &*path || target.strip_prefix(&*path) == Some(" (deleted)"))
        .collect()
}

#[test]
fn hundreds_of_spellings_of_one_path_hold_one_descriptor() {
    let site = Site::start("spellings", Duration::from_secs(3600));
    let big = site.root.path().join("big.bin");
    let mut client = site.client();
    let mut spellings = Vec::new();
    for slashes in 1..=20 {
        for dots in 0..10 {
            let prefix = "/".repeat(slashes) + &"./".repeat(dots);
            spellings.push(format!("{prefix}big.bin"));
            spellings.push(format!("{prefix}%62ig.bin"));
        }
    }
    assert_eq!(spellings.len(), 400);
    for spelling in &spellings {
        let reply = client.get(spelling);
        assert_eq!(reply.status, 200, "{spelling}");
        assert_eq!(reply.body.len(), BIG_LEN, "{spelling}");
        if reply.closes() {
            // `max_keep_alive_requests` reached.
            client = site.client();
        }
        // Before the fix, each spelling was an entry with a descriptor of its own.
        let open = descriptors_on(&big);
        assert!(
            open.len() <= 1,
            "after {spelling}: {} descriptors on big.bin",
            open.len()
        );
    }
}

#[test]
fn a_deleted_file_is_not_found_and_its_descriptor_closed() {
    let site = Site::start("deleted", Duration::from_millis(50));
    let big = site.root.path().join("big.bin");
    let mut client = site.client();
    assert_eq!(client.get("/big.bin").status, 200);
    assert_eq!(descriptors_on(&big).len(), 1, "the cache holds big.bin open");

    fs::remove_file(&big).expect("delete big.bin");
    // Within the cache validity the old copy may still be served; after it, 404.
    wait_until("the deleted file is not found", || client.get("/big.bin").status == 404);
    // The request that found it gone dropped the entry, and no response is using it.
    let open = descriptors_on(&big);
    assert!(open.is_empty(), "still open after it was deleted: {open:?}");
}

#[test]
fn a_replaced_file_is_served_new_and_the_old_one_closed() {
    let site = Site::start("replaced", Duration::from_millis(50));
    let big = site.root.path().join("big.bin");
    let mut client = site.client();
    assert_eq!(client.get("/big.bin").body, vec![b'a'; BIG_LEN]);

    // Replaced the way deployments do it: a new file renamed over the old one.
    let next = site.root.path().join("big.bin.next");
    fs::write(&next, vec![b'b'; BIG_LEN]).expect("write the new version");
    fs::rename(&next, &big).expect("rename over big.bin");
    wait_until("the new version is served", || {
        client.get("/big.bin").body == vec![b'b'; BIG_LEN]
    });
    let open = descriptors_on(&big);
    assert!(
        open.iter().all(|target| !target.ends_with("(deleted)")),
        "the replaced version is still open: {open:?}"
    );
    assert_eq!(open.len(), 1, "{open:?}");
}
