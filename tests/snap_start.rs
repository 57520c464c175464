//! SnapStart through the real binary, under the emulator's Runtime API playing the snapshot
//! and the restore: both hooks, a failing hook on each side, the app not ready again after a
//! restore, and the 403 guard for events aimed at a hook path, in every source's format.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const BEFORE: &str = "/snapstart/before";
const AFTER: &str = "/snapstart/after";

/// App + Runtime API (SnapStart on) + adapter (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`,
/// both hooks set); the API's SnapStart is on before the adapter can ask for a snapshot.
fn start(
    extra_env: &[(&str, &str)],
    script: impl Fn(&Received) -> Reply + Send + Sync + 'static,
) -> Harness {
    let app = TestApp::start(script);
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    api.snap_start().enable();
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_LWA_PORT", app.port.to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start".into()),
        ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", BEFORE.into()),
        ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", AFTER.into()),
    ];
    env.extend(extra_env.iter().map(|(k, v)| (*k, v.to_string())));
    let adapter = Adapter::spawn(&api.addr().to_string(), &env);
    Harness { app, adapter, api }
}

fn ok(_: &Received) -> Reply {
    Reply::text("ok")
}

/// Waits (bounded) for the adapter to exit; its status.
fn exit_status(h: &mut Harness) -> std::process::ExitStatus {
    h.adapter
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the adapter did not exit; stderr:\n{}", h.adapter.output()))
}

#[test]
fn the_hooks_frame_the_snapshot_and_invocations_use_new_connections() {
    let h = start(&[], ok);
    let response = h.response(&v2_event("GET", "/hello", ""));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["body"], "ok");

    let progress = h.api.snap_start().progress();
    assert_eq!(progress.snapshots, 1);
    assert!(progress.restore_errors.is_empty(), "{progress:?}");
    assert!(
        progress.connections_broken >= 1,
        "the restore closed the Extensions API connections: {progress:?}"
    );

    // In order: readiness, the before-checkpoint hook, the after-restore hook, readiness
    // again, the invocation.
    let all = h.app.all_requests();
    let line = |r: &Received| format!("{} {}", r.method, r.target);
    let lines: Vec<String> = all.iter().map(line).collect();
    let at = |want: &str| {
        lines
            .iter()
            .position(|l| l == want)
            .unwrap_or_else(|| panic!("no {want} in {lines:?}"))
    };
    let (before, after, invocation) = (
        at("POST /snapstart/before"),
        at("POST /snapstart/after"),
        at("GET /hello"),
    );
    assert!(before < after && after < invocation, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("/snapstart/")).count(),
        2
    );
    assert!(
        all[..before]
            .iter()
            .any(|r| r.method == "GET" && r.target == "/"),
        "ready before the snapshot: {lines:?}"
    );
    assert!(
        all[after..invocation]
            .iter()
            .any(|r| r.method == "GET" && r.target == "/"),
        "ready again after the restore hook: {lines:?}"
    );
    for hook in [&all[before], &all[after]] {
        assert_eq!(hook.header("content-length"), Some("0"), "an empty POST");
        assert!(hook.body.is_empty());
    }
    // Nothing opened before the snapshot carries anything after it.
    let pre_snapshot = all[before].connection;
    assert!(
        all[after..].iter().all(|r| r.connection > pre_snapshot),
        "{:?}",
        all.iter()
            .map(|r| (line(r), r.connection))
            .collect::<Vec<_>>()
    );

    // Later invocations are served too.
    let second = h.response(&v2_event("GET", "/again", ""));
    assert_eq!(second["statusCode"], 200);
}

