//! The handler called directly, without a server: what it answers for each path,
//! header and file on disk.

use std::os::unix::fs::{symlink, FileExt};
use std::process;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::conditional::{list_matches, Comparison, Validators, LAST_HTTP_DATE_SECS};
use super::*;
use crate::Body;

const SECRET: &[u8] = b"TOP SECRET: outside the root";
const INDEX: &[u8] = b"<h1>home</h1>\n";
const SUB_INDEX: &[u8] = b"<h1>sub</h1>\n";
const STYLES: &[u8] = b"body { color: red; }\n";
const DIGITS: &[u8] = b"0123456789";
const BINARY: &[u8] = &[0x00, 0x9f, 0x92, 0x96, 0xff, 0x01];

/// A directory tree under the system temp dir, removed on drop:
///
/// ```text
/// secret.txt              outside the root
/// outside/secret.txt      outside the root
/// root/index.html
/// root/css/styles.css
/// root/sub/index.html
/// root/noindex/notes.txt  a directory without index
/// root/digits.txt         0123456789, for ranges
/// root/payload.nioblob    binary, unknown extension
/// root/empty.txt
/// root/.hidden
/// root/inside-link        -> css/styles.css
/// root/css-link           -> css
/// root/outside-link       -> <base>/outside/secret.txt
/// root/outside-dir-link   -> <base>/outside
/// ```
struct Fixture {
    base: PathBuf,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("nioserve-static-files-{}-{unique}", process::id()));
        let root = base.join("root");
        let fixture = Fixture { base, root };
        let (base, root) = (&fixture.base, &fixture.root);

        for dir in [&root.join("css"), &root.join("sub"), &root.join("noindex")] {
            fs::create_dir_all(dir).unwrap();
        }
        fs::create_dir_all(base.join("outside")).unwrap();
        fs::write(base.join("secret.txt"), SECRET).unwrap();
        fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        for (name, content) in [
            ("index.html", INDEX),
            ("css/styles.css", STYLES),
            ("sub/index.html", SUB_INDEX),
            ("noindex/notes.txt", b"notes\n"),
            ("digits.txt", DIGITS),
            ("payload.nioblob", BINARY),
            ("empty.txt", b""),
            (".hidden", b"dot-file\n"),
        ] {
            fs::write(root.join(name), content).unwrap();
        }
        symlink("css/styles.css", root.join("inside-link")).unwrap();
        symlink("css", root.join("css-link")).unwrap();
        symlink(base.join("outside/secret.txt"), root.join("outside-link")).unwrap();
        symlink(base.join("outside"), root.join("outside-dir-link")).unwrap();
        fixture
    }

    /// Every file streamed from disk and looked up afresh, so responses show
    /// the file regions the server would send.
    fn files(&self) -> StaticFiles {
        StaticFiles::new(&self.root)
            .unwrap()
            .in_memory_up_to(0)
            .cache_validity(Duration::ZERO)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for &(name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Bytes::new().into()).unwrap()
}

fn get(files: &StaticFiles, uri: &str) -> Response {
    files.call(request(Method::GET, uri, &[]))
}

fn get_with(files: &StaticFiles, uri: &str, headers: &[(&str, &str)]) -> Response {
    files.call(request(Method::GET, uri, headers))
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().unwrap())
}

/// The bytes the server would send, read from the file for a file region.
fn body_bytes(response: &Response) -> Vec<u8> {
    match response.body() {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.to_vec(),
        Body::File(region) => {
            let mut bytes = vec![0; usize::try_from(region.len()).unwrap()];
            region.file().read_exact_at(&mut bytes, region.offset()).unwrap();
            bytes
        }
        Body::Reader(_) => panic!("a reader body is read only once: use `take_body_bytes`"),
        Body::Stream(_) => panic!("static files are never produced while written"),
    }
}

/// The bytes the server would send, for any body a static file response has.
fn take_body_bytes(response: Response) -> Vec<u8> {
    match response.into_body() {
        Body::Reader(mut reader) => {
            let mut bytes = Vec::new();
            while let crate::body::Piece::Bytes(piece) = reader.read_piece(7).unwrap() {
                bytes.extend_from_slice(&piece);
            }
            bytes
        }
        body => body_bytes(&Response::new(body)),
    }
}

