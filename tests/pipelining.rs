//! Pipelined and fragmented requests: responses in order, nothing lost.

mod support;

use support::{echo_server, server, wait_until, Client};

#[test]
fn pipelined_requests_are_answered_in_order() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    batch.extend_from_slice(b"POST /last HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody");
    client.send(&batch);
    for i in 0..20 {
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body_text(), format!("GET /{i}"));
    }
    assert_eq!(client.reply().body_text(), "POST /last\nbody");
    assert_eq!(handle.stats().accepted, 1);
}

#[test]
fn a_request_split_across_writes_is_assembled() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    let request = b"POST /split HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
    let cuts = [3, 17, 30, 45, 52, request.len()];
    let mut from = 0;
    for cut in cuts {
        client.send(&request[from..cut]);
        from = cut;
        if cut < request.len() {
            // The poller holds the partial request: open, neither idle nor on a worker.
            wait_until("the server holds the partial request", || {
                let s = handle.stats();
                s.connections_open == 1 && s.connections_idle == 0 && s.connections_busy == 0
            });
            assert_eq!(handle.stats().requests, 0);
        }
    }
    let reply = client.reply();
    assert_eq!(reply.body_text(), "POST /split\nhello world");
}

#[test]
fn a_response_and_the_start_of_the_next_request_share_a_read() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    client.send(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /tw");
    assert_eq!(client.reply().body_text(), "GET /one");
    wait_until("the partial second request waits on the poller", || {
        let s = handle.stats();
        s.requests == 1 && s.connections_busy == 0 && s.connections_idle == 0
    });
    client.send(b"o HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.reply().body_text(), "GET /two");
}
