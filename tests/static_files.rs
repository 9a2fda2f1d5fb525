//! `StaticFiles` over real sockets: what a browser or an attacker sees on the wire.
//!
//! The handler's own unit tests call it directly; these send raw request targets
//! byte for byte, so nothing between the test and the server normalises them.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, wait_until, Client};
use tempfile::TempDir;

const INDEX: &str = "<!doctype html><title>root index</title><h1>Root</h1>\n";
const SUB_INDEX: &str = "<!doctype html><title>sub index</title><h1>Sub</h1>\n";
const STYLES: &str = "body { color: #333; }\n";
const SCRIPT: &str = "console.log('app');\n";
const HELLO: &str = "Hello, World!";
const BIG_LEN: usize = 300 * 1024;

/// The content of `big.bin`: no period of 256, so a byte sent from the wrong
/// offset does not match by chance.
fn pattern() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i % 251) as u8 ^ (i >> 10) as u8).collect()
}

/// A document root in a fresh temp directory, served by a two-worker server; the
/// directory is removed on drop once the server has stopped (fields drop in order).
///
/// ```text
/// <base>/secret.txt            the marker: where `/../secret.txt` would lead
/// <base>/outside/secret.txt    the marker: where `/link-out` leads
/// <base>/root/                 the served root
///     index.html css/styles.css js/app.js sub/index.html noindex/
///     big.bin hello.txt link-in.txt -> hello.txt link-out -> ../outside/secret.txt
/// ```
struct Site {
    handle: ServerHandle,
    base: TempDir,
    root: PathBuf,
    marker: String,
}

impl Site {
    fn start(name: &str) -> Site {
        let dir = scratch_dir(&format!("static-{name}"));
        let base = dir.path();
        let root = base.join("root");
        let marker = format!("NIOSERVE-SECRET-{}-{name}", std::process::id());
        for dir in ["css", "js", "sub", "noindex"] {
            fs::create_dir_all(root.join(dir)).expect("create fixture directory");
        }
        fs::create_dir_all(base.join("outside")).expect("create outside directory");
        let files: [(&Path, &[u8]); 8] = [
            (&base.join("secret.txt"), marker.as_bytes()),
            (&base.join("outside/secret.txt"), marker.as_bytes()),
            (&root.join("index.html"), INDEX.as_bytes()),
            (&root.join("css/styles.css"), STYLES.as_bytes()),
            (&root.join("js/app.js"), SCRIPT.as_bytes()),
            (&root.join("sub/index.html"), SUB_INDEX.as_bytes()),
            (&root.join("hello.txt"), HELLO.as_bytes()),
            (&root.join("big.bin"), &pattern()),
        ];
        for (path, content) in files {
            fs::write(path, content).expect("write fixture file");
        }
        std::os::unix::fs::symlink("hello.txt", root.join("link-in.txt")).expect("symlink inside");
        std::os::unix::fs::symlink(base.join("outside/secret.txt"), root.join("link-out")).expect("symlink out");

        let files = StaticFiles::new(&root).expect("static files root");
        let handle = start(Server::builder().workers(2), files);
        Site {
            handle,
            base: dir,
            root,
            marker,
        }
    }

    fn client(&self) -> Client {
        Client::connect(self.handle.local_addr())
    }
}

/// Asserts the connection still serves a request: no stray bytes were left on it.
fn assert_still_serves(client: &mut Client, context: &str) {
    let reply = client.get("/hello.txt");
    assert_eq!(reply.status, 200, "{context}: follow-up request");
    assert_eq!(reply.body, HELLO.as_bytes(), "{context}: follow-up body");
}

