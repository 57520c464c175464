//! Event conversion: which source an event came from, the request the app receives, and the
//! response JSON Lambda expects back. One file per source owns both directions.
//!
//! Detection follows upstream (§3.1): REST v1, then HTTP API v2 / Function URL, then ALB,
//! else pass-through. Unlike upstream, detection looks only at the shape markers; once an
//! event is recognised as HTTP, a malformed field is a 400 in that source's format
//! (DECISIONS 2), never a silent pass-through.

pub mod alb;
pub mod headers;
pub mod http_v2;
pub mod maps;
pub mod pass_through;
pub mod request;
pub mod response;
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
    let Some(top) = pick(event, &["httpMethod", "requestContext"]) else {
        // Not an object: an array, a string, a number... is still a pass-through event.
        return serde_json::from_str::<IgnoredAny>(event)
            .ok()
            .map(|_| Source::PassThrough);
    };
    let (http_method, request_context) = (
        top.first().copied().flatten(),
        top.get(1).copied().flatten(),
    );
    let context = request_context
        .and_then(|raw| pick(raw.get(), &["httpMethod", "http", "elb"]))
        .unwrap_or_default();
    let marker = |i: usize| present(context.get(i).copied().flatten());
    let has_method = present(http_method);
    Some(if has_method && marker(0) {
        Source::RestV1
    } else if marker(1) {
        Source::HttpV2
    } else if has_method && marker(2) {
        Source::Alb
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
        Source::PassThrough => pass_through::to_request(text, config, invocation),
    };
    converted
        .map(|request| (source, request))
        .map_err(|message| Rejected::BadRequest { source, message })
}

/// The buffered response JSON for `source`.
pub fn encode_response(source: Source, head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    match source {
        Source::RestV1 => rest_v1::encode_response(head, body),
        Source::HttpV2 => http_v2::encode_response(head, body),
        Source::Alb => alb::encode_response(head, body),
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
