//! `Builder::error_body`: the bodies of the error responses the server writes itself
//! (a refused request, a panicking handler) come from the hook, framed by the server,
//! in both models.

mod support;

use nioserve::bytes::Bytes;
use nioserve::http::header::HeaderValue;
use nioserve::http::StatusCode;
use nioserve::{Builder, Model, Request, Response, ServerHandle};
use support::{server, start, Client};

const PAGE_400: &str = "<!doctype html><h1>That request made no sense</h1>\n";
const PAGE_500: &str = "<!doctype html><h1>Our fault, sorry</h1>\n";

fn with_pages(builder: Builder) -> Builder {
    builder.error_body(|status| {
        let page = match status {
            StatusCode::BAD_REQUEST => PAGE_400,
            StatusCode::INTERNAL_SERVER_ERROR => PAGE_500,
            _ => return None,
        };
        Some((
            HeaderValue::from_static("text/html; charset=utf-8"),
            Bytes::from_static(page.as_bytes()),
        ))
    })
}

fn panicky(model: Model) -> ServerHandle {
    start(
        with_pages(server().model(model).workers(2).max_uri_bytes(64)),
        |req: Request| {
            if req.uri().path() == "/panic" {
                panic!("this handler fails on purpose");
            }
            Response::new("fine".into())
        },
    )
}

fn custom_bodies(model: Model) {
    let handle = panicky(model);
    let addr = handle.local_addr();

    // A request the codec refuses: no Host header.
    let refused = Client::connect(addr).send(b"GET / HTTP/1.1\r\n\r\n").reply();
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        refused.header("content-length"),
        Some(PAGE_400.len().to_string().as_str())
    );
    assert_eq!(refused.body_text(), PAGE_400);
    assert!(refused.closes());

    // The same refused as a HEAD: the head GET would get, no body.
    let mut client = Client::connect(addr);
    let head = client.send(b"HEAD / HTTP/1.1\r\n\r\n").head_reply();
    assert_eq!(head.status, 400);
    assert_eq!(head.header("content-length"), Some(PAGE_400.len().to_string().as_str()));
    assert!(head.body.is_empty());
    client.expect_closed();

    // A handler that panics.
    let failed = Client::connect(addr).get("/panic");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        failed.header("content-length"),
        Some(PAGE_500.len().to_string().as_str())
    );
    assert_eq!(failed.body_text(), PAGE_500);
    assert!(failed.closes());

    // A status the hook leaves alone keeps the default one-line body.
    let long = format!("/{}", "a".repeat(100));
    let too_long = Client::connect(addr).get(&long);
    assert_eq!(too_long.status, 414);
    assert_eq!(too_long.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(
        too_long.body_text().starts_with("414 URI Too Long"),
        "{}",
        too_long.body_text()
    );

    // Responses from the handler are its own.
    assert_eq!(Client::connect(addr).get("/").body_text(), "fine");
    handle.shutdown();
}

#[test]
fn custom_error_bodies_nio() {
    custom_bodies(Model::Nio);
}

#[test]
fn custom_error_bodies_blocking() {
    custom_bodies(Model::Blocking);
}
