//! The request path: percent-decoded once, checked, and reduced to the one
//! spelling the cache is keyed by, before the file system is asked anything.

use std::borrow::Cow;
use std::path::Path;

use http::StatusCode;
use percent_encoding::percent_decode_str;

/// The one name starting with `.` that is served without
/// [`serve_hidden`](super::StaticFiles::serve_hidden), and only as the first
/// component: RFC 8615 reserves `/.well-known/` for metadata meant to be public
/// (ACME challenges, `security.txt`).
pub(super) const WELL_KNOWN: &str = ".well-known";

/// A request path, decoded and checked: a path relative to the root whose every
/// component is a plain file name.
#[derive(Debug)]
pub(super) struct RequestPath<'a> {
    /// The path ends with `/`, so it names a directory.
    pub(super) names_directory: bool,
    /// Some component is a dot-file (`.env`, `.git`), other than a leading
    /// `.well-known`.
    pub(super) hidden: bool,
    /// The path in one canonical spelling: every segment decoded, empty and `.`
    /// segments dropped, `/` first and, if it names a directory, last (`/` alone
    /// for the root). `//a/./%62/` and `/a/b/` share the key `/a/b/`, so every
    /// spelling of one name finds one cache entry. A path already spelled so (what
    /// browsers send) is borrowed, not copied.
    pub(super) key: Cow<'a, str>,
}

impl<'a> RequestPath<'a> {
    /// Decodes the path of a request target, refusing any that could name
    /// something outside the root with `400 Bad Request`.
    pub(super) fn decode(path: &'a str) -> Result<RequestPath<'a>, StatusCode> {
        // RFC 9112 §3.2.1: the origin form starts with `/`; the asterisk form (`*`)
        // names no file.
        let Some(segments) = path.strip_prefix('/') else {
            return Err(StatusCode::BAD_REQUEST);
        };
        let names_directory = path.ends_with('/');
        if is_canonical(segments) {
            let hidden = segments.split('/').enumerate().any(|(i, name)| is_hidden(name, i == 0));
            return Ok(RequestPath {
                names_directory,
                hidden,
                key: Cow::Borrowed(path),
            });
        }

        let mut key = String::with_capacity(path.len());
        let mut hidden = false;
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
                name if !is_plain_name(name) => return Err(StatusCode::BAD_REQUEST),
                // No name holds a separator, so the key is a path of plain names.
                name => {
                    hidden |= is_hidden(name, key.is_empty());
                    key.push('/');
                    key.push_str(name);
                }
            }
        }
        if names_directory {
            key.push('/');
        }
        Ok(RequestPath {
            names_directory,
            hidden,
            key: Cow::Owned(key),
        })
    }

    /// The path of a page the operator configured (an error page, the SPA
    /// fallback), a file under the root named like `errors/404.html`, with or
    /// without a leading `/`, not percent-encoded.
    ///
    /// # Errors
    ///
    /// Why the name cannot be such a page: it is empty or names a directory, or has
    /// a `..` segment, a `\` or NUL, or a dot-file (a page is served to anyone who
    /// asks for a missing path, so it must not be one that is refused).
    pub(super) fn page(name: &str) -> Result<RequestPath<'static>, &'static str> {
        let mut key = String::with_capacity(name.len() + 1);
        for segment in name.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err("has a `..` segment"),
                segment if segment.contains(['\\', '\0']) => return Err("has a `\\` or NUL"),
                segment if segment.starts_with('.') => return Err("is a dot-file"),
                segment => {
                    key.push('/');
                    key.push_str(segment);
                }
            }
        }
        if key.is_empty() || name.ends_with('/') {
            return Err("does not name a file");
        }
        Ok(RequestPath {
            names_directory: false,
            hidden: false,
            key: Cow::Owned(key),
        })
    }

    /// The name of the last component, empty for the root.
    pub(super) fn file_name(&self) -> &str {
        self.key.trim_end_matches('/').rsplit('/').next().unwrap_or("")
    }

    /// The path relative to the root, empty for the root itself. Every component is
    /// a plain name (no `.`, `..` or separator).
    pub(super) fn relative(&self) -> &Path {
        Path::new(self.key.trim_matches('/'))
    }
}

/// Whether `segments`, a path after its leading `/`, is spelled as
/// [`RequestPath::decode`] would spell it: nothing encoded, no empty segment but a
/// trailing one, no `.` or `..` segment.
fn is_canonical(segments: &str) -> bool {
    if segments.bytes().any(|byte| matches!(byte, b'%' | b'\\' | b'\0')) {
        return false;
    }
    let mut names = segments.split('/').peekable();
    while let Some(name) = names.next() {
        let last = names.peek().is_none();
        if (name.is_empty() && !last) || name == "." || name == ".." {
            return false;
        }
    }
    true
}

/// Whether a path component is a dot-file; `first` says it is the first component,
/// where `.well-known` is not one.
fn is_hidden(name: &str, first: bool) -> bool {
    name.starts_with('.') && !(first && name == WELL_KNOWN)
}

/// Whether a decoded path segment can be a name in the root: a decoded `/` or `\`
/// would be a separator to the file system (`\` on Windows, and to some
/// browsers), NUL would end the name early. [`RequestPath::decode`] refuses any
/// other, so a directory entry with such a name can never be requested.
pub(super) fn is_plain_name(name: &str) -> bool {
    !name.contains(['/', '\\', '\0'])
}

/// Whether an entry named `name` in a directory listing is a dot-file that
/// [`RequestPath::decode`] would mark hidden; `at_root` says the listing is of
/// the root, where `.well-known` is not hidden.
pub(super) fn is_hidden_entry(name: &str, at_root: bool) -> bool {
    is_hidden(name, at_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_share_a_key() {
        let cases = [
            ("/big.bin", "/big.bin", false),
            ("//big.bin", "/big.bin", false),
            ("/./big.bin", "/big.bin", false),
            ("/.//./big.bin", "/big.bin", false),
            ("/%62ig.bin", "/big.bin", false),
            ("/a//b/./c", "/a/b/c", false),
            ("/a/b/c", "/a/b/c", false),
            ("/", "/", false),
            ("//", "/", false),
            ("/./", "/", false),
            // The root without its slash (redirected): not the key of `/`.
            ("/.", "", false),
            ("/sub/", "/sub/", false),
            ("/sub//", "/sub/", false),
            ("/sub/.", "/sub", false),
            ("/.env", "/.env", true),
            ("/%2eenv", "/.env", true),
            ("/a/.git/config", "/a/.git/config", true),
            ("/.well-known/security.txt", "/.well-known/security.txt", false),
            ("//./.well-known/x", "/.well-known/x", false),
            ("/.well-known/.secret", "/.well-known/.secret", true),
            ("/a/.well-known/x", "/a/.well-known/x", true),
        ];
        for (path, key, hidden) in cases {
            let decoded = RequestPath::decode(path).unwrap();
            assert_eq!(decoded.key, key, "{path}");
            assert_eq!(decoded.hidden, hidden, "{path}");
            assert_eq!(decoded.relative(), Path::new(key.trim_matches('/')), "{path}");
            // Borrowed exactly when the path is spelled as its key.
            assert_eq!(matches!(decoded.key, Cow::Borrowed(_)), path == key, "{path}");
        }
    }
}
