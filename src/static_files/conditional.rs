//! Validators (RFC 9110 §8.8) and the conditional requests that test them (§13).
//!
//! [`evaluate`] follows §13.2.2's order to the letter: `If-Match`, then
//! `If-Unmodified-Since` only if there is no `If-Match`, then `If-None-Match`, then
//! `If-Modified-Since` only if there is no `If-None-Match`; `If-Range` (§13.1.5)
//! comes last and is the range code's business ([`if_range_matches`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The largest time an HTTP-date can show (9999-12-31T23:59:59Z), in seconds since
/// the epoch; `httpdate` panics past it.
pub(super) const LAST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// What tells one version of a file from another (RFC 9110 §8.8).
#[derive(Clone, Debug)]
pub(super) struct Validators {
    /// `"<mtime secs hex>-<size hex>"`, quotes included: nginx's format.
    ///
    /// It is strong, as nginx's is, although a file rewritten to the same size
    /// within one second keeps its tag; hashing the content would cost a read of
    /// every file served.
    pub(super) etag: String,
    /// The modification time, cut to the whole second an HTTP-date can show, so
    /// that it compares equal to the `Last-Modified` value a client sends back;
    /// no later than when the validators were made (see [`Validators::of_coding`]).
    pub(super) last_modified: SystemTime,
    /// Both as header values, made once per version of the file.
    etag_header: HeaderValue,
    last_modified_header: HeaderValue,
}

impl Validators {
    /// The validators of a file last modified at `modified`, `size` bytes long.
    pub(super) fn new(modified: SystemTime, size: u64) -> Validators {
        Validators::of_coding(modified, size, None)
    }

    /// The validators of a compressed representation: those of the file it is
    /// made from (`modified`, `size`), its tag followed by the coding's name
    /// (`"<mtime>-<size>-gzip"`), so that each representation has its own
    /// (RFC 9110 §8.8.3: a tag is for one representation, and a cache that holds
    /// the gzip form must not answer a plain request with it).
    ///
    /// A file dated in the future (a skewed clock, an archive unpacked from one) is
    /// last modified now, as RFC 9110 §8.8.2.1 requires: a `Last-Modified` later
    /// than the response's `Date` would make a client's `If-Modified-Since` hold
    /// until that date comes, whatever is written meanwhile. The validators are
    /// made once per version of the file and only used after, so every response
    /// they go in is dated no earlier. The tag keeps the file's own time.
    pub(super) fn of_coding(modified: SystemTime, size: u64, coding: Option<&str>) -> Validators {
        // A file can claim to predate 1970, which no HTTP-date can show.
        let secs = |time: SystemTime| {
            time.duration_since(UNIX_EPOCH)
                .map_or(0, |since_epoch| since_epoch.as_secs())
        };
        let mtime_secs = secs(modified).min(LAST_HTTP_DATE_SECS);
        let etag = match coding {
            None => format!("\"{mtime_secs:x}-{size:x}\""),
            Some(coding) => format!("\"{mtime_secs:x}-{size:x}-{coding}\""),
        };
        let last_modified = UNIX_EPOCH + Duration::from_secs(mtime_secs.min(secs(SystemTime::now())));
        Validators {
            etag_header: header_value(etag.clone()),
            last_modified_header: header_value(httpdate::fmt_http_date(last_modified)),
            etag,
            last_modified,
        }
    }

    pub(super) fn insert_into(&self, headers: &mut HeaderMap) {
        headers.insert(header::ETAG, self.etag_header.clone());
        headers.insert(header::LAST_MODIFIED, self.last_modified_header.clone());
    }
}

/// What the preconditions of a `GET` or `HEAD` say to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Precondition {
    /// None failed: go on to `Range`, and send the file.
    Proceed,
    /// `If-Match` or `If-Unmodified-Since` failed: `412 Precondition Failed`.
    Failed,
    /// `If-None-Match` or `If-Modified-Since` failed: `304 Not Modified`.
    NotModified,
}

