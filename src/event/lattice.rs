//! Amazon VPC Lattice events, both Lambda event structure versions of AWS's VPC Lattice guide
//! ("Lambda functions as targets in VPC Lattice"), and Lattice's response format
//! (DECISIONS 32: upstream passes these events through as `POST /events`).
//!
//! Request, version 2.0: `method`, `path`, `queryStringParameters` and `headers` whose values
//! are lists (a repeated query key or header keeps every value), `body` with
//! `isBase64Encoded`, and `requestContext` (service network, service, target group, caller
//! identity, region, time), which the app receives as `x-amzn-request-context`, compact, in
//! the event's key order.
//!
//! Request, version 1.0: snake_case fields, `raw_path`, `method`, `headers` (Lattice joins a
//! repeated header into one `a, b` value), `query_string_parameters` (the last value of a
//! repeated key), `body`, `is_base64_encoded`, and no request context
//! (`x-amzn-request-context: null`, as for a pass-through event).
//!
//! Both: query names and values are taken as decoded text and form-encoded, as API Gateway's
//! REST events are (AWS does not say; Hono's Lattice adapter reads them so);
//! the path is taken as sent, and a `%` that starts no escape is forwarded as it is, as for
//! REST (a 400 would refuse a path that Lattice may have decoded).
//!
//! Response, both versions: `{"statusCode","headers","body","isBase64Encoded"}` with one
//! string per header name, as AWS's guide shows it (and `aws-lambda-go` types it). A repeated
//! name is joined with `, `, as Lattice itself joins repeated request headers, except
//! `set-cookie`, which cannot be joined without corrupting cookies: several go as a list,
//! the way Lattice's own 2.0 events carry repeated headers (and Hono answers Lattice).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::headers::Headers;
use super::maps::{self, EventMap, Text};
use super::request;
use super::response::{self, BodyForm};
use super::target::{self, StrayPercent};
use crate::app::AppRequest;
use crate::app::response::ResponseHead;
use crate::config::Config;
use crate::json;
use crate::lambda::invocation::Invocation;

/// Event structure version 2.0.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventV2<'a> {
    #[serde(default, borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    method: Text<'a>,
    #[serde(default)]
    headers: EventMap,
    #[serde(default)]
    query_string_parameters: EventMap,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "maps::null_as_false")]
    is_base64_encoded: bool,
    #[serde(borrow)]
    request_context: &'a RawValue,
}

/// Event structure version 1.0 (its field names are snake_case).
#[derive(Deserialize)]
struct EventV1<'a> {
    #[serde(default, borrow)]
    raw_path: Option<Text<'a>>,
    #[serde(borrow)]
    method: Text<'a>,
    #[serde(default)]
    headers: EventMap,
    #[serde(default)]
    query_string_parameters: EventMap,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "maps::null_as_false")]
    is_base64_encoded: bool,
}

/// Converts a version 2.0 event into the request for the app; `Err` is a 400 message.
pub fn to_request_v2(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let event: EventV2 =
        serde_json::from_str(raw).map_err(|e| format!("malformed VPC Lattice (2.0) event: {e}"))?;
    let method = target::method(Some(&event.method))?;
    let path = target::path(event.path.as_deref(), config, StrayPercent::Keep)?;
    let query = query(&event.query_string_parameters);
    let headers = headers_v2(&event.headers)?;
    let context = event.request_context.get().trim_start();
    if !context.starts_with('{') {
        return Err("requestContext is not an object".to_string());
    }
    let mut minified = Vec::with_capacity(context.len());
    json::push_minified(&mut minified, context);
    let headers = headers.finish(config, invocation, &json::into_string(minified));
    let body = request::body(event.body.as_deref(), event.is_base64_encoded)?;
    Ok(request::app_request(method, path, query, headers, body))
}

