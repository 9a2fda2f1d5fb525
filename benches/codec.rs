//! The codec on byte slices: what nioserve spends per request before and after the
//! handler. `next` is the one entry point both connection models call after every read:
//! `partial` is what it costs on a read that leaves the request one byte short (framing
//! only, no allocation), `next` what it costs once the request is whole, building the request
//! a worker then runs; `encode` is a worker's response head.
//! `dribble` is a chunked body of 1-byte chunks arriving 16 bytes per read, parsed after each
//! read as both models do: its time per byte must not grow with the body.
//!
//! `cargo bench --bench codec` (`cargo bench --bench codec -- dribble` for that group alone)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{Method, Version};
use nioserve::internals::{self, Limits, Next, Persistence, Progress};
use nioserve::{Request, Response};

/// What wrk sends.
const WRK_GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// What a browser sends.
const BROWSER_GET: &[u8] = b"GET /css/styles.css HTTP/1.1\r\n\
Host: 127.0.0.1:8080\r\n\
Connection: keep-alive\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
Accept: text/css,*/*;q=0.1\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Dest: style\r\n\
Referer: http://127.0.0.1:8080/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\r\n";

fn chunked_post(chunks: usize, chunk_len: usize) -> Vec<u8> {
    let mut request = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..chunks {
        request.extend_from_slice(format!("{chunk_len:x}\r\n").as_bytes());
        request.extend_from_slice(&vec![b'x'; chunk_len]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

/// The request at the front of `buf` seen for the first time, if it has all arrived.
fn next(buf: &[u8], limits: &Limits) -> Option<Request> {
    match internals::next(buf, &mut Progress::default(), limits) {
        Ok(Next::Complete { request, .. }) => Some(request),
        _ => None,
    }
}

/// Whether the request at the front of `buf` is whole yet (it is not, one byte short).
fn partial(buf: &[u8], limits: &Limits) -> bool {
    matches!(
        internals::next(buf, &mut Progress::default(), limits),
        Ok(Next::Partial { .. })
    )
}

fn parse(c: &mut Criterion) {
    let limits = internals::default_limits();
    let mut group = c.benchmark_group("parse");
    for (name, request) in [("wrk_get", WRK_GET), ("browser_get", BROWSER_GET)] {
        group.throughput(Throughput::Bytes(request.len() as u64));
        let short = &request[..request.len() - 1];
        group.bench_function(format!("partial/{name}"), |b| {
            b.iter(|| partial(black_box(short), &limits))
        });
        group.bench_function(format!("next/{name}"), |b| b.iter(|| next(black_box(request), &limits)));
    }
    group.finish();
}

fn chunked(c: &mut Criterion) {
    let limits = internals::default_limits();
    let mut group = c.benchmark_group("chunked");
    for (chunks, chunk_len) in [(16, 4096), (1024, 64)] {
        let request = chunked_post(chunks, chunk_len);
        group.throughput(Throughput::Bytes((chunks * chunk_len) as u64));
        let name = format!("{chunks}x{chunk_len}");
        let short = &request[..request.len() - 1];
        group.bench_function(format!("partial/{name}"), |b| {
            b.iter(|| partial(black_box(short), &limits))
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| next(black_box(&request), &limits))
        });
    }
    group.finish();
}

/// A chunked request whose body is `wire_bytes` (about) of 1-byte chunks: `1\r\nx\r\n` each.
fn one_byte_chunks(wire_bytes: usize) -> Vec<u8> {
    let request = chunked_post(0, 0);
    let head_len = request.len() - b"0\r\n\r\n".len();
    chunked_post((wire_bytes - head_len) / 6, 1)
}

/// The bytes a client sends 16 at a time, parsed after each read: with the poller's
/// progress kept between reads (`resumed`), and from the start each time (`from_start`, what
/// the poller did before it kept it; quadratic, so only the two smaller sizes).
fn dribble(c: &mut Criterion) {
    const READ: usize = 16;
    let limits = internals::default_limits();
    let mut group = c.benchmark_group("dribble");
    group.sample_size(10);
    for (name, wire_bytes) in [("1KiB", 1 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let request = one_byte_chunks(wire_bytes);
        group.throughput(Throughput::Bytes(request.len() as u64));
        group.bench_function(format!("resumed/{name}"), |b| {
            b.iter(|| {
                let mut progress = Progress::default();
                let mut end = 0;
                loop {
                    end = (end + READ).min(request.len());
                    let buf = black_box(&request[..end]);
                    if let Ok(Next::Complete { request, .. }) = internals::next(buf, &mut progress, &limits) {
                        break request;
                    }
                    assert!(end < request.len(), "the whole request is not a request");
                }
            })
        });
        if wire_bytes > 64 << 10 {
            continue;
        }
        group.bench_function(format!("from_start/{name}"), |b| {
            b.iter(|| {
                let mut end = 0;
                loop {
                    end = (end + READ).min(request.len());
                    if let Some(request) = next(black_box(&request[..end]), &limits) {
                        break request;
                    }
                    assert!(end < request.len(), "the whole request is not a request");
                }
            })
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut out = Vec::with_capacity(1024);
    c.bench_function("encode/hello", |b| {
        b.iter(|| {
            out.clear();
            let mut response = Response::new("Hello, World!".into());
            response
                .headers_mut()
                .insert("content-type", http::HeaderValue::from_static("text/plain"));
            // An invalid response (one the server would answer with `500`) leaves `out` as it was.
            let _ = internals::encode(
                &mut out,
                &Method::GET,
                Version::HTTP_11,
                black_box(response),
                Persistence::KeepAlive,
            );
            black_box(out.len())
        })
    });
}

criterion_group!(benches, parse, chunked, dribble, encode);
criterion_main!(benches);
