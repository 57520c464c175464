//! The real `lambda-adapter` binary between the emulator's Runtime API and a scripted app.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[test]
fn get_request_reaches_the_app_and_the_response_comes_back() {
    let h = Harness::start(&[], |_| {
        Reply::text("hello there").header("X-Custom", "yes")
    });
    let response = h.response(&v2_event("GET", "/hello/world", "a=1&b=two"));

    let request = h.app.only_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/hello/world?a=1&b=two");
    assert_eq!(request.header("host"), Some("api.example.com"));
    assert_eq!(request.header("user-agent"), Some("test-client"));
    assert!(
        request
            .raw
            .starts_with(b"GET /hello/world?a=1&b=two HTTP/1.1\r\n"),
        "{:?}",
        String::from_utf8_lossy(&request.raw)
    );

    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], "hello there");
    assert_eq!(response["isBase64Encoded"], false);
    assert_eq!(response["headers"]["x-custom"], "yes");
    assert_eq!(response["headers"]["content-type"], "text/plain");
}

#[test]
fn post_json_body_is_forwarded_byte_for_byte() {
    let h = Harness::start(&[], |r| Reply::new(201, "application/json", r.body.clone()));
    let body = r#"{"name":"ünïcode","n":[1,2,3]}"#;
    let mut event = v2_event("POST", "/items", "");
    event["headers"]["content-type"] = json!("application/json");
    event["body"] = json!(body);
    let response = h.response(&event);

    let request = h.app.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, body.as_bytes());
    assert_eq!(
        request.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["body"], body);
}

#[test]
fn base64_request_body_is_decoded_and_binary_response_is_base64() {
    let payload: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, 0x10];
    let answer: Vec<u8> = (0..=255u8).rev().collect();
    let reply_body = answer.clone();
    let h = Harness::start(&[], move |_| {
        Reply::new(200, "application/octet-stream", reply_body.clone())
    });
    let mut event = v2_event("PUT", "/upload", "");
    event["headers"]["content-type"] = json!("application/octet-stream");
    event["body"] = json!(b64encode(&payload));
    event["isBase64Encoded"] = json!(true);
    let response = h.response(&event);

    assert_eq!(h.app.only_request().body, payload);
    assert_eq!(response["isBase64Encoded"], true);
    assert_eq!(b64decode(response["body"].as_str().unwrap()), answer);
}

#[test]
fn cookies_go_both_ways() {
    let h = Harness::start(&[], |_| {
        Reply::text("ok")
            .header("Set-Cookie", "session=abc; Path=/; HttpOnly")
            .header("Set-Cookie", "theme=dark")
    });
    let mut event = v2_event("GET", "/", "");
    event["cookies"] = json!(["a=1", "b=2"]);
    let response = h.response(&event);

    assert_eq!(h.app.only_request().headers_named("cookie"), ["a=1;b=2"]);
    assert_eq!(
        response["cookies"],
        json!(["session=abc; Path=/; HttpOnly", "theme=dark"])
    );
    assert!(
        response["headers"].get("set-cookie").is_none(),
        "{response}"
    );
}