/// Converts a version 1.0 event into the request for the app; `Err` is a 400 message.
pub fn to_request_v1(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let event: EventV1 =
        serde_json::from_str(raw).map_err(|e| format!("malformed VPC Lattice (1.0) event: {e}"))?;
    let method = target::method(Some(&event.method))?;
    let path = target::path(event.raw_path.as_deref(), config, StrayPercent::Keep)?;
    let query = query(&event.query_string_parameters);
    let mut headers = Headers::with_capacity(event.headers.0.len());
    headers.extend(&event.headers)?;
    let headers = headers.finish(config, invocation, "null");
    let body = request::body(event.body.as_deref(), event.is_base64_encoded)?;
    Ok(request::app_request(method, path, query, headers, body))
}

/// Every value of every key, in the event's order, form-encoded.
fn query(parameters: &EventMap) -> Option<String> {
    target::form_query(
        parameters
            .0
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.as_str(), v.as_str()))),
    )
}

/// Every value of every header, each its own header line, except `cookie`: an HTTP/2 client
/// may send its cookies as several fields, which an HTTP/1.1 request carries as one, joined
/// with `; ` (RFC 9113 §8.2.3), in the place of the first.
fn headers_v2(event: &EventMap) -> Result<Headers, String> {
    let cookies: Vec<&str> = event
        .0
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
        .collect();
    let mut headers = Headers::with_capacity(event.0.len());
    let mut cookie_done = false;
    for (name, values) in &event.0 {
        if name.eq_ignore_ascii_case("cookie") {
            if !cookie_done && !cookies.is_empty() {
                headers.push(name, &cookies.join("; "))?;
            }
            cookie_done = true;
            continue;
        }
        for value in values {
            headers.push(name, value)?;
        }
    }
    Ok(headers)
}

/// The Lattice response JSON (both event versions).
pub fn encode_response(head: &ResponseHead, body: BodyForm) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + head.headers.len() * 48 + response::body_capacity(body));
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.extend_from_slice(b",\"headers\":{");
    for (i, (name, values)) in response::grouped(head).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_str(&mut out, name);
        out.push(b':');
        match values.as_slice() {
            [one] => json::push_lossy(&mut out, one),
            several if name == "set-cookie" => {
                out.push(b'[');
                for (j, value) in several.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    json::push_lossy(&mut out, value);
                }
                out.push(b']');
            }
            several => json::push_lossy(&mut out, &several.join(&b", "[..])),
        }
    }
    out.extend_from_slice(b"},");
    response::push_body(&mut out, body);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::for_test(201, headers)
    }

    #[test]
    fn responses_carry_one_string_per_header_and_a_list_of_cookies() {
        let h = head(&[
            ("content-type", "text/plain"),
            ("vary", "origin"),
            ("set-cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
            ("vary", "accept-encoding"),
            ("set-cookie", "b=2"),
        ]);
        assert_eq!(
            String::from_utf8(encode_response(&h, BodyForm::Text("hi"))).unwrap(),
            r#"{"statusCode":201,"headers":{"content-type":"text/plain","vary":"origin, accept-encoding","set-cookie":["a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT","b=2"]},"body":"hi","isBase64Encoded":false}"#
        );
        let one = head(&[("set-cookie", "a=1")]);
        assert_eq!(
            String::from_utf8(encode_response(&one, BodyForm::Base64(&[0xff]))).unwrap(),
            r#"{"statusCode":201,"headers":{"set-cookie":"a=1"},"body":"/w==","isBase64Encoded":true}"#
        );
    }

    #[test]
    fn cookie_fields_become_one_header() {
        let event: EventMap = serde_json::from_str(
            r#"{"x-a":["1","2"],"cookie":["a=1","b=2"],"Cookie":["c=3"],"x-b":"3"}"#,
        )
        .unwrap();
        let headers = headers_v2(&event).unwrap();
        assert_eq!(
            headers.list,
            [
                ("x-a".to_string(), "1".to_string()),
                ("x-a".into(), "2".into()),
                ("cookie".into(), "a=1; b=2; c=3".into()),
                ("x-b".into(), "3".into()),
            ]
        );
    }
}
