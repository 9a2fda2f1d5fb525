//! Timeouts that fit uploads: the head has the request timeout, the body a timeout
//! between reads and, if set, a least rate, so a slow but steady upload is served and a
//! stalled or dribbling one gets 408.

mod support;

use std::io::Write;
use std::thread;
use std::time::Duration;

use nioserve::{Model, Request, Response, ServerHandle};
use support::{server, start, Client};

fn length_server(builder: nioserve::Builder) -> ServerHandle {
    start(builder, |req: Request| {
        Response::new(req.body().len().to_string().into())
    })
}

#[test]
fn a_steady_slow_upload_outlasts_the_request_timeout() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = length_server(
            server()
                .model(model)
                .workers(1)
                .request_timeout(Duration::from_millis(300))
                .body_timeout(Duration::from_secs(2)),
        );
        let mut client = Client::connect(handle.local_addr());
        client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
        // 1,000 bytes over about a second: three times the request timeout.
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(100));
            client.stream.write_all(&[b'x'; 100]).unwrap();
        }
        assert_eq!(client.reply().body_text(), "1000", "{model:?}");
        drop(client);
        handle.shutdown();
    }
}

#[test]
fn a_stalled_body_gets_408_after_the_body_timeout() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = length_server(
            server()
                .model(model)
                .workers(1)
                .body_timeout(Duration::from_millis(300)),
        );
        let mut client = Client::connect(handle.local_addr());
        client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nhalf of it");
        let reply = client.reply();
        assert_eq!(reply.status, 408, "{model:?}");
        assert!(reply.closes());
        drop(client);
        handle.shutdown();
    }
}

#[test]
fn a_dribbling_upload_is_cut_by_the_least_rate() {
    let handle = length_server(
        server()
            .workers(1)
            .body_timeout(Duration::from_secs(30))
            .min_body_rate(1000, Duration::from_millis(300)),
    );
    let mut client = Client::connect(handle.local_addr());
    client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    // A byte every 20 ms: 50 bytes/s, far under 1,000, though never quiet for long.
    let mut dribble = client.stream.try_clone().unwrap();
    let dribbler = thread::spawn(move || {
        for _ in 0..500 {
            if dribble.write_all(b"d").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    let reply = client.reply();
    assert_eq!(reply.status, 408);
    assert!(reply.closes());
    assert!(handle.stats().timed_out >= 1);
    drop(client);
    dribbler.join().unwrap();
    handle.shutdown();
}

#[test]
fn a_body_sent_mostly_with_its_head_is_not_cut_by_the_least_rate() {
    let handle = length_server(server().workers(1).min_body_rate(1000, Duration::from_millis(300)));
    let mut client = Client::connect(handle.local_addr());
    // 3,000 bytes of the body with the head, the last 100 after 600 ms: 5 KB/s on average,
    // five times the least rate.
    let mut first = b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 3100\r\n\r\n".to_vec();
    first.extend_from_slice(&[b'x'; 3000]);
    client.send(&first);
    thread::sleep(Duration::from_millis(600));
    client.send(&[b'y'; 100]);
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "3100");
    drop(client);
    handle.shutdown();
}

#[test]
fn a_pipelined_body_gets_its_whole_body_timeout_after_a_slow_response() {
    for model in [Model::Nio, Model::Blocking] {
        let handle = start(
            server()
                .model(model)
                .workers(1)
                .body_timeout(Duration::from_millis(300)),
            |req: Request| {
                if req.uri().path() == "/slow" {
                    thread::sleep(Duration::from_millis(600));
                }
                Response::new(req.body().len().to_string().into())
            },
        );
        let mut client = Client::connect(handle.local_addr());
        // The second request's head comes with the first; its body once the first is answered.
        client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\nPOST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(client.reply().status, 200, "{model:?}");
        client.send(b"hello");
        let reply = client.reply();
        assert_eq!(reply.status, 200, "{model:?}");
        assert_eq!(reply.body_text(), "5", "{model:?}");
        drop(client);
        handle.shutdown();
    }
}
