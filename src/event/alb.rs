//! Application Load Balancer target-group events, with or without multi-value headers
//! enabled on the target group.
//!
//! Request: method from `httpMethod`, the `path` as the client sent it, the query parameters
//! (which ALB leaves URL-encoded) re-encoded as upstream does (§3.5), headers from the
//! multi-value map with the single-value map filling in (DECISIONS 6).
//! Response: `{"statusCode","statusDescription","headers","multiValueHeaders","body",
//! "isBase64Encoded"}` with both header maps filled, as upstream (§4.3): ALB reads whichever
//! one the target group is configured for.

use serde::Deserialize;

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow)]
    http_method: Text<'a>,
    #[serde(default, borrow)]
    path: Option<Text<'a>>,
    #[serde(default)]
    query_string_parameters: EventMap,
    #[serde(default)]
    multi_value_query_string_parameters: EventMap,
    #[serde(default)]
    headers: EventMap,
    #[serde(default)]
    multi_value_headers: EventMap,
    request_context: Context,
    #[serde(default, deserialize_with = "maps::null_as_false")]
    is_base64_encoded: bool,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Context {
    elb: Elb,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Elb {
    #[serde(default)]
    target_group_arn: Option<String>,
}

/// Converts an ALB event into the request for the app; `Err` is a 400 message.
pub fn to_request(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let event: Event =
        serde_json::from_str(raw).map_err(|e| format!("malformed ALB event: {e}"))?;
    let method = target::method(Some(&event.http_method))?;
    // ALB passes the path as the client sent it, so `%` must start an escape (DECISIONS 2).
    let path = target::path(event.path.as_deref(), config, StrayPercent::Reject)?;
    let query = query(
        &event.multi_value_query_string_parameters,
        &event.query_string_parameters,
    );

    let headers = Headers::from_multi(&event.multi_value_headers, &event.headers)?;
    let mut context = Vec::with_capacity(160);
    context.extend_from_slice(b"{\"elb\":{\"targetGroupArn\":");
    match &event.request_context.elb.target_group_arn {
        Some(arn) => json::push_str(&mut context, arn),
        None => context.extend_from_slice(b"null"),
    }
    context.extend_from_slice(b"}}");
    let headers = headers.finish(config, invocation, &String::from_utf8_lossy(&context));
    let body = request::body(event.body.as_deref(), event.is_base64_encoded)?;
    Ok(request::app_request(method, path, query, headers, body))
}

/// ALB hands over query names and values still URL-encoded. Upstream serialises the map,
/// percent-decodes the whole string, parses it as a form and serialises it again; for one
/// pair that is a form-parse of `name=value` as ALB sent it, then form-encoding (§3.5):
/// `%3FshowAll%3Dtrue` stays, `a+b` stays, `100%` becomes `100%25`, `my%20key` becomes
/// `my+key`. Pairs keep the event's order (DECISIONS 7).
fn query(multi: &EventMap, single: &EventMap) -> Option<String> {
    let mut out = String::new();
    for (name, values) in maps::merge_multi(multi, single, false) {
        for value in values {
            let mut sent = String::with_capacity(name.len() + value.len() + 1);
            sent.push_str(name);
            sent.push('=');
            sent.push_str(value);
            for (k, v) in target::form_parse(&sent) {
                if !out.is_empty() {
                    out.push('&');
                }
                target::push_form_encoded(&mut out, &k);
                out.push('=');
                target::push_form_encoded(&mut out, &v);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The ALB response JSON.
pub fn encode_response(head: &ResponseHead, body: BodyForm) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + head.headers.len() * 96 + response::body_capacity(body));
    let status = head.status.to_string();
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(status.as_bytes());
    // `"{code} {reason}"`; an unknown code keeps the space (`"299 "`), as upstream, which is
    // also what an HTTP status line with an empty reason phrase looks like.
    out.extend_from_slice(b",\"statusDescription\":\"");
    out.extend_from_slice(status.as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(head.status).as_bytes());
    out.extend_from_slice(b"\",\"headers\":");
    response::push_first_value_headers(&mut out, head);
    out.extend_from_slice(b",\"multiValueHeaders\":");
    response::push_multi_value_headers(&mut out, head);
    out.push(b',');
    response::push_body(&mut out, body);
    out.push(b'}');
    out
}

/// The canonical reason phrase upstream uses (the `http` crate's table), or `""`.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}
