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
    authorizer: Option<Authorizer<'a>>,
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
    #[serde(default)]
    authentication: Option<Authentication>,
}

/// `requestContext.authorizer`: upstream keeps `jwt`, `lambda` and `iam`, in that order, and
/// drops every other key.
#[derive(Deserialize)]
struct Authorizer<'a> {
    #[serde(default, borrow)]
    jwt: Option<Jwt<'a>>,
    #[serde(default, borrow)]
    lambda: Option<&'a RawValue>,
    #[serde(default)]
    iam: Option<Iam<'a>>,
}

/// `jwt`: `claims` (`{}` when missing) and `scopes` (left out when missing).
#[derive(Deserialize)]
struct Jwt<'a> {
    #[serde(default, borrow)]
    claims: Option<&'a RawValue>,
    #[serde(default, borrow)]
    scopes: Option<&'a RawValue>,
}

/// `iam`: the whole field set, `null` for the missing ones (as upstream writes it; where
/// upstream cannot parse a partial `cognitoIdentity`, we still write it, DECISIONS 30).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Iam<'a> {
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    caller_id: Option<String>,
    #[serde(default, borrow)]
    cognito_identity: Option<IamCognitoIdentity<'a>>,
    #[serde(default)]
    principal_org_id: Option<String>,
    #[serde(default)]
    user_arn: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamCognitoIdentity<'a> {
    #[serde(default, borrow)]
    amr: Option<&'a RawValue>,
    #[serde(default)]
    identity_id: Option<String>,
    #[serde(default)]
    identity_pool_id: Option<String>,
}

/// `authentication` (mutual TLS): the whole field set, `null` for the missing ones.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Authentication {
    #[serde(default)]
    client_cert: Option<ClientCert>,
}

