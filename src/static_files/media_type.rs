//! What a file is, from its name: its `Content-Type`, and the `Content-Encoding` of
//! a file stored already encoded (`.svgz`).
//!
//! A short table of the web's common types comes first, where `mime_guess` is out of
//! date or wrong for a web server (`.woff` as `application/font-woff`, `.ts` as
//! TypeScript-era DLNA video, `.rpm` as RealAudio); `mime_guess` answers the long tail.

use std::path::Path;

use http::header::HeaderValue;

use super::conditional::header_value;

/// The `Content-Type` of a file, and its `Content-Encoding` if it is stored encoded.
#[derive(Clone, Debug)]
pub(super) struct MediaType {
    pub(super) content_type: HeaderValue,
    /// A content coding the file itself is stored in (`.svgz` is a gzipped SVG): a
    /// property of the file, sent whatever the client's `Accept-Encoding`, as the
    /// file's bytes are what they are.
    pub(super) content_encoding: Option<HeaderValue>,
}

/// Extensions whose type is taken from here rather than from `mime_guess`, with the
/// content coding of those stored encoded. Compared case-insensitively.
const OVERRIDES: &[(&str, &str, Option<&str>)] = &[
    // RFC 9239 §6: text/javascript is the one type for JavaScript, scripts and
    // modules alike; application/javascript is obsolete.
    ("js", "text/javascript", None),
    ("mjs", "text/javascript", None),
    ("cjs", "text/javascript", None),
    // A source map is JSON (Source Map spec, "Linking and fetching").
    ("map", "application/json", None),
    // RFC 7303 §9.1; text/xml is its alias, but a text/ type would get a charset
    // that overrides the document's own encoding declaration.
    ("xml", "application/xml", None),
    // RFC 8081: the font/ top-level type.
    ("woff", "font/woff", None),
    ("woff2", "font/woff2", None),
    ("otf", "font/otf", None),
    ("ttf", "font/ttf", None),
    // RFC 6381 §3.1 (IANA audio/mp4); mime_guess says the unregistered audio/m4a.
    ("m4a", "audio/mp4", None),
    // An HLS segment is an MPEG-2 transport stream (RFC 8216 §3.2, RFC 3555), not
    // TypeScript: browsers and players need video/mp2t.
    ("ts", "video/mp2t", None),
    // RFC 8216 §4; nginx's too.
    ("m3u8", "application/vnd.apple.mpegurl", None),
    // nginx's mime.types; mime_guess says RealAudio.
    ("rpm", "application/x-redhat-package-manager", None),
    // A gzipped tarball is gzip (RFC 6713).
    ("tgz", "application/gzip", None),
    // A gzipped SVG (SVG 1.1 §1.2): the type of what it decodes to, and its coding.
    ("svgz", "image/svg+xml", Some("gzip")),
];

