//! Byte ranges (RFC 9110 §14): which parts of a file a `GET` with `Range` gets.
//!
//! A `Range` naming several ranges is answered with the ranges that overlap the
//! file, overlapping and adjacent ones coalesced, in the order the client asked for
//! them (§14.2's SHOULD; a coalesced range takes the place of its earliest member).
//! The set is bounded before any of it is sent: more than `max_ranges` ranges, or
//! ranges that together ask for more bytes than the file holds (which only
//! overlapping ranges can), are answered as if there were no `Range` at all (§14.2
//! lets a server ignore the field; nginx's `max_ranges` and Go's `ServeContent` do the
//! same). So a response to a range request is never longer than the file plus
//! `max_ranges` part headers, however hostile the header.

use http::header;
use http::Method;

use super::conditional::{if_range_matches, single_header, Validators};
use crate::Request;

/// Bytes `first..=last` of a file, both inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteRange {
    pub(super) first: u64,
    pub(super) last: u64,
}

impl ByteRange {
    /// How many bytes the range holds: at least one.
    pub(super) fn len(self) -> u64 {
        self.last - self.first + 1
    }
}

/// What a `Range` header selects, checked against the file's size.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ranges {
    /// One range, or several that coalesced into one: a single-part `206`.
    One(ByteRange),
    /// Two or more ranges, disjoint and not adjacent, in the order asked for: a
    /// `multipart/byteranges` `206` (§14.6).
    Several(Vec<ByteRange>),
    /// Every range requested starts past the end of the file or asks for the
    /// last zero bytes: `416` (§15.5.17).
    Unsatisfiable,
}

/// The ranges a `GET` should answer, or `None` to send the whole file.
///
/// `max_ranges` is the most ranges one `Range` may name; 0 turns ranges off.
pub(super) fn requested_ranges(
    request: &Request,
    validators: &Validators,
    size: u64,
    max_ranges: usize,
) -> Option<Ranges> {
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
    parse_ranges(range.to_str().ok()?, size, max_ranges)
}

/// Reads a `Range` value (RFC 9110 §14.1) for a file of `size` bytes, allowing at
/// most `max_ranges` ranges.
///
/// `None` means "ignore the header and send the whole file", which RFC 9110 §14.2
/// allows: for a malformed value; for an empty file, of which no range can be
/// described in a `Content-Range`; with `max_ranges` 0; and for the abusive sets
/// §14.2 warns of: more than `max_ranges` ranges, or satisfiable ranges whose
/// lengths add up to more than the file's size (`bytes=0-,0-,0-…`). A list whose
/// ranges are all unsatisfiable is [`Ranges::Unsatisfiable`] (§14.2: `416`); an
/// unsatisfiable range among satisfiable ones is dropped.
pub(super) fn parse_ranges(value: &str, size: u64, max_ranges: usize) -> Option<Ranges> {
    if size == 0 || max_ranges == 0 {
        return None;
    }
    let (unit, set) = value.split_once('=')?;
    // §14.1: range units are case-insensitive.
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    // §5.6.1: a recipient accepts empty list elements, as in `bytes=0-4,`.
    let specs = set
        .split(',')
        .map(|spec| spec.trim_matches([' ', '\t']))
        .filter(|spec| !spec.is_empty());
    let mut satisfiable = Vec::new();
    let mut count = 0;
    for spec in specs {
        count += 1;
        // nginx's max_ranges: too many ranges, as if none were asked for. Parsing
        // stops here, so a header of thousands costs no more than this many.
        if count > max_ranges {
            return None;
        }
        // §14.1.1: one invalid range-spec makes the whole ranges-specifier invalid.
        if let Spec::Satisfiable(range) = parse_spec(spec, size)? {
            satisfiable.push(range);
        }
    }
    if count == 0 {
        // `bytes=` or `bytes=,`: a ranges-specifier needs one range-spec.
        return None;
    }
    if satisfiable.is_empty() {
        // §14.2: a list that selects nothing at all is answered 416, as one range is.
        return Some(Ranges::Unsatisfiable);
    }
    // §14.2: overlapping ranges are a sign of a broken client or an attack. Ranges
    // asking for more than the whole file can only overlap, and the whole file is
    // then no more than they asked for.
    let asked = satisfiable
        .iter()
        .fold(0_u64, |sum, range| sum.saturating_add(range.len()));
    if asked > size {
        return None;
    }
    let mut coalesced = coalesce(satisfiable);
    if coalesced.len() == 1 {
        return Some(Ranges::One(coalesced.remove(0)));
    }
    Some(Ranges::Several(coalesced))
}

