//! Response compression for buffered responses (`AWS_LWA_ENABLE_COMPRESSION=true`).
//!
//! The rules are upstream's (its tower-http `CompressionLayer` defaults, upstream §4.4): the
//! encoding is picked from the event's `Accept-Encoding` (gzip or brotli; deflate, zstd and
//! `*` are not offered), and a response is compressed only when it is at least 32 bytes, not
//! already encoded, not a range, and not gRPC, an image (except SVG) or an event stream.
//!
//! gzip is flate2 at level 6 with upstream's header, and brotli is the `brotli` crate at
//! quality 4: the same bytes as upstream for the same body (DECISIONS 27), so a cache or a test
//! that compares compressed bodies sees no change after the swap.

use std::io::Write;

use crate::app::AppRequest;
use crate::app::response::ResponseHead;

/// Bodies smaller than this are not worth compressing.
pub const MIN_SIZE: usize = 32;
const GZIP_LEVEL: u32 = 6;
/// tower-http lowers brotli from its maximum (11, far too slow on the fly) to 4.
const BROTLI_QUALITY: i32 = 4;

/// A content coding the adapter can apply, ordered from least to most preferred: on equal
/// q-values the later one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `content-encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }
}

/// The event's `accept-encoding` values joined with `,`, kept before the request is sent.
/// Values that are not visible ASCII are skipped, as upstream ignores them.
pub fn accept_encoding(request: &AppRequest) -> Option<String> {
    let values: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, value)| name == "accept-encoding" && visible_ascii(value.as_bytes()))
        .map(|(_, value)| value.as_str())
        .collect();
    if values.is_empty() {
        None
    } else {
        Some(values.join(","))
    }
}

/// The encoding to use for an `Accept-Encoding` value: the highest q-value wins, and on a tie
/// the preferred coding (br over gzip over identity). Unknown codings, `*`, q=0 and tokens with
/// a malformed q-value are ignored; with nothing acceptable the answer is identity.
pub fn choose(accept_encoding: Option<&str>) -> Encoding {
    let Some(value) = accept_encoding else {
        return Encoding::Identity;
    };
    value
        .split(',')
        .filter_map(|token| {
            let (name, params) = match token.split_once(';') {
                Some((name, params)) => (name, Some(params)),
                None => (token, None),
            };
            let encoding = parse_coding(name.trim())?;
            let q = match params {
                Some(params) => parse_q(params.trim())?,
                None => 1000,
            };
            Some((q, encoding))
        })
        .filter(|&(q, _)| q > 0)
        .max()
        .map_or(Encoding::Identity, |(_, encoding)| encoding)
}

fn parse_coding(name: &str) -> Option<Encoding> {
    if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
        Some(Encoding::Gzip)
    } else if name.eq_ignore_ascii_case("br") {
        Some(Encoding::Brotli)
    } else if name.eq_ignore_ascii_case("identity") {
        Some(Encoding::Identity)
    } else {
        None
    }
}

/// A q-value (`q=0`, `q=1`, `q=0.5`, `q=0.125`, at most three decimals, at most 1) in
/// thousandths. The parameter must be exactly the q-value: `q=0.5;x=y` is rejected, as
/// upstream does.
fn parse_q(param: &str) -> Option<u16> {
    let rest = param.strip_prefix(['q', 'Q'])?.strip_prefix('=')?;
    let mut chars = rest.chars();
    let mut value: u16 = match chars.next()? {
        '0' => 0,
        '1' => 1000,
        _ => return None,
    };
    match chars.next() {
        None => return Some(value),
        Some('.') => {}
        Some(_) => return None,
    }
    let mut factor = 100;
    for c in chars {
        let digit = c.to_digit(10)? as u16;
        if factor == 0 {
            return None;
        }
        value += factor * digit;
        factor /= 10;
    }
    (value <= 1000).then_some(value)
}

/// Whether a response qualifies for compression at all (before looking at what the client
/// accepts). `body_len` is the real body size: the body is already read whole. (Upstream
/// decides before reading, so it compresses a chunked body of any size, even 2 bytes, into a
/// bigger one; knowing the size, the 32-byte minimum applies to every body.)
pub fn qualifies(head: &ResponseHead, body_len: usize) -> bool {
    if head.has_header("content-encoding")
        || head.has_header("content-range")
        || body_len < MIN_SIZE
    {
        return false;
    }
    // Compared as upstream does: the first value, case-sensitively, "" when not visible ASCII.
    let content_type = head
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .and_then(|(_, value)| {
            std::str::from_utf8(value)
                .ok()
                .filter(|v| visible_ascii(v.as_bytes()))
        })
        .unwrap_or_default();
    let image = content_type.starts_with("image/") && content_type != "image/svg+xml";
    !(content_type.starts_with("application/grpc")
        || image
        || content_type.starts_with("text/event-stream"))
}

