//! Directory listings: an HTML table of links with each entry's size and
//! modification time, for a directory without an index when
//! [`list_directories`](super::StaticFiles::list_directories) is on.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;

use http::header::{self, HeaderValue};
use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rustix::fs::{statat, AtFlags, Dir, FileType};

use super::open::{status_for_io_error, utf8_name};
use super::path::{is_hidden_entry, is_plain_name};
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
        // A name that is not UTF-8 or holds a `\` cannot be requested (such a path
        // is a 400), so it is not offered; nor is a dot-file that would be refused.
        let Some(name) = utf8_name(bytes).filter(|name| is_plain_name(name)) else {
            continue;
        };
        if !show_hidden && is_hidden_entry(name, at_root) {
            continue;
        }
        // The entry's own type and times, not its target's: a symlink to a
        // directory gets no `/` and reaches it through the redirect, and a link out
        // of the root tells nothing of what it points to.
        let stat = statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW).ok();
        let kind = match (entry.file_type(), &stat) {
            // Some file systems do not say in the entry (`DT_UNKNOWN`).
            (FileType::Unknown, Some(stat)) => FileType::from_raw_mode(stat.st_mode),
            (kind, _) => kind,
        };
        entries.push(Entry {
            name: name.to_owned(),
            is_directory: kind == FileType::Directory,
            // A size only for what has one worth showing: a regular file.
            size: stat
                .as_ref()
                .filter(|_| kind == FileType::RegularFile)
                .and_then(|stat| u64::try_from(stat.st_size).ok()),
            // `time_t` is `i64` here, but not everywhere.
            #[allow(clippy::unnecessary_cast)]
            modified: stat.as_ref().map(|stat| stat.st_mtime as i64),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let title = html_escape(url_path);
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Index of {title}</title>\n\
         <style>td, th {{ padding: 0 1em 0 0; text-align: left; }} td.size {{ text-align: right; }}</style></head>\n\
         <body>\n<h1>Index of {title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size (bytes)</th><th>Modified (UTC)</th></tr>\n"
    );
    if !at_root {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in entries {
        let slash = if entry.is_directory { "/" } else { "" };
        let size = entry.size.map_or_else(|| "-".to_owned(), |size| size.to_string());
        let modified = entry.modified.map_or_else(String::new, utc_minute);
        // Writing to a `String` cannot fail.
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{}{slash}\">{}{slash}</a></td><td class=\"size\">{size}</td><td>{modified}</td></tr>",
            utf8_percent_encode(&entry.name, PATH_SEGMENT),
            html_escape(&entry.name),
        );
    }
    html.push_str("</table>\n</body>\n</html>\n");

    let mut response = Response::new(Body::from(html));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// One entry of a listing.
struct Entry {
    name: String,
    is_directory: bool,
    /// In bytes, for a regular file.
    size: Option<u64>,
    /// Seconds since the epoch, if the entry could be asked.
    modified: Option<i64>,
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM`, in UTC.
fn utc_minute(secs: i64) -> String {
    let (days, in_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_utc_dates() {
        for (secs, shown) in [
            (0, "1970-01-01 00:00"),
            (951_782_400, "2000-02-29 00:00"),
            (1_704_189_659, "2024-01-02 10:00"),
            (253_402_300_799, "9999-12-31 23:59"),
            (-1, "1969-12-31 23:59"),
        ] {
            assert_eq!(utc_minute(secs), shown, "{secs}");
        }
    }

    proptest::proptest! {
        /// An escaped name has no character left that HTML reads as markup, and
        /// reads back as the name.
        #[test]
        fn escaped_names_read_back_and_hold_no_markup(name in "\\PC{0,30}|[<>&\"' \n]{0,10}") {
            let escaped = html_escape(&name);
            proptest::prop_assert!(!escaped.contains(['<', '>', '"', '\'']), "{}", escaped);
            let unescaped = escaped
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            proptest::prop_assert_eq!(unescaped, name);
        }
    }
}
