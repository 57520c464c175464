//! Bad input catalogue: every input upstream aborts or exits on (upstream-behaviour §9.1-9.2)
//! and other hostile input, through the real adapter binary.
//!
//! The Runtime API and the app are raw std `TcpListener`s so a case can send bytes no
//! well-behaved server would (no request id, garbage heads, a body cut off mid-way). Each case
//! asserts the adapter's answer (a 400 in the event's format, a named `/error` errorType, or the
//! documented behaviour) AND that the next invocation is served normally: nothing crashes, no
//! worker dies (DECISIONS 1, 5).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// How long any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(20);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 reading shared by the raw Runtime API and the raw app.

struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or_default()
    }
}

/// Reads one request; `None` on EOF or garbage.
fn read_message(reader: &mut impl BufRead) -> Option<Message> {
    let mut start = String::new();
    if reader.read_line(&mut start).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut message = Message {
        start: start.trim_end().to_string(),
        headers,
        body: Vec::new(),
    };
    if message
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                loop {
                    let mut trailer = String::new();
                    if reader.read_line(&mut trailer).ok()? == 0 || trailer.trim().is_empty() {
                        return Some(message);
                    }
                    message
                        .headers
                        .push(("trailer".into(), trailer.trim().to_string()));
                }
            }
            let at = message.body.len();
            message.body.resize(at + size, 0);
            reader.read_exact(&mut message.body[at..]).ok()?;
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf).ok()?;
        }
    }
    let len: usize = message
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    message.body.resize(len, 0);
    reader.read_exact(&mut message.body).ok()?;
    Some(message)
}

