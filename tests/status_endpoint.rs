//! The `Status` handler (the demo's `/_status`): it answers `GET` and `HEAD` only, the
//! count it reports never leaves out a request whose response a client already has, and
//! to a client that accepts `text/event-stream` it streams the counters once a second
//! without holding a worker.

mod support;

use std::time::Instant;

use nioserve::{Builder, Handler, Model, Request, ServerHandle, Status};
use support::{echo, server, wait_until, Client, PATIENCE};

/// A server with `/_status` next to the echo handler, as the demo mounts it.
fn status_server(model: Model) -> ServerHandle {
    status_server_with(server().model(model).workers(2))
}

fn status_server_with(builder: Builder) -> ServerHandle {
    let server = builder.bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
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
    figure(json, "requests")
}

/// The whole-number part of the figure called `name` in a `/_status` body.
fn figure(json: &str, name: &str) -> u64 {
    let after = json
        .split_once(&format!("\"{name}\":"))
        .unwrap_or_else(|| panic!("no {name} figure in {json}"))
        .1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {json}"))
}

/// Asks for `/_status` as an event stream and checks the response head.
fn open_event_stream(handle: &ServerHandle) -> Client {
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /_status HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
    let head = client.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    client
}

/// The JSON of the next event on an event stream (each event is one chunk).
fn next_event(client: &mut Client) -> String {
    let chunk = client.read_chunk().expect("the stream goes on");
    let text = String::from_utf8(chunk).expect("utf-8 event");
    text.strip_prefix("data: ")
        .and_then(|rest| rest.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("not one `data:` event: {text:?}"))
        .to_string()
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

#[test]
fn an_event_stream_sends_the_counters_at_once_and_then_once_a_second() {
    let handle = status_server(Model::Nio);
    let mut client = open_event_stream(&handle);
    let first = next_event(&mut client);
    let first_at = Instant::now();
    assert!(first.starts_with("{\"connections_open\":"), "{first}");
    // The next ones come from the ticker, a second apart, with fresh figures.
    let second = next_event(&mut client);
    let third = next_event(&mut client);
    let third_at = first_at.elapsed();
    assert!(second.starts_with("{\"connections_open\":"), "{second}");
    let uptime = |json: &str| -> f64 {
        let after = json.split_once("\"uptime_secs\":").expect("uptime").1;
        let end = after.find([',', '}']).unwrap_or(after.len());
        after[..end].parse().expect("a number")
    };
    assert!(uptime(&second) > uptime(&first), "{first} then {second}");
    assert!(uptime(&third) - uptime(&second) >= 0.9, "{second} then {third}");
    // The ticks are sampled a second apart (the uptimes above); they arrive as sent.
    assert!(third_at < PATIENCE, "{third_at:?}");
    // The stream is on the poller, not on a worker.
    assert_eq!(handle.stats().connections_streaming, 1);
    drop(client);
    handle.shutdown();
}

#[test]
fn open_event_streams_leave_a_single_worker_free_for_plain_requests() {
    let handle = status_server_with(server().workers(1));
    let mut streams: Vec<Client> = (0..5).map(|_| open_event_stream(&handle)).collect();
    wait_until("5 streams are counted", || handle.stats().connections_streaming == 5);
    // The one worker answers at once, and again and again.
    let mut plain = Client::connect(handle.local_addr());
    for _ in 0..3 {
        assert_eq!(plain.get("/x").body_text(), "GET /x");
        assert_eq!(plain.get("/_status").status, 200);
    }
    // What the streams see says the same: 5 streams, no worker busy (the ticker, not a
    // worker, samples them).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = next_event(&mut streams[0]);
        if figure(&event, "connections_streaming") == 5 && figure(&event, "workers_busy") == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never 5 streams and no busy worker: {event}");
    }
    // Every stream is still fed.
    for stream in &mut streams {
        next_event(stream);
    }
    drop(streams);
    handle.shutdown();
}

#[test]
fn a_client_that_leaves_is_dropped_from_the_ticker() {
    let handle = status_server(Model::Nio);
    let mut staying = open_event_stream(&handle);
    let mut leaving = open_event_stream(&handle);
    next_event(&mut leaving);
    wait_until("2 streams", || handle.stats().connections_streaming == 2);
    drop(leaving);
    // The poller sees the FIN, or the ticker's next send finds the stream closed; either
    // way the connection goes and the other stream goes on.
    wait_until("the leaving client's connection is closed", || {
        let stats = handle.stats();
        stats.connections_streaming == 1 && stats.connections_open == 1
    });
    next_event(&mut staying);
    next_event(&mut staying);
    drop(staying);
    wait_until("no stream and no connection is left", || {
        let stats = handle.stats();
        stats.connections_streaming == 0 && stats.connections_open == 0
    });
    handle.shutdown();
}

#[test]
fn head_and_wildcard_accept_get_json_not_a_stream() {
    let handle = status_server(Model::Nio);
    let mut client = Client::connect(handle.local_addr());
    client.send(b"HEAD /_status HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
    let head = client.head_reply();
    assert_eq!(head.header("content-type"), Some("application/json"));
    client.send(b"GET /_status HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n");
    let get = client.reply();
    assert_eq!(get.header("content-type"), Some("application/json"));
    assert_eq!(get.header("vary"), Some("accept"));
    drop(client);
    handle.shutdown();
}
