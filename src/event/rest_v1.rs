//! API Gateway REST API events (payload format 1.0), and any event shaped like one (a
//! WebSocket event that carries `httpMethod`, §3.1).
//!
//! Request: method from `httpMethod`, the event's `path` (already percent-decoded by API
//! Gateway), query and headers from the multi-value maps with the single-value maps filling
//! in (DECISIONS 6, 7), `x-amzn-request-context` field for field as upstream (§3.6).
//! Response: `{"statusCode","headers":{},"multiValueHeaders":{..},"body","isBase64Encoded"}`.

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(default, borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    http_method: Text<'a>,
    #[serde(default)]
    headers: EventMap,
    #[serde(default)]
    multi_value_headers: EventMap,
    #[serde(default)]
    query_string_parameters: EventMap,
    #[serde(default)]
    multi_value_query_string_parameters: EventMap,
    #[serde(borrow)]
    request_context: Context<'a>,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    #[serde(default, deserialize_with = "maps::null_as_false")]
    is_base64_encoded: bool,
}

/// The fields of `requestContext` that `x-amzn-request-context` carries, in upstream's order
/// (the order of `ApiGatewayProxyRequestContext`). Unknown fields are dropped, as upstream.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    domain_prefix: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    identity: Option<Identity>,
    #[serde(default)]
    resource_path: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, borrow)]
    authorizer: Option<&'a RawValue>,
    http_method: String,
    #[serde(default)]
    request_time: Option<String>,
    #[serde(default)]
    request_time_epoch: Option<i64>,
    #[serde(default)]
    api_id: Option<String>,
}

/// `requestContext.identity`, field for field as upstream's `ApiGatewayRequestIdentity`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Identity {
    #[serde(default)]
    cognito_identity_pool_id: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    cognito_identity_id: Option<String>,
    #[serde(default)]
    caller: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    api_key_id: Option<String>,
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    cognito_authentication_type: Option<String>,
    #[serde(default)]
    cognito_authentication_provider: Option<String>,
    #[serde(default)]
    user_arn: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

/// Converts a REST v1 event into the request for the app; `Err` is a 400 message.
pub fn to_request(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let event: Event =
        serde_json::from_str(raw).map_err(|e| format!("malformed REST API event: {e}"))?;
    let method = target::method(Some(&event.http_method))?;
    // `path` is already decoded: a `%` in it is a literal character that upstream forwards
    // unchanged (`/100%` stays `/100%`), so it is kept rather than rejected as a bad escape.
    let path = target::path(event.path.as_deref(), config, StrayPercent::Keep)?;
    let query = target::form_query(
        maps::merge_multi(
            &event.multi_value_query_string_parameters,
            &event.query_string_parameters,
            false,
        )
        .into_iter()
        .flat_map(|(name, values)| values.iter().map(move |v| (name, v.as_str()))),
    );

    let headers = Headers::from_multi(&event.multi_value_headers, &event.headers)?;
    let context = context_json(&event.request_context)?;
    let headers = headers.finish(config, invocation, &context);
    let body = request::body(event.body.as_deref(), event.is_base64_encoded)?;
    Ok(request::app_request(method, path, query, headers, body))
}

