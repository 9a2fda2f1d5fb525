//! The request path: percent-decoded once, checked, and reduced to the one
//! spelling the cache is keyed by, before the file system is asked anything.

use std::path::PathBuf;

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
pub(super) struct RequestPath {
    pub(super) relative: PathBuf,
    /// The path ends with `/`, so it names a directory.
    pub(super) names_directory: bool,
    /// Some component is a dot-file (`.env`, `.git`), other than a leading
    /// `.well-known`.
    pub(super) hidden: bool,
    /// The path with empty and `.` segments dropped and every segment decoded,
    /// ending with `/` if it names a directory: `//a/./%62` and `/a/b` share the
    /// key `a/b`. Every spelling of one name finds one cache entry.
    pub(super) key: String,
}

impl RequestPath {
    /// Decodes the path of a request target, refusing any that could name
    /// something outside the root with `400 Bad Request`.
    pub(super) fn decode(path: &str) -> Result<RequestPath, StatusCode> {
        // RFC 9112 §3.2.1: the origin form starts with `/`; the asterisk form (`*`)
        // names no file.
        let Some(segments) = path.strip_prefix('/') else {
            return Err(StatusCode::BAD_REQUEST);
        };
        let mut relative = PathBuf::new();
        let mut key = String::with_capacity(segments.len() + 1);
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
                // A decoded `/` or `\` would be a separator to the file system (`\` on
                // Windows, and to some browsers); NUL would end the name early.
                name if name.contains(['/', '\\', '\0']) => return Err(StatusCode::BAD_REQUEST),
                // No name holds a separator, so `push` only ever appends: it cannot
                // replace `relative` with an absolute path.
                name => {
                    let first = key.is_empty();
                    hidden |= name.starts_with('.') && !(first && name == WELL_KNOWN);
                    if !first {
                        key.push('/');
                    }
                    key.push_str(name);
                    relative.push(name);
                }
            }
        }
        let names_directory = path.ends_with('/');
        if names_directory {
            key.push('/');
        }
        Ok(RequestPath {
            relative,
            names_directory,
            hidden,
            key,
        })
    }
}

/// Whether an entry named `name` in a directory listing is a dot-file that
/// [`RequestPath::decode`] would mark hidden; `at_root` says the listing is of
/// the root, where `.well-known` is not hidden.
pub(super) fn is_hidden_entry(name: &str, at_root: bool) -> bool {
    name.starts_with('.') && !(at_root && name == WELL_KNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_share_a_key() {
        let cases = [
            ("/big.bin", "big.bin", false),
            ("//big.bin", "big.bin", false),
            ("/./big.bin", "big.bin", false),
            ("/.//./big.bin", "big.bin", false),
            ("/%62ig.bin", "big.bin", false),
            ("/a//b/./c", "a/b/c", false),
            ("/", "/", false),
            ("//", "/", false),
            ("/sub/", "sub/", false),
            ("/sub//", "sub/", false),
            ("/.env", ".env", true),
            ("/%2eenv", ".env", true),
            ("/a/.git/config", "a/.git/config", true),
            ("/.well-known/security.txt", ".well-known/security.txt", false),
            ("//./.well-known/x", ".well-known/x", false),
            ("/.well-known/.secret", ".well-known/.secret", true),
            ("/a/.well-known/x", "a/.well-known/x", true),
        ];
        for (path, key, hidden) in cases {
            let decoded = RequestPath::decode(path).unwrap();
            assert_eq!(decoded.key, key, "{path}");
            assert_eq!(decoded.hidden, hidden, "{path}");
        }
    }
}
