//! `StaticFiles` content-coding negotiation over real sockets: precompressed
//! siblings, text compressed once in memory, and what `Accept-Encoding`, ranges,
//! conditionals and `HEAD` make of them, as a browser or a hostile client sees it.

mod support;

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, Client, Reply};
use tempfile::TempDir;

const BIG_LEN: usize = 300 * 1024;

/// `app.js`: about 6 KiB of JavaScript, text enough to compress well.
fn script() -> Vec<u8> {
    (0..200)
        .map(|i| format!("export function handler{i}(event) {{ return event.detail + {i}; }}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Bytes with no pattern a compressor could use (xorshift64).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("a valid gzip body");
    plain
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut plain)
        .expect("a valid brotli body");
    plain
}

/// A document root in a fresh temp directory, served by a two-worker server; the
/// directory is removed on drop once the server has stopped (fields drop in order).
///
/// ```text
/// <base>/outside/secret.gz     where the symlink sibling leads
/// <base>/root/
///     app.js                   ~6 KiB of text: compressed on the fly
///     style.css                with style.css.br (100 B), .zst (150 B), .gz (200 B)
///     data.bin, data.bin.gz    a binary type with a sibling
///     plain.bin                a binary type without one
///     small.js                 text below 256 bytes (240)
///     image.png                compressible bytes, but an image type
///     big.txt, big.txt.gz      300 KiB: streamed from disk, with a real gzip sibling
///     huge.txt                 300 KiB of text without a sibling
///     secret.bin, secret.bin.gz -> ../outside/secret.gz
///     fifo.bin, fifo.bin.gz    the sibling a FIFO
/// ```
struct Site {
    handle: ServerHandle,
    _base: TempDir,
    root: PathBuf,
}

impl Site {
    fn start(name: &str) -> Site {
        Site::start_with(name, |files| files)
    }

    fn start_with(name: &str, configure: impl FnOnce(StaticFiles) -> StaticFiles) -> Site {
        let dir = scratch_dir(&format!("encoding-{name}"));
        let base = dir.path();
        let root = base.join("root");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(base.join("outside")).unwrap();
        let big = big_text();
        let files: Vec<(PathBuf, Vec<u8>)> = vec![
            (base.join("outside/secret.gz"), gzip(b"NIOSERVE-SECRET")),
            (root.join("app.js"), script()),
            (root.join("style.css"), b"body { color: #333; }\n".repeat(50)),
            (root.join("style.css.br"), sibling_bytes("br", 100)),
            (root.join("style.css.zst"), sibling_bytes("zst", 150)),
            (root.join("style.css.gz"), sibling_bytes("gz", 200)),
            (root.join("data.bin"), noise(2048)),
            (root.join("data.bin.gz"), sibling_bytes("data-gz", 300)),
            (root.join("plain.bin"), noise(2048)),
            (root.join("small.js"), b"console.log(1);\n".repeat(15)),
            (root.join("image.png"), vec![0; 4096]),
            (root.join("big.txt.gz"), gzip(&big)),
            (root.join("big.txt"), big.clone()),
            (root.join("huge.txt"), big),
            (root.join("secret.bin"), noise(2048)),
            (root.join("fifo.bin"), noise(2048)),
        ];
        for (path, content) in files {
            fs::write(path, content).unwrap();
        }
        std::os::unix::fs::symlink(base.join("outside/secret.gz"), root.join("secret.bin.gz")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo.bin.gz"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RWXU,
            0,
        )
        .unwrap();

        let files = configure(StaticFiles::new(&root).unwrap());
        let handle = start(Server::builder().workers(2), files);
        Site {
            handle,
            _base: dir,
            root,
        }
    }

    /// `METHOD path` with the given extra header lines, on a new connection.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        Client::connect(self.handle.local_addr()).request(method, path, headers)
    }

    fn get(&self, path: &str, accept_encoding: Option<&str>) -> Reply {
        match accept_encoding {
            Some(value) => self.request("GET", path, &[("Accept-Encoding", value)]),
            None => self.request("GET", path, &[]),
        }
    }
}

fn big_text() -> Vec<u8> {
    (0..BIG_LEN).map(|i| b"abcdefghij\n"[i % 11]).collect()
}

/// A sibling's content: its name repeated to `len` bytes, to tell which one came.
fn sibling_bytes(name: &str, len: usize) -> Vec<u8> {
    name.bytes().cycle().take(len).collect()
}

fn encoding(reply: &Reply) -> Option<&str> {
    reply.header("content-encoding")
}

