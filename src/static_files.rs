//! The [`StaticFiles`] handler: serves the files under one directory.
//!
//! It owns everything between a request path and an open file: decoding and
//! checking the path so that nothing outside the root is ever served, choosing the
//! status for what it finds (a file, a directory, nothing, a forbidden thing), and the
//! HTTP rules that apply to a file: `Content-Type`, the validators `ETag` and
//! `Last-Modified` (RFC 9110 §8.8), conditional requests (§13) and byte ranges (§14).
//! Small files are read once and served from memory; larger ones are answered with
//! a [`FileRegion`] that the server streams to the socket (`sendfile`). What was
//! learned about a file is trusted for a second, then checked against the disk.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{Body, FileRegion, Handler, Request, Response};

/// Serves the files under one directory.
///
/// A request path names a file relative to the root. The path is percent-decoded
/// once, segment by segment, and anything that could lead out of the root is refused
/// before the file system is asked: a `..` segment, an encoded `/` or `\`
/// (`%2F`, `%5C`), a NUL byte or invalid UTF-8 get `400 Bad Request`. Symbolic links
/// are followed only while their target lies inside the root; one that leads out is
/// answered `404 Not Found`, as if it were not there.
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
/// - Dot-files (`.env`, `.git/`) get no special treatment: under the root, they are
///   served like any other file. Keep what must not be public out of the root.
/// - `Content-Type` comes from the file name's extension (`application/octet-stream`
///   when it is unknown); text types are labelled `charset=utf-8`.
/// - Every file response carries `Last-Modified` and a strong `ETag` made, like
///   nginx's, of the modification time and size: `"<mtime secs hex>-<size hex>"`.
///   `If-None-Match` and `If-Modified-Since` are honoured with `304 Not Modified`
///   (RFC 9110 §13).
/// - A `GET` with `Range: bytes=…` naming one range gets `206 Partial Content` (or
///   `416 Range Not Satisfiable`), subject to `If-Range`. A request for **several
///   ranges** gets the whole file with `200 OK`: `multipart/byteranges` is not
///   implemented, and RFC 9110 §14.2 lets a server ignore `Range`. A malformed
///   `Range` is ignored the same way, and so is any `Range` on an empty file.
/// - `HEAD` gets the status and headers `GET` would get, with `Content-Length` set
///   and no body. `Range` is defined for `GET` only (RFC 9110 §14.2), so a `HEAD`
///   with `Range` gets `200 OK`.
/// - Errors have a one-line `text/plain` body such as `404 Not Found`. A path that
///   does not resolve is `404`, permission denied is `403`, any other I/O error is
///   `500` (and logged at `warn`).
///
/// - Files up to 64 KiB ([`in_memory_up_to`](StaticFiles::in_memory_up_to)) are
///   read once and served from memory; larger ones are streamed from disk with
///   `sendfile`. What is known about a file is trusted for one second
///   ([`cache_validity`](StaticFiles::cache_validity)) and then checked against the
///   disk again, as nginx's `open_file_cache_valid` does.
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
/// assert_eq!(response.body().len(), 14);
/// # std::fs::remove_dir_all(&root)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    /// The root as the caller spelled it, for log lines (`webapp/css/site.css`
    /// reads better than an absolute path).
    root: PathBuf,
    /// The root with every symlink resolved: a file is served only if its own
    /// canonical path starts with this one.
    canonical_root: PathBuf,
    index_file: PathBuf,
    list_directories: bool,
    /// Files up to this size are held in memory once read.
    in_memory_up_to: u64,
    /// How long a cached file is served before it is checked against the disk again.
    cache_validity: Duration,
    /// Shared by clones, so every worker sees one cache.
    cache: Arc<FileCache>,
}

/// Files at most this large are kept in memory by default.
const DEFAULT_IN_MEMORY_UP_TO: u64 = 64 * 1024;

/// How long a cached file is trusted by default before the disk is asked again
/// (nginx's `open_file_cache_valid` is 60 s; a second keeps edits visible at once).
const DEFAULT_CACHE_VALIDITY: Duration = Duration::from_secs(1);

/// At most this many paths are cached; when full, the cache starts over.
const CACHE_ENTRIES: usize = 4096;