/// Accepts connections until `stop`, each served on its own thread.
fn serve(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream) + Send + Sync + 'static,
) {
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let handle = handle.clone();
            std::thread::spawn(move || handle(conn));
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The raw Runtime + Extensions API.

/// One answer to `/next`: raw bytes, then the connection is closed when `close`.
struct NextAnswer {
    bytes: Vec<u8>,
    close: bool,
}

/// How the API answers a post (after recording it).
enum PostFault {
    /// Close the connection without answering.
    Close,
    /// Answer this status.
    Status(u16),
}

#[derive(Default)]
struct ApiState {
    queue: VecDeque<NextAnswer>,
    /// Applied to the next posts, in order; then posts are answered 202.
    post_faults: VecDeque<PostFault>,
    posts: Vec<Message>,
    nexts: usize,
    stopped: bool,
    /// Connections that send no request within this long are closed.
    close_idle_after: Option<Duration>,
    /// How many connections were closed for that.
    closed_idle: usize,
}

struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<(Mutex<ApiState>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl RuntimeApi {
    fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<(Mutex<ApiState>, Condvar)> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let s = state.clone();
        serve(listener, stop.clone(), move |conn| serve_api(conn, &s));
        RuntimeApi { addr, state, stop }
    }

    fn push(&self, answer: NextAnswer) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().queue.push_back(answer);
        cv.notify_all();
    }

    /// Waits for the post to `/runtime/invocation/{id}/...`.
    fn post_for(&self, id_in_path: &str) -> Message {
        let (lock, cv) = &*self.state;
        let end = Instant::now() + WAIT;
        let mut s = lock.lock().unwrap();
        loop {
            let want = format!("/runtime/invocation/{id_in_path}/");
            if let Some(i) = s.posts.iter().position(|p| p.path().contains(&want)) {
                return s.posts.remove(i);
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no post for {id_in_path} within {WAIT:?}");
            s = cv.wait_timeout(s, left).unwrap().0;
        }
    }

    /// Waits until `/next` has been called `n` times in all.
    fn wait_nexts(&self, n: usize) {
        let (lock, cv) = &*self.state;
        let end = Instant::now() + WAIT;
        let mut s = lock.lock().unwrap();
        while s.nexts < n {
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "only {} /next calls, waited for {n}",
                s.nexts
            );
            s = cv.wait_timeout(s, left).unwrap().0;
        }
    }

    fn posts(&self) -> usize {
        self.state.0.lock().unwrap().posts.len()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.state.0.lock().unwrap().stopped = true;
        self.state.1.notify_all();
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_api(conn: TcpStream, state: &(Mutex<ApiState>, Condvar)) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let (lock, cv) = state;
    let idle_limit = lock.lock().unwrap().close_idle_after;
    if let Some(limit) = idle_limit {
        let _ = conn.set_read_timeout(Some(limit));
        let mut probe = [0u8; 1];
        if !matches!(conn.peek(&mut probe), Ok(n) if n > 0) {
            lock.lock().unwrap().closed_idle += 1;
            let _ = conn.shutdown(Shutdown::Both);
            return;
        }
        let _ = conn.set_read_timeout(None);
    }
    let mut reader = BufReader::new(conn);
    while let Some(request) = read_message(&mut reader) {
        let path = request.path().to_string();
        if path.ends_with("/extension/register") {
            let _ = writer.write_all(
                b"HTTP/1.1 200 OK\r\nlambda-extension-identifier: ext-1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            );
        } else if path.ends_with("/extension/event/next") {
            // Blocks until the test ends, as Lambda does for an extension with no events.
            let mut s = lock.lock().unwrap();
            while !s.stopped {
                s = cv.wait_timeout(s, Duration::from_millis(200)).unwrap().0;
            }
            return;
        } else if path.ends_with("/runtime/invocation/next") {
            let answer = {
                let mut s = lock.lock().unwrap();
                s.nexts += 1;
                cv.notify_all();
                loop {
                    if s.stopped {
                        return;
                    }
                    if let Some(answer) = s.queue.pop_front() {
                        break answer;
                    }
                    s = cv.wait_timeout(s, Duration::from_millis(200)).unwrap().0;
                }
            };
            let _ = writer.write_all(&answer.bytes);
            if answer.close {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        } else {
            let fault = {
                let mut s = lock.lock().unwrap();
                s.posts.push(request);
                s.post_faults.pop_front()
            };
            cv.notify_all();
            match fault {
                None => {
                    let _ = writer.write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n",
                    );
                }
                Some(PostFault::Status(status)) => {
                    let _ = writer.write_all(
                        format!("HTTP/1.1 {status} Nope\r\ncontent-length: 2\r\n\r\n{{}}")
                            .as_bytes(),
                    );
                }
                Some(PostFault::Close) => {
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
    }
}

/// A `/next` answer as Lambda sends it, with `extra` headers and without those in `omit`.
fn next_answer(id: &str, event: &[u8], extra: &[(&str, &str)], omit: &[&str]) -> NextAnswer {
    let deadline = (now_ms() + 60_000).to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", &deadline),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bad-input",
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        ),
    ];
    headers.retain(|(n, _)| !omit.contains(n));
    headers.retain(|(n, _)| !extra.iter().any(|(e, _)| e == n));
    headers.extend_from_slice(extra);
    let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
    for (n, v) in headers {
        bytes.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", event.len()).as_bytes());
    bytes.extend_from_slice(event);
    NextAnswer {
        bytes,
        close: false,
    }
}

// ---------------------------------------------------------------------------------------------
// The raw app.

/// What the app does with one request: write `bytes` (after `delay`), then close when `close`.
struct AppAction {
    bytes: Vec<u8>,
    close: bool,
}

fn reply(status: &str, content_type: &str, body: &[u8]) -> AppAction {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    AppAction {
        bytes,
        close: false,
    }
}

fn raw(bytes: &[u8], close: bool) -> AppAction {
    AppAction {
        bytes: bytes.to_vec(),
        close,
    }
}

/// A request the app received: start line, headers, body.
type Seen = (String, Vec<(String, String)>, Vec<u8>);

type Script = dyn Fn(&Message) -> AppAction + Send + Sync;

struct App {
    port: u16,
    requests: Arc<Mutex<Vec<Message>>>,
    stop: Arc<AtomicBool>,
}

impl App {
    /// Requests to `/next-ok` are always answered `200 fine`; the rest go to `script`.
    fn start(script: impl Fn(&Message) -> AppAction + Send + Sync + 'static) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Message>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let seen = requests.clone();
        serve(listener, stop.clone(), move |conn| {
            let Ok(mut writer) = conn.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(conn);
            while let Some(request) = read_message(&mut reader) {
                let action = if request.path().starts_with("/next-ok") {
                    reply("200 OK", "text/plain", b"fine")
                } else {
                    script(&request)
                };
                seen.lock().unwrap().push(request);
                let _ = writer.write_all(&action.bytes);
                if action.close {
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
            }
        });
        App {
            port,
            requests,
            stop,
        }
    }

    /// The requests other than the `/next-ok` checks.
    fn requests(&self) -> Vec<Seen> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.path().starts_with("/next-ok"))
            .map(|r| (r.start.clone(), r.headers.clone(), r.body.clone()))
            .collect()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

// ---------------------------------------------------------------------------------------------
// The adapter under test.

struct Adapter {
    child: Child,
    /// Everything the adapter printed.
    output: Arc<Mutex<String>>,
}

impl Adapter {
    fn spawn(api: &RuntimeApi, app: &App, env: &[(&str, &str)]) -> Adapter {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambda-adapter"));
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LWA_PORT", app.port.to_string())
            .env("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp")
            .env("AWS_LAMBDA_FUNCTION_NAME", "bad-input")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        // The log goes to stdout (logging.rs); stderr is kept too, in the same buffer.
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ];
        for mut pipe in pipes.into_iter().flatten() {
            let sink = output.clone();
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Adapter { child, output }
    }

    fn assert_running(&mut self) {
        let status = self.child.try_wait().unwrap();
        assert!(
            status.is_none(),
            "the adapter exited ({status:?}); output:\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The log once it contains every one of `needles` (its output is read by another thread,
    /// so a line written just now may not be captured yet); the log as it is after 5 s.
    fn log_with(&self, needles: &[&str]) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if needles.iter().all(|n| log.contains(n)) || Instant::now() > until {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Runtime API, an app and the adapter between them.
struct Case {
    api: RuntimeApi,
    app: App,
    adapter: Adapter,
    next_id: std::cell::Cell<usize>,
}

impl Case {
    fn start(script: impl Fn(&Message) -> AppAction + Send + Sync + 'static) -> Case {
        Case::start_with(&[], script)
    }

    fn start_with(
        env: &[(&str, &str)],
        script: impl Fn(&Message) -> AppAction + Send + Sync + 'static,
    ) -> Case {
        let api = RuntimeApi::start();
        let app = App::start(script);
        let adapter = Adapter::spawn(&api, &app, env);
        Case {
            api,
            app,
            adapter,
            next_id: std::cell::Cell::new(0),
        }
    }

    fn id(&self) -> String {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        format!("req-{n}")
    }

    /// Invokes with a normal `/next` answer for `event`; returns (`response`/`error`, body JSON).
    fn invoke(&self, event: &[u8]) -> (String, Value) {
        self.invoke_with(event, &[], &[])
    }

    fn invoke_with(&self, event: &[u8], extra: &[(&str, &str)], omit: &[&str]) -> (String, Value) {
        let id = self.id();
        self.api.push(next_answer(&id, event, extra, omit));
        let post = self.api.post_for(&id);
        let kind = post
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let body: Value = serde_json::from_slice(&post.body).unwrap_or_else(|e| {
            panic!(
                "the posted body is not JSON ({e}): {}",
                String::from_utf8_lossy(&post.body)
            )
        });
        if kind == "error" {
            assert_eq!(
                post.header("lambda-runtime-function-error-type"),
                body["errorType"].as_str(),
                "the error type header names the errorType"
            );
        }
        (kind, body)
    }

    /// The invocation after a bad one is served normally, and the adapter still runs.
    fn assert_next_served(&mut self) {
        let (kind, body) = self.invoke(v2_event("GET", "/next-ok", "").to_string().as_bytes());
        assert_eq!(kind, "response", "{body}");
        assert_eq!(body["statusCode"], 200, "{body}");
        assert_eq!(body["body"], "fine", "{body}");
        self.adapter.assert_running();
    }
}

fn v2_event(method: &str, path: &str, query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws", "user-agent": "test"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r1",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390u64
        },
        "isBase64Encoded": false
    })
}

fn ok_app() -> impl Fn(&Message) -> AppAction + Send + Sync + 'static {
    |_| reply("200 OK", "text/plain", b"hello")
}

fn assert_400(kind: &str, body: &Value, says: &str) {
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["statusCode"], 400, "{body}");
    let text = body["body"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Bad Request") && text.contains(says),
        "400 body {text:?} should mention {says:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// §9.1: inputs that abort upstream.

#[test]
fn invalid_base64_body_is_a_400() {
    let mut case = Case::start(ok_app());
    for body in ["not base64!", "aGk", "aGk=\n"] {
        let mut event = v2_event("POST", "/upload", "");
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(true);
        let (kind, response) = case.invoke(event.to_string().as_bytes());
        assert_400(&kind, &response, "base64");
        // The 400 is in the event's own (v2) format.
        assert!(
            response["cookies"].is_array() && response["multiValueHeaders"].is_object(),
            "{response}"
        );
    }
    assert!(
        case.app.requests().is_empty(),
        "a malformed event never reaches the app"
    );
    assert!(
        case.adapter.log_with(&["WARN", "req-1"]).contains("WARN")
            && case.adapter.log().contains("req-1"),
        "one WARN line with the request id"
    );
    case.assert_next_served();
}

#[test]
fn bad_host_header_is_a_400_in_each_format() {
    let mut case = Case::start(ok_app());
    let mut v2 = v2_event("GET", "/", "");
    v2["headers"]["host"] = json!("bad host");
    let (kind, body) = case.invoke(v2.to_string().as_bytes());
    assert_400(&kind, &body, "Host");

    let v1 = json!({
        "resource": "/", "path": "/", "httpMethod": "GET",
        "headers": {"Host": "a/b"}, "multiValueHeaders": {"Host": ["a/b"]},
        "requestContext": {"httpMethod": "GET", "stage": "prod", "requestId": "x", "identity": {}},
        "body": null, "isBase64Encoded": false
    });
    let (kind, body) = case.invoke(v1.to_string().as_bytes());
    assert_400(&kind, &body, "Host");
    assert_eq!(body["headers"], json!({}), "REST v1 shape: {body}");

    let alb = json!({
        "httpMethod": "GET", "path": "/", "headers": {"host": "h:99999"},
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}},
        "body": "", "isBase64Encoded": false
    });
    let (kind, body) = case.invoke(alb.to_string().as_bytes());
    assert_400(&kind, &body, "Host");
    assert_eq!(
        body["statusDescription"], "400 Bad Request",
        "ALB shape: {body}"
    );
    assert!(case.app.requests().is_empty());
    case.assert_next_served();
}

#[test]
fn odd_x_forwarded_proto_is_forwarded_as_sent() {
    // Upstream builds a URL from it and aborts; it is only a header to the app.
    let mut case = Case::start(ok_app());
    for proto in ["", "h t"] {
        let mut event = v2_event("GET", "/proto", "");
        event["headers"]["x-forwarded-proto"] = json!(proto);
        let (kind, body) = case.invoke(event.to_string().as_bytes());
        assert_eq!(
            (kind.as_str(), &body["statusCode"]),
            ("response", &json!(200)),
            "{body}"
        );
    }
    let seen: Vec<String> = case
        .app
        .requests()
        .iter()
        .map(|(_, headers, _)| {
            headers
                .iter()
                .find(|(n, _)| n == "x-forwarded-proto")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(seen, ["", "h t"]);
    case.assert_next_served();
}

#[test]
fn raw_query_with_forbidden_characters_is_a_400() {
    let mut case = Case::start(ok_app());
    for query in ["a=b c", "a=\"x\"", "a=<x>", "a=%zz", "a=\u{1}"] {
        let (kind, body) = case.invoke(v2_event("GET", "/q", query).to_string().as_bytes());
        assert_400(&kind, &body, "query string");
    }
    assert!(case.app.requests().is_empty());
    case.assert_next_served();
}

#[test]
fn app_closing_mid_body_is_app_connection_closed() {
    let mut case = Case::start(|_| {
        raw(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nonly part",
            true,
        )
    });
    let (kind, body) = case.invoke(v2_event("GET", "/cut", "").to_string().as_bytes());
    assert_eq!(kind, "error", "{body}");
    assert_eq!(body["errorType"], "App.ConnectionClosed", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("91 bytes"),
        "{body}"
    );
    case.assert_next_served();
}

#[test]
fn next_without_deadline_or_with_a_past_deadline_is_served() {
    let mut case = Case::start(ok_app());
    let event = v2_event("GET", "/", "").to_string();
    let (kind, body) = case.invoke_with(event.as_bytes(), &[], &["lambda-runtime-deadline-ms"]);
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let (kind, body) = case.invoke_with(
        event.as_bytes(),
        &[("lambda-runtime-deadline-ms", "1000")],
        &[],
    );
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let (kind, body) = case.invoke_with(
        event.as_bytes(),
        &[("lambda-runtime-deadline-ms", "soon")],
        &[],
    );
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let log = case
        .adapter
        .log_with(&["Lambda-Runtime-Deadline-Ms is missing", "already past"]);
    assert!(
        log.contains("Lambda-Runtime-Deadline-Ms is missing"),
        "{log}"
    );
    assert!(log.contains("already past"), "{log}");
    case.assert_next_served();
}

#[test]
fn next_without_request_id_is_logged_and_skipped() {
    let mut case = Case::start(ok_app());
    let event = v2_event("GET", "/", "").to_string();
    case.api.push(next_answer(
        "",
        event.as_bytes(),
        &[],
        &["lambda-runtime-aws-request-id"],
    ));
    case.api.push(next_answer(
        "",
        event.as_bytes(),
        &[("lambda-runtime-aws-request-id", "")],
        &[],
    ));
    case.api.wait_nexts(3);
    assert_eq!(
        case.api.posts(),
        0,
        "an event without a request id cannot be answered"
    );
    case.assert_next_served();
    assert!(
        case.adapter
            .log_with(&["without Lambda-Runtime-Aws-Request-Id"])
            .contains("without Lambda-Runtime-Aws-Request-Id"),
        "{}",
        case.adapter.log()
    );
}

#[test]
fn request_ids_with_odd_bytes() {
    let mut case = Case::start(ok_app());
    let event = v2_event("GET", "/", "").to_string();
    // Path characters are percent-encoded in the post URL, so the answer reaches the right id.
    let id = "../x y?#%";
    case.api.push(next_answer(id, event.as_bytes(), &[], &[]));
    let post = case.api.post_for("..%2Fx%20y%3F%23%25");
    assert!(post.path().ends_with("/response"), "{}", post.path());
    // A bare CR, a NUL or a folded line in the id is not HTTP: `/next` failed, retried.
    for bad in [&b"abc\rdef"[..], b"abc\0def", b"abc\r\n def"] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: ".to_vec();
        bytes.extend_from_slice(bad);
        bytes.extend_from_slice(
            b"\r\nlambda-runtime-deadline-ms: 99999999999999\r\ncontent-length: 2\r\n\r\n{}",
        );
        case.api.push(NextAnswer { bytes, close: true });
    }
    case.assert_next_served();
    assert_eq!(
        case.api.posts(),
        0,
        "nothing posted for the unparseable answers"
    );
}

#[test]
fn invalid_client_context_and_cognito_json_become_null() {
    let mut case = Case::start(ok_app());
    let event = v2_event("GET", "/ctx", "").to_string();
    let extra = [
        ("lambda-runtime-client-context", "{not json"),
        ("lambda-runtime-cognito-identity", "nope"),
    ];
    let (kind, body) = case.invoke_with(event.as_bytes(), &extra, &[]);
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let requests = case.app.requests();
    let context = requests[0]
        .1
        .iter()
        .find(|(n, _)| n == "x-amzn-lambda-context")
        .map(|(_, v)| v.clone())
        .unwrap();
    let context: Value = serde_json::from_str(&context).unwrap();
    assert_eq!(context["client_context"], Value::Null);
    assert_eq!(context["identity"], Value::Null);
    assert!(
        case.adapter
            .log_with(&["not valid JSON"])
            .contains("not valid JSON"),
        "{}",
        case.adapter.log()
    );
    case.assert_next_served();
}

#[test]
fn missing_function_environment_uses_defaults() {
    // Upstream aborts without these; the adapter logs a WARN and serves.
    let api = RuntimeApi::start();
    let app = App::start(ok_app());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambda-adapter"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LWA_PORT", app.port.to_string())
        .env("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().unwrap();
    let mut case = Case {
        api,
        app,
        adapter: Adapter {
            child,
            output: Arc::default(),
        },
        next_id: Default::default(),
    };
    let (kind, body) = case.invoke(v2_event("GET", "/", "").to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    case.assert_next_served();
}

// ---------------------------------------------------------------------------------------------
// §9.2 and the app's side.

#[test]
fn non_utf8_response_header_values_are_posted_lossily() {
    let mut case = Case::start(|_| {
        raw(b"HTTP/1.1 200 OK\r\nx-latin: caf\xe9\r\nset-cookie: n=\xff\r\ncontent-length: 2\r\n\r\nok", false)
    });
    let (kind, body) = case.invoke(v2_event("GET", "/latin", "").to_string().as_bytes());
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["headers"]["x-latin"], "caf\u{fffd}", "{body}");
    assert_eq!(body["cookies"], json!(["n=\u{fffd}"]), "{body}");
    assert_eq!(body["body"], "ok");
    case.assert_next_served();
}

#[test]
fn conflicting_framing_from_the_app() {
    let mut case = Case::start(|request| {
        match request.path() {
        // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
        "/te-cl" => raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false),
        // Two different lengths: no way to know the body.
        _ => raw(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd", false),
    }
    });
    let (kind, body) = case.invoke(v2_event("GET", "/te-cl", "").to_string().as_bytes());
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["body"], "abc", "{body}");
    assert!(
        body["headers"].get("transfer-encoding").is_none(),
        "no framing header in the Lambda response: {body}"
    );
    let (kind, body) = case.invoke(v2_event("GET", "/cl-cl", "").to_string().as_bytes());
    assert_eq!(kind, "error", "{body}");
    assert_eq!(body["errorType"], "App.InvalidResponse", "{body}");
    case.assert_next_served();
}

#[test]
fn header_folding_interim_responses_and_read_until_close() {
    let mut case = Case::start(|request| {
        match request.path() {
        "/fold" => raw(b"HTTP/1.1 200 OK\r\nx-folded: first\r\n  second\r\ncontent-length: 2\r\n\r\nok", false),
        "/interim" => raw(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone",
            false,
        ),
        _ => raw(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the app closes", true),
    }
    });
    // Obsolete line folding is refused, as upstream's hyper refuses it: a named error, and
    // the connection is not reused.
    let (kind, body) = case.invoke(v2_event("GET", "/fold", "").to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["errorType"]),
        ("error", &json!("App.InvalidResponse")),
        "{body}"
    );
    let (_, body) = case.invoke(v2_event("GET", "/interim", "").to_string().as_bytes());
    assert_eq!(
        (&body["statusCode"], &body["body"]),
        (&json!(201), &json!("done")),
        "{body}"
    );
    assert!(
        body["headers"].get("link").is_none(),
        "the interim response's headers are not kept: {body}"
    );
    let (_, body) = case.invoke(v2_event("GET", "/close", "").to_string().as_bytes());
    assert_eq!(body["body"], "until the app closes", "{body}");
    case.assert_next_served();
}

#[test]
fn garbage_and_silence_from_the_app() {
    let mut case = Case::start(|request| match request.path() {
        "/garbage" => raw(b"\x00\x01NOT HTTP\r\n\r\n", true),
        "/nothing" => raw(b"", true),
        _ => raw(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
            true,
        ),
    });
    let cases = [
        ("/garbage", "App.InvalidResponse"),
        ("/nothing", "App.ConnectionClosed"),
        ("/upgrade", "App.InvalidResponse"),
    ];
    for (path, error_type) in cases {
        let (kind, body) = case.invoke(v2_event("GET", path, "").to_string().as_bytes());
        assert_eq!(
            (kind.as_str(), &body["errorType"]),
            ("error", &json!(error_type)),
            "{path}: {body}"
        );
    }
    case.assert_next_served();
}

// ---------------------------------------------------------------------------------------------
// Size limits.

#[test]
fn request_body_over_6_mb_reaches_the_app_whole() {
    let mut case = Case::start(|request| {
        reply(
            "200 OK",
            "text/plain",
            request.body.len().to_string().as_bytes(),
        )
    });
    let payload: Vec<u8> = (0..7 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut event = v2_event("POST", "/big", "");
    event["body"] = json!(STANDARD.encode(&payload));
    event["isBase64Encoded"] = json!(true);
    let (kind, body) = case.invoke(event.to_string().as_bytes());
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["body"], payload.len().to_string());
    assert_eq!(
        case.app.requests()[0].2,
        payload,
        "the body arrives byte for byte"
    );
    case.assert_next_served();
}

#[test]
fn response_over_6_mb_is_a_502_naming_the_limit() {
    let mut case = Case::start(|_| {
        reply(
            "200 OK",
            "application/octet-stream",
            &vec![7u8; 5 * 1024 * 1024],
        )
    });
    let (kind, body) = case.invoke(v2_event("GET", "/huge", "").to_string().as_bytes());
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["statusCode"], 502, "{body}");
    let text = body["body"].as_str().unwrap_or_default();
    assert!(text.contains("6291456") && text.contains("bytes"), "{text}");
    assert!(
        case.adapter.log_with(&["ERROR"]).contains("ERROR"),
        "one ERROR line: {}",
        case.adapter.log()
    );
    case.assert_next_served();
}

// ---------------------------------------------------------------------------------------------
// Hostile JSON.

#[test]
fn deep_nesting_never_overflows_the_stack() {
    let mut case = Case::start(ok_app());
    let open = "[".repeat(100_000);
    let deep = format!("{open}1{}", "]".repeat(100_000));
    // Unbalanced: not JSON.
    let (kind, body) = case.invoke(open.as_bytes());
    assert_eq!(
        (kind.as_str(), &body["errorType"]),
        ("error", &json!("Adapter.InvalidEvent")),
        "{body}"
    );
    // Balanced, it is valid JSON: not an HTTP event, so a pass-through POST of the event.
    let (kind, body) = case.invoke(deep.as_bytes());
    assert_eq!(
        (kind.as_str(), &body),
        ("response", &json!("hello")),
        "the app's text as the result"
    );
    // Inside an HTTP event: skipped where the adapter does not read it, copied (minified)
    // where it does (a Lambda authorizer's context goes into x-amzn-request-context).
    let mut event = v2_event("GET", "/unread", "");
    event["deep"] = json!("DEEP");
    event["requestContext"]["authorizer"] = json!({ "lambda": { "deep": "DEEP" } });
    let event = event.to_string().replace("\"DEEP\"", &deep);
    let (kind, body) = case.invoke(event.as_bytes());
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let requests = case.app.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].0.starts_with("POST /events "),
        "{}",
        requests[0].0
    );
    assert_eq!(requests[0].2, deep.as_bytes());
    let context = requests[1]
        .1
        .iter()
        .find(|(n, _)| n == "x-amzn-request-context")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    assert!(
        context.contains(&deep),
        "the authorizer reaches the app whole"
    );
    case.assert_next_served();
}

#[test]
fn invalid_utf8_in_a_string_is_an_invalid_event() {
    let mut case = Case::start(ok_app());
    // A raw 0xFF byte (never valid UTF-8) inside the user-agent string.
    let mut bytes = v2_event("GET", "/", "").to_string().into_bytes();
    let at = bytes.windows(4).position(|w| w == b"test").unwrap();
    bytes[at] = 0xff;
    let (kind, body) = case.invoke(&bytes);
    assert_eq!(
        (kind.as_str(), &body["errorType"]),
        ("error", &json!("Adapter.InvalidEvent")),
        "{body}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("UTF-8"),
        "{body}"
    );
    case.assert_next_served();
}

#[test]
fn duplicate_json_keys() {
    let mut case = Case::start(|request| reply("200 OK", "text/plain", request.path().as_bytes()));
    // A duplicate field of the event itself is malformed: 400.
    let event =
        v2_event("GET", "/first", "")
            .to_string()
            .replacen('{', "{\"rawPath\":\"/second\",", 1);
    let (kind, body) = case.invoke(event.as_bytes());
    assert_400(&kind, &body, "duplicate field");
    // A header named twice: both values reach the app, in event order.
    let event = v2_event("GET", "/dup", "").to_string().replacen(
        "\"headers\":{",
        "\"headers\":{\"x-d\":\"1\",\"x-d\":\"2\",",
        1,
    );
    let (kind, body) = case.invoke(event.as_bytes());
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let requests = case.app.requests();
    let values: Vec<&str> = requests[0]
        .1
        .iter()
        .filter(|(n, _)| n == "x-d")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["1", "2"]);
    case.assert_next_served();
}