/// Merges ranges that overlap or touch (`0-4,5-9` is `0-9`), as §14.2 allows, and
/// keeps the client's order: each merged range stands where its earliest member was.
///
/// Ranges separated by even one byte stay apart: the client gets exactly the bytes
/// it asked for, and what a part header costs is bounded by `max_ranges`.
fn coalesce(ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let mut by_start: Vec<(usize, ByteRange)> = ranges.into_iter().enumerate().collect();
    by_start.sort_unstable_by_key(|&(_, range)| (range.first, range.last));
    let mut merged: Vec<(usize, ByteRange)> = Vec::with_capacity(by_start.len());
    for (asked_at, range) in by_start {
        match merged.last_mut() {
            Some((earliest, previous)) if range.first <= previous.last.saturating_add(1) => {
                previous.last = previous.last.max(range.last);
                *earliest = (*earliest).min(asked_at);
            }
            _ => merged.push((asked_at, range)),
        }
    }
    merged.sort_unstable_by_key(|&(asked_at, _)| asked_at);
    merged.into_iter().map(|(_, range)| range).collect()
}

/// One valid `range-spec`, checked against the file's size.
#[derive(Debug, PartialEq, Eq)]
enum Spec {
    Satisfiable(ByteRange),
    Unsatisfiable,
}

