//! Pages served in place of what was asked, and the caching they are sent with,
//! over real sockets on real directories: error pages (the root's `404.html` by
//! default, one per status when configured), the single-page-app fallback, the
//! `Cache-Control` policy, and directory listings with sizes and dates.
//!
//! This test binary installs a logger that keeps the `warn` lines of the static
//! files, so a test can count how often an unusable page was reported.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::StatusCode;
use log::Level;
use nioserve::{CachePolicy, Server, StaticFiles};
use rustix::fs::{mknodat, FileType, Mode, CWD};
use support::{capture_log, scratch_dir, start, CapturedLog, Client, Reply};
use tempfile::TempDir;

const INDEX: &str = "<!DOCTYPE html><div id=app>shell</div>\n";
const NOT_FOUND_PAGE: &str = "<!DOCTYPE html><h1>Lost? This page is not here.</h1>\n";
const FORBIDDEN_PAGE: &str = "<!DOCTYPE html><h1>Not for you.</h1>\n";
const NOT_ALLOWED_PAGE: &str = "<!DOCTYPE html><h1>Only GET and HEAD.</h1>\n";

/// A served tree under a directory of its own, removed on drop:
///
/// ```text
/// outside.html            beside the root, not in it
/// root/index.html
/// root/404.html
/// root/errors/403.html, errors/405.html
/// root/noindex/notes.txt  a directory without an index
/// root/app.3f9a2c1b.js, main-4e5d6f7a.css, styles.css, logo.png
/// root/.env
/// ```
struct Tree {
    base: TempDir,
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let base = scratch_dir(&format!("pages-{name}"));
        let root = base.path().join("root");
        for dir in ["errors", "noindex"] {
            fs::create_dir_all(root.join(dir)).expect("create directory");
        }
        fs::write(base.path().join("outside.html"), "<h1>outside the root</h1>\n").expect("write outside.html");
        for (name, content) in [
            ("index.html", INDEX),
            ("404.html", NOT_FOUND_PAGE),
            ("errors/403.html", FORBIDDEN_PAGE),
            ("errors/405.html", NOT_ALLOWED_PAGE),
            ("noindex/notes.txt", "notes\n"),
            ("app.3f9a2c1b.js", "console.log('hashed');\n"),
            ("main-4e5d6f7a.css", "body { color: red; }\n"),
            ("styles.css", "body { color: blue; }\n"),
            ("logo.png", "not really a png"),
            (".env", "SECRET=1\n"),
        ] {
            fs::write(root.join(name), content).expect("write file");
        }
        Tree { base, root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

fn serve(files: StaticFiles) -> (nioserve::ServerHandle, Client) {
    let handle = start(Server::builder().workers(2), files);
    let client = Client::connect(handle.local_addr());
    (handle, client)
}

/// Asserts `reply` is the error `status` dressed in `page`, with nothing a cache or
/// a range request could take for the resource itself.
fn assert_error_page(reply: &Reply, status: u16, page: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}");
    assert_eq!(reply.body_text(), page, "{what}");
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{what}");
    for validator in [
        "etag",
        "last-modified",
        "accept-ranges",
        "content-range",
        "cache-control",
    ] {
        assert_eq!(reply.header(validator), None, "{what}: {validator}");
    }
}

/// The warnings kept by this test binary's logger.
fn warnings() -> &'static CapturedLog {
    capture_log("nioserve::static_files", Level::Warn)
}

/// How many warnings so far name `path`.
fn warnings_about(path: &Path) -> usize {
    let path = path.display().to_string();
    warnings().lines().iter().filter(|line| line.contains(&path)).count()
}

#[test]
fn a_missing_path_gets_the_roots_404_html_as_a_404() {
    let tree = Tree::new("default-404");
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root"));

    for path in ["/missing", "/no/such/dir/file.css", "/.env", "/noindex/notes.txt/"] {
        assert_error_page(&client.get(path), 404, NOT_FOUND_PAGE, path);
    }
    let head = client.request("HEAD", "/missing", &[]);
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(NOT_FOUND_PAGE.len().to_string().as_str())
    );
    assert_eq!(head.header("content-type"), Some("text/html; charset=utf-8"));
    // Other errors keep their one-line body unless a page is set for them.
    let forbidden = client.get("/noindex/");
    assert_eq!((forbidden.status, forbidden.body_text()), (403, "403 Forbidden\n"));
    assert_eq!(client.get("/../x").body_text(), "400 Bad Request\n");
    // The page itself is still a file like any other.
    let page = client.get("/404.html");
    assert_eq!(page.status, 200);
    assert!(page.header("etag").is_some());

    let (_handle, mut plain) = serve(StaticFiles::new(&tree.root).expect("root").clear_error_pages());
    let reply = plain.get("/missing");
    assert_eq!((reply.status, reply.body_text()), (404, "404 Not Found\n"));
}