#[test]
fn app_error_statuses_are_passed_through() {
    let h = Harness::start(&[], |r| match r.target.as_str() {
        "/missing" => Reply::new(404, "text/plain", "no such thing"),
        "/crash" => Reply::new(500, "application/json", r#"{"error":"boom"}"#),
        _ => Reply::text("ready"),
    });
    let not_found = h.response(&v2_event("GET", "/missing", ""));
    assert_eq!(not_found["statusCode"], 404);
    assert_eq!(not_found["body"], "no such thing");
    let failed = h.response(&v2_event("GET", "/crash", ""));
    assert_eq!(failed["statusCode"], 500);
    assert_eq!(failed["body"], r#"{"error":"boom"}"#);
}

#[test]
fn context_headers_carry_the_invocation() {
    let h = Harness::start(&[], |_| Reply::text("ok"));
    let options = InvokeOptions {
        request_id: Some("11111111-2222-4333-8444-555555555555".into()),
        trace_id: Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
        ),
        tenant_id: Some("tenant-42".into()),
        client_context: Some(r#"{"custom":{"k":"v"}}"#.into()),
        ..InvokeOptions::default()
    };
    let posted = h.invoke_with(v2_event("GET", "/", "").to_string().as_bytes(), options);
    assert_eq!(posted.kind, PostKind::Response);
    let request = h.app.only_request();

    let gateway: Value =
        serde_json::from_str(request.header("x-amzn-request-context").unwrap()).unwrap();
    assert_eq!(gateway["requestId"], "gateway-request-id");
    assert_eq!(gateway["http"]["sourceIp"], "203.0.113.9");

    let lambda: Value =
        serde_json::from_str(request.header("x-amzn-lambda-context").unwrap()).unwrap();
    assert_eq!(lambda["request_id"], "11111111-2222-4333-8444-555555555555");
    assert_eq!(lambda["deadline"].as_u64(), Some(posted.deadline_ms));
    assert_eq!(
        lambda["xray_trace_id"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
    assert_eq!(lambda["client_context"]["custom"]["k"], "v");
    assert_eq!(lambda["env_config"]["function_name"], "test-function");
    assert_eq!(lambda["env_config"]["memory"], 256);

    assert_eq!(
        request.header("x-amzn-trace-id"),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    );
    assert_eq!(request.header("x-amz-tenant-id"), Some("tenant-42"));
}

#[test]
fn app_not_listening_is_an_error_and_the_adapter_serves_on_once_it_is_up() {
    // Readiness is checked on a separate, always-up port, so the adapter starts polling
    // while nothing listens on the app port.
    let readiness = TestApp::start(|_| Reply::text("ready"));
    let app_port = free_port();
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = Adapter::spawn(
        &api.addr().to_string(),
        &[
            ("AWS_LWA_PORT", app_port.to_string()),
            ("AWS_LWA_READINESS_CHECK_PORT", readiness.port.to_string()),
        ],
    );
    let options = || InvokeOptions {
        timeout: Duration::from_secs(10),
        queue_wait: Duration::from_secs(20),
        ..InvokeOptions::default()
    };
    let event = v2_event("GET", "/", "").to_string();

    let refused = api.invoke(event.as_bytes(), options()).unwrap();
    assert_eq!(
        refused.kind,
        PostKind::Error,
        "{refused:?}\n{}",
        adapter.output()
    );
    assert_eq!(refused.error_type.as_deref(), Some("App.ConnectionRefused"));
    let error = refused.json().unwrap();
    assert_eq!(error["errorType"], "App.ConnectionRefused");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains(&app_port.to_string()),
        "{error}"
    );

    let app = TestApp::start_on(app_port, |_| Reply::text("up now"));
    let served = api.invoke(event.as_bytes(), options()).unwrap();
    assert_eq!(
        served.kind,
        PostKind::Response,
        "{served:?}\n{}",
        adapter.output()
    );
    assert_eq!(served.json().unwrap()["body"], "up now");
    assert_eq!(app.requests().len(), 1);
}

#[test]
fn malformed_v2_events_get_a_400_in_v2_format_and_never_reach_the_app() {
    let h = Harness::start(&[], |_| Reply::text("should not be called"));
    let mut bad_base64 = v2_event("POST", "/", "");
    bad_base64["body"] = json!("not*base64!");
    bad_base64["isBase64Encoded"] = json!(true);
    let mut bad_header = v2_event("GET", "/", "");
    bad_header["headers"]["x-evil"] = json!("a\r\nx-injected: 1");
    let bad_query = v2_event("GET", "/", "a=b c");

    for (name, event) in [
        ("invalid base64", bad_base64),
        ("CR LF in a header", bad_header),
        ("space in query", bad_query),
    ] {
        let response = h.response(&event);
        assert_eq!(response["statusCode"], 400, "{name}: {response}");
        assert!(
            response["body"]
                .as_str()
                .unwrap()
                .starts_with("Bad Request"),
            "{name}: {response}"
        );
        assert!(
            response.get("cookies").is_some(),
            "{name}: not v2 shaped: {response}"
        );
    }
    assert!(h.app.requests().is_empty(), "{:#?}", h.app.requests());
    // The adapter is still serving.
    assert_eq!(
        h.response(&v2_event("GET", "/fine", ""))["body"],
        "should not be called"
    );
}

#[test]
fn non_json_event_is_an_invalid_event_error() {
    let h = Harness::start(&[], |_| Reply::text("unused"));
    let posted = h.invoke_with(b"this is not json", InvokeOptions::default());
    assert_eq!(posted.kind, PostKind::Error);
    assert_eq!(posted.error_type.as_deref(), Some("Adapter.InvalidEvent"));
    assert_eq!(posted.json().unwrap()["errorType"], "Adapter.InvalidEvent");
    assert!(h.app.requests().is_empty());
}

fn assert_config_error_reported(variable: &str, value: &str) {
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let mut adapter = Adapter::spawn(&api.addr().to_string(), &[(variable, value.to_string())]);
    let status = adapter
        .wait_exit(Duration::from_secs(15))
        .expect("the adapter exits on a bad configuration");
    assert_eq!(status.code(), Some(1), "{variable}={value}");
    // Printed once: the function's log shows it, and the report carries it to Lambda.
    let output = adapter.output();
    assert_eq!(
        output.matches("cannot start").count(),
        1,
        "the error is not printed exactly once: {output}"
    );
    assert!(
        output.contains(&format!(
            "ERROR lambda-adapter cannot start: invalid {variable}"
        )),
        "the log does not name {variable}: {output}"
    );
    assert_eq!(
        api.registrations().len(),
        1,
        "it registers so Lambda shows the error"
    );
    let errors = api.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "/2020-01-01/extension/init/error");
    assert_eq!(
        errors[0].error_type.as_deref(),
        Some("Extension.ConfigInvalid")
    );
    assert_eq!(
        errors[0].extension_id.as_deref(),
        Some(api.registrations()[0].id.as_str())
    );
    let body: Value = serde_json::from_str(&errors[0].body).unwrap();
    assert!(
        body["errorMessage"].as_str().unwrap().contains(variable),
        "{body}"
    );
    assert_eq!(api.next_polls(), 0, "it must never poll /next");
}

#[test]
fn bad_port_is_reported_to_init_error_and_exits() {
    assert_config_error_reported("AWS_LWA_PORT", "abc");
}

#[test]
fn bad_invoke_mode_is_reported_to_init_error_and_exits() {
    assert_config_error_reported("AWS_LWA_INVOKE_MODE", "fast");
}

#[test]
fn no_next_poll_before_the_app_is_ready() {
    let app_port = free_port();
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = Adapter::spawn(
        &api.addr().to_string(),
        &[("AWS_LWA_PORT", app_port.to_string())],
    );
    // The adapter keeps checking readiness; give it ample time to (wrongly) poll.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        api.next_polls(),
        0,
        "polled /next before the app was ready\n{}",
        adapter.output()
    );
    assert_eq!(api.registrations().len(), 1);

    let app = TestApp::start_on(app_port, |_| Reply::text("late but ready"));
    let posted = api
        .invoke(
            v2_event("GET", "/", "").to_string().as_bytes(),
            InvokeOptions {
                queue_wait: Duration::from_secs(20),
                ..InvokeOptions::default()
            },
        )
        .unwrap();
    assert_eq!(posted.json().unwrap()["body"], "late but ready");
    assert!(api.next_polls() >= 1);
    assert_eq!(app.requests().len(), 1);
}

#[test]
fn error_status_codes_become_invocation_errors() {
    let h = Harness::start(&[("AWS_LWA_ERROR_STATUS_CODES", "500-599")], |r| {
        match r.target.as_str() {
            "/fail" => Reply::new(502, "text/plain", "upstream fell over"),
            _ => Reply::text("fine"),
        }
    });
    let posted = h.invoke(&v2_event("GET", "/fail", ""));
    assert_eq!(posted.kind, PostKind::Error);
    assert_eq!(posted.error_type.as_deref(), Some("App.ErrorStatus"));
    let error = posted.json().unwrap();
    let message: Value = serde_json::from_str(error["errorMessage"].as_str().unwrap()).unwrap();
    assert_eq!(message["statusCode"], 502);
    assert_eq!(message["body"], "upstream fell over");
    // Statuses outside the list are normal responses.
    assert_eq!(h.response(&v2_event("GET", "/ok", ""))["statusCode"], 200);
}

#[test]
fn hung_app_times_out_before_the_deadline() {
    let h = Harness::start(&[], |r| match r.target.as_str() {
        "/hang" => Reply::text("too late").delay(Duration::from_secs(10)),
        _ => Reply::text("quick"),
    });
    let options = InvokeOptions {
        timeout: Duration::from_millis(1500),
        ..InvokeOptions::default()
    };
    let posted = h.invoke_with(v2_event("GET", "/hang", "").to_string().as_bytes(), options);
    assert_eq!(posted.kind, PostKind::Error, "{posted:?}");
    assert_eq!(posted.error_type.as_deref(), Some("App.Timeout"));
    assert!(
        posted.posted_at_ms < posted.deadline_ms,
        "posted at {} ms, after the deadline {} ms",
        posted.posted_at_ms,
        posted.deadline_ms
    );
    // The worker is free again.
    assert_eq!(h.response(&v2_event("GET", "/quick", ""))["body"], "quick");
}

#[test]
fn keep_alive_connection_is_reused() {
    let h = Harness::start(&[], |_| Reply::text("ok"));
    h.response(&v2_event("GET", "/one", ""));
    h.response(&v2_event("GET", "/two", ""));
    let requests = h.app.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].connection, requests[1].connection,
        "the second request used a new connection"
    );
}

