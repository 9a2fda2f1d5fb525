//! Fuzzes the request codec on arbitrary bytes, with the server's default limits and with
//! limits small enough for every one of them to be crossed.
//!
//! Asserts what `tests/codec_properties.rs` checks on generated inputs:
//!
//! - the codec's one entry point (`next`, which both connection models call after every
//!   read) does not panic; a length it gives is within the buffer, and it expects a
//!   `100 Continue` only of a request that is partial;
//! - a complete request is framed from its own bytes alone: `buf[..len]` on its own is the
//!   same request, and `buf[..len - 1]` is still partial;
//! - a decision is final: a prefix of the input is partial, or decided as the whole is
//!   (complete at the same length, or refused);
//! - resuming is the same as starting over: fed the input in pieces, going on from where the
//!   last piece stopped as a connection does, the codec says what it says of each piece's
//!   bytes seen at once (the same verdict, `100 Continue` answer and request).
//!
//! `cargo fuzz run parse_request` from the repository root; see docs/fuzzing.md.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nioserve::internals::{self, Limits, Next, Progress};

/// The limits of the inline tests in `src/h1/request.rs`.
const SMALL: Limits = Limits {
    max_header_bytes: 128,
    max_uri_bytes: 32,
    max_body_bytes: 16,
};

/// What the codec said about a buffer, the request aside: comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Partial,
    Complete { len: usize },
    Rejected { status: u16, reason: &'static str },
}

/// What `internals::next` said about a buffer.
struct Outcome {
    verdict: Verdict,
    expects_continue: bool,
    request: Option<nioserve::Request>,
}

fuzz_target!(|data: &[u8]| {
    for limits in [internals::default_limits(), SMALL] {
        let whole = judged(data, limits);
        if let Verdict::Complete { len } = whole.verdict {
            let alone = judged(&data[..len], limits);
            assert_eq!(alone.verdict, whole.verdict, "the request alone is framed differently");
            same_request(&alone, &whole);
            let short = judged(&data[..len - 1], limits);
            assert_eq!(short.verdict, Verdict::Partial, "decided one byte before the end");
        }
        // Every prefix would make this quadratic; a few cut points catch the same bugs over
        // many runs.
        let mut progress = Progress::default();
        for split in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
            let part = judged(&data[..split], limits);
            same_outcome(&next(&data[..split], &mut progress, limits), &part);
            let consistent = match (part.verdict, whole.verdict) {
                (Verdict::Partial, _) | (Verdict::Rejected { .. }, Verdict::Rejected { .. }) => true,
                (part, whole) => part == whole,
            };
            assert!(
                consistent,
                "{split} bytes give {:?}, all {} give {:?}",
                part.verdict,
                data.len(),
                whole.verdict
            );
        }
        same_outcome(&next(data, &mut progress, limits), &whole);
    }
});

/// Runs the codec's one entry point on `buf`, going on from `progress`.
fn next(buf: &[u8], progress: &mut Progress, limits: Limits) -> Outcome {
    let (verdict, expects_continue, request) = match internals::next(buf, progress, &limits) {
        Ok(Next::Partial { expects_continue }) => (Verdict::Partial, expects_continue, None),
        Ok(Next::Complete { request, len }) => (Verdict::Complete { len }, false, Some(request)),
        Err(error) => {
            let status = error.status().as_u16();
            (
                Verdict::Rejected {
                    status,
                    reason: error.reason(),
                },
                false,
                None,
            )
        }
    };
    Outcome {
        verdict,
        expects_continue,
        request,
    }
}

/// Runs the codec on `buf` seen for the first time and asserts what holds of any answer.
fn judged(buf: &[u8], limits: Limits) -> Outcome {
    let outcome = next(buf, &mut Progress::default(), limits);
    if let Verdict::Complete { len } = outcome.verdict {
        assert!(0 < len && len <= buf.len(), "length {len} of {} bytes", buf.len());
    }
    assert!(
        !outcome.expects_continue || outcome.verdict == Verdict::Partial,
        "100 Continue expected of a request that is {:?}",
        outcome.verdict
    );
    outcome
}

/// Asserts that the resumed codec said what a fresh look said.
fn same_outcome(resumed: &Outcome, fresh: &Outcome) {
    assert_eq!(
        (resumed.verdict, resumed.expects_continue),
        (fresh.verdict, fresh.expects_continue),
        "resumed (left) and fresh (right) disagree"
    );
    if fresh.request.is_some() {
        same_request(resumed, fresh);
    }
}

/// Asserts that two outcomes built the same request.
fn same_request(one: &Outcome, other: &Outcome) {
    let (Some(one), Some(other)) = (&one.request, &other.request) else {
        panic!("a complete outcome without a request");
    };
    assert_eq!(one.method(), other.method());
    assert_eq!(one.uri(), other.uri());
    assert_eq!(one.version(), other.version());
    assert_eq!(one.headers(), other.headers());
    assert_eq!(one.body(), other.body());
}
