//! The context headers byte for byte as upstream writes them: `x-amzn-request-context` and
//! `x-amzn-lambda-context` for every sample event in `tests/fixtures/events`, with a client
//! context and a Cognito identity set, and for authorizer and identity shapes the samples lack.
//!
//! `tests/fixtures/context_headers.json` holds the headers the upstream binary (LWA
//! 1.0.0-rc1) sent to an app, captured side by side with this adapter against one scripted
//! Runtime API on loopback (the README's compatibility section describes the run). Where
//! upstream writes a map in random order (a REST or Lambda authorizer, JWT claims; a HashMap
//! there), the golden keeps the event's order and says so in its `note` (DECISIONS 26).
//! Cases upstream cannot answer (it aborts, or fails the invocation) are not goldens; the unit
//! tests of `lambda::context` and `event::http_v2` cover what we send for them.

use std::path::Path;

use lambda_adapter::config::Config;
use lambda_adapter::event;
use lambda_adapter::lambda::invocation::Invocation;
use serde_json::Value;

const DEADLINE: &str = "4102444800000";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:fn";

fn config() -> Config {
    let vars = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "stream"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "group"),
    ];
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

/// The two headers this adapter sends the app for one golden case.
fn ours(case: &Value, config: &Config) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let event = match case["fixture"].as_str() {
        Some(fixture) => std::fs::read(root.join(fixture)).unwrap(),
        None => case["event"].as_str().unwrap().as_bytes().to_vec(),
    };
    let mut headers: Vec<(String, String)> = case["next_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_ascii_lowercase(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    headers.push(("lambda-runtime-deadline-ms".into(), DEADLINE.into()));
    headers.push(("lambda-runtime-invoked-function-arn".into(), ARN.into()));
    let invocation = Invocation::from_headers(
        case["request_id"].as_str().unwrap().to_string(),
        |name| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        },
        event.clone(),
    );
    let (_, request) = event::to_request(&event, config, &invocation).unwrap();
    let header = |name: &str| request.header(name).unwrap().to_string();
    (
        header("x-amzn-request-context"),
        header("x-amzn-lambda-context"),
    )
}

#[test]
fn context_headers_equal_upstreams_bytes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context_headers.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let config = config();
    let mut fixtures = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for case in cases {
        let (request_context, lambda_context) = ours(case, &config);
        let name = case["name"].as_str().unwrap();
        if let Some(fixture) = case["fixture"].as_str() {
            fixtures.insert(fixture.to_string());
        }
        for (header, got) in [
            ("x-amzn-request-context", request_context),
            ("x-amzn-lambda-context", lambda_context),
        ] {
            let want = case[header].as_str().unwrap();
            if got != want {
                failures.push(format!(
                    "{name}: {header}\n  ours:     {got}\n  upstream: {want}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every sample event but the console's (upstream aborts on its `{dns_suffix}` Host) is a
    // golden, so a new sample without one fails here.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let mut samples = Vec::new();
    for dir in ["http", "passthrough", "edge"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            if name.ends_with(".json") && name != "http/example-apigw-console-request.json" {
                samples.push(name);
            }
        }
    }
    for sample in samples {
        assert!(fixtures.contains(&sample), "{sample} has no golden");
    }
}

#[test]
fn client_context_and_identity_keys_are_upstreams_in_every_golden() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context_headers.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let with_context = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| case["fixture"].is_string())
        .count();
    assert!(with_context >= 20, "{with_context}");
    for case in doc["cases"].as_array().unwrap() {
        let context: Value =
            serde_json::from_str(case["x-amzn-lambda-context"].as_str().unwrap()).unwrap();
        if let Some(client) = context["client_context"]["client"].as_object() {
            let keys: Vec<&str> = client.keys().map(String::as_str).collect();
            let mut want = vec![
                "appPackageName",
                "appTitle",
                "appVersionCode",
                "appVersionName",
                "installationId",
            ];
            want.sort();
            assert_eq!(keys, want);
        }
        if let Some(identity) = context["identity"].as_object() {
            let keys: Vec<&str> = identity.keys().map(String::as_str).collect();
            assert_eq!(keys, ["identityId", "identityPoolId"]);
        }
    }
}