#[test]
fn header_injection_never_reaches_the_socket() {
    let mut case = Case::start(ok_app());
    for (name, value) in [
        ("x-a", "1\r\nx-injected: 1"),
        ("x-b", "nul\u{0}"),
        ("x c", "v"),
        ("x-d\r\n", "v"),
        ("x-e", "del\u{7f}"),
    ] {
        let mut event = v2_event("GET", "/inj", "");
        event["headers"][name] = json!(value);
        let (kind, body) = case.invoke(event.to_string().as_bytes());
        assert_400(&kind, &body, "header");
    }
    // Event-supplied framing headers are dropped (DECISIONS 9): the app sees the real length.
    let mut event = v2_event("POST", "/framing", "");
    event["headers"]["content-length"] = json!("1");
    event["headers"]["transfer-encoding"] = json!("chunked");
    event["body"] = json!("0123456789");
    let (kind, body) = case.invoke(event.to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let requests = case.app.requests();
    assert_eq!(requests.len(), 1, "only the framing case reached the app");
    let (_, headers, body) = &requests[0];
    assert_eq!(body, b"0123456789");
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n == "transfer-encoding" || n == "x-injected"),
        "{headers:?}"
    );
    case.assert_next_served();
}

#[test]
fn not_json_and_empty_events() {
    let mut case = Case::start(ok_app());
    for event in [
        &b""[..],
        b"{",
        b"not json",
        b"\xff\xfe",
        b"{\"a\":1}{\"b\":2}",
    ] {
        let (kind, body) = case.invoke(event);
        assert_eq!(
            (kind.as_str(), &body["errorType"]),
            ("error", &json!("Adapter.InvalidEvent")),
            "{event:?}: {body}"
        );
    }
    case.assert_next_served();
}

