//! Arbitrary app responses (status, header names and values as arbitrary bytes, body) for
//! every source: the Lambda response JSON is always valid, of the source's shape, and the
//! body round-trips.
#![no_main]

use arbitrary::Arbitrary;
use lambda_adapter::app_response::ResponseHead;
use lambda_adapter::event::{self, Source};
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
    "x-custom",
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
    "TEXT/HTML",
    "application/problem+json",
    "gzip",
    "text",
    "a=b; Path=/",
];

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    headers: Vec<(Name, Value)>,
    body: Vec<u8>,
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
        Source::PassThrough,
    ] {
        let json = event::encode_response(source, &head, &input.body);
        fuzz_checks::check_response_json(source, &json, &head, &input.body);
    }
});
