//! Content codings (RFC 9110 §8.4.1) and `Accept-Encoding` negotiation (§12.5.3):
//! which of a file's representations — as it is, or compressed — a request gets.
//!
//! [`AcceptEncoding::parse`] reads the client's list once per request; [`choose`]
//! picks among the representations a file has: the one the client prefers (highest
//! q), then the smallest. Both are pure and bounded by the length of the header.

use http::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING};

/// A content coding the static file server can serve. `Identity` is the file as
/// it is on disk, with no `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Coding {
    Identity,
    Brotli,
    Zstd,
    Gzip,
}

impl Coding {
    /// The codings a file may have besides itself, in the order their precompressed
    /// siblings are looked for (and, among equals, preferred).
    pub(super) const COMPRESSED: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The coding's name in `Accept-Encoding` and `Content-Encoding` (RFC 9110 §18.6).
    pub(super) fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The extension of a precompressed sibling: `app.js.br`, `app.js.zst`,
    /// `app.js.gz`, as nginx's `gzip_static`/`brotli_static` and the build tools
    /// that feed them name them.
    pub(super) fn sibling_extension(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Brotli => Some("br"),
            Coding::Zstd => Some("zst"),
            Coding::Gzip => Some("gz"),
        }
    }

    /// The `Content-Encoding` of a representation in this coding; `None` for identity.
    pub(super) fn content_encoding(self) -> Option<HeaderValue> {
        (self != Coding::Identity).then(|| HeaderValue::from_static(self.token()))
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The coding a token names, compared case-insensitively (§8.4.1).
    fn from_token(token: &str) -> Option<Coding> {
        [Coding::Identity, Coding::Brotli, Coding::Zstd, Coding::Gzip]
            .into_iter()
            .find(|coding| token.eq_ignore_ascii_case(coding.token()))
            // §8.4.1.3: a recipient SHOULD consider `x-gzip` equivalent to `gzip`.
            .or_else(|| token.eq_ignore_ascii_case("x-gzip").then_some(Coding::Gzip))
    }
}

/// What a request's `Accept-Encoding` says, reduced to the codings served here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct AcceptEncoding {
    /// Whether the request had the field at all (an empty value counts).
    present: bool,
    /// The q-value (in thousandths) each coding is listed with, by `Coding::index`;
    /// the first listing of a coding counts.
    listed: [Option<u16>; 4],
    /// The q-value of `*`, which stands for every coding not listed.
    star: Option<u16>,
}

impl AcceptEncoding {
    /// Reads every `Accept-Encoding` line of `headers` (a list may be split over
    /// several lines, §5.3).
    ///
    /// Lenient where RFC 9110 allows it to be (§5.6.1: empty list members are
    /// ignored) and where a client is merely sloppy: codings and `q` are compared
    /// case-insensitively, whitespace around members and parameters is dropped, and
    /// parameters other than `q` are ignored. A member whose q-value is not a
    /// `qvalue` of §12.4.2 (`q=2`, `q=-1`, `q=0.0001`, `q=abc`) is dropped whole, as
    /// is a line that is not visible ASCII: a malformed preference says nothing
    /// reliable, and dropping it leaves the default (identity) in force.
    pub(super) fn parse(headers: &HeaderMap) -> AcceptEncoding {
        let mut accept = AcceptEncoding::default();
        for line in headers.get_all(ACCEPT_ENCODING) {
            accept.present = true;
            let Ok(line) = line.to_str() else {
                continue;
            };
            for member in line.split(',') {
                accept.add(member);
            }
        }
        accept
    }

    fn add(&mut self, member: &str) {
        let mut parts = member.split(';');
        let name = parts.next().unwrap_or("").trim_matches([' ', '\t']);
        if name.is_empty() {
            return;
        }
        let mut weight = Some(1000);
        for parameter in parts {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if key.trim_matches([' ', '\t']).eq_ignore_ascii_case("q") {
                weight = parse_qvalue(value.trim_matches([' ', '\t']));
            }
        }
        let Some(weight) = weight else {
            return;
        };
        let slot = if name == "*" {
            &mut self.star
        } else if let Some(coding) = Coding::from_token(name) {
            &mut self.listed[coding.index()]
        } else {
            // A coding not served here (`deflate`, `compress`, an unknown one).
            return;
        };
        slot.get_or_insert(weight);
    }

