//! Building the responses: a file's (`200`, `206`, `304`, `412`, `416`, `406`),
//! a redirect to a directory's URL, the one-line errors, and `HEAD`'s.

use http::header::{self, HeaderValue};
use http::{StatusCode, Uri};

use super::cache::Representation;
use super::conditional::{self, header_value, Precondition};
use super::media_type::MediaType;
use super::multipart;
use super::range::{requested_ranges, Ranges};
use crate::{Body, Request, Response};

/// The response to a `GET` of a regular file in the `representation` chosen for
/// the request, named so that it is of type `media_type`: `200`, `206`, `304`,
/// `412` or `416`. Preconditions and ranges apply to that representation: its
/// validators, its bytes. A `Range` may name at most `max_ranges` ranges; 0 turns
/// ranges off. `vary` says the choice depended on `Accept-Encoding`.
pub(super) fn serve_file(
    request: &Request,
    representation: &Representation,
    media_type: MediaType,
    max_ranges: usize,
    vary: bool,
) -> Response {
    let mut response = serve_representation(request, representation, media_type, max_ranges);
    if vary {
        insert_vary(response.headers_mut());
    }
    response
}

/// `406 Not Acceptable`: the client refused every representation of the file,
/// identity included (RFC 9110 §12.5.3, §15.5.7).
pub(super) fn not_acceptable() -> Response {
    let mut response = error_response(StatusCode::NOT_ACCEPTABLE);
    insert_vary(response.headers_mut());
    response
}

/// RFC 9110 §12.5.5: a response chosen by `Accept-Encoding` says so, whichever
/// representation it carries (a 304 too, §15.4.5), so that a shared cache keys it by that.
fn insert_vary(headers: &mut http::HeaderMap) {
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
}

fn serve_representation(
    request: &Request,
    representation: &Representation,
    media_type: MediaType,
    max_ranges: usize,
) -> Response {
    let size = representation.size;
    let validators = &representation.validators;

    match conditional::evaluate(request.headers(), validators) {
        Precondition::Proceed => {}
        // RFC 9110 §13.2.2: a failed If-Match or If-Unmodified-Since stops the
        // request before Range is looked at: `curl -C - -z` must not splice a
        // changed file onto the part it has.
        Precondition::Failed => return error_response(StatusCode::PRECONDITION_FAILED),
        Precondition::NotModified => {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            validators.insert_into(response.headers_mut());
            // RFC 9110 §8.6: a 304 may carry Content-Length only if it is the length a
            // 200 would have had; sending it keeps the server from writing `0`.
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            return response;
        }
    }

    // The coding the bytes are in: the representation's, chosen for this request,
    // or the file's own (`.svgz` is gzip on disk).
    let content_encoding = representation.coding.content_encoding().or(media_type.content_encoding);
    let mut response = match requested_ranges(request, validators, size, max_ranges) {
        None => Response::new(representation.body(0, size)),
        Some(Ranges::One(range)) => {
            let (first, last) = (range.first, range.last);
            let mut response = Response::new(representation.body(first, range.len()));
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {first}-{last}/{size}")),
            );
            response
        }
        // RFC 9110 §14.6 gives no place to a content coding in a multipart body
        // (the whole body is not gzip, each part's bytes are): an encoded
        // representation (`.svgz`, a `.gz` sibling, a compressed form) gets all of it
        // instead (§14.2 lets a server ignore Range).
        Some(Ranges::Several(_)) if content_encoding.is_some() => Response::new(representation.body(0, size)),
        Some(Ranges::Several(ranges)) => multipart::response(representation, &ranges, &media_type.content_type),
        Some(Ranges::Unsatisfiable) => {
            let mut response = error_response(StatusCode::RANGE_NOT_SATISFIABLE);
            // RFC 9110 §15.5.17: a 416 says how long the representation is.
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, header_value(format!("bytes */{size}")));
            return response;
        }
    };
    let headers = response.headers_mut();
    // A multipart body names its own type, and the file's in each part.
    headers.entry(header::CONTENT_TYPE).or_insert(media_type.content_type);
    if let Some(content_encoding) = content_encoding {
        headers.insert(header::CONTENT_ENCODING, content_encoding);
    }
    // RFC 9110 §14.3: `none` tells a client not to try.
    let accepted = if max_ranges == 0 { "none" } else { "bytes" };
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static(accepted));
    validators.insert_into(headers);
    response
}

/// `301` to the URL of a directory, which ends with `/`.
pub(super) fn redirect_to_directory(uri: &Uri) -> Response {
    // The leading slashes collapse to one: the request `//example.com` (a
    // directory named `example.com`) must not redirect to `//example.com/`, which a
    // browser reads as another host.
    let path = uri.path().trim_start_matches('/');
    let location = match uri.query() {
        Some(query) => format!("/{path}/?{query}"),
        None => format!("/{path}/"),
    };
    let mut response = error_response(StatusCode::MOVED_PERMANENTLY);
    response.headers_mut().insert(header::LOCATION, header_value(location));
    response
}

/// A response with `status` and a one-line `text/plain` body such as
/// `404 Not Found`.
pub(super) fn error_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::from(format!("{status}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // RFC 9110 §10.2.3: out of file descriptors is brief; say when to come back.
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The response to a `HEAD`: `response` with its body dropped, and the length it
/// had kept in `Content-Length`.
pub(super) fn without_body(mut response: Response) -> Response {
    // A 304 already says the length of the file, not of its (empty) body.
    if !response.headers().contains_key(header::CONTENT_LENGTH) {
        // Static file bodies are bytes or file regions: their length is known.
        if let Some(length) = response.body().len() {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
    *response.body_mut() = Body::Empty;
    response
}