#[test]
fn configured_pages_dress_their_status_and_keep_its_headers() {
    let tree = Tree::new("configured");
    let files = StaticFiles::new(&tree.root)
        .expect("root")
        .error_page(StatusCode::FORBIDDEN, "errors/403.html")
        .error_page(StatusCode::METHOD_NOT_ALLOWED, "/errors/405.html");
    let (_handle, mut client) = serve(files);

    assert_error_page(&client.get("/noindex/"), 403, FORBIDDEN_PAGE, "directory without index");
    let head = client.request("HEAD", "/noindex/", &[]);
    assert_eq!((head.status, head.body.len()), (403, 0));
    assert_eq!(
        head.header("content-length"),
        Some(FORBIDDEN_PAGE.len().to_string().as_str())
    );

    let post = client.request("POST", "/index.html", &[("Content-Length", "0")]);
    assert_error_page(&post, 405, NOT_ALLOWED_PAGE, "POST");
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // The default 404 page is still there beside them.
    assert_error_page(&client.get("/missing"), 404, NOT_FOUND_PAGE, "missing");
}

#[test]
fn conditionals_and_ranges_on_a_missing_path_never_get_304_or_206() {
    let tree = Tree::new("conditional");
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root"));
    let page = client.get("/404.html");
    let etag = page.header("etag").expect("the page's ETag").to_owned();
    let last_modified = page
        .header("last-modified")
        .expect("the page's Last-Modified")
        .to_owned();

    let cases: [(&str, &str); 6] = [
        ("If-None-Match", &etag),
        ("If-None-Match", "*"),
        ("If-Modified-Since", &last_modified),
        ("If-Modified-Since", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("Range", "bytes=0-3"),
        ("Range", "bytes=-5"),
    ];
    for (name, value) in cases {
        let reply = client.request("GET", "/missing", &[(name, value)]);
        assert_error_page(&reply, 404, NOT_FOUND_PAGE, &format!("{name}: {value}"));
    }
    let ranged = client.request("GET", "/missing", &[("Range", "bytes=0-3"), ("If-Range", &etag)]);
    assert_error_page(&ranged, 404, NOT_FOUND_PAGE, "Range with If-Range");
    // A 416 of an existing file may be dressed too, and keeps its Content-Range.
    let files = StaticFiles::new(&tree.root)
        .expect("root")
        .error_page(StatusCode::RANGE_NOT_SATISFIABLE, "errors/403.html");
    let (_handle, mut client) = serve(files);
    let unsatisfiable = client.request("GET", "/styles.css", &[("Range", "bytes=999-")]);
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(unsatisfiable.body_text(), FORBIDDEN_PAGE);
    assert_eq!(unsatisfiable.header("content-range"), Some("bytes */22"));
}

#[test]
fn an_unservable_page_falls_back_to_plain_text_and_is_reported_once() {
    warnings();
    let tree = Tree::new("unservable");
    fs::remove_file(tree.path("404.html")).expect("remove 404.html");
    symlink(tree.base.path().join("outside.html"), tree.path("out-link.html")).expect("symlink out of the root");
    mknodat(CWD, tree.path("fifo.html"), FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    fs::create_dir(tree.path("dir.html")).expect("a directory named like a page");

    // Without a 404.html, the default page is silently absent.
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root"));
    let reply = client.get("/missing");
    assert_eq!((reply.status, reply.body_text()), (404, "404 Not Found\n"));
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(warnings_about(&tree.path("404.html")), 0);

    for page in ["missing.html", "out-link.html", "fifo.html", "dir.html"] {
        let files = StaticFiles::new(&tree.root)
            .expect("root")
            .error_page(StatusCode::NOT_FOUND, page);
        let (_handle, mut client) = serve(files);
        for _ in 0..3 {
            let reply = client.get("/missing");
            assert_eq!((reply.status, reply.body_text()), (404, "404 Not Found\n"), "{page}");
            assert_eq!(
                reply.header("content-type"),
                Some("text/plain; charset=utf-8"),
                "{page}"
            );
        }
        assert_eq!(
            warnings_about(&tree.path(page)),
            1,
            "{page}: one warning for three requests"
        );
    }
    // Nor can a page be a dot-file or leave the root: that is a mistake in the program.
    for page in [".env", "../outside.html", "errors/"] {
        let tried = std::panic::catch_unwind(|| {
            StaticFiles::new(&tree.root)
                .expect("root")
                .error_page(StatusCode::NOT_FOUND, page)
        });
        assert!(tried.is_err(), "{page} was accepted");
    }
}

#[test]
fn the_spa_fallback_answers_routes_and_nothing_else() {
    let tree = Tree::new("spa");
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root").spa_fallback("index.html"));

    for route in ["/app/settings", "/app/settings/", "/users/42", "/v1.2/users"] {
        let reply = client.get(route);
        assert_eq!(reply.status, 200, "{route}");
        assert_eq!(reply.body_text(), INDEX, "{route}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{route}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{route}");
    }
    let head = client.request("HEAD", "/app/settings", &[]);
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(INDEX.len().to_string().as_str()));
    // It is the index page's representation, revalidated as such.
    let etag = client.get("/index.html").header("etag").expect("ETag").to_owned();
    let revalidated = client.request("GET", "/app/settings", &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("cache-control"), Some("no-cache"));

    // Missing assets, dot-files and refused paths are not routes.
    for (path, status) in [
        ("/missing.png", 404),
        ("/app/logo.png", 404),
        ("/api/x.json", 404),
        ("/.env", 404),
        ("/.git/config", 404),
        ("/.hidden-route", 404),
        ("/app/../x", 400),
        ("/app%2Fsettings", 400),
        ("/noindex/", 403),
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, status, "{path}");
        assert_ne!(reply.body_text(), INDEX, "{path}");
    }
    assert_error_page(&client.get("/missing.png"), 404, NOT_FOUND_PAGE, "missing asset");
    // Files that exist are themselves.
    assert_eq!(client.get("/styles.css").body_text(), "body { color: blue; }\n");

    // Without the option, a route is a 404.
    let (_handle, mut plain) = serve(StaticFiles::new(&tree.root).expect("root"));
    assert_eq!(plain.get("/app/settings").status, 404);
}

