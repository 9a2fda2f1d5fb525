//! Response bodies fed from another thread (`Body::channel`): bytes reach the client as
//! they are sent, an open stream holds no worker, the producer learns when its client is
//! gone, and a producer that gives up never leaves a body that looks complete.

mod support;

use std::io::Write;
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use nioserve::{Body, BodySender, Model, Request, Response, SendError, ServerHandle};
use support::{server, start, wait_until, Client, PATIENCE};

/// A server whose `/stream` (chunked) and `/sized/N` (`Content-Length: N`) responses are
/// fed by the test itself: each request's sender arrives on the returned channel. Any
/// other path answers `plain` at once.
fn streaming_server(builder: nioserve::Builder) -> (ServerHandle, Receiver<BodySender>) {
    let (senders, received) = mpsc::channel();
    let senders = Mutex::new(senders);
    let handle = start(builder, move |req: Request| {
        let path = req.uri().path();
        let (sender, body) = if path == "/stream" {
            Body::channel(64 * 1024)
        } else if let Some(len) = path.strip_prefix("/sized/") {
            Body::channel_sized(len.parse().expect("a length"), 64 * 1024)
        } else {
            return Response::new("plain".into());
        };
        senders
            .lock()
            .unwrap()
            .send(sender)
            .expect("the test takes every sender");
        Response::new(body)
    });
    (handle, received)
}

fn next_sender(senders: &Receiver<BodySender>) -> BodySender {
    senders.recv_timeout(PATIENCE).expect("the handler ran")
}

#[test]
fn each_event_reaches_the_client_as_it_is_sent() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    let head = client.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("content-length"), None);
    // The second event is sent only once the client has read the first: the first
    // cannot have waited for the body to end.
    for event in ["data: one\n\n", "data: two\n\n"] {
        sender.send(event).unwrap();
        assert_eq!(client.read_chunk().as_deref(), Some(event.as_bytes()));
    }
    sender.finish().unwrap();
    assert_eq!(client.read_chunk(), None, "the last chunk ends the body");
    // The connection persists: a next request on it is answered.
    assert_eq!(client.get("/after").body_text(), "plain");
    drop(client);
    handle.shutdown();
}

#[test]
fn open_streams_hold_no_worker() {
    let (handle, senders) = streaming_server(server().workers(2));
    let mut streams = Vec::new();
    for _ in 0..10 {
        let mut client = Client::connect(handle.local_addr());
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        let sender = next_sender(&senders);
        assert_eq!(client.read_head().status, 200);
        streams.push((client, sender));
    }
    wait_until("10 streams are counted and no worker is busy", || {
        let stats = handle.stats();
        stats.connections_streaming == 10 && stats.workers_busy == 0 && stats.connections_busy == 0
    });
    // Ten producers are quiet and two workers serve a plain request at once.
    let started = Instant::now();
    assert_eq!(Client::connect(handle.local_addr()).get("/plain").body_text(), "plain");
    assert!(started.elapsed() < PATIENCE);
    // Every stream still works.
    for (client, sender) in &mut streams {
        sender.send("late").unwrap();
        assert_eq!(client.read_chunk().as_deref(), Some(&b"late"[..]));
    }
    drop(streams);
    handle.shutdown();
}

#[test]
fn a_producer_learns_that_its_client_left() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    drop(client);
    // The client's FIN is seen by the poller; a send after it fails.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match sender.send("tick\n") {
            Err(SendError::Closed) => break,
            Ok(()) => assert!(Instant::now() < deadline, "the producer never learnt the client left"),
            Err(e) => panic!("{e}"),
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(sender.is_closed());
    wait_until("the connection is closed", || handle.stats().connections_open == 0);
    handle.shutdown();
}

#[test]
fn a_producer_blocked_on_a_client_that_reads_nothing_learns_it_within_the_send_timeout() {
    let send_timeout = Duration::from_millis(500);
    let (handle, senders) = streaming_server(server().workers(1).send_timeout(send_timeout));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    // The client reads nothing more; the producer fills the socket and then its queue.
    let producer = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        loop {
            match sender.send(chunk.clone()) {
                Ok(()) => sent += chunk.len(),
                Err(SendError::Closed) => return (Instant::now(), sent),
                Err(e) => panic!("{e}"),
            }
        }
    });
    let (closed_at, sent) = producer.join().expect("the producer returns");
    assert!(sent > 0);
    // It took no longer than the send timeout plus a generous margin to notice.
    assert!(closed_at.elapsed() < PATIENCE);
    assert!(handle.stats().timed_out >= 1, "closed for the send timeout");
    drop(client);
    handle.shutdown();
}