#[test]
fn request_is_retried_once_when_the_app_closed_the_idle_connection() {
    // The app closes every connection right after answering, without `connection: close`,
    // as an app does when its idle timeout fires while Lambda has the environment frozen.
    let h = Harness::start(&[], |r| {
        Reply::text(&format!("answer to {}", r.target)).close_after()
    });
    assert_eq!(
        h.response(&v2_event("GET", "/first", ""))["body"],
        "answer to /first"
    );
    std::thread::sleep(Duration::from_millis(100));
    let second = h.invoke(&v2_event("GET", "/second", ""));
    assert_eq!(
        second.kind,
        PostKind::Response,
        "{second:?}\n{}",
        h.adapter.output()
    );
    assert_eq!(second.json().unwrap()["body"], "answer to /second");
    let requests = h.app.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| r.target.as_str())
            .collect::<Vec<_>>(),
        ["/first", "/second"]
    );
    assert_ne!(requests[0].connection, requests[1].connection);
}

#[test]
fn eight_concurrent_invocations_run_in_parallel_without_mixing() {
    const SLEEP: Duration = Duration::from_millis(500);
    let h = Harness::start(&[("AWS_LAMBDA_MAX_CONCURRENCY", "8")], |r| {
        Reply::new(200, "text/plain", r.body.clone()).delay(SLEEP)
    });
    // Warm up: the adapter is ready and every worker is polling.
    h.response(&v2_event("GET", "/warm", ""));

    let start = Instant::now();
    let pending: Vec<_> = (0..8)
        .map(|i| {
            let mut event = v2_event("POST", &format!("/job/{i}"), "");
            event["headers"]["content-type"] = json!("text/plain");
            event["body"] = json!(format!("body of job {i}"));
            h.api
                .submit(event.to_string().into_bytes(), InvokeOptions::default())
        })
        .collect();
    for (i, pending) in pending.into_iter().enumerate() {
        let posted = pending.wait().unwrap();
        assert_eq!(posted.json().unwrap()["body"], format!("body of job {i}"));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < SLEEP * 4,
        "8 invocations of {SLEEP:?} took {elapsed:?}: not parallel"
    );
}

