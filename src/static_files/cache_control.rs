//! [`CachePolicy`]: which `Cache-Control` (RFC 9111 §5.2) a file response carries,
//! chosen by rules on the request path, the file's name or its type.
//!
//! The rules are the operator's, matched in order, first match wins; nothing here
//! is ever matched against a pattern a client chose, only a client's path against
//! the operator's patterns, and that in time linear in the path for each rule.

use std::fmt;
use std::io;

use http::header::HeaderValue;

/// `Cache-Control` for the files a [`StaticFiles`](crate::StaticFiles) serves,
/// chosen by rules matched in order; the first rule that matches decides.
///
/// A rule is `PATTERN=DIRECTIVES`, as [`parse_rule`](CachePolicy::parse_rule)
/// reads it (and the demo's `--cache-control` flag takes it). The pattern is one of:
///
/// | pattern | matches | example |
/// | --- | --- | --- |
/// | `hashed` | a file whose name has a content hash in it: a part of the name, between `.`, `-` or `_`, of at least 8 hex digits with at least one digit and one letter `a`–`f` | `hashed` matches `app.3f9a2c1b.js`, `main-4e5d6f7a.css`, not `report-20240101.pdf` |
/// | `TYPE/SUBTYPE`, `TYPE/*` | the `Content-Type` of the file, without parameters, case-insensitively | `text/html`, `image/*` |
/// | a glob starting with `/` | the request path, decoded, below the [mount point](crate::StaticFiles::mount) | `/assets/**`, `/docs/*.pdf` |
/// | any other glob | the name of the file served (`index.html` for `/`) | `*.js`, `sw.js`, `*` |
///
/// In a glob, `*` is any run of characters but `/`, `**` any run including `/`, and
/// `?` one character but `/`; everything else stands for itself, case-sensitively.
///
/// The directives are the `Cache-Control` value, such as `no-cache` or
/// `public, max-age=31536000, immutable`: a comma-separated list of `name` or
/// `name=value` (a token or a quoted string), where `max-age`, `s-maxage`,
/// `stale-while-revalidate` and `stale-if-error` take a number of seconds. The
/// word `none` means "send no `Cache-Control`" and ends the search as any match does.
///
/// A policy applies to `200`, `206` and `304` responses of files (a `304` must
/// carry the `Cache-Control` a `200` would, RFC 9110 §15.4.5), not to errors, to
/// redirects or to directory listings.
///
/// Vite's default asset names (`index-BpHwW5Tf.js`) carry a base64 hash, not a hex
/// one: match them with a path rule (`/assets/**`) instead of `hashed`.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use nioserve::{CachePolicy, StaticFiles};
///
/// // Service workers must never be stale; the rest as recommended.
/// let policy = CachePolicy::new()
///     .parse_rule("sw.js=no-store")?
///     .rule("/downloads/**", "max-age=86400")?
///     .append(CachePolicy::recommended());
/// let files = StaticFiles::new(std::env::temp_dir())?.cache_control(policy);
///
/// assert!(CachePolicy::new().parse_rule("*.js=max-age=soon").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct CachePolicy {
    rules: Vec<Rule>,
}

/// One rule: what it matches, and the value to send (`None`: no header).
#[derive(Clone)]
struct Rule {
    pattern: Pattern,
    value: Option<HeaderValue>,
    /// The rule as written, for `Debug`.
    spelled: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// A content hash in the file name.
    Hashed,
    /// A media type, lower-case, with `*` for any subtype.
    Type { main: String, sub: String },
    /// A glob on the request path.
    Path(String),
    /// A glob on the file name.
    Name(String),
}

/// What a policy's rules are matched against.
#[derive(Clone, Copy, Debug)]
pub(super) struct Served<'a> {
    /// The request path below the mount point, decoded (`/docs/`, `/app.js`).
    pub(super) path: &'a str,
    /// The name of the file served (`index.html` for `/docs/`).
    pub(super) name: &'a str,
    /// Its `Content-Type` value, parameters included.
    pub(super) content_type: &'a HeaderValue,
}

/// The directives a hashed name gets in [`CachePolicy::recommended`]: a year, the
/// most RFC 9111 §5.2.2.1 lets a cache count on, and `immutable` (RFC 8246) so that
/// a reload does not revalidate it either.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

