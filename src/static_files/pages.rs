//! Pages served in place of what was asked: an error page (`404.html`) for an
//! error status, and the single-page app's `index.html` for a route that is no file.
//!
//! Both are files under the root, read through the cache like any other, so a
//! flood of 404s costs no disk read; and both are read by [`StaticFiles::load_page`]
//! alone, which serves nothing by itself: an error while fetching an error page
//! leaves the plain error as it was, it never becomes another error to dress up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::StatusCode;

use super::cache::CachedFile;
use super::media_type::MediaType;
use super::open::status_for_io_error;
use super::path::RequestPath;
use super::StaticFiles;
use crate::{Request, Response};

/// A page the operator named: an error page or the SPA fallback.
#[derive(Debug)]
pub(super) struct Page {
    path: RequestPath<'static>,
    /// Named by the operator, not the default `404.html`: its absence is worth a warning.
    explicit: bool,
    /// When it was last found missing or unusable, in ms on the cache's clock, plus
    /// one; 0 if it was not. Within `cache_validity` of that, it is not looked for.
    missing_at: AtomicU64,
    /// A warning was logged: it is logged once, not per request.
    warned: AtomicBool,
}

/// Why a page cannot be served now.
#[derive(Debug)]
enum Unavailable {
    /// Nothing of that name: normal for the default `404.html`.
    Missing,
    /// Something is there that must not be served, or cannot be read.
    Unusable(String),
    /// The disk could not be asked (out of file descriptors): try again next time.
    Busy,
}

impl Page {
    /// The page at `name` under the root; `explicit` if the operator named it.
    ///
    /// # Panics
    ///
    /// Panics, naming `what` the page is for, if `name` cannot name a page (see
    /// [`RequestPath::page`]).
    pub(super) fn new(name: &str, explicit: bool, what: &str) -> Arc<Page> {
        let path = RequestPath::page(name).unwrap_or_else(|why| panic!("{what} {name:?} {why}"));
        Arc::new(Page {
            path,
            explicit,
            missing_at: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        })
    }

    /// The page's path under the root.
    pub(super) fn path(&self) -> &RequestPath<'static> {
        &self.path
    }
}

/// The page served for `404 Not Found` unless the operator says otherwise, if the
/// root has it (as static-web-server and most hosts do).
pub(super) const DEFAULT_NOT_FOUND_PAGE: &str = "404.html";

impl StaticFiles {
    /// `response`, an error of this handler's, with its body and `Content-Type`
    /// replaced by the error page for its status, if there is one and it can be
    /// read; every other header (`Allow`, `Retry-After`, `Content-Range`) kept.
    ///
    /// The page is sent as an error's body, not as a file: no `ETag`,
    /// `Last-Modified` or `Accept-Ranges`, so no conditional request or range can
    /// make a `304` or a `206` of it for a path that does not exist.
    pub(super) fn with_error_page(&self, mut response: Response) -> Response {
        let status = response.status();
        let Some((_, page)) = self.error_pages.iter().find(|(page_status, _)| *page_status == status) else {
            return response;
        };
        let Some((file, media_type)) = self.page_if_available(page) else {
            return response;
        };
        // The plain file: an error page is small, and rare enough not to negotiate.
        let plain = file.plain();
        *response.body_mut() = plain.body(0, plain.size);
        let headers = response.headers_mut();
        // In place of the one-line error's `text/plain`.
        headers.insert(header::CONTENT_TYPE, media_type.content_type);
        if let Some(content_encoding) = media_type.content_encoding {
            headers.insert(header::CONTENT_ENCODING, content_encoding);
        }
        response
    }