#[test]
fn async_init_takes_invocations_after_9_8_s_and_waits_for_the_app_within_the_deadline() {
    let app_port = free_port();
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let adapter = Adapter::spawn(
        &api.addr().to_string(),
        &[
            ("AWS_LWA_PORT", app_port.to_string()),
            ("AWS_LWA_ASYNC_INIT", "true".to_string()),
        ],
    );
    // Without async init the adapter would wait for the app forever; with it, it starts
    // polling after 9.8 s even though the app is still not listening.
    let polled = loop {
        if api.next_polls() > 0 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never polled /next\n{}",
            adapter.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        polled >= Duration::from_millis(9_500),
        "polled after {polled:?}, before the async-init budget"
    );
    // An invocation now waits (within its deadline) for the app to come up, then is served.
    let pending = api.submit(
        v2_event("GET", "/", "").to_string().into_bytes(),
        InvokeOptions::default(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let app = TestApp::start_on(app_port, |_| Reply::text("ready at last"));
    let posted = pending.wait().unwrap();
    assert_eq!(posted.json().unwrap()["body"], "ready at last");
    assert_eq!(app.requests().len(), 1);
}

#[test]
fn proxy_variables_meant_for_the_app_do_not_redirect_the_lambda_apis() {
    // Functions behind an egress proxy set HTTP_PROXY for their own outbound calls. The
    // Runtime and Extensions APIs are local and must still be reached directly: a proxy
    // address that refuses connections would otherwise stop every invocation.
    let dead_proxy = "http://127.0.0.1:9";
    let env = [
        ("HTTP_PROXY", dead_proxy),
        ("http_proxy", dead_proxy),
        ("HTTPS_PROXY", dead_proxy),
        ("ALL_PROXY", dead_proxy),
    ];
    let h = Harness::start(&env, |_| Reply::text("direct"));
    let response = h.response(&v2_event("GET", "/", ""));
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], "direct");
}
