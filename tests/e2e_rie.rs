//! End to end under AWS's own Runtime Interface Emulator (RIE): the freshly built adapter as a
//! real extension in /opt/extensions, a Python app as the runtime (the example app, or
//! tests/apps/rie_test_app.py for streaming and concurrency), AWS's sample events in (v2,
//! Function URL, REST v1, ALB, VPC Lattice 2.0 and 1.0, SQS pass-through), the responses
//! checked; also a streamed response's framing, and RIE's managed-instances mode with 4
//! invocations in flight.
//!
//! RIE only starts extensions from /opt/extensions, so each test runs it in a private mount
//! namespace with a directory of its own bind-mounted over /opt. Skipped (with a message) when
//! RIE or `unshare` is unavailable, unless `LAMBDA_ADAPTER_REQUIRE_RIE` is set (`make test`
//! sets it), in which case that is a failure. RIE is found at `$LAMBDA_ADAPTER_RIE`, else at
//! `.cache/rie/aws-lambda-rie` in the repository (`make test` installs it there).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADAPTER: &str = env!("CARGO_BIN_EXE_lambda-adapter");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The app of most tests: the Python example, whose catch-all route describes the request.
const EXAMPLE_APP: &str = "examples/python-stdlib/app.py";
/// The app of the streaming and concurrency tests (SSE, a broken body, slow answers).
const TEST_APP: &str = "tests/apps/rie_test_app.py";
/// The bytes `/binary` of the example app answers.
const APP_BINARY: [u8; 8] = [0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF, 0x10, 0x80];

/// RIE tests run one at a time (each RIE takes one invocation at a time anyway).
static SERIAL: Mutex<()> = Mutex::new(());

fn rie_path() -> PathBuf {
    std::env::var_os("LAMBDA_ADAPTER_RIE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO).join(".cache/rie/aws-lambda-rie"))
}

/// A private mount namespace (for /opt) inside a private PID namespace, so that killing
/// `unshare` ends RIE and everything it started (RIE gives its children process groups of
/// their own, so a process-group kill would miss them).
fn unshare_args() -> Vec<&'static str> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut args = if root { vec!["-m"] } else { vec!["-Urm"] };
    args.extend([
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
    ]);
    args
}

/// `Some(reason)` when this machine cannot run RIE tests.
fn unavailable() -> Option<String> {
    let rie = rie_path();
    if !rie.is_file() {
        return Some(format!(
            "{} not found (run `make test`, which installs it)",
            rie.display()
        ));
    }
    let probe = Command::new("unshare")
        .args(unshare_args())
        .arg("true")
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return Some("`unshare` cannot create a private mount namespace here".into());
    }
    if Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Some("python3 not found".into());
    }
    None
}

