//! Compressing a small text file once, as it enters the cache: which files are
//! worth it, and the gzip and brotli forms kept beside the plain bytes.
//!
//! Compression runs on the worker that admits the file, outside the cache's lock,
//! once per version of the file; requests are then answered from the bytes kept.
//! Both encoders are pure Rust (`flate2` on `miniz_oxide`, `brotli`), so the crate
//! still builds without a C toolchain; `zstd` has no such encoder, and is served
//! only from precompressed siblings.

use std::io::Write;

use http::header::HeaderValue;

use super::encoding::Coding;

/// Files shorter than this are not compressed: gzip's header and trailer alone
/// are 18 bytes, and the saving on a tiny file is not worth a second copy in
/// memory. A small icon already gains (the demo's 397-byte `favicon.svg` gzips to
/// about 210 bytes), so the bar is lower than the kilobyte often quoted.
pub(super) const MIN_SIZE: u64 = 256;

/// gzip level: zlib's default, close to the best ratio at a fraction of level 9's time.
const GZIP_LEVEL: u32 = 6;

/// brotli quality: well under gzip's size at a speed close to it; 11 is several
/// times smaller still only for far more CPU time, and a cache that evicts and
/// re-admits files pays it again each time.
const BROTLI_QUALITY: i32 = 5;

/// The largest brotli window: 4 MiB (2^22), ample for files held in memory.
const MAX_BROTLI_WINDOW: i32 = 22;

/// The smallest brotli window used: 2^17. The encoder's ring buffer is at least
/// that large whatever the window (it holds a 64 KiB block besides), and from 2^17
/// up, quality 5 keeps the one hasher it uses for general input.
const MIN_BROTLI_WINDOW: i32 = 17;

/// The brotli window (`lgwin`) for a file of `len` bytes: the smallest that holds
/// it whole, so that a back-reference reaches every earlier byte and a larger one
/// could compress no better.
///
/// Not the largest: the encoder allocates and zeroes a ring buffer of twice the
/// window (RFC 7932 §9.1: a window of 2^lgwin holds 2^lgwin - 16 bytes), 8 MiB for
/// 2^22, on every compression of a file over 4 KiB, however small; the allocator
/// keeps such blocks per thread, on top of the cache's own budget.
fn brotli_window(len: usize) -> i32 {
    len.checked_add(16)
        .and_then(usize::checked_next_power_of_two)
        .and_then(|window| i32::try_from(window.trailing_zeros()).ok())
        .map_or(MAX_BROTLI_WINDOW, |bits| {
            bits.clamp(MIN_BROTLI_WINDOW, MAX_BROTLI_WINDOW)
        })
}

/// Whether a file of this `Content-Type` is text worth compressing: `text/*`,
/// JavaScript, JSON, XML, SVG and WebAssembly, any `+json` or `+xml` type, the
/// fonts stored uncompressed (TrueType, OpenType, EOT) and `.ico` icons (often
/// uncompressed bitmaps). Other images, archives, WOFF fonts and media are already
/// compressed.
pub(super) fn is_compressible(content_type: &HeaderValue) -> bool {
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/javascript"
                | "application/x-javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "image/x-icon"
                // TrueType, OpenType and Embedded OpenType fonts are not compressed
                // inside (WOFF and WOFF2 are, and are left out).
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

/// `plain` compressed in `coding` (gzip or brotli), if that is smaller than
/// `plain`; `None` otherwise, and for any other coding.
pub(super) fn compress(coding: Coding, plain: &[u8]) -> Option<Vec<u8>> {
    // Data that is already gzip (an `.svgz` labelled as SVG) only grows.
    if plain.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    let mut compressed = match coding {
        Coding::Gzip => {
            // flate2's header carries no time and no name: the same file always
            // compresses to the same bytes, as its strong ETag promises.
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
            encoder.write_all(plain).ok()?;
            encoder.finish().ok()?
        }
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: brotli_window(plain.len()),
                size_hint: plain.len(),
                ..Default::default()
            };
            let mut compressed = Vec::new();
            brotli::BrotliCompress(&mut &plain[..], &mut compressed, &params).ok()?;
            compressed
        }
        Coding::Identity | Coding::Zstd => return None,
    };
    if compressed.len() >= plain.len() {
        return None;
    }
    // The encoders grew the vector by doubling, and `Bytes::from` keeps every byte
    // of its capacity for as long as the form is cached: up to twice the length
    // that the cache's budget counts.
    compressed.shrink_to_fit();
    Some(compressed)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn compressed_forms_decompress_to_the_file_and_are_stable() {
        let plain = "body { color: #333; margin: 0 auto; }\n".repeat(100).into_bytes();
        let gzip = compress(Coding::Gzip, &plain).expect("text compresses");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain);
        assert_eq!(compress(Coding::Gzip, &plain), Some(gzip));

        let brotli = compress(Coding::Brotli, &plain).expect("text compresses");
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&brotli[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain);
    }

    #[test]
    fn compressed_forms_hold_no_more_memory_than_the_budget_counts() {
        // The cache counts a form's length; it holds the vector's capacity.
        for len in [300, 6_000, 60_000] {
            let plain: Vec<u8> = (0..len).map(|i| b"let x = 1;\nconsole.log(x);\n"[i % 27]).collect();
            for coding in [Coding::Gzip, Coding::Brotli] {
                let compressed = compress(coding, &plain).expect("text compresses");
                assert_eq!(compressed.capacity(), compressed.len(), "{coding:?} of {len} bytes");
            }
        }
    }

    #[test]
    fn the_brotli_window_holds_the_whole_file_and_no_more() {
        for (len, lgwin) in [
            (0, 17),
            (300, 17),
            (64 * 1024, 17),
            ((1 << 17) - 16, 17),
            ((1 << 17) - 15, 18),
            (1 << 20, 21),
            (usize::MAX, 22),
        ] {
            assert_eq!(brotli_window(len), lgwin, "{len} bytes");
        }
    }

    #[test]
    fn what_does_not_shrink_is_not_kept() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                // xorshift64: bytes with no pattern a compressor could use.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        assert_eq!(compress(Coding::Gzip, &noise), None);
        assert_eq!(compress(Coding::Brotli, &noise), None);
        let already_gzip = compress(Coding::Gzip, &b"<svg/>".repeat(500)).unwrap();
        assert_eq!(compress(Coding::Brotli, &already_gzip), None);
        assert_eq!(compress(Coding::Zstd, &b"a".repeat(5000)), None);
    }

    #[test]
    fn compressible_types() {
        for (content_type, expected) in [
            ("text/html; charset=utf-8", true),
            ("text/css; charset=utf-8", true),
            ("application/javascript; charset=utf-8", true),
            ("application/json", true),
            ("image/svg+xml; charset=utf-8", true),
            ("application/manifest+json", true),
            ("application/wasm", true),
            ("image/png", false),
            ("image/jpeg", false),
            ("application/gzip", false),
            ("application/octet-stream", false),
            ("font/woff2", false),
            ("font/woff", false),
            ("font/ttf", true),
            ("font/otf", true),
            ("application/vnd.ms-fontobject", true),
        ] {
            assert_eq!(
                is_compressible(&HeaderValue::from_static(content_type)),
                expected,
                "{content_type}"
            );
        }
    }
}