fn region(response: &Response) -> (u64, u64) {
    match response.body() {
        Body::File(region) => (region.offset(), region.len()),
        other => panic!("expected a file region, got {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn new_requires_an_existing_directory() {
    let fixture = Fixture::new();
    let missing = StaticFiles::new(fixture.root.join("missing")).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    assert!(missing.to_string().contains("missing"), "{missing}");

    let file = StaticFiles::new(fixture.root.join("index.html")).unwrap_err();
    assert_eq!(file.kind(), io::ErrorKind::InvalidInput);
    assert!(file.to_string().contains("not a directory"), "{file}");

    // A root that is itself a symlink is resolved once, and works.
    let files = StaticFiles::new(fixture.root.join("css-link")).unwrap();
    assert_eq!(body_bytes(&get(&files, "/styles.css")), STYLES);
}

#[test]
fn hostile_paths_never_reach_outside_the_root() {
    let fixture = Fixture::new();
    let files = fixture.files().list_directories(true);
    let cases: &[(&str, StatusCode)] = &[
        ("/../secret.txt", StatusCode::BAD_REQUEST),
        ("/%2e%2e/secret.txt", StatusCode::BAD_REQUEST),
        ("/%2E%2E/secret.txt", StatusCode::BAD_REQUEST),
        ("/.%2e/secret.txt", StatusCode::BAD_REQUEST),
        ("/css/../../secret.txt", StatusCode::BAD_REQUEST),
        ("/css/%2e%2e/%2e%2e/secret.txt", StatusCode::BAD_REQUEST),
        ("/css/..", StatusCode::BAD_REQUEST),
        ("/%2e%2e%2fsecret.txt", StatusCode::BAD_REQUEST),
        ("/..%2fsecret.txt", StatusCode::BAD_REQUEST),
        ("/..%2Fsecret.txt", StatusCode::BAD_REQUEST),
        ("/..%5csecret.txt", StatusCode::BAD_REQUEST),
        ("/%5c..%5csecret.txt", StatusCode::BAD_REQUEST),
        ("/..\\secret.txt", StatusCode::BAD_REQUEST),
        ("/index.html%00.txt", StatusCode::BAD_REQUEST),
        ("/%ff", StatusCode::BAD_REQUEST),
        ("/%c0%ae%c0%ae/secret.txt", StatusCode::BAD_REQUEST), // overlong UTF-8 `..`
        ("http://example.com/../secret.txt", StatusCode::BAD_REQUEST),
        ("*", StatusCode::BAD_REQUEST),
        ("/outside-link", StatusCode::NOT_FOUND),
        ("/outside-dir-link/secret.txt", StatusCode::NOT_FOUND),
        ("/outside-dir-link/", StatusCode::NOT_FOUND),
        ("//etc/passwd", StatusCode::NOT_FOUND),
        ("/%252e%252e/secret.txt", StatusCode::NOT_FOUND), // literally `%2e%2e`
    ];
    for &(uri, expected) in cases {
        let response = get(&files, uri);
        assert_eq!(response.status(), expected, "{uri}");
        assert!(
            matches!(response.body(), Body::Bytes(_)),
            "{uri}: {:?}",
            response.body()
        );
        assert!(!contains(&body_bytes(&response), SECRET), "{uri}");
    }
}

#[test]
fn paths_map_to_files_indexes_and_redirects() {
    let fixture = Fixture::new();
    let files = fixture.files();
    let long_name = format!("/{}", "a".repeat(300));
    let cases: &[(&str, StatusCode, &[u8])] = &[
        ("/", StatusCode::OK, INDEX),
        ("/index.html", StatusCode::OK, INDEX),
        ("/sub/", StatusCode::OK, SUB_INDEX),
        ("/css/styles.css", StatusCode::OK, STYLES),
        ("/%63ss/styles.css", StatusCode::OK, STYLES),
        ("/css//styles.css", StatusCode::OK, STYLES),
        ("/./css/./styles.css", StatusCode::OK, STYLES),
        ("/inside-link", StatusCode::OK, STYLES),
        ("/css-link/styles.css", StatusCode::OK, STYLES),
        // Dot-files are refused unless `serve_hidden` (see `dot_files_are_refused_unless_served`).
        ("/.hidden", StatusCode::NOT_FOUND, b"404 Not Found\n"),
        ("/empty.txt", StatusCode::OK, b""),
        ("/noindex/", StatusCode::FORBIDDEN, b"403 Forbidden\n"),
        ("/missing.txt", StatusCode::NOT_FOUND, b"404 Not Found\n"),
        ("/index.html/", StatusCode::NOT_FOUND, b"404 Not Found\n"),
        // ENOTDIR: a file used as a directory.
        ("/index.html/more", StatusCode::NOT_FOUND, b"404 Not Found\n"),
        // ENAMETOOLONG.
        (&long_name, StatusCode::NOT_FOUND, b"404 Not Found\n"),
    ];
    for &(uri, status, body) in cases {
        let response = get(&files, uri);
        assert_eq!(response.status(), status, "{uri}");
        assert_eq!(body_bytes(&response), body, "{uri}");
        if !status.is_success() {
            assert_eq!(header(&response, "content-type"), Some("text/plain; charset=utf-8"));
        }
    }
}

#[test]
fn a_directory_without_its_slash_is_redirected() {
    let fixture = Fixture::new();
    let files = fixture.files();
    let cases = [
        ("/sub", "/sub/"),
        ("/noindex", "/noindex/"),
        ("/sub?x=1&y", "/sub/?x=1&y"),
        ("/css-link", "/css-link/"),
        // Never `//sub/`, which a browser would read as the host `sub`.
        ("//sub", "/sub/"),
    ];
    for (uri, location) in cases {
        let response = get(&files, uri);
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{uri}");
        assert_eq!(header(&response, "location"), Some(location), "{uri}");
    }
}

#[test]
fn index_file_can_be_renamed() {
    let fixture = Fixture::new();
    fs::write(fixture.root.join("sub/home.htm"), "home").unwrap();
    let files = fixture.files().index_file("home.htm");
    assert_eq!(body_bytes(&get(&files, "/sub/")), b"home");
    assert_eq!(get(&files, "/").status(), StatusCode::FORBIDDEN);
}

#[test]
fn an_index_linking_out_of_the_root_is_not_served() {
    let fixture = Fixture::new();
    symlink(
        fixture.base.join("outside/secret.txt"),
        fixture.root.join("noindex/index.html"),
    )
    .unwrap();
    // As if there were no index: forbidden, or listed.
    let response = get(&fixture.files(), "/noindex/");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!contains(&body_bytes(&response), SECRET));
    let listing = get(&fixture.files().list_directories(true), "/noindex/");
    assert_eq!(listing.status(), StatusCode::OK);
    assert!(!contains(&body_bytes(&listing), SECRET));
}

#[test]
fn directory_listing_escapes_names() {
    let fixture = Fixture::new();
    fs::write(fixture.root.join("noindex/<b>&\"x\".txt"), "").unwrap();
    fs::create_dir(fixture.root.join("noindex/a dir")).unwrap();
    let files = fixture.files().list_directories(true);

    let response = get(&files, "/noindex/");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(body_bytes(&response)).unwrap();
    assert!(html.contains("<title>Index of /noindex/</title>"), "{html}");
    assert!(html.contains(r#"<a href="../">../</a>"#), "{html}");
    assert!(
        html.contains(r#"<a href="%3Cb%3E%26%22x%22.txt">&lt;b&gt;&amp;&quot;x&quot;.txt</a>"#),
        "{html}"
    );
    assert!(html.contains(r#"<a href="a%20dir/">a dir/</a>"#), "{html}");
    assert!(html.contains(r#"<a href="notes.txt">notes.txt</a>"#), "{html}");
    assert!(!html.contains("<b>"), "{html}");

    // Still a redirect without the slash; an index still wins.
    assert_eq!(get(&files, "/noindex").status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(body_bytes(&get(&files, "/")), INDEX);
    // Listed, but not served.
    let root_listing = get(&files.clone().index_file("none"), "/");
    let html = String::from_utf8(body_bytes(&root_listing)).unwrap();
    assert!(html.contains(r#"<a href="outside-link">"#), "{html}");
    assert!(!html.contains("../"), "{html}");
    assert_eq!(get(&files, "/outside-link").status(), StatusCode::NOT_FOUND);
}

#[test]
fn content_type_follows_the_extension() {
    let fixture = Fixture::new();
    for name in ["app.js", "app.mjs", "data.json", "logo.svg", "photo.png", "README"] {
        fs::write(fixture.root.join(name), "x").unwrap();
    }
    let files = fixture.files();
    let cases = [
        ("/", "text/html; charset=utf-8"),
        ("/css/styles.css", "text/css; charset=utf-8"),
        ("/inside-link", "application/octet-stream"), // the name asked for
        ("/digits.txt", "text/plain; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.mjs", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/logo.svg", "image/svg+xml"),
        ("/photo.png", "image/png"),
        ("/payload.nioblob", "application/octet-stream"),
        ("/README", "application/octet-stream"),
    ];
    for (uri, content_type) in cases {
        let response = get(&files, uri);
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(header(&response, "content-type"), Some(content_type), "{uri}");
    }
}

#[test]
fn a_file_is_sent_as_a_region_of_the_file() {
    let fixture = Fixture::new();
    let response = get(&fixture.files(), "/payload.nioblob");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(region(&response), (0, BINARY.len() as u64));
    assert_eq!(body_bytes(&response), BINARY);
    assert_eq!(header(&response, "accept-ranges"), Some("bytes"));
    // The server frames the body from its length.
    assert_eq!(header(&response, "content-length"), None);
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let fixture = Fixture::new();
    let files = fixture.files();
    for uri in [
        "/",
        "/css/styles.css",
        "/payload.nioblob",
        "/empty.txt",
        "/sub",
        "/noindex/",
        "/missing.txt",
        "/../secret.txt",
    ] {
        let full = get(&files, uri);
        let head = files.call(request(Method::HEAD, uri, &[]));
        assert_eq!(head.status(), full.status(), "{uri}");
        assert!(matches!(head.body(), Body::Empty), "{uri}");
        let length = full.body().len().expect("a file's length is known").to_string();
        assert_eq!(header(&head, "content-length"), Some(&*length), "{uri}");
        let mut head_headers = head.headers().clone();
        head_headers.remove(header::CONTENT_LENGTH);
        assert_eq!(&head_headers, full.headers(), "{uri}");
    }
}

#[test]
fn head_ignores_range() {
    // RFC 9110 §14.2: range handling is defined for GET only.
    let fixture = Fixture::new();
    let head = fixture
        .files()
        .call(request(Method::HEAD, "/digits.txt", &[("range", "bytes=0-4")]));
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), Some("10"));
    assert_eq!(header(&head, "content-range"), None);
}

#[test]
fn other_methods_are_not_allowed() {
    let fixture = Fixture::new();
    let files = fixture.files();
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        let response = files.call(request(method.clone(), "/index.html", &[]));
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(header(&response, "allow"), Some("GET, HEAD"), "{method}");
        assert_eq!(body_bytes(&response), b"405 Method Not Allowed\n");
    }
}

#[test]
fn validators_are_made_of_mtime_and_size() {
    let fixture = Fixture::new();
    let metadata = fs::metadata(fixture.root.join("digits.txt")).unwrap();
    let mtime = metadata.modified().unwrap();
    let secs = mtime.duration_since(UNIX_EPOCH).unwrap().as_secs();

    let response = get(&fixture.files(), "/digits.txt");
    assert_eq!(header(&response, "etag"), Some(&*format!("\"{secs:x}-a\"")));
    assert_eq!(
        header(&response, "last-modified"),
        Some(&*httpdate::fmt_http_date(mtime))
    );
}

#[test]
fn times_no_http_date_can_show_are_clamped() {
    // File systems cannot store all of these (ext4 stops in 2446), so this asks
    // `Validators` directly.
    let cases = [
        (
            UNIX_EPOCH - Duration::from_secs(86_400),
            "\"0-a\"",
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ),
        (
            UNIX_EPOCH + Duration::from_millis(1_500),
            "\"1-a\"",
            "Thu, 01 Jan 1970 00:00:01 GMT",
        ),
    ];
    for (modified, etag, last_modified) in cases {
        let validators = Validators::new(modified, 10);
        assert_eq!(validators.etag, etag);
        assert_eq!(httpdate::fmt_http_date(validators.last_modified), last_modified);
    }
    // A file dated in the future keeps its time in the tag, but was last modified
    // no later than now (RFC 9110 §8.8.2.1).
    let before = SystemTime::now() - Duration::from_secs(1);
    let future = Validators::new(UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE_SECS + 86_400), 10);
    assert_eq!(future.etag, "\"3afff4417f-a\"");
    assert!((before..=SystemTime::now()).contains(&future.last_modified));
}

#[test]
fn conditional_requests() {
    let fixture = Fixture::new();
    let files = fixture.files();
    let plain = get(&files, "/digits.txt");
    let etag = header(&plain, "etag").unwrap().to_owned();
    let last_modified = header(&plain, "last-modified").unwrap().to_owned();
    let weak = format!("W/{etag}");
    let listed = format!("\"nope\", W/\"x,y\" ,{etag}");

    let not_modified = StatusCode::NOT_MODIFIED;
    let ok = StatusCode::OK;
    let cases: &[(&[(&str, &str)], StatusCode)] = &[
        (&[("if-none-match", &etag)], not_modified),
        (&[("if-none-match", "*")], not_modified),
        (&[("if-none-match", &listed)], not_modified),
        (&[("if-none-match", &weak)], not_modified),
        (&[("if-none-match", "\"nope\""), ("if-none-match", &etag)], not_modified),
        (&[("if-none-match", "\"nope\"")], ok),
        (&[("if-none-match", "nope")], ok),
        (&[("if-none-match", "\"nope\", garbage, ")], ok),
        (&[("if-modified-since", &last_modified)], not_modified),
        (&[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")], not_modified),
        (&[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")], ok),
        (&[("if-modified-since", "yesterday")], ok),
        // RFC 9110 §13.1.3: If-Modified-Since is ignored next to If-None-Match.
        (
            &[("if-none-match", "\"nope\""), ("if-modified-since", &last_modified)],
            ok,
        ),
        (
            &[
                ("if-none-match", &etag),
                ("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ],
            not_modified,
        ),
    ];
    for &(headers, status) in cases {
        for method in [Method::GET, Method::HEAD] {
            let response = files.call(request(method.clone(), "/digits.txt", headers));
            assert_eq!(response.status(), status, "{method} {headers:?}");
            assert_eq!(header(&response, "etag"), Some(&*etag));
            assert_eq!(header(&response, "last-modified"), Some(&*last_modified));
            if status == not_modified {
                assert!(matches!(response.body(), Body::Empty));
                assert_eq!(header(&response, "content-length"), Some("10"));
                assert_eq!(header(&response, "content-type"), None);
            }
        }
    }
}

/// What a `Range` request for the 10 bytes of `digits.txt` should get.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Partial {
        offset: u64,
        len: u64,
    },
    /// `multipart/byteranges` of these ranges, as (first, last).
    Multipart(&'static [(u64, u64)]),
    Whole,
    Unsatisfiable,
}

#[test]
fn ranges() {
    use Answer::{Multipart, Partial, Unsatisfiable, Whole};
    let fixture = Fixture::new();
    let files = fixture.files();
    let cases = [
        ("bytes=0-4", Partial { offset: 0, len: 5 }),
        ("bytes=5-", Partial { offset: 5, len: 5 }),
        ("bytes=-3", Partial { offset: 7, len: 3 }),
        ("bytes=9-9", Partial { offset: 9, len: 1 }),
        ("bytes=0-999999", Partial { offset: 0, len: 10 }),
        ("bytes=-20", Partial { offset: 0, len: 10 }),
        ("bytes=2-99999999999999999999999", Partial { offset: 2, len: 8 }),
        ("BYTES=0-4", Partial { offset: 0, len: 5 }),
        ("bytes=0-4,", Partial { offset: 0, len: 5 }),
        ("bytes=100-", Unsatisfiable),
        ("bytes=10-12", Unsatisfiable),
        ("bytes=-0", Unsatisfiable),
        ("bytes=0-1,5-6", Multipart(&[(0, 1), (5, 6)])),
        ("bytes=7-,0-0", Multipart(&[(7, 9), (0, 0)])),
        // The unsatisfiable range is dropped; overlapping ones coalesce.
        ("bytes=0-1,20-", Partial { offset: 0, len: 2 }),
        ("bytes=2-4,3-5", Partial { offset: 2, len: 4 }),
        ("bytes=0-1,2-3", Partial { offset: 0, len: 4 }),
        // More than the file: only overlap does that. Ignored.
        ("bytes=0-,0-", Whole),
        ("bytes=0-5,3-9", Whole),
        // RFC 9110 §14.2: a list of which no range is satisfiable is a 416 too.
        ("bytes=10-,20-30", Unsatisfiable),
        ("bytes=-0, 100-", Unsatisfiable),
        // One invalid range-spec makes the whole header invalid: ignored.
        ("bytes=100-,abc", Whole),
        ("bytes=abc", Whole),
        ("bytes=5-2", Whole),
        ("bytes=+1-2", Whole),
        ("bytes=1", Whole),
        ("bytes=", Whole),
        ("bytes 0-4", Whole),
        ("items=0-4", Whole),
    ];
    for (range, answer) in cases {
        let response = get_with(&files, "/digits.txt", &[("range", range)]);
        let content_range = header(&response, "content-range");
        match answer {
            Partial { offset, len } => {
                assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
                let last = offset + len - 1;
                let expected = format!("bytes {offset}-{last}/10");
                assert_eq!(content_range, Some(&*expected), "{range}");
                assert_eq!(region(&response), (offset, len), "{range}");
                let bytes = &DIGITS[offset as usize..=last as usize];
                assert_eq!(body_bytes(&response), bytes, "{range}");
                assert!(header(&response, "etag").is_some(), "{range}");
            }
            Multipart(ranges) => {
                assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
                assert_eq!(content_range, None, "{range}");
                let content_type = header(&response, "content-type").unwrap();
                let boundary = content_type.strip_prefix("multipart/byteranges; boundary=").unwrap();
                let mut expected = Vec::new();
                for (i, &(first, last)) in ranges.iter().enumerate() {
                    let delimiter = if i == 0 { "" } else { "\r\n" };
                    expected.extend_from_slice(
                        format!(
                            "{delimiter}--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                             Content-Range: bytes {first}-{last}/10\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    expected.extend_from_slice(&DIGITS[first as usize..=last as usize]);
                }
                expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                assert!(header(&response, "etag").is_some(), "{range}");
                assert_eq!(response.body().len(), Some(expected.len() as u64), "{range}");
                assert_eq!(take_body_bytes(response), expected, "{range}");
            }
            Whole => {
                assert_eq!(response.status(), StatusCode::OK, "{range}");
                assert_eq!(content_range, None, "{range}");
                assert_eq!(region(&response), (0, 10), "{range}");
            }
            Unsatisfiable => {
                let status = StatusCode::RANGE_NOT_SATISFIABLE;
                assert_eq!(response.status(), status, "{range}");
                assert_eq!(content_range, Some("bytes */10"), "{range}");
                assert_eq!(body_bytes(&response), b"416 Range Not Satisfiable\n");
            }
        }
    }
}

#[test]
fn a_range_of_an_empty_file_is_ignored() {
    let fixture = Fixture::new();
    let files = fixture.files();
    for range in ["bytes=0-", "bytes=-5", "bytes=-0"] {
        let response = get_with(&files, "/empty.txt", &[("range", range)]);
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert_eq!(region(&response), (0, 0), "{range}");
    }
}

#[test]
fn if_range_decides_whether_the_range_applies() {
    let fixture = Fixture::new();
    let files = fixture.files();
    let plain = get(&files, "/digits.txt");
    let etag = header(&plain, "etag").unwrap().to_owned();
    let last_modified = header(&plain, "last-modified").unwrap().to_owned();
    let weak = format!("W/{etag}");

    let cases = [
        (&*etag, StatusCode::PARTIAL_CONTENT),
        (&*last_modified, StatusCode::PARTIAL_CONTENT),
        ("\"nope\"", StatusCode::OK),
        // Strong comparison: a weak tag never matches.
        (&*weak, StatusCode::OK),
        ("Thu, 01 Jan 1970 00:00:00 GMT", StatusCode::OK),
        ("Fri, 01 Jan 2100 00:00:00 GMT", StatusCode::OK),
        ("garbage", StatusCode::OK),
    ];
    for (if_range, status) in cases {
        let response = get_with(&files, "/digits.txt", &[("range", "bytes=2-3"), ("if-range", if_range)]);
        assert_eq!(response.status(), status, "{if_range}");
        let expected = if status == StatusCode::OK { (0, 10) } else { (2, 2) };
        assert_eq!(region(&response), expected, "{if_range}");
    }
}

#[test]
fn preconditions_are_evaluated_in_rfc_order() {
    let fixture = Fixture::new();
    let files = fixture.files();
    let plain = get(&files, "/digits.txt");
    let etag = header(&plain, "etag").unwrap().to_owned();
    let last_modified = header(&plain, "last-modified").unwrap().to_owned();
    let weak = format!("W/{etag}");
    let listed = format!("\"nope\", {etag}");
    let before = "Thu, 01 Jan 1970 00:00:00 GMT";
    let after = "Fri, 01 Jan 2100 00:00:00 GMT";

    let ok = StatusCode::OK;
    let failed = StatusCode::PRECONDITION_FAILED;
    let not_modified = StatusCode::NOT_MODIFIED;
    let partial = StatusCode::PARTIAL_CONTENT;
    let range = ("range", "bytes=2-3");
    let cases: &[(&[(&str, &str)], StatusCode)] = &[
        (&[("if-match", &etag)], ok),
        (&[("if-match", "*")], ok),
        (&[("if-match", &listed)], ok),
        (&[("if-match", "\"nope\""), ("if-match", &etag)], ok),
        (&[("if-match", "\"nope\"")], failed),
        // §13.1.1: strong comparison, so a weak tag never matches.
        (&[("if-match", &weak)], failed),
        (&[("if-match", "garbage")], failed),
        (&[("if-unmodified-since", &last_modified)], ok),
        (&[("if-unmodified-since", after)], ok),
        (&[("if-unmodified-since", before)], failed),
        // §13.1.4: an invalid date is ignored.
        (&[("if-unmodified-since", "yesterday")], ok),
        // §13.2.2 step 2: only without If-Match.
        (&[("if-match", &etag), ("if-unmodified-since", before)], ok),
        (&[("if-match", "\"nope\""), ("if-unmodified-since", after)], failed),
        // Step 1 before step 3: 412 wins over 304.
        (&[("if-match", "\"nope\""), ("if-none-match", &etag)], failed),
        (&[("if-unmodified-since", before), ("if-modified-since", after)], failed),
        (&[("if-match", &etag), ("if-none-match", &etag)], not_modified),
        // With Range: the precondition first, then the range.
        (&[range, ("if-match", "\"nope\"")], failed),
        (&[range, ("if-unmodified-since", before)], failed),
        (&[range, ("if-match", &etag)], partial),
        (&[range, ("if-unmodified-since", &last_modified)], partial),
    ];
    for &(headers, status) in cases {
        for method in [Method::GET, Method::HEAD] {
            let response = files.call(request(method.clone(), "/digits.txt", headers));
            let expected = if method == Method::HEAD && status == partial {
                ok
            } else {
                status
            };
            assert_eq!(response.status(), expected, "{method} {headers:?}");
            if status == failed && method == Method::GET {
                assert_eq!(body_bytes(&response), b"412 Precondition Failed\n");
            }
        }
    }
}

#[test]
fn dot_files_are_refused_unless_served() {
    let fixture = Fixture::new();
    fs::create_dir_all(fixture.root.join(".git")).unwrap();
    fs::write(fixture.root.join(".git/config"), "[core]\n").unwrap();
    fs::write(fixture.root.join("noindex/.htpasswd"), "admin:x\n").unwrap();
    fs::create_dir_all(fixture.root.join(".well-known")).unwrap();
    fs::write(fixture.root.join(".well-known/security.txt"), "Contact: x\n").unwrap();
    fs::write(fixture.root.join(".well-known/.private"), "private\n").unwrap();

    let refusing = fixture.files().list_directories(true);
    let serving = fixture.files().list_directories(true).serve_hidden(true);
    let cases = [
        ("/.hidden", false),
        ("/%2ehidden", false),
        ("/.git/config", false),
        ("/.git/", false),
        ("/.git", false),
        ("/noindex/.htpasswd", false),
        ("/.well-known/.private", false),
        ("/.well-known/security.txt", true),
    ];
    for (uri, served_anyway) in cases {
        let refused = get(&refusing, uri);
        let expected = if served_anyway {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(refused.status(), expected, "{uri}");
        let served = get(&serving, uri);
        assert!(
            matches!(served.status().as_u16(), 200 | 301),
            "{uri} with serve_hidden: {}",
            served.status()
        );
    }
    // Listings leave out what would be refused.
    let listing = String::from_utf8(body_bytes(&get(&refusing, "/noindex/"))).unwrap();
    assert!(
        listing.contains("notes.txt") && !listing.contains("htpasswd"),
        "{listing}"
    );
    let root = String::from_utf8(body_bytes(&get(&refusing.clone().index_file("none"), "/"))).unwrap();
    assert!(
        root.contains(".well-known/") && !root.contains(".git") && !root.contains(".hidden"),
        "{root}"
    );
    let listing = String::from_utf8(body_bytes(&get(&serving, "/noindex/"))).unwrap();
    assert!(listing.contains(".htpasswd"), "{listing}");
}

#[test]
fn the_component_walk_and_openat2_agree() {
    // The walk is what non-Linux systems use, and what Linux falls back to; both
    // must give the same answer for every path, symlinks included.
    let fixture = Fixture::new();
    let root = &fixture.root;
    symlink(root.join("css/styles.css"), root.join("absolute-inside")).unwrap();
    symlink(root.join("css"), root.join("absolute-dir")).unwrap();
    symlink("../root/css/styles.css", root.join("out-and-back")).unwrap();
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    symlink("css/../sub/index.html", root.join("dotdot-inside")).unwrap();
    symlink("/etc/passwd", root.join("etc-passwd")).unwrap();

    let served: &[(&str, &[u8])] = &[
        ("index.html", INDEX),
        ("css/styles.css", STYLES),
        ("inside-link", STYLES),
        ("css-link/styles.css", STYLES),
        ("absolute-inside", STYLES),
        ("absolute-dir/styles.css", STYLES),
        ("dotdot-inside", SUB_INDEX),
    ];
    let refused = [
        "outside-link",
        "outside-dir-link/secret.txt",
        "out-and-back",
        "loop-a",
        "etc-passwd",
        "missing",
        "index.html/more",
    ];
    let dir = Root::new(fs::canonicalize(root).unwrap()).unwrap();
    let canonical = fs::canonicalize(root).unwrap();
    let root_fd = File::open(root).unwrap();
    let walked =
        |relative: &str| open::walk(rustix::fd::AsFd::as_fd(&root_fd), &canonical, Path::new(relative)).map(File::from);
    for &(relative, content) in served {
        for (how, file) in [
            ("open", dir.open(Path::new(relative)).ok()),
            ("walk", walked(relative).ok()),
        ] {
            let mut file = file.unwrap_or_else(|| panic!("{how} {relative}: not opened"));
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut file, &mut bytes).unwrap();
            assert_eq!(bytes, content, "{how} {relative}");
        }
    }
    for relative in refused {
        assert!(dir.open(Path::new(relative)).is_err(), "open {relative}");
        assert!(walked(relative).is_err(), "walk {relative}");
    }
    // Through the handler too: an absolute link inside the root is served.
    assert_eq!(body_bytes(&get(&fixture.files(), "/absolute-inside")), STYLES);
    assert_eq!(get(&fixture.files(), "/out-and-back").status(), StatusCode::NOT_FOUND);
}

#[test]
fn every_spelling_of_a_path_shares_one_cached_file() {
    let fixture = Fixture::new();
    let files = StaticFiles::new(&fixture.root).unwrap().in_memory_up_to(0);
    let spellings = [
        "/digits.txt",
        "//digits.txt",
        "/./digits.txt",
        "/%64igits.txt",
        "/.//digits.txt",
    ];
    let first = get(&files, spellings[0]);
    let Body::File(first) = first.body() else {
        panic!("not a file region")
    };
    for spelling in spellings {
        let response = get(&files, spelling);
        let Body::File(region) = response.body() else {
            panic!("{spelling}: not a file region")
        };
        assert!(
            std::ptr::eq(region.file(), first.file()),
            "{spelling}: a descriptor of its own"
        );
    }
    // A link to the same file shares it too, with its own content type.
    let link = get(&files, "/inside-link");
    let styles = get(&files, "/css/styles.css");
    let (Body::File(link_region), Body::File(styles_region)) = (link.body(), styles.body()) else {
        panic!("not file regions")
    };
    assert!(std::ptr::eq(link_region.file(), styles_region.file()));
    assert_eq!(header(&link, "content-type"), Some("application/octet-stream"));
    assert_eq!(header(&styles, "content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(files.cache.counts(), (2, 2));
}

#[test]
fn special_files_are_not_found() {
    let fixture = Fixture::new();
    let fifo = fixture.root.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RWXU,
        0,
    )
    .unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(fixture.root.join("socket")).unwrap();
    let files = fixture.files();
    for uri in ["/fifo", "/socket", "/fifo/", "/socket/x"] {
        assert_eq!(get(&files, uri).status(), StatusCode::NOT_FOUND, "{uri}");
    }
}

#[test]
fn io_errors_map_to_statuses() {
    let path = Path::new("x");
    let cases = [
        (io::ErrorKind::NotFound, StatusCode::NOT_FOUND),
        (io::ErrorKind::PermissionDenied, StatusCode::FORBIDDEN),
        (io::ErrorKind::Other, StatusCode::INTERNAL_SERVER_ERROR),
    ];
    for (kind, status) in cases {
        assert_eq!(status_for_io_error(path, &io::Error::from(kind)), status, "{kind:?}");
    }
    let errnos = [
        (rustix::io::Errno::MFILE, StatusCode::SERVICE_UNAVAILABLE),
        (rustix::io::Errno::NFILE, StatusCode::SERVICE_UNAVAILABLE),
        (rustix::io::Errno::LOOP, StatusCode::NOT_FOUND),
        (rustix::io::Errno::XDEV, StatusCode::NOT_FOUND),
        (rustix::io::Errno::NXIO, StatusCode::NOT_FOUND),
        (rustix::io::Errno::NOTDIR, StatusCode::NOT_FOUND),
        (rustix::io::Errno::IO, StatusCode::INTERNAL_SERVER_ERROR),
    ];
    for (errno, status) in errnos {
        assert_eq!(status_for_io_error(path, &io::Error::from(errno)), status, "{errno:?}");
    }
    let unavailable = response::error_response(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&unavailable, "retry-after"), Some("1"));
}

#[test]
fn none_match_lists() {
    let etag = "\"5f-a\"";
    let cases = [
        ("\"5f-a\"", true),
        ("W/\"5f-a\"", true),
        ("*", true),
        (" * ", true),
        ("\"a\",\"5f-a\"", true),
        ("\"a\" , W/\"5f-a\"", true),
        ("\"a,\\\"5f-a\"", false),
        ("\"5f-a", false),
        ("5f-a", false),
        ("\"5F-A\"", false),
        ("", false),
        (",,", false),
    ];
    for (list, matches) in cases {
        assert_eq!(list_matches(list, etag, Comparison::Weak), matches, "{list}");
    }
}

#[test]
fn small_files_are_served_from_memory_and_large_ones_from_disk() {
    let fixture = Fixture::new();
    let files = StaticFiles::new(&fixture.root)
        .unwrap()
        .in_memory_up_to(DIGITS.len() as u64);
    let small = get(&files, "/digits.txt");
    assert!(matches!(small.body(), Body::Bytes(_)), "{:?}", small.body());
    assert_eq!(body_bytes(&small), DIGITS);
    let ranged = get_with(&files, "/digits.txt", &[("range", "bytes=2-4")]);
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(body_bytes(&ranged), b"234");
    let large = get(&files, "/css/styles.css");
    assert_eq!(region(&large), (0, STYLES.len() as u64));
    // Served again from the cache: the same bytes and validators.
    let again = get(&files, "/digits.txt");
    assert_eq!(body_bytes(&again), DIGITS);
    assert_eq!(header(&again, "etag"), header(&small, "etag"));
}

#[test]
fn a_changed_file_is_noticed_once_the_cache_validity_passes() {
    let fixture = Fixture::new();
    let path = fixture.root.join("changing.txt");
    fs::write(&path, b"first version").unwrap();
    let trusting = StaticFiles::new(&fixture.root)
        .unwrap()
        .cache_validity(Duration::from_secs(3600));
    let checking = StaticFiles::new(&fixture.root).unwrap().cache_validity(Duration::ZERO);
    assert_eq!(body_bytes(&get(&trusting, "/changing.txt")), b"first version");
    assert_eq!(body_bytes(&get(&checking, "/changing.txt")), b"first version");

    fs::write(&path, b"second, longer version").unwrap();
    // Within its validity the cache answers without asking the disk...
    assert_eq!(body_bytes(&get(&trusting, "/changing.txt")), b"first version");
    // ...and with none, every request sees the file as it is now.
    assert_eq!(body_bytes(&get(&checking, "/changing.txt")), b"second, longer version");

    fs::remove_file(&path).unwrap();
    assert_eq!(get(&checking, "/changing.txt").status(), StatusCode::NOT_FOUND);
}