/// Whether to run; panics when RIE is required but unavailable.
fn should_run(test: &str) -> bool {
    match unavailable() {
        None => true,
        Some(reason) if std::env::var_os("LAMBDA_ADAPTER_REQUIRE_RIE").is_some() => {
            panic!("{test}: LAMBDA_ADAPTER_REQUIRE_RIE is set but RIE cannot run: {reason}")
        }
        Some(reason) => {
            // Written past the test harness's output capture, so the skip is always visible.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {reason} (set LAMBDA_ADAPTER_REQUIRE_RIE=1 to fail instead)"
            );
            false
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// RIE with the adapter as an extension and the example app as the runtime. Killed, with
/// everything it started, on Drop.
struct Rie {
    child: Child,
    invoke_addr: String,
    work: PathBuf,
    log: PathBuf,
}

impl Rie {
    /// RIE in classic mode with the example app.
    fn start(name: &str, env: &[(&str, &str)]) -> Rie {
        Rie::start_app(name, &Path::new(REPO).join(EXAMPLE_APP), env)
    }

    /// RIE with `app` (a Python script) as the runtime. With `AWS_LAMBDA_MAX_CONCURRENCY` in
    /// `env`, RIE runs in its managed-instances mode, which ignores the command line and starts
    /// `/opt/bootstrap` with `/var/task` as its working directory: both are provided inside the
    /// private mount namespace (`/var` gets a writable overlay, or a tmpfs where overlays are
    /// not allowed).
    fn start_app(name: &str, app: &Path, env: &[(&str, &str)]) -> Rie {
        let work =
            std::env::temp_dir().join(format!("lambda-adapter-rie-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let extensions = work.join("opt/extensions");
        std::fs::create_dir_all(&extensions).unwrap();
        std::fs::copy(ADAPTER, extensions.join("lambda-adapter")).unwrap();
        let managed = env.iter().any(|(n, _)| *n == "AWS_LAMBDA_MAX_CONCURRENCY");
        let mut mounts = String::from(r#"mount --bind "$1/opt" /opt"#);
        if managed {
            write_bootstrap(&work.join("opt/bootstrap"), app);
            for dir in ["var-upper", "var-work"] {
                std::fs::create_dir_all(work.join(dir)).unwrap();
            }
            mounts.push_str(
                r#" && { mount -t overlay overlay -o "lowerdir=/var,upperdir=$1/var-upper,workdir=$1/var-work" /var || mount -t tmpfs tmpfs /var; } && mkdir -p /var/task"#,
            );
        }
        let log = work.join("rie.log");
        let (invoke_port, runtime_port, app_port) = (free_port(), free_port(), free_port());
        let script = format!(
            r#"{mounts} && exec "$2" --runtime-interface-emulator-address "127.0.0.1:$3" --runtime-api-address "127.0.0.1:$4" python3 "$5""#
        );
        let mut command = Command::new("unshare");
        command
            .args(unshare_args())
            .args(["sh", "-c", &script, "rie"])
            .arg(&work)
            .arg(rie_path())
            .args([invoke_port.to_string(), runtime_port.to_string()])
            .arg(app)
            .env("AWS_LWA_PORT", app_port.to_string())
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "10")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(work.join("rie.stderr.log")).unwrap());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start RIE");
        let invoke_addr = format!("127.0.0.1:{invoke_port}");
        let rie = Rie {
            child,
            invoke_addr,
            work,
            log,
        };
        let until = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&rie.invoke_addr).is_err() {
            assert!(
                Instant::now() < until,
                "RIE never listened on {}\n{}",
                rie.invoke_addr,
                rie.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        rie
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            read(&self.log),
            read(&self.work.join("rie.stderr.log"))
        )
    }

    /// One invocation through RIE's invoke endpoint; returns the function's response JSON.
    fn invoke(&self, event: &Value) -> Value {
        let (head, body) = self.invoke_raw(event);
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "RIE answered {head}\n{}",
            self.logs()
        );
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&body),
                self.logs()
            )
        })
    }

    /// One invocation; returns RIE's response head and its (de-chunked) body, as sent.
    fn invoke_raw(&self, event: &Value) -> (String, Vec<u8>) {
        let body = event.to_string();
        let mut stream = TcpStream::connect(&self.invoke_addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.invoke_addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response from RIE: {raw:?}\n{}", self.logs()));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let body = &raw[split + 4..];
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_vec()
        };
        (head, body)
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        // `--kill-child` then ends the namespace's init, and with it every process inside.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// An executable `/opt/bootstrap` that starts `app` with this test's PATH (managed-instances
/// RIE starts the runtime with a PATH of its own).
fn write_bootstrap(path: &Path, app: &Path) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let script = format!(
        "#!/bin/sh\nPATH={}\nexport PATH\nexec python3 {}\n",
        quote(&std::env::var("PATH").unwrap_or_default()),
        quote(&app.to_string_lossy())
    );
    std::fs::write(path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        data = &data[end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    body
}

fn fixture(name: &str) -> Value {
    let path = Path::new(REPO).join("tests/fixtures/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The request the example app saw, as its catch-all route describes it.
fn app_saw(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no body: {response}"));
    serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the app's description is not JSON ({e}): {body}"))
}

#[test]
fn rie_http_api_v2_events() {
    if !should_run("rie_http_api_v2_events") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("v2", &[]);

    // AWS's sample event as is: GET / answers the app's greeting.
    let response = rie.invoke(&fixture("example-apigw-v2-request-no-authorizer.json"));
    assert_eq!(response["statusCode"], 200, "{response}\n{}", rie.logs());
    assert_eq!(
        response["body"],
        "Hello from a Python app behind lambda-adapter!\n"
    );
    assert_eq!(
        response["headers"]["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response["isBase64Encoded"], false);

    // Cookies both ways.
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/cookies");
    event["cookies"] = json!(["a=1", "b=2"]);
    let response = rie.invoke(&event);
    assert_eq!(
        serde_json::from_str::<Value>(response["body"].as_str().unwrap()).unwrap()["cookie"],
        "a=1;b=2"
    );
    assert_eq!(
        response["cookies"],
        json!(["flavour=oatmeal; Path=/", "visits=1; HttpOnly"])
    );

    // A JSON POST, and the headers the app saw.
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/echo");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"]["content-type"] = json!("application/json");
    event["body"] = json!(r#"{"hello":"rie"}"#);
    let response = rie.invoke(&event);
    assert_eq!(response["statusCode"], 200, "{response}");
    let echo: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["youSent"], json!({"hello": "rie"}));
    let headers = &echo["request"]["headers"];
    assert_eq!(
        headers["host"],
        "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com"
    );
    assert_eq!(headers["x-forwarded-for"], "1.2.3.4");
    let gateway: Value =
        serde_json::from_str(headers["x-amzn-request-context"].as_str().unwrap()).unwrap();
    assert_eq!(gateway["requestId"], "LV7fzho-PHcEJPw=");
    let lambda: Value =
        serde_json::from_str(headers["x-amzn-lambda-context"].as_str().unwrap()).unwrap();
    assert!(
        !lambda["request_id"].as_str().unwrap().is_empty(),
        "{lambda}"
    );
    assert!(lambda["deadline"].as_u64().unwrap() > 0);

    // A binary response comes back as base64.
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/binary");
    let response = rie.invoke(&event);
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD
        .decode(response["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(body, APP_BINARY);

    // An app status passes through.
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/status/404");
    assert_eq!(rie.invoke(&event)["statusCode"], 404);
}

#[test]
fn rie_function_url_event() {
    if !should_run("rie_function_url_event") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("url", &[]);
    let response = rie.invoke(&fixture("lambda_function_url_request.json"));
    assert_eq!(response["statusCode"], 200, "{response}\n{}", rie.logs());
    assert_eq!(response["headers"]["content-type"], "application/json");
    let saw = app_saw(&response);
    assert_eq!(saw["method"], "GET");
    assert_eq!(saw["path"], "/my/path");
    assert_eq!(
        saw["query"],
        json!({"parameter1": ["value1", "value2"], "parameter2": ["value"]})
    );
    assert_eq!(saw["headers"]["cookie"], "test=hi");
    assert_eq!(saw["headers"]["host"], "id.lambda-url.eu-west-2.on.aws");
    assert_eq!(saw["headers"]["x-amzn-tls-version"], "TLSv1.2");
    let gateway: Value =
        serde_json::from_str(saw["headers"]["x-amzn-request-context"].as_str().unwrap()).unwrap();
    assert_eq!(gateway["requestId"], "MIZRNhJtIAMEMDw=");
    assert_eq!(gateway["domainName"], "id.lambda-url.eu-west-2.on.aws");
}

/// The top-level keys of a JSON object, in the order they were sent (the response shapes
/// fix the order; `serde_json::Value` would sort them).
fn b64decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn keys_in_order(json: &[u8]) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visitor)
        }
    }
    serde_json::from_slice::<Keys>(json)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {}", String::from_utf8_lossy(json)))
        .0
}

/// A header line of an expected request in tests/fixtures/events/expected (the exact value
/// upstream sends).
fn expected_header(fixture: &str, name: &str) -> String {
    let path = Path::new(REPO)
        .join("tests/fixtures/events/expected")
        .join(fixture);
    let text = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{fixture} has no {name} header"))
        .to_string()
}

/// Asserts that the `x-amzn-request-context` the app saw is the one upstream sends for
/// `fixture`: the same fields in the same order. (Nested maps that come from the event, such as
/// a REST authorizer, keep the event's order, and the tests' events are re-serialised.)
fn assert_request_context(saw: &Value, fixture: &str) {
    let got = saw["headers"]["x-amzn-request-context"]
        .as_str()
        .unwrap_or_else(|| panic!("no x-amzn-request-context: {saw}"));
    let want = expected_header(fixture, "x-amzn-request-context");
    assert_eq!(
        keys_in_order(got.as_bytes()),
        keys_in_order(want.as_bytes()),
        "{got}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(got).unwrap(),
        serde_json::from_str::<Value>(&want).unwrap()
    );
}

/// Asserts the status, and returns the response JSON after checking its keys and their order.
fn response_shaped(rie: &Rie, event: &Value, keys: &[&str]) -> Value {
    let (head, raw) = rie.invoke_raw(event);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "RIE answered {head}\n{}",
        rie.logs()
    );
    assert_eq!(
        keys_in_order(&raw),
        keys,
        "{}\n{}",
        String::from_utf8_lossy(&raw),
        rie.logs()
    );
    serde_json::from_slice(&raw).unwrap()
}

const V1_KEYS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];
const ALB_KEYS: [&str; 6] = [
    "statusCode",
    "statusDescription",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

#[test]
fn rie_rest_v1_events() {
    if !should_run("rie_rest_v1_events") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("v1", &[]);

    // AWS's sample event as is: a JSON POST to /hello/world?name=me.
    let response = response_shaped(&rie, &fixture("http/example-apigw-request.json"), &V1_KEYS);
    assert_eq!(response["statusCode"], 200, "{response}");
    // REST v1: every header in multiValueHeaders, `headers` empty.
    assert_eq!(response["headers"], json!({}));
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert!(
        response["multiValueHeaders"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string))),
        "{response}"
    );
    assert_eq!(response["isBase64Encoded"], false);
    let saw = app_saw(&response);
    assert_eq!(saw["method"], "POST");
    assert_eq!(saw["path"], "/hello/world");
    assert_eq!(saw["query"], json!({"name": ["me"]}));
    assert_eq!(saw["body"], "{\r\n\t\"a\": 1\r\n}");
    let headers = &saw["headers"];
    assert_eq!(
        headers["host"],
        "gy415nuibc.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(headers["headername"], "headerValue");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-forwarded-for"], "54.240.196.186, 54.182.214.83");
    assert_request_context(&saw, "example-apigw-request.http");
    let lambda: Value =
        serde_json::from_str(headers["x-amzn-lambda-context"].as_str().unwrap()).unwrap();
    assert!(
        !lambda["request_id"].as_str().unwrap().is_empty(),
        "{lambda}"
    );

    // Repeated response headers keep every value; set-cookie stays a header.
    let mut event = fixture("http/example-apigw-request.json");
    event["path"] = json!("/cookies");
    event["httpMethod"] = json!("GET");
    event["body"] = Value::Null;
    let response = response_shaped(&rie, &event, &V1_KEYS);
    assert_eq!(response["headers"], json!({}));
    assert_eq!(
        response["multiValueHeaders"]["set-cookie"],
        json!(["flavour=oatmeal; Path=/", "visits=1; HttpOnly"])
    );

    // A binary response comes back as base64.
    event["path"] = json!("/binary");
    let response = response_shaped(&rie, &event, &V1_KEYS);
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        b64decode(response["body"].as_str().unwrap()),
        APP_BINARY.to_vec()
    );
}

