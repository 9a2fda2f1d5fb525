//! What the server does with a handler's response it cannot send as it is.
//!
//! The server owns the framing: `Content-Length` and `Transfer-Encoding` on the wire are
//! its own. A response that cannot be framed honestly — an interim status as the final
//! answer, a status outside 100–599, a `Content-Length` that is not one number, content
//! on a `204`, a `304` whose length contradicts its body — becomes a logged
//! `500 Internal Server Error`, and the connection closes after it.

mod support;

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE};
use nioserve::{Model, Request, Response};
use support::{server, start, Client};

fn respond(req: Request) -> Response {
    let builder = http::Response::builder();
    let built = match req.uri().path() {
        "/continue" => builder.status(100).body("".into()),
        "/switching" => builder.status(101).header(UPGRADE, "websocket").body("".into()),
        "/processing" => builder.status(102).body("".into()),
        "/600" => builder.status(600).body("six hundred".into()),
        "/999" => builder.status(999).body("".into()),
        "/two-lengths" => builder
            .header(CONTENT_LENGTH, "3")
            .header(CONTENT_LENGTH, "4")
            .body("abc".into()),
        "/length-list" => builder.header(CONTENT_LENGTH, "3, 4").body("abc".into()),
        "/length-words" => builder.header(CONTENT_LENGTH, "three").body("abc".into()),
        "/content-in-204" => builder.status(204).body("abc".into()),
        "/304-contradicts" => builder.status(304).header(CONTENT_LENGTH, "4").body("abc".into()),
        // Framing the server replaces with its own, since what to send is clear.
        "/length-in-204" => builder.status(204).header(CONTENT_LENGTH, "5").body("".into()),
        "/chunked" => builder.header(TRANSFER_ENCODING, "chunked").body("abc".into()),
        "/wrong-length" => builder.header(CONTENT_LENGTH, "99").body("abc".into()),
        "/304-of-the-get" => builder.status(304).header(CONTENT_LENGTH, "3").body("abc".into()),
        _ => builder.body("fine".into()),
    };
    built.expect("a response the http crate accepts")
}

#[test]
fn responses_that_cannot_be_framed_honestly_become_500_and_close() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = start(server().model(model).workers(2), respond);
        for path in [
            "/continue",
            "/switching",
            "/processing",
            "/600",
            "/999",
            "/two-lengths",
            "/length-list",
            "/length-words",
            "/content-in-204",
            "/304-contradicts",
        ] {
            let mut client = Client::connect(handle.local_addr());
            // A request pipelined behind it is never answered: the connection closes.
            client.send(
                format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
            );
            let reply = client.reply();
            assert_eq!(reply.status, 500, "{model:?} {path}");
            assert!(reply.closes(), "{model:?} {path}");
            assert_eq!(reply.body_text(), "500 Internal Server Error\n", "{model:?} {path}");
            client.expect_closed();
        }
        // The server goes on serving.
        assert_eq!(Client::connect(handle.local_addr()).get("/").body_text(), "fine");
        handle.shutdown();
    }
}

#[test]
fn framing_headers_from_a_handler_are_replaced_by_the_servers_own() {
    let handle = start(server().workers(2), respond);
    let mut client = Client::connect(handle.local_addr());

    // RFC 9110 §8.6: no Content-Length in a 204, whatever the handler set.
    let reply = client.get("/length-in-204");
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-length"), None);

    // The body is known, so it is sent with its own length, not chunked.
    let reply = client.get("/chunked");
    assert_eq!((reply.status, reply.body_text()), (200, "abc"));
    assert_eq!(reply.header("transfer-encoding"), None);
    assert_eq!(reply.header("content-length"), Some("3"));

    // A wrong length on a response with a body: the body decides.
    let reply = client.get("/wrong-length");
    assert_eq!((reply.status, reply.body_text()), (200, "abc"));
    assert_eq!(reply.header("content-length"), Some("3"));

    // A 304 built from the GET's response: its length is repeated, its body is not sent.
    let reply = client.get("/304-of-the-get");
    assert_eq!(reply.status, 304);
    assert_eq!(reply.header("content-length"), Some("3"));

    // Nothing was left on the wire between them: the connection is still in step.
    assert!(!reply.closes());
    assert_eq!(client.get("/").body_text(), "fine");
}