/// The media type of a file named `name`: `application/octet-stream` when the
/// extension is unknown.
///
/// `text/*` types are labelled `charset=utf-8`: their registrations define a
/// `charset` parameter whose absence means US-ASCII (RFC 2046 §4.1.2) or, in a
/// browser, a guess (often windows-1252), and UTF-8 is what the web writes. Other
/// types are not: JSON has no charset parameter and is always UTF-8 (RFC 8259 §11),
/// an XML or SVG document declares its own encoding and defaults to UTF-8 (XML 1.0
/// §4.3.3), which a header label would override (RFC 7303 §8), and binary types
/// have no charset at all. `text/xml`, the one text type that is XML, follows XML.
pub(super) fn media_type(name: &Path) -> MediaType {
    let extension = name.extension().and_then(|extension| extension.to_str());
    let overridden = extension.and_then(|extension| {
        OVERRIDES
            .iter()
            .find(|(known, _, _)| known.eq_ignore_ascii_case(extension))
    });
    let (mime, encoding) = match overridden {
        Some(&(_, mime, encoding)) => (mime, encoding),
        None => match mime_guess::from_path(name).first_raw() {
            Some(mime) => (mime, None),
            None => ("application/octet-stream", None),
        },
    };
    let content_type = if mime.starts_with("text/") && mime != "text/xml" {
        header_value(format!("{mime}; charset=utf-8"))
    } else {
        HeaderValue::from_static(mime)
    };
    MediaType {
        content_type,
        content_encoding: encoding.map(HeaderValue::from_static),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most common extensions on the web and the type each should get.
    /// Sources: the IANA media types registry (IANA) and the RFC that registers a
    /// type; WHATWG (MIME Sniffing, HTML) where browsers settled on another name;
    /// nginx's mime.types where neither speaks.
    #[test]
    fn common_web_extensions() {
        let utf8 = "; charset=utf-8";
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("index.html", "text/html; charset=utf-8", None),   // IANA; WHATWG HTML
            ("page.htm", "text/html; charset=utf-8", None),     // IANA; nginx
            ("site.css", "text/css; charset=utf-8", None),      // RFC 2318
            ("app.js", "text/javascript; charset=utf-8", None), // RFC 9239
            ("module.mjs", "text/javascript; charset=utf-8", None), // RFC 9239 §6
            ("common.cjs", "text/javascript; charset=utf-8", None), // RFC 9239
            ("data.json", "application/json", None),            // RFC 8259 §11: no charset
            ("app.js.map", "application/json", None),           // Source Map spec
            ("feed.xml", "application/xml", None),              // RFC 7303 §9.1
            ("notes.txt", "text/plain; charset=utf-8", None),   // RFC 2046
            ("table.csv", "text/csv; charset=utf-8", None),     // RFC 4180
            ("README.md", "text/markdown; charset=utf-8", None), // RFC 7763
            ("logo.svg", "image/svg+xml", None),                // IANA (SVG 1.1 App. P)
            ("logo.svgz", "image/svg+xml", Some("gzip")),       // SVG 1.1 §1.2
            ("photo.png", "image/png", None),                   // IANA
            ("photo.jpg", "image/jpeg", None),                  // IANA
            ("photo.jpeg", "image/jpeg", None),                 // IANA
            ("anim.gif", "image/gif", None),                    // IANA
            ("photo.webp", "image/webp", None),                 // RFC 9649
            ("photo.avif", "image/avif", None),                 // IANA (AOM)
            ("anim.apng", "image/apng", None),                  // WHATWG MIME Sniffing
            ("favicon.ico", "image/x-icon", None),              // WHATWG MIME Sniffing; nginx
            ("old.bmp", "image/bmp", None),                     // WHATWG MIME Sniffing
            ("font.woff", "font/woff", None),                   // RFC 8081
            ("font.woff2", "font/woff2", None),                 // RFC 8081
            ("font.ttf", "font/ttf", None),                     // RFC 8081
            ("font.otf", "font/otf", None),                     // RFC 8081
            ("font.eot", "application/vnd.ms-fontobject", None), // IANA
            ("clip.mp4", "video/mp4", None),                    // RFC 4337
            ("clip.webm", "video/webm", None),                  // IANA (WebM project)
            ("sound.ogg", "audio/ogg", None),                   // RFC 5334
            ("clip.ogv", "video/ogg", None),                    // RFC 5334
            ("song.mp3", "audio/mpeg", None),                   // RFC 3003
            ("song.m4a", "audio/mp4", None),                    // RFC 4337
            ("sound.wav", "audio/wav", None),                   // WHATWG MIME Sniffing
            ("song.flac", "audio/flac", None),                  // IANA
            ("segment.ts", "video/mp2t", None),                 // RFC 3555; RFC 8216 §3.2
            ("playlist.m3u8", "application/vnd.apple.mpegurl", None), // RFC 8216 §4
            ("captions.vtt", "text/vtt; charset=utf-8", None),  // IANA (WebVTT)
            ("doc.pdf", "application/pdf", None),               // RFC 8118
            ("archive.zip", "application/zip", None),           // IANA
            ("archive.gz", "application/gzip", None),           // RFC 6713
            ("archive.tgz", "application/gzip", None),          // RFC 6713
            ("module.wasm", "application/wasm", None),          // IANA (WebAssembly)
            ("site.webmanifest", "application/manifest+json", None), // IANA (W3C Manifest)
            ("package.rpm", "application/x-redhat-package-manager", None), // nginx
            ("page.xhtml", "application/xhtml+xml", None),      // RFC 3236
            ("feed.atom", "application/atom+xml", None),        // RFC 4287
            ("calendar.ics", "text/calendar; charset=utf-8", None), // RFC 5545
            ("README", "application/octet-stream", None),       // RFC 2046 §4.5.1
            ("payload.nioblob", "application/octet-stream", None), // RFC 2046 §4.5.1
            // Extensions compare case-insensitively.
            ("SHOUT.JS", "text/javascript; charset=utf-8", None),
            ("FONT.WOFF", "font/woff", None),
            ("LOGO.SVGZ", "image/svg+xml", Some("gzip")),
        ];
        for &(name, content_type, encoding) in cases {
            let media_type = media_type(Path::new(name));
            assert_eq!(media_type.content_type, content_type, "{name}");
            assert_eq!(
                media_type
                    .content_encoding
                    .as_ref()
                    .map(|value| value.to_str().unwrap()),
                encoding,
                "{name}"
            );
            let labelled = content_type.ends_with(utf8);
            assert_eq!(
                labelled,
                content_type.starts_with("text/"),
                "{name}: only text/ types get a charset"
            );
        }
    }
}