/// At most this many file bytes are held in memory across the cache.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl StaticFiles {
    /// A handler serving the files under `root`, with an index file of `index.html`
    /// and directory listing off.
    ///
    /// The root is resolved (symlinks, `..`) once, here; moving or replacing it
    /// while the server runs is not noticed.
    ///
    /// # Errors
    ///
    /// Fails if `root` does not exist, cannot be resolved (permission denied) or is
    /// not a directory. The error's message names the path.
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
            canonical_root,
            index_file: PathBuf::from("index.html"),
            list_directories: false,
            in_memory_up_to: DEFAULT_IN_MEMORY_UP_TO,
            cache_validity: DEFAULT_CACHE_VALIDITY,
            cache: Arc::default(),
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
        self
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
        self
    }

    /// Sets whether a directory without an index file is answered with a listing
    /// of its entries instead of `403 Forbidden`.
    ///
    /// Default is `false`. The listing is a plain HTML page of links, one per entry,
    /// sorted by name, with every name HTML-escaped; entries whose names are not
    /// UTF-8 are left out (no request could reach them).
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

    /// The response to a `GET` (a `HEAD` strips it afterwards), or the status of
    /// an error.
    fn respond(&self, request: &Request) -> Result<Response, StatusCode> {
        // Only paths that resolved to a file inside the root are ever cached, under
        // the path exactly as requested: a refused path is refused every time.
        let key = request.uri().path();
        let cached = self.cache.get(key);
        if let Some(file) = &cached {
            if file.checked_within(self.cache_validity) {
                log::debug!("resource path: {} (cached)", file.display.display());
                return Ok(serve_file(request, file));
            }
        }

        match (self.respond_from_disk(request, key, cached.clone()), cached) {
            // The disk could not be asked (the process is out of file descriptors,
            // say): the last version seen is a better answer than a 500.
            (Err(StatusCode::INTERNAL_SERVER_ERROR), Some(file)) => {
                log::debug!("resource path: {} (cached, not revalidated)", file.display.display());
                Ok(serve_file(request, &file))
            }
            (result, _) => result,
        }
    }

    /// The response as the disk has it now; `cached` is reused if the file did not change.
    fn respond_from_disk(
        &self,
        request: &Request,
        key: &str,
        cached: Option<Arc<CachedFile>>,
    ) -> Result<Response, StatusCode> {
        let path = RequestPath::decode(key)?;
        let resource = self.open(&path.relative)?;
        let (name, resource) = if resource.metadata.is_file() {
            if path.names_directory {
                return Err(StatusCode::NOT_FOUND);
            }
            (path.relative, resource)
        } else if !resource.metadata.is_dir() {
            // Sockets, devices and the like are not files to serve.
            return Err(StatusCode::NOT_FOUND);
        } else if !path.names_directory {
            return Ok(redirect_to_directory(request.uri()));
        } else {
            let index_path = path.relative.join(&self.index_file);
            match self.open(&index_path) {
                Ok(index) if index.metadata.is_file() => (index_path, index),
                Ok(_) | Err(StatusCode::NOT_FOUND) if self.list_directories => {
                    return list_directory(&path.relative, &resource.path);
                }
                Ok(_) | Err(StatusCode::NOT_FOUND) => return Err(StatusCode::FORBIDDEN),
                Err(status) => return Err(status),
            }
        };

        let file = match cached {
            Some(file) if file.is_still(&resource.metadata) => {
                file.mark_checked();
                file
            }
            _ => {
                let size = resource.metadata.len();
                let in_memory =
                    self.in_memory_up_to > 0 && size <= self.in_memory_up_to && self.cache.reserve_bytes(size);
                let file = Arc::new(CachedFile::load(self.root.join(&name), &name, resource, in_memory)?);
                self.cache.insert(key, Arc::clone(&file));
                file
            }
        };
        Ok(serve_file(request, &file))
    }

    /// Opens what `relative` names under the root, if that is inside the root.
    fn open(&self, relative: &Path) -> Result<Resource, StatusCode> {
        log::debug!("resource path: {}", self.root.join(relative).display());

        let path = fs::canonicalize(self.canonical_root.join(relative)).map_err(|error| {
            // Resolving a name fails with ENOENT, ENOTDIR (a file used as a
            // directory), ENAMETOOLONG or ELOOP when the name leads nowhere: all mean
            // "no such file" to a client. Only ENOENT has a stable `io::ErrorKind` in
            // Rust 1.80, this crate's minimum, hence no finer match.
            if error.kind() == io::ErrorKind::PermissionDenied {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            }
        })?;
        // The symlinks are resolved now, so this catches one that leads out of the
        // root. `Path::starts_with` compares whole components: `/srv/www2` does not
        // start with `/srv/www`.
        if !path.starts_with(&self.canonical_root) {
            return Err(StatusCode::NOT_FOUND);
        }

        let file = File::open(&path).map_err(|error| status_for_io_error(&path, &error))?;
        // `fstat` on the open file, not `stat` on the path: the metadata describes
        // exactly the file whose bytes will be sent.
        let metadata = file.metadata().map_err(|error| status_for_io_error(&path, &error))?;
        Ok(Resource { path, file, metadata })
    }
}

