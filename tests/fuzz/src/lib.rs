//! Invariants the fuzz targets check on every input (shared so each target asserts the same
//! rules). A broken invariant is an `assert!`, which libFuzzer reports as a crash.
//!
//! - Requests: the method is a token, the target has no space or control byte, header names
//!   are tokens, values hold no control byte but HTAB, no framing header comes from the event
//!   (DECISIONS 9), exactly one `host`, and the wire form parses back (httparse) as exactly
//!   one complete request whose body is exactly `content-length` bytes.
//! - Responses: valid JSON of the source's shape (VPC Lattice's included), status as given, a
//!   base64 body decodes, and the body round-trips.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_adapter::app::AppRequest;
use lambda_adapter::app::response::ResponseHead;
use lambda_adapter::config::{Config, is_token_byte};
use lambda_adapter::event::{self, Rejected, Source};
use lambda_adapter::lambda::invocation::Invocation;
use serde_json::Value;

/// Configurations the events are converted under: the defaults, and one with every request
/// option that rewrites a request (base path, authorization source, port 80, tenant, event
/// fields as headers).
pub fn config(variant: usize) -> &'static Config {
    static CONFIGS: OnceLock<[Config; 2]> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        let base = |name: &str| -> Option<String> {
            match name {
                "AWS_LAMBDA_RUNTIME_API" => Some("127.0.0.1:9001".into()),
                "AWS_LAMBDA_FUNCTION_NAME" => Some("fuzz".into()),
                "AWS_LAMBDA_FUNCTION_VERSION" => Some("1".into()),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some("512".into()),
                _ => None,
            }
        };
        let options = move |name: &str| -> Option<String> {
            match name {
                "AWS_LWA_REMOVE_BASE_PATH" => Some("/api".into()),
                "AWS_LWA_AUTHORIZATION_SOURCE" => Some("x-auth".into()),
                "AWS_LWA_PORT" => Some("80".into()),
                "AWS_LWA_PASS_THROUGH_PATH" => Some("events/in".into()),
                "AWS_LWA_EVENT_FIELDS_AS_HEADERS" => Some("true".into()),
                _ => base(name),
            }
        };
        [
            Config::from_lookup(base).expect("the default configuration is valid"),
            Config::from_lookup(options).expect("the options configuration is valid"),
        ]
    });
    &configs[variant % configs.len()]
}

