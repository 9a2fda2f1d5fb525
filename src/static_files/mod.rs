//! The [`StaticFiles`] handler: serves the files under one directory.
//!
//! It owns everything between a request path and an open file: decoding and
//! checking the path so that nothing outside the root is ever served, choosing the
//! status for what it finds (a file, a directory, nothing, a forbidden thing), and the
//! HTTP rules that apply to a file: `Content-Type`, the validators `ETag` and
//! `Last-Modified` (RFC 9110 §8.8), conditional requests (§13) and byte ranges (§14).
//! Small files are read once and served from memory; larger ones are answered with
//! a [`FileRegion`](crate::FileRegion) that the server streams to the socket
//! (`sendfile`). What was learned about a file is trusted for a second, then checked
//! against the disk. A file may have several representations — itself, its
//! precompressed siblings, gzip and brotli forms of a small text file — and
//! `Accept-Encoding` chooses among them (§12.5.3).
//!
//! One file per concern: [`path`] decodes the request path, [`open`] opens it
//! beneath the root, [`cache`] keeps what was learned, [`media_type`](mod@media_type)
//! names its type, [`encoding`] negotiates the content coding, [`compress`]
//! compresses small text files once, [`conditional`] and [`range`] apply RFC 9110
//! §13 and §14, [`multipart`] lays out several ranges, [`listing`] lists a directory,
//! [`response`] builds the responses, [`pages`] finds the pages served in place of
//! what was asked (error pages, the SPA fallback), and [`cache_control`] holds the
//! [`CachePolicy`] that says which `Cache-Control` a file gets.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode, Uri};

use crate::{Handler, Request, Response};

mod cache;
mod cache_control;
mod compress;
mod conditional;
mod encoding;
mod listing;
mod media_type;
mod multipart;
mod open;
mod pages;
mod path;
mod range;
mod response;
#[cfg(test)]
mod tests;

use cache::{CachedFile, FileCache, Hit, Opened, Policy, Sibling};
pub use cache_control::CachePolicy;
use cache_control::Served;
use encoding::{AcceptEncoding, Coding};
use listing::list_directory;
use media_type::{media_type, MediaType};
use open::{is_out_of_descriptors, status_for_io_error, Root};
use pages::{Page, DEFAULT_NOT_FOUND_PAGE};
use path::RequestPath;
use response::{error_response, not_acceptable, redirect_to_directory, serve_file, without_body};

