//! `Content-Type` and `Content-Encoding` of static files over real sockets, as a
//! browser gets them: JSON without a charset (RFC 8259 §11), JavaScript as
//! `text/javascript` (RFC 9239), web fonts and HLS segments under their registered
//! types, and a gzipped SVG (`.svgz`) labelled `Content-Encoding: gzip` so that a
//! browser decodes it before rendering.

mod support;

use std::fs;

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, Client};
use tempfile::TempDir;

/// The first bytes of a gzip stream (RFC 1952 §2.3.1), then anything: the server
/// sends a file's bytes as they are.
const SVGZ: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03 not really deflated, but sent as is";

/// A root served by a two-worker server, removed on drop once the server has stopped
/// (fields drop in order).
struct Site {
    handle: ServerHandle,
    _root: TempDir,
}

impl Site {
    fn start(name: &str) -> Site {
        let root = scratch_dir(&format!("media-types-{name}"));
        for (name, content) in [
            ("data.json", &b"{\"ok\": true}"[..]),
            ("module.mjs", b"export default 1;"),
            ("font.woff", b"wOFF"),
            ("segment.ts", b"\x47 transport stream"),
            ("logo.svgz", SVGZ),
            ("page.html", b"<p>hi</p>"),
        ] {
            fs::write(root.path().join(name), content).expect("write fixture file");
        }
        let files = StaticFiles::new(root.path()).expect("static files root");
        Site {
            handle: start(Server::builder().workers(2), files),
            _root: root,
        }
    }
}

#[test]
fn files_arrive_with_their_registered_types() {
    let site = Site::start("types");
    let mut client = Client::connect(site.handle.local_addr());
    let cases = [
        ("/data.json", "application/json"),
        ("/module.mjs", "text/javascript; charset=utf-8"),
        ("/font.woff", "font/woff"),
        ("/segment.ts", "video/mp2t"),
        ("/page.html", "text/html; charset=utf-8"),
    ];
    for (path, content_type) in cases {
        let reply = client.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.header("content-encoding"), None, "{path}");
    }
}

#[test]
fn an_svgz_file_is_an_svg_with_content_encoding_gzip() {
    let site = Site::start("svgz");
    let mut client = Client::connect(site.handle.local_addr());
    // Whatever the client says it accepts: the file is gzip, nothing else.
    for accept_encoding in [None, Some("gzip, br"), Some("identity")] {
        let headers: Vec<(&str, &str)> = accept_encoding
            .map(|value| ("accept-encoding", value))
            .into_iter()
            .collect();
        let reply = client.get_with("/logo.svgz", &headers);
        assert_eq!(reply.status, 200, "{accept_encoding:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("image/svg+xml"),
            "{accept_encoding:?}"
        );
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{accept_encoding:?}");
        assert_eq!(reply.body, SVGZ, "{accept_encoding:?}");
    }

    // A range is of the gzip bytes, and says so.
    let part = client.get_with("/logo.svgz", &[("range", "bytes=0-1")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-encoding"), Some("gzip"));
    assert_eq!(part.body, &SVGZ[..2]);
    // Several ranges: a multipart body has no place for the coding, so the whole file.
    let several = client.get_with("/logo.svgz", &[("range", "bytes=0-1,4-5")]);
    assert_eq!(several.status, 200);
    assert_eq!(several.header("content-encoding"), Some("gzip"));
    assert_eq!(several.body, SVGZ);

    // HEAD says the same.
    client.send(b"HEAD /logo.svgz HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = client.head_reply();
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!(head.header("content-length"), Some(&*SVGZ.len().to_string()));
}