/// An invocation as `/next` would hand it out; variant 1 carries a tenant id and context JSON.
pub fn invocation(event: &[u8], variant: usize) -> Invocation {
    let far = (lambda_adapter::lambda::invocation::now_ms() + 60_000).to_string();
    let get = |name: &str| -> Option<&str> {
        match name {
            "lambda-runtime-deadline-ms" => Some(far.as_str()),
            "lambda-runtime-invoked-function-arn" => {
                Some("arn:aws:lambda:us-east-1:123456789012:function:fuzz")
            }
            "lambda-runtime-trace-id" => Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            "lambda-runtime-client-context" if variant % 2 == 1 => Some(r#"{"custom":{"k":"v"}}"#),
            "lambda-runtime-cognito-identity" if variant % 2 == 1 => {
                Some(r#"{"cognitoIdentityId":"x"}"#)
            }
            "lambda-runtime-aws-tenant-id" if variant % 2 == 1 => Some("tenant-1"),
            _ => None,
        }
    };
    // `get` borrows `far`, so build while it lives.
    let invocation = Invocation::from_headers(
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into(),
        get,
        event.to_vec(),
    );
    invocation
}

/// Headers an event must never set on the app's request (DECISIONS 9).
const FRAMING: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

fn is_forbidden_value_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Checks an event end to end: conversion under `variant`'s configuration, then the request
/// or the 400 response. Returns the source it was converted as (`None`: not JSON).
pub fn check_event(event: &[u8], variant: usize) -> Option<Source> {
    let config = config(variant);
    let invocation = invocation(event, variant);
    // (`from_slice` into IgnoredAny skips strings without checking their UTF-8, so check it.)
    let valid_json = std::str::from_utf8(event)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    match event::to_request(event, config, &invocation) {
        Ok((source, request)) => {
            assert!(valid_json, "a request from an event that is not JSON");
            check_request(&request);
            if source == Source::PassThrough {
                assert_eq!(request.method, "POST");
                assert_eq!(request.target, config.pass_through_path);
                assert_eq!(
                    request.body, event,
                    "pass-through posts the event byte for byte"
                );
            }
            let head = ResponseHead {
                status: 200,
                headers: vec![("content-type".into(), b"application/json".to_vec())],
                close: false,
            };
            let json = event::encode_response(source, &head, b"{\"ok\":true}");
            check_response_json(source, &json, &head, b"{\"ok\":true}");
            Some(source)
        }
        Err(Rejected::BadRequest { source, message }) => {
            assert!(valid_json, "a 400 for an event that is not JSON");
            assert!(
                source != Source::PassThrough,
                "pass-through events are never malformed"
            );
            let text = format!("Bad Request: {message}");
            let json = event::adapter_response(source, 400, &text);
            let head = ResponseHead {
                status: 400,
                headers: vec![("content-type".into(), b"text/plain; charset=utf-8".to_vec())],
                close: false,
            };
            check_response_json(source, &json, &head, text.as_bytes());
            Some(source)
        }
        Err(Rejected::NotJson(message)) => {
            assert!(!valid_json, "valid JSON rejected as not JSON: {message}");
            None
        }
    }
}

/// The request rules and the wire round trip.
pub fn check_request(request: &AppRequest) {
    assert!(
        !request.method.is_empty() && request.method.bytes().all(is_token_byte),
        "method {:?}",
        request.method
    );
    assert!(
        request.target.starts_with('/'),
        "target {:?}",
        request.target
    );
    assert!(
        request.target.bytes().all(|b| (0x21..0x7f).contains(&b)),
        "target {:?}",
        request.target
    );
    let mut hosts = 0;
    for (name, value) in &request.headers {
        assert!(
            !name.is_empty() && name.bytes().all(is_token_byte),
            "header name {name:?}"
        );
        assert!(
            !value.bytes().any(is_forbidden_value_byte),
            "header {name:?} value {value:?}"
        );
        let lower = name.to_ascii_lowercase();
        assert!(
            !FRAMING.contains(&lower.as_str()),
            "framing header {name:?} from the event"
        );
        if lower == "host" {
            hosts += 1;
        }
    }
    assert_eq!(hosts, 1, "exactly one host header: {:?}", request.headers);

    let wire = request.to_wire();
    let mut slots = vec![httparse::EMPTY_HEADER; request.headers.len() + 2];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(&wire) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "the request does not parse back: {other:?}\n{}",
            String::from_utf8_lossy(&wire)
        ),
    };
    assert_eq!(parsed.method, Some(request.method.as_str()));
    assert_eq!(parsed.path, Some(request.target.as_str()));
    assert_eq!(parsed.version, Some(1));
    assert_eq!(
        parsed.headers.len(),
        request.headers.len() + 1,
        "headers added or lost on the wire"
    );
    for (h, (name, value)) in parsed.headers.iter().zip(&request.headers) {
        assert_eq!(h.name, name);
        assert_eq!(
            h.value,
            value.trim_matches([' ', '\t']).as_bytes(),
            "header {name:?}"
        );
    }
    let lengths: Vec<&httparse::Header> = parsed
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
        .collect();
    assert_eq!(lengths.len(), 1, "one content-length");
    assert_eq!(lengths[0].value, request.body.len().to_string().as_bytes());
    assert_eq!(
        &wire[head_len..],
        request.body.as_slice(),
        "the bytes after the head are exactly the body"
    );
}