/// Compresses `body` when the response qualifies and the client accepts gzip or br; returns
/// the (possibly new) body and adjusts the headers: `vary: accept-encoding` whenever the
/// response qualifies (even if the client takes identity, as upstream), and on compression
/// `content-encoding` set, `content-length` and `accept-ranges` removed.
pub fn compress(head: &mut ResponseHead, body: Vec<u8>, accept_encoding: Option<&str>) -> Vec<u8> {
    if !qualifies(head, body.len()) {
        return body;
    }
    let varies = head
        .headers
        .iter()
        .any(|(name, value)| name == "vary" && contains_ignore_case(value, b"accept-encoding"));
    if !varies {
        head.headers
            .push(("vary".to_string(), b"accept-encoding".to_vec()));
    }
    let encoding = choose(accept_encoding);
    let compressed = match encoding {
        Encoding::Identity => return body,
        Encoding::Gzip => gzip(&body),
        Encoding::Brotli => brotli(&body),
    };
    match compressed {
        Ok(compressed) => {
            head.remove_header_swapping("accept-ranges");
            head.remove_header_swapping("content-length");
            head.headers.push((
                "content-encoding".to_string(),
                encoding.token().as_bytes().to_vec(),
            ));
            compressed
        }
        Err(e) => {
            log::warn!(
                "could not {} the response, sending it uncompressed: {e}",
                encoding.token()
            );
            body
        }
    }
}

/// gzip: flate2 level 6, no file name, mtime 0, OS byte 255 (upstream's header exactly).
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 2 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// Brotli: the `brotli` crate at quality 4 with its other defaults (window 22), as upstream
/// configures it, so the bytes are upstream's (DECISIONS 27).
pub fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(body.len() / 2 + 64);
    brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
    Ok(out)
}

