//! Test harness: the emulator's Runtime API, a scripted test app, and the real
//! `lambda-adapter` binary between them. Everything started here stops on Drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use lambda_adapter::emulator::runtime_api::RuntimeApi;
pub use lambda_adapter::emulator::{InvokeOptions, PostKind, Posted};
use serde_json::{Value, json};

pub const ADAPTER: &str = env!("CARGO_BIN_EXE_lambda-adapter");

/// One request as the test app received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Which accepted connection it came on (0, 1, ...).
    pub connection: usize,
    /// The exact bytes: head and body.
    pub raw: Vec<u8>,
    pub method: String,
    pub target: String,
    /// Names lowercase, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn is_readiness_check(&self) -> bool {
        self.header("user-agent")
            .is_some_and(|ua| ua.contains("readiness check"))
    }
}

/// What the test app answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection right after the response (without saying so).
    pub close_after: bool,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
            close_after: false,
        }
    }

    pub fn text(body: &str) -> Reply {
        Reply::new(200, "text/plain", body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn close_after(mut self) -> Reply {
        self.close_after = true;
        self
    }
}

type Script = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A std-only HTTP/1.1 app on loopback that records every request and answers from a script.
/// Keep-alive aware: it serves many requests per connection unless told to close.
pub struct TestApp {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TestApp {
    /// On a free port.
    pub fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> TestApp {
        TestApp::start_on(0, script)
    }

    /// On `port` (0: a free one).
    pub fn start_on(
        port: u16,
        script: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> TestApp {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the test app");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Script = Arc::new(script);
        let accept = {
            let (received, connections, stop) =
                (received.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let index = connections.fetch_add(1, Ordering::SeqCst);
                            let (received, stop, script) =
                                (received.clone(), stop.clone(), script.clone());
                            workers.push(std::thread::spawn(move || {
                                serve_connection(stream, index, &received, &stop, &script)
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        TestApp {
            port,
            received,
            connections,
            stop,
            accept: Some(accept),
        }
    }

    /// Every request received so far, readiness checks included, in arrival order.
    pub fn all_requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests received so far, readiness checks left out.
    pub fn requests(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.is_readiness_check())
            .cloned()
            .collect()
    }

    /// The only request received (panics otherwise).
    pub fn only_request(&self) -> Received {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.into_iter().next().unwrap()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    index: usize,
    received: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
    script: &Script,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader, index, stop) else {
            return;
        };
        received.lock().unwrap().push(request.clone());
        let reply = script(&request);
        let until = Instant::now() + reply.delay;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(
                Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())),
            );
        }
        let mut out = format!("HTTP/1.1 {} Test\r\n", reply.status).into_bytes();
        for (name, value) in &reply.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", reply.body.len()).as_bytes());
        out.extend_from_slice(&reply.body);
        if writer.write_all(&out).is_err() || reply.close_after {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Reads one request (head + content-length body); `None` at EOF, error or stop.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    connection: usize,
    stop: &AtomicBool,
) -> Option<Received> {
    let mut raw = Vec::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {
                raw.extend_from_slice(&line);
                if raw.ends_with(b"\r\n\r\n") || raw == b"\r\n" {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                raw.extend_from_slice(&line);
            }
            Err(_) => return None,
        }
    }
    let head = String::from_utf8_lossy(&raw).to_string();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method = start.next()?.to_string();
    let target = start.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let mut filled = 0;
    while filled < length {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match reader.read(&mut body[filled..]) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    raw.extend_from_slice(&body);
    Some(Received {
        connection,
        raw,
        method,
        target,
        headers,
        body,
    })
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `lambda-adapter` binary, killed on Drop.
pub struct Adapter {
    child: Child,
    /// Its stdout (the log) and stderr, as they arrive.
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Copies a child's pipe into `into` until it closes.
pub fn collect(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Adapter {
    /// Starts the adapter against `runtime_api` with a clean environment plus `env`.
    pub fn spawn(runtime_api: &str, env: &[(&str, String)]) -> Adapter {
        // LAMBDA_ADAPTER_BIN runs the suite against another build (e.g. an older release, to see
        // a regression test fail on the defect it guards against).
        let binary = std::env::var("LAMBDA_ADAPTER_BIN").unwrap_or_else(|_| ADAPTER.to_string());
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "test-function")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_LEVEL", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start lambda-adapter");
        let output = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), output.clone()),
            collect(child.stderr.take().unwrap(), output.clone()),
        ];
        Adapter {
            child,
            output,
            readers,
        }
    }

    /// Everything it printed so far, stdout (its log) and stderr.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).to_string()
    }

    /// The output once it contains `needle` (other threads read it), or as it is after 5 s.
    pub fn log_with(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.output();
            if log.contains(needle) || Instant::now() > until {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for the adapter to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runtime API + test app + adapter, wired together.
pub struct Harness {
    pub app: TestApp,
    // Field order is drop order: the adapter stops before the API it talks to.
    pub adapter: Adapter,
    pub api: RuntimeApi,
}

impl Harness {
    pub fn start(
        env: &[(&str, &str)],
        script: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> Harness {
        let app = TestApp::start(script);
        let api = RuntimeApi::start("127.0.0.1:0").unwrap();
        let mut full_env: Vec<(&str, String)> = vec![("AWS_LWA_PORT", app.port.to_string())];
        full_env.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let adapter = Adapter::spawn(&api.addr().to_string(), &full_env);
        Harness { app, adapter, api }
    }

    /// Invokes with generous bounds and returns what the adapter posted.
    pub fn invoke(&self, event: &Value) -> Posted {
        self.invoke_with(event.to_string().as_bytes(), InvokeOptions::default())
    }

    pub fn invoke_with(&self, event: &[u8], options: InvokeOptions) -> Posted {
        let options = InvokeOptions {
            timeout: options.timeout.min(Duration::from_secs(20)),
            queue_wait: Duration::from_secs(20),
            ..options
        };
        match self.api.invoke(event, options) {
            Ok(posted) => posted,
            Err(e) => panic!(
                "invocation failed: {e}\nadapter stderr:\n{}",
                self.adapter.output()
            ),
        }
    }

    /// Invokes and expects a buffered response; returns its JSON.
    pub fn response(&self, event: &Value) -> Value {
        let posted = self.invoke(event);
        assert_eq!(
            posted.kind,
            PostKind::Response,
            "expected /response, got {posted:?}\nstderr:\n{}",
            self.adapter.output()
        );
        posted.json().unwrap()
    }
}

/// An API Gateway HTTP API (v2) event.
pub fn v2_event(method: &str, path: &str, query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": { "host": "api.example.com", "user-agent": "test-client", "x-forwarded-proto": "https" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test-client" },
            "requestId": "gateway-request-id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "21/Apr/2020:15:08:21 +0000",
            "timeEpoch": 1587481701067u64
        },
        "isBase64Encoded": false
    })
}

/// Decodes standard base64 (test helper).
pub fn b64decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

pub fn b64encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Status, headers (lowercase names) and body of an HTTP response.
pub type HttpReply = (u16, Vec<(String, String)>, Vec<u8>);

/// A minimal HTTP/1.1 client: one request with `connection: close`; returns status, headers
/// (lowercase names) and the (de-chunked) body.
pub fn http_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> HttpReply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    (status, headers, body)
}

/// Decodes a chunked body (panics on a truncated one: the tests want to see that).
pub fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
