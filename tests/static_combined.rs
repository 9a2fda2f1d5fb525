//! `StaticFiles` features meeting one another over real sockets, where separately
//! built parts join: a file stored encoded (`.svgz`) under `Accept-Encoding`
//! negotiation, compressed forms under the cache's memory budget, and clones set
//! up differently around the cache they share.

mod support;

use std::fs::{self, File};
use std::path::Path;

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, Client};
use tempfile::TempDir;

/// The first bytes of a gzip stream (RFC 1952 §2.3.1), then anything: the server
/// sends a file's bytes as they are.
const SVGZ: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03 not really deflated, but sent as is";

/// The cache holds at most this many bytes of files (see `StaticFiles`).
const CACHE_BYTES: u64 = 32 << 20;

/// A directory served by a two-worker server, removed on drop once the server has
/// stopped (fields drop in order).
struct Site {
    handle: ServerHandle,
    _root: TempDir,
}

impl Site {
    /// Serves a fresh directory that `populate` fills, configured by `configure`.
    fn start(name: &str, populate: impl FnOnce(&Path), configure: impl FnOnce(StaticFiles) -> StaticFiles) -> Site {
        let root = scratch_dir(&format!("combined-{name}"));
        populate(root.path());
        let files = configure(StaticFiles::new(root.path()).expect("static files root"));
        Site {
            handle: start(Server::builder().workers(2), files),
            _root: root,
        }
    }
}

#[test]
fn an_svgz_file_goes_to_a_client_that_accepts_gzip_and_refuses_identity() {
    let site = Site::start(
        "svgz",
        |root| fs::write(root.join("logo.svgz"), SVGZ).expect("write logo.svgz"),
        |files| files,
    );
    let mut client = Client::connect(site.handle.local_addr());
    // The file's bytes are gzip: a client asking for gzip only can take them, and
    // whatever a client says, there is nothing else to send it.
    for accept in [
        "gzip, identity;q=0",
        "*;q=0, gzip",
        "br, identity;q=0",
        "identity;q=0, *;q=0",
    ] {
        let reply = client.request("GET", "/logo.svgz", &[("Accept-Encoding", accept)]);
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(reply.header("content-type"), Some("image/svg+xml"), "{accept}");
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{accept}");
        assert_eq!(reply.body, SVGZ, "{accept}");
        // One representation whatever the client accepts: nothing for a cache to vary on.
        assert_eq!(reply.header("vary"), None, "{accept}");

        let head = client.request("HEAD", "/logo.svgz", &[("Accept-Encoding", accept)]);
        assert_eq!(head.status, 200, "HEAD {accept}");
        assert_eq!(
            head.header("content-length"),
            Some(&*SVGZ.len().to_string()),
            "HEAD {accept}"
        );

        let part = client.request(
            "GET",
            "/logo.svgz",
            &[("Accept-Encoding", accept), ("Range", "bytes=0-1")],
        );
        assert_eq!(part.status, 206, "Range {accept}");
        assert_eq!(part.header("content-encoding"), Some("gzip"), "Range {accept}");
        assert_eq!(part.body, &SVGZ[..2], "Range {accept}");
    }
}

#[test]
fn files_admitted_once_the_memory_budget_is_full_are_still_sent_compressed() {
    // Binary files held in memory fill the cache's 32 MiB to within 16 KiB: 40 of
    // 1 MiB, then 80 of 16 KiB. A script asked for after them (24 KiB, more than
    // is left) must still be held, and compressed, as the first one was.
    let fill: Vec<(String, u64)> = (0..40)
        .map(|i| (format!("{i}.bin"), 1 << 20))
        .chain((0..80).map(|i| (format!("small-{i}.bin"), 16 << 10)))
        .collect();
    let script: Vec<u8> = (0..800)
        .map(|i| format!("export const value{i} = {i} * 2;\n"))
        .collect::<String>()
        .into_bytes();
    assert!(script.len() > 16 << 10);
    assert!(fill.iter().map(|(_, len)| len).sum::<u64>() > CACHE_BYTES);
    let site = Site::start(
        "budget",
        |root| {
            for (name, len) in &fill {
                // Sparse: bytes to read, nothing written.
                let file = File::create(root.join(name)).expect("create fill file");
                file.set_len(*len).expect("size the fill file");
            }
            fs::write(root.join("first.js"), &script).expect("write first.js");
            fs::write(root.join("app.js"), &script).expect("write app.js");
        },
        |files| files.in_memory_up_to(2 << 20),
    );
    let mut client = Client::connect(site.handle.local_addr());
    let br = [("Accept-Encoding", "br")];
    let first = client.request("GET", "/first.js", &br);
    assert_eq!(first.header("content-encoding"), Some("br"));

    for (name, _) in &fill {
        let reply = client.request("HEAD", &format!("/{name}"), &[]);
        assert_eq!(reply.status, 200, "{name}");
    }
    for round in 0..3 {
        let reply = client.request("GET", "/app.js", &br);
        assert_eq!(reply.status, 200, "round {round}");
        assert_eq!(reply.header("content-encoding"), Some("br"), "round {round}");
        assert!(reply.body.len() < script.len(), "round {round}");
    }
    // The least recently used made room, and comes back compressed when asked again.
    let again = client.request("GET", "/first.js", &br);
    assert_eq!(again.header("content-encoding"), Some("br"));
}

#[test]
fn clones_set_up_to_serve_differently_do_not_answer_from_each_others_cache() {
    let page: Vec<u8> = b"<p>the usual index</p>\n".repeat(40);
    let dir = scratch_dir("combined-clones");
    let root = dir.path();
    fs::write(root.join("index.html"), &page).expect("write index.html");
    fs::write(root.join("home.html"), "<p>home</p>").expect("write home.html");
    // Trusted for an hour: whatever one clone cached, the other would find.
    let base = StaticFiles::new(root)
        .expect("static files root")
        .cache_validity(std::time::Duration::from_secs(3600));
    let usual = start(Server::builder().workers(1), base.clone());
    let other_index = start(Server::builder().workers(1), base.clone().index_file("home.html"));
    let plain = start(Server::builder().workers(1), base.compress(false));

    let gzip = [("Accept-Encoding", "gzip")];
    let first = Client::connect(usual.local_addr()).request("GET", "/", &gzip);
    assert_eq!(first.header("content-encoding"), Some("gzip"));
    let home = Client::connect(other_index.local_addr()).request("GET", "/", &gzip);
    assert_eq!(home.body, b"<p>home</p>", "the other clone's index was served");
    let uncompressed = Client::connect(plain.local_addr()).request("GET", "/", &gzip);
    assert_eq!(
        uncompressed.header("content-encoding"),
        None,
        "compress(false) sent gzip"
    );
    assert_eq!(uncompressed.body, page);
    // And the first is still served as it was set up.
    let again = Client::connect(usual.local_addr()).request("GET", "/", &gzip);
    assert_eq!(again.header("content-encoding"), Some("gzip"));
}