impl Handler for StaticFiles {
    fn call(&self, request: Request) -> Response {
        match *request.method() {
            Method::GET => self.respond(&request).unwrap_or_else(error_response),
            // RFC 9110 §9.3.2: the header fields GET would get, without the content.
            Method::HEAD => without_body(self.respond(&request).unwrap_or_else(error_response)),
            _ => {
                let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED);
                // RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
        }
    }
}

/// A request path, decoded and checked: a path relative to the root whose every
/// component is a plain file name.
#[derive(Debug)]
struct RequestPath {
    relative: PathBuf,
    /// The path ends with `/`, so it names a directory.
    names_directory: bool,
}

impl RequestPath {
    /// Decodes the path of a request target, refusing any that could name
    /// something outside the root with `400 Bad Request`.
    fn decode(path: &str) -> Result<RequestPath, StatusCode> {
        // RFC 9112 §3.2.1: the origin form starts with `/`; the asterisk form (`*`)
        // names no file.
        let Some(segments) = path.strip_prefix('/') else {
            return Err(StatusCode::BAD_REQUEST);
        };
        let mut relative = PathBuf::new();
        // Split first, then decode each segment once: `%2F` must stay inside its
        // segment (where it is refused) rather than become a separator, and
        // `%252e` must stay the literal name `%2e`.
        for segment in segments.split('/') {
            let name = percent_decode_str(segment)
                .decode_utf8()
                .map_err(|_| StatusCode::BAD_REQUEST)?;
            match &*name {
                // `a//b` and `a/./b` name `a/b`.
                "" | "." => {}
                // Clients resolve dot segments before sending (RFC 3986 §5.2.4), so
                // a `..` that arrives was put there by hand; refusing every one is
                // simpler, and safer, than working out which stay inside the root.
                ".." => return Err(StatusCode::BAD_REQUEST),
                // A decoded `/` or `\` would be a separator to the file system (`\` on
                // Windows, and to some browsers); NUL would end the name early.
                name if name.contains(['/', '\\', '\0']) => return Err(StatusCode::BAD_REQUEST),
                // No name holds a separator, so `push` only ever appends: it cannot
                // replace `relative` with an absolute path.
                name => relative.push(name),
            }
        }
        Ok(RequestPath {
            relative,
            names_directory: path.ends_with('/'),
        })
    }
}

/// A file or directory inside the root, open, with the metadata of what was opened.
#[derive(Debug)]
struct Resource {
    /// The canonical path: no symlinks, inside the canonical root.
    path: PathBuf,
    file: File,
    metadata: Metadata,
}

