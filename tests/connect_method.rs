//! `CONNECT` (RFC 9110 §9.3.6) asks for a tunnel: a 2xx answer ends HTTP on the
//! connection and carries no framing. nioserve has no tunnels, so the server answers
//! every `CONNECT` itself with `501 Not Implemented` and closes; no handler sees one.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nioserve::{Model, Request, Response};
use support::{server, start, Client};

#[test]
fn connect_is_refused_with_501_before_any_handler_and_the_connection_closes() {
    for model in [Model::Nio, Model::Blocking] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        // A handler that would happily "establish" any tunnel.
        let handle = start(server().model(model).workers(2), move |req: Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            Response::new(format!("{} {}", req.method(), req.uri()).into())
        });

        let mut client = Client::connect(handle.local_addr());
        // What a client sends once it believes the tunnel is up must never be read as HTTP.
        client.send(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\
              GET /through-the-tunnel HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        let reply = client.reply();
        assert_eq!(reply.status, 501, "{model:?}");
        assert!(reply.closes(), "{model:?}");
        assert!(
            reply.body_text().contains("CONNECT"),
            "{model:?}: {}",
            reply.body_text()
        );
        client.expect_closed();
        // Closing our side too ends the server's lingering close at once.
        drop(client);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{model:?}: no handler saw it");

        // Other methods, the asterisk form included, are the handler's as before.
        let mut client = Client::connect(handle.local_addr());
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
        let reply = client.reply();
        assert_eq!((reply.status, reply.body_text()), (200, "OPTIONS *"), "{model:?}");
        assert!(!reply.closes());
        assert_eq!(client.get("/after").body_text(), "GET /after");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{model:?}");
        handle.shutdown();
    }
}