fn visible_ascii(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn head(headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::for_test(200, headers)
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn unbrotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(data, 4096)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    const TEXT: &[u8] =
        b"Hello, compressed world! Hello, compressed world! Hello, compressed world!";

    #[test]
    fn picks_by_q_value_then_preference() {
        let cases = [
            (None, Encoding::Identity),
            (Some(""), Encoding::Identity),
            (Some("gzip"), Encoding::Gzip),
            (Some("x-gzip"), Encoding::Gzip),
            (Some("GZIP"), Encoding::Gzip),
            (Some("br"), Encoding::Brotli),
            (Some("gzip, br"), Encoding::Brotli),
            (Some("br, gzip"), Encoding::Brotli),
            (Some("gzip, deflate, br, zstd"), Encoding::Brotli),
            (Some("br;q=0.5, gzip"), Encoding::Gzip),
            (Some("gzip;q=0.5,br"), Encoding::Brotli),
            (Some("br;q=0.999, gzip;q=1.0"), Encoding::Gzip),
            (Some("br ; q=0.5 , gzip ; q=0.4"), Encoding::Brotli),
            (Some("gzip;Q=0.2"), Encoding::Gzip),
            (Some("identity, gzip;q=0.5"), Encoding::Identity),
            (Some("identity;q=0.5, gzip;q=0.5"), Encoding::Gzip),
            // Ignored codings.
            (Some("deflate"), Encoding::Identity),
            (Some("zstd"), Encoding::Identity),
            (Some("*"), Encoding::Identity),
            (Some("*;q=1, gzip;q=0.1"), Encoding::Gzip),
            // q=0 refuses a coding.
            (Some("br;q=0, gzip"), Encoding::Gzip),
            (Some("gzip;q=0, br;q=0.000"), Encoding::Identity),
            // Malformed q-values drop the token.
            (Some("br;q=1.001, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;q=2, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;q=0.1234, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;q=.5, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;q=0.5;level=1, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;q=abc, gzip;q=0.1"), Encoding::Gzip),
            (Some("br;x=1"), Encoding::Identity),
            // Edge spellings that are valid.
            (Some("br;q=1., gzip;q=0.9"), Encoding::Brotli),
            (Some("br;q=0.001, gzip;q=0"), Encoding::Brotli),
        ];
        for (accept, expected) in cases {
            assert_eq!(choose(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn every_accept_encoding_value_counts() {
        let request = AppRequest {
            headers: vec![
                ("accept-encoding".into(), "gzip;q=0.5".into()),
                ("x-other".into(), "br".into()),
                ("accept-encoding".into(), "br".into()),
            ],
            ..Default::default()
        };
        let joined = accept_encoding(&request);
        assert_eq!(joined.as_deref(), Some("gzip;q=0.5,br"));
        assert_eq!(choose(joined.as_deref()), Encoding::Brotli);
        assert_eq!(accept_encoding(&AppRequest::default()), None);
    }

    #[test]
    fn which_responses_qualify() {
        let yes = [
            "text/plain",
            "text/html; charset=utf-8",
            "application/json",
            "application/octet-stream",
            "image/svg+xml",
            "Image/PNG", // compared case-sensitively, as upstream
        ];
        for ct in yes {
            assert!(qualifies(&head(&[("content-type", ct)]), 32), "{ct}");
        }
        let no = [
            "image/png",
            "image/svg+xml; charset=utf-8",
            "application/grpc",
            "application/grpc+proto",
            "text/event-stream",
            "text/event-stream; charset=utf-8",
        ];
        for ct in no {
            assert!(!qualifies(&head(&[("content-type", ct)]), 1000), "{ct}");
        }
        assert!(qualifies(&head(&[]), 32), "no content type");
        assert!(
            !qualifies(&head(&[("content-type", "text/plain")]), 31),
            "31 bytes is too small"
        );
        assert!(
            !qualifies(&head(&[("content-encoding", "gzip")]), 1000),
            "already encoded"
        );
        assert!(
            !qualifies(&head(&[("content-range", "bytes 0-99/200")]), 1000),
            "a range"
        );
    }

    #[test]
    fn gzip_round_trip_and_headers() {
        let mut h = head(&[
            ("content-type", "text/plain"),
            ("content-length", &TEXT.len().to_string()),
            ("x-a", "1"),
            ("accept-ranges", "bytes"),
            ("x-b", "2"),
        ]);
        let out = compress(&mut h, TEXT.to_vec(), Some("gzip, deflate"));
        assert_eq!(gunzip(&out), TEXT);
        assert_eq!(
            &out[..10],
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
            "upstream's gzip header"
        );
        assert_eq!(h.header("content-encoding"), Some("gzip"));
        assert_eq!(h.header("vary"), Some("accept-encoding"));
        assert!(!h.has_header("content-length") && !h.has_header("accept-ranges"));
        // Upstream's header map fills a removed name's slot with the last name.
        assert_eq!(
            h.header_names(),
            ["content-type", "x-b", "x-a", "vary", "content-encoding"]
        );
    }

    #[test]
    fn brotli_round_trip() {
        let mut h = head(&[("content-type", "application/json")]);
        let body: Vec<u8> = TEXT.iter().copied().cycle().take(100_000).collect();
        let out = compress(&mut h, body.clone(), Some("gzip, br"));
        assert_eq!(h.header("content-encoding"), Some("br"));
        assert!(
            out.len() < body.len() / 10,
            "compressed to {} bytes",
            out.len()
        );
        assert_eq!(unbrotli(&out), body);
    }

    #[test]
    fn boundary_of_32_bytes() {
        let mut h = head(&[("content-type", "text/plain")]);
        let out = compress(&mut h, vec![b'a'; 31], Some("gzip"));
        assert_eq!(out, vec![b'a'; 31]);
        assert!(h.headers.len() == 1, "no vary either: {:?}", h.headers);

        let mut h = head(&[("content-type", "text/plain")]);
        let out = compress(&mut h, vec![b'a'; 32], Some("gzip"));
        assert_eq!(gunzip(&out), vec![b'a'; 32]);
        assert_eq!(h.header("content-encoding"), Some("gzip"));
    }

    #[test]
    fn identity_still_varies() {
        let mut h = head(&[("content-type", "text/plain"), ("content-length", "74")]);
        let out = compress(&mut h, TEXT.to_vec(), None);
        assert_eq!(out, TEXT);
        assert_eq!(h.header("vary"), Some("accept-encoding"));
        assert_eq!(
            h.header("content-length"),
            Some("74"),
            "identity keeps the length"
        );
        assert!(!h.has_header("content-encoding"));
    }

    #[test]
    fn existing_vary_is_respected() {
        let mut h = head(&[("vary", "Origin, Accept-Encoding")]);
        compress(&mut h, TEXT.to_vec(), Some("br"));
        let varies: Vec<_> = h.headers.iter().filter(|(n, _)| n == "vary").collect();
        assert_eq!(varies.len(), 1);

        let mut h = head(&[("vary", "Origin")]);
        compress(&mut h, TEXT.to_vec(), Some("br"));
        let varies: Vec<&[u8]> = h
            .headers
            .iter()
            .filter(|(n, _)| n == "vary")
            .map(|(_, v)| v.as_slice())
            .collect();
        assert_eq!(varies, [&b"Origin"[..], b"accept-encoding"]);
    }

    #[test]
    fn skipped_responses_are_untouched() {
        for headers in [
            vec![("content-type", "image/png")],
            vec![("content-type", "text/event-stream")],
            vec![("content-type", "text/plain"), ("content-encoding", "br")],
        ] {
            let mut h = head(&headers);
            let before = h.clone();
            let out = compress(&mut h, TEXT.to_vec(), Some("gzip"));
            assert_eq!(out, TEXT);
            assert_eq!(h, before);
        }
    }
}
