//! A plain HTTP request turned into the event Lambda would deliver for it: API Gateway HTTP
//! API (payload 2.0), Function URL, API Gateway REST API (payload 1.0) or ALB. The shapes
//! follow AWS's documented sample events.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::decoded_query;

/// The event format the front door produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// API Gateway HTTP API, payload format 2.0.
    V2,
    /// Lambda Function URL (the 2.0 payload with Function URL context).
    FunctionUrl,
    /// API Gateway REST API, payload format 1.0.
    V1,
    /// Application Load Balancer, target group as created (multi-value headers off):
    /// `headers` and `queryStringParameters`, the last value of a repeated name.
    Alb,
    /// Application Load Balancer, target group with `lambda.multi_value_headers.enabled`:
    /// `multiValueHeaders` and `multiValueQueryStringParameters`, every value.
    AlbMulti,
    /// Amazon VPC Lattice, Lambda event structure version 2.0 (`lattice`).
    Lattice,
    /// Amazon VPC Lattice, Lambda event structure version 1.0 (`lattice-v1`).
    LatticeV1,
}

impl EventFormat {
    /// The `--source` name.
    pub fn name(self) -> &'static str {
        match self {
            EventFormat::V2 => "v2",
            EventFormat::FunctionUrl => "url",
            EventFormat::V1 => "v1",
            EventFormat::Alb => "alb",
            EventFormat::AlbMulti => "alb-multi",
            EventFormat::Lattice => "lattice",
            EventFormat::LatticeV1 => "lattice-v1",
        }
    }
}

impl std::fmt::Display for EventFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EventFormat::V2 => "API Gateway HTTP API events, payload 2.0",
            EventFormat::FunctionUrl => "Function URL events",
            EventFormat::V1 => "API Gateway REST API events, payload 1.0",
            EventFormat::Alb => "ALB events, multi-value headers off",
            EventFormat::AlbMulti => "ALB events, multi-value headers on",
            EventFormat::Lattice => "VPC Lattice events, structure 2.0",
            EventFormat::LatticeV1 => "VPC Lattice events, structure 1.0",
        })
    }
}

impl std::str::FromStr for EventFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<EventFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "v2" => Ok(EventFormat::V2),
            "url" => Ok(EventFormat::FunctionUrl),
            "v1" => Ok(EventFormat::V1),
            "alb" => Ok(EventFormat::Alb),
            "alb-multi" => Ok(EventFormat::AlbMulti),
            "lattice" => Ok(EventFormat::Lattice),
            "lattice-v1" => Ok(EventFormat::LatticeV1),
            _ => Err(format!(
                "unknown event source {s:?}: expected v2, url, v1, alb, alb-multi, lattice or lattice-v1"
            )),
        }
    }
}

/// An HTTP request as a client sent it.
#[derive(Debug, Clone, Default)]
pub struct PlainRequest {
    pub method: String,
    /// `/path?query` as received.
    pub target: String,
    /// In order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

impl PlainRequest {
    fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    fn raw_query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn host(&self) -> String {
        self.header("host").unwrap_or("localhost").to_string()
    }

    /// The body as the event carries it: text when it is UTF-8 with a textual content type,
    /// base64 otherwise. `None` for an empty body.
    fn event_body(&self) -> (Option<String>, bool) {
        if self.body.is_empty() {
            return (None, false);
        }
        let textual = self.header("content-type").is_some_and(is_text_type);
        match std::str::from_utf8(&self.body) {
            Ok(text) if textual => (Some(text.to_string()), false),
            _ => (Some(STANDARD.encode(&self.body)), true),
        }
    }
}

fn is_text_type(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || [
            "json",
            "xml",
            "javascript",
            "x-www-form-urlencoded",
            "yaml",
            "graphql",
        ]
        .iter()
        .any(|t| ct.contains(t))
}

/// `(name, value)` pairs of a raw query, left encoded (as ALB passes them).
fn raw_query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (part.to_string(), String::new()),
        })
        .collect()
}

/// The last value per name, and every value per name, in first-seen order.
fn single_and_multi(pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), Value::from(value.as_str()));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::from(value.as_str())),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    (single, multi)
}

