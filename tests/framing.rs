//! Request bodies (RFC 9112 §6–§7) and `Expect: 100-continue` (RFC 9110 §10.1.1).

mod support;

use support::{echo_server, server, Client};

#[test]
fn content_length_body_reaches_the_handler() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\na=1&b=two");
    assert_eq!(client.reply().body_text(), "POST /form\na=1&b=two");
}

#[test]
fn chunked_body_is_decoded_with_extensions_and_trailers() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(
        b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    assert_eq!(client.reply().body_text(), "POST /chunked\nhello, world");
    // The connection is still good for the next request.
    assert_eq!(client.get("/next").body_text(), "GET /next");
}

#[test]
fn a_large_body_arriving_in_pieces_is_complete() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    let body: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    client.send(format!("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    for piece in body.chunks(10_000) {
        client.send(piece);
    }
    let reply = client.reply();
    assert_eq!(&reply.body[..8], b"PUT /big");
    assert_eq!(&reply.body[9..], &body[..]);
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = client.reply();
    assert_eq!(interim.status, 100);
    client.send(b"12345");
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "POST /upload\n12345");
}

#[test]
fn expect_100_continue_with_too_large_a_body_is_refused_without_continue() {
    let handle = echo_server(server().max_body_bytes(1024));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.status, 413);
    assert!(reply.closes());
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(b"HEAD /page HTTP/1.1\r\nHost: t\r\n\r\n");
    let reply = client.head_reply();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-length"),
        Some("10"),
        "the length of the body the handler built"
    );
    // No body bytes were sent: the next response follows the head directly.
    assert_eq!(client.get("/after").body_text(), "GET /after");
}