#[test]
fn the_spa_fallback_under_a_mount_is_the_mounted_roots_index() {
    warnings();
    let tree = Tree::new("spa-mount");
    let files = StaticFiles::new(&tree.root)
        .expect("root")
        .mount("/static")
        .spa_fallback("index.html")
        // Every request asks the disk, so the removal below is seen at once.
        .cache_validity(Duration::ZERO);
    let (_handle, mut client) = serve(files);
    let reply = client.get("/static/app/settings");
    assert_eq!((reply.status, reply.body_text()), (200, INDEX));
    // Outside the prefix is no route of this app.
    assert_eq!(client.get("/app/settings").status, 404);
    assert_eq!(client.get("/staticapp").status, 404);

    // A missing fallback leaves the 404 (with its page), reported once.
    fs::remove_file(tree.path("index.html")).expect("remove index.html");
    for _ in 0..2 {
        assert_error_page(
            &client.get("/static/app/settings"),
            404,
            NOT_FOUND_PAGE,
            "no index.html",
        );
    }
    assert_eq!(warnings_about(&tree.path("index.html")), 1);
}

#[test]
fn cache_control_follows_the_rules_on_200_206_and_304() {
    let tree = Tree::new("cache-control");
    let policy = CachePolicy::new()
        .parse_rule("*.png=public, max-age=86400")
        .expect("rule")
        .append(CachePolicy::recommended());
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root").cache_control(policy));

    let immutable = "public, max-age=31536000, immutable";
    for (path, expected) in [
        ("/app.3f9a2c1b.js", immutable),
        ("/main-4e5d6f7a.css", immutable),
        ("/", "no-cache"),
        ("/index.html", "no-cache"),
        ("/styles.css", "no-cache"),
        ("/logo.png", "public, max-age=86400"),
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("cache-control"), Some(expected), "{path}");
        let etag = reply.header("etag").expect("ETag").to_owned();
        let not_modified = client.request("GET", path, &[("If-None-Match", &etag)]);
        assert_eq!(not_modified.status, 304, "{path}");
        assert_eq!(not_modified.header("cache-control"), Some(expected), "{path}: 304");
        let partial = client.request("GET", path, &[("Range", "bytes=0-1")]);
        assert_eq!(partial.status, 206, "{path}");
        assert_eq!(partial.header("cache-control"), Some(expected), "{path}: 206");
        let head = client.request("HEAD", path, &[]);
        assert_eq!(head.header("cache-control"), Some(expected), "{path}: HEAD");
    }
    // Errors and redirects are not files: no Cache-Control.
    for path in ["/missing.js", "/noindex/", "/noindex", "/../x"] {
        let reply = client.get(path);
        assert!(reply.status >= 300, "{path}");
        assert_eq!(reply.header("cache-control"), None, "{path}");
    }
    let failed = client.request("GET", "/styles.css", &[("If-Match", "\"other\"")]);
    assert_eq!((failed.status, failed.header("cache-control")), (412, None));

    // By default, no policy: no header, as before.
    let (_handle, mut plain) = serve(StaticFiles::new(&tree.root).expect("root"));
    assert_eq!(plain.get("/app.3f9a2c1b.js").header("cache-control"), None);
}