/// Serves the files under one directory.
///
/// A request path names a file relative to the root. The path is percent-decoded
/// once, segment by segment, and anything that could lead out of the root is refused
/// before the file system is asked: a `..` segment, an encoded `/` or `\`
/// (`%2F`, `%5C`), a NUL byte or invalid UTF-8 get `400 Bad Request`. What is left
/// is opened beneath the root in one step, with no gap between checking and opening
/// that a concurrent rename could use (`openat2` with `RESOLVE_BENEATH` on Linux, a
/// walk with `O_NOFOLLOW` elsewhere). Symbolic links are followed only while their
/// target stays inside the root (an absolute target counts if it starts with the
/// root's canonical path); one that leads out, even on its way back in, is answered
/// `404 Not Found`, as if it were not there.
///
/// - Only `GET` and `HEAD`; any other method gets `405 Method Not Allowed` with
///   `Allow: GET, HEAD`.
/// - A directory URL (`/`, `/docs/`) serves the directory's [index
///   file](StaticFiles::index_file), `index.html` by default. A directory named
///   without its trailing slash is redirected (`301`) to the URL with it, so that
///   relative links in the index resolve; the query string is kept. A directory
///   without an index is `403 Forbidden`, unless
///   [listing](StaticFiles::list_directories) is on. A file named with a trailing
///   slash is `404 Not Found`.
/// - Dot-files are not served: a path with any component starting with `.`
///   (`/.env`, `/.git/config`, `/docs/.htpasswd`) is `404 Not Found`, and listings
///   leave such entries out. The exception is a leading `/.well-known/` (RFC 8615),
///   which exists to be public; dot-names inside it are still refused.
///   [`serve_hidden`](StaticFiles::serve_hidden) turns this off. The rule applies
///   to the path as requested: a symlink the operator made to a dot-file is served.
/// - Only regular files and directories are served. Anything else (a FIFO, a
///   socket, a device) is `404 Not Found`; it is opened non-blocking and never read,
///   so a FIFO without a writer cannot hold a worker.
/// - `Content-Type` comes from the file name's extension: a table of the types
///   `mime_guess` gets wrong or out of date for the web (IANA and WHATWG names:
///   `text/javascript` for `.js` and `.mjs` per RFC 9239, `font/woff2`,
///   `video/mp2t` for HLS's `.ts`), then `mime_guess` for the rest
///   (`application/wasm`, `application/manifest+json`), and
///   `application/octet-stream` when it is unknown. `text/*` types are labelled
///   `charset=utf-8`; JSON (which has no charset parameter, RFC 8259 §11), XML and
///   SVG (which declare their own encoding) and binary types are not. A `.svgz`
///   file is `image/svg+xml` with `Content-Encoding: gzip`, whatever the client's
///   `Accept-Encoding`: it is stored gzipped.
/// - Every file response carries `Last-Modified` and a strong `ETag` made, like
///   nginx's, of the modification time and size: `"<mtime secs hex>-<size hex>"`.
///   A file dated in the future is last modified when it was first seen with
///   that date, never later than the response (RFC 9110 §8.8.2.1).
///   Conditional requests are evaluated in RFC 9110 §13.2.2's order: a failed
///   `If-Match` (strong comparison) or, without `If-Match`, `If-Unmodified-Since`
///   gets `412 Precondition Failed`, with or without `Range`; then `If-None-Match`
///   or, without it, `If-Modified-Since` gets `304 Not Modified`.
/// - **Content codings** (RFC 9110 §12.5.3): a file may have, besides itself,
///   precompressed siblings in the same directory (`app.js.br`, `app.js.zst`,
///   `app.js.gz`; [`precompressed`](StaticFiles::precompressed)) and, if it is text
///   (or an uncompressed font or icon) of at least 256 bytes held in memory, gzip
///   and brotli forms compressed once as
///   it is cached ([`compress`](StaticFiles::compress)); both are on by default.
///   `Accept-Encoding` chooses: among the representations the client accepts, the
///   highest q-value, then the smallest. Without `Accept-Encoding` the file is sent
///   as it is. Identity is acceptable unless refused (`identity;q=0`, or `*;q=0`
///   without `identity`); a request that refuses every representation gets
///   `406 Not Acceptable`. A malformed member (`gzip;q=2`) is ignored. The chosen
///   representation has its own `ETag` (the tag of the bytes it is made from,
///   followed by the coding: `"<mtime>-<size>-gzip"`, the sibling's own mtime and
///   size for a sibling), `Content-Encoding`, the original's `Content-Type`, and
///   its own length; conditionals, `Range` and `HEAD` apply to it. Every file
///   response, `304` and `406` included, says `Vary: Accept-Encoding` while either
///   option is on.
/// - A `GET` with `Range: bytes=…` gets `206 Partial Content`, subject to
///   `If-Range` (a stale validator gets the whole file with `200 OK`). Ranges that
///   overlap or touch are coalesced, and ranges past the end of the file dropped;
///   if one range is left, the `206` carries it with a `Content-Range`; if several,
///   the body is `multipart/byteranges` (RFC 9110 §14.6), one part per range with
///   the file's `Content-Type` and its own `Content-Range`, in the order the client
///   asked for them, with an exact `Content-Length` and a random 128-bit boundary.
///   If no range is satisfiable: `416 Range Not Satisfiable` with
///   `Content-Range: bytes */<size>`. RFC 9110 §14.2 lets a server ignore `Range`,
///   and these get the whole file with `200 OK`: a malformed `Range`; any `Range` on
///   an empty file; more than [`max_ranges`](StaticFiles::max_ranges) ranges (16 by
///   default); ranges that together ask for more bytes than the file holds, which
///   only overlapping ones can (`bytes=0-,0-,…`); several ranges of an encoded
///   representation (a `.svgz` file, a precompressed sibling, a compressed form),
///   which a multipart body has no place to say. So no `Range` makes a response longer than the file plus
///   `max_ranges` part headers. Ranges in descending or any other order are served,
///   in that order: once the set is bounded so, order costs nothing.
/// - `HEAD` gets the status and headers `GET` would get, with `Content-Length` set
///   and no body. `Range` is defined for `GET` only (RFC 9110 §14.2), so a `HEAD`
///   with `Range` gets `200 OK`.
/// - Errors have a one-line `text/plain` body such as `404 Not Found`. A path that
///   does not resolve is `404`, permission denied is `403`. When the process is out
///   of file descriptors, the cache closes those it holds and the open is tried
///   once more; if it still fails, `503 Service Unavailable` with `Retry-After: 1`.
///   Any other I/O error is `500` (and logged at `warn`).
/// - **Error pages**: `404.html` at the root, if there is one, is the body of every
///   `404` (on by default, as static-web-server does;
///   [`clear_error_pages`](StaticFiles::clear_error_pages) turns it off), and
///   [`error_page`](StaticFiles::error_page) sets a page for any 4xx or 5xx status.
///   The status and its headers (`Allow`, `Retry-After`) stay; the page brings its
///   `Content-Type` and no `ETag`, `Last-Modified` or `Accept-Ranges`, so a missing
///   path never gets a `304` or `206`. The page comes from the cache; one that is
///   missing, a symlink out of the root, a FIFO or a directory is not served: the
///   one-line body is, and a `warn` line says so once.
/// - **SPA fallback** ([`spa_fallback`](StaticFiles::spa_fallback), off by
///   default): a `404` for a path whose last segment has no `.` (`/app/settings`)
///   becomes the page (usually `index.html`), `200`, `Cache-Control: no-cache`.
///   Dot-files, refused paths (`400`), missing assets (`/logo.png`) and directories
///   without an index are not routes.
/// - **`Cache-Control`** comes from a [`CachePolicy`] of rules on the path, the
///   file name or its type ([`cache_control`](StaticFiles::cache_control)), on
///   `200`, `206` and `304` file responses only; none by default.
///
/// - Files up to 64 KiB ([`in_memory_up_to`](StaticFiles::in_memory_up_to)) are
///   read once and served from memory; larger ones are streamed from disk with
///   `sendfile`, and never compressed (a precompressed sibling is still served).
///   The same rule decides for each sibling. What is known about a file and its
///   siblings is trusted for one second
///   ([`cache_validity`](StaticFiles::cache_validity)) and then checked against the
///   disk again, as nginx's `open_file_cache_valid` does: a changed file is
///   compressed again, a sibling added or removed is noticed.
/// - The cache is keyed by the file a path leads to (device and inode), so every
///   spelling of a path (`/a`, `//a`, `/./a`, `/%61`) and every link to a file share
///   one entry and at most one open descriptor per representation held on disk
///   (a link whose siblings differ has an entry of its own). It holds at most
///   4,096 files, 32 MiB of file bytes (compressed forms included), and a
///   quarter of the soft `RLIMIT_NOFILE` (as it is when [`StaticFiles::new`]
///   runs, at most 4,096) in open descriptors, evicting the least
///   recently used. An entry whose file is found deleted or replaced is dropped
///   then, and its descriptor closed once no response is sending from it. Clones
///   share the cache; setting [`index_file`](StaticFiles::index_file),
///   [`in_memory_up_to`](StaticFiles::in_memory_up_to),
///   [`compress`](StaticFiles::compress) or
///   [`precompressed`](StaticFiles::precompressed) gives a handler a cache of its
///   own, so that clones set up differently never answer from each other's entries.
///
/// Each lookup is logged at `debug` as `resource path: <root>/<path>`, with the
/// root as it was given to [`StaticFiles::new`].
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{Handler, Request, StaticFiles};
///
/// let root = std::env::temp_dir().join(format!("nioserve-doc-static-{}", std::process::id()));
/// std::fs::create_dir_all(&root)?;
/// std::fs::write(root.join("index.html"), "<h1>Hello</h1>")?;
///
/// let files = StaticFiles::new(&root)?;
/// let response = files.call(Request::new(Default::default())); // GET /
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
/// assert_eq!(response.body().len(), Some(14));
/// # std::fs::remove_dir_all(&root)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    /// The root as the caller spelled it, for log lines (`webapp/css/site.css`
    /// reads better than an absolute path).
    root: PathBuf,
    /// The root, held open: every name is resolved beneath it.
    dir: Root,
    index_file: PathBuf,
    list_directories: bool,
    serve_hidden: bool,
    /// The URL path the root is served under, without a trailing `/`; empty for `/`.
    mount: String,
    /// Files up to this size are held in memory once read.
    in_memory_up_to: u64,
    /// How long a cached file is served before it is checked against the disk again.
    cache_validity: Duration,
    /// The most ranges one `Range` may name; 0 turns ranges off.
    max_ranges: usize,
    /// Whether small text files are compressed (gzip, brotli) as they are cached.
    compress: bool,
    /// Whether `<file>.br`, `.zst` and `.gz` beside a file are served for it.
    precompressed: bool,
    /// Shared by clones, so every worker sees one cache; a clone whose settings
    /// change what the cache holds gets one of its own (see `with_own_cache`).
    cache: Arc<FileCache>,
    /// The page served for each error status that has one; at most one per status.
    /// Shared by clones, with what was learned about each (missing, warned).
    error_pages: Vec<(StatusCode, Arc<Page>)>,
    /// The page served for an unknown route of a single-page app.
    spa_fallback: Option<Arc<Page>>,
    /// `Cache-Control` for file responses; empty: none.
    cache_control: Arc<CachePolicy>,
}