/// The status for an I/O error on a file that resolved inside the root.
fn status_for_io_error(path: &Path, error: &io::Error) -> StatusCode {
    match error.kind() {
        // Removed between being resolved and being opened.
        io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => {
            log::warn!("static files: {}: {error}", path.display());
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The response to a `GET` of a regular file: `200`, `206`, `304` or `416`.
fn serve_file(request: &Request, file: &CachedFile) -> Response {
    let size = file.size;
    let validators = &file.validators;

    if is_not_modified(request.headers(), validators) {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        validators.insert_into(response.headers_mut());
        // RFC 9110 §8.6: a 304 may carry Content-Length only if it is the length a
        // 200 would have had; sending it keeps the server from writing `0`.
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        return response;
    }

    let mut response = match requested_range(request, validators, size) {
        None => Response::new(file.body(0, size)),
        Some(ByteRange::Satisfiable { first, last }) => {
            let mut response = Response::new(file.body(first, last - first + 1));
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {first}-{last}/{size}")),
            );
            response
        }
        Some(ByteRange::Unsatisfiable) => {
            let mut response = error_response(StatusCode::RANGE_NOT_SATISFIABLE);
            // RFC 9110 §15.5.17: a 416 says how long the representation is.
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, header_value(format!("bytes */{size}")));
            return response;
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, file.content_type.clone());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    validators.insert_into(headers);
    response
}

/// Recently served files, by request path, like nginx's `open_file_cache`: the
/// metadata, the response headers made from it, and either the bytes (small files)
/// or the open file (large ones).
#[derive(Debug, Default)]
struct FileCache {
    files: RwLock<HashMap<Box<str>, Arc<CachedFile>>>,
    /// File bytes held in memory, against `CACHE_BYTES`.
    bytes: AtomicU64,
}

impl FileCache {
    fn get(&self, key: &str) -> Option<Arc<CachedFile>> {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn insert(&self, key: &str, file: Arc<CachedFile>) {
        let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
        if files.len() >= CACHE_ENTRIES && !files.contains_key(key) {
            // Start over rather than track recency: a site with more distinct
            // paths than this gains little from the cache anyway.
            files.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        if let Some(old) = files.insert(key.into(), file) {
            self.bytes.fetch_sub(old.bytes_in_memory(), Ordering::Relaxed);
        }
    }

    /// Takes `n` bytes of the in-memory budget, if there are that many left.
    fn reserve_bytes(&self, n: u64) -> bool {
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(n).filter(|&total| total <= CACHE_BYTES)
            })
            .is_ok()
    }
}

/// What a response about one file needs, learned from the file once.
#[derive(Debug)]
struct CachedFile {
    /// The root as given joined with the request's path, for the debug log.
    display: PathBuf,
    /// What identifies this version of the file: device, inode, size, mtime.
    identity: (u64, u64, u64, SystemTime),
    size: u64,
    validators: Validators,
    content_type: HeaderValue,
    content: Content,
    /// When the disk was last asked, in milliseconds since the cache's epoch.
    checked: AtomicU64,
    epoch: Instant,
}

#[derive(Debug)]
enum Content {
    InMemory(Bytes),
    OnDisk(Arc<File>),
}

impl CachedFile {
    /// Learns what is needed about an opened file; reads it if it is to be held in memory.
    fn load(display: PathBuf, name: &Path, resource: Resource, in_memory: bool) -> Result<CachedFile, StatusCode> {
        let metadata = &resource.metadata;
        let modified = metadata
            .modified()
            .map_err(|error| status_for_io_error(&resource.path, &error))?;
        let size = metadata.len();
        let content = if in_memory {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            let mut file = &resource.file;
            io::Read::read_to_end(&mut file, &mut bytes)
                .map_err(|error| status_for_io_error(&resource.path, &error))?;
            if bytes.len() as u64 != size {
                // Changed while it was read: serve it from disk this time.
                Content::OnDisk(Arc::new(resource.file))
            } else {
                Content::InMemory(Bytes::from(bytes))
            }
        } else {
            Content::OnDisk(Arc::new(resource.file))
        };
        let epoch = Instant::now();
        Ok(CachedFile {
            display,
            identity: identity(metadata, modified),
            size,
            validators: Validators::new(modified, size),
            content_type: content_type(name),
            content,
            checked: AtomicU64::new(0),
            epoch,
        })
    }

    /// The body for bytes `offset .. offset + len`.
    fn body(&self, offset: u64, len: u64) -> Body {
        match &self.content {
            Content::InMemory(bytes) => {
                // Offsets were checked against `size`, which is the length of `bytes`.
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                let end = usize::try_from(offset + len).unwrap_or(usize::MAX).min(bytes.len());
                Body::Bytes(bytes.slice(start..end))
            }
            Content::OnDisk(file) => Body::File(FileRegion::new(Arc::clone(file), offset, len)),
        }
    }

    fn bytes_in_memory(&self) -> u64 {
        match &self.content {
            Content::InMemory(bytes) => bytes.len() as u64,
            Content::OnDisk(_) => 0,
        }
    }

    /// Whether the disk was asked about this file less than `validity` ago.
    fn checked_within(&self, validity: Duration) -> bool {
        let age_ms = self.epoch.elapsed().as_millis() as u64 - self.checked.load(Ordering::Relaxed);
        u128::from(age_ms) < validity.as_millis()
    }

    fn mark_checked(&self) {
        self.checked
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Whether `metadata`, just read from the disk, describes this same version.
    fn is_still(&self, metadata: &Metadata) -> bool {
        metadata
            .modified()
            .is_ok_and(|modified| identity(metadata, modified) == self.identity)
    }
}

fn identity(metadata: &Metadata, modified: SystemTime) -> (u64, u64, u64, SystemTime) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino(), metadata.len(), modified)
}

/// The largest time an HTTP-date can show (9999-12-31T23:59:59Z), in seconds since
/// the epoch; `httpdate` panics past it.
const LAST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// What tells one version of a file from another (RFC 9110 §8.8).
#[derive(Debug)]
struct Validators {
    /// `"<mtime secs hex>-<size hex>"`, quotes included: nginx's format.
    ///
    /// It is strong, as nginx's is, although a file rewritten to the same size
    /// within one second keeps its tag; hashing the content would cost a read of
    /// every file served.
    etag: String,
    /// The modification time, cut to the whole second an HTTP-date can show, so
    /// that it compares equal to the `Last-Modified` value a client sends back.
    last_modified: SystemTime,
    /// Both as header values, made once per version of the file.
    etag_header: HeaderValue,
    last_modified_header: HeaderValue,
}

impl Validators {
    /// The validators of a file last modified at `modified`, `size` bytes long.
    fn new(modified: SystemTime, size: u64) -> Validators {
        let mtime_secs = modified
            .duration_since(UNIX_EPOCH)
            // A file can claim to predate 1970, which no HTTP-date can show.
            .map_or(0, |since_epoch| since_epoch.as_secs())
            .min(LAST_HTTP_DATE_SECS);
        let etag = format!("\"{mtime_secs:x}-{size:x}\"");
        let last_modified = UNIX_EPOCH + Duration::from_secs(mtime_secs);
        Validators {
            etag_header: header_value(etag.clone()),
            last_modified_header: header_value(httpdate::fmt_http_date(last_modified)),
            etag,
            last_modified,
        }
    }

    fn insert_into(&self, headers: &mut HeaderMap) {
        headers.insert(header::ETAG, self.etag_header.clone());
        headers.insert(header::LAST_MODIFIED, self.last_modified_header.clone());
    }
}

/// Whether a `GET` or `HEAD` is answered `304 Not Modified` (RFC 9110 §13.2.2,
/// steps 3 and 4).
fn is_not_modified(headers: &HeaderMap, validators: &Validators) -> bool {
    if headers.contains_key(header::IF_NONE_MATCH) {
        // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is
        // present. A list may be split over several header lines (§5.3).
        return headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|list| none_match_fails(list, &validators.etag))
        });
    }
    // RFC 9110 §13.1.3: an invalid date, or more than one, is ignored.
    single_header(headers, header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .is_some_and(|since| validators.last_modified <= since)
}

