//! Compression through the worker: the event's Accept-Encoding decides, the app's response is
//! compressed in the buffered Lambda response (std-only in-test app server).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use lambda_adapter::config::Config;
use lambda_adapter::lambda::invocation::{Invocation, now_ms};
use lambda_adapter::reply::Reply;
use lambda_adapter::worker::Worker;

/// An app that answers one request with `response` and hands back the request head it got.
fn app_server(response: Vec<u8>) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        stream.write_all(&response).unwrap();
        String::from_utf8(head).unwrap()
    });
    (addr, handle)
}

fn v2_event(accept_encoding: Option<&str>) -> Vec<u8> {
    let mut headers = serde_json::json!({ "host": "example.com" });
    if let Some(value) = accept_encoding {
        headers["accept-encoding"] = value.into();
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/page",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "example.com",
            "domainPrefix": "example",
            "http": { "method": "GET", "path": "/page", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test" },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390u64
        },
        "isBase64Encoded": false
    })
    .to_string()
    .into_bytes()
}

/// One buffered invocation with compression enabled; the response JSON.
fn invoke(accept_encoding: Option<&str>, app_response: &[u8]) -> serde_json::Value {
    let (app, app_thread) = app_server(app_response.to_vec());
    let vars = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9".to_string()),
        ("AWS_LWA_PORT", app.port().to_string()),
        ("AWS_LWA_ENABLE_COMPRESSION", "true".to_string()),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let deadline = (now_ms() + 30_000).to_string();
    let invocation = Invocation::from_headers(
        "req-1".into(),
        |name| (name == "lambda-runtime-deadline-ms").then_some(deadline.as_str()),
        v2_event(accept_encoding),
    );
    let reply = Worker::new(&config, true).handle(&invocation);
    let request = app_thread.join().unwrap();
    if let Some(value) = accept_encoding {
        assert!(
            request.contains(&format!("accept-encoding: {value}\r\n")),
            "the app sees the original header"
        );
    }
    match reply {
        Reply::Response(json) => serde_json::from_slice(&json).unwrap(),
        _ => panic!("expected a buffered response"),
    }
}

fn page() -> Vec<u8> {
    (0..200)
        .flat_map(|i| format!("<li>item {i}: some repetitive page text</li>\n").into_bytes())
        .collect()
}

fn response(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn decoded_body(json: &serde_json::Value) -> Vec<u8> {
    let body = json["body"].as_str().unwrap();
    assert_eq!(json["isBase64Encoded"], true, "a compressed body is base64");
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn gzip_when_the_client_asks_for_it() {
    let json = invoke(Some("gzip, deflate"), &response("text/html", &page()));
    assert_eq!(json["headers"]["content-encoding"], "gzip");
    assert_eq!(json["headers"]["vary"], "accept-encoding");
    assert!(json["headers"].get("content-length").is_none());
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&decoded_body(&json)[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, page());
}

#[test]
fn brotli_wins_a_tie() {
    let json = invoke(Some("gzip, br"), &response("application/json", &page()));
    assert_eq!(json["headers"]["content-encoding"], "br");
    let mut plain = Vec::new();
    brotli::Decompressor::new(&decoded_body(&json)[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, page());
}

#[test]
fn no_accept_encoding_means_identity_with_vary() {
    let json = invoke(None, &response("text/html", &page()));
    assert!(json["headers"].get("content-encoding").is_none());
    assert_eq!(json["headers"]["vary"], "accept-encoding");
    assert_eq!(json["isBase64Encoded"], false);
    assert_eq!(json["body"].as_str().unwrap().as_bytes(), page());
}

#[test]
fn images_and_tiny_bodies_stay_as_they_are() {
    let json = invoke(Some("gzip"), &response("image/png", &page()));
    assert!(json["headers"].get("content-encoding").is_none());
    assert!(json["headers"].get("vary").is_none());
    assert_eq!(decoded_body(&json), page());

    let json = invoke(Some("gzip"), &response("text/plain", &[b'a'; 31]));
    assert!(json["headers"].get("content-encoding").is_none());
    assert_eq!(json["body"], "a".repeat(31));
}

/// The compressed bytes are upstream's, byte for byte (DECISIONS 27): the same JSON body as
/// upstream LWA 1.0.0-rc1 compressed it (tests/fixtures/compression/README.md), through the
/// whole adapter. A cache or a test that compares compressed bodies sees no change after the
/// swap; a change of brotli quality, window or crate version fails here.
#[test]
fn compressed_bytes_are_upstreams() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compression");
    let body = std::fs::read(dir.join("body.json")).unwrap();
    for (encoding, golden) in [("br", "upstream.br"), ("gzip", "upstream.gzip")] {
        let json = invoke(Some(encoding), &response("application/json", &body));
        assert_eq!(json["headers"]["content-encoding"], encoding, "{json}");
        let upstream = std::fs::read(dir.join(golden)).unwrap();
        assert!(
            decoded_body(&json) == upstream,
            "{encoding}: {} bytes, upstream's are {}",
            decoded_body(&json).len(),
            upstream.len()
        );
    }
}