#[test]
fn a_dropped_sender_closes_the_connection_without_ending_the_body() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    sender.send("partial").unwrap();
    assert_eq!(client.read_chunk().as_deref(), Some(&b"partial"[..]));
    drop(sender);
    let rest = client.read_to_close();
    assert!(rest.is_empty(), "no last chunk after an abort: {rest:?}");

    // Sized: finishing short of the declared length aborts too.
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /sized/10 HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    assert_eq!(client.read_head().header("content-length"), Some("10"));
    sender.send("short").unwrap();
    assert!(matches!(sender.finish(), Err(SendError::Incomplete)));
    assert_eq!(
        client.read_to_close(),
        b"short",
        "the client sees 5 of 10 bytes, then the close"
    );
    handle.shutdown();
}

#[test]
fn a_sized_stream_has_a_content_length_and_keeps_the_connection() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /sized/11 HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    thread::spawn(move || {
        sender.send("hello ").unwrap();
        assert!(matches!(sender.send("world!"), Err(SendError::Overflow)));
        sender.send("world").unwrap();
        sender.finish().unwrap();
    });
    let reply = client.reply();
    assert_eq!(reply.header("content-length"), Some("11"));
    assert_eq!(reply.body_text(), "hello world");
    assert!(!reply.closes());
    assert_eq!(client.get("/after").body_text(), "plain");
    drop(client);
    handle.shutdown();
}

#[test]
fn an_http_10_client_gets_the_stream_unframed_and_the_close_ends_it() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let sender = next_sender(&senders);
    let head = client.read_head();
    assert_eq!(head.header("transfer-encoding"), None);
    assert_eq!(head.header("content-length"), None);
    assert_eq!(head.header("connection"), Some("close"));
    sender.send("one,").unwrap();
    sender.send("two").unwrap();
    sender.finish().unwrap();
    assert_eq!(client.read_to_close(), b"one,two");
    handle.shutdown();
}

#[test]
fn a_head_request_sends_no_body_and_its_producer_is_told() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    let head = client.head_reply();
    assert_eq!(head.status, 200);
    wait_until("the producer learns nothing will be sent", || sender.is_closed());
    assert_eq!(client.get("/after").body_text(), "plain");
    drop(client);
    handle.shutdown();
}

#[test]
fn pipelined_requests_behind_a_stream_are_answered_after_it() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    sender.send("body").unwrap();
    assert_eq!(client.read_chunk().as_deref(), Some(&b"body"[..]));
    sender.finish().unwrap();
    assert_eq!(client.read_chunk(), None);
    assert_eq!(client.reply().body_text(), "plain");
    drop(client);
    handle.shutdown();
}

#[test]
fn shutdown_ends_open_streams_at_the_end_of_the_grace_period() {
    let grace = Duration::from_millis(300);
    let (handle, senders) = streaming_server(server().workers(1).shutdown_grace(grace));
    let mut clients = Vec::new();
    let mut producers = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(handle.local_addr());
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        producers.push(next_sender(&senders));
        client.read_head();
        clients.push(client);
    }
    wait_until("3 streams", || handle.stats().connections_streaming == 3);
    let started = Instant::now();
    let report = handle.shutdown();
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(report.streaming, 3, "{report}");
    for producer in &producers {
        assert!(producer.is_closed());
        assert!(matches!(producer.send("x"), Err(SendError::Closed)));
    }
    for client in &mut clients {
        assert!(
            client.read_to_close().is_empty(),
            "no last chunk: the streams were cut off"
        );
    }
}

#[test]
fn the_blocking_model_streams_too() {
    let (handle, senders) = streaming_server(server().model(Model::Blocking).workers(2));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    assert_eq!(client.read_head().header("transfer-encoding"), Some("chunked"));
    for event in ["a", "b"] {
        sender.send(event).unwrap();
        assert_eq!(client.read_chunk().as_deref(), Some(event.as_bytes()));
    }
    sender.finish().unwrap();
    assert_eq!(client.read_chunk(), None);
    assert_eq!(client.get("/after").body_text(), "plain");
    // An abandoned stream closes the connection here as well.
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    drop(sender);
    assert!(client.read_to_close().is_empty());
    handle.shutdown();
}

#[test]
fn a_client_that_sends_more_while_its_response_streams_is_not_cut_off() {
    let (handle, senders) = streaming_server(server().workers(1));
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    let sender = next_sender(&senders);
    client.read_head();
    // Bytes of a next request arrive while the stream is quiet.
    client.stream.write_all(b"GET /next HTTP/1.1\r\n").unwrap();
    sender.send("still here").unwrap();
    assert_eq!(client.read_chunk().as_deref(), Some(&b"still here"[..]));
    sender.finish().unwrap();
    assert_eq!(client.read_chunk(), None);
    client.send(b"Host: t\r\n\r\n");
    assert_eq!(client.reply().body_text(), "plain");
    drop(client);
    handle.shutdown();
}
