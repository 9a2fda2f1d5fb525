//! The smallest nioserve server: every request gets `200 Hello, World!`.
//!
//! ```text
//! cargo run --release --example hello -- [ADDR] [WORKERS]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8080`, `WORKERS` to the number of CPUs. The
//! benchmarks start it exactly like this.

use std::io;

use nioserve::{Request, Response, Server};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let mut builder = Server::builder();
    if let Some(workers) = args.next() {
        let workers: usize = workers.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WORKERS must be a positive number, not {workers:?}"),
            )
        })?;
        builder = builder.workers(workers);
    }
    let server = builder.bind(&addr)?;
    println!("hello: listening on http://{}/", server.local_addr());
    server.serve(|_req: Request| {
        let mut response = Response::new("Hello, World!".into());
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        response
    })?;
    Ok(())
}