/// Files at most this large are kept in memory by default.
const DEFAULT_IN_MEMORY_UP_TO: u64 = 64 * 1024;

/// The most ranges one `Range` may name by default: more than any reader of PDFs
/// or media asks for at once, few enough that part headers never outweigh a file.
const DEFAULT_MAX_RANGES: usize = 16;

/// How long a cached file is trusted by default before the disk is asked again
/// (nginx's `open_file_cache_valid` is 60 s; a second keeps edits visible at once).
const DEFAULT_CACHE_VALIDITY: Duration = Duration::from_secs(1);

impl StaticFiles {
    /// A handler serving the files under `root`, with an index file of `index.html`,
    /// directory listing off and dot-files refused.
    ///
    /// The root is resolved (symlinks, `..`) and opened once, here: moving or
    /// replacing it while the server runs is not noticed, and every request is
    /// resolved beneath the directory opened now. The cache's descriptor budget is
    /// taken from the soft `RLIMIT_NOFILE` as it is now, so raise that first.
    ///
    /// # Errors
    ///
    /// Fails if `root` does not exist, cannot be resolved or opened (permission
    /// denied) or is not a directory. The error's message names the path.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::StaticFiles;
    ///
    /// let files = StaticFiles::new(std::env::temp_dir())?;
    /// assert!(StaticFiles::new("/no/such/directory").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(root: impl AsRef<Path>) -> io::Result<StaticFiles> {
        let root = root.as_ref();
        let with_path =
            |error: io::Error| io::Error::new(error.kind(), format!("static files root {}: {error}", root.display()));
        let canonical_root = fs::canonicalize(root).map_err(with_path)?;
        if !fs::metadata(&canonical_root).map_err(with_path)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("static files root {} is not a directory", root.display()),
            ));
        }
        Ok(StaticFiles {
            root: root.to_path_buf(),
            dir: Root::new(canonical_root).map_err(with_path)?,
            index_file: PathBuf::from("index.html"),
            list_directories: false,
            serve_hidden: false,
            mount: String::new(),
            in_memory_up_to: DEFAULT_IN_MEMORY_UP_TO,
            cache_validity: DEFAULT_CACHE_VALIDITY,
            max_ranges: DEFAULT_MAX_RANGES,
            compress: true,
            precompressed: true,
            cache: Arc::new(FileCache::new()),
            error_pages: vec![(
                StatusCode::NOT_FOUND,
                Page::new(DEFAULT_NOT_FOUND_PAGE, false, "error page"),
            )],
            spa_fallback: None,
            cache_control: Arc::new(CachePolicy::new()),
        })
    }

    /// Files up to `bytes` long are read once and served from memory; larger
    /// ones are streamed from disk (`sendfile`). Default is 64 KiB; 0 streams every file.
    ///
    /// Serving a small file from memory saves opening and reading it per request,
    /// which is most of what a small file costs. At most 32 MiB are held in all.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let files = nioserve::StaticFiles::new(std::env::temp_dir())?.in_memory_up_to(256 * 1024);
    /// # Ok(())
    /// # }
    /// ```
    pub fn in_memory_up_to(mut self, bytes: u64) -> StaticFiles {
        self.in_memory_up_to = bytes;
        self.with_own_cache()
    }

    /// How long what was learned about a file (its metadata, an open handle, its
    /// bytes if small) is trusted before the disk is asked again. Default is 1 s.
    ///
    /// Like nginx's `open_file_cache_valid`: a file changed on disk is served
    /// changed at most this long after; `Duration::ZERO` looks at the disk on every request.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let files = nioserve::StaticFiles::new(std::env::temp_dir())?.cache_validity(Duration::ZERO);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cache_validity(mut self, validity: Duration) -> StaticFiles {
        self.cache_validity = validity;
        self
    }

    /// Sets whether text files held in memory are also kept compressed, and sent
    /// so to clients that accept it (`Accept-Encoding: gzip, br`). Default is `true`.
    ///
    /// A file whose type is text (`text/*`, JavaScript, JSON, XML, SVG, WebAssembly,
    /// any `+json` or `+xml` type), an uncompressed font (TrueType, OpenType, EOT) or
    /// an icon (`image/x-icon`), of at least 256 bytes and held in memory (see
    /// [`in_memory_up_to`](StaticFiles::in_memory_up_to)), is compressed once with
    /// gzip (level 6) and brotli (quality 5) as it enters the cache; each form is
    /// kept only if it is smaller than the file, and counts against the cache's
    /// memory budget. Requests are answered from those bytes: nothing is compressed
    /// per request, and a file streamed from disk is never compressed. A
    /// [precompressed](StaticFiles::precompressed) sibling of the same coding wins.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-compress-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join("app.js"), "console.log('hello');\n".repeat(100))?;
    /// let get_gzip = || {
    ///     let mut request = Request::new(Default::default());
    ///     *request.uri_mut() = http::Uri::from_static("/app.js");
    ///     request.headers_mut().insert("accept-encoding", http::HeaderValue::from_static("gzip"));
    ///     request
    /// };
    ///
    /// let compressed = StaticFiles::new(&root)?.call(get_gzip());
    /// assert_eq!(compressed.headers()["content-encoding"], "gzip");
    /// assert!(compressed.body().len() < Some(2300));
    /// let plain = StaticFiles::new(&root)?.compress(false).call(get_gzip());
    /// assert!(plain.headers().get("content-encoding").is_none());
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn compress(mut self, compress: bool) -> StaticFiles {
        self.compress = compress;
        self.with_own_cache()
    }

    /// Sets whether a file's precompressed siblings are served in its place to
    /// clients that accept them, as nginx's `gzip_static` does. Default is `true`.
    ///
    /// For `app.js`, the siblings are `app.js.br` (brotli), `app.js.zst` (zstd) and
    /// `app.js.gz` (gzip) in the same directory. They are opened beneath the root
    /// under the same rules as any requested file (a sibling that is a symlink out
    /// of the root, a FIFO or a directory is not one), looked for when the file
    /// enters the cache and again each time it is revalidated, and sent as they are,
    /// with the original's `Content-Type` and an `ETag` of their own, even if older
    /// than the original (as nginx does: keeping them current is the build's job).
    /// A request for `app.js.gz` itself gets that file, as `application/gzip`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let files = nioserve::StaticFiles::new(std::env::temp_dir())?.precompressed(false);
    /// # Ok(())
    /// # }
    /// ```
    pub fn precompressed(mut self, serve: bool) -> StaticFiles {
        self.precompressed = serve;
        self.with_own_cache()
    }

    /// The most ranges one `Range` header may name, like nginx's `max_ranges`.
    /// Default is 16; 0 turns byte ranges off.
    ///
    /// A request naming more is answered as if it had no `Range`: `200 OK` with the
    /// whole file, which costs the server no more than a plain `GET` (RFC 9110 §14.2
    /// lets a server ignore `Range`). Ranges are counted as sent, before coalescing
    /// and including unsatisfiable ones. With 0, every `Range` is ignored and file
    /// responses say `Accept-Ranges: none` (§14.3) instead of `bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-ranges-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join("digits.txt"), "0123456789")?;
    /// let get = |files: &StaticFiles, range: &str| {
    ///     let request = http::Request::get("/digits.txt").header("range", range).body(Default::default());
    ///     files.call(request.unwrap())
    /// };
    ///
    /// let files = StaticFiles::new(&root)?.max_ranges(2);
    /// assert_eq!(get(&files, "bytes=0-1,5-6").status(), 206);
    /// assert_eq!(get(&files, "bytes=0-1,3-4,6-7").status(), 200);
    /// let no_ranges = StaticFiles::new(&root)?.max_ranges(0);
    /// assert_eq!(get(&no_ranges, "bytes=0-1").status(), 200);
    /// assert_eq!(get(&no_ranges, "bytes=0-1").headers()["accept-ranges"], "none");
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_ranges(mut self, max: usize) -> StaticFiles {
        self.max_ranges = max;
        self
    }

    /// Sets the file served for a directory URL such as `/` or `/docs/`.
    ///
    /// Default is `index.html`. The name is looked up in the requested directory,
    /// under the same rules as any requested file: an index that is a symlink out
    /// of the root is not served.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::StaticFiles;
    ///
    /// let files = StaticFiles::new(std::env::temp_dir())?.index_file("default.htm");
    /// # Ok(())
    /// # }
    /// ```
    pub fn index_file(mut self, name: impl Into<PathBuf>) -> StaticFiles {
        self.index_file = name.into();
        self.with_own_cache()
    }

    /// Sets whether a directory without an index file is answered with a listing
    /// of its entries instead of `403 Forbidden`.
    ///
    /// Default is `false`. The listing is a plain HTML table, one row per entry,
    /// sorted by name: a link with the name HTML-escaped, the size in bytes of a
    /// regular file, and the modification time (UTC, to the minute). A symlink is
    /// shown as itself, not followed (no size, its own time), so a link out of the
    /// root tells nothing of its target. Entries whose names are not UTF-8 or hold a
    /// `\` are left out (no request could reach them).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::StaticFiles;
    ///
    /// let files = StaticFiles::new(std::env::temp_dir())?.list_directories(true);
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_directories(mut self, list: bool) -> StaticFiles {
        self.list_directories = list;
        self
    }

    /// Sets whether dot-files are served: paths with a component that starts with
    /// `.`, such as `/.env`, `/.git/config` or `/img/.DS_Store`.
    ///
    /// Default is `false`: they are answered `404 Not Found`, as if absent, and
    /// left out of directory listings, because what sits in them (`.git/`, `.env`,
    /// `.htpasswd`) is the classic leak of a web root. The one exception is a
    /// leading `/.well-known/` (RFC 8615: ACME challenges, `security.txt`), which
    /// is served either way; a dot-name inside it is still refused.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-hidden-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join(".env"), "SECRET=1")?;
    /// let get_env = || {
    ///     let mut request = Request::new(Default::default());
    ///     *request.uri_mut() = http::Uri::from_static("/.env");
    ///     request
    /// };
    ///
    /// assert_eq!(StaticFiles::new(&root)?.call(get_env()).status(), 404);
    /// assert_eq!(StaticFiles::new(&root)?.serve_hidden(true).call(get_env()).status(), 200);
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve_hidden(mut self, serve: bool) -> StaticFiles {
        self.serve_hidden = serve;
        self
    }

    /// Serves the root under the URL path `prefix` instead of `/`: with
    /// `mount("/static")`, `/static/app.js` is the file `app.js` under the root, and
    /// `/static/` the root's index.
    ///
    /// A path outside the prefix is `404 Not Found` (`/app.js`, `/staticfiles`); `/static`
    /// alone is redirected (`301`) to `/static/`. The prefix is compared with the path as
    /// the client sent it, before percent-decoding: `/%73tatic/app.js` is outside it.
    /// Redirects to a directory's URL keep the prefix (`/static/docs` →
    /// `/static/docs/`), and so do the links of a [listing](StaticFiles::list_directories),
    /// which are relative. Default is `/`: the root is served at the top.
    ///
    /// # Panics
    ///
    /// Panics if `prefix` does not start with `/`, or has a `?` or `#`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-mount-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join("app.js"), "console.log(1);")?;
    /// let files = StaticFiles::new(&root)?.mount("/static");
    /// let get = |path: &'static str| {
    ///     let mut request = Request::new(Default::default());
    ///     *request.uri_mut() = http::Uri::from_static(path);
    ///     files.call(request)
    /// };
    ///
    /// assert_eq!(get("/static/app.js").status(), 200);
    /// assert_eq!(get("/app.js").status(), 404);
    /// assert_eq!(get("/static").headers()["location"], "/static/");
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mount(mut self, prefix: &str) -> StaticFiles {
        assert!(
            prefix.starts_with('/') && !prefix.contains(['?', '#']),
            "a mount prefix is a URL path starting with `/`, not {prefix:?}"
        );
        self.mount = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Serves the file `page` under the root as the body of every `status` error
    /// this handler answers, in place of the one-line `text/plain` one: a `404` for
    /// a missing path, a `403` for a directory without index, a `503` when out of
    /// file descriptors, and so on. Setting a page for a status again replaces it.
    ///
    /// By default `404.html` at the root, if there is one, is the `404` page (as
    /// static-web-server does); [`clear_error_pages`](StaticFiles::clear_error_pages)
    /// turns that off. The page keeps the error's status (a `404` stays `404`) and
    /// its headers (`405`'s `Allow`, `503`'s `Retry-After`); it gets its own
    /// `Content-Type` from its name, and no `ETag`, `Last-Modified` or
    /// `Accept-Ranges`, so no `If-None-Match` or `Range` on a missing path can turn
    /// into a `304` or a `206` of the page. A `HEAD` gets its headers only.
    ///
    /// The page is read through the cache, like any small file, so a flood of
    /// 404s costs no disk read. It is looked up under the rules of any request: a
    /// symlink out of the root, a FIFO, a directory are not served. If it cannot
    /// be served, the plain body is sent, and a `warn` line says why, once (for the
    /// default `404.html`, only if something unservable is there); a page found
    /// missing is looked for again after [`cache_validity`](StaticFiles::cache_validity).
    /// Nothing in fetching the page can cause another error page: a failure leaves
    /// the plain error as it was.
    ///
    /// # Panics
    ///
    /// Panics if `status` is not a 4xx or 5xx status, or `page` does not name a
    /// file under the root: it is empty, ends in `/`, has a `..` segment, or is a
    /// dot-file (`.errors/404.html`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use http::StatusCode;
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-error-page-{}", std::process::id()));
    /// std::fs::create_dir_all(root.join("errors"))?;
    /// std::fs::write(root.join("errors/missing.html"), "<h1>Nothing here</h1>")?;
    /// let files = StaticFiles::new(&root)?.error_page(StatusCode::NOT_FOUND, "errors/missing.html");
    ///
    /// let mut request = Request::new(Default::default());
    /// *request.uri_mut() = http::Uri::from_static("/no/such/page");
    /// let response = files.call(request);
    /// assert_eq!(response.status(), 404);
    /// assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    /// assert_eq!(response.body().len(), Some(21));
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn error_page(mut self, status: StatusCode, page: &str) -> StaticFiles {
        assert!(
            status.is_client_error() || status.is_server_error(),
            "an error page is for a 4xx or 5xx status, not {status}"
        );
        let page = Page::new(page, true, "error page");
        self.error_pages.retain(|(existing, _)| *existing != status);
        self.error_pages.push((status, page));
        self
    }

    /// Forgets every error page, the default `404.html` included: errors get the
    /// one-line `text/plain` body again.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let files = nioserve::StaticFiles::new(std::env::temp_dir())?.clear_error_pages();
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_error_pages(mut self) -> StaticFiles {
        self.error_pages.clear();
        self
    }

    /// Answers a `GET` or `HEAD` of an unknown route of a single-page app with the
    /// file `page` under the root (usually `index.html`), `200 OK`, the way
    /// `try_files $uri /index.html` does in nginx, so that a client-side router can
    /// take `/app/settings` from there.
    ///
    /// A route is a path that is not found and whose last segment has no `.`:
    /// `/app/settings` gets the page, `/app/logo.png` and `/api/x.json` stay `404`
    /// (a missing asset must not turn into HTML). What is refused stays refused:
    /// a dot-file (`/.env`) is `404`, a path with `..` or an encoded `/` is `400`,
    /// a path outside the [mount point](StaticFiles::mount) is `404`, and a directory
    /// without an index is `403` (or listed). Under a mount point, the page is the
    /// mounted root's.
    ///
    /// The page is served as itself (its `ETag`, conditional requests, ranges),
    /// with `Cache-Control: no-cache` unless the [policy](StaticFiles::cache_control)
    /// gives it another: one file answers many URLs, and must be revalidated for a
    /// new deploy to be seen. If the page is missing, the `404` stands (with its
    /// [error page](StaticFiles::error_page)), and a `warn` line says so once.
    ///
    /// # Panics
    ///
    /// As [`error_page`](StaticFiles::error_page), if `page` does not name a file.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-spa-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join("index.html"), "<div id=app></div>")?;
    /// let files = StaticFiles::new(&root)?.spa_fallback("index.html");
    /// let get = |path: &'static str| {
    ///     let mut request = Request::new(Default::default());
    ///     *request.uri_mut() = http::Uri::from_static(path);
    ///     files.call(request)
    /// };
    ///
    /// assert_eq!(get("/app/settings").status(), 200);
    /// assert_eq!(get("/app/settings").headers()["cache-control"], "no-cache");
    /// assert_eq!(get("/app/logo.png").status(), 404);
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn spa_fallback(mut self, page: &str) -> StaticFiles {
        self.spa_fallback = Some(Page::new(page, true, "SPA fallback"));
        self
    }

    /// Sets the `Cache-Control` of file responses (`200`, `206`, `304`) by the
    /// rules of `policy`; see [`CachePolicy`]. Default: no rules, no
    /// `Cache-Control` (browsers then cache by heuristic, RFC 9111 §4.2.2);
    /// [`CachePolicy::recommended`] is what most sites want. Errors, redirects and
    /// listings get none.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::{CachePolicy, Handler, Request, StaticFiles};
    ///
    /// let root = std::env::temp_dir().join(format!("nioserve-doc-cache-control-{}", std::process::id()));
    /// std::fs::create_dir_all(&root)?;
    /// std::fs::write(root.join("app.3f9a2c1b.js"), "console.log(1);")?;
    /// let files = StaticFiles::new(&root)?.cache_control(CachePolicy::recommended());
    ///
    /// let mut request = Request::new(Default::default());
    /// *request.uri_mut() = http::Uri::from_static("/app.3f9a2c1b.js");
    /// let response = files.call(request);
    /// assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    /// # std::fs::remove_dir_all(&root)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn cache_control(mut self, policy: CachePolicy) -> StaticFiles {
        self.cache_control = Arc::new(policy);
        self
    }

    /// This handler with an empty cache of its own, for a setting that changes
    /// what a cached entry holds or which file a path leads to: a clone made before
    /// keeps the cache they shared, and neither answers from the other's entries
    /// (another index for `/`, compressed forms for a handler that compresses nothing).
    fn with_own_cache(mut self) -> StaticFiles {
        self.cache = Arc::new(self.cache.empty_like());
        self
    }

    /// The response to a `GET` (a `HEAD` strips it afterwards), or the status of
    /// an error.
    fn respond(&self, request: &Request) -> Result<Response, StatusCode> {
        let requested = match request.uri().path().strip_prefix(self.mount.as_str()) {
            // The mount point named without its slash, like any directory.
            Some("") => return Ok(redirect_to_directory(request.uri())),
            Some(rest) if self.mount.is_empty() || rest.starts_with('/') => rest,
            // Outside the prefix, or `/staticfiles` beside `/static`.
            _ => return Err(StatusCode::NOT_FOUND),
        };
        let path = RequestPath::decode(requested)?;
        if path.hidden && !self.serve_hidden {
            // As if absent: a 403 would tell that `/.git/` is there.
            return Err(StatusCode::NOT_FOUND);
        }
        match self.serve_path(request, &path) {
            Err(StatusCode::NOT_FOUND) => self.spa_fallback_for(request, &path).ok_or(StatusCode::NOT_FOUND),
            result => result,
        }
    }

    /// The response to a `GET` of `path`, decoded and allowed: the file it names,
    /// from the cache or the disk, or what else it leads to.
    fn serve_path(&self, request: &Request, path: &RequestPath<'_>) -> Result<Response, StatusCode> {
        // Only paths that resolved to a file inside the root are ever cached: a
        // refused path is refused every time.
        let cached = match self.cache.lookup(&path.key) {
            Some(hit) if hit.file.is_fresh(self.cache.now(), self.cache_validity) => {
                log::debug!("resource path: {} (cached)", self.root.join(path.relative()).display());
                return Ok(self.file_response(request, path, &hit.file, hit.media_type));
            }
            stale => stale,
        };

        match (self.respond_from_disk(request, path, cached.as_ref()), cached) {
            // The disk could not be asked (out of file descriptors even after the
            // cache gave its own back, an I/O error): the last version seen is a
            // better answer than a 503 or a 500.
            (Err(StatusCode::SERVICE_UNAVAILABLE | StatusCode::INTERNAL_SERVER_ERROR), Some(hit)) => {
                log::debug!(
                    "resource path: {} (cached, not revalidated)",
                    self.root.join(path.relative()).display()
                );
                Ok(self.file_response(request, path, &hit.file, hit.media_type))
            }
            (result, _) => result,
        }
    }

    /// The response as the disk has it now; `cached`, what the path led to before,
    /// is reused if it is still what the path leads to, and forgotten if not.
    fn respond_from_disk(
        &self,
        request: &Request,
        path: &RequestPath<'_>,
        cached: Option<&Hit>,
    ) -> Result<Response, StatusCode> {
        let forget = || {
            if let Some(hit) = cached {
                // Gone, or no longer a file: drop it now, so that its descriptor
                // closes (and a deleted file's disk space is freed).
                self.cache.forget(&path.key, &hit.file);
            }
        };
        let (name, resource) = match self.find(request.uri(), path) {
            Ok(Found::File(name, resource)) => (name, resource),
            Ok(Found::Page(response)) => {
                forget();
                return Ok(response);
            }
            Err(status) => {
                // A 5xx says nothing about the file; the caller may still serve it.
                if !status.is_server_error() {
                    forget();
                }
                return Err(status);
            }
        };

        let (file, media_type) = self
            .cached_file(&path.key, &name, resource, cached)
            .map_err(|error| status_for_io_error(&self.root.join(&name), &error))?;
        Ok(self.file_response(request, path, &file, media_type))
    }

    /// What the cache holds for `resource`, the regular file that the request path
    /// `key` found as `name`: `cached`, what `key` led to before, if it is still that
    /// file with the same siblings; else the file admitted now, with its siblings and,
    /// if it is small text, its compressed forms.
    fn cached_file(
        &self,
        key: &str,
        name: &Path,
        resource: Resource,
        cached: Option<&Hit>,
    ) -> io::Result<(Arc<CachedFile>, MediaType)> {
        let siblings = self.siblings(name);
        if let Some(hit) = cached {
            if hit.file.revalidate(&resource.metadata, &siblings, self.cache.now()) {
                return Ok((Arc::clone(&hit.file), hit.media_type.clone()));
            }
        }
        let media_type = media_type(name);
        let opened = Opened {
            file: resource.file,
            metadata: resource.metadata,
            siblings,
        };
        let file = self.cache.admit(
            key,
            media_type.clone(),
            opened,
            self.cache_policy(&media_type),
            cached.map(|hit| &hit.file),
        )?;
        Ok((file, media_type))
    }

    /// The response to a `GET` of the regular file `path` led to (its index, for a
    /// directory), with the `Cache-Control` the policy gives it.
    fn file_response(
        &self,
        request: &Request,
        path: &RequestPath<'_>,
        file: &CachedFile,
        media_type: MediaType,
    ) -> Response {
        let policy = &self.cache_control;
        if policy.is_empty() {
            return self.serve(request, file, media_type);
        }
        // A directory's URL serves its index, which is the name rules are about.
        let name = if path.names_directory {
            self.index_file.file_name().and_then(|name| name.to_str()).unwrap_or("")
        } else {
            path.file_name()
        };
        let value = policy
            .header_for(Served {
                path: &path.key,
                name,
                content_type: &media_type.content_type,
            })
            .cloned();
        let mut response = self.serve(request, file, media_type);
        let is_file_response = matches!(
            response.status(),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        );
        if let Some(value) = value.filter(|_| is_file_response) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
        response
    }

    /// The response to `request` from the representation of `file` its
    /// `Accept-Encoding` prefers, or `406 Not Acceptable` if it refuses them all.
    ///
    /// RFC 9110 §12.5.3 leaves the server free, when identity is refused and
    /// nothing else is acceptable, to send identity anyway (nginx does) or `406`;
    /// a client that says `identity;q=0` asked not to get the file as it is, so it
    /// is told, rather than sent what it said it cannot use.
    fn serve(&self, request: &Request, file: &CachedFile, media_type: MediaType) -> Response {
        // Any file may gain a sibling, and a text file a compressed form: with
        // either on, every file response depends on Accept-Encoding.
        let vary = self.compress || self.precompressed;
        if media_type.content_encoding.is_some() {
            // A file stored encoded (`.svgz`) has one representation, in its own
            // coding, and it is sent whatever the client accepts: negotiating it
            // as identity would refuse it to `gzip, identity;q=0`, which accepts it.
            // Nor does it vary with `Accept-Encoding`: no `Vary`.
            return serve_file(request, file.plain(), media_type, self.max_ranges, false);
        }
        let accept = AcceptEncoding::parse(request.headers());
        match file.negotiate(&accept) {
            Some(representation) => serve_file(request, representation, media_type, self.max_ranges, vary),
            None => not_acceptable(),
        }
    }

    /// How a file of `content_type` is cached: in memory or not, compressed or not.
    fn cache_policy(&self, media_type: &MediaType) -> Policy {
        Policy {
            in_memory_up_to: self.in_memory_up_to,
            // A file stored encoded (`.svgz`) is not encoded again.
            compress: self.compress
                && media_type.content_encoding.is_none()
                && compress::is_compressible(&media_type.content_type),
        }
    }

    /// The precompressed siblings of the file found as `name`, opened beneath the
    /// root; only regular files count. Any that cannot be opened is taken as absent:
    /// the file itself can still be served.
    fn siblings(&self, name: &Path) -> Vec<Sibling> {
        // A file stored encoded (`.svgz`) has no siblings: `a.svgz.br` would be
        // brotli over gzip, which no one header can say.
        let stored_encoded = || media_type(name).content_encoding.is_some();
        let Some(file_name) = name.file_name().filter(|_| self.precompressed && !stored_encoded()) else {
            return Vec::new();
        };
        Coding::COMPRESSED
            .into_iter()
            .filter_map(|coding| {
                let mut sibling_name = file_name.to_os_string();
                sibling_name.push(".");
                sibling_name.push(coding.sibling_extension()?);
                let sibling = name.with_file_name(sibling_name);
                let file = self.dir.open(&sibling).ok()?;
                let metadata = file.metadata().ok()?;
                // A FIFO was opened non-blocking and is closed unread.
                metadata.is_file().then(|| {
                    log::debug!("precompressed: {}", self.root.join(&sibling).display());
                    Sibling { coding, file, metadata }
                })
            })
            .collect()
    }

    /// What `path` leads to: a regular file to serve (and the name it was found
    /// under, the index file's for a directory), or a page of its own.
    fn find(&self, uri: &Uri, path: &RequestPath<'_>) -> Result<Found, StatusCode> {
        let resource = self.open(path.relative())?;
        let kind = resource.metadata.file_type();
        if kind.is_file() {
            if path.names_directory {
                return Err(StatusCode::NOT_FOUND);
            }
            return Ok(Found::File(path.relative().to_path_buf(), resource));
        }
        if !kind.is_dir() {
            // FIFOs, sockets and devices are not files to serve. The FIFO was
            // opened non-blocking and is closed unread.
            return Err(StatusCode::NOT_FOUND);
        }
        if !path.names_directory {
            return Ok(Found::Page(redirect_to_directory(uri)));
        }
        let index_path = path.relative().join(&self.index_file);
        match self.open(&index_path) {
            Ok(index) if index.metadata.is_file() => Ok(Found::File(index_path, index)),
            Ok(_) | Err(StatusCode::NOT_FOUND) if self.list_directories => {
                let display = self.root.join(path.relative());
                let title = format!("{}{}", self.mount, path.key);
                list_directory(&title, path.relative(), &resource.file, &display, self.serve_hidden).map(Found::Page)
            }
            Ok(_) | Err(StatusCode::NOT_FOUND) => Err(StatusCode::FORBIDDEN),
            Err(status) => Err(status),
        }
    }

    /// Opens what `relative` names beneath the root.
    fn open(&self, relative: &Path) -> Result<Resource, StatusCode> {
        self.open_resource(relative)
            .map_err(|error| status_for_io_error(&self.root.join(relative), &error))
    }

    /// Opens what `relative` names beneath the root; the error as the system gave it.
    fn open_resource(&self, relative: &Path) -> io::Result<Resource> {
        log::debug!("resource path: {}", self.root.join(relative).display());
        let file = match self.dir.open(relative) {
            Err(error) if is_out_of_descriptors(&error) => {
                // The cache's descriptors are the ones this process can spare: give
                // them back and try once more before answering 503.
                let released = self.cache.release_descriptors();
                log::debug!("out of file descriptors: closed {released} cached files");
                self.dir.open(relative)
            }
            result => result,
        }?;
        // `fstat` on the open file, not `stat` on the path: the metadata describes
        // exactly the file whose bytes will be sent.
        let metadata = file.metadata()?;
        Ok(Resource { file, metadata })
    }
}

impl Handler for StaticFiles {
    fn call(&self, request: Request) -> Response {
        let response = match *request.method() {
            Method::GET | Method::HEAD => self.respond(&request).unwrap_or_else(error_response),
            _ => {
                let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED);
                // RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
        };
        // Every error of this handler's (412 and 416 too) is an `error_response`,
        // which an error page may dress; nothing else is.
        let response = if response.status().is_client_error() || response.status().is_server_error() {
            self.with_error_page(response)
        } else {
            response
        };
        if request.method() == Method::HEAD {
            // RFC 9110 §9.3.2: the header fields GET would get, without the content.
            without_body(response)
        } else {
            response
        }
    }
}

/// What a request path leads to.
#[derive(Debug)]
enum Found {
    /// A regular file, and the name it was found under.
    File(PathBuf, Resource),
    /// A redirect or a listing.
    Page(Response),
}

/// A file or directory inside the root, open, with the metadata of what was opened.
#[derive(Debug)]
struct Resource {
    file: File,
    metadata: Metadata,
}