impl CachePolicy {
    /// A policy without rules: no response gets `Cache-Control`.
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = nioserve::CachePolicy::new();
    /// ```
    pub fn new() -> CachePolicy {
        CachePolicy::default()
    }

    /// The rules most sites want, in this order:
    ///
    /// 1. `hashed=public, max-age=31536000, immutable`: a name with a content hash
    ///    changes when the content does, so the old name can be kept for a year,
    ///    not even revalidated on reload.
    /// 2. `text/html=no-cache`: pages are revalidated on every use, so a new
    ///    deploy is seen at once (a `304` costs a round trip, not the page).
    /// 3. `*=no-cache`: so is every other file. A file whose name stays when its
    ///    content changes (`styles.css`) would otherwise be kept by browsers by
    ///    heuristic for a tenth of its age (RFC 9111 §4.2.2) — days of stale CSS
    ///    after an edit. Add your own rules before these to cache more
    ///    (`image/*=max-age=86400`).
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = nioserve::CachePolicy::recommended();
    /// ```
    pub fn recommended() -> CachePolicy {
        let rule =
            |pattern: &str, value: &str| Rule::new(pattern, value).expect("invariant: the preset's rules are valid");
        CachePolicy {
            rules: vec![
                rule("hashed", IMMUTABLE),
                rule("text/html", "no-cache"),
                rule("*", "no-cache"),
            ],
        }
    }

    /// Adds a rule after the others: files matching `pattern` get `Cache-Control:
    /// directives` (or none, if `directives` is `none`). See the
    /// [type's documentation](CachePolicy) for the syntax of both.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, saying what is wrong, if the pattern is empty or a malformed
    /// media type, or the directives are not a valid `Cache-Control` list.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let policy = nioserve::CachePolicy::new().rule("image/*", "public, max-age=86400")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn rule(mut self, pattern: &str, directives: &str) -> io::Result<CachePolicy> {
        self.rules.push(Rule::new(pattern, directives)?);
        Ok(self)
    }

    /// Adds a rule written `PATTERN=DIRECTIVES`, such as `*.js=max-age=3600` (the
    /// pattern ends at the first `=`), after the others.
    ///
    /// # Errors
    ///
    /// As [`rule`](CachePolicy::rule), and if there is no `=`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let policy = nioserve::CachePolicy::new().parse_rule("text/html=no-cache")?;
    /// assert!(nioserve::CachePolicy::new().parse_rule("no-cache").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn parse_rule(self, rule: &str) -> io::Result<CachePolicy> {
        let Some((pattern, directives)) = rule.split_once('=') else {
            return Err(invalid(format!(
                "cache-control rule {rule:?} is not PATTERN=DIRECTIVES (e.g. `*.js=max-age=3600`)"
            )));
        };
        self.rule(pattern, directives)
    }

    /// Adds the rules of `other` after these: they decide only where none of these matched.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::CachePolicy;
    /// let policy = CachePolicy::new().parse_rule("*.pdf=none")?.append(CachePolicy::recommended());
    /// # Ok(())
    /// # }
    /// ```
    pub fn append(mut self, other: CachePolicy) -> CachePolicy {
        self.rules.extend(other.rules);
        self
    }

    /// The `Cache-Control` value for a file response, if any rule gives one.
    pub(super) fn header_for(&self, served: Served<'_>) -> Option<&HeaderValue> {
        self.rules
            .iter()
            .find(|rule| rule.pattern.matches(served))
            .and_then(|rule| rule.value.as_ref())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl fmt::Debug for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|rule| &rule.spelled))
            .finish()
    }
}

impl Rule {
    fn new(pattern: &str, directives: &str) -> io::Result<Rule> {
        let pattern = pattern.trim();
        let directives = directives.trim();
        let spelled = format!("{pattern}={directives}");
        let pattern = Pattern::parse(pattern)
            .map_err(|why| invalid(format!("cache-control rule {spelled:?}: pattern {pattern:?} {why}")))?;
        let value = if directives == "none" {
            None
        } else {
            Some(
                parse_directives(directives)
                    .map_err(|why| invalid(format!("cache-control rule {spelled:?}: {why}")))?,
            )
        };
        Ok(Rule {
            pattern,
            value,
            spelled,
        })
    }
}