#[test]
fn accept_encoding_chooses_the_representation_over_the_wire() {
    let site = Site::start("table");
    let plain = script();
    let plain_type = site.get("/app.js", None).header("content-type").unwrap().to_string();
    assert!(plain_type.contains("javascript"), "{plain_type}");
    // (Accept-Encoding, the coding of the answer for app.js; None = 406)
    let table: [(Option<&str>, Option<Option<&str>>); 11] = [
        (None, Some(None)),
        (Some("gzip"), Some(Some("gzip"))),
        (Some("br;q=1, gzip;q=0.5"), Some(Some("br"))),
        (Some("br;q=0.5, gzip;q=1"), Some(Some("gzip"))),
        (Some("BR, GZIP"), Some(Some("br"))),
        (Some("gzip;q=0"), Some(None)),
        (Some("identity;q=0, gzip"), Some(Some("gzip"))),
        // Nothing listed that the file has, and identity refused.
        (Some("identity;q=0"), None),
        (Some("*;q=0"), None),
        (Some("*;q=0, identity"), Some(None)),
        (Some("deflate"), Some(None)),
    ];
    for (accept, expected) in table {
        let reply = site.get("/app.js", accept);
        let Some(coding) = expected else {
            assert_eq!(reply.status, 406, "{accept:?}");
            assert_eq!(reply.header("vary"), Some("accept-encoding"), "{accept:?}");
            continue;
        };
        assert_eq!(reply.status, 200, "{accept:?}");
        assert_eq!(encoding(&reply), coding, "{accept:?}");
        assert_eq!(reply.header("vary"), Some("accept-encoding"), "{accept:?}");
        // The original's type, whatever the coding.
        assert_eq!(reply.header("content-type"), Some(plain_type.as_str()), "{accept:?}");
        let decoded = match coding {
            None => reply.body.clone(),
            Some("gzip") => gunzip(&reply.body),
            Some("br") => unbrotli(&reply.body),
            Some(other) => panic!("unexpected coding {other}"),
        };
        assert!(decoded == plain, "{accept:?}: the body does not decode to the file");
    }

    // `*`: every coding equally welcome, so the smallest is sent.
    let gzip_len = site.get("/app.js", Some("gzip")).body.len();
    let br_len = site.get("/app.js", Some("br")).body.len();
    let star = site.get("/app.js", Some("*"));
    let smallest = if br_len < gzip_len { "br" } else { "gzip" };
    assert_eq!(encoding(&star), Some(smallest));
    assert!(gzip_len < plain.len() && br_len < plain.len());
}

#[test]
fn siblings_are_chosen_by_preference_then_by_size() {
    let site = Site::start("siblings");
    let table = [
        ("gzip, br, zstd", "br", sibling_bytes("br", 100)),
        ("gzip, zstd", "zstd", sibling_bytes("zst", 150)),
        ("gzip", "gzip", sibling_bytes("gz", 200)),
        ("gzip;q=1, br;q=0.5, zstd;q=0.9", "gzip", sibling_bytes("gz", 200)),
        ("zstd, gzip;q=0.1", "zstd", sibling_bytes("zst", 150)),
    ];
    let mut etags = vec![site.get("/style.css", None).header("etag").unwrap().to_string()];
    for (accept, coding, body) in table {
        let reply = site.get("/style.css", Some(accept));
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(encoding(&reply), Some(coding), "{accept}");
        assert_eq!(reply.body, body, "{accept}: not the sibling's bytes");
        assert_eq!(reply.header("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(reply.header("vary"), Some("accept-encoding"));
        etags.push(reply.header("etag").unwrap().to_string());
    }
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), 4, "each representation has its own ETag: {etags:?}");

    // A sibling asked for by its own name is a file like any other.
    let direct = site.get("/style.css.gz", Some("gzip, br"));
    assert_eq!(direct.status, 200);
    assert_eq!(direct.header("content-type"), Some("application/gzip"));
    assert_eq!(encoding(&direct), None);
    assert_eq!(direct.body, sibling_bytes("gz", 200));
}

#[test]
fn a_binary_file_is_sent_compressed_only_from_a_sibling() {
    let site = Site::start("binary");
    let with_sibling = site.get("/data.bin", Some("gzip, identity;q=0"));
    assert_eq!(with_sibling.status, 200);
    assert_eq!(encoding(&with_sibling), Some("gzip"));
    assert_eq!(with_sibling.body, sibling_bytes("data-gz", 300));
    assert_eq!(with_sibling.header("content-type"), Some("application/octet-stream"));

    let without = site.get("/plain.bin", Some("gzip, identity;q=0"));
    assert_eq!(without.status, 406);
    let without = site.get("/plain.bin", Some("gzip, br"));
    assert_eq!((without.status, encoding(&without)), (200, None));
    assert_eq!(without.body, noise(2048));

    // Text below the threshold, and an image however compressible: as they are.
    for path in ["/small.js", "/image.png"] {
        let reply = site.get(path, Some("gzip, br"));
        assert_eq!((reply.status, encoding(&reply)), (200, None), "{path}");
        assert_eq!(reply.body, fs::read(site.root.join(&path[1..])).unwrap(), "{path}");
    }
}