#[test]
fn no_request_target_reaches_outside_the_root() {
    let site = Site::start("traversal");
    let targets: &[&[u8]] = &[
        b"/../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/.%2e/secret.txt",
        b"/%2E%2E/secret.txt",
        b"/css/../../secret.txt",
        b"/sub/../../secret.txt",
        b"/..%2fsecret.txt",
        b"/%2e%2e%2fsecret.txt",
        b"/css/..%2f..%2fsecret.txt",
        b"/..%5csecret.txt",
        b"/%2e%2e%5csecret.txt",
        b"/..\\secret.txt",
        b"/index.html%00.txt",
        b"/link-out",
        b"/link-out/",
        b"//etc/passwd",
        b"/%252e%252e/secret.txt",
        b"/css/%2e%2e/%2e%2e/secret.txt",
        b"/%ff",
        b"/./../secret.txt",
        b"/..;/secret.txt",
        b"http://t/../secret.txt",
        b"http://t/%2e%2e/secret.txt",
    ];
    for &target in targets {
        let shown = String::from_utf8_lossy(target);
        let mut client = site.client();
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        client.send(&request);
        let reply = client.reply();

        assert!(
            matches!(reply.status, 400 | 403 | 404),
            "{shown}: got {} {:?}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains(&site.marker), "{shown}: the secret was served");
        assert!(!body.contains("root:"), "{shown}: /etc/passwd was served");

        if reply.closes() {
            // Only the parser refuses a request by closing; the handler's refusals
            // are ordinary responses.
            assert_eq!(reply.status, 400, "{shown}: closed after {}", reply.status);
            client.expect_closed();
        } else {
            assert_still_serves(&mut client, &shown);
        }
    }
    // The secret really is where `/../secret.txt` would lead: the refusals above
    // were not 404s for want of a target.
    assert_eq!(
        fs::read_to_string(site.base.path().join("secret.txt")).unwrap(),
        site.marker
    );
}

#[test]
fn directories_index_files_symlinks_and_missing_files() {
    let site = Site::start("layout");
    let mut client = site.client();

    let root = client.get("/");
    assert_eq!(root.status, 200);
    assert_eq!(root.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(root.body_text(), INDEX);

    let redirect = client.get("/sub");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/sub/"));

    let sub = client.get("/sub/");
    assert_eq!(sub.status, 200);
    assert_eq!(sub.body_text(), SUB_INDEX);

    assert_eq!(client.get("/noindex/").status, 403);

    let linked = client.get("/link-in.txt");
    assert_eq!(linked.status, 200);
    assert_eq!(linked.body_text(), HELLO);

    assert_eq!(client.get("/missing").status, 404);
    // Every answer above left the connection open.
    assert_still_serves(&mut client, "after the layout requests");
}

#[test]
fn content_type_follows_the_extension() {
    let site = Site::start("types");
    let mut client = site.client();

    let css = client.get("/css/styles.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.body_text(), STYLES);

    let js = client.get("/js/app.js");
    assert_eq!(js.status, 200);
    // RFC 9239: text/javascript, not the obsolete application/javascript.
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(js.body_text(), SCRIPT);

    let text = client.get("/hello.txt");
    assert_eq!(text.header("content-type"), Some("text/plain; charset=utf-8"));

    let binary = client.get("/big.bin");
    assert_eq!(binary.status, 200);
    assert_eq!(binary.header("content-type"), Some("application/octet-stream"));
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let site = Site::start("head");
    let mut client = site.client();
    for path in ["/", "/hello.txt", "/big.bin"] {
        client.send(format!("HEAD {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        let head = client.head_reply();
        // Had HEAD sent a body, this GET's response would not parse.
        let get = client.get(path);
        assert_eq!(get.status, 200, "{path}");
        assert_eq!(head.status, get.status, "{path}");
        for name in [
            "content-length",
            "etag",
            "last-modified",
            "content-type",
            "accept-ranges",
        ] {
            assert!(get.header(name).is_some(), "{path}: GET without {name}");
            assert_eq!(head.header(name), get.header(name), "{path}: {name}");
        }
        assert_eq!(
            get.header("content-length"),
            Some(&*get.body.len().to_string()),
            "{path}"
        );
    }
    assert_still_serves(&mut client, "after HEAD and GET");
}

#[test]
fn other_methods_are_not_allowed() {
    let site = Site::start("methods");
    let requests: [(&str, &[u8]); 3] = [
        (
            "POST",
            b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello=world",
        ),
        (
            "PUT",
            b"PUT /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nreplaced",
        ),
        ("DELETE", b"DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"),
    ];
    for (method, request) in requests {
        let mut client = site.client();
        client.send(request);
        let reply = client.reply();
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method}");
        if reply.closes() {
            client.expect_closed();
        } else {
            // The request body was consumed, not read as the next request.
            assert_still_serves(&mut client, method);
        }
    }
    assert_eq!(fs::read_to_string(site.root.join("hello.txt")).unwrap(), HELLO);
}

#[test]
fn conditional_requests_get_304_while_the_copy_is_current() {
    let site = Site::start("conditional");
    let mut client = site.client();
    let first = client.get("/hello.txt");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("etag").to_owned();
    let last_modified = first.header("last-modified").expect("last-modified").to_owned();

    let cases = [
        ("if-none-match", etag.as_str(), 304),
        ("if-none-match", "*", 304),
        ("if-none-match", "\"some-other-tag\"", 200),
        ("if-modified-since", last_modified.as_str(), 304),
        ("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT", 200),
    ];
    // One connection throughout: a 304 that carried a body would break the next reply.
    for (name, value, status) in cases {
        let reply = client.get_with("/hello.txt", &[(name, value)]);
        assert_eq!(reply.status, status, "{name}: {value}");
        assert_eq!(reply.header("etag"), Some(etag.as_str()), "{name}: {value}");
        if status == 304 {
            assert!(reply.body.is_empty(), "{name}: {value}");
        } else {
            assert_eq!(reply.body_text(), HELLO, "{name}: {value}");
        }
    }
    assert_still_serves(&mut client, "after the conditionals");
}

#[test]
fn byte_ranges_of_a_large_file() {
    let site = Site::start("ranges");
    let bytes = pattern();
    let total = BIG_LEN;
    let mut client = site.client();
    let etag = client.get("/big.bin").header("etag").expect("etag").to_owned();

    let partial = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=307100-", 307_100, total - 1),
        ("bytes=-50", total - 50, total - 1),
    ];
    for (range, first, last) in partial {
        let reply = client.get_with("/big.bin", &[("range", range)]);
        assert_eq!(reply.status, 206, "{range}");
        let content_range = format!("bytes {first}-{last}/{total}");
        assert_eq!(reply.header("content-range"), Some(content_range.as_str()), "{range}");
        assert_eq!(reply.body.len(), last - first + 1, "{range}");
        assert!(reply.body == bytes[first..=last], "{range}: wrong bytes");
    }

    let unsatisfiable = client.get_with("/big.bin", &[("range", "bytes=400000-")]);
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(unsatisfiable.header("content-range"), Some("bytes */307200"));

    // The client's copy is stale: the whole new file. (Several ranges of it are
    // tests/static_ranges.rs's.)
    let stale = client.get_with("/big.bin", &[("range", "bytes=0-99"), ("if-range", "\"stale-tag\"")]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.header("content-range"), None);
    assert!(stale.body == bytes, "not the whole file");

    let current = client.get_with("/big.bin", &[("range", "bytes=0-99"), ("if-range", &etag)]);
    assert_eq!(current.status, 206);
    assert_eq!(current.header("content-range"), Some("bytes 0-99/307200"));
    assert!(current.body == bytes[..100]);
}

#[test]
fn a_large_file_arrives_whole_and_correct() {
    let site = Site::start("large");
    let mut client = site.client();
    let reply = client.get("/big.bin");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-length"), Some("307200"));
    let expected = pattern();
    assert_eq!(reply.body.len(), expected.len());
    let first_difference = reply.body.iter().zip(&expected).position(|(got, want)| got != want);
    assert_eq!(first_difference, None, "big.bin differs at this offset");
    assert_still_serves(&mut client, "after big.bin");
}

#[test]
fn a_page_and_its_assets_share_one_connection() {
    let site = Site::start("keepalive");
    let mut client = site.client();
    for path in ["/", "/css/styles.css", "/js/app.js", "/hello.txt"] {
        let reply = client.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(!reply.closes(), "{path}");
    }
    wait_until("the four requests are counted", || site.handle.stats().requests == 4);
    assert_eq!(site.handle.stats().accepted, 1, "one connection for the whole page");
}