/// Evaluates the preconditions of a `GET` or `HEAD` of a file in RFC 9110
/// §13.2.2's order (steps 1 to 4).
pub(super) fn evaluate(headers: &HeaderMap, validators: &Validators) -> Precondition {
    if headers.contains_key(header::IF_MATCH) {
        // Step 1, §13.1.1: strong comparison; `*` matches any current representation,
        // and a file being served is one.
        if !any_list_matches(headers, header::IF_MATCH, &validators.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = single_date(headers, header::IF_UNMODIFIED_SINCE) {
        // Step 2, §13.1.4: only without If-Match; false if the file changed after the date.
        if validators.last_modified > since {
            return Precondition::Failed;
        }
    }
    let not_modified = if headers.contains_key(header::IF_NONE_MATCH) {
        // Step 3, §13.1.2: weak comparison. If-Modified-Since is then ignored (§13.1.3).
        any_list_matches(headers, header::IF_NONE_MATCH, &validators.etag, Comparison::Weak)
    } else {
        // Step 4, §13.1.3.
        single_date(headers, header::IF_MODIFIED_SINCE).is_some_and(|since| validators.last_modified <= since)
    };
    if not_modified {
        Precondition::NotModified
    } else {
        Precondition::Proceed
    }
}

/// How two entity tags are compared (RFC 9110 §8.8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Comparison {
    /// Both strong and equal: a `W/` tag never matches.
    Strong,
    /// Equal opaque tags, `W/` prefixes ignored.
    Weak,
}

/// Whether any line of a list-valued field matches `etag`; a list may be split
/// over several lines (§5.3).
fn any_list_matches(headers: &HeaderMap, name: HeaderName, etag: &str, comparison: Comparison) -> bool {
    headers
        .get_all(name)
        .iter()
        .any(|value| value.to_str().is_ok_and(|list| list_matches(list, etag, comparison)))
}

/// Whether an `If-Match` or `If-None-Match` value names the current
/// representation, whose tag is the strong `etag`: it is `*`, or lists a tag equal
/// to `etag` under `comparison`.
///
/// Parsing stops at the first malformed member; what precedes it still counts.
pub(super) fn list_matches(list: &str, etag: &str, comparison: Comparison) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with("W/");
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        // An opaque tag is a quoted string with no quote inside (§8.8.3).
        let Some(closing_quote) = tag.strip_prefix('"').and_then(|inner| inner.find('"')) else {
            return false;
        };
        let (opaque_tag, after) = tag.split_at(closing_quote + 2);
        if opaque_tag == etag && !(weak && comparison == Comparison::Strong) {
            return true;
        }
        rest = after;
    }
}

/// Whether an `If-Range` value names the current representation (RFC 9110
/// §13.1.5): an entity tag equal under strong comparison, or an HTTP-date exactly
/// equal to `Last-Modified`. Anything else does not match.
pub(super) fn if_range_matches(value: &HeaderValue, validators: &Validators) -> bool {
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

/// The date of a field that holds one HTTP-date. An invalid date, or more than
/// one field line, is ignored (§13.1.3, §13.1.4).
fn single_date(headers: &HeaderMap, name: HeaderName) -> Option<SystemTime> {
    single_header(headers, name)
        .and_then(|value| value.to_str().ok())
        .and_then(|date| httpdate::parse_http_date(date).ok())
}

/// The value of a header that may appear only once. A repeated one is treated as
/// absent: the conditionals and `Range` then fall back to a plain `200`.
pub(super) fn single_header(headers: &HeaderMap, name: HeaderName) -> Option<&HeaderValue> {
    let mut values = headers.get_all(name).into_iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// A header value built by the static file server.
pub(super) fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect(
        "invariant: values built here hold only numbers, hex digits, HTTP-dates, \
         MIME types and the bytes of a parsed URI, all valid in a header value",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tag the lists below look for; the other tags have no `-`, so none equals it.
    const ETAG: &str = "\"5f-a\"";

    proptest::proptest! {
        /// Our tag anywhere in a list of others, with any spacing and empty members,
        /// matches under weak comparison, and under strong unless sent weak.
        #[test]
        fn a_list_naming_the_tag_matches_wherever_it_is(
            others in proptest::collection::vec(("(W/)?", "\"[a-z0-9]{0,5}\""), 0..5),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            weak in proptest::prelude::any::<bool>(),
            separators in proptest::collection::vec("[ \t]{0,2},[ \t,]{0,3}", 6),
            edges in ("[ \t,]{0,2}", "[ \t,]{0,2}"),
        ) {
            let mut tags: Vec<String> = others.iter().map(|(w, tag)| format!("{w}{tag}")).collect();
            let without = tags.clone();
            let ours = if weak { format!("W/{ETAG}") } else { ETAG.to_owned() };
            tags.insert(at.index(tags.len() + 1), ours);
            let join = |tags: &[String]| {
                let mut list = edges.0.clone();
                for (i, tag) in tags.iter().enumerate() {
                    if i > 0 {
                        list.push_str(&separators[i % separators.len()]);
                    }
                    list.push_str(tag);
                }
                list + &edges.1
            };
            let (list, without) = (join(&tags), join(&without));
            proptest::prop_assert!(list_matches(&list, ETAG, Comparison::Weak), "{}", list);
            proptest::prop_assert_eq!(list_matches(&list, ETAG, Comparison::Strong), !weak, "{}", list);
            proptest::prop_assert!(!list_matches(&without, ETAG, Comparison::Weak), "{}", without);
        }

        /// Any visible-ASCII value: no panic, and a list that never quotes our tag
        /// does not match it.
        #[test]
        fn any_value_is_read_without_panicking(value in "[ -~]{0,40}") {
            let names_it = value.contains(ETAG) || value.trim() == "*";
            for comparison in [Comparison::Weak, Comparison::Strong] {
                let matched = list_matches(&value, ETAG, comparison);
                proptest::prop_assert!(!matched || names_it, "{}", value);
            }
            let validators = Validators::new(UNIX_EPOCH + Duration::from_secs(95), 10);
            if let Ok(header) = HeaderValue::from_str(&value) {
                let _ = if_range_matches(&header, &validators);
            }
        }
    }
}
