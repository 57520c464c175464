//! Event conversion: which source an event came from, the request the app receives, and the
//! response JSON Lambda expects back. One file per source owns both directions.
//!
//! Detection follows upstream (§3.1): REST v1, then HTTP API v2 / Function URL, then ALB,
//! then (ours, DECISIONS 32) VPC Lattice 2.0 and 1.0, else pass-through. Unlike upstream,
//! detection looks only at the shape markers; once an event is recognised as HTTP, a
//! malformed field is a 400 in that source's format (DECISIONS 2), never a silent
//! pass-through. The Lattice markers come last and are their own (a top-level `method` with
//! a `requestContext.serviceArn`, `serviceNetworkArn` or `targetGroupArn`; a top-level
//! `method` with `raw_path`), so no event of the other sources changes its source.

pub mod alb;
pub mod fields;
pub mod headers;
pub mod http_v2;
pub mod lattice;
pub mod maps;
pub mod pass_through;
pub mod request;
pub mod response;
pub mod response_headers;
pub mod rest_v1;
pub mod target;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::app::AppRequest;
use crate::app::response::ResponseHead;
use crate::config::Config;
use crate::lambda::invocation::Invocation;

/// Where an event came from; decides the request rules and the response JSON shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API (payload format 1.0).
    RestV1,
    /// API Gateway HTTP API (payload format 2.0) or a Function URL.
    HttpV2,
    /// Application Load Balancer.
    Alb,
    /// Amazon VPC Lattice, Lambda event structure version 2.0.
    LatticeV2,
    /// Amazon VPC Lattice, Lambda event structure version 1.0.
    LatticeV1,
    /// Anything else (SQS, SNS, S3, EventBridge, ...): posted to the app as JSON.
    PassThrough,
}

/// Why an event could not become a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// An HTTP event with a malformed field: answered with a 400 in the source's format.
    BadRequest { source: Source, message: String },
    /// Not JSON at all: reported to Lambda as an invocation error.
    NotJson(String),
}

/// The raw values of `keys` in a JSON object. Every other key, and a key given twice (the
/// last one counts), is tolerated, so detection never fails on a well-formed object: a
/// malformed or duplicated field is left for the source's own parse to answer with a 400.
fn pick<'a>(json: &'a str, keys: &'static [&'static str]) -> Option<Vec<Option<&'a RawValue>>> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let picked = Pick { keys }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(picked)
}

struct Pick {
    keys: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for Pick {
    type Value = Vec<Option<&'de RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = vec![None; self.keys.len()];
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match self
                .keys
                .iter()
                .position(|k| *k == key)
                .and_then(|i| picked.get_mut(i))
            {
                Some(slot) => *slot = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(picked)
    }
}

/// An object key, borrowed from the event unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn present(v: Option<&RawValue>) -> bool {
    v.is_some_and(|v| v.get() != "null")
}

/// Decides the source of `event`; `None` when it is not JSON at all. One pass over the
/// event for any JSON object (the source's own parse is the second and last).
pub fn detect(event: &str) -> Option<Source> {
    let Some(top) = pick(
        event,
        &["httpMethod", "requestContext", "method", "raw_path"],
    ) else {
        // Not an object: an array, a string, a number... is still a pass-through event.
        return serde_json::from_str::<IgnoredAny>(event)
            .ok()
            .map(|_| Source::PassThrough);
    };
    let field = |i: usize| top.get(i).copied().flatten();
    let context = field(1)
        .and_then(|raw| {
            pick(
                raw.get(),
                &[
                    "httpMethod",
                    "http",
                    "elb",
                    "serviceArn",
                    "serviceNetworkArn",
                    "targetGroupArn",
                ],
            )
        })
        .unwrap_or_default();
    let marker = |i: usize| present(context.get(i).copied().flatten());
    let has_method = present(field(0));
    let has_lattice_method = present(field(2));
    Some(if has_method && marker(0) {
        Source::RestV1
    } else if marker(1) {
        Source::HttpV2
    } else if has_method && marker(2) {
        Source::Alb
    } else if has_lattice_method && (marker(3) || marker(4) || marker(5)) {
        Source::LatticeV2
    } else if has_lattice_method && present(field(3)) {
        Source::LatticeV1
    } else {
        Source::PassThrough
    })
}