#[test]
fn runtime_api_hiccups_are_retried() {
    let mut case = Case::start(ok_app());
    // A 500 from /next, a connection closed with no answer, and garbage: each is a failed
    // poll, retried with backoff; the worker lives on.
    case.api.push(NextAnswer {
        bytes: b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops".to_vec(),
        close: false,
    });
    case.api.push(NextAnswer {
        bytes: Vec::new(),
        close: true,
    });
    case.api.push(NextAnswer {
        bytes: b"SPDY/9 what\r\n\r\n".to_vec(),
        close: true,
    });
    case.assert_next_served();
    assert!(
        case.adapter
            .log_with(&["Error polling /next"])
            .contains("Error polling /next"),
        "{}",
        case.adapter.log()
    );
}

#[test]
fn oversized_headers() {
    let mut case = Case::start(|request| match request.path() {
        // A response head past the adapter's 256 KiB limit.
        "/huge-head" => {
            let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..3 {
                out.extend_from_slice(format!("x-h{i}: {}\r\n", "v".repeat(100_000)).as_bytes());
            }
            out.extend_from_slice(b"content-length: 2\r\n\r\nok");
            raw(&out, false)
        }
        // More headers than the adapter reads (128, more than upstream's hyper takes).
        "/many-headers" => {
            let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..3_000 {
                out.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
            }
            out.extend_from_slice(b"content-length: 2\r\n\r\nok");
            raw(&out, false)
        }
        _ => reply(
            "200 OK",
            "text/plain",
            request.headers.len().to_string().as_bytes(),
        ),
    });
    // 5 000 event headers of 200 bytes (1 MB) and one 1 MB value: the adapter forwards them
    // all; whether that is too much is the app's call.
    let mut event = v2_event("GET", "/many", "");
    for i in 0..5_000 {
        event["headers"][format!("x-h{i}")] = json!("v".repeat(200));
    }
    event["headers"]["x-one-mb"] = json!("w".repeat(1 << 20));
    let (kind, body) = case.invoke(event.to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["statusCode"]),
        ("response", &json!(200)),
        "{body}"
    );
    let requests = case.app.requests();
    let (_, headers, _) = &requests[0];
    assert!(
        headers.len() > 5_001,
        "{} headers reached the app",
        headers.len()
    );
    assert_eq!(
        headers
            .iter()
            .find(|(n, _)| n == "x-one-mb")
            .map(|(_, v)| v.len()),
        Some(1 << 20)
    );
    let (kind, body) = case.invoke(v2_event("GET", "/huge-head", "").to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["errorType"]),
        ("error", &json!("App.InvalidResponse")),
        "{body}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("exceed"),
        "{body}"
    );
    let (kind, body) = case.invoke(v2_event("GET", "/many-headers", "").to_string().as_bytes());
    assert_eq!(
        (kind.as_str(), &body["errorType"]),
        ("error", &json!("App.InvalidResponse")),
        "{body}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("more than 128 headers"),
        "{body}"
    );
    case.assert_next_served();
}