#[test]
fn rie_alb_events() {
    if !should_run("rie_alb_events") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("alb", &[]);

    // AWS's samples, aimed past the app's greeting at `/` so that it describes the request.
    let mut event = fixture("http/example-alb-lambda-target-request-headers-only.json");
    event["path"] = json!("/target");
    let response = response_shaped(&rie, &event, &ALB_KEYS);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["statusDescription"], "200 OK");
    // ALB: both header maps, the first value in `headers`, all of them in `multiValueHeaders`.
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(response["isBase64Encoded"], false);
    let saw = app_saw(&response);
    assert_eq!(saw["method"], "GET");
    assert_eq!(saw["path"], "/target");
    assert_eq!(saw["query"], json!({"key": ["hello"]}));
    assert_eq!(saw["body"], "");
    let headers = &saw["headers"];
    assert_eq!(
        headers["host"],
        "lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com"
    );
    assert_eq!(headers["x-myheader"], "123");
    assert_eq!(headers["x-forwarded-for"], "25.12.198.67");
    assert_request_context(&saw, "example-alb-lambda-target-request-headers-only.http");

    // The multi-value sample: multiValueHeaders and multiValueQueryStringParameters, a body.
    let mut event = fixture("http/example-alb-lambda-target-request-multivalue-headers.json");
    event["path"] = json!("/target");
    let response = response_shaped(&rie, &event, &ALB_KEYS);
    assert_eq!(response["statusCode"], 200, "{response}");
    let saw = app_saw(&response);
    assert_eq!(saw["method"], "GET");
    assert_eq!(saw["query"], json!({"key": ["hello"]}));
    assert_eq!(saw["body"], "Some text");
    assert_eq!(
        saw["headers"]["host"],
        "lambda-test-alb-1234567.us-east-1.elb.amazonaws.com"
    );
    assert_eq!(saw["headers"]["x-myheader"], "123");
    assert_request_context(
        &saw,
        "example-alb-lambda-target-request-multivalue-headers.http",
    );

    // Repeated response headers: the first in `headers`, all in `multiValueHeaders`.
    event["path"] = json!("/cookies");
    let response = response_shaped(&rie, &event, &ALB_KEYS);
    assert_eq!(response["headers"]["set-cookie"], "flavour=oatmeal; Path=/");
    assert_eq!(
        response["multiValueHeaders"]["set-cookie"],
        json!(["flavour=oatmeal; Path=/", "visits=1; HttpOnly"])
    );

    // The status description follows the app's status.
    event["path"] = json!("/status/404");
    let response = response_shaped(&rie, &event, &ALB_KEYS);
    assert_eq!(response["statusCode"], 404);
    assert_eq!(response["statusDescription"], "404 Not Found");
}