/// Converts an event into the request for the app.
pub fn to_request(
    event: &[u8],
    config: &Config,
    invocation: &Invocation,
) -> Result<(Source, AppRequest), Rejected> {
    let text = std::str::from_utf8(event)
        .map_err(|e| Rejected::NotJson(format!("the event is not UTF-8 text: {e}")))?;
    let Some(source) = detect(text) else {
        let why = serde_json::from_str::<IgnoredAny>(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(Rejected::NotJson(format!(
            "the event is not valid JSON: {why}"
        )));
    };
    let converted = match source {
        Source::RestV1 => rest_v1::to_request(text, config, invocation),
        Source::HttpV2 => http_v2::to_request(text, config, invocation),
        Source::Alb => alb::to_request(text, config, invocation),
        Source::LatticeV2 => lattice::to_request_v2(text, config, invocation),
        Source::LatticeV1 => lattice::to_request_v1(text, config, invocation),
        Source::PassThrough => pass_through::to_request(text, config, invocation),
    };
    let rejected = |message| Rejected::BadRequest { source, message };
    let mut request = converted.map_err(rejected)?;
    if config.event_fields_as_headers {
        // Only API Gateway events carry these fields; every other source gets `null`s.
        let picked = match source {
            Source::RestV1 | Source::HttpV2 => {
                pick(text, &["pathParameters", "stageVariables"]).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let field = |i: usize| picked.get(i).copied().flatten();
        request
            .headers
            .extend(fields::headers(field(0), field(1)).map_err(rejected)?);
    }
    Ok((source, request))
}

/// The buffered response JSON for `source`. The body goes as text or base64 as
/// [`response::body_form`] decides; a `binary` marker is obeyed and left out (DECISIONS 34).
pub fn encode_response(source: Source, head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    let form = response::body_form(head, body);
    let unmarked;
    let head = if response::marked_binary(head) {
        let mut copy = head.clone();
        response_headers::remove_binary_marker(&mut copy);
        unmarked = copy;
        &unmarked
    } else {
        head
    };
    match source {
        Source::RestV1 => rest_v1::encode_response(head, form),
        Source::HttpV2 => http_v2::encode_response(head, form),
        Source::Alb => alb::encode_response(head, form),
        Source::LatticeV2 | Source::LatticeV1 => lattice::encode_response(head, form),
        Source::PassThrough => pass_through::encode_response(head, body),
    }
}

/// A plain-text response the adapter itself produces (400 for a malformed event, 502 for an
/// oversized response), in `source`'s format.
pub fn adapter_response(source: Source, status: u16, message: &str) -> Vec<u8> {
    let head = ResponseHead {
        status,
        headers: vec![(
            "content-type".to_string(),
            b"text/plain; charset=utf-8".to_vec(),
        )],
        close: false,
    };
    encode_response(source, &head, message.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_tolerates_other_and_duplicated_keys() {
        let ctx = r#"{"http":{"method":"GET"}}"#;
        assert_eq!(
            detect(&format!(r#"{{"a":1,"requestContext":{ctx}}}"#)),
            Some(Source::HttpV2)
        );
        // A duplicated marker still identifies the source; the source's own parse then
        // answers 400 (DECISIONS 2) instead of the event silently passing through.
        let dup = format!(r#"{{"requestContext":{ctx},"requestContext":{ctx}}}"#);
        assert_eq!(detect(&dup), Some(Source::HttpV2));
        let config = Config::from_lookup(|name| {
            (name == "AWS_LAMBDA_RUNTIME_API").then(|| "127.0.0.1:9001".to_string())
        })
        .unwrap();
        let invocation = Invocation::from_headers("rid".into(), |_| None, Vec::new());
        match to_request(dup.as_bytes(), &config, &invocation) {
            Err(Rejected::BadRequest {
                source: Source::HttpV2,
                message,
            }) => {
                assert!(message.contains("duplicate field"), "{message}")
            }
            other => panic!("expected a 400, got {other:?}"),
        }
        assert_eq!(detect("[1,2]"), Some(Source::PassThrough));
        assert_eq!(detect(r#"{"requestContext":5}"#), Some(Source::PassThrough));
        assert_eq!(detect("{"), None);
    }
}
