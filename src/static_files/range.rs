//! Byte ranges (RFC 9110 §14): which part of a file a `GET` with `Range` gets.

use http::header;
use http::Method;

use super::conditional::{if_range_matches, single_header, Validators};
use crate::Request;

/// The byte range a `Range` header selects, checked against the file's size.
#[derive(Debug, PartialEq)]
pub(super) enum ByteRange {
    /// Bytes `first..=last`, both inside the file.
    Satisfiable { first: u64, last: u64 },
    /// Every range requested starts past the end of the file or asks for the
    /// last zero bytes.
    Unsatisfiable,
}

/// The one range a `GET` should answer, or `None` to send the whole file.
pub(super) fn requested_range(request: &Request, validators: &Validators, size: u64) -> Option<ByteRange> {
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

/// Reads a `Range` value (RFC 9110 §14.1) for a file of `size` bytes.
///
/// `None` means "ignore the header and send the whole file", which RFC 9110 §14.2
/// allows: for a malformed value, for several ranges of which any is satisfiable
/// (no `multipart/byteranges` here), and for an empty file, of which no range can
/// be described in a `Content-Range`. A list whose ranges are all unsatisfiable
/// is [`ByteRange::Unsatisfiable`] (§14.2: `416`).
pub(super) fn parse_range(value: &str, size: u64) -> Option<ByteRange> {
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
    let first = parse_spec(specs.next()?, size)?;
    let mut several = false;
    let mut any_satisfiable = matches!(first, ByteRange::Satisfiable { .. });
    for spec in specs {
        several = true;
        // §14.1.1: one invalid range-spec makes the whole ranges-specifier invalid.
        any_satisfiable |= matches!(parse_spec(spec, size)?, ByteRange::Satisfiable { .. });
    }
    match (several, any_satisfiable) {
        (false, _) => Some(first),
        // §14.2: a list that selects nothing at all is answered 416, as one range is.
        (true, false) => Some(ByteRange::Unsatisfiable),
        (true, true) => None,
    }
}

/// Reads one `range-spec` for a file of `size` (> 0) bytes; `None` if it is invalid.
fn parse_spec(spec: &str, size: u64) -> Option<ByteRange> {
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
