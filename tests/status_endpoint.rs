//! The `Status` handler (the demo's `/_status`): it answers `GET` and `HEAD` only, and
//! the count it reports never leaves out a request whose response a client already has.

mod support;

use nioserve::{Handler, Model, Request, ServerHandle, Status};
use support::{echo, server, Client};

/// A server with `/_status` next to the echo handler, as the demo mounts it.
fn status_server(model: Model) -> ServerHandle {
    let server = server()
        .model(model)
        .workers(2)
        .bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0");
    let status = Status::new(server.counters());
    server
        .spawn(move |req: Request| match req.uri().path() {
            "/_status" => status.call(req),
            _ => echo(req),
        })
        .expect("spawn server")
}

/// The `"requests"` figure of a `/_status` body.
fn requests_in(json: &str) -> u64 {
    let after = json
        .split_once("\"requests\":")
        .unwrap_or_else(|| panic!("no requests figure in {json}"))
        .1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a number of requests")
}

#[test]
fn status_answers_get_and_head_and_refuses_every_other_method_with_405() {
    let handle = status_server(Model::Nio);
    let mut client = Client::connect(handle.local_addr());

    let get = client.get("/_status");
    assert_eq!(get.status, 200);
    assert_eq!(get.header("content-type"), Some("application/json"));
    assert!(
        get.body_text().starts_with("{\"connections_open\":"),
        "{}",
        get.body_text()
    );

    client.send(b"HEAD /_status HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.head_reply();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));

    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PURGE"] {
        client.send(format!("{method} /_status HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes());
        let refused = client.reply();
        assert_eq!(refused.status, 405, "{method}");
        assert_eq!(refused.header("allow"), Some("GET, HEAD"), "{method}");
        assert!(
            !refused.body_text().contains("connections_open"),
            "{method}: no counters"
        );
        assert!(!refused.closes(), "{method}: a 405 is an ordinary answer");
    }
    // The connection goes on serving.
    assert_eq!(client.get("/_status").status, 200);
}

#[test]
fn a_request_is_counted_before_its_response_is_written() {
    for model in [Model::Nio, Model::Blocking] {
        // Pipelined on one connection: `/x` and `/_status` arrive together, and the worker
        // that answers `/x` answers `/_status` right behind it.
        let handle = status_server(model);
        let mut client = Client::connect(handle.local_addr());
        for i in 0..100u64 {
            client.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\nGET /_status HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(client.reply().body_text(), "GET /x");
            let status = client.reply();
            // Every earlier `/x` and `/_status`, and this `/x`; `/_status` is counted
            // once it has answered.
            assert_eq!(requests_in(status.body_text()), 2 * i + 1, "{model:?}, round {i}");
        }
        drop(client);
        handle.shutdown();

        // Two connections: one has its answer to `/x`, the other asks at once.
        let handle = status_server(model);
        let mut asker = Client::connect(handle.local_addr());
        let mut worker = Client::connect(handle.local_addr());
        for i in 0..200u64 {
            assert_eq!(worker.get("/x").body_text(), "GET /x");
            let status = asker.get("/_status");
            assert_eq!(requests_in(status.body_text()), 2 * i + 1, "{model:?}, round {i}");
        }
        drop((asker, worker));
        handle.shutdown();
    }
}
