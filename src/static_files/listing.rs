//! Directory listings: an HTML page of links, for a directory without an index
//! when [`list_directories`](super::StaticFiles::list_directories) is on.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;

use http::header::{self, HeaderValue};
use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rustix::fs::{statat, AtFlags, Dir, FileType};

use super::open::{status_for_io_error, utf8_name};
use super::path::is_hidden_entry;
use crate::{Body, Response};

/// Characters a name keeps in a listing's links: RFC 3986's unreserved set. All
/// else is percent-encoded, including `:`, which in a first segment would read as
/// a URL scheme.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A `200` HTML page linking to each entry of the open directory `dir`, which the
/// client requested as `relative` under the root, and as `url_path` (the page's title).
/// `display` names it in a log line if reading fails. Dot-files are left out unless
/// `show_hidden`. The links are relative, so they keep whatever prefix `url_path` has.
///
/// The entries are read from the directory that was opened, not looked up by
/// name again, so the listing is of the same directory the checks were made on.
pub(super) fn list_directory(
    url_path: &str,
    relative: &Path,
    dir: &File,
    display: &Path,
    show_hidden: bool,
) -> Result<Response, StatusCode> {
    let read_error = |error: rustix::io::Errno| status_for_io_error(display, &io::Error::from(error));
    let at_root = relative.as_os_str().is_empty();
    let mut entries = Vec::new();
    for entry in Dir::read_from(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let bytes = entry.file_name().to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        // A name that is not UTF-8 cannot be requested (such a path is a 400), so
        // it is not offered; nor is a dot-file that would be refused.
        let Some(name) = utf8_name(bytes) else {
            continue;
        };
        if !show_hidden && is_hidden_entry(name, at_root) {
            continue;
        }
        // The entry's own type, not its target's: a symlink to a directory gets no
        // `/` and reaches it through the redirect. Some file systems do not say in
        // the entry (`DT_UNKNOWN`); then ask, without following a link.
        let is_directory = match entry.file_type() {
            FileType::Unknown => statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory),
            kind => kind == FileType::Directory,
        };
        entries.push((name.to_owned(), is_directory));
    }
    entries.sort();

    let title = html_escape(url_path);
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body>\n<h1>Index of {title}</h1>\n<ul>\n"
    );
    if !at_root {
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
