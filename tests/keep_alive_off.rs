//! A zero keep-alive timeout turns keep-alive off: every response says
//! `Connection: close` (RFC 9112 §9.6), rather than looking persistent and being
//! followed by a close the client was not told about.

mod support;

use std::time::Duration;

use nioserve::Model;
use support::{echo_server, server, Client};

#[test]
fn with_a_zero_keep_alive_timeout_every_response_says_connection_close() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = echo_server(server().model(model).keep_alive_timeout(Duration::ZERO));

        let mut client = Client::connect(handle.local_addr());
        let reply = client.get("/one");
        assert_eq!((reply.status, reply.body_text()), (200, "GET /one"));
        assert!(reply.closes(), "{model:?}: the server will close, so it says so");
        client.expect_eof();
        // Closing our side too ends the server's lingering close at once.
        drop(client);

        // An HTTP/1.0 client asking for keep-alive is told no, not `timeout=0`.
        let mut old = Client::connect(handle.local_addr());
        old.send(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let reply = old.reply();
        assert!(reply.closes(), "{model:?}");
        assert_eq!(reply.header("keep-alive"), None, "{model:?}");
        old.expect_eof();
        drop(old);

        // Pipelined requests: the first response is the last, and says so.
        let mut piped = Client::connect(handle.local_addr());
        piped.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
        let reply = piped.reply();
        assert_eq!(reply.body_text(), "GET /a");
        assert!(reply.closes(), "{model:?}");
        piped.expect_closed();
        drop(piped);
        handle.shutdown();
    }
}
