//! A client that sends its request and at once shuts down its sending side
//! (`shutdown(SHUT_WR)`) gets the whole response, then a clean close (a FIN, not a reset).
//!
//! Whether that response says `Connection: close` depends on whether the server had
//! already read the FIN when it answered: it says so when it knows (RFC 9112 §9.6; see
//! `tests/keep_alive.rs::a_request_and_fin_sent_while_on_a_worker_are_answered_and_the_connection_closes`,
//! where the FIN is read before the second response is written). A FIN that arrives
//! while the handler runs is read only once the response is out; the close follows at
//! once, and the client, which sends nothing more, loses nothing.

mod support;

use std::net::Shutdown;
use std::time::Duration;

use support::{echo_server, server, wait_until, Client};

#[test]
fn a_request_and_fin_sent_together_get_the_response_then_a_clean_close() {
    // A FIN the server missed would hold the connection for the keep-alive timeout: five
    // minutes here, far beyond the test client's patience.
    let handle = echo_server(server().keep_alive_timeout(Duration::from_secs(300)));
    for i in 0..100 {
        let mut client = Client::connect(handle.local_addr());
        client.send(format!("GET /half/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        client.stream.shutdown(Shutdown::Write).expect("half-close");
        let reply = client.reply();
        assert_eq!(
            (reply.status, reply.body_text()),
            (200, format!("GET /half/{i}").as_str())
        );
        client.expect_eof();
    }
    wait_until("every slot is freed", || handle.stats().connections_open == 0);
    assert_eq!(handle.stats().timed_out, 0);
}
