//! Conditional and range requests over real sockets, as `curl -C - -z` and
//! download managers send them (RFC 9110 §13.2.2, §14.2): a resumed download of a
//! file that changed meanwhile gets `412`, never the new file's tail spliced onto
//! the old file's head; a `Range` of which nothing is satisfiable gets `416`.

mod support;

use std::fs::{self, File};
use std::time::{Duration, SystemTime};

use nioserve::{Server, ServerHandle, StaticFiles};
use support::{scratch_dir, start, Client};
use tempfile::TempDir;

const LEN: usize = 200 * 1024;

/// A root served by a two-worker server, removed on drop once the server has stopped
/// (fields drop in order).
struct Site {
    handle: ServerHandle,
    root: TempDir,
}

impl Site {
    /// `file.bin` (LEN bytes of `a`) last modified an hour ago, served with a
    /// cache that asks the disk on every request.
    fn start(name: &str) -> Site {
        let root = scratch_dir(&format!("preconditions-{name}"));
        write_at(root.path(), b'a', SystemTime::now() - Duration::from_secs(3600));
        let files = StaticFiles::new(root.path())
            .expect("static files root")
            .cache_validity(Duration::ZERO);
        let handle = start(Server::builder().workers(2), files);
        Site { handle, root }
    }
}

/// Rewrites `file.bin` as LEN bytes of `byte`, last modified at `modified`.
fn write_at(root: &std::path::Path, byte: u8, modified: SystemTime) {
    let path = root.join("file.bin");
    fs::write(&path, vec![byte; LEN]).expect("write file.bin");
    File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(modified))
        .expect("set mtime");
}

#[test]
fn a_resumed_download_of_a_changed_file_gets_412_not_a_spliced_file() {
    let site = Site::start("resume");
    let mut client = Client::connect(site.handle.local_addr());

    // The first download: the client keeps the validators and half the bytes.
    let first = client.get_with("/file.bin", &[]);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("etag").to_owned();
    let last_modified = first.header("last-modified").expect("last-modified").to_owned();
    let have = format!("bytes={}-", LEN / 2);

    // Unchanged: the rest of the file comes as 206, whichever validator is sent.
    for precondition in [("if-unmodified-since", &*last_modified), ("if-match", &*etag)] {
        let rest = client.get_with("/file.bin", &[("range", &have), precondition]);
        assert_eq!(rest.status, 206, "{precondition:?}");
        assert_eq!(rest.body, vec![b'a'; LEN / 2]);
    }

    // The file changes on the server.
    write_at(site.root.path(), b'b', SystemTime::now());

    // `curl -C - -z <date>` and a download manager's If-Match: 412, with and without Range.
    let cases: [&[(&str, &str)]; 5] = [
        &[("range", &have), ("if-unmodified-since", &last_modified)],
        &[("if-unmodified-since", &last_modified)],
        &[("range", &have), ("if-match", &etag)],
        &[("if-match", &etag)],
        // If-Match decides alone: a later If-Unmodified-Since does not rescue it.
        &[
            ("if-match", &etag),
            ("if-unmodified-since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ],
    ];
    for headers in cases {
        let reply = client.get_with("/file.bin", headers);
        assert_eq!(reply.status, 412, "{headers:?}");
        assert_eq!(reply.body, b"412 Precondition Failed\n", "{headers:?}");
        assert!(!reply.closes(), "{headers:?}: a 412 keeps the connection");
    }
    // If-Range, by contrast, falls back to the whole new file.
    let whole = client.get_with("/file.bin", &[("range", &have), ("if-range", &etag)]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, vec![b'b'; LEN]);
    // And `If-Match: *` holds for any file that exists.
    assert_eq!(client.get_with("/file.bin", &[("if-match", "*")]).status, 200);
}

#[test]
fn a_range_list_with_nothing_satisfiable_gets_416() {
    let site = Site::start("ranges");
    let mut client = Client::connect(site.handle.local_addr());
    let past_the_end = format!("bytes={}-, {}-{}", LEN, LEN + 10, LEN + 20);
    for range in [format!("bytes={LEN}-"), past_the_end, String::from("bytes=-0,-0")] {
        let reply = client.get_with("/file.bin", &[("range", &range)]);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(&*format!("bytes */{LEN}")),
            "{range}"
        );
    }
    // A list with one satisfiable range gets that range: the rest is dropped.
    let mixed = client.get_with("/file.bin", &[("range", &format!("bytes=0-9,{LEN}-"))]);
    assert_eq!(mixed.status, 206);
    assert_eq!(mixed.header("content-range"), Some(&*format!("bytes 0-9/{LEN}")));
    assert_eq!(mixed.body, vec![b'a'; 10]);
}

/// The whole seconds of an HTTP-date header value.
fn http_date_secs(reply: &support::Reply, name: &str) -> u64 {
    let value = reply.header(name).unwrap_or_else(|| panic!("{name}"));
    let date = httpdate::parse_http_date(value).unwrap_or_else(|_| panic!("{name}: {value}"));
    date.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn a_file_dated_in_the_future_is_last_modified_no_later_than_the_response() {
    // An archive unpacked from a machine whose clock ran ahead, a skewed NFS server.
    let site = Site::start("future");
    write_at(
        site.root.path(),
        b'a',
        SystemTime::now() + Duration::from_secs(10 * 365 * 86_400),
    );
    let mut client = Client::connect(site.handle.local_addr());

    // RFC 9110 §8.8.2.1: a Last-Modified later than Date MUST be replaced by Date.
    let first = client.get("/file.bin");
    assert_eq!(first.status, 200);
    let last_modified = first.header("last-modified").expect("last-modified").to_owned();
    assert!(
        http_date_secs(&first, "last-modified") <= http_date_secs(&first, "date"),
        "Last-Modified {last_modified} is later than Date {:?}",
        first.header("date")
    );
    let not_modified = client.get_with("/file.bin", &[("if-modified-since", &last_modified)]);
    assert_eq!(not_modified.status, 304);
    assert!(http_date_secs(&not_modified, "last-modified") <= http_date_secs(&not_modified, "date"));

    // The file is fixed, dated by a correct clock: a client that revalidates with
    // the date it was given (`curl -z`, `wget -N`) must get it, not a 304 until
    // the bogus date comes round. The new date must fall in a later second than
    // the one the client holds, as any change must for dates to tell it.
    let held = http_date_secs(&first, "last-modified");
    support::wait_until("the clock passes the second of Last-Modified", || {
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|now| now.as_secs() > held)
    });
    write_at(site.root.path(), b'b', SystemTime::now());
    let fixed = client.get_with("/file.bin", &[("if-modified-since", &last_modified)]);
    assert_eq!(fixed.status, 200, "the fixed file was not sent");
    assert_eq!(fixed.body, vec![b'b'; LEN]);
}