#[derive(Deserialize)]
struct ClientCert {
    #[serde(default, rename = "clientCertPem")]
    client_cert_pem: Option<String>,
    #[serde(default, rename = "issuerDN")]
    issuer_dn: Option<String>,
    #[serde(default, rename = "serialNumber")]
    serial_number: Option<String>,
    #[serde(default, rename = "subjectDN")]
    subject_dn: Option<String>,
    #[serde(default)]
    validity: Option<Validity>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Validity {
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    not_before: Option<String>,
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
    if let Some(authorizer) = &c.authorizer {
        out.extend_from_slice(b",\"authorizer\":");
        push_authorizer(&mut out, authorizer);
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
    if let Some(authentication) = &c.authentication {
        out.extend_from_slice(b",\"authentication\":");
        push_authentication(&mut out, authentication);
    }
    out.push(b'}');
    json::into_string(out)
}

/// Raw JSON that stands for nothing: `null`, or an empty object.
fn is_empty_raw(raw: &RawValue) -> bool {
    let text = raw.get().trim();
    text == "null"
        || text
            .strip_prefix('{')
            .is_some_and(|rest| rest.trim() == "}")
}

/// The authorizer as upstream writes it (DECISIONS 26: map keys keep the event's order).
fn push_authorizer(out: &mut Vec<u8>, a: &Authorizer) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(name);
    };
    if let Some(jwt) = &a.jwt {
        key(out, b"\"jwt\":{\"claims\":");
        match jwt.claims.filter(|c| c.get() != "null") {
            Some(claims) => json::push_minified(out, claims.get()),
            None => out.extend_from_slice(b"{}"),
        }
        if let Some(scopes) = jwt.scopes.filter(|s| s.get() != "null") {
            out.extend_from_slice(b",\"scopes\":");
            json::push_minified(out, scopes.get());
        }
        out.push(b'}');
    }
    if let Some(lambda) = a.lambda.filter(|l| !is_empty_raw(l)) {
        key(out, b"\"lambda\":");
        json::push_minified(out, lambda.get());
    }
    if let Some(iam) = &a.iam {
        key(out, b"\"iam\":{\"accessKey\":");
        json::push_opt(out, iam.access_key.as_deref());
        out.extend_from_slice(b",\"accountId\":");
        json::push_opt(out, iam.account_id.as_deref());
        out.extend_from_slice(b",\"callerId\":");
        json::push_opt(out, iam.caller_id.as_deref());
        if let Some(cognito) = &iam.cognito_identity {
            out.extend_from_slice(b",\"cognitoIdentity\":{\"amr\":");
            match cognito.amr {
                Some(amr) => json::push_minified(out, amr.get()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"identityId\":");
            json::push_opt(out, cognito.identity_id.as_deref());
            out.extend_from_slice(b",\"identityPoolId\":");
            json::push_opt(out, cognito.identity_pool_id.as_deref());
            out.push(b'}');
        }
        out.extend_from_slice(b",\"principalOrgId\":");
        json::push_opt(out, iam.principal_org_id.as_deref());
        out.extend_from_slice(b",\"userArn\":");
        json::push_opt(out, iam.user_arn.as_deref());
        out.extend_from_slice(b",\"userId\":");
        json::push_opt(out, iam.user_id.as_deref());
        out.push(b'}');
    }
    out.push(b'}');
}

/// `authentication` as upstream writes it: the client certificate's whole field set.
fn push_authentication(out: &mut Vec<u8>, a: &Authentication) {
    out.extend_from_slice(b"{\"clientCert\":");
    let Some(cert) = &a.client_cert else {
        out.extend_from_slice(b"null}");
        return;
    };
    out.extend_from_slice(b"{\"clientCertPem\":");
    json::push_opt(out, cert.client_cert_pem.as_deref());
    out.extend_from_slice(b",\"issuerDN\":");
    json::push_opt(out, cert.issuer_dn.as_deref());
    out.extend_from_slice(b",\"serialNumber\":");
    json::push_opt(out, cert.serial_number.as_deref());
    out.extend_from_slice(b",\"subjectDN\":");
    json::push_opt(out, cert.subject_dn.as_deref());
    let validity = cert.validity.as_ref();
    out.extend_from_slice(b",\"validity\":{\"notAfter\":");
    json::push_opt(out, validity.and_then(|v| v.not_after.as_deref()));
    out.extend_from_slice(b",\"notBefore\":");
    json::push_opt(out, validity.and_then(|v| v.not_before.as_deref()));
    out.extend_from_slice(b"}}}");
}

/// The v2 response JSON.
pub fn encode_response(head: &ResponseHead, body: BodyForm) -> Vec<u8> {
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
    response::push_body(&mut out, body);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn context(request_context: &str) -> String {
        let c: Context = serde_json::from_str(request_context).unwrap();
        context_json(&c)
    }

    /// Shapes upstream cannot parse (it passes the whole event through instead): the field
    /// set is still written whole, `null` for what is missing (DECISIONS 3).
    #[test]
    fn partial_iam_and_client_certificates_keep_the_whole_field_set() {
        let json = context(
            r#"{"http":{"method":"GET"},"authorizer":{"iam":{"accessKey":"AK","cognitoIdentity":{"identityId":"x"},"extra":5},"principalId":"p"},"authentication":{"clientCert":{"clientCertPem":"PEM"}}}"#,
        );
        assert!(
            json.contains(r#""authorizer":{"iam":{"accessKey":"AK","accountId":null,"callerId":null,"cognitoIdentity":{"amr":null,"identityId":"x","identityPoolId":null},"principalOrgId":null,"userArn":null,"userId":null}}"#),
            "{json}"
        );
        assert!(
            json.ends_with(r#""authentication":{"clientCert":{"clientCertPem":"PEM","issuerDN":null,"serialNumber":null,"subjectDN":null,"validity":{"notAfter":null,"notBefore":null}}}}"#),
            "{json}"
        );
    }

    #[test]
    fn authorizer_parts_in_upstreams_order_other_keys_dropped() {
        let json = context(
            r#"{"http":{"method":"GET"},"authorizer":{"lambda":{"b":{"y":1,"x":2},"a":1},"jwt":{"claims":null,"other":1},"principalId":"p"}}"#,
        );
        assert!(
            json.contains(
                r#""authorizer":{"jwt":{"claims":{}},"lambda":{"b":{"y":1,"x":2},"a":1}}"#
            ),
            "{json}"
        );
        let json = context(r#"{"http":{"method":"GET"},"authorizer":{"lambda":{ }}}"#);
        assert!(json.contains(r#""authorizer":{}"#), "{json}");
    }
}
