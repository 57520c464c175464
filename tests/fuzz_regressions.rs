//! Inputs the fuzz targets (tests/fuzz) found, kept as regression tests in the main crate.

use lambda_adapter::config::Config;
use lambda_adapter::event::{self, Source};
use lambda_adapter::lambda::invocation::Invocation;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut env = vec![("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    env.extend_from_slice(extra);
    Config::from_lookup(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn invocation(event: &[u8]) -> Invocation {
    Invocation::from_headers("rid".into(), |_| None, event.to_vec())
}

/// event_structured: a DEL (0x7f) in a `requestContext` string reached the app raw inside
/// `x-amzn-request-context`, a byte HTTP forbids in a field value (DECISIONS 9). It is now
/// removed from the header, as upstream does since 1.0.1; the JSON stays valid.
#[test]
fn del_in_the_request_context_is_removed_from_the_header() {
    let events = [
        r#"{"path":"/","httpMethod":"GET","requestContext":{"httpMethod":"GET","stage":"prod","domainName":"a\u007fb","identity":{"sourceIp":"127.0.0.1"}}}"#,
        "{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{\"http\":{\"method\":\"GET\"},\"authorizer\":{\"lambda\":{\"raw\":\"a\u{7f}b\"}}}}",
    ];
    for (text, source) in events.iter().zip([Source::RestV1, Source::HttpV2]) {
        let (got, request) =
            event::to_request(text.as_bytes(), &config(&[]), &invocation(text.as_bytes())).unwrap();
        assert_eq!(got, source);
        let header = request.header("x-amzn-request-context").unwrap();
        assert!(!header.contains('\u{7f}'), "{header}");
        let context: serde_json::Value = serde_json::from_str(header).unwrap();
        let value = context["domainName"]
            .as_str()
            .or(context["authorizer"]["lambda"]["raw"].as_str())
            .unwrap();
        assert_eq!(value, "ab", "{context}");
        assert!(!request.to_wire().contains(&0x7f));
    }
}

/// The same for `x-amzn-lambda-context`, whose strings come from the environment.
#[test]
fn del_in_the_lambda_context_is_removed_from_the_header() {
    let text = r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}}}"#;
    let config = config(&[("AWS_LAMBDA_FUNCTION_NAME", "fn\u{7f}")]);
    let (_, request) =
        event::to_request(text.as_bytes(), &config, &invocation(text.as_bytes())).unwrap();
    let header = request.header("x-amzn-lambda-context").unwrap();
    assert!(!header.contains('\u{7f}'), "{header}");
    let context: serde_json::Value = serde_json::from_str(header).unwrap();
    assert_eq!(context["env_config"]["function_name"], "fn");
}

/// parsers: `AWS_LWA_HOST=::` (any bare IPv6 literal) gave the app `host: :::8080` when the
/// event had no Host, which is no authority at all. IPv6 literals are now bracketed, IPv4
/// literals never are.
#[test]
fn ipv6_app_host_is_bracketed_in_the_host_header() {
    let text = r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}}}"#;
    let cases = [
        ("::", "8080", "[::]:8080"),
        ("::1", "8080", "[::1]:8080"),
        ("[::1]", "8080", "[::1]:8080"),
        ("[::1", "8080", "[::1]:8080"),
        ("::1", "80", "[::1]"),
        ("[127.0.0.1]", "8080", "127.0.0.1:8080"),
        ("127.0.0.1", "80", "127.0.0.1"),
        ("localhost", "3000", "localhost:3000"),
    ];
    for (host, port, want) in cases {
        let config = config(&[("AWS_LWA_HOST", host), ("AWS_LWA_PORT", port)]);
        let (_, request) =
            event::to_request(text.as_bytes(), &config, &invocation(text.as_bytes())).unwrap();
        assert_eq!(
            request.header("host"),
            Some(want),
            "AWS_LWA_HOST={host} AWS_LWA_PORT={port}"
        );
    }
}
