//! VPC Lattice events end to end (DECISIONS 32): AWS's sample events through the real
//! `lambda-adapter` binary to a scripted app and back in Lattice's response format, and plain
//! HTTP through the real `lambda-emulator --source lattice` / `lattice-v1` front door.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events/lattice")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The keys of a response document, sorted.
fn keys(response: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = response
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn lattice_v2_sample_reaches_the_app_and_the_response_is_lattice_shaped() {
    let h = Harness::start(&[], |_| {
        Reply::new(201, "application/json", r#"{"ok":true}"#)
            .header("Set-Cookie", "a=1; Path=/")
            .header("Set-Cookie", "b=2")
            .header("X-Dup", "1")
            .header("X-Dup", "2")
    });
    let mut event = sample("lattice-v2-user-guide.json");
    event["method"] = json!("POST");
    event["path"] = json!("/orders/42");
    event["headers"]["accept"] = json!(["application/json", "text/plain"]);
    event["headers"]["cookie"] = json!(["c=3", "d=4"]);
    event["queryStringParameters"]["key"] = json!(["one", "two & three"]);
    event["body"] = json!(b64encode(&[0, 1, 2, 0xff]));
    event["isBase64Encoded"] = json!(true);
    let response = h.response(&event);

    let request = h.app.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/orders/42?key=one&key=two+%26+three");
    assert_eq!(request.headers_named("header-key"), ["header-value"]);
    assert_eq!(
        request.headers_named("accept"),
        ["application/json", "text/plain"]
    );
    assert_eq!(request.headers_named("cookie"), ["c=3; d=4"]);
    assert_eq!(request.body, [0, 1, 2, 0xff]);
    let context: Value =
        serde_json::from_str(request.header("x-amzn-request-context").unwrap()).unwrap();
    assert_eq!(context, event["requestContext"]);

    assert_eq!(
        keys(&response),
        ["body", "headers", "isBase64Encoded", "statusCode"]
    );
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["body"], r#"{"ok":true}"#);
    assert_eq!(response["isBase64Encoded"], false);
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(
        response["headers"]["set-cookie"],
        json!(["a=1; Path=/", "b=2"])
    );
    assert_eq!(response["headers"]["x-dup"], "1, 2");
}

#[test]
fn lattice_v1_sample_reaches_the_app_and_binary_answers_are_base64() {
    let h = Harness::start(&[], |_| {
        Reply::new(200, "image/png", vec![0x89, b'P', 0xff])
    });
    let event = sample("lattice-v1-powertools.json");
    let response = h.response(&event);

    let request = h.app.only_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/testpath?order-id=1");
    assert_eq!(request.header("user_agent"), Some("curl/7.64.1"));
    assert_eq!(
        request.header("host"),
        Some("test-lambda-service-3908sdf9u3u.dkfjd93.vpc-lattice-svcs.us-east-2.on.aws")
    );
    assert_eq!(request.body, br#"{"test": "event"}"#);
    assert_eq!(request.header("x-amzn-request-context"), Some("null"));
    assert!(request.header("x-amzn-lambda-context").is_some());

    assert_eq!(
        keys(&response),
        ["body", "headers", "isBase64Encoded", "statusCode"]
    );
    assert_eq!(response["isBase64Encoded"], true);
    assert_eq!(
        b64decode(response["body"].as_str().unwrap()),
        [0x89, b'P', 0xff]
    );
}

#[test]
fn malformed_lattice_events_get_a_400_and_never_reach_the_app() {
    let h = Harness::start(&[], |_| Reply::text("should not be called"));
    let mut bad_body = sample("lattice-v2-user-guide.json");
    bad_body["isBase64Encoded"] = json!(true);
    bad_body["body"] = json!("not*base64!");
    let mut bad_header = sample("lattice-v1-user-guide.json");
    bad_header["headers"]["x-evil"] = json!("a\r\nx-injected: 1");
    for event in [bad_body, bad_header] {
        let response = h.response(&event);
        assert_eq!(response["statusCode"], 400, "{response}");
        assert_eq!(
            keys(&response),
            ["body", "headers", "isBase64Encoded", "statusCode"]
        );
        assert!(
            response["body"]
                .as_str()
                .unwrap()
                .starts_with("Bad Request")
        );
    }
    assert!(h.app.requests().is_empty(), "{:#?}", h.app.requests());
}

/// `lambda-emulator` serving a front door for `source`, killed on Drop.
struct FrontDoorProcess {
    child: Child,
    listen: String,
}

impl FrontDoorProcess {
    fn start(source: &str, app_port: u16) -> FrontDoorProcess {
        let listen = format!("127.0.0.1:{}", free_port());
        let runtime_api = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_lambda-emulator"))
            .args(["--runtime-api", &runtime_api, "--listen", &listen])
            .args(["--source", source, "--adapter", ADAPTER, "--timeout", "10"])
            .args(["--", "sleep", "600"])
            .env("AWS_LWA_PORT", app_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let door = FrontDoorProcess { child, listen };
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&door.listen).is_err() {
            assert!(Instant::now() < until, "no front door on {}", door.listen);
            std::thread::sleep(Duration::from_millis(20));
        }
        door
    }
}

impl Drop for FrontDoorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_emulator_serves_plain_http_as_lattice_events_of_both_versions() {
    let app = TestApp::start(|r| {
        Reply::new(200, "application/octet-stream", r.body.clone())
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
    });
    for source in ["lattice", "lattice-v1"] {
        let door = FrontDoorProcess::start(source, app.port);
        let (status, headers, body) = http_request(
            &door.listen,
            "PUT",
            "/items/7?tag=a%20b&tag=c",
            &[
                ("Content-Type", "application/octet-stream"),
                ("X-Multi", "1"),
                ("X-Multi", "2"),
            ],
            &[0, 0xff, 7],
        );
        assert_eq!(status, 200, "{source}");
        assert_eq!(body, [0, 0xff, 7], "{source}");
        let cookies: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"], "{source}");

        let request = app
            .requests()
            .into_iter()
            .rfind(|r| r.method == "PUT")
            .unwrap();
        assert_eq!(request.body, [0, 0xff, 7], "{source}");
        assert_eq!(request.header("x-forwarded-for"), Some("127.0.0.1"));
        let context = request.header("x-amzn-request-context").unwrap();
        if source == "lattice" {
            // 2.0: every value of a repeated key or header, and the Lattice context.
            assert_eq!(request.target, "/items/7?tag=a+b&tag=c");
            assert_eq!(request.headers_named("x-multi"), ["1", "2"]);
            let context: Value = serde_json::from_str(context).unwrap();
            assert!(
                context["targetGroupArn"]
                    .as_str()
                    .unwrap()
                    .starts_with("arn:aws:vpc-lattice:"),
                "{context}"
            );
        } else {
            // 1.0: Lattice joins repeated headers and keeps the last value of a query key.
            assert_eq!(request.target, "/items/7?tag=c");
            assert_eq!(request.headers_named("x-multi"), ["1, 2"]);
            assert_eq!(context, "null");
        }
    }
}
