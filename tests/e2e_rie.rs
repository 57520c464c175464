//! End to end under AWS's own Runtime Interface Emulator (RIE): the freshly built adapter as a
//! real extension in /opt/extensions, the example Python app as the runtime, AWS's sample
//! events in, the responses checked.
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
    fn start(name: &str, env: &[(&str, &str)]) -> Rie {
        let work =
            std::env::temp_dir().join(format!("lambda-adapter-rie-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let extensions = work.join("opt/extensions");
        std::fs::create_dir_all(&extensions).unwrap();
        std::fs::copy(ADAPTER, extensions.join("lambda-adapter")).unwrap();
        let log = work.join("rie.log");
        let (invoke_port, runtime_port, app_port) = (free_port(), free_port(), free_port());
        let script = r#"mount --bind "$1/opt" /opt && exec "$2" --runtime-interface-emulator-address "127.0.0.1:$3" --runtime-api-address "127.0.0.1:$4" python3 "$5""#;
        let app = Path::new(REPO).join("examples/python-stdlib/app.py");
        let mut command = Command::new("unshare");
        command
            .args(unshare_args())
            .args(["sh", "-c", script, "rie"])
            .arg(&work)
            .arg(rie_path())
            .args([invoke_port.to_string(), runtime_port.to_string()])
            .arg(&app)
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
            .expect("an HTTP response from RIE");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "RIE answered {head}\n{}",
            self.logs()
        );
        let body = &raw[split + 4..];
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_vec()
        };
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&body),
                self.logs()
            )
        })
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
