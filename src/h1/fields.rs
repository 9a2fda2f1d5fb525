//! Field syntax that the head and the framing rules share (RFC 9110 §5): the characters of
//! a token and of a field value, the values of a field, and the elements of a list.

use ::http::header::{HeaderMap, HeaderName, HeaderValue};

/// `tchar` (RFC 9110 §5.6.2): the characters of a token.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// HTAB, SP, visible ASCII and obs-text: what a field value or a quoted string may hold
/// (RFC 9110 §5.5).
pub(crate) fn is_field_char(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

/// The values of every field line named `name` (case-insensitively), in order.
pub(crate) fn values<'a>(fields: &'a [httparse::Header<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    fields
        .iter()
        .filter(move |field| field.name.eq_ignore_ascii_case(name))
        .map(|field| field.value)
}

/// The elements of a comma-separated list spread over several field values
/// (RFC 9110 §5.6.1), optional whitespace trimmed. Empty elements are kept for the caller to
/// judge. Field values hold no CR or LF, so trimming ASCII whitespace trims exactly OWS.
pub(crate) fn list_elements<'a>(values: impl Iterator<Item = &'a [u8]>) -> impl Iterator<Item = &'a [u8]> {
    values
        .flat_map(|value| value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

/// Whether the comma-separated header `name`, over all its lines, lists `token`
/// (compared case-insensitively, as `Connection` options are: RFC 9110 §7.6.1).
pub(crate) fn header_has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    list_elements(headers.get_all(name).iter().map(HeaderValue::as_bytes))
        .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
}

/// Header field lines, as (name, value), for test tables.
#[cfg(test)]
pub(crate) type Lines = &'static [(&'static str, &'static str)];

/// A header map of `lines`, in order, for test tables.
#[cfg(test)]
pub(crate) fn header_map(lines: Lines) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for &(name, value) in lines {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

#[cfg(test)]
mod tests {
    use ::http::header;

    use super::*;

    #[test]
    fn has_token() {
        #[rustfmt::skip]
        let table: &[(Lines, &str, bool)] = &[
            (&[], "close", false),
            (&[("connection", "close")], "close", true),
            (&[("connection", "CLOSE")], "close", true),
            (&[("connection", "a,b,close")], "close", true),
            (&[("connection", "a, b"), ("connection", "c,\tclose ")], "close", true),
            (&[("connection", "closer, enclose")], "close", false),
            (&[("connection", ",,")], "close", false),
        ];
        for &(lines, token, want) in table {
            let headers = header_map(lines);
            let got = header_has_token(&headers, header::CONNECTION, token);
            assert_eq!(got, want, "{lines:?} {token}");
        }
    }
}
