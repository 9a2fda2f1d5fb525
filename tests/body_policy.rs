//! A body policy decides from the head, before any body byte is read or `100 Continue`
//! sent: per-route limits larger or smaller than `max_body_bytes`, or a refusal.

mod support;

use std::io::Write;

use nioserve::{BodyPolicy, Model, Request, Response, ServerHandle};
use support::{server, start, Client};

/// `/upload` takes up to 8 MiB, `/small` up to 1 KiB, anything else is refused with 405.
/// The handler answers the body's length.
fn policed(builder: nioserve::Builder) -> ServerHandle {
    let builder = builder.body_policy(|head| match head.uri.path() {
        "/upload" => BodyPolicy::Accept { max: 8 << 20 },
        "/small" => BodyPolicy::Accept { max: 1024 },
        _ => BodyPolicy::Refuse(http::StatusCode::METHOD_NOT_ALLOWED),
    });
    start(builder, |req: Request| {
        Response::new(req.body().len().to_string().into())
    })
}

#[test]
fn a_refused_upload_is_answered_before_its_body_and_without_100_continue() {
    let handle = policed(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"PUT /elsewhere HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n");
    // Not a byte of the body was sent: the answer comes anyway, and it is not a 100.
    let reply = client.reply();
    assert_eq!(reply.status, 405);
    assert!(reply.closes());
    client.expect_eof();
    handle.shutdown();
}

#[test]
fn a_route_may_take_more_than_max_body_bytes_and_another_less() {
    // max_body_bytes stays at its 1 MiB default; /upload takes 3 MiB, spooled.
    let handle = policed(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    let len = 3 << 20;
    client.send(format!("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").as_bytes());
    client.stream.write_all(&vec![b'u'; len]).unwrap();
    assert_eq!(client.reply().body_text(), len.to_string());

    // /small refuses 2 KiB from its Content-Length, before the body.
    client.send(b"POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.status, 413);
    assert!(reply.closes());
    handle.shutdown();
}

#[test]
fn a_chunked_upload_past_its_route_s_limit_is_refused_as_it_grows() {
    let handle = policed(server().workers(1).body_buffer_bytes(16 * 1024));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let piece = format!("{:x}\r\n{}\r\n", 1 << 20, "c".repeat(1 << 20));
    let mut sent = 0;
    while sent < 12 && client.stream.write_all(piece.as_bytes()).is_ok() {
        sent += 1;
    }
    let reply = client.reply();
    assert_eq!(reply.status, 413);
    assert!(sent <= 12);
    handle.shutdown();
}

#[test]
fn a_body_that_came_with_its_head_is_held_to_the_same_answer() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = policed(server().model(model).workers(1));
        let mut client = Client::connect(handle.local_addr());
        // Head and body in one write: the whole request is read at once.
        client.send(b"POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(client.reply().body_text(), "5", "{model:?}");
        client.send(b"POST /elsewhere HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(client.reply().status, 405, "{model:?}");
        // A request without a body is not asked about.
        let mut client = Client::connect(handle.local_addr());
        assert_eq!(client.get("/elsewhere").body_text(), "0", "{model:?}");
        drop(client);
        handle.shutdown();
    }
}

#[test]
fn both_models_let_a_route_take_more_than_max_body_bytes_and_refuse_from_the_head() {
    for model in [Model::Nio, Model::Blocking] {
        // max_body_bytes stays at its 1 MiB default; /upload takes 3 MiB.
        let handle = policed(server().model(model).workers(1));
        let mut client = Client::connect(handle.local_addr());
        let len = 3 << 20;
        client.send(format!("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").as_bytes());
        let mut writer = client.stream.try_clone().unwrap();
        // The server may refuse before it has read it all: the write may fail then.
        let sender = std::thread::spawn(move || writer.write_all(&vec![b'u'; len]).is_ok());
        let reply = client.reply();
        assert_eq!((reply.status, reply.body_text()), (200, &*len.to_string()), "{model:?}");
        assert!(sender.join().unwrap());

        // A refused upload is answered from its head: no 100 Continue, no body read.
        client.send(b"PUT /elsewhere HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n");
        let reply = client.reply();
        assert_eq!(reply.status, 405, "{model:?}");
        assert!(reply.closes(), "{model:?}");
        drop(client);
        handle.shutdown();
    }
}
