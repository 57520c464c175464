//! A plain HTTP request turned into the event Amazon VPC Lattice delivers to a Lambda target
//! (`--source lattice` for event structure version 2.0, `--source lattice-v1` for 1.0), as
//! AWS's VPC Lattice guide ("Lambda functions as targets in VPC Lattice") describes them:
//!
//! - 2.0: `version`, `path`, `method`, `headers` and `queryStringParameters` with a list of
//!   values per name, `body`, `isBase64Encoded`, and a `requestContext` naming the service
//!   network, service, target group, region and time (microseconds, as a string);
//! - 1.0: `raw_path`, `method`, `headers` with repeated values joined by `, `,
//!   `query_string_parameters` with the last value of a repeated key, `body`,
//!   `is_base64_encoded`.
//!
//! Lattice lowercases header names, adds `x-forwarded-for`, and sends the body as text only
//! for `text/*`, `application/json`, `application/xml` and `application/javascript`; anything
//! else is base64.
//!
//! [`super::events::build_event`] calls in here with the request's parts (this file does not
//! import that one, so the two never import each other).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// A plain HTTP request as the front door received it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// `/path?query` as received.
    pub target: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
}

/// The version 2.0 event for `request`.
pub fn v2_event(request: &Request) -> Value {
    let headers = lists_of_values(lattice_headers(request));
    let query = lists_of_values(query_pairs(request));
    let (body, base64) = body(request);
    let micros = super::now_ms().saturating_mul(1000);
    json!({
        "version": "2.0",
        "path": path(request),
        "method": request.method,
        "headers": headers,
        "queryStringParameters": query,
        "body": body,
        "isBase64Encoded": base64,
        "requestContext": {
            "serviceNetworkArn": format!("arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:servicenetwork/sn-0emulated0000000"),
            "serviceArn": format!("arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:service/svc-0emulated0000000"),
            "targetGroupArn": format!("arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:targetgroup/tg-0emulated0000000"),
            "identity": {
                "sourceVpcArn": format!("arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0emulated0000000"),
            },
            "region": REGION,
            "timeEpoch": micros.to_string(),
        },
    })
}

/// The version 1.0 event for `request`.
pub fn v1_event(request: &Request) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    for (name, value) in lattice_headers(request) {
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(previous) => format!("{previous}, {value}"),
            None => value,
        };
        headers.insert(name, json!(joined));
    }
    let mut query: Map<String, Value> = Map::new();
    for (name, value) in query_pairs(request) {
        query.insert(name, json!(value));
    }
    let (body, base64) = body(request);
    json!({
        "raw_path": path(request),
        "method": request.method,
        "headers": headers,
        "query_string_parameters": query,
        "body": body,
        "is_base64_encoded": base64,
    })
}

/// `{"name": ["value", ...]}`, every value of a repeated name in its list, in order.
fn lists_of_values(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        match map.get_mut(&name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                map.insert(name, json!([value]));
            }
        }
    }
    map
}

fn path<'a>(request: &Request<'a>) -> &'a str {
    request
        .target
        .split_once('?')
        .map_or(request.target, |(path, _)| path)
}

/// The request's headers with lowercase names, plus the `x-forwarded-for` Lattice adds.
fn lattice_headers(request: &Request) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .filter(|(name, _)| name != "x-forwarded-for")
        .collect();
    headers.push(("x-forwarded-for".into(), request.source_ip.to_string()));
    headers
}

/// The query's `(name, value)` pairs, decoded (`+` is a space).
fn query_pairs(request: &Request) -> Vec<(String, String)> {
    super::decoded_query(request.target.split_once('?').map_or("", |(_, q)| q))
}

/// The body and whether it is base64, by Lattice's content-type rule.
fn body(request: &Request) -> (String, bool) {
    let content_type = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let textual = content_type.starts_with("text/")
        || [
            "application/json",
            "application/xml",
            "application/javascript",
        ]
        .iter()
        .any(|t| content_type.starts_with(t));
    match std::str::from_utf8(request.body) {
        Ok(text) if textual || request.body.is_empty() => (text.to_string(), false),
        _ => (STANDARD.encode(request.body), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> Vec<(String, String)> {
        vec![
            ("Host".into(), "svc.example".into()),
            ("Content-Type".into(), content_type.into()),
            ("X-Multi".into(), "one".into()),
            ("x-multi".into(), "two".into()),
        ]
    }

    fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Request<'a> {
        Request {
            method: "POST",
            target: "/a/b?x=1&y=hello%20world&x=2",
            headers,
            body,
            source_ip: "10.0.0.7",
        }
    }

    #[test]
    fn v2_events_carry_lists_and_the_lattice_context() {
        let headers = headers("application/json");
        let e = v2_event(&request(&headers, br#"{"k":1}"#));
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["path"], "/a/b");
        assert_eq!(e["method"], "POST");
        assert_eq!(e["headers"]["x-multi"], json!(["one", "two"]));
        assert_eq!(e["headers"]["x-forwarded-for"], json!(["10.0.0.7"]));
        assert_eq!(e["queryStringParameters"]["x"], json!(["1", "2"]));
        assert_eq!(e["queryStringParameters"]["y"], json!(["hello world"]));
        assert_eq!(e["body"], r#"{"k":1}"#);
        assert_eq!(e["isBase64Encoded"], false);
        assert!(
            e["requestContext"]["serviceArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:vpc-lattice:")
        );
        assert!(e["requestContext"]["timeEpoch"].is_string());
    }

    #[test]
    fn v1_events_join_headers_and_keep_the_last_query_value() {
        let headers = headers("application/json");
        let e = v1_event(&request(&headers, br#"{"k":1}"#));
        assert_eq!(e["raw_path"], "/a/b");
        assert_eq!(e["headers"]["x-multi"], "one, two");
        assert_eq!(e["query_string_parameters"]["x"], "2");
        assert_eq!(e["is_base64_encoded"], false);
        assert!(e.get("requestContext").is_none());
    }

    #[test]
    fn bodies_are_base64_unless_lattice_calls_them_text() {
        let headers = headers("application/x-www-form-urlencoded");
        let r = request(&headers, b"a=1");
        for e in [v2_event(&r), v1_event(&r)] {
            let flag = e.get("isBase64Encoded").or(e.get("is_base64_encoded"));
            assert_eq!(flag, Some(&json!(true)), "{e}");
            assert_eq!(e["body"], STANDARD.encode(b"a=1"));
        }
        assert_eq!(v2_event(&request(&headers, b""))["isBase64Encoded"], false);
    }
}
