//! The adapter's lifecycle features through the real binary, between the emulator's Runtime
//! API and a scripted app: the idle check that holds `/next` until the app's work after the
//! response is done (`AWS_LWA_IDLE_CHECK_PATH`), and the metrics in CloudWatch Embedded
//! Metric Format on stdout (`AWS_LWA_ENABLE_METRICS`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// The adapter with its stdout (logs and metric lines) collected line by line.
struct LoggedAdapter {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl LoggedAdapter {
    fn spawn(api: &RuntimeApi, app_port: u16, env: &[(&str, &str)]) -> LoggedAdapter {
        let mut child = Command::new(ADAPTER)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "shop-api")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_LEVEL", "debug")
            .env("AWS_LWA_PORT", app_port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lambda-adapter");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        LoggedAdapter { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (bounded) until a line satisfies `matches`.
    fn wait_for_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| matches(l)) {
                return line;
            }
            assert!(
                Instant::now() < until,
                "no {what} line in:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The stdout lines that are EMF documents, parsed.
    fn metric_lines(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter(|l| l.starts_with("{\"_aws\""))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Drop for LoggedAdapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn invoke(api: &RuntimeApi, event: &Value) -> Posted {
    api.invoke(
        event.to_string().as_bytes(),
        InvokeOptions {
            timeout: Duration::from_secs(10),
            queue_wait: Duration::from_secs(20),
            ..InvokeOptions::default()
        },
    )
    .expect("the invocation is answered")
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An app whose `/work` leaves work running for `busy_for` after its response, and whose
/// `/idle` answers 503 until that work is done, then 204.
fn app_with_work(busy_for: Duration) -> (TestApp, Arc<Mutex<Option<Instant>>>) {
    let busy_until = Arc::new(Mutex::new(None::<Instant>));
    let state = busy_until.clone();
    let app = TestApp::start(move |r| match r.target.as_str() {
        "/idle" => {
            let busy = state.lock().unwrap().is_some_and(|t| Instant::now() < t);
            Reply::new(if busy { 503 } else { 204 }, "text/plain", "")
        }
        _ => {
            *state.lock().unwrap() = Some(Instant::now() + busy_for);
            Reply::new(202, "application/json", r#"{"accepted":true}"#)
        }
    });
    (app, busy_until)
}

#[test]
fn the_idle_check_holds_the_next_event_until_the_work_after_the_response_is_done() {
    let (app, busy_until) = app_with_work(Duration::from_millis(400));
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(&api, app.port, &[("AWS_LWA_IDLE_CHECK_PATH", "/idle")]);

    let posted = invoke(&api, &v2_event("POST", "/work", ""));
    let answered_at = Instant::now();
    assert_eq!(posted.json().unwrap()["statusCode"], 202);
    let work_done_at = busy_until.lock().unwrap().unwrap();
    assert!(
        answered_at < work_done_at,
        "the response waited for the work after it"
    );
    // Answered, yet the adapter has not asked for another event: the app is still busy.
    assert_eq!(api.next_polls(), 1, "asked /next while the app was busy");
    wait_until(
        "the adapter asks /next again",
        Duration::from_secs(5),
        || api.next_polls() == 2,
    );
    assert!(
        Instant::now() >= work_done_at,
        "asked /next before the work was done"
    );
    let checks: Vec<_> = app
        .requests()
        .into_iter()
        .filter(|r| r.target == "/idle")
        .collect();
    assert!(
        checks.len() >= 2,
        "the app was asked again while busy: {checks:?}"
    );
    assert_eq!(checks[0].method, "GET");
    assert_eq!(
        checks[0].header("user-agent"),
        Some("lambda-adapter idle check")
    );
    // The next invocation is served as usual, and the wait left no warning behind.
    assert_eq!(
        invoke(&api, &v2_event("GET", "/next-one", ""))
            .json()
            .unwrap()["statusCode"],
        202
    );
    adapter.wait_for_line("idle", |l| l.contains("the app is idle after the response"));
    assert!(!adapter.lines().iter().any(|l| l.contains("WARN")));
}

#[test]
fn without_the_idle_check_the_next_event_is_asked_for_at_once() {
    let (app, busy_until) = app_with_work(Duration::from_millis(1500));
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let _adapter = LoggedAdapter::spawn(&api, app.port, &[]);
    invoke(&api, &v2_event("POST", "/work", ""));
    wait_until(
        "the adapter asks /next again",
        Duration::from_secs(5),
        || api.next_polls() == 2,
    );
    assert!(Instant::now() < busy_until.lock().unwrap().unwrap());
    assert!(app.requests().iter().all(|r| r.target != "/idle"));
}

#[test]
fn the_invocation_deadline_cuts_the_wait_with_one_warning() {
    // The app never becomes idle.
    let app = TestApp::start(|r| match r.target.as_str() {
        "/idle" => Reply::new(503, "text/plain", ""),
        _ => Reply::text("ok"),
    });
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(&api, app.port, &[("AWS_LWA_IDLE_CHECK_PATH", "/idle")]);
    let options = InvokeOptions {
        timeout: Duration::from_millis(1500),
        queue_wait: Duration::from_secs(20),
        ..InvokeOptions::default()
    };
    let posted = api.invoke(v2_event("GET", "/", "").to_string().as_bytes(), options);
    let deadline_ms = posted.unwrap().deadline_ms;
    wait_until(
        "the adapter asks /next again",
        Duration::from_secs(5),
        || api.next_polls() == 2,
    );
    assert!(
        lambda_adapter::emulator::now_ms() < deadline_ms,
        "/next came after the invocation's deadline"
    );
    let warning = adapter.wait_for_line("deadline warning", |l| l.contains("deadline came"));
    assert!(warning.starts_with(" WARN"), "{warning}");
    let warnings = adapter
        .lines()
        .iter()
        .filter(|l| l.contains("WARN"))
        .count();
    assert_eq!(warnings, 1, "{:#?}", adapter.lines());
    // The worker goes on.
    assert_eq!(
        invoke(&api, &v2_event("GET", "/", "")).json().unwrap()["statusCode"],
        200
    );
}

#[test]
fn an_idle_check_path_the_app_does_not_serve_costs_a_warning_not_a_wait() {
    let app = TestApp::start(|r| match r.target.as_str() {
        "/idle" => Reply::new(404, "text/plain", "not found"),
        _ => Reply::text("ok"),
    });
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(&api, app.port, &[("AWS_LWA_IDLE_CHECK_PATH", "/idle")]);
    invoke(&api, &v2_event("GET", "/", ""));
    wait_until(
        "the adapter asks /next again",
        Duration::from_secs(5),
        || api.next_polls() == 2,
    );
    let warning = adapter.wait_for_line("404 warning", |l| l.contains("answered 404"));
    assert!(
        warning.contains("expected 2xx when idle or 503 while busy"),
        "{warning}"
    );
    let checks = app
        .requests()
        .iter()
        .filter(|r| r.target == "/idle")
        .count();
    assert_eq!(checks, 1);
}

#[test]
fn managed_instances_never_run_the_idle_check() {
    let app = TestApp::start(|_| Reply::text("ok"));
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(
        &api,
        app.port,
        &[
            ("AWS_LWA_IDLE_CHECK_PATH", "/idle"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
        ],
    );
    for _ in 0..3 {
        invoke(&api, &v2_event("GET", "/", ""));
    }
    adapter.wait_for_line("the start-up warning", |l| {
        l.contains("AWS_LWA_IDLE_CHECK_PATH is ignored with AWS_LAMBDA_MAX_CONCURRENCY=2")
    });
    assert!(app.requests().iter().all(|r| r.target != "/idle"));
}

/// Checks `doc` against the EMF specification: the `_aws` block with a millisecond
/// timestamp, each directive's namespace, dimension sets naming string members, and metric
/// definitions (name, CloudWatch unit) whose values are numbers at the top level.
fn assert_emf(doc: &Value) {
    let aws = doc["_aws"].as_object().expect("an _aws object");
    assert!(
        aws["Timestamp"].as_u64().unwrap() > 1_600_000_000_000,
        "{doc}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().unwrap();
        assert!(!namespace.is_empty() && namespace.len() <= 255);
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30);
            for name in set {
                let value = &doc[name.as_str().unwrap()];
                assert!(
                    value.is_string(),
                    "dimension {name} is not a string member: {doc}"
                );
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let unit = metric["Unit"].as_str().unwrap();
            assert!(
                ["Count", "Milliseconds", "Microseconds", "Bytes"].contains(&unit),
                "{unit}"
            );
            assert!(
                doc[name].is_number(),
                "metric {name} has no number value: {doc}"
            );
        }
    }
}

fn metric_names(doc: &Value) -> Vec<&str> {
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect()
}

#[test]
fn metrics_are_one_emf_line_per_cold_start_and_per_invocation() {
    let slow_ms = 60;
    let app = TestApp::start(move |r| match r.target.as_str() {
        "/slow" => Reply::text("slow").delay(Duration::from_millis(slow_ms)),
        "/missing" => Reply::new(404, "text/plain", "no such page"),
        "/events" => Reply::new(200, "application/json", r#"{"batchItemFailures":[]}"#),
        // Two different lengths: not a valid response.
        "/hang-up" => Reply::text("cut").header("Content-Length", "100"),
        _ => Reply::text("ok"),
    });
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(
        &api,
        app.port,
        &[
            ("AWS_LWA_ENABLE_METRICS", "true"),
            ("AWS_LWA_METRICS_NAMESPACE", "Shop/Adapter"),
        ],
    );
    let slow = invoke(&api, &v2_event("GET", "/slow", ""));
    let missing = invoke(&api, &v2_event("GET", "/missing", ""));
    let sqs = invoke(
        &api,
        &json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}),
    );
    let failed = invoke(&api, &v2_event("GET", "/hang-up", ""));
    assert_eq!(failed.kind, PostKind::Error);
    let mut malformed = v2_event("GET", "/", "");
    malformed["headers"]["bad"] = json!("a\nb");
    invoke(&api, &malformed);
    wait_until("five invocation lines", Duration::from_secs(5), || {
        adapter.metric_lines().len() == 6
    });

    let docs = adapter.metric_lines();
    for doc in &docs {
        assert_emf(doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Shop/Adapter"
        );
        assert_eq!(doc["FunctionName"], "shop-api");
    }
    let cold = &docs[0];
    assert_eq!(
        metric_names(cold),
        ["ColdStarts", "AppReadyTime", "AsyncInitIncomplete"]
    );
    assert_eq!(cold["ColdStarts"], 1);
    assert_eq!(cold["AsyncInitIncomplete"], 0);

    let by_request = |posted: &Posted| -> &Value {
        docs.iter()
            .find(|d| d["requestId"] == posted.request_id)
            .unwrap_or_else(|| panic!("no line for {}", posted.request_id))
    };
    let line = by_request(&slow);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["FunctionName"], ["FunctionName", "StatusClass"]])
    );
    assert_eq!(
        metric_names(line),
        [
            "Invocations",
            "AppLatency",
            "AdapterOverhead",
            "ResponseBytes"
        ]
    );
    assert!(
        line["AppLatency"].as_f64().unwrap() >= slow_ms as f64,
        "{line}"
    );
    assert!(line["AdapterOverhead"].as_u64().unwrap() > 0);
    assert_eq!(line["ResponseBytes"], slow.body.len());
    assert_eq!(
        (&line["StatusClass"], &line["StatusCode"]),
        (&json!("2xx"), &json!(200))
    );
    assert_eq!(line["EventSource"], "HttpApi");

    let line = by_request(&missing);
    assert_eq!(
        (&line["StatusClass"], &line["StatusCode"]),
        (&json!("4xx"), &json!(404))
    );

    let line = by_request(&sqs);
    assert_eq!(line["EventSource"], "PassThrough");
    assert_eq!(line["StatusClass"], "2xx");

    let line = by_request(&failed);
    assert_eq!(line["StatusClass"], "Error");
    assert_eq!(line["ErrorType"], failed.error_type.clone().unwrap());
    assert!(line["ErrorType"].as_str().unwrap().starts_with("App."));
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][2],
        json!(["FunctionName", "ErrorType"])
    );
    assert!(line.get("ResponseBytes").is_none());