#[test]
fn rie_pass_through_event() {
    if !should_run("rie_pass_through_event") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("sqs", &[]);
    let event = fixture("passthrough/example-sqs-event.json");
    let (head, raw) = rie.invoke_raw(&event);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "RIE answered {head}\n{}",
        rie.logs()
    );
    // The app's JSON answer is the result byte for byte: Python's key order and spacing.
    assert!(
        raw.starts_with(br#"{"method": "POST", "path": "/events", "query": {}, "headers": {"#),
        "{}\n{}",
        String::from_utf8_lossy(&raw),
        rie.logs()
    );
    let saw: Value = serde_json::from_slice(&raw).unwrap();
    // The app received the event exactly as it was invoked with.
    assert_eq!(saw["body"], event.to_string());
    let headers = &saw["headers"];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-amzn-request-context"], "null");
    let lambda: Value =
        serde_json::from_str(headers["x-amzn-lambda-context"].as_str().unwrap()).unwrap();
    assert!(
        !lambda["request_id"].as_str().unwrap().is_empty(),
        "{lambda}"
    );
}

/// A v2 event for `path` (query `query`), from AWS's sample.
fn v2_event(path: &str, query: &str) -> Value {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event
}

/// A streamed result as RIE hands it over once the stream has ended: the prelude JSON, 8 NUL
/// bytes, the body. Returns the prelude's raw bytes and the body.
fn stream_parts(raw: &[u8]) -> (&[u8], &[u8]) {
    let at = raw
        .windows(8)
        .position(|w| w == [0u8; 8])
        .unwrap_or_else(|| panic!("no 8 NUL bytes after a prelude: {raw:?}"));
    (&raw[..at], &raw[at + 8..])
}