    /// How much the client wants `coding`, as a rank to compare: `None` if it is
    /// not acceptable at all. A listed q-value (or that of `*`) ranks by its
    /// value; identity that is acceptable only by default (§12.5.3, rule 2) ranks
    /// below every coding listed with a q above 0.
    pub(super) fn rank(&self, coding: Coding) -> Option<u16> {
        if !self.present {
            // §12.5.3 rule 1 allows any coding then, but a client that sends no
            // Accept-Encoding (curl, wget, scripts) expects the file as it is, and
            // nginx and static-web-server send it so.
            return (coding == Coding::Identity).then_some(IDENTITY_BY_DEFAULT);
        }
        let weight = match (self.listed[coding.index()], self.star) {
            (Some(weight), _) | (None, Some(weight)) => Some(weight),
            // §12.5.3 rule 2: identity is acceptable unless excluded.
            (None, None) if coding == Coding::Identity => return Some(IDENTITY_BY_DEFAULT),
            (None, None) => None,
        };
        // §12.4.2: q=0 means "not acceptable".
        weight.filter(|&weight| weight > 0).map(|weight| weight * 2)
    }
}

/// The rank of identity when the client did not list it: acceptable, but after
/// anything listed with q > 0 (whose ranks are 2 × q in thousandths, at least 2).
const IDENTITY_BY_DEFAULT: u16 = 1;