/// The `x-amzn-request-context` value: compact JSON in the field order of upstream's
/// `ApiGatewayProxyRequestContext`, missing optional fields `null`, `requestTimeEpoch` 0,
/// `operationName` only when present and `authorizer` only when it is a non-empty object
/// (kept in the event's key order, where upstream's order is random).
fn context_json(c: &Context) -> Result<String, String> {
    let http_method = target::method(Some(&c.http_method))
        .map_err(|e| format!("requestContext.httpMethod: {e}"))?;
    let authorizer = match c.authorizer.map(|a| a.get().trim()) {
        None | Some("null") => None,
        Some(a) => match a.strip_prefix('{') {
            Some(rest) if rest.trim_start() == "}" => None,
            Some(_) => Some(a),
            None => return Err("requestContext.authorizer is not an object".to_string()),
        },
    };
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"accountId\":");
    json::push_opt(&mut out, c.account_id.as_deref());
    out.extend_from_slice(b",\"resourceId\":");
    json::push_opt(&mut out, c.resource_id.as_deref());
    if let Some(operation_name) = &c.operation_name {
        out.extend_from_slice(b",\"operationName\":");
        json::push_str(&mut out, operation_name);
    }
    out.extend_from_slice(b",\"stage\":");
    json::push_opt(&mut out, c.stage.as_deref());
    out.extend_from_slice(b",\"domainName\":");
    json::push_opt(&mut out, c.domain_name.as_deref());
    out.extend_from_slice(b",\"domainPrefix\":");
    json::push_opt(&mut out, c.domain_prefix.as_deref());
    out.extend_from_slice(b",\"requestId\":");
    json::push_opt(&mut out, c.request_id.as_deref());
    out.extend_from_slice(b",\"protocol\":");
    json::push_opt(&mut out, c.protocol.as_deref());
    push_identity(
        &mut out,
        c.identity.as_ref().unwrap_or(&Identity::default()),
    );
    out.extend_from_slice(b",\"resourcePath\":");
    json::push_opt(&mut out, c.resource_path.as_deref());
    out.extend_from_slice(b",\"path\":");
    json::push_opt(&mut out, c.path.as_deref());
    if let Some(authorizer) = authorizer {
        out.extend_from_slice(b",\"authorizer\":");
        json::push_minified(&mut out, authorizer);
    }
    out.extend_from_slice(b",\"httpMethod\":");
    json::push_str(&mut out, &http_method);
    out.extend_from_slice(b",\"requestTime\":");
    json::push_opt(&mut out, c.request_time.as_deref());
    out.extend_from_slice(b",\"requestTimeEpoch\":");
    out.extend_from_slice(c.request_time_epoch.unwrap_or(0).to_string().as_bytes());
    out.extend_from_slice(b",\"apiId\":");
    json::push_opt(&mut out, c.api_id.as_deref());
    out.push(b'}');
    // Built only from `&str` pieces and JSON text, so always UTF-8.
    Ok(json::into_string(out))
}

fn push_identity(out: &mut Vec<u8>, id: &Identity) {
    let fields: [(&[u8], &Option<String>); 13] = [
        (
            b",\"identity\":{\"cognitoIdentityPoolId\":",
            &id.cognito_identity_pool_id,
        ),
        (b",\"accountId\":", &id.account_id),
        (b",\"cognitoIdentityId\":", &id.cognito_identity_id),
        (b",\"caller\":", &id.caller),
        (b",\"apiKey\":", &id.api_key),
        (b",\"apiKeyId\":", &id.api_key_id),
        (b",\"accessKey\":", &id.access_key),
        (b",\"sourceIp\":", &id.source_ip),
        (
            b",\"cognitoAuthenticationType\":",
            &id.cognito_authentication_type,
        ),
        (
            b",\"cognitoAuthenticationProvider\":",
            &id.cognito_authentication_provider,
        ),
        (b",\"userArn\":", &id.user_arn),
        (b",\"userAgent\":", &id.user_agent),
        (b",\"user\":", &id.user),
    ];
    for (key, value) in fields {
        out.extend_from_slice(key);
        json::push_opt(out, value.as_deref());
    }
    out.push(b'}');
}

/// The REST v1 response JSON: every header in `multiValueHeaders` (all values, first-seen
/// order, `set-cookie` included), `headers` always `{}`, as upstream (§4.3).
pub fn encode_response(head: &ResponseHead, body: BodyForm) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + head.headers.len() * 48 + response::body_capacity(body));
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.extend_from_slice(b",\"headers\":{},\"multiValueHeaders\":");
    response::push_multi_value_headers(&mut out, head);
    out.push(b',');
    response::push_body(&mut out, body);
    out.push(b'}');
    out
}
