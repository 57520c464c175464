//! The function's answer read back as HTTP: a buffered response document, or the prelude of a
//! streamed one, turned into status, headers and body the way API Gateway, a Function URL, an
//! ALB or a VPC Lattice service would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::events::EventFormat;

/// An HTTP response rebuilt from the function's response JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Rebuilds the HTTP response from a buffered response document.
pub fn http_response(format: EventFormat, json: &[u8]) -> Result<HttpResponse, String> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| format!("the function's response is not JSON: {e}"))?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(object) = structured else {
        return match format {
            // HTTP APIs and Function URLs take any other JSON as a 200 application/json body.
            EventFormat::V2 | EventFormat::FunctionUrl => Ok(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: json.to_vec(),
            }),
            EventFormat::V1
            | EventFormat::Alb
            | EventFormat::AlbMulti
            | EventFormat::Lattice
            | EventFormat::LatticeV1 => {
                Err("Malformed Lambda proxy response: the response has no statusCode".to_string())
            }
        };
    };
    let status = match object.get("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    }
    .and_then(|s| u16::try_from(s).ok())
    .filter(|s| (100..=599).contains(s))
    .ok_or_else(|| {
        format!(
            "Malformed Lambda proxy response: invalid statusCode {:?}",
            object.get("statusCode")
        )
    })?;

    let mut headers = Vec::new();
    let multi = object.get("multiValueHeaders").and_then(Value::as_object);
    for (name, values) in multi.into_iter().flatten() {
        for value in values.as_array().into_iter().flatten() {
            headers.push((name.clone(), scalar(value)));
        }
    }
    for (name, value) in object
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let in_multi = multi.is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(name)));
        match value {
            _ if in_multi || value.is_null() => {}
            // VPC Lattice: several `set-cookie` values come as a list.
            Value::Array(values) => {
                headers.extend(values.iter().map(|v| (name.clone(), scalar(v))));
            }
            _ => headers.push((name.clone(), scalar(value))),
        }
    }
    push_cookies(&mut headers, object.get("cookies"));
    let body_text = match object.get("body") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let body = if object
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        STANDARD
            .decode(body_text.as_bytes())
            .map_err(|e| format!("the response body is not valid base64: {e}"))?
    } else {
        body_text.into_bytes()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Each of the `cookies` (HTTP APIs, Function URLs, streamed preludes) as a `set-cookie` header.
fn push_cookies(headers: &mut Vec<(String, String)>, cookies: Option<&Value>) {
    for cookie in cookies.and_then(Value::as_array).into_iter().flatten() {
        headers.push(("set-cookie".into(), scalar(cookie)));
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The status, headers and cookies of a streamed response's prelude.
pub fn prelude_response(prelude: &[u8]) -> Result<HttpResponse, String> {
    let value: Value = serde_json::from_slice(prelude)
        .map_err(|e| format!("the streamed response prelude is not JSON: {e}"))?;
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .unwrap_or(200);
    let mut headers = Vec::new();
    for (name, value) in value
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        // The streaming prelude writes a repeated header as a list of its values.
        match value.as_array() {
            Some(values) => headers.extend(values.iter().map(|v| (name.clone(), scalar(v)))),
            None => headers.push((name.clone(), scalar(value))),
        }
    }
    for (name, values) in value
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for value in values.as_array().into_iter().flatten() {
            headers.push((name.clone(), scalar(value)));
        }
    }
    push_cookies(&mut headers, value.get("cookies"));
    Ok(HttpResponse {
        status,
        headers,
        body: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_response_with_cookies_and_base64_body() {
        let json = br#"{"statusCode":201,"headers":{"content-type":"image/png","x-a":"1, 2"},"cookies":["a=1","b=2; Path=/"],"body":"AAEC","isBase64Encoded":true}"#;
        let r = http_response(EventFormat::V2, json).unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.body, vec![0, 1, 2]);
        assert!(
            r.headers
                .contains(&("set-cookie".into(), "b=2; Path=/".into()))
        );
        assert!(r.headers.contains(&("x-a".into(), "1, 2".into())));
    }

    #[test]
    fn v2_plain_json_is_a_200_body() {
        let r = http_response(EventFormat::V2, br#"{"hello":"world"}"#).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"hello":"world"}"#);
        assert!(http_response(EventFormat::V1, br#"{"hello":"world"}"#).is_err());
    }

    #[test]
    fn v1_multi_value_headers_win() {
        let json = br#"{"statusCode":200,"headers":{"x-a":"single","x-b":"b"},"multiValueHeaders":{"x-a":["1","2"]},"body":"hi"}"#;
        let r = http_response(EventFormat::V1, json).unwrap();
        let a: Vec<_> = r
            .headers
            .iter()
            .filter(|(n, _)| n == "x-a")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(a, ["1", "2"]);
        assert!(r.headers.contains(&("x-b".into(), "b".into())));
        assert_eq!(r.body, b"hi");
    }

    #[test]
    fn prelude_gives_status_headers_and_cookies() {
        let r = prelude_response(br#"{"statusCode":206,"headers":{"x-a":"1"},"cookies":["c=3"]}"#)
            .unwrap();
        assert_eq!(r.status, 206);
        assert_eq!(
            r.headers,
            vec![
                ("x-a".into(), "1".into()),
                ("set-cookie".into(), "c=3".into())
            ]
        );
    }

    #[test]
    fn a_prelude_header_list_is_repeated_headers() {
        let r = prelude_response(br#"{"statusCode":200,"headers":{"x-a":["1","2"],"x-b":"3"}}"#)
            .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("x-a".into(), "1".into()),
                ("x-a".into(), "2".into()),
                ("x-b".into(), "3".into())
            ]
        );
    }

    #[test]
    fn lattice_header_lists_are_repeated_headers() {
        let json = br#"{"statusCode":200,"headers":{"set-cookie":["a=1","b=2"],"x-a":"1"},"body":"aGk=","isBase64Encoded":true}"#;
        let r = http_response(EventFormat::Lattice, json).unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
                ("x-a".into(), "1".into())
            ]
        );
        assert_eq!(r.body, b"hi");
        assert!(http_response(EventFormat::LatticeV1, br#"{"a":1}"#).is_err());
    }
}
