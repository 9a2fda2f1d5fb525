//! Dot-files over real sockets: `.git/`, `.env` and the like are `404 Not Found` by
//! default, whatever the spelling; `/.well-known/` is served (RFC 8615); and
//! `StaticFiles::serve_hidden(true)` serves them all.

mod support;

use std::fs;

use nioserve::{Server, StaticFiles};
use support::{scratch_dir, start, Client};
use tempfile::TempDir;

/// A root with the classic leaks in it, removed on drop.
struct Tree(TempDir);

impl Tree {
    fn new(name: &str) -> Tree {
        let root = scratch_dir(&format!("hidden-{name}"));
        for dir in [".git", ".well-known", "app"] {
            fs::create_dir_all(root.path().join(dir)).expect("create directory");
        }
        for (name, content) in [
            (".env", "DATABASE_PASSWORD=hunter2\n"),
            (".git/config", "[remote \"origin\"]\n"),
            ("app/.htpasswd", "admin:$apr1$x\n"),
            (".well-known/security.txt", "Contact: mailto:security@example.com\n"),
            ("index.html", "<h1>home</h1>\n"),
        ] {
            fs::write(root.path().join(name), content).expect("write file");
        }
        Tree(root)
    }
}

const HIDDEN: [&str; 8] = [
    "/.env",
    "//.env",
    "/./.env",
    "/%2eenv",
    "/.git/config",
    "/.git/",
    "/%2Egit/config",
    "/app/.htpasswd",
];

#[test]
fn dot_files_are_not_found_by_default() {
    let tree = Tree::new("default");
    let handle = start(
        Server::builder().workers(2),
        StaticFiles::new(tree.0.path()).expect("root"),
    );
    let mut client = Client::connect(handle.local_addr());
    for path in HIDDEN {
        let reply = client.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.body, b"404 Not Found\n", "{path}");
    }
    let well_known = client.get("/.well-known/security.txt");
    assert_eq!(well_known.status, 200);
    assert_eq!(well_known.body_text(), "Contact: mailto:security@example.com\n");
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn serve_hidden_serves_them() {
    let tree = Tree::new("served");
    let files = StaticFiles::new(tree.0.path()).expect("root").serve_hidden(true);
    let handle = start(Server::builder().workers(2), files);
    let mut client = Client::connect(handle.local_addr());
    for path in HIDDEN {
        let reply = client.get(path);
        // `/.git/` is a directory without an index.
        let expected = if path.ends_with('/') { 403 } else { 200 };
        assert_eq!(reply.status, expected, "{path}");
    }
    assert_eq!(client.get("/.env").body_text(), "DATABASE_PASSWORD=hunter2\n");
}