/// A `qvalue` (RFC 9110 §12.4.2) in thousandths: `0`, `0.5`, `0.125`, `1`, `1.000`.
/// Anything else is `None`.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |value, digit| value * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Which of `available` (a coding and its length each) to send: among those the
/// client accepts, the one with the highest rank, then the smallest; on a tie,
/// the first. `None` if the client accepts none of them.
pub(super) fn choose(accept: &AcceptEncoding, available: impl IntoIterator<Item = (Coding, u64)>) -> Option<usize> {
    let mut best: Option<(usize, u16, u64)> = None;
    for (i, (coding, size)) in available.into_iter().enumerate() {
        let Some(rank) = accept.rank(coding) else {
            continue;
        };
        let better =
            best.is_none_or(|(_, best_rank, best_size)| rank > best_rank || (rank == best_rank && size < best_size));
        if better {
            best = Some((i, rank, size));
        }
    }
    best.map(|(i, _, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Brotli, Gzip, Identity, Zstd};

    fn accept(lines: &[&str]) -> AcceptEncoding {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(line).unwrap());
        }
        AcceptEncoding::parse(&headers)
    }

    /// The representations a file has: a coding and a length each.
    type Available<'a> = &'a [(Coding, u64)];

    /// A file as it is (1,000 bytes) with gzip (300), br (250) and zstd (280) forms.
    const ALL: [(Coding, u64); 4] = [(Identity, 1000), (Brotli, 250), (Zstd, 280), (Gzip, 300)];

    #[test]
    fn negotiation_table() {
        // (Accept-Encoding lines, what is available, what is chosen)
        let identity_gzip = &[(Identity, 1000), (Gzip, 300)][..];
        let identity_only = &[(Identity, 1000)][..];
        let table: &[(&[&str], Available<'_>, Option<Coding>)] = &[
            // No field: the file as it is, whatever else there is.
            (&[], &ALL, Some(Identity)),
            // An empty field: no coding wanted (§12.5.3).
            (&[""], &ALL, Some(Identity)),
            (&["gzip"], &ALL, Some(Gzip)),
            (&["GZIP"], &ALL, Some(Gzip)),
            (&["x-gzip"], &ALL, Some(Gzip)),
            (&["gzip, deflate"], &ALL, Some(Gzip)),
            // Equal preference: the smallest.
            (&["gzip, br, zstd"], &ALL, Some(Brotli)),
            (
                &["gzip, br, zstd"],
                &[(Identity, 1000), (Zstd, 280), (Gzip, 300)],
                Some(Zstd),
            ),
            // Preference before size.
            (&["br;q=1, gzip;q=0.5"], &ALL, Some(Brotli)),
            (&["br;q=0.5, gzip;q=1"], &ALL, Some(Gzip)),
            (
                &["br;q=0.5, gzip;q=1"],
                &[(Identity, 1000), (Brotli, 250)],
                Some(Brotli),
            ),
            (&["gzip;q=0.5"], identity_gzip, Some(Gzip)),
            // Listed identity outranks a less preferred coding.
            (&["gzip;q=0.5, identity"], identity_gzip, Some(Identity)),
            // Refused codings.
            (&["gzip;q=0"], identity_gzip, Some(Identity)),
            (&["gzip;q=0, br"], identity_gzip, Some(Identity)),
            (&["identity;q=0"], identity_gzip, None),
            (&["identity;q=0, gzip"], identity_gzip, Some(Gzip)),
            (&["identity;q=0"], identity_only, None),
            // `*` stands for everything not listed, identity included.
            (&["*"], &ALL, Some(Brotli)),
            (&["*"], identity_only, Some(Identity)),
            (&["*;q=0"], identity_gzip, None),
            (&["*;q=0, gzip"], identity_gzip, Some(Gzip)),
            (&["*;q=0, identity"], identity_gzip, Some(Identity)),
            (&["br, *;q=0"], identity_gzip, None),
            (&["gzip;q=0.2, *;q=0.5"], identity_gzip, Some(Identity)),
            // Whitespace, empty members, other parameters, several lines.
            (&[" ,, gzip ; q = 0.8 ,"], identity_gzip, Some(Gzip)),
            (&["br;level=5;q=0.4", "gzip;q=0.3"], &ALL, Some(Brotli)),
            (&["identity;q=0", "gzip"], identity_gzip, Some(Gzip)),
            // Malformed q-values drop their member.
            (&["gzip;q=2"], identity_gzip, Some(Identity)),
            (&["gzip;q=-1"], identity_gzip, Some(Identity)),
            (&["gzip;q=0.0001"], identity_gzip, Some(Identity)),
            (&["gzip;q="], identity_gzip, Some(Identity)),
            (&["gzip;q=1.5"], identity_gzip, Some(Identity)),
            (&["identity;q=x"], identity_only, Some(Identity)),
            // The first listing counts.
            (&["gzip;q=0, gzip"], identity_gzip, Some(Identity)),
            // Codings not served here.
            (&["deflate, compress"], identity_gzip, Some(Identity)),
            (&["deflate, identity;q=0"], identity_gzip, None),
        ];
        for (lines, available, expected) in table {
            let chosen = choose(&accept(lines), available.iter().copied()).map(|i| available[i].0);
            assert_eq!(chosen, *expected, "Accept-Encoding {lines:?} among {available:?}");
        }
    }

    #[test]
    fn qvalues() {
        let table = [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.125", Some(125)),
            ("0.001", Some(1)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.0001", None),
            ("2", None),
            ("-1", None),
            ("", None),
            ("0.5x", None),
            ("00.5", None),
            (".5", None),
            ("+0.5", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_qvalue(text), expected, "q={text}");
        }
    }

    #[test]
    fn a_listed_q_above_zero_outranks_identity_by_default() {
        let gzip = accept(&["gzip;q=0.001"]);
        assert!(gzip.rank(Gzip) > gzip.rank(Identity));
        assert_eq!(gzip.rank(Brotli), None);
    }

    #[test]
    fn thousands_of_members_are_read_in_one_pass() {
        let long = "foo;q=0.5, ".repeat(2000) + "gzip;q=0.7, identity;q=0";
        let accept = accept(&[&long]);
        assert_eq!(accept.rank(Gzip), Some(1400));
        assert_eq!(accept.rank(Identity), None);
        let garbage = ";;;,,,=;q=;=q,".repeat(1000);
        assert_eq!(self::accept(&[&garbage]).rank(Identity), Some(IDENTITY_BY_DEFAULT));
    }

    #[test]
    fn a_line_that_is_not_visible_ascii_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.append(ACCEPT_ENCODING, HeaderValue::from_bytes(b"identity;q=0, \xff").unwrap());
        headers.append(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let accept = AcceptEncoding::parse(&headers);
        assert_eq!(accept.rank(Identity), Some(IDENTITY_BY_DEFAULT));
        assert_eq!(accept.rank(Gzip), Some(2000));
    }

    proptest::proptest! {
        /// Every `qvalue` §12.4.2 allows reads as its value in thousandths, and
        /// nothing read is above 1.
        #[test]
        fn qvalues_read_as_their_value(
            one in proptest::prelude::any::<bool>(),
            digits in "[0-9]{0,3}",
            dot in proptest::prelude::any::<bool>(),
            noise in "[-+0-9.a-z ]{0,8}",
        ) {
            let fraction = if one { "0".repeat(digits.len()) } else { digits.clone() };
            let text = match (dot || !fraction.is_empty(), one) {
                (false, false) => "0".to_owned(),
                (false, true) => "1".to_owned(),
                (true, _) => format!("{}.{fraction}", u8::from(one)),
            };
            let expected = if one {
                1000
            } else {
                format!("{fraction:0<3}").parse::<u16>().unwrap()
            };
            proptest::prop_assert_eq!(parse_qvalue(&text), Some(expected), "q={}", text);
            proptest::prop_assert!(parse_qvalue(&noise).is_none_or(|q| q <= 1000), "q={}", noise);
        }

        /// Of two codings listed with different q-values above 0 (identity refused),
        /// the one with the higher q is sent, whatever the sizes and the order
        /// listed; with equal q-values, the smaller.
        #[test]
        fn the_higher_q_wins_then_the_smaller(
            q_gzip in 1_u16..=1000,
            q_br in 1_u16..=1000,
            gzip_first in proptest::prelude::any::<bool>(),
            sizes in (1_u64..1000, 1_u64..1000),
        ) {
            let member = |coding: &str, q: u16| format!("{coding};q={}.{:03}", q / 1000, q % 1000);
            let (gzip, br) = (member("gzip", q_gzip), member("br", q_br));
            let list = if gzip_first { format!("{gzip}, {br}") } else { format!("{br}, {gzip}") };
            let accept = accept(&[&list, "identity;q=0"]);
            let available = [(Identity, 2000), (Gzip, sizes.0), (Brotli, sizes.1)];
            let chosen = choose(&accept, available).map(|i| available[i].0);
            let expected = match q_gzip.cmp(&q_br) {
                std::cmp::Ordering::Greater => Gzip,
                std::cmp::Ordering::Less => Brotli,
                std::cmp::Ordering::Equal if sizes.1 < sizes.0 => Brotli,
                std::cmp::Ordering::Equal => Gzip,
            };
            proptest::prop_assert_eq!(chosen, Some(expected), "{}", list);
        }

        /// Whatever the field says, what is chosen is acceptable and ranks no lower
        /// than anything else available; `None` only if nothing is acceptable.
        #[test]
        fn any_field_chooses_an_acceptable_best(
            lines in proptest::collection::vec("[ -~]{0,40}", 0..3),
            members in proptest::collection::vec(
                ("(identity|gzip|x-gzip|br|zstd|\\*|deflate|GZip)", proptest::option::of("[01](\\.[0-9]{0,4})?")),
                0..6,
            ),
        ) {
            let listed: Vec<String> = members
                .iter()
                .map(|(coding, q)| q.as_ref().map_or_else(|| coding.clone(), |q| format!("{coding};q={q}")))
                .collect();
            let mut all = lines.clone();
            all.push(listed.join(", "));
            let mut headers = HeaderMap::new();
            for line in &all {
                if let Ok(value) = HeaderValue::from_str(line) {
                    headers.append(ACCEPT_ENCODING, value);
                }
            }
            let accept = AcceptEncoding::parse(&headers);
            match choose(&accept, ALL) {
                Some(i) => {
                    let best = accept.rank(ALL[i].0);
                    proptest::prop_assert!(best.is_some());
                    for (coding, _) in ALL {
                        proptest::prop_assert!(accept.rank(coding) <= best, "{:?} outranks {:?}", coding, ALL[i].0);
                    }
                }
                None => {
                    for (coding, _) in ALL {
                        proptest::prop_assert_eq!(accept.rank(coding), None);
                    }
                }
            }
        }
    }
}
