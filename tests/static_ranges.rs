//! Several byte ranges over real sockets (RFC 9110 §14.2, §14.6): a
//! `multipart/byteranges` body parsed back into its parts and checked against the
//! file, for a file held in memory and for one streamed from disk; coalescing;
//! unsatisfiable ranges dropped; and the abusive sets (too many, overlapping)
//! answered with the whole file, never with more than it.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, Client, PATIENCE};
use tempfile::TempDir;

/// `small.txt`: held in memory (under the 64 KiB default).
const SMALL_LEN: usize = 10 * 1024;
/// `big.bin`: streamed from disk.
const BIG_LEN: usize = 300 * 1024;

/// Bytes with no short period, so a byte sent from the wrong offset does not
/// match by chance; printable for the text file.
fn pattern(len: usize, printable: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let byte = (i % 251) as u8 ^ (i >> 10) as u8;
            if printable {
                b'!' + byte % 90
            } else {
                byte
            }
        })
        .collect()
}

/// A root with `small.txt` and `big.bin`, served by a two-worker server; removed on
/// drop once the server has stopped (fields drop in order).
struct Site {
    handle: ServerHandle,
    root: TempDir,
}

impl Site {
    fn start(name: &str, configure: impl FnOnce(StaticFiles) -> StaticFiles) -> Site {
        let root = scratch_dir(&format!("ranges-{name}"));
        fs::write(root.path().join("small.txt"), pattern(SMALL_LEN, true)).expect("write small.txt");
        fs::write(root.path().join("big.bin"), pattern(BIG_LEN, false)).expect("write big.bin");
        let files = configure(StaticFiles::new(root.path()).expect("static files root"));
        let handle = start(Server::builder().workers(2), files);
        Site { handle, root }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }
}

/// A whole exchange on a connection of its own: the request (with
/// `Connection: close`), and everything the server sent until it closed.
struct Exchange {
    status: u16,
    headers: Vec<(String, String)>,
    /// Every byte after the head, up to the close.
    body: Vec<u8>,
}

impl Exchange {
    fn run(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Exchange {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("read timeout");
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send request");
        let mut received = Vec::new();
        stream.read_to_end(&mut received).expect("read until the server closes");

        let head_len = find(&received, b"\r\n\r\n").expect("a complete head") + 4;
        let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut parsed_headers);
        parsed.parse(&received[..head_len]).expect("valid response head");
        Exchange {
            status: parsed.code.expect("status"),
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect(),
            body: received[head_len..].to_vec(),
        }
    }

    fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Exchange {
        Exchange::run(addr, "GET", path, headers)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length`, asserted to be exactly the number of body bytes sent.
    fn exact_length(&self) -> usize {
        let length: usize = self.header("content-length").expect("Content-Length").parse().unwrap();
        assert_eq!(length, self.body.len(), "Content-Length and the bytes sent differ");
        length
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
struct Part {
    headers: Vec<(String, String)>,
    bytes: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `multipart/byteranges` response (RFC 2046 §5.1.1) into its parts,
/// asserting its framing: the boundary from `Content-Type`, no preamble, every
/// delimiter `CRLF--boundary`, and the close delimiter `--boundary--` at the very end.
fn parts(exchange: &Exchange) -> Vec<Part> {
    assert_eq!(exchange.status, 206);
    assert_eq!(
        exchange.header("content-range"),
        None,
        "a multipart 206 has no Content-Range of its own"
    );
    let content_type = exchange.header("content-type").expect("Content-Type");
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart/byteranges: {content_type}"));
    assert!(
        (1..=70).contains(&boundary.len()),
        "RFC 2046: 1 to 70 characters: {boundary}"
    );
    exchange.exact_length();

    let opening = format!("--{boundary}\r\n");
    let delimiter = format!("\r\n--{boundary}\r\n");
    let closing = format!("\r\n--{boundary}--\r\n");
    let mut rest = exchange
        .body
        .strip_prefix(opening.as_bytes())
        .expect("the body starts with the first boundary");
    rest = rest
        .strip_suffix(closing.as_bytes())
        .expect("the body ends with the close delimiter");
    let mut parts = Vec::new();
    loop {
        let part_end = find(rest, delimiter.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..part_end];
        let head_end = find(part, b"\r\n\r\n").expect("a part's header section ends with an empty line");
        let headers = std::str::from_utf8(&part[..head_end])
            .expect("part headers are text")
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(':').expect("name: value");
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        parts.push(Part {
            headers,
            bytes: part[head_end + 4..].to_vec(),
        });
        if part_end == rest.len() {
            return parts;
        }
        rest = &rest[part_end + delimiter.len()..];
    }
}

/// Asserts `parts` are exactly `expected` (first, last) of `file`, in that order,
/// each typed `content_type`.
fn assert_parts(parts: &[Part], expected: &[(usize, usize)], file: &[u8], content_type: &str) {
    let got: Vec<&str> = parts.iter().map(|part| part.header("content-range").unwrap()).collect();
    let want: Vec<String> = expected
        .iter()
        .map(|(first, last)| format!("bytes {first}-{last}/{}", file.len()))
        .collect();
    assert_eq!(got, want);
    for (part, &(first, last)) in parts.iter().zip(expected) {
        assert_eq!(part.header("content-type"), Some(content_type), "{first}-{last}");
        assert_eq!(part.headers.len(), 2, "{:?}", part.headers);
        assert!(part.bytes == file[first..=last], "{first}-{last}: wrong bytes");
    }
}

#[test]
fn several_ranges_of_a_file_in_memory_arrive_as_parts() {
    let site = Site::start("small", |files| files);
    let file = pattern(SMALL_LEN, true);
    let text = "text/plain; charset=utf-8";
    let cases: [(&str, &[(usize, usize)]); 6] = [
        ("bytes=0-99,200-299", &[(0, 99), (200, 299)]),
        // In the order asked for; a suffix range, an open range.
        ("bytes=-500,100-199", &[(SMALL_LEN - 500, SMALL_LEN - 1), (100, 199)]),
        ("bytes=5000-,100-199", &[(5000, SMALL_LEN - 1), (100, 199)]),
        // Both reach the end, so they overlap: one part, where the first of them was.
        ("bytes=-500,100-199,5000-", &[(5000, SMALL_LEN - 1), (100, 199)]),
        // One-byte parts, and the list's optional whitespace.
        ("bytes=7-7, 9-9,\t1000-1001", &[(7, 7), (9, 9), (1000, 1001)]),
        ("BYTES=10-19,30-39,", &[(10, 19), (30, 39)]),
    ];
    for (range, expected) in cases {
        let reply = Exchange::get(site.addr(), "/small.txt", &[("range", range)]);
        assert_parts(&parts(&reply), expected, &file, text);
        assert_eq!(reply.header("accept-ranges"), Some("bytes"), "{range}");
        assert!(reply.header("etag").is_some(), "{range}");
    }
}

#[test]
fn several_ranges_of_a_large_file_are_streamed_from_disk_as_parts() {
    let site = Site::start("big", |files| files);
    let file = pattern(BIG_LEN, false);
    // Binary parts hold CRLFs and dashes: the boundary alone delimits them.
    let binary = "application/octet-stream";
    let cases: [(&str, &[(usize, usize)]); 3] = [
        ("bytes=0-99,250000-", &[(0, 99), (250_000, BIG_LEN - 1)]),
        // Larger than a burst of the body, across several of them.
        (
            "bytes=-100000,1-150000",
            &[(BIG_LEN - 100_000, BIG_LEN - 1), (1, 150_000)],
        ),
        (
            "bytes=65535-65537,131071-131072,99-99",
            &[(65_535, 65_537), (131_071, 131_072), (99, 99)],
        ),
    ];
    for (range, expected) in cases {
        let reply = Exchange::get(site.addr(), "/big.bin", &[("range", range)]);
        assert_parts(&parts(&reply), expected, &file, binary);
    }

    // On a kept-alive connection the next response follows the last part exactly.
    let mut client = Client::connect(site.addr());
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: test\r\nRange: bytes=0-9,100-109\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.status, 206);
    assert!(reply.body.ends_with(b"--\r\n"));
    let after = client.get("/small.txt");
    assert_eq!(after.status, 200);
    assert_eq!(after.body, pattern(SMALL_LEN, true));
}

#[test]
fn overlapping_and_adjacent_ranges_are_coalesced() {
    let site = Site::start("coalesce", |files| files);
    for (path, file) in [
        ("/small.txt", pattern(SMALL_LEN, true)),
        ("/big.bin", pattern(BIG_LEN, false)),
    ] {
        // Overlapping and touching: one part, at the place of its earliest member.
        let reply = Exchange::get(site.addr(), path, &[("range", "bytes=1000-1099,0-99,50-149,150-199")]);
        let expected_type = if path == "/small.txt" {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        };
        assert_parts(&parts(&reply), &[(1000, 1099), (0, 199)], &file, expected_type);

        // Everything coalesces into one range: a plain single-part 206.
        for range in ["bytes=0-99,100-199", "bytes=100-199,0-150", "bytes=0-99,0-99"] {
            let single = Exchange::get(site.addr(), path, &[("range", range)]);
            assert_eq!(single.status, 206, "{path} {range}");
            let last = if range == "bytes=0-99,0-99" { 99 } else { 199 };
            let content_range = format!("bytes 0-{last}/{}", file.len());
            assert_eq!(single.header("content-range"), Some(&*content_range), "{path} {range}");
            assert_eq!(single.header("content-type"), Some(expected_type), "{path} {range}");
            assert_eq!(single.exact_length(), last + 1, "{path} {range}");
            assert!(single.body == file[..=last], "{path} {range}");
        }
    }
}

#[test]
fn unsatisfiable_ranges_are_dropped_and_all_unsatisfiable_is_416() {
    let site = Site::start("unsatisfiable", |files| files);
    let file = pattern(BIG_LEN, false);
    let mixed = Exchange::get(site.addr(), "/big.bin", &[("range", "bytes=400000-,10-19,-0")]);
    assert_eq!(mixed.status, 206);
    assert_eq!(mixed.header("content-range"), Some("bytes 10-19/307200"));
    assert!(mixed.body == file[10..20]);

    let two = Exchange::get(site.addr(), "/big.bin", &[("range", "bytes=10-19,999999-,30-39")]);
    assert_parts(&parts(&two), &[(10, 19), (30, 39)], &file, "application/octet-stream");

    for range in ["bytes=400000-,307200-307300", "bytes=-0,-0,307200-"] {
        let none = Exchange::get(site.addr(), "/big.bin", &[("range", range)]);
        assert_eq!(none.status, 416, "{range}");
        assert_eq!(none.header("content-range"), Some("bytes */307200"), "{range}");
    }
}

/// `n` disjoint ten-byte ranges, 100 bytes apart.
fn spread_ranges(n: usize) -> String {
    let specs: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 100, i * 100 + 9)).collect();
    format!("bytes={}", specs.join(","))
}

#[test]
fn more_ranges_than_max_ranges_get_the_whole_file() {
    let site = Site::start("many", |files| files);
    let file = pattern(BIG_LEN, false);
    // Sixteen, the default limit, are served.
    let sixteen = Exchange::get(site.addr(), "/big.bin", &[("range", &spread_ranges(16))]);
    let expected: Vec<(usize, usize)> = (0..16).map(|i| (i * 100, i * 100 + 9)).collect();
    assert_parts(&parts(&sixteen), &expected, &file, "application/octet-stream");
    // Seventeen, or a thousand one-byte ranges, are ignored: the whole file, which
    // is no more than a plain GET costs.
    let thousand: Vec<String> = (0..1000).map(|i| format!("{i}-{i}")).collect();
    for range in [spread_ranges(17), format!("bytes={}", thousand.join(","))] {
        let reply = Exchange::get(site.addr(), "/big.bin", &[("range", &range)]);
        assert_eq!(reply.status, 200, "{} ranges", range.matches(',').count() + 1);
        assert_eq!(reply.header("content-range"), None);
        assert_eq!(reply.exact_length(), BIG_LEN);
        assert!(reply.body == file);
    }

    // A lower limit, and none at all.
    let two = Site::start("two", |files| files.max_ranges(2));
    assert_eq!(
        Exchange::get(two.addr(), "/big.bin", &[("range", &spread_ranges(2))]).status,
        206
    );
    assert_eq!(
        Exchange::get(two.addr(), "/big.bin", &[("range", &spread_ranges(3))]).status,
        200
    );
    let off = Site::start("off", |files| files.max_ranges(0));
    let reply = Exchange::get(off.addr(), "/big.bin", &[("range", "bytes=0-9")]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("accept-ranges"), Some("none"));
    assert_eq!(reply.exact_length(), BIG_LEN);
}

#[test]
fn overlapping_floods_get_the_whole_file_never_more() {
    // A limit high enough that only the overlap rule stands in the way.
    let site = Site::start("flood", |files| files.max_ranges(1000));
    for (path, len) in [("/small.txt", SMALL_LEN), ("/big.bin", BIG_LEN)] {
        let whole_fifty_times = format!("bytes={}", vec!["0-"; 50].join(","));
        let half_overlapping: Vec<String> = (0..20).map(|i| format!("{}-", i * 100)).collect();
        let floods = [
            whole_fifty_times,
            String::from("bytes=0-,0-"),
            format!("bytes={}", half_overlapping.join(",")),
            format!("bytes=0-{},{}-", len / 2, len / 2),
        ];
        for range in floods {
            let reply = Exchange::get(site.addr(), path, &[("range", &range)]);
            assert_eq!(reply.status, 200, "{path} {range}");
            assert_eq!(reply.header("content-range"), None, "{path} {range}");
            assert_eq!(reply.exact_length(), len, "{path} {range}");
        }
    }
    // A thousand disjoint one-byte ranges in descending order are allowed here, and
    // served in that order; the answer is still bounded: the bytes asked for and a
    // part header each.
    let scan: Vec<String> = (0..1000).rev().map(|i| format!("{}-{}", i * 300, i * 300)).collect();
    let reply = Exchange::get(
        site.addr(),
        "/big.bin",
        &[("range", &format!("bytes={}", scan.join(",")))],
    );
    let parts = parts(&reply);
    assert_eq!(parts.len(), 1000);
    assert_eq!(parts[0].header("content-range"), Some("bytes 299700-299700/307200"));
    assert!(reply.body.len() < 1000 * 200, "{} bytes", reply.body.len());
}

#[test]
fn if_range_and_head_apply_to_several_ranges_as_to_one() {
    let site = Site::start("if-range", |files| files);
    let file = pattern(BIG_LEN, false);
    let plain = Exchange::get(site.addr(), "/big.bin", &[]);
    let etag = plain.header("etag").expect("etag").to_owned();
    let last_modified = plain.header("last-modified").expect("last-modified").to_owned();
    let range = ("range", "bytes=0-9,20-29");

    for current in [&etag, &last_modified] {
        let reply = Exchange::get(site.addr(), "/big.bin", &[range, ("if-range", current)]);
        assert_parts(&parts(&reply), &[(0, 9), (20, 29)], &file, "application/octet-stream");
    }
    for stale in ["\"stale-tag\"", "Thu, 01 Jan 1970 00:00:00 GMT"] {
        let reply = Exchange::get(site.addr(), "/big.bin", &[range, ("if-range", stale)]);
        assert_eq!(reply.status, 200, "{stale}");
        assert_eq!(reply.exact_length(), BIG_LEN, "{stale}");
        assert!(reply.body == file, "{stale}");
    }
    // A failed If-Match stops the request before Range is looked at.
    let failed = Exchange::get(site.addr(), "/big.bin", &[range, ("if-match", "\"stale-tag\"")]);
    assert_eq!(failed.status, 412);
    // HEAD ignores Range (RFC 9110 §14.2): the headers of a plain GET.
    let head = Exchange::run(site.addr(), "HEAD", "/big.bin", &[range]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("307200"));
    assert_eq!(head.header("content-type"), Some("application/octet-stream"));
    assert!(head.body.is_empty());
}

#[test]
fn a_file_that_shrinks_under_a_multipart_response_is_cut_off_not_padded() {
    // Trusted for an hour: the cache still believes the old size.
    let site = Site::start("shrink", |files| files.cache_validity(Duration::from_secs(3600)));
    assert_eq!(Exchange::get(site.addr(), "/big.bin", &[]).status, 200);
    fs::OpenOptions::new()
        .write(true)
        .open(site.root.path().join("big.bin"))
        .and_then(|file| file.set_len(1000))
        .expect("truncate big.bin");

    let reply = Exchange::get(site.addr(), "/big.bin", &[("range", "bytes=0-9,200000-200009")]);
    assert_eq!(reply.status, 206);
    let promised: usize = reply.header("content-length").unwrap().parse().unwrap();
    // The first part went out; the second range is gone, and the connection was
    // closed instead of the body being completed with anything else.
    assert!(reply.body.len() < promised, "{} of {promised} bytes", reply.body.len());
    assert!(find(&reply.body, b"bytes 0-9/307200").is_some());
    assert!(!reply.body.ends_with(b"--\r\n"), "the close delimiter was sent");
}
