//! The front door: plain HTTP in, an event through the Runtime API, the function's answer
//! back out as HTTP, the way API Gateway, a Function URL or an ALB would turn it around.
//! Streamed responses are relayed chunk by chunk as the adapter posts them.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::events::{EventFormat, PlainRequest, build_event};
use super::runtime_http::{Exchange, HttpServer};
use super::runtime_api::{Delivery, InvokeError, Invoker};
use super::{InvokeOptions, PostKind, new_id, split_prelude};

/// Largest request body accepted (Lambda's own invocation payload limit).
const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Largest streamed prelude accepted before giving up on finding its end.
const MAX_PRELUDE_BYTES: usize = 1024 * 1024;
/// Response headers the front door frames itself.
const FRAMING_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// An HTTP response rebuilt from the function's response JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The serving front door. Stops when dropped.
pub struct FrontDoor {
    server: HttpServer,
}

impl FrontDoor {
    /// Serves on `listen`; each request becomes one invocation through `invoker`.
    pub fn start(
        listen: &str,
        format: EventFormat,
        invoker: Invoker,
        options: InvokeOptions,
    ) -> Result<FrontDoor, String> {
        let handler =
            Arc::new(move |ex: &mut Exchange<'_>| serve(ex, format, &invoker, options.clone()));
        let server = HttpServer::start(listen, "front-door", handler)
            .map_err(|e| format!("cannot serve the front door: {e}"))?;
        Ok(FrontDoor { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

fn plain_request(ex: &mut Exchange<'_>) -> Result<PlainRequest, String> {
    let body = ex
        .body_to_vec(MAX_REQUEST_BYTES)
        .map_err(|e| format!("reading the request body failed: {e}"))?;
    Ok(PlainRequest {
        method: ex.method.clone(),
        target: ex.target.clone(),
        headers: ex.headers.clone(),
        body,
        source_ip: ex
            .peer
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
    })
}

fn text_response(ex: &mut Exchange<'_>, status: u16, message: &str) {
    respond(
        ex,
        status,
        &[("content-type", "text/plain; charset=utf-8")],
        message.as_bytes(),
    );
}

fn respond(ex: &mut Exchange<'_>, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    if let Err(e) = ex.respond(status, headers, body) {
        eprintln!("lambda-emulator: could not answer the client: {e}");
    }
}

fn serve(ex: &mut Exchange<'_>, format: EventFormat, invoker: &Invoker, options: InvokeOptions) {
    let plain = match plain_request(ex) {
        Ok(plain) => plain,
        Err(message) => return text_response(ex, 400, &message),
    };
    let request_id = new_id();
    let event = build_event(format, &plain, &request_id);
    let mut pending = invoker.submit(
        event,
        InvokeOptions {
            request_id: Some(request_id),
            ..options
        },
    );

    let mut kind = PostKind::Response;
    let mut body = Vec::new();
    loop {
        match pending.next_delivery() {
            Ok(Delivery::Started { .. }) => {}
            Ok(Delivery::Head { kind: k, .. }) => {
                kind = k;
                if kind == PostKind::Streamed {
                    return relay_stream(ex, &mut pending);
                }
            }
            Ok(Delivery::Chunk(data)) => body.extend_from_slice(&data),
            Ok(Delivery::End) => break,
            Ok(Delivery::Failed(why)) => return text_response(ex, 502, &why),
            Err(e @ InvokeError::NotPickedUp(_)) => return text_response(ex, 503, &e.to_string()),
            Err(e) => return text_response(ex, 504, &e.to_string()),
        }
    }
    if kind == PostKind::Error {
        eprintln!(
            "lambda-emulator: the function reported an error: {}",
            String::from_utf8_lossy(&body)
        );
        let headers = [
            ("content-type", "application/json"),
            ("x-amz-function-error", "Unhandled"),
        ];
        return respond(ex, 502, &headers, &body);
    }
    match http_response(format, &body) {
        Ok(response) => {
            let headers = sendable_headers(&response.headers);
            respond(ex, response.status, &headers, &response.body);
        }
        Err(why) => {
            eprintln!("lambda-emulator: {why}");
            text_response(ex, 502, &why);
        }
    }
}

/// The function's headers minus those the front door frames itself.
fn sendable_headers(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter(|(n, _)| !FRAMING_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
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
            EventFormat::V1 | EventFormat::Alb => {
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
        if !in_multi && !value.is_null() {
            headers.push((name.clone(), scalar(value)));
        }
    }
    for cookie in object
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        headers.push(("set-cookie".into(), scalar(cookie)));
    }
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

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Relays a streamed response: waits for the prelude, writes the head, then each chunk as it
/// arrives. A stream that breaks off is cut off for the client too: the connection closes
/// without the final chunk, so the client sees an error rather than a complete-looking body.
fn relay_stream(ex: &mut Exchange<'_>, pending: &mut super::Pending) {
    let mut buffered = Vec::new();
    let mut ended = false;
    let (head, rest) = loop {
        if let Some((prelude, rest)) = split_prelude(&buffered) {
            break (prelude_response(prelude), rest.to_vec());
        }
        if ended || buffered.len() > MAX_PRELUDE_BYTES {
            // No separator: the whole stream is a 200 body.
            let body = std::mem::take(&mut buffered);
            break (
                Ok(HttpResponse {
                    status: 200,
                    headers: Vec::new(),
                    body: Vec::new(),
                }),
                body,
            );
        }
        match pending.next_delivery() {
            Ok(Delivery::Chunk(data)) => buffered.extend_from_slice(&data),
            Ok(Delivery::End) => ended = true,
            Ok(Delivery::Failed(why)) => return text_response(ex, 502, &why),
            Ok(_) => {}
            Err(e) => return text_response(ex, 504, &e.to_string()),
        }
    };
    let head = match head {
        Ok(head) => head,
        Err(why) => return text_response(ex, 502, &why),
    };
    let result = (|| -> std::io::Result<()> {
        ex.start_chunked(head.status, &sendable_headers(&head.headers))?;
        ex.write_chunk(&rest)?;
        if ended {
            return ex.finish_chunked();
        }
        loop {
            match pending.next_delivery() {
                Ok(Delivery::Chunk(data)) => ex.write_chunk(&data)?,
                Ok(Delivery::End) => return ex.finish_chunked(),
                Ok(Delivery::Failed(why)) => {
                    eprintln!("lambda-emulator: cutting off the streamed response: {why}");
                    ex.abort();
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("lambda-emulator: cutting off the streamed response: {e}");
                    ex.abort();
                    return Ok(());
                }
            }
        }
    })();
    if let Err(e) = result {
        eprintln!("lambda-emulator: the client went away during a streamed response: {e}");
    }
}

/// The status, headers and cookies of a streamed response's prelude.
fn prelude_response(prelude: &[u8]) -> Result<HttpResponse, String> {
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
        headers.push((name.clone(), scalar(value)));
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
    for cookie in value
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        headers.push(("set-cookie".into(), scalar(cookie)));
    }
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
}