/// Whether an `If-None-Match` value names the current representation, making the
/// condition false (RFC 9110 §13.1.2): it is `*`, or lists a tag that matches
/// `etag` under weak comparison (§8.8.3.2: `W/` prefixes are ignored).
///
/// Parsing stops at the first malformed member; what precedes it still counts.
fn none_match_fails(list: &str, etag: &str) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        // An opaque tag is a quoted string with no quote inside (§8.8.3).
        let Some(closing_quote) = tag.strip_prefix('"').and_then(|inner| inner.find('"')) else {
            return false;
        };
        let (opaque_tag, after) = tag.split_at(closing_quote + 2);
        if opaque_tag == etag {
            return true;
        }
        rest = after;
    }
}

/// The one range a `GET` should answer, or `None` to send the whole file.
fn requested_range(request: &Request, validators: &Validators, size: u64) -> Option<ByteRange> {
    // RFC 9110 §14.2: range handling is defined for GET only; other methods
    // ignore Range.
    if request.method() != Method::GET {
        return None;
    }
    let headers = request.headers();
    let range = single_header(headers, header::RANGE)?;
    // RFC 9110 §13.1.5: with If-Range, the range is sent only if the client's
    // copy is still current; otherwise the whole new file is.
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if !if_range_matches(if_range, validators) {
            return None;
        }
    }
    parse_range(range.to_str().ok()?, size)
}