#[test]
fn failed_posts_are_retried_once_and_the_worker_goes_on() {
    let mut case = Case::start(ok_app());
    let event = v2_event("GET", "/", "").to_string();
    // The connection closes before the post is answered: it may never have arrived, so the
    // adapter posts once more.
    case.api
        .state
        .0
        .lock()
        .unwrap()
        .post_faults
        .push_back(PostFault::Close);
    let (kind, _) = case.invoke(event.as_bytes());
    assert_eq!(kind, "response");
    let retry = case.api.post_for("req-1");
    assert!(
        retry.path().ends_with("/req-1/response"),
        "{}",
        retry.path()
    );
    // An answered post that failed (500, or 410 after the deadline) is not retried.
    for status in [500, 410] {
        case.api
            .state
            .0
            .lock()
            .unwrap()
            .post_faults
            .push_back(PostFault::Status(status));
        let (kind, _) = case.invoke(event.as_bytes());
        assert_eq!(kind, "response");
    }
    case.assert_next_served();
    assert_eq!(case.api.posts(), 0, "no second post for the answered ones");
    let log = case
        .adapter
        .log_with(&["retrying once", "status=500", "timeout"]);
    assert!(
        log.contains("retrying once") && log.contains("status=500") && log.contains("timeout"),
        "{log}"
    );
}

