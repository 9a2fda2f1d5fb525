//! `StaticFiles::mount`: a root served under a URL prefix, over real sockets: files under
//! the prefix, nothing outside it, and redirects and listings that keep it.

mod support;

use std::fs;

use nioserve::{Server, StaticFiles};
use support::{scratch_dir, start, Client};
use tempfile::TempDir;

/// A root with `app.js`, `docs/index.html` and `plain/` (no index), in a fresh directory
/// removed on drop.
fn fixture(name: &str) -> TempDir {
    let dir = scratch_dir(&format!("mount-{name}"));
    let root = dir.path();
    fs::create_dir_all(root.join("docs")).expect("create docs");
    fs::create_dir_all(root.join("plain")).expect("create plain");
    fs::write(root.join("app.js"), "console.log('app');\n").expect("write app.js");
    fs::write(root.join("docs/index.html"), "<h1>Docs</h1>\n").expect("write docs index");
    fs::write(root.join("plain/a b.txt"), "a b\n").expect("write listed file");
    dir
}

#[test]
fn files_are_served_under_the_prefix_and_nowhere_else() {
    let root = fixture("files");
    let files = StaticFiles::new(root.path()).expect("root").mount("/static/");
    let handle = start(Server::builder().workers(2), files);
    let mut client = Client::connect(handle.local_addr());

    let app = client.get("/static/app.js");
    assert_eq!(app.status, 200);
    assert_eq!(app.body_text(), "console.log('app');\n");
    assert_eq!(client.get("/static/docs/").body_text(), "<h1>Docs</h1>\n");

    for outside in [
        "/app.js",
        "/",
        "/staticapp.js",
        "/statics/app.js",
        "/other/static/app.js",
    ] {
        assert_eq!(client.get(outside).status, 404, "{outside}");
    }

    // Directory redirects keep the prefix, and the query.
    let docs = client.get("/static/docs?page=2");
    assert_eq!(docs.status, 301);
    assert_eq!(docs.header("location"), Some("/static/docs/?page=2"));
    let top = client.get("/static");
    assert_eq!(top.status, 301);
    assert_eq!(top.header("location"), Some("/static/"));

    handle.shutdown();
}

#[test]
fn a_listing_under_the_prefix_links_inside_it() {
    let root = fixture("listing");
    let files = StaticFiles::new(root.path())
        .expect("root")
        .mount("/assets")
        .list_directories(true);
    let handle = start(Server::builder().workers(2), files);
    let mut client = Client::connect(handle.local_addr());

    let listing = client.get("/assets/plain/");
    assert_eq!(listing.status, 200);
    let html = listing.body_text();
    assert!(html.contains("<title>Index of /assets/plain/</title>"), "{html}");
    // Relative links: under /assets/plain/ they resolve to /assets/plain/a%20b.txt.
    assert!(html.contains("<a href=\"a%20b.txt\">a b.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"../\">"), "{html}");
    assert_eq!(client.get("/assets/plain/a%20b.txt").body_text(), "a b\n");

    let top = client.get("/assets/");
    assert!(top.body_text().contains("Index of /assets/"), "{}", top.body_text());
    assert!(
        !top.body_text().contains("../"),
        "the mount point links nowhere above it"
    );

    handle.shutdown();
}
