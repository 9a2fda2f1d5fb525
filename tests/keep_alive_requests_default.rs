//! By default a connection serves 1,000 requests (nginx's `keepalive_requests` since
//! 1.19.10), so load tools that pipeline deep rarely have requests queued behind a close.

mod support;

use support::{echo_server, server, Client};

#[test]
fn by_default_one_connection_serves_1000_requests_and_the_last_says_close() {
    let handle = echo_server(server());
    let mut client = Client::connect(handle.local_addr());
    // Pipelined 100 at a time, the way h2load -m or wrk with a pipelining script sends them.
    for batch in 0..10 {
        let requests: String = (0..100)
            .map(|i| format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", batch * 100 + i + 1))
            .collect();
        client.send(requests.as_bytes());
        for i in 0..100 {
            let n = batch * 100 + i + 1;
            let reply = client.reply();
            assert_eq!(reply.body_text(), format!("GET /{n}"));
            assert_eq!(reply.closes(), n == 1000, "request {n}");
        }
    }
    client.expect_closed();
    assert_eq!(handle.stats().accepted, 1);
}
