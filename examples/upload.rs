//! Uploads of any size with flat memory: the poller writes a large body to a temporary
//! file as it arrives, a body policy refuses unwanted uploads from their head alone, and
//! the handler streams the spooled body into the file it keeps while hashing it.
//!
//! ```text
//! cargo run --release --example upload -- [ADDR] [DIR] [WORKERS]
//! curl -T bigfile http://127.0.0.1:8080/upload     # PUT; answers length and SHA-256
//! curl --data-binary @bigfile http://127.0.0.1:8080/upload   # POST, the same
//! curl -T bigfile http://127.0.0.1:8080/elsewhere  # 405 at once, no byte of it sent
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8080`; `DIR`, where uploads are kept, to a new directory
//! under the system's temporary directory (printed at start); `WORKERS` to 2.
//!
//! - `POST /upload` or `PUT /upload`: a body of up to 4 GiB, kept as a new file in `DIR`
//!   named from the time and a counter (never from anything the client sent). The answer
//!   is its length and SHA-256, as `sha256sum` prints it (`HEX  NAME`), and the length
//!   on a line of its own. The file is written as `NAME.part`, flushed to disk
//!   (`fsync`) and renamed: a file without `.part` is whole, even if the server is
//!   killed mid-copy.
//! - `GET /`: a line saying how to upload, at once, even while uploads are under way.
//! - A body sent anywhere else, or with another method, is refused by the body policy
//!   with `405 Method Not Allowed` as soon as its head has arrived: before any byte of
//!   it is read, and without `100 Continue`, so a client that waits for one (`curl`
//!   does, for a body over 1 MiB) never sends it. A body larger
//!   than 4 GiB gets `413`, from its `Content-Length` or as soon as a chunked one grows
//!   past it.
//!
//! What to look at (`benches/upload.sh` measures it): the server's resident memory
//! (`grep VmHWM /proc/PID/status`) stays flat whatever the size of the upload: a body
//! larger than 64 KiB (`Builder::body_buffer_bytes`) is never in memory whole. The
//! poller holds what one read of the socket brought until it has written it to the
//! temporary file, and the handler copies 1 MiB at a time. The body's bytes go to disk
//! twice (once as the temporary file, once as the kept one): the price of a handler
//! that gets a complete body. `GET /` stays fast while many slow uploads are open: a
//! body still arriving holds no worker, only a slot on the poller.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nioserve::http::{header, Method, StatusCode};
use nioserve::{Body, BodyPolicy, Request, Response, Server};
use sha2::{Digest, Sha256};

/// The largest upload taken.
const MAX_UPLOAD: u64 = 4 << 30;
/// How much of the body the handler reads, hashes and writes at a time.
const COPY_BYTES: usize = 1 << 20;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let dir = match args.next() {
        Some(dir) => {
            fs::create_dir_all(&dir)?;
            PathBuf::from(dir)
        }
        None => tempfile::Builder::new().prefix("nioserve-uploads-").tempdir()?.keep(),
    };
    let workers = match args.next() {
        None => 2,
        Some(text) => text.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WORKERS must be a positive number, not {text:?}"),
            )
        })?,
    };

    let server = Server::builder()
        .workers(workers)
        // Bodies being written are kept beside the uploads: the same disk, and a disk
        // chosen for them rather than a /tmp that may be in memory (tmpfs).
        .spool_dir(&dir)
        .body_policy(|head| match (head.uri.path(), &head.method) {
            ("/upload", &Method::POST | &Method::PUT) => BodyPolicy::Accept { max: MAX_UPLOAD },
            _ => BodyPolicy::Refuse(StatusCode::METHOD_NOT_ALLOWED),
        })
        .bind(&addr)?;
    println!(
        "upload: listening on http://{}/ ({workers} workers), keeping uploads in {}",
        server.local_addr(),
        dir.display()
    );
    println!("upload: try curl -T FILE http://{}/upload", server.local_addr());
    let uploads = Uploads {
        dir,
        next: AtomicU64::new(1),
    };
    server.serve(move |req: Request| route(req, &uploads))?;
    Ok(())
}

fn route(req: Request, uploads: &Uploads) -> Response {
    match (req.uri().path(), req.method()) {
        ("/upload", &Method::POST | &Method::PUT) => uploads.store(&req),
        ("/", &Method::GET | &Method::HEAD) => nioserve::response()
            .content_type("text/plain; charset=utf-8")
            .body("Upload a file with: curl -T FILE http://HOST/upload (PUT or POST, up to 4 GiB)\n"),
        // A request with a body never gets here: the policy refused it.
        ("/", _) => not_allowed("GET, HEAD"),
        ("/upload", _) => not_allowed("POST, PUT"),
        _ => nioserve::response()
            .status(StatusCode::NOT_FOUND)
            .body("no such page; GET / says how to upload\n"),
    }
}

/// Where uploads are kept, and the counter that names them.
struct Uploads {
    dir: PathBuf,
    next: AtomicU64,
}

impl Uploads {
    /// Keeps the body of `req` as a new file and answers its length and SHA-256.
    fn store(&self, req: &Request) -> Response {
        let (name, part) = match self.new_file() {
            Ok(named) => named,
            Err(e) => return failed("no file for the upload", &e),
        };
        let part_path = self.dir.join(format!("{name}.part"));
        let kept = copy_hashed(req, part).and_then(|kept| {
            fs::rename(&part_path, self.dir.join(&name))?;
            Ok(kept)
        });
        match kept {
            Ok(Kept {
                len,
                sha256,
                copied,
                flushed,
            }) => {
                eprintln!(
                    "upload: stored {name}: {len} bytes, sha256 {sha256}; copied and hashed in \
                     {:.3} s, flushed in {:.3} s",
                    copied.as_secs_f64(),
                    flushed.as_secs_f64()
                );
                nioserve::response()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("{sha256}  {name}\n{len}\n"))
            }
            Err(e) => {
                // Leave nothing half-written behind.
                let _ = fs::remove_file(&part_path);
                failed("the upload could not be kept", &e)
            }
        }
    }

    /// A new `NAME.part` file in the directory, and NAME: the time and a counter, never
    /// an existing file's name (the directory may hold an earlier run's uploads).
    fn new_file(&self) -> io::Result<(String, File)> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        loop {
            let name = format!("upload-{secs}-{:06}", self.next.fetch_add(1, Ordering::Relaxed));
            if self.dir.join(&name).exists() {
                continue;
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.dir.join(format!("{name}.part")))
            {
                Ok(file) => return Ok((name, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What [`copy_hashed`] kept.
struct Kept {
    len: u64,
    /// The body's SHA-256, in hex.
    sha256: String,
    /// How long reading, hashing and writing the body took.
    copied: Duration,
    /// How long flushing the file to disk took after that.
    flushed: Duration,
}

/// Copies the body of `req` to `file` and flushes it to disk, hashing it on the way. A
/// spooled body is read from its temporary file `COPY_BYTES` at a time; it is never in
/// memory whole.
fn copy_hashed(req: &Request, file: File) -> io::Result<Kept> {
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(
        COPY_BYTES,
        Hashing {
            file,
            hash: Sha256::new(),
        },
    );
    // `io::copy` reads straight into a `BufWriter`'s buffer: one copy of each byte.
    let len = io::copy(&mut req.body().reader(), &mut out)?;
    let Hashing { file, hash } = out.into_inner().map_err(|e| e.into_error())?;
    let copied = started.elapsed();
    file.sync_all()?;
    Ok(Kept {
        len,
        sha256: hex(&hash.finalize()),
        copied,
        flushed: started.elapsed() - copied,
    })
}

/// A writer to a file that hashes what it writes.
struct Hashing {
    file: File,
    hash: Sha256,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn not_allowed(allow: &'static str) -> Response {
    nioserve::response()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(header::ALLOW, allow)
        .body(Body::Empty)
}

/// A `500` saying what failed, and the error on standard error.
fn failed(what: &str, e: &io::Error) -> Response {
    eprintln!("upload: {what}: {e}");
    nioserve::response()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .body(format!("{what}\n"))
}