#[test]
fn conditional_requests_compare_the_chosen_representations_etag() {
    let site = Site::start("conditional");
    let plain = site.get("/app.js", None);
    let gzip = site.get("/app.js", Some("gzip"));
    let plain_etag = plain.header("etag").unwrap();
    let gzip_etag = gzip.header("etag").unwrap();
    assert_ne!(plain_etag, gzip_etag);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));

    // The gzip form's tag: not modified, and the 304 says which and that it varies.
    let not_modified = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", gzip_etag)],
    );
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), Some(gzip_etag));
    assert_eq!(not_modified.header("vary"), Some("accept-encoding"));

    // The plain file's tag while asking for gzip: a different representation, so 200.
    let other = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", plain_etag)],
    );
    assert_eq!(other.status, 200);
    assert_eq!(encoding(&other), Some("gzip"));
    assert_eq!(other.body, gzip.body);

    // If-Match is strong and per representation too.
    let failed = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-Match", plain_etag)],
    );
    assert_eq!(failed.status, 412);
    let matched = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-Match", gzip_etag)],
    );
    assert_eq!(matched.status, 200);
}

#[test]
fn ranges_and_head_apply_to_the_compressed_bytes() {
    let site = Site::start("range");
    let whole = site.get("/app.js", Some("gzip")).body;
    let etag = site.get("/app.js", Some("gzip")).header("etag").unwrap().to_string();
    assert_eq!(gunzip(&whole), script());
    let len = whole.len();

    for (range, first, last) in [
        ("bytes=10-99", 10, 99),
        ("bytes=-50", len - 50, len - 1),
        ("bytes=0-", 0, len - 1),
    ] {
        let part = site.request("GET", "/app.js", &[("Accept-Encoding", "gzip"), ("Range", range)]);
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(encoding(&part), Some("gzip"), "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {first}-{last}/{len}").as_str()),
            "{range}"
        );
        assert_eq!(part.body, whole[first..=last], "{range}");
    }
    // Several ranges of an encoded form: a multipart body has no place for its
    // Content-Encoding, so the whole form comes, still gzip (RFC 9110 §14.2).
    let several = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-9,20-29")],
    );
    assert_eq!(several.status, 200);
    assert_eq!(encoding(&several), Some("gzip"));
    assert_eq!(several.body, whole);
    // The same ranges of the plain file are a multipart 206.
    let plain = site.request("GET", "/app.js", &[("Range", "bytes=0-9,20-29")]);
    assert_eq!(plain.status, 206);
    assert!(
        plain
            .header("content-type")
            .is_some_and(|value| value.starts_with("multipart/byteranges; boundary=")),
        "{:?}",
        plain.header("content-type")
    );
    assert_eq!(encoding(&plain), None);
    // If-Range with the gzip form's tag resumes; with another tag, the whole form comes.
    let resumed = site.request(
        "GET",
        "/app.js",
        &[
            ("Accept-Encoding", "gzip"),
            ("Range", "bytes=100-"),
            ("If-Range", &etag),
        ],
    );
    assert_eq!((resumed.status, resumed.body.as_slice()), (206, &whole[100..]));
    let plain_etag = site.get("/app.js", None).header("etag").unwrap().to_string();
    let restarted = site.request(
        "GET",
        "/app.js",
        &[
            ("Accept-Encoding", "gzip"),
            ("Range", "bytes=100-"),
            ("If-Range", &plain_etag),
        ],
    );
    assert_eq!((restarted.status, restarted.body.len()), (200, len));
    let unsatisfiable = site.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("Range", &format!("bytes={len}-"))],
    );
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(
        unsatisfiable.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );

    let head = site.request("HEAD", "/app.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!(head.status, 200);
    assert_eq!(encoding(&head), Some("gzip"));
    assert_eq!(head.header("content-length"), Some(len.to_string().as_str()));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    let plain_head = site.request("HEAD", "/app.js", &[]);
    assert_eq!(encoding(&plain_head), None);
    assert_eq!(
        plain_head.header("content-length"),
        Some(script().len().to_string().as_str())
    );
}