#[test]
fn rie_response_streaming() {
    if !should_run("rie_response_streaming") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start_app(
        "stream",
        &Path::new(REPO).join(TEST_APP),
        &[("AWS_LWA_INVOKE_MODE", "response_stream")],
    );

    // Five SSE events, sent 50 ms apart as separate chunks.
    let (head, raw) = rie.invoke_raw(&v2_event("/sse", "n=5"));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "RIE answered {head}\n{}",
        rie.logs()
    );
    let (prelude, body) = stream_parts(&raw);
    assert_eq!(keys_in_order(prelude), ["statusCode", "headers", "cookies"]);
    let prelude: Value = serde_json::from_slice(prelude).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    let headers = &prelude["headers"];
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    // Framing is the adapter's business, cookies have their own field.
    assert!(headers.get("transfer-encoding").is_none(), "{prelude}");
    assert!(headers.get("set-cookie").is_none(), "{prelude}");
    assert_eq!(prelude["cookies"], json!(["stream=1; Path=/"]));
    let events: String = (1..=5)
        .map(|n| format!("event: tick\ndata: {n}\n\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(body), events);

    // The app closes the connection 12 bytes into a promised 1000. The adapter ends the stream
    // with the Lambda-Runtime-Function-Error-Type/-Body trailers, and RIE drops them: the
    // invoke answers 200 with the part of the body that arrived, and nothing in its head says
    // that the stream failed (no X-Amz-Function-Error, no trailers of its own).
    let (head, raw) = rie.invoke_raw(&v2_event("/broken", ""));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "RIE answered {head}\n{}",
        rie.logs()
    );
    let lower = head.to_ascii_lowercase();
    assert!(
        !lower.contains("error") && !lower.contains("trailer"),
        "{head}"
    );
    let (prelude, body) = stream_parts(&raw);
    let prelude: Value = serde_json::from_slice(prelude).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-length"], "1000");
    assert_eq!(body, b"partial body");
    assert!(
        rie.logs().contains("App.ConnectionClosed")
            && rie.logs().contains("ends with error trailers"),
        "the adapter did not report the failure\n{}",
        rie.logs()
    );

    // The next invocation is served normally.
    let (head, raw) = rie.invoke_raw(&v2_event("/sse", "n=2"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{}", rie.logs());
    let (_, body) = stream_parts(&raw);
    assert_eq!(body, b"event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n");
}

#[test]
fn rie_managed_instances_serve_invocations_in_parallel() {
    if !should_run("rie_managed_instances_serve_invocations_in_parallel") {
        return;
    }
    const CONCURRENCY: usize = 4;
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // On RIE's environment, so RIE allows 4 invocations in flight and the adapter (which
    // inherits it) runs 4 workers.
    let rie = Rie::start_app(
        "managed",
        &Path::new(REPO).join(TEST_APP),
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")],
    );
    // RIE answers an invocation as soon as the adapter has posted its response, a moment
    // before that worker polls `/next` again; an invocation in that moment gets RIE's 400
    // `Runtime.Unavailable` ("no idle runtimes"). Such an answer is retried (bounded), and the
    // retries are counted: with fewer than 4 workers they would go on for a whole request and
    // the timing bound below would fail. Init is eager but may also still be under way.
    let retries = std::sync::atomic::AtomicUsize::new(0);
    let invoke = |path: &str| -> Value {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let (head, body) = rie.invoke_raw(&v2_event(path, ""));
            if head.starts_with("HTTP/1.1 200") {
                return serde_json::from_slice(&body).unwrap();
            }
            assert!(
                head.contains("Runtime.Unavailable") && Instant::now() < until,
                "RIE answered {head}\n{}",
                rie.logs()
            );
            retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert_eq!(invoke("/")["body"], "ready");
    let slow = |name: &str| {
        let response = invoke(&format!("/slow/{name}"));
        assert_eq!(response["statusCode"], 200, "{response}\n{}", rie.logs());
        response["body"].as_str().unwrap().to_string()
    };
    let start = Instant::now();
    assert_eq!(slow("alone"), "slow alone");
    let one = start.elapsed();

    for round in 0..2 {
        retries.store(0, std::sync::atomic::Ordering::SeqCst);
        let start = Instant::now();
        let bodies: Vec<String> = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..CONCURRENCY)
                .map(|i| scope.spawn(move || slow(&format!("{round}-{i}"))))
                .collect();
            clients.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let elapsed = start.elapsed();
        // Each invocation got its own answer.
        for (i, body) in bodies.iter().enumerate() {
            assert_eq!(body, &format!("slow {round}-{i}"));
        }
        // One at a time would take 4 x one.
        assert!(
            elapsed < one.mul_f64(2.5),
            "{CONCURRENCY} invocations took {elapsed:?}, one alone {one:?}: not in parallel"
        );
        let _ = writeln!(
            std::io::stderr(),
            "managed RIE: {CONCURRENCY} concurrent invocations of 500 ms in {elapsed:?} (one alone: {one:?}; {} retried after Runtime.Unavailable)",
            retries.load(std::sync::atomic::Ordering::SeqCst)
        );
    }
}

/// Under RIE as under Lambda: an app not ready within `AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`
/// fails init with the adapter's own error, which RIE takes through `/extension/init/error`
/// (it logs it as `Extension.InitError`, ahead of the exit it then sees), and the invocation is
/// answered at once instead of after the function timeout.
#[test]
fn rie_init_fails_when_the_app_is_not_ready_in_time() {
    if !should_run("rie_init_fails_when_the_app_is_not_ready_in_time") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start(
        "not-ready",
        &[
            ("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "599"),
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "0.5"),
        ],
    );
    let start = Instant::now();
    let (head, _) = rie.invoke_raw(&v2_event("/", ""));
    assert!(head.starts_with("HTTP/1.1 502"), "{head}\n{}", rie.logs());
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "answered before the 10 s function timeout"
    );
    let logs = rie.logs();
    assert!(
        logs.contains("First fatal error stored in appctx: Extension.InitError")
            && logs.contains("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS (0.5 s)"),
        "{logs}"
    );
}

/// RIE's Runtime API has no SnapStart endpoints (`/runtime/restore/next` answers 404), so
/// SnapStart is played by the local emulator instead (tests/snap_start.rs). Under RIE a
/// SnapStart function fails init with an error that says so. Should a later RIE serve
/// `/restore/next`, this fails: then the lifecycle can be tested under RIE too.
#[test]
fn rie_has_no_snap_start_endpoints_and_the_adapter_says_so() {
    if !should_run("rie_has_no_snap_start_endpoints_and_the_adapter_says_so") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start(
        "snap-start",
        &[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")],
    );
    let (head, body) = rie.invoke_raw(&v2_event("/", ""));
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("Runtime.RestoreNextFailed") && body.contains("404"),
        "{head}\n{body}\n{}",
        rie.logs()
    );
}

/// Under AWS's RIE, with tests/apps/lifecycle_app.py: the idle check holds the adapter's next
/// `/next` while the app's work after the response runs (RIE does not freeze, so the work
/// would finish anyway; what RIE shows is the adapter's side), and the EMF metric lines reach
/// RIE's log, one per cold start and per invocation, `AfterResponseWait` covering the work.
#[test]
fn rie_idle_check_and_metric_lines() {
    if !should_run("rie_idle_check_and_metric_lines") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start_app(
        "lifecycle",
        &Path::new(REPO).join("tests/apps/lifecycle_app.py"),
        &[
            ("AWS_LWA_IDLE_CHECK_PATH", "/idle"),
            ("AWS_LWA_ENABLE_METRICS", "true"),
        ],
    );
    let response = rie.invoke(&v2_event("/work", "ms=600&steps=3"));
    assert_eq!(response["statusCode"], 202, "{}", rie.logs());
    // The next invocation is served once the adapter asks for it, after the work.
    let response = rie.invoke(&v2_event("/hello", ""));
    assert_eq!(response["statusCode"], 200, "{}", rie.logs());
    let logs = rie.logs();
    let done = logs.find("work 1 done").expect("the work ran to its end");
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| l.find("{\"_aws\"").map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{logs}");
    assert_eq!(lines[0]["ColdStarts"], 1);
    let work = &lines[1];
    assert_eq!(work["StatusCode"], 202);
    assert!(
        work["AfterResponseWait"].as_f64().unwrap() >= 500.0,
        "{work}"
    );
    assert!(
        logs.find("\"StatusCode\":202").unwrap() > done,
        "the line is written once the wait is over"
    );
    assert_eq!(lines[2]["StatusClass"], "2xx");
}

/// The keys of a VPC Lattice response, in order.
const LATTICE_KEYS: [&str; 4] = ["statusCode", "headers", "body", "isBase64Encoded"];

#[test]
fn rie_vpc_lattice_events() {
    if !should_run("rie_vpc_lattice_events") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rie = Rie::start("lattice", &[("AWS_LWA_REMOVE_RESPONSE_HEADERS", "server")]);

    // AWS's 2.0 sample (the VPC Lattice guide), aimed past the greeting at a described path.
    let mut event = fixture("lattice/lattice-v2-user-guide.json");
    event["path"] = json!("/target");
    event["headers"]["x-multi"] = json!(["1", "2"]);
    event["queryStringParameters"]["key"] = json!(["value", "second value"]);
    let response = response_shaped(&rie, &event, &LATTICE_KEYS);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert!(response["headers"].get("server").is_none(), "{response}");
    let saw = app_saw(&response);
    assert_eq!(saw["method"], "GET");
    assert_eq!(saw["path"], "/target");
    assert_eq!(saw["query"], json!({"key": ["value", "second value"]}));
    assert_eq!(saw["body"], "request-body");
    assert_eq!(saw["headers"]["header-key"], "header-value");
    let context: Value =
        serde_json::from_str(saw["headers"]["x-amzn-request-context"].as_str().unwrap()).unwrap();
    assert_eq!(context, event["requestContext"]);

    // Several cookies go as a list under `set-cookie`.
    event["path"] = json!("/cookies");
    let response = response_shaped(&rie, &event, &LATTICE_KEYS);
    assert_eq!(
        response["headers"]["set-cookie"],
        json!(["flavour=oatmeal; Path=/", "visits=1; HttpOnly"])
    );

    // AWS's 1.0 sample (Powertools' documentation): a base64 body; binary comes back base64.
    let mut event = fixture("lattice/lattice-v1-powertools.json");
    event["raw_path"] = json!("/echo");
    event["method"] = json!("POST");
    let response = response_shaped(&rie, &event, &LATTICE_KEYS);
    let echo: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["youSent"], json!({"test": "event"}));
    assert_eq!(echo["request"]["headers"]["x-amzn-request-context"], "null");
    event["raw_path"] = json!("/binary");
    event["method"] = json!("GET");
    let response = response_shaped(&rie, &event, &LATTICE_KEYS);
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        b64decode(response["body"].as_str().unwrap()),
        APP_BINARY.to_vec()
    );
}