#[test]
fn a_failing_before_checkpoint_hook_fails_init() {
    let mut h = start(&[], |r| {
        if r.target == BEFORE {
            Reply::new(500, "text/plain", "pool busy")
        } else {
            Reply::text("ok")
        }
    });
    assert!(!exit_status(&mut h).success());
    let errors = h.api.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert_eq!(error.path, "/2020-01-01/extension/init/error");
    assert_eq!(
        error.error_type.as_deref(),
        Some("Extension.SnapStartHookFailed")
    );
    let body: Value = serde_json::from_str(&error.body).unwrap();
    let message = body["errorMessage"].as_str().unwrap();
    for part in [
        "POST /snapstart/before",
        "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
        "500",
        "pool busy",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert_eq!(h.api.snap_start().progress().snapshots, 0, "no snapshot");
    assert_eq!(h.api.next_polls(), 0);
    assert!(h.app.requests().iter().all(|r| r.target != AFTER));
}

#[test]
fn a_failing_after_restore_hook_fails_the_restore() {
    let mut h = start(&[], |r| {
        if r.target == AFTER {
            Reply::new(503, "text/plain", "")
        } else {
            Reply::text("ok")
        }
    });
    assert!(!exit_status(&mut h).success());
    let progress = h.api.snap_start().progress();
    assert_eq!(progress.snapshots, 1);
    assert_eq!(progress.restore_errors.len(), 1, "{progress:?}");
    let error = &progress.restore_errors[0];
    assert_eq!(
        error.error_type.as_deref(),
        Some("Runtime.AfterRestoreHookFailed")
    );
    let body: Value = serde_json::from_str(&error.body).unwrap();
    assert_eq!(body["errorType"], "Runtime.AfterRestoreHookFailed");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("POST /snapstart/after") && message.contains("503"),
        "{message}"
    );
    assert_eq!(h.api.next_polls(), 0, "no invocation is taken");
    assert!(h.api.init_errors().is_empty());
}

#[test]
fn an_app_not_ready_after_the_restore_fails_the_restore() {
    // Healthy until the after-restore hook; then its health check fails for good.
    let broken = Arc::new(AtomicBool::new(false));
    let flag = broken.clone();
    let mut h = start(
        &[
            ("AWS_LWA_READINESS_CHECK_PATH", "/health"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "0.5"),
        ],
        move |r| {
            if r.target == AFTER {
                flag.store(true, Ordering::SeqCst);
            }
            if r.target == "/health" && flag.load(Ordering::SeqCst) {
                Reply::new(500, "text/plain", "database unreachable")
            } else {
                Reply::text("ok")
            }
        },
    );
    assert!(!exit_status(&mut h).success());
    assert!(broken.load(Ordering::SeqCst));
    let progress = h.api.snap_start().progress();
    assert_eq!(progress.restore_errors.len(), 1, "{progress:?}");
    let error = &progress.restore_errors[0];
    assert_eq!(error.error_type.as_deref(), Some("Runtime.AppNotReady"));
    assert!(
        error
            .body
            .contains("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS"),
        "{}",
        error.body
    );
    assert_eq!(h.api.next_polls(), 0);
}

/// The sources' events for `path` (REST v1, HTTP API v2, Function URL and ALB).
fn events_for(path: &str) -> Vec<(&'static str, Value)> {
    let v1 = json!({
        "httpMethod": "POST", "path": path, "resource": "/{proxy+}",
        "headers": {"host": "api.example.com"}, "multiValueHeaders": {},
        "requestContext": {"httpMethod": "POST", "stage": "prod", "requestId": "r",
                           "identity": {"sourceIp": "203.0.113.9"}},
        "body": null, "isBase64Encoded": false
    });
    let mut url = v2_event("POST", path, "");
    url["requestContext"]["domainName"] = json!("abc.lambda-url.us-east-1.on.aws");
    let alb = json!({
        "httpMethod": "POST", "path": path, "queryStringParameters": {},
        "headers": {"host": "alb.example.com"},
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "body": "", "isBase64Encoded": false
    });
    vec![
        ("rest", v1),
        ("http", v2_event("POST", path, "")),
        ("url", url),
        ("alb", alb),
    ]
}

