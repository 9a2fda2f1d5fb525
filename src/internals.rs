//! The real codec items, re-exported for the criterion benchmarks in `benches/`, the property
//! tests in `tests/codec_properties.rs` and the fuzz target in `fuzz/` (httparse's
//! `_benchable` module is the model).
//!
//! Hidden from the docs and not part of the API: benchmarks, integration tests and fuzz
//! targets are separate crates and can only call public items. [`next`] is the one request
//! entry point both connection models call after every read, with the [`Progress`] they keep
//! beside the buffer; [`encode`] writes a response head.

use std::sync::OnceLock;

pub use crate::h1::error::{Limits, ParseError};
pub use crate::h1::persistence::{Persistence, Why};
pub use crate::h1::request::{next, Next, Progress};
pub use crate::h1::response::{encode, Invalid, Payload};

use crate::config::Config;

/// The limits a server enforces by default (the server's config is crate-private), computed
/// once: a default config asks the OS for the CPU count.
pub fn default_limits() -> Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    *LIMITS.get_or_init(|| Config::default().limits())
}