/// Whether an `If-Range` value names the current representation (RFC 9110
/// §13.1.5): an entity tag equal under strong comparison, or an HTTP-date exactly
/// equal to `Last-Modified`. Anything else does not match.
fn if_range_matches(value: &HeaderValue, validators: &Validators) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        // Strong comparison (§8.8.3.2): ours is strong, so a weak tag never equals it.
        value == validators.etag
    } else {
        httpdate::parse_http_date(value).is_ok_and(|date| date == validators.last_modified)
    }
}

/// The byte range a `Range` header selects, checked against the file's size.
#[derive(Debug, PartialEq)]
enum ByteRange {
    /// Bytes `first..=last`, both inside the file.
    Satisfiable { first: u64, last: u64 },
    /// Starts past the end of the file, or asks for the last zero bytes.
    Unsatisfiable,
}

/// Reads a `Range` value (RFC 9110 §14.1) for a file of `size` bytes.
///
/// `None` means "ignore the header and send the whole file", which RFC 9110 §14.2
/// allows: for a malformed value, for several ranges (no `multipart/byteranges`
/// here), and for an empty file, of which no range can be described in a
/// `Content-Range`.
fn parse_range(value: &str, size: u64) -> Option<ByteRange> {
    if size == 0 {
        return None;
    }
    let (unit, set) = value.split_once('=')?;
    // §14.1: range units are case-insensitive.
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    // §5.6.1: a recipient accepts empty list elements, as in `bytes=0-4,`.
    let mut specs = set
        .split(',')
        .map(|spec| spec.trim_matches([' ', '\t']))
        .filter(|spec| !spec.is_empty());
    let spec = specs.next()?;
    if specs.next().is_some() {
        return None;
    }

    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        // `-n`: the last n bytes, or the whole file if it is shorter (§14.1.2).
        let suffix_length = parse_position(last)?;
        if suffix_length == 0 {
            return Some(ByteRange::Unsatisfiable);
        }
        return Some(ByteRange::Satisfiable {
            first: size.saturating_sub(suffix_length),
            last: size - 1,
        });
    }
    let first = parse_position(first)?;
    // `a-`: from a to the end.
    let last = if last.is_empty() {
        u64::MAX
    } else {
        parse_position(last)?
    };
    // §14.1.1: a last-pos below first-pos makes the range-spec invalid.
    if last < first {
        return None;
    }
    if first >= size {
        return Some(ByteRange::Unsatisfiable);
    }
    Some(ByteRange::Satisfiable {
        first,
        last: last.min(size - 1),
    })
}

/// A `1*DIGIT` position in a range; a number too large for a `u64` saturates,
/// which gives the right answer for a first-pos, a last-pos and a suffix alike.
fn parse_position(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0_u64, |position, byte| {
        byte.is_ascii_digit()
            .then(|| position.saturating_mul(10).saturating_add(u64::from(byte - b'0')))
    })
}

