//! Arbitrary app responses (status, header names and values as arbitrary bytes, body) for
//! every source: the Lambda response JSON is always valid, of the source's shape, and the
//! body round-trips; the streaming prelude is valid JSON ended by exactly 8 NUL bytes, and the
//! chunked framing of a streamed body (error trailers included) decodes back; a compressed
//! body decodes back to the app's body.
#![no_main]

use arbitrary::Arbitrary;
use lambda_adapter::app::response::ResponseHead;
use lambda_adapter::event::{self, Source};
use lambda_adapter::reply::{chunked, compression, prelude};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Raw(Vec<u8>),
}

const KNOWN: &[&str] = &[
    "content-type",
    "content-encoding",
    "set-cookie",
    "x-lambda-http-content-encoding",
    "content-length",
    "transfer-encoding",
    "vary",
    "accept-ranges",
    "content-range",
    "x-custom",
    "connection",
    "keep-alive",
    "server",
];

#[derive(Arbitrary, Debug)]
enum Value {
    Known(u8),
    Raw(Vec<u8>),
}

const KNOWN_VALUES: &[&str] = &[
    "text/plain",
    "application/json; charset=utf-8",
    "image/png",
    "image/svg+xml",
    "TEXT/HTML",
    "application/problem+json",
    "text/event-stream",
    "application/grpc",
    "gzip",
    "text",
    "a=b; Path=/",
    "Accept-Encoding",
    "binary",
    " Binary",
    "close, x-custom",
];

const ACCEPT: &[&str] = &[
    "gzip",
    "br",
    "gzip;q=0.5, br;q=0.9",
    "identity",
    "*",
    "br;q=0, gzip",
    "x-gzip",
];

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    headers: Vec<(Name, Value)>,
    body: Vec<u8>,
    /// Index into ACCEPT; past its end, no accept-encoding.
    accept: u8,
    /// Where the streamed body is cut into chunks.
    cuts: Vec<u16>,
    /// A streamed response that fails after its head: (error type, message).
    failure: Option<(String, String)>,
}

fuzz_target!(|input: Input| {
    let headers = input
        .headers
        .into_iter()
        .map(|(name, value)| {
            let name = match name {
                Name::Known(i) => KNOWN[i as usize % KNOWN.len()].to_string(),
                Name::Raw(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            };
            let value = match value {
                Value::Known(i) => KNOWN_VALUES[i as usize % KNOWN_VALUES.len()]
                    .as_bytes()
                    .to_vec(),
                Value::Raw(bytes) => bytes,
            };
            (name, value)
        })
        .collect();
    let head = ResponseHead {
        status: input.status,
        headers,
        close: false,
    };
    for source in [
        Source::RestV1,
        Source::HttpV2,
        Source::Alb,
        Source::LatticeV2,
        Source::LatticeV1,
        Source::PassThrough,
    ] {
        let json = event::encode_response(source, &head, &input.body);
        fuzz_checks::check_response_json(source, &json, &head, &input.body);
    }

    // The headers that reach Lambda: no hop-by-hop one, none a `Connection` header names, none
    // listed to be removed; every other one kept.
    let mut stripped = head.clone();
    event::response_headers::strip(&mut stripped, &["server".to_string()]);
    for (name, _) in &stripped.headers {
        assert!(
            !event::response_headers::HOP_BY_HOP.contains(&name.as_str()) && name != "server",
            "{name} survived"
        );
    }
    let kept = |h: &ResponseHead| {
        h.headers
            .iter()
            .filter(|(n, _)| n == "x-custom" || n == "content-type")
            .count()
    };
    let named_custom = head.headers.iter().any(|(n, v)| {
        n == "connection"
            && String::from_utf8_lossy(v)
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("x-custom"))
    });
    if !named_custom {
        assert_eq!(kept(&stripped), kept(&head), "an end-to-end header was dropped");
    }

    // Streaming: the prelude, then the chunked body and its error trailers.
    fuzz_checks::check_prelude(&head, &prelude::prelude(&head));
    let mut wire = Vec::new();
    let mut at = 0;
    for cut in input.cuts.iter().take(32) {
        let end = (at + *cut as usize).min(input.body.len());
        chunked::push_chunk(&mut wire, &input.body[at..end]);
        at = end;
    }
    chunked::push_chunk(&mut wire, &input.body[at..]);
    let ending = match &input.failure {
        Some((error_type, message)) => chunked::Ending::Failed {
            error_type: error_type.clone(),
            message: message.clone(),
        },
        None => chunked::Ending::Complete,
    };
    chunked::push_last_chunk(&mut wire, &ending);
    let (body, trailers) = fuzz_checks::dechunk(&wire);
    assert_eq!(body, input.body, "the streamed body decodes back");
    assert_eq!(
        trailers.len(),
        if input.failure.is_some() { 2 } else { 0 },
        "{trailers:?}"
    );

    // Compression (buffered): a compressed body decodes back, with no stale length.
    let accept = ACCEPT.get(input.accept as usize).copied();
    let mut compressed_head = head.clone();
    let out = compression::compress(&mut compressed_head, input.body.clone(), accept);
    let codings = |h: &ResponseHead| {
        h.headers
            .iter()
            .filter(|(n, _)| n == "content-encoding")
            .count()
    };
    if codings(&compressed_head) > codings(&head) {
        let coding = compressed_head
            .headers
            .iter()
            .rev()
            .find(|(n, _)| n == "content-encoding");
        let coding = coding.map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(
            fuzz_checks::decode(&coding, &out),
            input.body,
            "the compressed body decodes back"
        );
        assert!(
            !compressed_head.has_header("content-length"),
            "a stale content-length"
        );
    } else {
        assert_eq!(out, input.body, "an uncompressed body is unchanged");
    }
    let json = event::encode_response(Source::HttpV2, &compressed_head, &out);
    fuzz_checks::check_response_json(Source::HttpV2, &json, &compressed_head, &out);
});