    /// The SPA fallback's response to a `GET` of `path`, which was not found, if
    /// `path` is a route of the app rather than a missing file, and the fallback
    /// page can be read. It is a file response (validators, conditionals, ranges:
    /// it is the page's representation), with `Cache-Control: no-cache` unless the
    /// policy gives another: one file served for many URLs must be revalidated
    /// to pick up a deploy.
    pub(super) fn spa_fallback_for(&self, request: &Request, path: &RequestPath<'_>) -> Option<Response> {
        let page = self.spa_fallback.as_ref()?;
        if !is_app_route(&path.key) {
            return None;
        }
        let (file, media_type) = self.page_if_available(page)?;
        log::debug!("spa fallback: {} for {}", page.path.key, path.key);
        let mut response = self.file_response(request, page.path(), &file, media_type);
        let is_file_response = matches!(
            response.status(),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        );
        if is_file_response && !response.headers().contains_key(header::CACHE_CONTROL) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        Some(response)
    }

    /// The page's file and `Content-Type`, unless it was found unavailable within
    /// the last `cache_validity`; a page found unavailable is logged at `warn` once
    /// (the default `404.html` only if something unusable is there).
    fn page_if_available(&self, page: &Page) -> Option<(Arc<CachedFile>, MediaType)> {
        let now = self.cache.now();
        let missing_at = page.missing_at.load(Ordering::Relaxed);
        if missing_at != 0 && u128::from(now.saturating_sub(missing_at - 1)) < self.cache_validity.as_millis() {
            return None;
        }
        match self.load_page(&page.path) {
            Ok(found) => {
                if missing_at != 0 {
                    page.missing_at.store(0, Ordering::Relaxed);
                }
                Some(found)
            }
            Err(Unavailable::Busy) => None,
            Err(why) => {
                page.missing_at.store(now + 1, Ordering::Relaxed);
                let say = match why {
                    Unavailable::Unusable(reason) => Some(reason),
                    Unavailable::Missing if page.explicit => Some("not found".to_owned()),
                    Unavailable::Missing | Unavailable::Busy => None,
                };
                if let Some(reason) = say {
                    if !page.warned.swap(true, Ordering::Relaxed) {
                        log::warn!(
                            "static files: page {} is not served ({reason}); this is logged once",
                            self.root.join(page.path.relative()).display()
                        );
                    }
                }
                None
            }
        }
    }

    /// A page's file through the cache: what a request for it would find, under
    /// the same rules (beneath the root, symlinks that stay inside, a regular file
    /// only), but never a directory's index or a listing.
    fn load_page(&self, path: &RequestPath<'static>) -> Result<(Arc<CachedFile>, MediaType), Unavailable> {
        let cached = self.cache.lookup(&path.key);
        if let Some(hit) = &cached {
            if hit.file.is_fresh(self.cache.now(), self.cache_validity) {
                return Ok((Arc::clone(&hit.file), hit.media_type.clone()));
            }
        }
        let forget = || {
            if let Some(hit) = &cached {
                self.cache.forget(&path.key, &hit.file);
            }
        };
        let shown = self.root.join(path.relative());
        let resource = match self.open_resource(path.relative()) {
            Ok(resource) => resource,
            Err(error) => {
                let status = status_for_io_error(&shown, &error);
                if status.is_server_error() {
                    return Err(Unavailable::Busy);
                }
                forget();
                return Err(if error.kind() == std::io::ErrorKind::NotFound {
                    Unavailable::Missing
                } else {
                    Unavailable::Unusable(format!("{error} (a symlink out of the root, or no permission)"))
                });
            }
        };
        if !resource.metadata.is_file() {
            forget();
            return Err(Unavailable::Unusable("not a regular file".into()));
        }
        self.cached_file(&path.key, path.relative(), resource, cached.as_ref())
            .map_err(|error| Unavailable::Unusable(error.to_string()))
    }
}

