//! API Gateway HTTP API (payload format 2.0) and Lambda Function URL events: both carry the
//! same v2 payload.
//!
//! Request: method from `requestContext.http.method`, `rawPath` as-is (stage included),
//! `rawQueryString` verbatim, `cookies` joined into one `cookie` header.
//! Response: `{"statusCode","headers","multiValueHeaders":{},"body","isBase64Encoded","cookies"}`
//! with repeated headers joined by `, ` (DECISIONS 12) and `set-cookie` moved to `cookies`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::headers::Headers;
use super::maps::{self, EventHeaders, Text};
use super::request;
use super::response;
use super::target::{self, StrayPercent};
use crate::app::AppRequest;
use crate::app::response::ResponseHead;
use crate::config::Config;
use crate::json;
use crate::lambda::invocation::Invocation;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(default, alias = "path", borrow)]
    raw_path: Option<Text<'a>>,
    #[serde(default, borrow)]
    raw_query_string: Option<Text<'a>>,
    #[serde(default)]
    cookies: Option<Vec<String>>,
    #[serde(default)]
    headers: EventHeaders,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "maps::null_as_false")]
    is_base64_encoded: bool,
    #[serde(borrow)]
    request_context: Context<'a>,
}

/// The fields of `requestContext` that `x-amzn-request-context` carries, in upstream's order.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    #[serde(default)]
    route_key: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default, borrow)]
    authorizer: Option<&'a RawValue>,
    #[serde(default)]
    api_id: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    domain_prefix: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    time_epoch: Option<i64>,
    http: HttpDescription,
    #[serde(default, borrow)]
    authentication: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpDescription {
    method: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// Converts a v2 event into the request for the app; `Err` is a 400 message.
pub fn to_request(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let event: Event =
        serde_json::from_str(raw).map_err(|e| format!("malformed HTTP API event: {e}"))?;
    let method = target::method(Some(&event.request_context.http.method))?;
    let path = target::path(event.raw_path.as_deref(), config, StrayPercent::Reject)?;
    let query = match event.raw_query_string.as_deref() {
        Some(q) => target::encode_raw_query(q)?,
        None => None,
    };

    let mut headers = Headers::with_capacity(event.headers.0.len());
    headers.extend(&event.headers)?;
    if let Some(cookies) = &event.cookies {
        // As upstream: the cookies array replaces any cookie header (in its place), joined
        // without a space; an empty array leaves an empty `cookie` header.
        headers.replace("cookie", &cookies.join(";"))?;
    }
    let context = context_json(&event.request_context);
    let headers = headers.finish(config, invocation, &context);
    let body = request::body(event.body.as_deref(), event.is_base64_encoded)?;
    Ok(request::app_request(method, path, query, headers, body))
}

fn context_json(c: &Context) -> String {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"routeKey\":");
    json::push_opt(&mut out, c.route_key.as_deref());
    out.extend_from_slice(b",\"accountId\":");
    json::push_opt(&mut out, c.account_id.as_deref());
    out.extend_from_slice(b",\"stage\":");
    json::push_opt(&mut out, c.stage.as_deref());
    out.extend_from_slice(b",\"requestId\":");
    json::push_opt(&mut out, c.request_id.as_deref());
    if let Some(authorizer) = c.authorizer.filter(|a| a.get() != "null") {
        out.extend_from_slice(b",\"authorizer\":");
        json::push_minified(&mut out, authorizer.get());
    }
    out.extend_from_slice(b",\"apiId\":");
    json::push_opt(&mut out, c.api_id.as_deref());
    out.extend_from_slice(b",\"domainName\":");
    json::push_opt(&mut out, c.domain_name.as_deref());
    out.extend_from_slice(b",\"domainPrefix\":");
    json::push_opt(&mut out, c.domain_prefix.as_deref());
    out.extend_from_slice(b",\"time\":");
    json::push_opt(&mut out, c.time.as_deref());
    out.extend_from_slice(b",\"timeEpoch\":");
    out.extend_from_slice(c.time_epoch.unwrap_or(0).to_string().as_bytes());
    out.extend_from_slice(b",\"http\":{\"method\":");
    json::push_str(&mut out, &c.http.method);
    out.extend_from_slice(b",\"path\":");
    json::push_opt(&mut out, c.http.path.as_deref());
    out.extend_from_slice(b",\"protocol\":");
    json::push_opt(&mut out, c.http.protocol.as_deref());
    out.extend_from_slice(b",\"sourceIp\":");
    json::push_opt(&mut out, c.http.source_ip.as_deref());
    out.extend_from_slice(b",\"userAgent\":");
    json::push_opt(&mut out, c.http.user_agent.as_deref());
    out.push(b'}');
    if let Some(authentication) = c.authentication.filter(|a| a.get() != "null") {
        out.extend_from_slice(b",\"authentication\":");
        json::push_minified(&mut out, authentication.get());
    }
    out.push(b'}');
    json::into_string(out)
}

/// The v2 response JSON.
pub fn encode_response(head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + head.headers.len() * 48 + response::body_capacity(body));
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.extend_from_slice(b",\"headers\":{");
    let mut first = true;
    for (name, values) in response::grouped(head) {
        if name == "set-cookie" {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json::push_str(&mut out, name);
        out.push(b':');
        let joined = values.join(&b", "[..]);
        json::push_lossy(&mut out, &joined);
    }
    out.extend_from_slice(b"},\"multiValueHeaders\":{},");
    response::push_body(&mut out, head, body);
    out.extend_from_slice(b",\"cookies\":[");
    let mut first = true;
    for (name, value) in &head.headers {
        if name == "set-cookie" {
            if !first {
                out.push(b',');
            }
            first = false;
            json::push_lossy(&mut out, value);
        }
    }
    out.extend_from_slice(b"]}");
    out
}
