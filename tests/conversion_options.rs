//! Beyond upstream, through the real `lambda-adapter` binary, for every event source and both
//! invoke modes:
//! - hop-by-hop response headers never reach Lambda (DECISIONS 23), and
//!   `AWS_LWA_REMOVE_RESPONSE_HEADERS` drops more;
//! - `AWS_LWA_EVENT_FIELDS_AS_HEADERS` hands API Gateway path parameters and stage variables
//!   to the app, and a client can never send those headers itself (DECISIONS 33);
//! - `x-lambda-http-content-encoding: binary` forces a base64 body and is not passed on
//!   (DECISIONS 34).

mod common;

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One event of every HTTP source, all asking for `/`.
fn events_of_every_source() -> Vec<(&'static str, Value)> {
    vec![
        ("HTTP API", v2_event("GET", "/", "")),
        ("REST", fixture("http/example-apigw-request.json")),
        (
            "ALB",
            fixture("http/example-alb-lambda-target-request-headers-only.json"),
        ),
        (
            "ALB multi-value",
            fixture("http/example-alb-lambda-target-request-multivalue-headers.json"),
        ),
        ("Lattice 2.0", fixture("lattice/lattice-v2-user-guide.json")),
        ("Lattice 1.0", fixture("lattice/lattice-v1-user-guide.json")),
    ]
}

/// Every header name in a response document or prelude, lowercase: the keys of `headers`
/// and `multiValueHeaders`.
fn header_names(response: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for map in ["headers", "multiValueHeaders"] {
        if let Some(object) = response.get(map).and_then(Value::as_object) {
            names.extend(object.keys().map(|k| k.to_ascii_lowercase()));
        }
    }
    names
}

/// An app that answers with every kind of header a proxy must not pass on, and two that
/// users like to hide.
fn chatty_app(r: &Received) -> Reply {
    Reply::new(200, "text/plain", format!("you asked for {}", r.target))
        .header("Connection", "keep-alive, X-Hop-Secret")
        .header("Keep-Alive", "timeout=5, max=100")
        .header("Proxy-Connection", "keep-alive")
        .header("Upgrade", "h2c")
        .header("TE", "trailers")
        .header("Trailer", "X-Checksum")
        .header("X-Hop-Secret", "for the next hop only")
        .header("Server", "test-app/1.0")
        .header("X-Powered-By", "tests")
        .header("X-Kept", "yes")
}

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "x-hop-secret",
];

#[test]
fn hop_by_hop_headers_never_reach_lambda_from_any_source() {
    let h = Harness::start(&[], chatty_app);
    for (source, event) in events_of_every_source() {
        let response = h.response(&event);
        assert_eq!(response["statusCode"], 200, "{source}: {response}");
        let names = header_names(&response);
        for hop in HOP_BY_HOP {
            assert!(
                !names.iter().any(|n| n == hop),
                "{source}: {hop} in {response}"
            );
        }
        for kept in ["x-kept", "server", "x-powered-by", "content-type"] {
            assert!(
                names.iter().any(|n| n == kept),
                "{source}: {kept} missing: {response}"
            );
        }
    }
}

#[test]
fn listed_response_headers_are_removed_too_buffered_and_streamed() {
    for mode in ["buffered", "response_stream"] {
        let h = Harness::start(
            &[
                ("AWS_LWA_REMOVE_RESPONSE_HEADERS", "Server, x-powered-by"),
                ("AWS_LWA_INVOKE_MODE", mode),
            ],
            chatty_app,
        );
        for (source, event) in events_of_every_source() {
            let posted = h.invoke(&event);
            let document = match mode {
                "buffered" => posted.json().unwrap(),
                _ => {
                    let (prelude, body) = posted.stream_parts().expect("a streamed response");
                    assert!(body.starts_with(b"you asked for /"), "{source}: {body:?}");
                    prelude
                }
            };
            let names = header_names(&document);
            for gone in HOP_BY_HOP.iter().chain(&["server", "x-powered-by"]) {
                assert!(
                    !names.iter().any(|n| n == gone),
                    "{mode} {source}: {gone} in {document}"
                );
            }
            assert!(
                names.iter().any(|n| n == "x-kept"),
                "{mode} {source}: {document}"
            );
        }
    }
}

#[test]
fn a_bad_header_list_is_a_start_up_error_naming_the_variable() {
    for (variable, value) in [
        ("AWS_LWA_REMOVE_RESPONSE_HEADERS", "server, x powered by"),
        ("AWS_LWA_EVENT_FIELDS_AS_HEADERS", "maybe"),
    ] {
        let api = RuntimeApi::start("127.0.0.1:0").unwrap();
        let mut adapter = Adapter::spawn(&api.addr().to_string(), &[(variable, value.to_string())]);
        let status: ExitStatus = adapter
            .wait_exit(Duration::from_secs(15))
            .expect("the adapter exits on a bad configuration");
        assert_eq!(status.code(), Some(1));
        assert!(adapter.output().contains(variable), "{}", adapter.output());
        let errors = api.init_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].body.contains(variable), "{}", errors[0].body);
        assert_eq!(api.next_polls(), 0);
    }
}