fn keys(object: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn assert_string_map(value: &Value, what: &str) {
    let map = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for (k, v) in map {
        assert!(v.is_string(), "{what}.{k} is not a string: {v}");
    }
}

fn assert_list_map(value: &Value, what: &str) {
    let map = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for (k, v) in map {
        let list = v
            .as_array()
            .unwrap_or_else(|| panic!("{what}.{k} is not an array: {v}"));
        assert!(
            list.iter().all(Value::is_string),
            "{what}.{k} holds a non-string: {v}"
        );
    }
}

/// Checks a buffered response document for `source` against the head and body it encodes
/// (less the `binary` marker, which is obeyed and never passed on).
pub fn check_response_json(source: Source, json: &[u8], head: &ResponseHead, body: &[u8]) {
    let mut unmarked = head.clone();
    lambda_adapter::event::response_headers::remove_binary_marker(&mut unmarked);
    let head = &unmarked;
    if source == Source::PassThrough {
        // Any JSON text: valid by the grammar (serde_json's Value refuses numbers out of f64
        // range such as 1e999, which are still JSON and are posted as the app sent them).
        let text = std::str::from_utf8(json).expect("the result is UTF-8");
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "the result is not JSON: {text}"
        );
        let body_text = std::str::from_utf8(body)
            .ok()
            .filter(|t| !t.trim().is_empty());
        match body_text {
            Some(t) if serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() => {
                assert_eq!(json, body)
            }
            Some(t) => assert_eq!(
                serde_json::from_str::<Value>(text).ok(),
                Some(Value::String(t.to_string()))
            ),
            None => assert_eq!(json, b"null"),
        }
        return;
    }
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => panic!(
            "response JSON does not parse ({e}): {}",
            String::from_utf8_lossy(json)
        ),
    };
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("response is not an object: {value}"));
    let want: &[&str] = match source {
        Source::HttpV2 => &[
            "body",
            "cookies",
            "headers",
            "isBase64Encoded",
            "multiValueHeaders",
            "statusCode",
        ],
        Source::RestV1 => &[
            "body",
            "headers",
            "isBase64Encoded",
            "multiValueHeaders",
            "statusCode",
        ],
        Source::Alb => &[
            "body",
            "headers",
            "isBase64Encoded",
            "multiValueHeaders",
            "statusCode",
            "statusDescription",
        ],
        Source::LatticeV2 | Source::LatticeV1 => &["body", "headers", "isBase64Encoded", "statusCode"],
        Source::PassThrough => &[],
    };
    assert_eq!(keys(object), want, "keys of {value}");
    assert_eq!(
        object["statusCode"].as_u64(),
        Some(u64::from(head.status)),
        "statusCode"
    );
    if matches!(source, Source::LatticeV2 | Source::LatticeV1) {
        // One string per name; several `set-cookie` values as a list, every one of them.
        let headers = object["headers"].as_object().expect("headers is an object");
        for (name, value) in headers {
            match value.as_array() {
                Some(list) => {
                    assert_eq!(name, "set-cookie", "only set-cookie is a list: {value}");
                    assert!(list.len() > 1 && list.iter().all(Value::is_string), "{value}");
                }
                None => assert!(value.is_string(), "headers.{name} is not a string: {value}"),
            }
        }
        let mut names: Vec<&str> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(headers.len(), names.len(), "one key per header name: {value}");
    } else {
        assert_string_map(&object["headers"], "headers");
    }
    match source {
        Source::HttpV2 => {
            assert_eq!(
                object["multiValueHeaders"],
                Value::Object(Default::default())
            );
            let cookies = object["cookies"].as_array().expect("cookies is an array");
            assert!(cookies.iter().all(Value::is_string));
            let set_cookies = head
                .headers
                .iter()
                .filter(|(n, _)| n == "set-cookie")
                .count();
            assert_eq!(cookies.len(), set_cookies, "every set-cookie in cookies");
        }
        Source::RestV1 => {
            assert_eq!(object["headers"], Value::Object(Default::default()));
            assert_list_map(&object["multiValueHeaders"], "multiValueHeaders");
            let values: usize = object["multiValueHeaders"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_array).map(Vec::len).sum())
                .unwrap_or(0);
            assert_eq!(
                values,
                head.headers.len(),
                "every header value in multiValueHeaders"
            );
        }
        Source::Alb => {
            assert_list_map(&object["multiValueHeaders"], "multiValueHeaders");
            let description = object["statusDescription"]
                .as_str()
                .expect("statusDescription is a string");
            assert!(
                description.starts_with(&format!("{} ", head.status)),
                "statusDescription {description:?}"
            );
        }
        Source::LatticeV2 | Source::LatticeV1 | Source::PassThrough => {}
    }
    let text = object["body"]
        .as_str()
        .unwrap_or_else(|| panic!("body is not a string: {value}"));
    let decoded = match object["isBase64Encoded"].as_bool() {
        Some(true) => STANDARD
            .decode(text)
            .unwrap_or_else(|e| panic!("base64 body does not decode: {e}")),
        Some(false) => text.as_bytes().to_vec(),
        None => panic!("isBase64Encoded is not a boolean: {value}"),
    };
    assert_eq!(decoded, body, "the body round-trips");
}

