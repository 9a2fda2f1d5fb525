//! Building the responses: a file's (`200`, `206`, `304`, `412`, `416`, `406`),
//! a redirect to a directory's URL, the one-line errors, and `HEAD`'s.

use std::path::Path;

use http::header::{self, HeaderValue};
use http::{StatusCode, Uri};

use super::cache::Representation;
use super::conditional::{self, header_value, Precondition};
use super::range::{requested_range, ByteRange};
use crate::{Body, Request, Response};

/// The response to a `GET` of a regular file in the `representation` chosen for
/// the request, named so that it is of type `content_type`: `200`, `206`, `304`,
/// `412` or `416`. Preconditions and ranges apply to that representation: its
/// validators, its bytes. `vary` says the choice depended on `Accept-Encoding`.
pub(super) fn serve_file(
    request: &Request,
    representation: &Representation,
    content_type: HeaderValue,
    vary: bool,
) -> Response {
    let mut response = serve_representation(request, representation, content_type);
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

fn serve_representation(request: &Request, representation: &Representation, content_type: HeaderValue) -> Response {
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

    let mut response = match requested_range(request, validators, size) {
        None => Response::new(representation.body(0, size)),
        Some(ByteRange::Satisfiable { first, last }) => {
            let mut response = Response::new(representation.body(first, last - first + 1));
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {first}-{last}/{size}")),
            );
            response
        }
        Some(ByteRange::Unsatisfiable) => {
            let mut response = error_response(StatusCode::RANGE_NOT_SATISFIABLE);
            // RFC 9110 §15.5.17: a 416 says how long the representation is.
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, header_value(format!("bytes */{size}")));
            return response;
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(content_encoding) = representation.coding.content_encoding() {
        headers.insert(header::CONTENT_ENCODING, content_encoding);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    validators.insert_into(headers);
    response
}

/// The `Content-Type` for a file name.
///
/// Text is labelled UTF-8: the file itself cannot say, UTF-8 is what the web
/// writes, and without a label browsers guess (often windows-1252).
pub(super) fn content_type(name: &Path) -> HeaderValue {
    let Some(mime) = mime_guess::from_path(name).first_raw() else {
        return HeaderValue::from_static("application/octet-stream");
    };
    let is_text =
        mime.starts_with("text/") || matches!(mime, "application/javascript" | "application/json" | "image/svg+xml");
    if is_text {
        header_value(format!("{mime}; charset=utf-8"))
    } else {
        HeaderValue::from_static(mime)
    }
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