    // The adapter's own 400 for a malformed event: no app latency, the status the caller got.
    let line = &docs[docs.len() - 1];
    assert_eq!(
        (&line["StatusClass"], &line["StatusCode"]),
        (&json!("4xx"), &json!(400))
    );
    assert!(!metric_names(line).contains(&"AppLatency"));

    // Debug logging wrote many lines beside them; none broke into another.
    for line in adapter.lines() {
        assert!(
            line.starts_with("{\"_aws\"") || !line.contains("_aws"),
            "an interleaved line: {line}"
        );
    }
}

#[test]
fn metrics_are_off_unless_enabled() {
    let app = TestApp::start(|_| Reply::text("ok"));
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(&api, app.port, &[]);
    invoke(&api, &v2_event("GET", "/", ""));
    adapter.wait_for_line("a log line of the invocation", |l| {
        l.contains("responding to lambda event")
    });
    assert!(adapter.lines().iter().all(|l| !l.contains("_aws")));
}

#[test]
fn metric_lines_from_many_workers_never_interleave() {
    let app = TestApp::start(|_| Reply::text("ok").delay(Duration::from_millis(2)));
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let adapter = LoggedAdapter::spawn(
        &api,
        app.port,
        &[
            ("AWS_LWA_ENABLE_METRICS", "true"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
        ],
    );
    let done = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let (api, done) = (&api, done.clone());
            scope.spawn(move || {
                for _ in 0..25 {
                    invoke(api, &v2_event("GET", "/", ""));
                    done.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 200);
    wait_until("200 invocation lines", Duration::from_secs(10), || {
        adapter.metric_lines().len() == 201
    });
    for line in adapter.lines() {
        if line.contains("_aws") {
            let doc: Value = serde_json::from_str(&line).expect("a whole EMF line");
            assert_emf(&doc);
        }
    }
}