/// Header names lowercased, repeated values joined with `,` (as the v2 payload does).
fn joined_lowercase_headers(headers: &[(String, String)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let joined = match map.get(&name).and_then(Value::as_str) {
            Some(previous) => format!("{previous},{value}"),
            None => value.clone(),
        };
        map.insert(name, Value::from(joined));
    }
    map
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` for `epoch_ms`.
pub fn request_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = MONTHS.get((month - 1) as usize).copied().unwrap_or("Jan");
    format!(
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The event JSON for `request`; `request_id` goes into `requestContext.requestId`.
pub fn build_event(format: EventFormat, request: &PlainRequest, request_id: &str) -> Vec<u8> {
    let event = match format {
        EventFormat::V2 => v2_event(request, request_id, false),
        EventFormat::FunctionUrl => v2_event(request, request_id, true),
        EventFormat::V1 => v1_event(request, request_id),
        EventFormat::Alb => alb_event(request, false),
        EventFormat::AlbMulti => alb_event(request, true),
        EventFormat::Lattice => super::lattice_events::v2_event(&lattice_request(request)),
        EventFormat::LatticeV1 => super::lattice_events::v1_event(&lattice_request(request)),
    };
    event.to_string().into_bytes()
}

fn lattice_request(request: &PlainRequest) -> super::lattice_events::Request<'_> {
    super::lattice_events::Request {
        method: &request.method,
        target: &request.target,
        headers: &request.headers,
        body: &request.body,
        source_ip: &request.source_ip,
    }
}

fn v2_event(request: &PlainRequest, request_id: &str, function_url: bool) -> Value {
    let now = super::now_ms();
    let host = request.host();
    let (api_id, domain_name) = if function_url {
        (
            "emulatedurlid".to_string(),
            "emulatedurlid.lambda-url.us-east-1.on.aws".to_string(),
        )
    } else {
        ("emulatedapi".to_string(), host.clone())
    };
    let domain_prefix = domain_name.split('.').next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("cookie"))
        .cloned()
        .collect();
    let cookies: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| {
            v.split(';')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!("$default"));
    event.insert("rawPath".into(), json!(request.path()));
    event.insert("rawQueryString".into(), json!(request.raw_query()));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert(
        "headers".into(),
        Value::Object(joined_lowercase_headers(&headers)),
    );
    let query = decoded_query(request.raw_query());
    if !query.is_empty() {
        let mut params = Map::new();
        for (name, value) in &query {
            let joined = match params.get(name).and_then(Value::as_str) {
                Some(previous) => format!("{previous},{value}"),
                None => value.clone(),
            };
            params.insert(name.clone(), Value::from(joined));
        }
        event.insert("queryStringParameters".into(), Value::Object(params));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": if function_url { "anonymous" } else { "123456789012" },
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method,
                "path": request.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent").unwrap_or(""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(now),
            "timeEpoch": now,
        }),
    );
    let (body, base64) = request.event_body();
    if let Some(body) = body {
        event.insert("body".into(), json!(body));
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

fn v1_event(request: &PlainRequest, request_id: &str) -> Value {
    let now = super::now_ms();
    let (headers, multi_headers) = single_and_multi(&request.headers);
    let query = decoded_query(request.raw_query());
    let (query_single, query_multi) = single_and_multi(&query);
    let or_null = |map: Map<String, Value>| {
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    };
    let path = request.path();
    let (body, base64) = request.event_body();
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": or_null(query_single),
        "multiValueQueryStringParameters": or_null(query_multi),
        "pathParameters": { "proxy": path.trim_start_matches('/') },
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "emulated",
            "path": path,
            "stage": "local",
            "domainName": request.host(),
            "requestId": request_id,
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent"),
            },
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method,
            "requestTime": request_time(now),
            "requestTimeEpoch": now,
            "apiId": "emulatedapi",
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// An ALB event. ALB passes the query as the client sent it (not decoded) and lowercases
/// header names; with multi-value headers off it keeps the last value of a repeated name.
fn alb_event(request: &PlainRequest, multi_value: bool) -> Value {
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    let (headers_single, headers_multi) = single_and_multi(&headers);
    let query = raw_query_pairs(request.raw_query());
    let (query_single, query_multi) = single_and_multi(&query);
    let (body, base64) = request.event_body();
    let mut event = Map::new();
    event.insert(
        "requestContext".into(),
        json!({
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-emulator/0123456789abcdef"
            }
        }),
    );
    event.insert("httpMethod".into(), json!(request.method));
    event.insert("path".into(), json!(request.path()));
    if multi_value {
        event.insert(
            "multiValueQueryStringParameters".into(),
            Value::Object(query_multi),
        );
        event.insert("multiValueHeaders".into(), Value::Object(headers_multi));
    } else {
        event.insert("queryStringParameters".into(), Value::Object(query_single));
        event.insert("headers".into(), Value::Object(headers_single));
    }
    event.insert("body".into(), json!(body.unwrap_or_default()));
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PlainRequest {
        PlainRequest {
            method: "POST".into(),
            target: "/a/b?x=1&y=hello%20world&x=2".into(),
            headers: vec![
                ("Host".into(), "localhost:3000".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Cookie".into(), "a=1; b=2".into()),
                ("X-Multi".into(), "one".into()),
                ("X-Multi".into(), "two".into()),
            ],
            body: br#"{"k":1}"#.to_vec(),
            source_ip: "127.0.0.1".into(),
        }
    }

    fn event(format: EventFormat, request: &PlainRequest) -> Value {
        serde_json::from_slice(&build_event(format, request, "req-1")).unwrap()
    }

    #[test]
    fn v2_event_has_raw_path_query_cookies_and_http_context() {
        let e = event(EventFormat::V2, &request());
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["rawPath"], "/a/b");
        assert_eq!(e["rawQueryString"], "x=1&y=hello%20world&x=2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["headers"]["x-multi"], "one,two");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["queryStringParameters"]["x"], "1,2");
        assert_eq!(e["queryStringParameters"]["y"], "hello world");
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["requestContext"]["requestId"], "req-1");
        assert_eq!(e["body"], r#"{"k":1}"#);
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn function_url_event_names_a_lambda_url_domain() {
        let e = event(EventFormat::FunctionUrl, &request());
        assert!(
            e["requestContext"]["domainName"]
                .as_str()
                .unwrap()
                .ends_with(".lambda-url.us-east-1.on.aws")
        );
        assert_eq!(e["requestContext"]["http"]["path"], "/a/b");
    }

    #[test]
    fn v1_event_has_the_rest_api_shape() {
        let e = event(EventFormat::V1, &request());
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["path"], "/a/b");
        assert_eq!(e["requestContext"]["httpMethod"], "POST");
        assert_eq!(e["multiValueHeaders"]["X-Multi"], json!(["one", "two"]));
        assert_eq!(e["headers"]["X-Multi"], "two");
        assert_eq!(e["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
        assert_eq!(e["queryStringParameters"]["y"], "hello world");
        assert_eq!(e["pathParameters"]["proxy"], "a/b");
    }

    #[test]
    fn alb_event_has_elb_context_and_undecoded_query() {
        let e = event(EventFormat::Alb, &request());
        assert!(e["requestContext"]["elb"]["targetGroupArn"].is_string());
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["queryStringParameters"]["y"], "hello%20world");
        assert_eq!(e["headers"]["cookie"], "a=1; b=2");
        // Multi-value headers off: the last value of a repeated name, no multi-value maps.
        assert_eq!(e["queryStringParameters"]["x"], "2");
        assert_eq!(e["headers"]["x-multi"], "two");
        assert!(e.get("multiValueHeaders").is_none());
        assert!(e.get("multiValueQueryStringParameters").is_none());
    }

    #[test]
    fn alb_multi_value_event_keeps_every_value() {
        let e = event(EventFormat::AlbMulti, &request());
        assert_eq!(e["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
        assert_eq!(
            e["multiValueQueryStringParameters"]["y"],
            json!(["hello%20world"])
        );
        assert_eq!(e["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
        assert_eq!(e["multiValueHeaders"]["cookie"], json!(["a=1; b=2"]));
        assert!(e.get("headers").is_none());
        assert!(e.get("queryStringParameters").is_none());
    }

    #[test]
    fn binary_bodies_are_base64() {
        let mut r = request();
        r.headers.retain(|(n, _)| n != "Content-Type");
        r.headers
            .push(("Content-Type".into(), "application/octet-stream".into()));
        r.body = vec![0, 159, 146, 150, 255];
        for format in [
            EventFormat::V2,
            EventFormat::V1,
            EventFormat::Alb,
            EventFormat::AlbMulti,
        ] {
            let e = event(format, &r);
            assert_eq!(e["isBase64Encoded"], true, "{format:?}");
            assert_eq!(
                STANDARD.decode(e["body"].as_str().unwrap()).unwrap(),
                r.body
            );
        }
    }

    #[test]
    fn request_time_is_the_api_gateway_format() {
        assert_eq!(
            request_time(1_587_481_701_067),
            "21/Apr/2020:15:08:21 +0000"
        );
        assert_eq!(
            request_time(1_673_437_534_837),
            "11/Jan/2023:11:45:34 +0000"
        );
    }
}