#[test]
fn a_large_file_streamed_from_disk_is_compressed_only_by_its_sibling() {
    let site = Site::start("large");
    let big = site.get("/big.txt", Some("gzip, br"));
    assert_eq!(big.status, 200);
    assert_eq!(encoding(&big), Some("gzip"));
    assert_eq!(big.body, gzip(&big_text()));
    assert_eq!(gunzip(&big.body), big_text());
    // A range of the sibling, sent from disk.
    let part = site.request(
        "GET",
        "/big.txt",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=5-104")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, big.body[5..105]);

    let plain = site.get("/big.txt", None);
    assert_eq!((encoding(&plain), plain.body.len()), (None, BIG_LEN));
    let huge = site.get("/huge.txt", Some("gzip, br"));
    assert_eq!((huge.status, encoding(&huge), huge.body.len()), (200, None, BIG_LEN));
}

#[test]
fn a_sibling_that_leads_out_of_the_root_or_is_a_fifo_is_not_served() {
    let site = Site::start("unsafe-siblings");
    for path in ["/secret.bin", "/fifo.bin"] {
        // As many times as there are workers, and more: a FIFO must hold none.
        for _ in 0..4 {
            let reply = site.get(path, Some("gzip"));
            assert_eq!((reply.status, encoding(&reply)), (200, None), "{path}");
            assert_eq!(reply.body, fs::read(site.root.join(&path[1..])).unwrap(), "{path}");
            let refused = site.get(path, Some("gzip, identity;q=0"));
            assert_eq!(refused.status, 406, "{path}: a sibling was found");
        }
    }
}

#[test]
fn a_file_changed_on_disk_gets_a_fresh_compressed_form() {
    let site = Site::start_with("changed", |files| files.cache_validity(Duration::ZERO));
    let first = site.get("/app.js", Some("gzip"));
    assert_eq!(gunzip(&first.body), script());

    let changed = b"const changed = 'yes, changed';\n".repeat(100);
    fs::write(site.root.join("app.js"), &changed).unwrap();
    let second = site.get("/app.js", Some("gzip"));
    assert_eq!(encoding(&second), Some("gzip"));
    assert!(gunzip(&second.body) == changed, "the old compressed form was served");
    assert_ne!(second.header("etag"), first.header("etag"));
    let brotli = site.get("/app.js", Some("br"));
    assert!(unbrotli(&brotli.body) == changed);

    // A sibling appearing later is found at the next revalidation.
    fs::write(site.root.join("app.js.zst"), sibling_bytes("zst", 50)).unwrap();
    let zstd = site.get("/app.js", Some("zstd"));
    assert_eq!(encoding(&zstd), Some("zstd"));
    assert_eq!(zstd.body, sibling_bytes("zst", 50));
}

#[test]
fn compression_and_siblings_can_be_turned_off() {
    let site = Site::start_with("off", |files| files.compress(false).precompressed(false));
    for path in ["/app.js", "/style.css", "/big.txt"] {
        let reply = site.get(path, Some("gzip, br, zstd"));
        assert_eq!((reply.status, encoding(&reply)), (200, None), "{path}");
        assert_eq!(reply.header("vary"), None, "{path}");
    }
    let on_disk_only = Site::start_with("siblings-only", |files| files.compress(false));
    assert_eq!(encoding(&on_disk_only.get("/app.js", Some("gzip"))), None);
    assert_eq!(encoding(&on_disk_only.get("/style.css", Some("gzip"))), Some("gzip"));
}

#[test]
fn hostile_accept_encoding_values_are_answered_sanely() {
    let site = Site::start("hostile");
    let thousands = "x;q=0.5,".repeat(1500) + "gzip";
    let long_token = format!("{}, br", "g".repeat(12_000));
    let table: [(&str, Option<&str>); 12] = [
        (&thousands, Some("gzip")),
        (&long_token, Some("br")),
        ("gzip;q=2", None),
        ("gzip;q=-1", None),
        ("gzip;q=0.0001", None),
        ("gzip;q=1.5, br;q=nan", None),
        ("br;q=0.0001, gzip;q=0.001", Some("gzip")),
        ("gzip;q", None),
        (";;;,,,;q=1,=,*;", Some("br")),
        ("gzip;;q=0.5;;", Some("gzip")),
        ("\tgzip\t;\tq=0.5\t", Some("gzip")),
        (",,,", None),
    ];
    let mut client = Client::connect(site.handle.local_addr());
    for (accept, expected) in table {
        client.send(format!("GET /app.js HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {accept}\r\n\r\n").as_bytes());
        let reply = client.reply();
        let shown = &accept[..accept.len().min(40)];
        assert_eq!(reply.status, 200, "{shown}");
        assert_eq!(encoding(&reply), expected, "{shown}");
    }
    // Bytes that are not visible ASCII: the line is ignored, the next one counts.
    client.send(
        b"GET /app.js HTTP/1.1\r\nHost: test\r\nAccept-Encoding: identity;q=0, \xff\xfe\r\nAccept-Encoding: br\r\n\r\n",
    );
    let reply = client.reply();
    assert_eq!((reply.status, encoding(&reply)), (200, Some("br")));
    // The same connection still serves.
    assert_eq!(client.get("/small.js").status, 200);
}