impl Pattern {
    fn parse(pattern: &str) -> Result<Pattern, String> {
        if pattern.is_empty() {
            return Err("is empty".into());
        }
        if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("has a space or a control character".into());
        }
        if pattern == "hashed" {
            return Ok(Pattern::Hashed);
        }
        if pattern.starts_with('/') {
            return Ok(Pattern::Path(pattern.to_owned()));
        }
        let Some((main, sub)) = pattern.split_once('/') else {
            return Ok(Pattern::Name(pattern.to_owned()));
        };
        // RFC 9110 §8.3.1: type "/" subtype, both tokens; `*` for any subtype.
        if !is_token(main) || main == "*" || !(sub == "*" || is_token(sub)) {
            return Err("is not a media type such as text/html or image/*, nor a path glob starting with /".into());
        }
        Ok(Pattern::Type {
            main: main.to_ascii_lowercase(),
            sub: sub.to_ascii_lowercase(),
        })
    }

    fn matches(&self, served: Served<'_>) -> bool {
        match self {
            Pattern::Hashed => has_content_hash(served.name),
            Pattern::Path(glob) => glob_matches(glob.as_bytes(), served.path.as_bytes()),
            Pattern::Name(glob) => glob_matches(glob.as_bytes(), served.name.as_bytes()),
            Pattern::Type { main, sub } => {
                let Ok(value) = served.content_type.to_str() else {
                    return false;
                };
                let mime = value.split(';').next().unwrap_or("").trim();
                let Some((their_main, their_sub)) = mime.split_once('/') else {
                    return false;
                };
                their_main.eq_ignore_ascii_case(main) && (sub == "*" || their_sub.eq_ignore_ascii_case(sub))
            }
        }
    }
}

/// Checks a `Cache-Control` list (RFC 9111 §5.2: `#cache-directive`, each
/// `token [ "=" ( token / quoted-string ) ]`) and makes it a header value.
fn parse_directives(directives: &str) -> Result<HeaderValue, String> {
    if directives.is_empty() {
        return Err("no directives (write `none` for no header)".into());
    }
    for directive in split_list(directives) {
        let directive = directive.trim_matches([' ', '\t']);
        if directive.is_empty() {
            return Err("an empty directive between commas".into());
        }
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name, Some(argument)),
            None => (directive, None),
        };
        if !is_token(name) {
            return Err(format!("{name:?} is not a directive name"));
        }
        match argument {
            None => {}
            Some(argument) if is_token(argument) || is_quoted_string(argument) => {}
            Some(argument) => return Err(format!("{argument:?} is not a token or a quoted string")),
        }
        // §1.2.2: delta-seconds is 1*DIGIT; `max-age=1h` would be ignored by caches.
        let takes_seconds = ["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]
            .iter()
            .any(|known| name.eq_ignore_ascii_case(known));
        if takes_seconds
            && !argument.is_some_and(|seconds| !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("{name} takes a number of seconds, as in {name}=3600"));
        }
    }
    HeaderValue::from_str(directives).map_err(|_| "not a valid header value".to_string())
}

/// The members of a comma-separated list, commas inside quoted strings kept.
fn split_list(list: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, byte) in list.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                members.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&list[start..]);
    members
}

/// RFC 9110 §5.6.2: `1*tchar`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9110 §5.6.4, roughly: quotes at both ends, nothing unescaped inside that ends it.
fn is_quoted_string(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for byte in inner.bytes() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return false,
            _ => {}
        }
    }
    !escaped
}