#[test]
fn a_runtime_api_connection_closed_while_the_app_starts_is_not_used() {
    // The adapter opens its first Runtime API connection while the app is still starting.
    // Here the API closes connections that stay idle for 100 ms, and the app becomes healthy
    // only after 600 ms: the first /next must still go out, on a new connection, at once and
    // without an error.
    let api = RuntimeApi::start();
    api.state.0.lock().unwrap().close_idle_after = Some(Duration::from_millis(100));
    let started = Instant::now();
    let app = App::start(move |request| {
        if request.path() == "/ready" && started.elapsed() < Duration::from_millis(600) {
            reply("503 Service Unavailable", "text/plain", b"booting")
        } else {
            reply("200 OK", "text/plain", b"ok")
        }
    });
    let env = [
        ("AWS_LWA_READINESS_CHECK_PROTOCOL", "http"),
        ("AWS_LWA_READINESS_CHECK_PATH", "/ready"),
    ];
    let mut case = Case {
        adapter: Adapter::spawn(&api, &app, &env),
        api,
        app,
        next_id: std::cell::Cell::new(0),
    };
    case.api.wait_nexts(1);
    let polled_at = started.elapsed();
    case.assert_next_served();
    assert!(
        case.api.state.0.lock().unwrap().closed_idle >= 1,
        "the adapter opened no connection ahead of the first /next"
    );
    assert!(
        polled_at >= Duration::from_millis(600),
        "/next was called before the app was ready ({polled_at:?})"
    );
    let log = case.adapter.log();
    assert!(!log.contains("Error polling /next"), "{log}");
}
