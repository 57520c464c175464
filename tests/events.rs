//! Event conversion, both directions, for every event source: the exact request the app
//! receives (`AppRequest::to_wire()`) and the exact response JSON Lambda gets back.
//!
//! In-process and fast: no sockets. `tests/fixtures/events/{http,passthrough}` are copies of
//! the real sample events in `../shared/events`; `expected/*.http` is the request each HTTP
//! sample becomes, compared byte for byte. Those expectations were checked side by side with
//! the upstream adapter binary (a fake Runtime API and app on loopback); where they differ it
//! is on purpose: multi-value maps win (DECISIONS 6), event order instead of random order
//! (DECISIONS 7), framing and hop-by-hop headers are not forwarded (DECISIONS 9), and the
//! console sample's `{dns_suffix}` Host is forwarded where upstream aborts.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_adapter::app::AppRequest;
use lambda_adapter::app::response::ResponseHead;
use lambda_adapter::config::Config;
use lambda_adapter::event::{self, Rejected, Source};
use lambda_adapter::lambda::invocation::Invocation;

const DEADLINE: &str = "4102444800000";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:fn";
const LAMBDA_CONTEXT: &str = r#"{"request_id":"req-1","deadline":4102444800000,"invoked_function_arn":"arn:aws:lambda:us-east-1:123456789012:function:fn","xray_trace_id":null,"client_context":null,"identity":null,"tenant_id":null,"env_config":{"function_name":"fn","memory":128,"version":"$LATEST","log_stream":"","log_group":""}}"#;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events")
}