#[test]
fn events_aimed_at_a_hook_path_get_403_in_their_own_format_and_never_reach_the_app() {
    // Not a SnapStart function: the hook routes are guarded whenever they are set.
    let h = Harness::start(
        &[
            ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", BEFORE),
            ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", AFTER),
            ("AWS_LWA_REMOVE_BASE_PATH", "/api"),
        ],
        ok,
    );
    let spellings = [
        "/snapstart/after",
        "/snapstart/before",
        "/SnapStart/AFTER",
        "/snapstart//after",
        "//snapstart/after/",
        "/snapstart/./after",
        "/x/../snapstart/after",
        "/snapstart/%61fter",
        "/snapstart%2Fafter",
        "/snapstart/after;jsessionid=1",
        "/api/snapstart/after",
        "/api/SNAPSTART/%2e/after",
    ];
    for path in spellings {
        for (source, event) in events_for(path) {
            let response = h.response(&event);
            assert_eq!(response["statusCode"], 403, "{source} {path}: {response}");
            assert_eq!(response["body"], "Forbidden", "{source} {path}");
            match source {
                "rest" => assert!(response["multiValueHeaders"].is_object()),
                "http" | "url" => assert!(response["cookies"].is_array(), "{response}"),
                _ => assert_eq!(response["statusDescription"], "403 Forbidden"),
            }
        }
    }
    assert!(
        h.app.requests().is_empty(),
        "no hook request reached the app: {:?}",
        h.app.requests()
    );
    // Paths that only look alike reach the app.
    for path in ["/snapstart/afterwards", "/snapstart", "/apisnapstart/after"] {
        for (source, event) in events_for(path) {
            let response = h.response(&event);
            assert_eq!(response["statusCode"], 200, "{source} {path}: {response}");
        }
    }
    assert_eq!(h.app.requests().len(), 12);
    assert!(
        h.adapter
            .log_with("answering 403")
            .contains("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"),
        "one WARN line per refusal"
    );
}

#[test]
fn hook_paths_the_guard_cannot_cover_are_start_up_errors() {
    for (variable, value) in [
        ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/"),
        ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/x/.."),
        ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "/before%25"),
        ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "/before%zz"),
    ] {
        let mut h = Harness::start(&[(variable, value)], ok);
        let status = h
            .adapter
            .wait_exit(Duration::from_secs(20))
            .expect("the adapter exits");
        assert!(!status.success());
        let errors = h.api.init_errors();
        assert_eq!(errors.len(), 1, "{variable}={value}: {errors:?}");
        assert_eq!(
            errors[0].error_type.as_deref(),
            Some("Extension.ConfigInvalid")
        );
        assert!(errors[0].body.contains(variable), "{}", errors[0].body);
        assert_eq!(h.api.next_polls(), 0);
    }
}

/// `lambda-emulator --snap-start --invoke`: the snapshot and the restore are played (and
/// printed) before the invocation; a failed restore ends the run at once with its error
/// (exit 3, no answer).
#[test]
fn the_emulator_binary_plays_the_snapshot_and_the_restore() {
    let hooks_ok = TestApp::start(ok);
    let after_fails = TestApp::start(|r| {
        if r.target == AFTER {
            Reply::new(500, "text/plain", "cannot reconnect")
        } else {
            Reply::text("ok")
        }
    });
    let run = |app: &TestApp| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lambda-emulator"))
            .args([
                "--runtime-api",
                "127.0.0.1:0",
                "--adapter",
                ADAPTER,
                "--snap-start",
            ])
            .args(["--invoke", "-", "--", "sleep", "600"])
            .env("AWS_LWA_PORT", app.port.to_string())
            .env("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", BEFORE)
            .env("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", AFTER)
            .stdin(std::fs::File::open(event_file()).unwrap())
            .output()
            .unwrap()
    };
    let out = run(&hooks_ok);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["body"], "ok");
    for line in ["snapshot taken", "restored;"] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    let targets: Vec<String> = hooks_ok
        .requests()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(targets, [BEFORE, AFTER, "/hello"]);

    let out = run(&after_fails);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "no answer: {stderr}");
    assert!(
        stderr.contains("the restore failed (Runtime.AfterRestoreHookFailed)")
            && stderr.contains("cannot reconnect"),
        "{stderr}"
    );
    assert!(after_fails.requests().iter().all(|r| r.target != "/hello"));
}

/// A file holding an HTTP API event for `GET /hello`.
fn event_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("snap-start-event-{}.json", std::process::id()));
    std::fs::write(&path, v2_event("GET", "/hello", "").to_string()).unwrap();
    path
}