/// Reads one `range-spec` for a file of `size` (> 0) bytes; `None` if it is invalid.
fn parse_spec(spec: &str, size: u64) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        // `-n`: the last n bytes, or the whole file if it is shorter (§14.1.2).
        let suffix_length = parse_position(last)?;
        if suffix_length == 0 {
            return Some(Spec::Unsatisfiable);
        }
        return Some(Spec::Satisfiable(ByteRange {
            first: size.saturating_sub(suffix_length),
            last: size - 1,
        }));
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
        return Some(Spec::Unsatisfiable);
    }
    Some(Spec::Satisfiable(ByteRange {
        first,
        last: last.min(size - 1),
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    fn one(first: u64, last: u64) -> Option<Ranges> {
        Some(Ranges::One(range(first, last)))
    }

    fn several(ranges: &[(u64, u64)]) -> Option<Ranges> {
        Some(Ranges::Several(
            ranges.iter().map(|&(first, last)| range(first, last)).collect(),
        ))
    }

    #[test]
    fn range_sets_of_a_thousand_byte_file() {
        let cases = [
            // One range, as before.
            ("bytes=0-99", one(0, 99)),
            ("bytes=-100", one(900, 999)),
            ("bytes=900-", one(900, 999)),
            ("bytes=0-5000", one(0, 999)),
            // Several disjoint ranges, in the order asked for.
            ("bytes=0-9,20-29", several(&[(0, 9), (20, 29)])),
            ("bytes=500-599,0-9,200-209", several(&[(500, 599), (0, 9), (200, 209)])),
            ("bytes=0-9, -100,100-", None), // 10 + 100 + 900 > 1000: overlap
            ("bytes=0-9, -100,100-199", several(&[(0, 9), (900, 999), (100, 199)])),
            ("bytes=0-9,\t500-", several(&[(0, 9), (500, 999)])),
            // Overlapping and adjacent ranges coalesce, at the earliest member's place.
            ("bytes=0-9,5-14", one(0, 14)),
            ("bytes=0-9,10-19", one(0, 19)),
            ("bytes=10-19,0-9", one(0, 19)),
            ("bytes=50-59,10-19,0-9,15-30", several(&[(50, 59), (0, 30)])),
            ("bytes=100-109,0-0,1-1,2-2", several(&[(100, 109), (0, 2)])),
            ("bytes=0-9,11-19", several(&[(0, 9), (11, 19)])),
            ("bytes=0-0,0-0", one(0, 0)),
            // Unsatisfiable ranges among satisfiable ones are dropped.
            ("bytes=0-9,2000-", one(0, 9)),
            ("bytes=2000-,0-9,-0,50-59", several(&[(0, 9), (50, 59)])),
            ("bytes=2000-,3000-4000,-0", Some(Ranges::Unsatisfiable)),
            // Asking for more than the whole file: overlap, ignored.
            ("bytes=0-,0-", None),
            ("bytes=0-599,400-999", None),
            ("bytes=0-500,500-999", None),
            ("bytes=0-499,500-999", one(0, 999)),
            // One invalid spec, or none at all: ignored.
            ("bytes=0-9,x", None),
            ("bytes=0-9,9-0", None),
            ("bytes=,", None),
            ("bytes=0-9,,20-29,", several(&[(0, 9), (20, 29)])),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_ranges(value, 1000, 16), expected, "{value}");
        }
    }

    #[test]
    fn more_ranges_than_allowed_are_ignored() {
        let ranges = |n: u64| {
            let specs: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 10, i * 10 + 1)).collect();
            format!("bytes={}", specs.join(","))
        };
        assert!(matches!(parse_ranges(&ranges(16), 1000, 16), Some(Ranges::Several(list)) if list.len() == 16));
        assert_eq!(parse_ranges(&ranges(17), 1000, 16), None);
        assert_eq!(parse_ranges(&ranges(3), 1000, 2), None);
        // Counted as sent: ranges that would coalesce or are unsatisfiable count too.
        assert_eq!(parse_ranges("bytes=0-0,0-0,0-0", 1000, 2), None);
        assert_eq!(parse_ranges("bytes=2000-,3000-,4000-", 1000, 2), None);
        // A thousand one-byte ranges, or fifty of the whole file.
        assert_eq!(parse_ranges(&ranges(1000), 100_000, 16), None);
        let whole_fifty_times = format!("bytes={}", vec!["0-"; 50].join(","));
        assert_eq!(parse_ranges(&whole_fifty_times, 1000, 100), None);
        // 0 turns ranges off.
        assert_eq!(parse_ranges("bytes=0-9", 1000, 0), None);
    }

    #[test]
    fn coalescing_keeps_the_order_asked_for() {
        let ranges = vec![range(90, 99), range(40, 49), range(0, 9), range(45, 60), range(10, 12)];
        assert_eq!(coalesce(ranges), [range(90, 99), range(40, 60), range(0, 12)]);
        let descending: Vec<ByteRange> = (0..10).rev().map(|i| range(i * 10, i * 10 + 4)).collect();
        assert_eq!(coalesce(descending.clone()), descending);
        assert_eq!(
            coalesce(vec![range(0, u64::MAX - 1), range(5, u64::MAX - 1)]),
            [range(0, u64::MAX - 1)]
        );
    }

    /// One `range-spec` as a client might write it, for the property tests.
    #[derive(Clone, Debug)]
    enum Written {
        FromTo(u64, u64),
        From(u64),
        Suffix(u64),
        /// Not a range-spec at all, or (if blank) an empty list element.
        Garbage(String),
    }

    /// A position: mostly near a small file's size, sometimes past any file.
    fn position() -> impl proptest::strategy::Strategy<Value = u64> {
        use proptest::prelude::*;
        prop_oneof![8 => 0_u64..80, 1 => Just(u64::MAX), 1 => any::<u64>()]
    }

    fn written() -> impl proptest::strategy::Strategy<Value = Written> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (position(), position()).prop_map(|(first, last)| Written::FromTo(first, last)),
            2 => position().prop_map(Written::From),
            2 => position().prop_map(Written::Suffix),
            1 => "[-0-9 =]{0,3}[a-z][-0-9a-z =]{0,3}".prop_map(Written::Garbage),
            1 => "[ \t]{0,2}".prop_map(Written::Garbage),
        ]
    }

    /// The bytes of a file of `size` (at most 128) that `spec` asks for, as a bit
    /// set, or `None` if the spec is invalid: RFC 9110 §14.1.2 read directly.
    fn asked_bits(spec: &Written, size: u64) -> Option<u128> {
        let bits =
            |first: u64, last: u64| -> u128 { (first..=last.min(size - 1)).fold(0, |set, byte| set | 1 << byte) };
        match *spec {
            Written::FromTo(first, last) if last < first => None,
            Written::FromTo(first, _) | Written::From(first) if first >= size => Some(0),
            Written::FromTo(first, last) => Some(bits(first, last)),
            Written::From(first) => Some(bits(first, u64::MAX)),
            Written::Suffix(length) => Some(if length == 0 {
                0
            } else {
                bits(size - length.min(size), u64::MAX)
            }),
            Written::Garbage(_) => None,
        }
    }

    proptest::proptest! {
        /// Whatever the header, parsing never panics, and what it selects lies inside
        /// the file, never overlaps or touches, is within `max_ranges`, and adds up to
        /// no more than the file.
        #[test]
        fn any_value_selects_ranges_inside_the_file(
            set in "[-0-9, \t]{0,40}",
            size in proptest::prop_oneof![1_u64..100, proptest::prelude::any::<u64>()],
            max_ranges in 0_usize..6,
        ) {
            let selected = match parse_ranges(&format!("bytes={set}"), size, max_ranges) {
                Some(Ranges::One(range)) => vec![range],
                Some(Ranges::Several(ranges)) => {
                    proptest::prop_assert!(ranges.len() >= 2);
                    ranges
                }
                Some(Ranges::Unsatisfiable) | None => return Ok(()),
            };
            proptest::prop_assert!(selected.len() <= max_ranges);
            for range in &selected {
                proptest::prop_assert!(range.first <= range.last && range.last < size, "{range:?} of {size}");
            }
            let mut sorted = selected.clone();
            sorted.sort_by_key(|range| range.first);
            for pair in sorted.windows(2) {
                proptest::prop_assert!(pair[0].last + 1 < pair[1].first, "{pair:?} overlap or touch");
            }
            proptest::prop_assert!(selected.iter().map(|range| range.len()).sum::<u64>() <= size);
        }

        /// Against a model that marks the bytes each spec asks for: the same decision
        /// (whole file, 416, or ranges), the same bytes, and each coalesced range in
        /// the place of the first spec that asked for any of its bytes.
        #[test]
        fn ranges_are_the_bytes_asked_for_in_the_order_asked(
            specs in proptest::collection::vec(written(), 0..8),
            size in 1_u64..=128,
            max_ranges in 1_usize..8,
            upper in proptest::prelude::any::<bool>(),
            spaces in proptest::collection::vec("[ \t]{0,2}", 8),
        ) {
            let rendered: Vec<String> = specs
                .iter()
                .zip(&spaces)
                .map(|(spec, space)| {
                    let spec = match spec {
                        Written::FromTo(first, last) => format!("{first}-{last}"),
                        Written::From(first) => format!("{first}-"),
                        Written::Suffix(length) => format!("-{length}"),
                        Written::Garbage(text) => text.clone(),
                    };
                    format!("{space}{spec}{space}")
                })
                .collect();
            let unit = if upper { "BYTES" } else { "bytes" };
            let value = format!("{unit}={}", rendered.join(","));
            let parsed = parse_ranges(&value, size, max_ranges);

            // Blank garbage is an empty list element, which does not count.
            let counted: Vec<&Written> = specs
                .iter()
                .filter(|spec| !matches!(spec, Written::Garbage(text) if text.trim_matches([' ', '\t']).is_empty()))
                .collect();
            let asked: Option<Vec<u128>> = counted.iter().map(|spec| asked_bits(spec, size)).collect();
            let expected = match asked {
                _ if counted.is_empty() || counted.len() > max_ranges => None,
                None => None,
                Some(asked) if asked.iter().all(|&bits| bits == 0) => Some(Ranges::Unsatisfiable),
                Some(asked) if asked.iter().map(|bits| u64::from(bits.count_ones())).sum::<u64>() > size => None,
                Some(asked) => {
                    let union = asked.iter().fold(0, |union, bits| union | bits);
                    // The runs of the union, each with the first spec that touches it.
                    let mut runs = Vec::new();
                    let mut byte = 0;
                    while byte < size {
                        if union & 1 << byte == 0 {
                            byte += 1;
                            continue;
                        }
                        let first = byte;
                        while byte < size && union & 1 << byte != 0 {
                            byte += 1;
                        }
                        let run_bits = (first..byte).fold(0_u128, |set, b| set | 1 << b);
                        let earliest = asked.iter().position(|bits| bits & run_bits != 0).unwrap();
                        runs.push((earliest, range(first, byte - 1)));
                    }
                    runs.sort_by_key(|&(earliest, _)| earliest);
                    let mut ranges: Vec<ByteRange> = runs.into_iter().map(|(_, range)| range).collect();
                    if ranges.len() == 1 {
                        Some(Ranges::One(ranges.remove(0)))
                    } else {
                        Some(Ranges::Several(ranges))
                    }
                }
            };
            proptest::prop_assert_eq!(parsed, expected, "{} of {} bytes", value, size);
        }
    }
}