/// Whether a path the root does not have is a route of a single-page app, to be
/// answered with its `index.html`, rather than a missing file: its last segment
/// has no `.` (`/app/settings`, not `/app/logo.png` or `/api/x.json`), as
/// static-web-server and nginx's usual `try_files $uri /index.html` setups decide.
/// A missing asset must stay a `404`: a browser given HTML for a script or image
/// reports a confusing error, and a cache would keep it under the asset's name.
pub(super) fn is_app_route(key: &str) -> bool {
    key.split('/')
        .rfind(|segment| !segment.is_empty())
        .is_some_and(|last| !last.contains('.'))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::super::response::error_response;
    use super::*;
    use crate::Handler;

    /// A root with a `404.html` and a `503.html`, removed on drop.
    struct Root(std::path::PathBuf);

    impl Root {
        fn new(name: &str) -> Root {
            let root = std::env::temp_dir().join(format!("nioserve-pages-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            fs::write(root.join("404.html"), "<h1>first</h1>").unwrap();
            fs::write(root.join("503.html"), "<h1>back soon</h1>").unwrap();
            Root(root)
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn body_of(response: &Response) -> Vec<u8> {
        match response.body() {
            crate::Body::Bytes(bytes) => bytes.to_vec(),
            other => panic!("expected bytes, got {other:?}"),
        }
    }

    fn get_missing(files: &StaticFiles) -> Response {
        let mut request = Request::new(Default::default());
        *request.uri_mut() = http::Uri::from_static("/missing");
        files.call(request)
    }

    #[test]
    fn a_503_page_keeps_retry_after() {
        let root = Root::new("503");
        let files = StaticFiles::new(&root.0)
            .unwrap()
            .error_page(StatusCode::SERVICE_UNAVAILABLE, "503.html");
        let response = files.with_error_page(error_response(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(body_of(&response), b"<h1>back soon</h1>");
    }

    #[test]
    fn the_page_is_read_through_the_cache_and_so_is_its_absence() {
        let root = Root::new("cached");
        let files = StaticFiles::new(&root.0)
            .unwrap()
            .cache_validity(Duration::from_secs(3600));
        assert_eq!(body_of(&get_missing(&files)), b"<h1>first</h1>");
        // Not read again from the disk while the cache trusts what it has.
        fs::write(root.0.join("404.html"), "<h1>second</h1>").unwrap();
        assert_eq!(body_of(&get_missing(&files)), b"<h1>first</h1>");
        let fresh = files.clone().cache_validity(Duration::ZERO);
        assert_eq!(body_of(&get_missing(&fresh)), b"<h1>second</h1>");

        // Found missing, it is not looked for again for as long.
        let root = Root::new("absent");
        fs::remove_file(root.0.join("404.html")).unwrap();
        let files = StaticFiles::new(&root.0)
            .unwrap()
            .cache_validity(Duration::from_secs(3600));
        assert_eq!(body_of(&get_missing(&files)), b"404 Not Found\n");
        fs::write(root.0.join("404.html"), "<h1>late</h1>").unwrap();
        assert_eq!(body_of(&get_missing(&files)), b"404 Not Found\n");
    }

    #[test]
    fn routes_are_paths_whose_last_segment_has_no_dot() {
        for key in ["/app/settings", "/app/settings/", "/a", "/v1.2/users"] {
            assert!(is_app_route(key), "{key}");
        }
        for key in ["/", "/app/logo.png", "/api/x.json", "/x.", "/dir/file.tar.gz/"] {
            assert!(!is_app_route(key), "{key}");
        }
    }

    #[test]
    fn page_names() {
        for (name, key) in [
            ("404.html", "/404.html"),
            ("/errors/404.html", "/errors/404.html"),
            ("errors//./50x.html", "/errors/50x.html"),
        ] {
            assert_eq!(RequestPath::page(name).unwrap().key, key, "{name}");
        }
        for name in [
            "",
            "/",
            "errors/",
            "../404.html",
            "a/../../x",
            ".env",
            "errors/.404.html",
            "a\\b",
            "a\0b",
        ] {
            assert!(RequestPath::page(name).is_err(), "{name:?}");
        }
    }
}
