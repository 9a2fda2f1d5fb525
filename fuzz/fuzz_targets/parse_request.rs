//! Fuzzes the request codec on arbitrary bytes, with the server's default limits and with
//! limits small enough for every one of them to be crossed.
//!
//! Asserts what `tests/codec_properties.rs` checks on generated inputs:
//!
//! - neither `check` (the blocking model's) nor `parse_next` (the poller's) panics, and they
//!   agree: the same length, or both partial (with the same `100 Continue` answer), or the
//!   same refusal (status and reason);
//! - a complete request is framed from its own bytes alone: `buf[..len]` on its own is the
//!   same request, and `buf[..len - 1]` is still partial;
//! - a decision is final: a prefix of the input is partial, or decided as the whole is
//!   (complete at the same length, or refused);
//! - resuming is the same as starting over: fed the input in pieces, going on from where the
//!   last piece stopped as a connection does, the codec says what it says of each piece's
//!   bytes seen at once.
//!
//! `cargo fuzz run parse_request` from the repository root; see docs/fuzzing.md.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nioserve::internals::{self, CodecLimits, Outcome, Resumed, Verdict};

/// The limits of the inline tests in `src/http/parse.rs`.
const SMALL: CodecLimits = CodecLimits {
    max_header_bytes: 128,
    max_uri_bytes: 32,
    max_body_bytes: 16,
};

fuzz_target!(|data: &[u8]| {
    for limits in [CodecLimits::default(), SMALL] {
        let whole = agreed(data, limits);
        if let Verdict::Complete { len } = whole.checked {
            let alone = agreed(&data[..len], limits);
            assert_eq!(alone.checked, whole.checked, "the request alone is framed differently");
            same_request(&alone, &whole);
            let short = agreed(&data[..len - 1], limits);
            assert_eq!(short.checked, Verdict::Partial, "decided one byte before the end");
        }
        // Every prefix would make this quadratic; a few cut points catch the same bugs over
        // many runs.
        let mut resumed = Resumed::new(limits);
        for split in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
            let part = agreed(&data[..split], limits);
            same_outcome(&resumed.outcome(&data[..split]), &part);
            let consistent = match (part.checked, whole.checked) {
                (Verdict::Partial, _) | (Verdict::Rejected { .. }, Verdict::Rejected { .. }) => true,
                (part, whole) => part == whole,
            };
            assert!(
                consistent,
                "{split} bytes give {:?}, all {} give {:?}",
                part.checked,
                data.len(),
                whole.checked
            );
        }
        same_outcome(&resumed.outcome(data), &whole);
    }
});

/// Runs `check` and `parse_next` and asserts that they agree.
fn agreed(buf: &[u8], limits: CodecLimits) -> Outcome {
    let outcome = internals::outcome_with(buf, limits);
    assert_eq!(
        outcome.checked, outcome.parsed,
        "check (left) and parse_next (right) disagree"
    );
    assert_eq!(
        outcome.expects_continue, outcome.continue_parsed,
        "check (left) and parse_next (right) disagree on 100 Continue"
    );
    assert_eq!(
        outcome.request.is_some(),
        matches!(outcome.parsed, Verdict::Complete { .. }),
        "a request without Complete, or Complete without a request"
    );
    if let Verdict::Complete { len } = outcome.checked {
        assert!(0 < len && len <= buf.len(), "length {len} of {} bytes", buf.len());
    }
    assert!(
        !outcome.expects_continue || outcome.checked == Verdict::Partial,
        "100 Continue expected of a request that is {:?}",
        outcome.checked
    );
    outcome
}

/// Asserts that the resumed codec said what a fresh look said.
fn same_outcome(resumed: &Outcome, fresh: &Outcome) {
    assert_eq!(
        (resumed.checked, resumed.parsed, resumed.expects_continue, resumed.continue_parsed),
        (fresh.checked, fresh.parsed, fresh.expects_continue, fresh.continue_parsed),
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