/// The value of a header that may appear only once. A repeated one is treated as
/// absent: the conditionals and `Range` then fall back to a plain `200`.
fn single_header(headers: &HeaderMap, name: HeaderName) -> Option<&HeaderValue> {
    let mut values = headers.get_all(name).into_iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// The `Content-Type` for a file name.
///
/// Text is labelled UTF-8: the file itself cannot say, UTF-8 is what the web
/// writes, and without a label browsers guess (often windows-1252).
fn content_type(name: &Path) -> HeaderValue {
    let Some(mime) = mime_guess::from_path(name).first_raw() else {
        return HeaderValue::from_static("application/octet-stream");
    };
    let is_text =
        mime.starts_with("text/") || matches!(mime, "application/javascript" | "application/json" | "image/svg+xml");
    if is_text {
        header_value(format!("{mime}; charset=utf-8"))
    } else {
        HeaderValue::from_static(mime)
    }
}

/// `301` to the URL of a directory, which ends with `/`.
fn redirect_to_directory(uri: &Uri) -> Response {
    // The leading slashes collapse to one: the request `//example.com` (a
    // directory named `example.com`) must not redirect to `//example.com/`, which a
    // browser reads as another host.
    let path = uri.path().trim_start_matches('/');
    let location = match uri.query() {
        Some(query) => format!("/{path}/?{query}"),
        None => format!("/{path}/"),
    };
    let mut response = error_response(StatusCode::MOVED_PERMANENTLY);
    response.headers_mut().insert(header::LOCATION, header_value(location));
    response
}

/// Characters a name keeps in a listing's links: RFC 3986's unreserved set. All
/// else is percent-encoded, including `:`, which in a first segment would read as
/// a URL scheme.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A `200` HTML page linking to each entry of the directory at `path`, which the
/// client requested as `relative`.
fn list_directory(relative: &Path, path: &Path) -> Result<Response, StatusCode> {
    let read_error = |error: io::Error| status_for_io_error(path, &error);
    let mut entries = Vec::new();
    for entry in fs::read_dir(path).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        // A name that is not UTF-8 cannot be requested (such a path is a 400), so
        // it is not offered.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // The entry's own type, not its target's: a symlink to a directory gets no
        // `/` and reaches it through the redirect.
        let is_directory = entry.file_type().is_ok_and(|kind| kind.is_dir());
        entries.push((name, is_directory));
    }
    entries.sort();

    let title = if relative.as_os_str().is_empty() {
        String::from("/")
    } else {
        html_escape(&format!("/{}/", relative.display()))
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body>\n<h1>Index of {title}</h1>\n<ul>\n"
    );
    if !relative.as_os_str().is_empty() {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_directory) in entries {
        let slash = if is_directory { "/" } else { "" };
        // Writing to a `String` cannot fail.
        let _ = writeln!(
            html,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            utf8_percent_encode(&name, PATH_SEGMENT),
            html_escape(&name),
        );
    }
    html.push_str("</ul>\n</body>\n</html>\n");

    let mut response = Response::new(Body::from(html));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// `text` with the five characters that mean something in HTML escaped.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A response with `status` and a one-line `text/plain` body such as
/// `404 Not Found`.
fn error_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::from(format!("{status}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The response to a `HEAD`: `response` with its body dropped, and the length it
/// had kept in `Content-Length`.
fn without_body(mut response: Response) -> Response {
    // A 304 already says the length of the file, not of its (empty) body.
    if !response.headers().contains_key(header::CONTENT_LENGTH) {
        let length = response.body().len();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    *response.body_mut() = Body::Empty;
    response
}

/// A header value built by this module.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect(
        "invariant: values built here hold only numbers, hex digits, HTTP-dates, \
         MIME types and the bytes of a parsed URI, all valid in a header value",
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, FileExt};
    use std::process;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;

    use super::*;

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
        builder.body(Bytes::new()).unwrap()
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
            ("/.hidden", StatusCode::OK, b"dot-file\n"),
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
            ("/app.mjs", "application/javascript; charset=utf-8"),
            ("/data.json", "application/json; charset=utf-8"),
            ("/logo.svg", "image/svg+xml; charset=utf-8"),
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
            let length = full.body().len().to_string();
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
            (
                UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE_SECS + 86_400),
                "\"3afff4417f-a\"",
                "Fri, 31 Dec 9999 23:59:59 GMT",
            ),
        ];
        for (modified, etag, last_modified) in cases {
            let validators = Validators::new(modified, 10);
            assert_eq!(validators.etag, etag);
            assert_eq!(httpdate::fmt_http_date(validators.last_modified), last_modified);
        }
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
        Partial { offset: u64, len: u64 },
        Whole,
        Unsatisfiable,
    }

    #[test]
    fn ranges() {
        use Answer::{Partial, Unsatisfiable, Whole};
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
            ("bytes=0-1,5-6", Whole),
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
            assert_eq!(none_match_fails(list, etag), matches, "{list}");
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
}
