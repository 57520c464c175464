//! Init bounded by `AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`, `AWS_LWA_ASYNC_INIT` ignored where
//! init must end with the app ready, and the invocation's ids on every log line, through the
//! real binary.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// An app whose readiness check never passes.
fn never_ready(r: &Received) -> Reply {
    if r.target == "/health" {
        Reply::new(503, "text/plain", "starting")
    } else {
        Reply::text("ok")
    }
}

#[test]
fn an_app_not_ready_in_time_fails_init_with_a_clear_error() {
    let started = Instant::now();
    let mut h = Harness::start(
        &[
            ("AWS_LWA_READINESS_CHECK_PATH", "/health"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "0.75"),
        ],
        never_ready,
    );
    let status = h
        .adapter
        .wait_exit(Duration::from_secs(20))
        .expect("init fails instead of waiting forever");
    assert!(!status.success());
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "it waited the whole budget"
    );
    let errors = h.api.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "/2020-01-01/extension/init/error");
    assert_eq!(
        errors[0].error_type.as_deref(),
        Some("Extension.AppNotReady")
    );
    let body: Value = serde_json::from_str(&errors[0].body).unwrap();
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS (0.75 s)")
            && message.contains(&h.app.port.to_string()),
        "{message}"
    );
    assert!(h.adapter.log_with(message).contains(message), "logged too");
    assert_eq!(h.api.next_polls(), 0, "no invocation is taken");
}

#[test]
fn unset_or_zero_waits_as_long_as_lambda_lets_it() {
    for timeout in [None, Some("0")] {
        let mut env = vec![("AWS_LWA_READINESS_CHECK_PATH", "/health")];
        if let Some(timeout) = timeout {
            env.push(("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", timeout));
        }
        let mut h = Harness::start(&env, never_ready);
        assert_eq!(
            h.adapter.wait_exit(Duration::from_millis(2500)),
            None,
            "{timeout:?}: still waiting for the app"
        );
        assert!(h.api.init_errors().is_empty());
        assert!(
            h.adapter
                .log_with("app is not ready after 2000ms")
                .contains("app is not ready after 2000ms"),
            "{timeout:?}: the progress line"
        );
    }
}

#[test]
fn a_ready_app_is_served_within_the_timeout() {
    let h = Harness::start(&[("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "5")], |_| {
        Reply::text("ok")
    });
    let response = h.response(&v2_event("GET", "/", ""));
    assert_eq!(response["statusCode"], 200);
}

#[test]
fn async_init_is_ignored_under_snap_start_and_provisioned_concurrency() {
    // With async init the 9.8 s budget is not fatal; here it is ignored, so the readiness
    // timeout ends init after 0.5 s with an init error.
    for kind in ["snap-start", "provisioned-concurrency"] {
        let api = RuntimeApi::start("127.0.0.1:0").unwrap();
        api.snap_start().enable();
        let app = TestApp::start(never_ready);
        let env = [
            ("AWS_LWA_PORT", app.port.to_string()),
            ("AWS_LWA_READINESS_CHECK_PATH", "/health".to_string()),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "0.5".to_string()),
            ("AWS_LWA_ASYNC_INIT", "true".to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", kind.to_string()),
        ];
        let mut adapter = Adapter::spawn(&api.addr().to_string(), &env);
        let status = adapter
            .wait_exit(Duration::from_secs(20))
            .expect("init fails after 0.5 s");
        assert!(!status.success(), "{kind}");
        let errors = api.init_errors();
        assert_eq!(
            errors.first().and_then(|e| e.error_type.as_deref()),
            Some("Extension.AppNotReady"),
            "{kind}: {errors:?}"
        );
        let log = adapter.output();
        let notice = log
            .lines()
            .find(|l| l.contains("AWS_LWA_ASYNC_INIT is ignored"))
            .unwrap_or_else(|| panic!("{kind}: no notice in {log}"));
        assert!(
            notice.starts_with(" INFO ") && notice.contains(kind),
            "{notice}"
        );
    }
}

/// The first log line of the invocation `request_id`, once it is written.
fn line_of(h: &Harness, request_id: &str) -> String {
    let log = h.adapter.log_with(request_id);
    log.lines()
        .find(|l| l.contains(request_id))
        .unwrap_or_else(|| panic!("no line with {request_id} in:\n{log}"))
        .to_string()
}

#[test]
fn log_lines_inside_an_invocation_carry_its_request_and_trace_ids() {
    let trace = "Root=1-5e1b4151-5ac6c58f5b8ad8f1b2c4ad8f;Parent=1;Sampled=1";
    let options = |id: &str| InvokeOptions {
        request_id: Some(id.into()),
        trace_id: Some(trace.into()),
        ..InvokeOptions::default()
    };
    let event = v2_event("GET", "/", "").to_string();

    let text = Harness::start(&[], |_| Reply::text("ok"));
    text.invoke_with(event.as_bytes(), options("rid-text"));
    let line = line_of(&text, "rid-text");
    assert!(
        line.contains(&format!(
            r#"Lambda runtime invoke{{requestId="rid-text" xrayTraceId="{trace}"}}: "#
        )),
        "{line}"
    );

    let json = Harness::start(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], |_| Reply::text("ok"));
    json.invoke_with(
        event.as_bytes(),
        InvokeOptions {
            tenant_id: Some("tenant-7".into()),
            ..options("rid-json")
        },
    );
    let line: Value = serde_json::from_str(&line_of(&json, "rid-json")).unwrap();
    assert_eq!(line["requestId"], "rid-json", "{line}");
    assert_eq!(line["xrayTraceId"], trace, "{line}");
    assert_eq!(line["tenantId"], "tenant-7", "{line}");
    assert!(line["message"].is_string() && line["level"].is_string());

    // Outside an invocation, no ids.
    let log = json.adapter.output();
    let startup = log
        .lines()
        .find(|l| !l.contains("rid-json"))
        .expect("a line before the invocation");
    let startup: Value = serde_json::from_str(startup).unwrap();
    assert!(startup.get("requestId").is_none(), "{startup}");
}