#[test]
fn path_parameters_and_stage_variables_reach_the_app_only_when_asked() {
    let mut rest = fixture("http/example-apigw-request.json");
    rest["stageVariables"] = json!({"backend": "blue", "version": "7"});
    rest["headers"]["X-Amzn-Path-Parameters"] = json!("{\"spoofed\":true}");
    rest["multiValueHeaders"]["x-amzn-stage-variables"] = json!(["{\"spoofed\":true}"]);
    let mut v2 = v2_event("GET", "/items/42", "");
    v2["pathParameters"] = json!({"id": "42"});
    v2["headers"]["x-amzn-path-parameters"] = json!("{\"spoofed\":true}");

    // Off (the default): neither header, whatever the client sent.
    let h = Harness::start(&[], |_| Reply::text("ok"));
    for event in [&rest, &v2, &fixture("lattice/lattice-v2-user-guide.json")] {
        h.response(event);
    }
    for request in h.app.requests() {
        assert!(
            request.header("x-amzn-path-parameters").is_none(),
            "{request:?}"
        );
        assert!(
            request.header("x-amzn-stage-variables").is_none(),
            "{request:?}"
        );
    }

    // On: the event's own objects, once each; `null` where the event has none.
    let h = Harness::start(&[("AWS_LWA_EVENT_FIELDS_AS_HEADERS", "on")], |_| {
        Reply::text("ok")
    });
    h.response(&rest);
    h.response(&v2);
    h.response(&fixture("lattice/lattice-v2-user-guide.json"));
    let requests = h.app.requests();
    let parsed = |r: &Received, name: &str| -> Value {
        assert_eq!(r.headers_named(name).len(), 1, "{name} in {r:?}");
        serde_json::from_str(r.header(name).unwrap()).unwrap()
    };
    assert_eq!(
        parsed(&requests[0], "x-amzn-path-parameters"),
        rest["pathParameters"]
    );
    assert_eq!(
        parsed(&requests[0], "x-amzn-stage-variables"),
        json!({"backend": "blue", "version": "7"})
    );
    assert_eq!(
        parsed(&requests[1], "x-amzn-path-parameters"),
        json!({"id": "42"})
    );
    assert_eq!(parsed(&requests[1], "x-amzn-stage-variables"), Value::Null);
    assert_eq!(parsed(&requests[2], "x-amzn-path-parameters"), Value::Null);
    assert_eq!(parsed(&requests[2], "x-amzn-stage-variables"), Value::Null);
}

#[test]
fn a_binary_marker_sends_base64_and_is_not_passed_on() {
    let app = |r: &Received| {
        let marker = if r.target.starts_with("/text") {
            "text"
        } else {
            "Binary"
        };
        Reply::new(200, "text/plain; charset=utf-8", "héllo")
            .header("X-Lambda-Http-Content-Encoding", marker)
    };
    let h = Harness::start(&[], app);
    for (source, mut event) in events_of_every_source() {
        let response = h.response(&event);
        assert_eq!(response["isBase64Encoded"], true, "{source}: {response}");
        assert_eq!(
            b64decode(response["body"].as_str().unwrap()),
            "héllo".as_bytes(),
            "{source}"
        );
        assert!(
            !header_names(&response).contains(&"x-lambda-http-content-encoding".to_string()),
            "{source}: {response}"
        );
        // Upstream's `text` marker still means text, and is still passed on.
        for path_field in ["rawPath", "path", "raw_path"] {
            if event.get(path_field).is_some() {
                event[path_field] = json!("/text");
            }
        }
        let response = h.response(&event);
        assert_eq!(response["isBase64Encoded"], false, "{source}: {response}");
        assert!(
            header_names(&response).contains(&"x-lambda-http-content-encoding".to_string()),
            "{source}: {response}"
        );
    }

    // Streamed: the body goes as it is, and the marker is not in the prelude.
    let h = Harness::start(&[("AWS_LWA_INVOKE_MODE", "response_stream")], app);
    let posted = h.invoke(&v2_event("GET", "/", ""));
    let (prelude, body) = posted.stream_parts().expect("a streamed response");
    assert_eq!(body, "héllo".as_bytes());
    assert!(
        !header_names(&prelude).contains(&"x-lambda-http-content-encoding".to_string()),
        "{prelude}"
    );
}