fn config_with(vars: &[(&str, &str)]) -> Config {
    let base = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ];
    Config::from_lookup(|name| {
        vars.iter()
            .chain(base.iter())
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn invocation_with(event: &[u8], next_headers: &[(&str, &str)]) -> Invocation {
    let base = [
        ("lambda-runtime-deadline-ms", DEADLINE),
        ("lambda-runtime-invoked-function-arn", ARN),
    ];
    Invocation::from_headers(
        "req-1".to_string(),
        |name| {
            next_headers
                .iter()
                .chain(base.iter())
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
        },
        event.to_vec(),
    )
}

fn try_convert_with(
    event: &[u8],
    vars: &[(&str, &str)],
    next_headers: &[(&str, &str)],
) -> Result<(Source, AppRequest), Rejected> {
    event::to_request(
        event,
        &config_with(vars),
        &invocation_with(event, next_headers),
    )
}

fn try_convert(event: &str) -> Result<(Source, AppRequest), Rejected> {
    try_convert_with(event.as_bytes(), &[], &[])
}

fn convert(event: &str) -> (Source, AppRequest) {
    try_convert(event).unwrap()
}

/// The 400 message of an event the adapter refuses, after checking the source it answers in.
fn rejected(event: &str, source: Source) -> String {
    match try_convert(event) {
        Err(Rejected::BadRequest { source: s, message }) => {
            assert_eq!(s, source, "{message}");
            message
        }
        other => panic!("expected a 400 for {event}, got {other:?}"),
    }
}

/// The exact bytes the app receives: request line, headers (`{LAMBDA_CONTEXT}` stands for the
/// invocation's context), the adapter's own content-length, and the body.
fn assert_wire(request: &AppRequest, request_line: &str, headers: &[&str], body: &[u8]) {
    let mut expected = format!("{request_line}\r\n").into_bytes();
    for header in headers {
        expected.extend_from_slice(
            header
                .replace("{LAMBDA_CONTEXT}", LAMBDA_CONTEXT)
                .as_bytes(),
        );
        expected.extend_from_slice(b"\r\n");
    }
    expected.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    expected.extend_from_slice(body);
    let actual = request.to_wire();
    assert!(
        actual == expected,
        "request differs\n--- actual\n{}\n--- expected\n{}",
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&expected)
    );
}

fn head(status: u16, headers: &[(&str, &[u8])]) -> ResponseHead {
    ResponseHead {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect(),
        close: false,
    }
}

fn response(source: Source, head: &ResponseHead, body: &[u8]) -> String {
    String::from_utf8(event::encode_response(source, head, body)).unwrap()
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// The real sample events

#[test]
fn every_sample_event_is_detected_as_its_source() {
    let expected: &[(&str, Source)] = &[
        (
            "http/alb_multi_value_request_encoded_query_parameters.json",
            Source::Alb,
        ),
        ("http/apigw_no_host.json", Source::RestV1),
        (
            "http/apigw_v2_proxy_request_with_stage_in_path.json",
            Source::HttpV2,
        ),
        (
            "http/example-alb-lambda-target-request-headers-only.json",
            Source::Alb,
        ),
        (
            "http/example-alb-lambda-target-request-multivalue-headers.json",
            Source::Alb,
        ),
        ("http/example-apigw-console-request.json", Source::RestV1),
        // A REQUEST-type authorizer event has the REST v1 shape, as upstream parses it.
        (
            "http/example-apigw-custom-auth-request-type-request.json",
            Source::RestV1,
        ),
        (
            "http/example-apigw-request-multi-value-parameters.json",
            Source::RestV1,
        ),
        ("http/example-apigw-request.json", Source::RestV1),
        ("http/example-apigw-sam-http-request.json", Source::HttpV2),
        ("http/example-apigw-sam-rest-request.json", Source::RestV1),
        ("http/example-apigw-v2-request-iam.json", Source::HttpV2),
        (
            "http/example-apigw-v2-request-jwt-authorizer.json",
            Source::HttpV2,
        ),
        (
            "http/example-apigw-v2-request-lambda-authorizer.json",
            Source::HttpV2,
        ),
        (
            "http/example-apigw-v2-request-multi-value-parameters.json",
            Source::HttpV2,
        ),
        (
            "http/example-apigw-v2-request-no-authorizer.json",
            Source::HttpV2,
        ),
        // A WebSocket event that carries `httpMethod` is parsed as REST v1 (§3.1).
        ("http/example-apigw-websocket-request.json", Source::RestV1),
        ("http/lambda_function_url_request.json", Source::HttpV2),
        (
            "passthrough/example-bedrock-agent-runtime-event.json",
            Source::PassThrough,
        ),
        (
            "passthrough/example-dynamodb-event.json",
            Source::PassThrough,
        ),
        (
            "passthrough/example-eventbridge-schedule.json",
            Source::PassThrough,
        ),
        (
            "passthrough/example-firehose-event.json",
            Source::PassThrough,
        ),
        ("passthrough/example-kafka-event.json", Source::PassThrough),
        (
            "passthrough/example-kinesis-event.json",
            Source::PassThrough,
        ),
        ("passthrough/example-s3-event.json", Source::PassThrough),
        ("passthrough/example-sns-event.json", Source::PassThrough),
        ("passthrough/example-sqs-event.json", Source::PassThrough),
        // AWS's VPC Lattice samples (lattice/README.md says where each comes from).
        ("lattice/lattice-v1-powertools.json", Source::LatticeV1),
        ("lattice/lattice-v1-user-guide.json", Source::LatticeV1),
        ("lattice/lattice-v2-powertools.json", Source::LatticeV2),
        ("lattice/lattice-v2-user-guide.json", Source::LatticeV2),
        // Lattice events derived for edge cases.
        ("lattice/lattice_v1_joined.json", Source::LatticeV1),
        ("lattice/lattice_v2_multi_value.json", Source::LatticeV2),
        // The events derived for edge cases.
        ("edge/alb_query_encoding.json", Source::Alb),
        ("edge/function_url_encoding.json", Source::HttpV2),
        ("edge/rest_v1_encoding.json", Source::RestV1),
    ];
    let mut seen = Vec::new();
    for dir in ["http", "passthrough", "lattice", "edge"] {
        for path in sorted_files(&fixtures().join(dir)) {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let want = expected
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} has no expected source in this test"))
                .1;
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(event::detect(&text), Some(want), "{name}");
            let (source, _) = try_convert_with(text.as_bytes(), &[], &[])
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(source, want, "{name}");
            seen.push(name);
        }
    }
    assert_eq!(
        seen.len(),
        expected.len(),
        "a listed sample is missing from the fixtures"
    );
}

/// Converts the event at `path` and compares the request with `expected/{stem}.http`.
fn assert_expected_request(path: &Path) {
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let event = std::fs::read(path).unwrap();
    let (_, request) = try_convert_with(&event, &[], &[]).unwrap();
    let expected = std::fs::read(fixtures().join(format!("expected/{stem}.http"))).unwrap();
    // The expected file has LF line ends in the head; the body follows the blank line as is.
    let split = expected.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = String::from_utf8(expected[..split].to_vec())
        .unwrap()
        .replace("{LAMBDA_CONTEXT}", LAMBDA_CONTEXT)
        .replace('\n', "\r\n");
    let mut want = head.into_bytes();
    want.extend_from_slice(b"\r\n\r\n");
    want.extend_from_slice(&expected[split + 2..]);
    let actual = request.to_wire();
    assert!(
        actual == want,
        "{stem}\n--- actual\n{}\n--- expected\n{}",
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn sample_http_events_become_the_documented_requests() {
    let files = sorted_files(&fixtures().join("http"));
    assert_eq!(files.len(), 18);
    for path in files {
        assert_expected_request(&path);
    }
}

#[test]
fn pass_through_samples_are_posted_byte_for_byte() {
    for path in sorted_files(&fixtures().join("passthrough")) {
        let event = std::fs::read(&path).unwrap();
        let (source, request) = try_convert_with(&event, &[], &[]).unwrap();
        assert_eq!(source, Source::PassThrough);
        assert_wire(
            &request,
            "POST /events HTTP/1.1",
            &[
                "content-type: application/json",
                "x-amzn-request-context: null",
                "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
                "host: 127.0.0.1:8080",
            ],
            &event,
        );
    }
    let sqs = std::fs::read(fixtures().join("passthrough/example-sqs-event.json")).unwrap();
    let (_, request) = try_convert_with(
        &sqs,
        &[
            ("AWS_LWA_PASS_THROUGH_PATH", "/jobs/sqs"),
            ("AWS_LWA_PORT", "3000"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(request.target, "/jobs/sqs");
    assert_eq!(request.header("host"), Some("127.0.0.1:3000"));
}

#[test]
fn websocket_events_without_http_method_pass_through() {
    let message = r#"{"requestContext":{"routeKey":"sendmessage","messageId":"abc=","eventType":"MESSAGE","extendedRequestId":"x","requestTime":"09/Feb/2024:10:00:00 +0000","messageDirection":"IN","stage":"prod","connectedAt":1707472800000,"requestTimeEpoch":1707472801000,"identity":{"sourceIp":"1.2.3.4"},"requestId":"x","domainName":"abc.execute-api.us-east-1.amazonaws.com","connectionId":"conn=","apiId":"abc"},"body":"{\"action\":\"sendmessage\"}","isBase64Encoded":false}"#;
    let (source, request) = convert(message);
    assert_eq!(source, Source::PassThrough);
    assert_eq!(request.target, "/events");
    assert_eq!(request.body, message.as_bytes());
}

#[test]
fn json_that_is_not_an_http_event_passes_through_and_garbage_is_an_invocation_error() {
    for event in [
        "null",
        "42",
        "\"text\"",
        "[1,2]",
        "{}",
        r#"{"httpMethod":"GET"}"#,
        r#"{"requestContext":"x"}"#,
    ] {
        let (source, request) = convert(event);
        assert_eq!(source, Source::PassThrough, "{event}");
        assert_eq!(request.body, event.as_bytes());
    }
    assert!(matches!(
        try_convert("{not json"),
        Err(Rejected::NotJson(_))
    ));
    assert!(matches!(try_convert(""), Err(Rejected::NotJson(_))));
    assert!(matches!(
        try_convert_with(b"\"\xff\"", &[], &[]),
        Err(Rejected::NotJson(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// REST API (payload 1.0)

#[test]
fn rest_v1_paths_queries_headers_and_binary_body() {
    let event = std::fs::read_to_string(fixtures().join("edge/rest_v1_encoding.json")).unwrap();
    let (source, request) = convert(&event);
    assert_eq!(source, Source::RestV1);
    assert_wire(
        &request,
        // The path is percent-encoded as upstream's `set_path`; the decoded `%` is kept.
        // Query: multi-value entries in event order, then `single` (absent from it), form-encoded.
        "PATCH /caf%C3%A9/a%20b/100%/x%2Fy/[q]|^'%60%7B%7D%22%3C%3E?q=a+b%2Bc%26d%3D%C3%A9%25&q=second&k*-._%7E%21=v%2F%3F%23%5B%5D&single=only HTTP/1.1",
        &[
            // Multi-value first (every value), then names only in `headers`; framing and
            // hop-by-hop headers from either map are never forwarded.
            "cookie: a=1",
            "cookie: b=2",
            "x-multi: 1",
            "x-multi: 2",
            "host: api.example.com",
            "x-only-single: s",
            r#"x-amzn-request-context: {"accountId":"1","resourceId":"r","operationName":"op","stage":"prod","domainName":null,"domainPrefix":null,"requestId":"rid","protocol":null,"identity":{"cognitoIdentityPoolId":null,"accountId":null,"cognitoIdentityId":null,"caller":null,"apiKey":null,"apiKeyId":null,"accessKey":null,"sourceIp":"1.2.3.4","cognitoAuthenticationType":null,"cognitoAuthenticationProvider":null,"userArn":null,"userAgent":null,"user":null},"resourcePath":"/{proxy+}","path":null,"authorizer":{"principalId":"u","nested":{"b":1,"a":[true,null]}},"httpMethod":"PATCH","requestTime":null,"requestTimeEpoch":12,"apiId":"api"}"#,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        &[0, 1, 2, 0xff],
    );
}

/// A minimal REST v1 event with the given extra top-level fields.
fn rest(fields: &str) -> String {
    format!(
        r#"{{"httpMethod":"GET","path":"/p",{fields}"requestContext":{{"httpMethod":"GET","requestId":"r1","stage":"prod"}}}}"#
    )
}

const REST_CONTEXT: &str = r#"x-amzn-request-context: {"accountId":null,"resourceId":null,"stage":"prod","domainName":null,"domainPrefix":null,"requestId":"r1","protocol":null,"identity":{"cognitoIdentityPoolId":null,"accountId":null,"cognitoIdentityId":null,"caller":null,"apiKey":null,"apiKeyId":null,"accessKey":null,"sourceIp":null,"cognitoAuthenticationType":null,"cognitoAuthenticationProvider":null,"userArn":null,"userAgent":null,"user":null},"resourcePath":null,"path":null,"httpMethod":"GET","requestTime":null,"requestTimeEpoch":0,"apiId":null}"#;

#[test]
fn rest_v1_minimal_event_gets_null_context_fields_and_a_default_host() {
    let (_, request) = convert(&rest(""));
    assert_wire(
        &request,
        "GET /p HTTP/1.1",
        &[
            REST_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
            "host: 127.0.0.1:8080",
        ],
        b"",
    );
}

#[test]
fn rest_v1_query_maps_merge_in_event_order() {
    let target = |fields: &str| convert(&rest(fields)).1.target;
    // Only the single-value map (API Gateway test console events have no multi-value map).
    assert_eq!(
        target(r#""queryStringParameters":{"z":"1","a":"x y","é":"&="},"#),
        "/p?z=1&a=x+y&%C3%A9=%26%3D"
    );
    // Multi-value wins, single-value-only names are added after, all in the event's order.
    assert_eq!(
        target(
            r#""queryStringParameters":{"b":"2","only":"s","a":"9"},"multiValueQueryStringParameters":{"b":["1","2"],"a":["8","9"]},"#
        ),
        "/p?b=1&b=2&a=8&a=9&only=s"
    );
    // Upstream ignores the single map whenever the multi map is non-empty (§3.5): here `c` is kept.
    assert_eq!(
        target(
            r#""multiValueQueryStringParameters":{"a":["1"]},"queryStringParameters":{"c":""},"#
        ),
        "/p?a=1&c="
    );
    // An empty list does not hide the single value.
    assert_eq!(
        target(r#""multiValueQueryStringParameters":{"a":[]},"queryStringParameters":{"a":"1"},"#),
        "/p?a=1"
    );
    // No parameters: no `?` at all.
    assert_eq!(
        target(r#""queryStringParameters":null,"multiValueQueryStringParameters":{},"#),
        "/p"
    );
    // Twelve names, deliberately unsorted: their order survives.
    let names = ["m", "b", "z", "a", "k", "c", "y", "d", "x", "e", "w", "f"];
    let map: Vec<String> = names.iter().map(|n| format!(r#""{n}":["{n}"]"#)).collect();
    let want: Vec<String> = names.iter().map(|n| format!("{n}={n}")).collect();
    assert_eq!(
        target(&format!(
            r#""multiValueQueryStringParameters":{{{}}},"#,
            map.join(",")
        )),
        format!("/p?{}", want.join("&"))
    );
}

#[test]
fn rest_v1_header_maps_merge_case_insensitively_multi_value_winning() {
    let (_, request) = convert(&rest(
        r#""headers":{"Accept":"b","X-Single":["s1","s2"],"HOST":"h.example"},"multiValueHeaders":{"accept":["a","b"],"Host":["h.example","other.example"],"X-Empty":[]},"#,
    ));
    assert_wire(
        &request,
        "GET /p HTTP/1.1",
        &[
            "accept: a",
            "accept: b",
            // HTTP allows one Host: the first is kept.
            "host: h.example",
            "x-single: s1",
            "x-single: s2",
            REST_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"",
    );
}

#[test]
fn rest_v1_request_context_fields_follow_upstream() {
    let context = |ctx: &str| {
        let event = format!(r#"{{"httpMethod":"GET","path":"/","requestContext":{ctx}}}"#);
        convert(&event)
            .1
            .header("x-amzn-request-context")
            .unwrap()
            .to_string()
    };
    let nulls_identity = r#""identity":{"cognitoIdentityPoolId":null,"accountId":null,"cognitoIdentityId":null,"caller":null,"apiKey":null,"apiKeyId":null,"accessKey":null,"sourceIp":null,"cognitoAuthenticationType":null,"cognitoAuthenticationProvider":null,"userArn":null,"userAgent":null,"user":null}"#;
    let all_null = |middle: &str, method: &str| {
        format!(
            r#"{{"accountId":null,"resourceId":null,{middle}"stage":null,"domainName":null,"domainPrefix":null,"requestId":null,"protocol":null,{nulls_identity},"resourcePath":null,"path":null,{method}"requestTime":null,"requestTimeEpoch":0,"apiId":null}}"#
        )
    };
    // `operationName` only when present; an empty or null `authorizer` is left out; the
    // empty method means GET; `identity: null` is all nulls; unknown fields are dropped.
    assert_eq!(
        context(
            r#"{"httpMethod":"","authorizer":{},"operationName":null,"identity":null,"connectionId":"c","requestTimeEpoch":null}"#
        ),
        all_null("", r#""httpMethod":"GET","#)
    );
    assert_eq!(
        context(r#"{"operationName":"listPets","authorizer":null,"httpMethod":"get"}"#),
        all_null(r#""operationName":"listPets","#, r#""httpMethod":"get","#)
    );
    // A non-empty authorizer keeps the event's keys, order and values, minified.
    assert_eq!(
        context(
            r#"{"httpMethod":"POST","authorizer":{ "z" : 1, "claims": {"sub":"u", "scope" :"a b"}, "a":[1.50, "x\"y"] }}"#
        ),
        all_null(
            "",
            r#""authorizer":{"z":1,"claims":{"sub":"u","scope":"a b"},"a":[1.50,"x\"y"]},"httpMethod":"POST","#
        )
    );
}

#[test]
fn rest_v1_bodies() {
    let body = |fields: &str| convert(&rest(fields)).1.body;
    assert_eq!(
        body(r#""body":"héllo \"✓\"\r\n","isBase64Encoded":false,"#),
        "héllo \"✓\"\r\n".as_bytes()
    );
    assert_eq!(
        body(r#""body":"AAEC/w==","isBase64Encoded":true,"#),
        [0, 1, 2, 0xff]
    );
    assert_eq!(
        body(r#""body":"AAEC/w==","isBase64Encoded":null,"#),
        b"AAEC/w==",
        "null means false"
    );
    assert_eq!(body(r#""body":null,"isBase64Encoded":true,"#), b"");
    assert_eq!(body(r#""body":"","#), b"");

    // Over 1 MiB, text and binary.
    let big_text = "0123456789abcdef".repeat(70_000);
    assert_eq!(
        body(&format!(r#""body":"{big_text}","#)),
        big_text.as_bytes()
    );
    let big_binary: Vec<u8> = (0..1_200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let encoded = STANDARD.encode(&big_binary);
    let (_, request) = convert(&rest(&format!(
        r#""body":"{encoded}","isBase64Encoded":true,"#
    )));
    assert_eq!(request.body, big_binary);
    assert!(request.to_wire().ends_with(&big_binary));
    assert_eq!(
        request.header("content-length"),
        None,
        "the adapter frames the body itself"
    );
}

#[test]
fn rest_v1_base_path_is_removed_once_at_a_segment_boundary() {
    let target = |path: &str| {
        let event = rest("").replace(r#""path":"/p""#, &format!(r#""path":"{path}""#));
        try_convert_with(
            event.as_bytes(),
            &[("AWS_LWA_REMOVE_BASE_PATH", "/api")],
            &[],
        )
        .unwrap()
        .1
        .target
    };
    assert_eq!(target("/api/users"), "/users");
    assert_eq!(target("/api"), "/");
    assert_eq!(target("/apiary"), "/apiary");
    assert_eq!(target("/api/api/x"), "/api/x");
    assert_eq!(target("/other/api"), "/other/api");
}

#[test]
fn malformed_rest_v1_events_are_a_400_not_a_pass_through() {
    let cases = [
        (rest(r#""body":{"a":1},"#), "invalid type"),
        (
            rest(r#""headers":{"x-a":"bad\u0001value"},"#),
            "invalid character",
        ),
        (
            rest(r#""headers":{"x-a":"line\r\nInjected: 1"},"#),
            "invalid character",
        ),
        (
            rest(r#""multiValueHeaders":{"bad name":["v"]},"#),
            "invalid header name",
        ),
        (rest(r#""headers":{"x-n":1},"#), "invalid type"),
        (rest(r#""headers":{"Host":"bad host"},"#), "invalid Host"),
        (
            rest(r#""body":"not base64!","isBase64Encoded":true,"#),
            "base64",
        ),
        (rest(r#""body":"aGk","isBase64Encoded":true,"#), "base64"),
        (rest(r#""queryStringParameters":{"a":1},"#), "invalid type"),
        (
            rest("").replace(
                r#""httpMethod":"GET","path""#,
                r#""httpMethod":"G ET","path""#,
            ),
            "invalid HTTP method",
        ),
        (
            rest("").replace(
                r#"{"httpMethod":"GET","req"#,
                r#"{"httpMethod":"BAD METHOD","req"#,
            ),
            "requestContext.httpMethod",
        ),
        (
            rest("").replace(r#""stage":"prod""#, r#""stage":"prod","identity":"x""#),
            "invalid type",
        ),
        (
            rest("").replace(r#""stage":"prod""#, r#""stage":"prod","authorizer":[1]"#),
            "authorizer",
        ),
        (
            rest(r#""path":42,"#).replace(r#""path":"/p","#, ""),
            "invalid type",
        ),
    ];
    for (event, why) in cases {
        let message = rejected(&event, Source::RestV1);
        assert!(message.contains(why), "{event}: {message}");
    }
    // The 400 goes back in the REST v1 response format.
    assert_eq!(
        String::from_utf8(event::adapter_response(
            Source::RestV1,
            400,
            "Bad Request: invalid HTTP method \"G ET\""
        ))
        .unwrap(),
        r#"{"statusCode":400,"headers":{},"multiValueHeaders":{"content-type":["text/plain; charset=utf-8"]},"body":"Bad Request: invalid HTTP method \"G ET\"","isBase64Encoded":false}"#
    );
}

#[test]
fn rest_v1_responses_put_every_header_in_multi_value_headers() {
    let h = head(
        200,
        &[
            ("content-type", b"application/json"),
            ("x-dup", b"a"),
            ("set-cookie", b"a=1; Path=/"),
            ("x-dup", b"b"),
            ("set-cookie", b"b=2"),
            ("content-length", b"13"),
        ],
    );
    assert_eq!(
        response(Source::RestV1, &h, br#"{"k":"\u00e9"}"#),
        r#"{"statusCode":200,"headers":{},"multiValueHeaders":{"content-type":["application/json"],"x-dup":["a","b"],"set-cookie":["a=1; Path=/","b=2"],"content-length":["13"]},"body":"{\"k\":\"\\u00e9\"}","isBase64Encoded":false}"#
    );
    assert_eq!(
        response(Source::RestV1, &head(204, &[]), b""),
        r#"{"statusCode":204,"headers":{},"multiValueHeaders":{},"body":"","isBase64Encoded":false}"#
    );
    assert_eq!(
        response(
            Source::RestV1,
            &head(200, &[("content-type", b"image/png")]),
            &[0x89, b'P', b'N', b'G', 0, 0xff]
        ),
        r#"{"statusCode":200,"headers":{},"multiValueHeaders":{"content-type":["image/png"]},"body":"iVBORwD/","isBase64Encoded":true}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Application Load Balancer

fn alb(fields: &str) -> String {
    format!(
        r#"{{"requestContext":{{"elb":{{"targetGroupArn":"arn:tg"}}}},"httpMethod":"GET","path":"/",{fields}"isBase64Encoded":false,"body":""}}"#
    )
}

const ALB_CONTEXT: &str = r#"x-amzn-request-context: {"elb":{"targetGroupArn":"arn:tg"}}"#;

#[test]
fn alb_query_values_are_re_encoded_as_upstream() {
    // Each value is what ALB hands over (still URL-encoded) and what the app receives; all of
    // them were checked against the upstream binary.
    let cases = [
        ("%3FshowAll%3Dtrue", "%3FshowAll%3Dtrue"),
        ("a+b", "a+b"),
        ("a b", "a+b"),
        ("100%", "100%25"),
        ("%3f%2B%7e", "%3F%2B%7E"),
        ("%FF", "%EF%BF%BD"),
        ("é", "%C3%A9"),
        ("", ""),
        ("==", "%3D%3D"),
        ("x&y=z", "x&y=z"),
    ];
    for (sent, forwarded) in cases {
        let fields = format!(r#""queryStringParameters":{{"q":"{sent}"}},"#);
        assert_eq!(
            convert(&alb(&fields)).1.target,
            format!("/?q={forwarded}"),
            "{sent}"
        );
    }
    let target = |fields: &str| convert(&alb(fields)).1.target;
    assert_eq!(
        target(r#""queryStringParameters":{"my%20key":"1","plain key":"2"},"#),
        "/?my+key=1&plain+key=2"
    );
    // Multi-value target groups: every value, event order, single-value-only names added.
    assert_eq!(
        target(
            r#""multiValueQueryStringParameters":{"b":["2","1"],"a":["%2F"]},"queryStringParameters":{"b":"1","c":"3"},"#
        ),
        "/?b=2&b=1&a=%2F&c=3"
    );
    assert_eq!(
        target(r#""queryStringParameters":{},"multiValueQueryStringParameters":null,"#),
        "/"
    );
}

#[test]
fn alb_single_and_multi_value_target_groups() {
    let (source, request) = convert(&alb(
        r#""headers":{"host":"alb.example","cookie":"name1=value1","x-forwarded-proto":"https","content-length":"0","connection":"keep-alive"},"#,
    ));
    assert_eq!(source, Source::Alb);
    assert_wire(
        &request,
        "GET / HTTP/1.1",
        &[
            "host: alb.example",
            "cookie: name1=value1",
            "x-forwarded-proto: https",
            ALB_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"",
    );
    let (_, request) = convert(&alb(
        r#""headers":{"cookie":"name1=value1"},"multiValueHeaders":{"Cookie":["name1=value1","name2=value2"],"X-Trace":["1"]},"#,
    ));
    assert_wire(
        &request,
        "GET / HTTP/1.1",
        &[
            "cookie: name1=value1",
            "cookie: name2=value2",
            "x-trace: 1",
            ALB_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
            "host: 127.0.0.1:8080",
        ],
        b"",
    );
}

#[test]
fn alb_paths_bodies_and_context() {
    let event = std::fs::read_to_string(fixtures().join("edge/alb_query_encoding.json")).unwrap();
    let (_, request) = convert(&event);
    assert_wire(
        &request,
        // The ALB path is raw: escapes stay, anything unsafe is encoded.
        "GET /caf%C3%A9/a%20b?q=%3FshowAll%3Dtrue HTTP/1.1",
        &[
            "host: alb.example.com",
            r#"x-amzn-request-context: {"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/edge/0123456789abcdef"}}"#,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"",
    );
    let body = |fields: &str| {
        let event = format!(
            r#"{{"requestContext":{{"elb":{{}}}},"httpMethod":"POST","path":"/u",{fields}}}"#
        );
        let (_, request) = convert(&event);
        assert_eq!(
            request.header("x-amzn-request-context"),
            Some(r#"{"elb":{"targetGroupArn":null}}"#)
        );
        request.body
    };
    assert_eq!(body(r#""body":"aGk=","isBase64Encoded":true"#), b"hi");
    assert_eq!(body(r#""body":"aGk=","isBase64Encoded":null"#), b"aGk=");
    assert_eq!(body(r#""body":null"#), b"");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        body(&format!(
            r#""body":"{}","isBase64Encoded":true"#,
            STANDARD.encode(&big)
        )),
        big
    );
}

#[test]
fn malformed_alb_events_are_a_400() {
    let cases = [
        (
            alb("").replace(r#""path":"/""#, r#""path":"/100%""#),
            "percent-encoding",
        ),
        (
            alb("").replace(
                r#""isBase64Encoded":false,"body":"""#,
                r#""body":"x","isBase64Encoded":true"#,
            ),
            "base64",
        ),
        (alb(r#""headers":{"x":"a\u0000"},"#), "invalid character"),
        (alb(r#""headers":{"host":"a b"},"#), "invalid Host"),
        (
            alb("").replace(r#""httpMethod":"GET""#, r#""httpMethod":"GE(T""#),
            "invalid HTTP method",
        ),
        (
            alb("").replace(r#""body":"""#, r#""body":[1]"#),
            "invalid type",
        ),
    ];
    for (event, why) in cases {
        let message = rejected(&event, Source::Alb);
        assert!(message.contains(why), "{event}: {message}");
    }
    assert_eq!(
        String::from_utf8(event::adapter_response(Source::Alb, 400, "Bad Request: x")).unwrap(),
        r#"{"statusCode":400,"statusDescription":"400 Bad Request","headers":{"content-type":"text/plain; charset=utf-8"},"multiValueHeaders":{"content-type":["text/plain; charset=utf-8"]},"body":"Bad Request: x","isBase64Encoded":false}"#
    );
}

#[test]
fn alb_responses_fill_both_header_maps_and_the_status_description() {
    let h = head(
        418,
        &[
            ("content-type", b"text/html; charset=utf-8"),
            ("set-cookie", b"a=1"),
            ("set-cookie", b"b=2"),
            ("vary", b"Origin"),
        ],
    );
    assert_eq!(
        response(Source::Alb, &h, "<p>ü</p>".as_bytes()),
        r#"{"statusCode":418,"statusDescription":"418 I'm a teapot","headers":{"content-type":"text/html; charset=utf-8","set-cookie":"a=1","vary":"Origin"},"multiValueHeaders":{"content-type":["text/html; charset=utf-8"],"set-cookie":["a=1","b=2"],"vary":["Origin"]},"body":"<p>ü</p>","isBase64Encoded":false}"#
    );
    // An unknown code keeps upstream's trailing space (an empty reason phrase).
    assert_eq!(
        response(
            Source::Alb,
            &head(299, &[("content-type", b"image/png")]),
            &[0x89, b'P', b'N', b'G', 0, 0xff]
        ),
        r#"{"statusCode":299,"statusDescription":"299 ","headers":{"content-type":"image/png"},"multiValueHeaders":{"content-type":["image/png"]},"body":"iVBORwD/","isBase64Encoded":true}"#
    );
    for (status, description) in [
        (200, "200 OK"),
        (204, "204 No Content"),
        (301, "301 Moved Permanently"),
        (404, "404 Not Found"),
        (503, "503 Service Unavailable"),
        (599, "599 "),
    ] {
        let json = response(Source::Alb, &head(status, &[]), b"");
        assert_eq!(
            json,
            format!(
                r#"{{"statusCode":{status},"statusDescription":"{description}","headers":{{}},"multiValueHeaders":{{}},"body":"","isBase64Encoded":false}}"#
            )
        );
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP API (payload 2.0) and Function URLs

fn v2(fields: &str) -> String {
    format!(
        r#"{{"version":"2.0","rawPath":"/p","rawQueryString":"",{fields}"requestContext":{{"http":{{"method":"GET","path":"/p"}},"requestId":"r"}}}}"#
    )
}

const V2_CONTEXT: &str = r#"x-amzn-request-context: {"routeKey":null,"accountId":null,"stage":null,"requestId":"r","apiId":null,"domainName":null,"domainPrefix":null,"time":null,"timeEpoch":0,"http":{"method":"GET","path":"/p","protocol":null,"sourceIp":null,"userAgent":null}}"#;

#[test]
fn function_url_paths_queries_and_cookies_as_upstream() {
    // Byte for byte what the upstream adapter sends for this event.
    let event =
        std::fs::read_to_string(fixtures().join("edge/function_url_encoding.json")).unwrap();
    let (source, request) = convert(&event);
    assert_eq!(source, Source::HttpV2);
    assert_wire(
        &request,
        "POST /Prod/%C3%A9%20x/%41?a=1&b=%27x%27&d={}|^`[]\\&e=%C3%A9 HTTP/1.1",
        &[
            "x-a: 1",
            "cookie: s=1;t=2",
            "host: u.lambda-url.us-east-1.on.aws",
            "x-forwarded-proto: https",
            r#"x-amzn-request-context: {"routeKey":"$default","accountId":"anonymous","stage":"$default","requestId":"r","apiId":"u","domainName":"u.lambda-url.us-east-1.on.aws","domainPrefix":"u","time":"t","timeEpoch":1,"http":{"method":"POST","path":"/Prod/é x/%41","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"curl"}}"#,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"hi",
    );
}

#[test]
fn function_url_cookies_replace_the_cookie_header_in_place() {
    let (source, request) = convert(&v2(
        r#""cookies":["a=1","b=2"],"headers":{"x-first":"1","cookie":"a=1; b=2","host":"u.lambda-url.on.aws"},"#,
    ));
    assert_eq!(source, Source::HttpV2);
    assert_wire(
        &request,
        "GET /p HTTP/1.1",
        &[
            "x-first: 1",
            "cookie: a=1;b=2",
            "host: u.lambda-url.on.aws",
            V2_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"",
    );
    // Without a cookie header the joined cookies come after the event headers.
    let (_, request) = convert(&v2(r#""cookies":["a=1"],"headers":{"host":"h"},"#));
    assert_eq!(
        request.headers.first().map(|(n, _)| n.as_str()),
        Some("host")
    );
    assert_eq!(
        request.headers.get(1),
        Some(&("cookie".to_string(), "a=1".to_string()))
    );
    // As upstream: an empty array leaves an empty cookie header; no array keeps the header.
    assert_eq!(
        convert(&v2(r#""cookies":[],"headers":{"cookie":"a=1"},"#))
            .1
            .header("cookie"),
        Some("")
    );
    assert_eq!(
        convert(&v2(r#""headers":{"cookie":"a=1"},"#))
            .1
            .header("cookie"),
        Some("a=1")
    );
    assert!(rejected(&v2(r#""cookies":["a=1\n"],"#), Source::HttpV2).contains("invalid character"));
}

#[test]
fn v2_requests_keep_the_raw_query_and_reject_what_http_cannot_carry() {
    let (_, request) = convert(
        &v2(r#""rawQueryString":"b=2&a=%20x+y&a=1&é='","body":"aGk=","isBase64Encoded":null,"#)
            .replace(r#""rawQueryString":"","#, ""),
    );
    assert_eq!(request.target, "/p?b=2&a=%20x+y&a=1&%C3%A9=%27");
    assert_eq!(request.body, b"aGk=", "isBase64Encoded null means false");
    for (event, why) in [
        (
            v2("").replace(r#""rawQueryString":"""#, r#""rawQueryString":"a b""#),
            "invalid character",
        ),
        (
            v2("").replace(r#""rawQueryString":"""#, r#""rawQueryString":"a=%zz""#),
            "percent-encoding",
        ),
        (
            v2("").replace(r#""rawPath":"/p""#, r#""rawPath":"/100%""#),
            "percent-encoding",
        ),
        (v2(r#""body":"%%%","isBase64Encoded":true,"#), "base64"),
        (v2(r#""body":{},"#), "invalid type"),
    ] {
        let message = rejected(&event, Source::HttpV2);
        assert!(message.contains(why), "{event}: {message}");
    }
}

#[test]
fn v2_responses_join_repeated_headers_and_move_set_cookie() {
    let h = head(
        201,
        &[
            ("content-type", b"application/problem+json"),
            ("x-dup", b"a"),
            ("set-cookie", b"a=1; Path=/"),
            ("x-dup", b"b"),
            ("set-cookie", b"b=2"),
        ],
    );
    assert_eq!(
        response(Source::HttpV2, &h, br#"{"title":"x"}"#),
        r#"{"statusCode":201,"headers":{"content-type":"application/problem+json","x-dup":"a, b"},"multiValueHeaders":{},"body":"{\"title\":\"x\"}","isBase64Encoded":false,"cookies":["a=1; Path=/","b=2"]}"#
    );
    assert_eq!(
        response(Source::HttpV2, &head(304, &[("etag", b"\"x\"")]), b""),
        r#"{"statusCode":304,"headers":{"etag":"\"x\""},"multiValueHeaders":{},"body":"","isBase64Encoded":false,"cookies":[]}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Rules shared by every source

#[test]
fn context_headers_trace_id_tenant_and_authorization_source() {
    let event = rest(
        r#""headers":{"X-Amzn-Trace-Id":"Root=client","x-amz-tenant-id":"spoofed","x-amzn-lambda-context":"spoofed","x-amzn-request-context":"spoofed","Auth-Token":"Bearer zzz","Authorization":"orig"},"#,
    );
    // Lambda gave no tenant: the client's claim is removed (DECISIONS 10); the event's trace
    // id passes through; AWS_LWA_AUTHORIZATION_SOURCE replaces Authorization in its place.
    let (_, request) = try_convert_with(
        event.as_bytes(),
        &[("AWS_LWA_AUTHORIZATION_SOURCE", "Auth-Token")],
        &[],
    )
    .unwrap();
    assert_wire(
        &request,
        "GET /p HTTP/1.1",
        &[
            "x-amzn-trace-id: Root=client",
            "authorization: Bearer zzz",
            REST_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
            "host: 127.0.0.1:8080",
        ],
        b"",
    );
    // With a trace id and a tenant from the Runtime API, both are the adapter's.
    let (_, request) = try_convert_with(
        event.as_bytes(),
        &[],
        &[
            ("lambda-runtime-trace-id", "Root=1-abc;Sampled=1"),
            ("lambda-runtime-aws-tenant-id", "tenant-a"),
        ],
    )
    .unwrap();
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-amzn-trace-id",
            "auth-token",
            "authorization",
            "x-amzn-request-context",
            "x-amzn-lambda-context",
            "x-amz-tenant-id",
            "host"
        ]
    );
    assert_eq!(
        request.header("x-amzn-trace-id"),
        Some("Root=1-abc;Sampled=1")
    );
    assert_eq!(request.header("x-amz-tenant-id"), Some("tenant-a"));
    assert!(request.header("x-amzn-lambda-context").unwrap().contains(r#""xray_trace_id":"Root=1-abc;Sampled=1","client_context":null,"identity":null,"tenant_id":"tenant-a""#));
}

#[test]
fn the_app_never_sees_framing_or_hop_by_hop_headers_from_an_event() {
    for event in [
        rest(
            r#""headers":{"Content-Length":"1","Transfer-Encoding":"chunked","Connection":"close, x-a","Keep-Alive":"5","TE":"trailers","Trailer":"x","Upgrade":"h2c","Expect":"100-continue","Proxy-Connection":"x","x-ok":"1"},"body":"abc","#,
        ),
        alb(
            r#""multiValueHeaders":{"content-length":["1"],"transfer-encoding":["chunked"],"x-ok":["1"]},"#,
        ),
        v2(r#""headers":{"content-length":"1","transfer-encoding":"chunked","x-ok":"1"},"#),
    ] {
        let (_, request) = convert(&event);
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "x-ok", "{event}");
        assert!(
            names[1..]
                .iter()
                .all(|n| n.starts_with("x-amzn-") || *n == "host"),
            "{names:?}"
        );
        let wire = String::from_utf8(request.to_wire()).unwrap();
        assert_eq!(wire.matches("content-length: ").count(), 1);
        assert!(wire.contains(&format!("content-length: {}\r\n\r\n", request.body.len())));
    }
}

#[test]
fn text_or_base64_for_every_content_type() {
    let text = "héllo ✓";
    type HeaderList<'a> = &'a [(&'a str, &'a [u8])];
    let cases: &[(HeaderList, &[u8], bool)] = &[
        (
            &[("content-type", b"text/plain; charset=utf-8")],
            text.as_bytes(),
            true,
        ),
        (&[("content-type", b"text/csv")], text.as_bytes(), true),
        (
            &[("content-type", b"application/json")],
            text.as_bytes(),
            true,
        ),
        (
            &[("content-type", b"Application/JSON")],
            text.as_bytes(),
            true,
        ),
        (
            &[("content-type", b"application/javascript")],
            text.as_bytes(),
            true,
        ),
        (
            &[("content-type", b"application/xml")],
            text.as_bytes(),
            true,
        ),
        (
            &[("content-type", b"application/yaml")],
            text.as_bytes(),
            true,
        ),
        (&[("content-type", b"image/svg+xml")], text.as_bytes(), true),
        (
            &[("content-type", b"application/vnd.api+json; charset=utf-8")],
            text.as_bytes(),
            true,
        ),
        (
            &[("content-type", b"application/x-www-form-urlencoded")],
            b"a=1",
            false,
        ),
        (
            &[("content-type", b"application/octet-stream")],
            text.as_bytes(),
            false,
        ),
        (&[("content-type", b"application/pdf")], b"%PDF", false),
        (&[("content-type", b"image/png")], &[0x89, b'P'], false),
        (&[("content-type", b"font/woff2")], b"wOF2", false),
        (
            &[
                ("content-type", b"text/html"),
                ("content-encoding", b"gzip"),
            ],
            &[0x1f, 0x8b, 8],
            false,
        ),
        (
            &[
                ("content-type", b"application/octet-stream"),
                ("x-lambda-http-content-encoding", b"text"),
            ],
            b"plain",
            true,
        ),
        // No content type: text when it is UTF-8 (upstream), base64 when not (DECISIONS 11).
        (&[], text.as_bytes(), true),
        (&[], b"A\xffB", false),
        // A declared legacy charset is not transcoded: the bytes go as base64 (DECISIONS 11).
        (
            &[("content-type", b"text/plain; charset=iso-8859-1")],
            b"caf\xe9",
            false,
        ),
    ];
    for (headers, body, is_text) in cases {
        let h = head(200, headers);
        let want_body = if *is_text {
            serde_json::to_string(std::str::from_utf8(body).unwrap()).unwrap()
        } else {
            format!("\"{}\"", STANDARD.encode(body))
        };
        for source in [
            Source::RestV1,
            Source::HttpV2,
            Source::Alb,
            Source::LatticeV2,
            Source::LatticeV1,
        ] {
            let json = response(source, &h, body);
            let tail = format!(
                r#""body":{want_body},"isBase64Encoded":{is_text_flag}"#,
                is_text_flag = !is_text
            );
            assert!(json.contains(&tail), "{source:?} {headers:?}: {json}");
        }
    }
}

#[test]
fn big_responses_are_encoded_whole() {
    let body: Vec<u8> = (0..1_100_000u32).map(|i| (i % 256) as u8).collect();
    let json = response(
        Source::RestV1,
        &head(200, &[("content-type", b"application/octet-stream")]),
        &body,
    );
    assert_eq!(
        json,
        format!(
            r#"{{"statusCode":200,"headers":{{}},"multiValueHeaders":{{"content-type":["application/octet-stream"]}},"body":"{}","isBase64Encoded":true}}"#,
            STANDARD.encode(&body)
        )
    );
    let text = "x".repeat(2 << 20);
    let json = response(
        Source::Alb,
        &head(200, &[("content-type", b"text/plain")]),
        text.as_bytes(),
    );
    assert!(json.ends_with(&format!(r#""body":"{text}","isBase64Encoded":false}}"#)));
}

#[test]
fn nulls_are_absent_rather_than_a_pass_through() {
    // Upstream turns each of these into a pass-through POST /events; the app gets the request.
    let (source, request) = convert(&rest(
        r#""headers":{"x-a":null,"x-b":"1"},"multiValueHeaders":null,"#,
    ));
    assert_eq!(source, Source::RestV1);
    assert_eq!(request.header("x-a"), None);
    assert_eq!(request.header("x-b"), Some("1"));
    let (source, request) = convert(&alb(r#""queryStringParameters":null,"headers":null,"#));
    assert_eq!(source, Source::Alb);
    assert_eq!(request.target, "/");
}

// ---------------------------------------------------------------------------------------------
// VPC Lattice (DECISIONS 32)

#[test]
fn lattice_samples_become_the_documented_requests() {
    // AWS's four samples and the two events derived for edge cases.
    let files = sorted_files(&fixtures().join("lattice"));
    assert_eq!(files.len(), 6);
    for path in files {
        assert_expected_request(&path);
    }
}

/// Adds `fields` to a JSON object event (and, when it has an object `requestContext`,
/// `context_fields` to that).
fn with_fields(event: &str, fields: &[(&str, &str)], context_fields: &[(&str, &str)]) -> String {
    let mut value: serde_json::Value = serde_json::from_str(event).unwrap();
    let object = value.as_object_mut().unwrap();
    for (k, v) in fields {
        object.insert(k.to_string(), serde_json::json!(v));
    }
    if let Some(context) = object
        .get_mut("requestContext")
        .and_then(|c| c.as_object_mut())
    {
        for (k, v) in context_fields {
            context.insert(k.to_string(), serde_json::json!(v));
        }
    }
    value.to_string()
}

#[test]
fn lattice_markers_never_change_the_source_of_other_events() {
    let markers = [("method", "GET"), ("raw_path", "/lattice")];
    let context = [
        ("serviceArn", "arn:aws:vpc-lattice:x"),
        ("serviceNetworkArn", "arn:aws:vpc-lattice:y"),
        ("targetGroupArn", "arn:aws:vpc-lattice:z"),
    ];
    // Every REST, HTTP API, Function URL and ALB sample keeps its source with every Lattice
    // marker added: Lattice is detected only after them.
    for path in sorted_files(&fixtures().join("http")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let before = event::detect(&text).unwrap();
        assert_ne!(before, Source::PassThrough, "{path:?}");
        let marked = with_fields(&text, &markers, &context);
        assert_eq!(event::detect(&marked), Some(before), "{path:?}");
    }
    // A pass-through event needs the whole marker pair to become a Lattice event.
    for path in sorted_files(&fixtures().join("passthrough")) {
        let text = std::fs::read_to_string(&path).unwrap();
        for partial in [
            with_fields(&text, &[("method", "GET")], &[]),
            with_fields(&text, &[("raw_path", "/x")], &[]),
            with_fields(&text, &[("requestContext", "x")], &[]),
        ] {
            assert_eq!(
                event::detect(&partial),
                Some(Source::PassThrough),
                "{partial}"
            );
        }
    }
    for event in [
        r#"{"requestContext":{"serviceArn":"arn"}}"#,
        r#"{"method":null,"requestContext":{"serviceArn":"arn"}}"#,
        r#"{"method":"GET","requestContext":{"serviceArn":null}}"#,
        r#"{"method":"GET","requestContext":{"elb":{"targetGroupArn":"arn"}}}"#,
        r#"{"raw_path":"/x"}"#,
        r#"{"method":"GET","raw_path":null}"#,
        // A Bedrock agent event carries `httpMethod` and `apiPath`, never these markers.
        r#"{"messageVersion":"1.0","httpMethod":"GET","apiPath":"/x","agent":{}}"#,
    ] {
        assert_eq!(event::detect(event), Some(Source::PassThrough), "{event}");
    }
    for (event, source) in [
        (
            r#"{"method":"GET","requestContext":{"targetGroupArn":"arn"}}"#,
            Source::LatticeV2,
        ),
        (
            r#"{"method":"GET","requestContext":{"serviceNetworkArn":"arn"}}"#,
            Source::LatticeV2,
        ),
        (r#"{"method":"GET","raw_path":"/"}"#, Source::LatticeV1),
    ] {
        assert_eq!(event::detect(event), Some(source), "{event}");
    }
}

/// A minimal Lattice 2.0 event with the given extra top-level fields.
fn lattice(fields: &str) -> String {
    format!(
        r#"{{"version":"2.0","path":"/p","method":"GET",{fields}"requestContext":{{"serviceArn":"arn:s","targetGroupArn":"arn:tg"}}}}"#
    )
}

const LATTICE_CONTEXT: &str =
    r#"x-amzn-request-context: {"serviceArn":"arn:s","targetGroupArn":"arn:tg"}"#;

#[test]
fn lattice_v2_headers_queries_and_bodies() {
    let (source, request) = convert(&lattice(
        r#""headers":{"X-Multi":["1","2"],"host":["svc.example"],"x-empty":[],"x-null":null,"x-one":"single"},"queryStringParameters":{"k":["v 1","v&2"],"z":"one"},"body":"aGk=","isBase64Encoded":true,"#,
    ));
    assert_eq!(source, Source::LatticeV2);
    assert_wire(
        &request,
        "GET /p?k=v+1&k=v%262&z=one HTTP/1.1",
        &[
            "x-multi: 1",
            "x-multi: 2",
            "host: svc.example",
            "x-one: single",
            LATTICE_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
        ],
        b"hi",
    );
    // Absent, null and empty maps and bodies; the base path is removed once.
    let (_, request) = try_convert_with(
        lattice(r#""headers":null,"queryStringParameters":{},"body":null,"isBase64Encoded":null,"#)
            .replace(r#""path":"/p""#, r#""path":"/api/p/100%""#)
            .as_bytes(),
        &[("AWS_LWA_REMOVE_BASE_PATH", "/api")],
        &[],
    )
    .unwrap();
    assert_wire(
        &request,
        "GET /p/100% HTTP/1.1",
        &[
            LATTICE_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
            "host: 127.0.0.1:8080",
        ],
        b"",
    );
}

#[test]
fn malformed_lattice_events_are_a_400_in_lattice_format() {
    for (event, source, why) in [
        (
            lattice(r#""body":"%%%","isBase64Encoded":true,"#),
            Source::LatticeV2,
            "base64",
        ),
        (
            lattice(r#""headers":{"x":["a\r\nb"]},"#),
            Source::LatticeV2,
            "invalid character",
        ),
        (
            lattice(r#""headers":{"x":[1]},"#),
            Source::LatticeV2,
            "invalid type",
        ),
        (
            lattice("").replace(r#""method":"GET""#, r#""method":"G ET""#),
            Source::LatticeV2,
            "invalid HTTP method",
        ),
        (
            r#"{"method":"GET","requestContext":{"serviceArn":"a"},"requestContext":{"serviceArn":"a"}}"#
                .to_string(),
            Source::LatticeV2,
            "duplicate field",
        ),
        (
            r#"{"method":"GET","requestContext":[1],"raw_path":"/","requestContext":{"serviceArn":"a"}}"#
                .to_string(),
            Source::LatticeV2,
            "duplicate field",
        ),
        (
            r#"{"method":"GET","raw_path":"/","headers":{"bad name":"v"}}"#.to_string(),
            Source::LatticeV1,
            "invalid header name",
        ),
        (
            r#"{"method":"GET","raw_path":5}"#.to_string(),
            Source::LatticeV1,
            "invalid type",
        ),
    ] {
        let message = rejected(&event, source);
        assert!(message.contains(why), "{event}: {message}");
        let json = String::from_utf8(event::adapter_response(source, 400, &message)).unwrap();
        assert!(
            json.starts_with(r#"{"statusCode":400,"headers":{"content-type":"text/plain; charset=utf-8"},"body":"#),
            "{json}"
        );
    }
}

#[test]
fn lattice_responses_have_the_documented_shape() {
    let h = head(
        200,
        &[
            ("content-type", b"application/json"),
            ("set-cookie", b"a=1; Path=/"),
            ("x-dup", b"a"),
            ("x-dup", b"b"),
            ("set-cookie", b"b=2"),
        ],
    );
    let want = r#"{"statusCode":200,"headers":{"content-type":"application/json","set-cookie":["a=1; Path=/","b=2"],"x-dup":"a, b"},"body":"{}","isBase64Encoded":false}"#;
    assert_eq!(response(Source::LatticeV2, &h, b"{}"), want);
    assert_eq!(response(Source::LatticeV1, &h, b"{}"), want);
    assert_eq!(
        response(Source::LatticeV1, &head(204, &[]), b""),
        r#"{"statusCode":204,"headers":{},"body":"","isBase64Encoded":false}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Event fields as headers (AWS_LWA_EVENT_FIELDS_AS_HEADERS, DECISIONS 33)

const FIELDS_ON: &[(&str, &str)] = &[("AWS_LWA_EVENT_FIELDS_AS_HEADERS", "true")];

#[test]
fn path_parameters_and_stage_variables_become_headers_when_asked() {
    let rest_event = rest(
        r#""headers":{"x-amzn-path-parameters":"spoofed","X-Amzn-Stage-Variables":"spoofed"},"pathParameters":{"id":"42","proxy":"a/b"},"stageVariables":{ "backend" : "blue" },"#,
    );
    let v2_event = v2(
        r#""headers":{"x-amzn-path-parameters":"spoofed"},"pathParameters":{"id":"7"},"stageVariables":null,"#,
    );
    // Off (the default): the fields stay out and a client cannot send them either.
    for event in [&rest_event, &v2_event] {
        let (_, request) = convert(event);
        assert!(
            !request
                .headers
                .iter()
                .any(|(n, v)| n.starts_with("x-amzn-path")
                    || n.starts_with("x-amzn-stage")
                    || v == "spoofed"),
            "{:?}",
            request.headers
        );
    }
    // On: the adapter's own headers, after the context headers.
    let (_, request) = try_convert_with(rest_event.as_bytes(), FIELDS_ON, &[]).unwrap();
    assert_wire(
        &request,
        "GET /p HTTP/1.1",
        &[
            REST_CONTEXT,
            "x-amzn-lambda-context: {LAMBDA_CONTEXT}",
            "host: 127.0.0.1:8080",
            r#"x-amzn-path-parameters: {"id":"42","proxy":"a/b"}"#,
            r#"x-amzn-stage-variables: {"backend":"blue"}"#,
        ],
        b"",
    );
    let (_, request) = try_convert_with(v2_event.as_bytes(), FIELDS_ON, &[]).unwrap();
    assert_eq!(
        request.header("x-amzn-path-parameters"),
        Some(r#"{"id":"7"}"#)
    );
    assert_eq!(request.header("x-amzn-stage-variables"), Some("null"));
    // Every other source gets both, as null.
    for sample in [
        "http/example-alb-lambda-target-request-headers-only.json",
        "lattice/lattice-v2-user-guide.json",
        "lattice/lattice-v1-user-guide.json",
        "passthrough/example-sqs-event.json",
    ] {
        let event = std::fs::read(fixtures().join(sample)).unwrap();
        let (_, request) = try_convert_with(&event, FIELDS_ON, &[]).unwrap();
        assert_eq!(
            request.header("x-amzn-path-parameters"),
            Some("null"),
            "{sample}"
        );
        assert_eq!(
            request.header("x-amzn-stage-variables"),
            Some("null"),
            "{sample}"
        );
    }
    // AWS's REST sample: the proxy parameter and its stage variables.
    let sample = std::fs::read(fixtures().join("http/example-apigw-request.json")).unwrap();
    let (_, request) = try_convert_with(&sample, FIELDS_ON, &[]).unwrap();
    let params: serde_json::Value =
        serde_json::from_str(request.header("x-amzn-path-parameters").unwrap()).unwrap();
    let sample: serde_json::Value = serde_json::from_slice(&sample).unwrap();
    assert_eq!(params, sample["pathParameters"]);
}

#[test]
fn event_fields_that_are_not_objects_are_a_400_only_when_asked_for() {
    let event = rest(r#""pathParameters":["a"],"#);
    assert_eq!(convert(&event).0, Source::RestV1);
    match try_convert_with(event.as_bytes(), FIELDS_ON, &[]) {
        Err(Rejected::BadRequest { source, message }) => {
            assert_eq!(source, Source::RestV1);
            assert_eq!(message, "pathParameters is not an object");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Forcing a binary body (DECISIONS 34)

#[test]
fn a_binary_marker_forces_base64_and_is_not_passed_on() {
    for marker in [&b"binary"[..], b"Binary", b" BINARY "] {
        let h = head(
            200,
            &[
                ("content-type", b"text/plain"),
                ("x-lambda-http-content-encoding", marker),
                ("x-other", b"1"),
            ],
        );
        for source in [
            Source::RestV1,
            Source::HttpV2,
            Source::Alb,
            Source::LatticeV2,
            Source::LatticeV1,
        ] {
            let json = response(source, &h, b"plain text");
            assert!(
                json.contains(r#""body":"cGxhaW4gdGV4dA==","isBase64Encoded":true"#),
                "{source:?}: {json}"
            );
            assert!(!json.contains("x-lambda-http-content-encoding"), "{json}");
            assert!(json.contains("x-other"), "{json}");
        }
    }
    // The text marker is upstream's: it makes a body text and is passed on, as upstream does.
    let h = head(
        200,
        &[
            ("content-type", b"application/octet-stream"),
            ("x-lambda-http-content-encoding", b"text"),
        ],
    );
    let json = response(Source::HttpV2, &h, b"plain");
    assert!(
        json.contains(r#""body":"plain","isBase64Encoded":false"#),
        "{json}"
    );
    assert!(
        json.contains(r#""x-lambda-http-content-encoding":"text""#),
        "{json}"
    );
    // Pass-through results ignore headers: the body is the result either way.
    let h = head(200, &[("x-lambda-http-content-encoding", b"binary")]);
    assert_eq!(
        response(Source::PassThrough, &h, br#"{"a":1}"#),
        r#"{"a":1}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Hop-by-hop response headers (DECISIONS 23)

#[test]
fn hop_by_hop_response_headers_are_dropped_where_upstream_passes_them_on() {
    use lambda_adapter::event::response_headers;
    let app = head(
        200,
        &[
            ("content-type", b"text/plain"),
            ("connection", b"keep-alive"),
            ("keep-alive", b"timeout=5"),
            ("x-a", b"1"),
        ],
    );
    // What upstream posts for this response (§4.1: it removes only `transfer-encoding`; §4.3):
    // REST's multiValueHeaders and ALB's two maps carry every header, HTTP API's `headers` the
    // first value of each. ALB hands `connection` on to HTTP/2 clients, which refuse it.
    let upstream = [
        (
            Source::RestV1,
            r#"{"statusCode":200,"headers":{},"multiValueHeaders":{"content-type":["text/plain"],"connection":["keep-alive"],"keep-alive":["timeout=5"],"x-a":["1"]},"body":"ok","isBase64Encoded":false}"#,
        ),
        (
            Source::HttpV2,
            r#"{"statusCode":200,"headers":{"content-type":"text/plain","connection":"keep-alive","keep-alive":"timeout=5","x-a":"1"},"multiValueHeaders":{},"body":"ok","isBase64Encoded":false,"cookies":[]}"#,
        ),
        (
            Source::Alb,
            r#"{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"text/plain","connection":"keep-alive","keep-alive":"timeout=5","x-a":"1"},"multiValueHeaders":{"content-type":["text/plain"],"connection":["keep-alive"],"keep-alive":["timeout=5"],"x-a":["1"]},"body":"ok","isBase64Encoded":false}"#,
        ),
    ];
    let mut ours = app.clone();
    response_headers::strip(&mut ours, &[]);
    for (source, upstream) in upstream {
        // The encoders alone still write what they are given, as upstream's do ...
        assert_eq!(response(source, &app, b"ok"), upstream);
        // ... and the worker strips the head first: the same bytes less the two headers.
        let want = upstream
            .replace(
                r#""connection":["keep-alive"],"keep-alive":["timeout=5"],"#,
                "",
            )
            .replace(r#""connection":"keep-alive","keep-alive":"timeout=5","#, "");
        assert_eq!(response(source, &ours, b"ok"), want, "{source:?}");
    }
}