/// Checks a streaming prelude: the HTTP-integration JSON, then exactly 8 NUL bytes (and no
/// NUL before them, or the Runtime API would end the prelude early).
pub fn check_prelude(head: &ResponseHead, prelude: &[u8]) {
    assert!(
        prelude.len() > 8 && prelude.ends_with(&[0; 8]),
        "prelude end"
    );
    let json = &prelude[..prelude.len() - 8];
    assert!(!json.contains(&0), "a NUL inside the prelude JSON");
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => panic!(
            "prelude JSON does not parse ({e}): {}",
            String::from_utf8_lossy(json)
        ),
    };
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("prelude is not an object: {value}"));
    assert_eq!(
        keys(object),
        ["cookies", "headers", "statusCode"],
        "{value}"
    );
    assert_eq!(object["statusCode"].as_u64(), Some(u64::from(head.status)));
    let headers = object["headers"].as_object().expect("headers is an object");
    for (name, v) in headers {
        let ok = v.is_string()
            || v.as_array()
                .is_some_and(|list| list.iter().all(Value::is_string));
        assert!(ok, "prelude header {name:?}: {v}");
    }
    assert!(
        headers.contains_key("content-type"),
        "a content type is always sent: {value}"
    );
    let cookies = object["cookies"].as_array().expect("cookies is an array");
    assert!(cookies.iter().all(Value::is_string));
    assert_eq!(
        cookies.len(),
        head.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .count()
    );
}

/// Decodes a compressed body (`gzip` or `br`).
pub fn decode(coding: &[u8], body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        b"gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gzip decodes");
        }
        b"br" => {
            brotli::BrotliDecompress(&mut &body[..], &mut out).expect("brotli decodes");
        }
        other => panic!(
            "unknown content-encoding {:?}",
            String::from_utf8_lossy(other)
        ),
    }
    out
}

/// Decodes a complete chunked body: (body, trailers). Panics on any framing error or on
/// bytes after the end.
pub fn dechunk(mut wire: &[u8]) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut body = Vec::new();
    loop {
        let (used, size) = match httparse::parse_chunk_size(wire) {
            Ok(httparse::Status::Complete(v)) => v,
            other => panic!(
                "bad chunk size line ({other:?}): {:?}",
                String::from_utf8_lossy(wire)
            ),
        };
        wire = &wire[used..];
        let size = usize::try_from(size).expect("chunk size fits");
        if size == 0 {
            break;
        }
        assert!(wire.len() >= size + 2, "a chunk cut short");
        body.extend_from_slice(&wire[..size]);
        assert_eq!(&wire[size..size + 2], b"\r\n", "a chunk without its CRLF");
        wire = &wire[size + 2..];
    }
    let mut slots = [httparse::EMPTY_HEADER; 8];
    let (used, trailers) = match httparse::parse_headers(wire, &mut slots) {
        Ok(httparse::Status::Complete((used, trailers))) => (used, trailers),
        other => panic!(
            "bad trailers ({other:?}): {:?}",
            String::from_utf8_lossy(wire)
        ),
    };
    assert_eq!(used, wire.len(), "bytes after the last chunk");
    let trailers = trailers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    (body, trailers)
}
