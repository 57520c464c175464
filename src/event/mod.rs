//! Event conversion: which source an event came from, the request the app receives, and the
//! response JSON Lambda expects back. One file per source owns both directions.
//!
//! Detection follows upstream (§3.1): REST v1, then HTTP API v2 / Function URL, then ALB,
//! else pass-through. Unlike upstream, detection looks only at the shape markers; once an
//! event is recognised as HTTP, a malformed field is a 400 in that source's format
//! (DECISIONS 2), never a silent pass-through.

pub mod alb;
pub mod http_v2;
pub mod pass_through;
pub mod request;
pub mod response;
pub mod rest_v1;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::app_client::AppRequest;
use crate::app_response::ResponseHead;
use crate::config::Config;
use crate::invocation::Invocation;

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

/// The shape markers of the HTTP sources. Every field is optional and untyped so that
/// detection itself never fails on a well-formed JSON object.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "httpMethod", default, borrow)]
    http_method: Option<&'a RawValue>,
    #[serde(rename = "requestContext", default, borrow)]
    request_context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ContextShape<'a> {
    #[serde(rename = "httpMethod", default, borrow)]
    http_method: Option<&'a RawValue>,
    #[serde(default, borrow)]
    http: Option<&'a RawValue>,
    #[serde(default, borrow)]
    elb: Option<&'a RawValue>,
}

fn present(v: Option<&RawValue>) -> bool {
    v.is_some_and(|v| v.get() != "null")
}

/// Decides the source of `event`; `None` when it is not JSON at all. One pass over the
/// event for any JSON object (the source's own parse is the second and last).
pub fn detect(event: &str) -> Option<Source> {
    let shape = match serde_json::from_str::<Shape>(event) {
        Ok(shape) => shape,
        // Not an object: an array, a string, a number... is still a pass-through event.
        Err(_) => {
            return serde_json::from_str::<serde::de::IgnoredAny>(event)
                .ok()
                .map(|_| Source::PassThrough);
        }
    };
    let context = shape
        .request_context
        .and_then(|raw| serde_json::from_str::<ContextShape>(raw.get()).ok());
    let Some(context) = context else {
        return Some(Source::PassThrough);
    };
    let has_method = present(shape.http_method);
    Some(if has_method && present(context.http_method) {
        Source::RestV1
    } else if present(context.http) {
        Source::HttpV2
    } else if has_method && present(context.elb) {
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
        let why = serde_json::from_str::<serde::de::IgnoredAny>(text)
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