/// Whether a file name carries a content hash, as bundlers write them
/// (`app.3f9a2c1b.js`, `main-4e5d6f7a.css`, webpack's `[contenthash]`): some part of
/// it between `.`, `-` or `_` is at least 8 hex digits, with at least one digit and
/// one letter. The digit rules out words (`deadbeef`), the letter dates and
/// versions (`report-20240101.pdf`); a hash that happens to be all digits (about 2 %
/// of 8-digit ones, far fewer of longer ones) is missed, which costs a revalidation,
/// never a stale file.
fn has_content_hash(name: &str) -> bool {
    name.split(['.', '-', '_']).any(|part| {
        part.len() >= 8
            && part.bytes().all(|b| b.is_ascii_hexdigit())
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

/// Whether `text` (UTF-8) matches the glob `pattern`: `*` is any run of bytes but
/// `/`, `**` any run at all, `?` one character but `/`.
///
/// One row of a table of "pattern prefix matches text prefix" is kept per pattern
/// byte, so a hostile path costs time linear in its length for each rule, however
/// many stars the pattern has.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    // `matched[j]`: the pattern so far matches `text[..j]`.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    let mut p = 0;
    while p < pattern.len() {
        match pattern[p] {
            b'*' => {
                let across = pattern.get(p + 1) == Some(&b'*');
                // A star extends any match so far over the bytes it may take.
                for j in 1..=text.len() {
                    if !matched[j] && matched[j - 1] && (across || text[j - 1] != b'/') {
                        matched[j] = true;
                    }
                }
                p += if across { 2 } else { 1 };
            }
            b'?' => {
                // One character, which in UTF-8 may be several bytes (`é`, `中`).
                let continues = |byte: u8| byte & 0xc0 == 0x80;
                for j in (1..=text.len()).rev() {
                    let ends_a_character = text.get(j).is_none_or(|&next| !continues(next));
                    let start = (0..j).rev().find(|&i| !continues(text[i])).unwrap_or(0);
                    matched[j] = ends_a_character && matched[start] && text[start] != b'/';
                }
                matched[0] = false;
                p += 1;
            }
            byte => {
                for j in (1..=text.len()).rev() {
                    matched[j] = matched[j - 1] && text[j - 1] == byte;
                }
                matched[0] = false;
                p += 1;
            }
        }
    }
    matched[text.len()]
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served<'a>(path: &'a str, name: &'a str, content_type: &'a HeaderValue) -> Served<'a> {
        Served {
            path,
            name,
            content_type,
        }
    }

    #[test]
    fn globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.js", "app.js", true),
            ("*.js", "app.json", false),
            ("*.js", ".js", true),
            ("*", "", true),
            ("*", "anything.at.all", true),
            ("sw.js", "sw.js", true),
            ("sw.js", "xsw.js", false),
            ("?.css", "a.css", true),
            ("?.css", "ab.css", false),
            ("/assets/*", "/assets/app.js", true),
            ("/assets/*", "/assets/", true),
            ("/assets/*", "/assets/img/logo.png", false),
            ("/assets/**", "/assets/img/logo.png", true),
            ("/**.png", "/a/b/c.png", true),
            ("/**.png", "/a/b/c.png.txt", false),
            ("/docs/*.pdf", "/docs/a.pdf", true),
            ("/docs/*.pdf", "/docs/sub/a.pdf", false),
            ("/a?c", "/a/c", false),
            ("?.png", "é.png", true),
            ("?.png", "中.png", true),
            ("??.png", "中.png", false),
            ("*?", "中", true),
            ("*a*a*a*a*a*b", &"a".repeat(200), false),
        ];
        for &(pattern, text, expected) in cases {
            assert_eq!(
                glob_matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn hashed_names() {
        for name in [
            "app.3f9a2c1b.js",
            "main-4e5d6f7a.css",
            "chunk_0123456789abcdef0123.js",
            "3F9A2C1B.png",
        ] {
            assert!(has_content_hash(name), "{name}");
        }
        for name in [
            "app.js",
            "main-4e5d6f.css",
            "report-20240101.pdf",
            "deadbeef.js",
            "index-BpHwW5Tf.js",
            "app3f9a2c1b.js",
            "",
        ] {
            assert!(!has_content_hash(name), "{name}");
        }
    }

    #[test]
    fn rules_parse_or_say_why_not() {
        for rule in [
            "*.js=max-age=3600",
            "text/html=no-cache",
            "image/*=public, max-age=86400",
            "/assets/**=public,max-age=31536000,immutable",
            "hashed=none",
            "*=private, no-cache=\"set-cookie, x-a\"",
            " *.css = max-age=60 ",
        ] {
            assert!(CachePolicy::new().parse_rule(rule).is_ok(), "{rule}");
        }
        for (rule, says) in [
            ("no-cache", "PATTERN=DIRECTIVES"),
            ("=no-cache", "empty"),
            ("*.js=", "no directives"),
            ("*.js=max-age=1h", "number of seconds"),
            ("*.js=max-age", "number of seconds"),
            ("*.js=public,,max-age=1", "empty directive"),
            ("*.js=max age=1", "directive name"),
            ("*.js=no-cache=\"x", "quoted"),
            ("text/=no-cache", "media type"),
            ("*/html=no-cache", "media type"),
            ("a b=no-cache", "space"),
            ("*.js=no-cache\u{7f}", "directive name"),
        ] {
            let error = CachePolicy::new().parse_rule(rule).expect_err(rule).to_string();
            assert!(error.contains(says), "{rule}: {error}");
            assert!(error.contains("cache-control"), "{rule}: {error}");
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let policy = CachePolicy::new()
            .parse_rule("sw.js=no-store")
            .unwrap()
            .parse_rule("/private/**=none")
            .unwrap()
            .parse_rule("image/*=max-age=86400")
            .unwrap()
            .append(CachePolicy::recommended());
        let html = HeaderValue::from_static("text/html; charset=utf-8");
        let js = HeaderValue::from_static("application/javascript; charset=utf-8");
        let png = HeaderValue::from_static("image/png");
        let value = |path, name, content_type| {
            policy
                .header_for(served(path, name, content_type))
                .map(|value| value.to_str().unwrap().to_owned())
        };
        assert_eq!(value("/sw.js", "sw.js", &js).as_deref(), Some("no-store"));
        assert_eq!(value("/private/a.3f9a2c1b.js", "a.3f9a2c1b.js", &js), None);
        assert_eq!(value("/logo.png", "logo.png", &png).as_deref(), Some("max-age=86400"));
        assert_eq!(
            value("/app.3f9a2c1b.js", "app.3f9a2c1b.js", &js).as_deref(),
            Some(IMMUTABLE)
        );
        assert_eq!(value("/", "index.html", &html).as_deref(), Some("no-cache"));
        assert_eq!(value("/app.js", "app.js", &js).as_deref(), Some("no-cache"));
        assert_eq!(CachePolicy::new().header_for(served("/", "index.html", &html)), None);
        assert_eq!(
            format!("{:?}", CachePolicy::new().parse_rule("*=none").unwrap()),
            r#"["*=none"]"#
        );
    }

    #[test]
    fn media_types_compare_case_insensitively_without_parameters() {
        let policy = CachePolicy::new().parse_rule("Text/HTML=no-cache").unwrap();
        let upper = HeaderValue::from_static("TEXT/html;charset=utf-8");
        assert!(policy.header_for(served("/x", "x", &upper)).is_some());
        let other = HeaderValue::from_static("text/htmlx");
        assert!(policy.header_for(served("/x", "x", &other)).is_none());
    }

    /// The glob rules of `glob_matches` as plain backtracking over characters, to
    /// check it against.
    fn naive_glob(pattern: &[char], text: &[char]) -> bool {
        match pattern {
            [] => text.is_empty(),
            ['*', '*', rest @ ..] => (0..=text.len()).any(|taken| naive_glob(rest, &text[taken..])),
            ['*', rest @ ..] => (0..=text.len())
                .take_while(|&taken| taken == 0 || text[taken - 1] != '/')
                .any(|taken| naive_glob(rest, &text[taken..])),
            ['?', rest @ ..] => text.first().is_some_and(|&c| c != '/') && naive_glob(rest, &text[1..]),
            [c, rest @ ..] => text.first() == Some(c) && naive_glob(rest, &text[1..]),
        }
    }

    proptest::proptest! {
        /// The linear-time matcher agrees with backtracking on every small pattern,
        /// characters of several bytes included.
        #[test]
        fn globs_match_as_backtracking_would(pattern in "[aé中/*?.]{0,8}", text in "[aé中/.]{0,10}") {
            let chars = |text: &str| text.chars().collect::<Vec<char>>();
            proptest::prop_assert_eq!(
                glob_matches(pattern.as_bytes(), text.as_bytes()),
                naive_glob(&chars(&pattern), &chars(&text)),
                "{} ~ {}", pattern, text
            );
        }
    }
}
