//! `ConnectionInfo` in every request's extensions: the handler learns who is asking,
//! on which address, and the request's number on its connection, in both models.

mod support;

use nioserve::{ConnectionInfo, Model, Request, Response};
use support::{server, start, Client};

/// Answers `peer local number`, from the request's `ConnectionInfo`.
fn tell(req: Request) -> Response {
    let body = match req.extensions().get::<ConnectionInfo>() {
        Some(conn) => format!("{} {} {}", conn.peer_addr(), conn.local_addr(), conn.request_number()),
        None => String::from("none"),
    };
    Response::new(body.into())
}

fn the_handler_learns_the_connection(model: Model) {
    let handle = start(server().model(model).workers(2), tell);
    let mut client = Client::connect(handle.local_addr());
    let client_addr = client.stream.local_addr().expect("client address");
    let server_addr = client.stream.peer_addr().expect("server address");

    for n in 1..=3 {
        let reply = client.get("/");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("{client_addr} {server_addr} {n}"));
    }

    // Another connection counts from 1 again, from its own address.
    let mut other = Client::connect(handle.local_addr());
    let other_addr = other.stream.local_addr().expect("client address");
    assert_ne!(other_addr, client_addr);
    assert_eq!(other.get("/").body_text(), format!("{other_addr} {server_addr} 1"));
    handle.shutdown();
}

#[test]
fn the_handler_learns_the_connection_nio() {
    the_handler_learns_the_connection(Model::Nio);
}

#[test]
fn the_handler_learns_the_connection_blocking() {
    the_handler_learns_the_connection(Model::Blocking);
}

#[test]
fn pipelined_requests_are_numbered_in_order() {
    let handle = start(server().workers(2), tell);
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    for n in 1..=2 {
        let reply = client.reply();
        assert!(reply.body_text().ends_with(&format!(" {n}")), "{}", reply.body_text());
    }
    handle.shutdown();
}