#[test]
fn a_listing_shows_sizes_and_dates_and_escapes_hostile_names() {
    let tree = Tree::new("listing");
    let hostile = "<script>&\"'.txt";
    fs::write(tree.path("noindex").join(hostile), "x".repeat(1234)).expect("write the hostile name");
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root").list_directories(true));

    let listing = client.get("/noindex/");
    assert_eq!(listing.status, 200);
    let html = listing.body_text();
    assert!(!html.contains("<script>"), "{html}");
    let row = html
        .lines()
        .find(|line| line.contains("&lt;script&gt;&amp;&quot;&#39;.txt</a>"))
        .unwrap_or_else(|| panic!("no escaped row in {html}"));
    assert!(row.contains(r#"href="%3Cscript%3E%26%22%27.txt""#), "{row}");
    assert!(row.contains(">1234<"), "size in {row}");
    // The modification date, in UTC, of a file written just now.
    let year = httpdate::fmt_http_date(std::time::SystemTime::now());
    let year = year.split(' ').nth(3).expect("year");
    assert!(row.contains(&format!(">{year}-")), "date in {row}");
    let notes = html
        .lines()
        .find(|line| line.contains(">notes.txt<"))
        .expect("notes.txt row");
    assert!(notes.contains(">6<"), "{notes}");
}

#[test]
fn every_link_a_listing_offers_leads_somewhere() {
    let tree = Tree::new("listing-links");
    // Legal names on Linux; `\` is a separator on Windows, and to browsers.
    for name in ["back\\slash.txt", "a b?c#d%e.txt", "ünïcödé.txt", "new\nline.txt"] {
        fs::write(tree.path("noindex").join(name), "x").expect("write a strange name");
    }
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root").list_directories(true));
    let listing = client.get("/noindex/");
    assert_eq!(listing.status, 200);
    let links: Vec<String> = listing
        .body_text()
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|link| *link != "../")
        .map(str::to_owned)
        .collect();
    assert!(links.len() >= 4, "{links:?}");
    for link in links {
        let reply = client.get(&format!("/noindex/{link}"));
        assert_eq!(
            reply.status, 200,
            "the listing offers {link}, which is {}",
            reply.status
        );
    }
}

#[test]
fn a_glob_question_mark_stands_for_one_character_in_any_script() {
    let tree = Tree::new("cache-control-unicode");
    fs::create_dir_all(tree.path("icons")).expect("create icons");
    for name in ["a.png", "é.png", "中.png", "ab.png"] {
        fs::write(tree.path("icons").join(name), "not really a png").expect("write icon");
    }
    let policy = CachePolicy::new()
        .parse_rule("/icons/?.png=public, max-age=86400")
        .expect("rule")
        .parse_rule("*=no-store")
        .expect("rule");
    let (_handle, mut client) = serve(StaticFiles::new(&tree.root).expect("root").cache_control(policy));
    for (path, expected) in [
        ("/icons/a.png", "public, max-age=86400"),
        ("/icons/%C3%A9.png", "public, max-age=86400"),
        ("/icons/%E4%B8%AD.png", "public, max-age=86400"),
        ("/icons/ab.png", "no-store"),
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("cache-control"), Some(expected), "{path}");
    }
}
