//! Side-by-side benchmark: the app called directly (the floor), upstream LWA and this adapter,
//! in one run, interleaved in short rounds with freshly started processes.
//!
//! It starts its own fast app and its own fast Runtime + Extensions API on loopback, spawns an
//! adapter binary, hands out events on `/next` and times each invocation from hand-out to the
//! complete `/response` (streamed responses: also to the first body byte). Every response is
//! validated (status, and the body compared byte for byte with the app's after base64, gzip or
//! br decoding), so a fast wrong answer scores nothing.
//!
//! ```text
//! cargo run --release --example bench -- --ours target/release/lambda-adapter \
//!     --upstream .cache/upstream/bin/lambda-adapter [--quick] [--only NAME]
//! ```
//! These machines are shared and noisy: the ratios of one run are the result, not the
//! absolute times.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

type Result<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------------------------------------
// The app: fixed routes with known bodies.

const SMALL: &[u8] = b"Hello, world!";
const STREAM_CHUNKS: usize = 16;

struct Bodies {
    bin1m: Vec<u8>,
    text5m: Vec<u8>,
    json256k: Vec<u8>,
    stream1m: Vec<u8>,
}

impl Bodies {
    fn new() -> Bodies {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let bin1m: Vec<u8> = (0..1 << 20).map(|_| next() as u8).collect();
        let text5m: Vec<u8> = (0..5 << 20)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789 \n"[i % 38])
            .collect();
        let mut json = String::from("[");
        let mut i = 0;
        while json.len() < 256 * 1024 - 80 {
            json.push_str(&format!(
                "{{\"id\":{i},\"name\":\"item-{i}\",\"tags\":[\"a\",\"b\"],\"ok\":true}},"
            ));
            i += 1;
        }
        json.push_str("{}]");
        let stream1m: Vec<u8> = (0..1 << 20)
            .map(|i| b"data: streaming chunk payload\n"[i % 30])
            .collect();
        Bodies {
            bin1m,
            text5m,
            json256k: json.into_bytes(),
            stream1m,
        }
    }

    fn for_path(&self, path: &str) -> (&'static str, &[u8]) {
        match path {
            "/bin1m" => ("application/octet-stream", &self.bin1m),
            "/text5m" => ("text/plain", &self.text5m),
            "/json256k" => ("application/json", &self.json256k),
            "/stream" => ("text/plain", &self.stream1m),
            _ => ("text/plain", SMALL),
        }
    }
}

fn start_app(bodies: Arc<Bodies>, listener: TcpListener, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let _ = serve_app_conn(conn, &bodies);
            });
        }
    });
}

fn serve_app_conn(conn: TcpStream, bodies: &Bodies) -> Result<()> {
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = conn.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(256 * 1024, conn);
    loop {
        let Some((_, path, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        let len: usize = header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        let path = path.split('?').next().unwrap_or("/").to_string();
        if path == "/sleep5" {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (content_type, payload) = bodies.for_path(&path);
        if path == "/stream" {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
            );
            writer
                .write_all(head.as_bytes())
                .map_err(|e| e.to_string())?;
            for chunk in payload.chunks(payload.len() / STREAM_CHUNKS) {
                let mut out = format!("{:x}\r\n", chunk.len()).into_bytes();
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
                writer.write_all(&out).map_err(|e| e.to_string())?;
            }
            writer.write_all(b"0\r\n\r\n").map_err(|e| e.to_string())?;
        } else {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                payload.len()
            )
            .into_bytes();
            out.extend_from_slice(payload);
            writer.write_all(&out).map_err(|e| e.to_string())?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 helpers shared by the fake Runtime API, the app and the direct client.

type Headers = Vec<(String, String)>;

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one request or response head; `None` on a clean EOF.
fn read_head(reader: &mut impl BufRead) -> Result<Option<(String, String, Headers)>> {
    let mut first = String::new();
    if reader.read_line(&mut first).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut parts = first.trim_end().splitn(3, ' ');
    let a = parts.next().unwrap_or_default().to_string();
    let b = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("eof in head".into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(Some((a, b, headers)));
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

/// Reads a body by content-length or chunked framing. `on_data` sees each piece as it arrives.
fn read_body(
    reader: &mut impl BufRead,
    headers: &Headers,
    mut on_data: impl FnMut(&[u8]),
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if header(headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| format!("chunk size {line:?}: {e}"))?;
            if size == 0 {
                loop {
                    let mut t = String::new();
                    reader.read_line(&mut t).map_err(|e| e.to_string())?;
                    if t.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            // Read as it arrives (not the whole chunk first), so the time to first byte is
            // when the first body byte arrives.
            let mut at = body.len();
            body.resize(at + size, 0);
            while at < body.len() {
                let n = reader.read(&mut body[at..]).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed inside a chunk".into());
                }
                on_data(&body[at..at + n]);
                at += n;
            }
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).map_err(|e| e.to_string())?;
        }
    }
    let len: usize = header(headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    body.resize(len, 0);
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    on_data(&body);
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// The fake Runtime + Extensions API.

#[derive(Default)]
struct RuntimeState {
    queue: VecDeque<(String, Vec<u8>)>,
    handed_out: HashMap<String, Instant>,
    done: HashMap<String, Done>,
    first_next: Option<Instant>,
    stopped: bool,
}

struct Done {
    latency: Duration,
    /// Time from hand-out to the first body byte after a streaming prelude.
    first_byte: Option<Duration>,
    error: bool,
    body: Vec<u8>,
}

/// The state, a condvar for finished invocations and first polls, and one for the queue
/// (woken one waiter at a time, so 64 idle pollers are not all woken per event).
type Shared = (Mutex<RuntimeState>, Condvar, Condvar);

struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl RuntimeApi {
    fn start() -> Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let state: Arc<Shared> = Arc::new((Mutex::default(), Condvar::new(), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + 3_600_000;
        let (s, st) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve_runtime_conn(conn, &s, deadline_ms);
                });
            }
        });
        Ok(RuntimeApi { addr, state, stop })
    }

    fn push(&self, id: String, event: Vec<u8>) {
        let (lock, _, queued) = &*self.state;
        if let Ok(mut s) = lock.lock() {
            s.queue.push_back((id, event));
        }
        queued.notify_one();
    }

    /// Waits for `id`'s post, bounded.
    fn wait(&self, id: &str, timeout: Duration) -> Result<Done> {
        let (lock, cv, _) = &*self.state;
        let end = Instant::now() + timeout;
        let mut s = lock.lock().map_err(|_| "poisoned")?;
        loop {
            if let Some(done) = s.done.remove(id) {
                return Ok(done);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("invocation {id} not answered within {timeout:?}"));
            }
            s = cv.wait_timeout(s, left).map_err(|_| "poisoned")?.0;
        }
    }

    fn wait_first_next(&self, timeout: Duration) -> Result<Instant> {
        let (lock, cv, _) = &*self.state;
        let end = Instant::now() + timeout;
        let mut s = lock.lock().map_err(|_| "poisoned")?;
        loop {
            if let Some(t) = s.first_next {
                return Ok(t);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no /next within the timeout".into());
            }
            s = cv.wait_timeout(s, left).map_err(|_| "poisoned")?.0;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let (lock, cv, queued) = &*self.state;
        if let Ok(mut s) = lock.lock() {
            s.stopped = true;
        }
        cv.notify_all();
        queued.notify_all();
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_runtime_conn(conn: TcpStream, state: &Shared, deadline_ms: u64) -> Result<()> {
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = conn.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(256 * 1024, conn);
    let (lock, cv, queued) = state;
    loop {
        let Some((method, path, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        if method == "GET" && path.ends_with("/extension/event/next") {
            // Blocks until shutdown, as Lambda does for an extension with no events.
            let mut s = lock.lock().map_err(|_| "poisoned")?;
            while !s.stopped {
                s = cv.wait(s).map_err(|_| "poisoned")?;
            }
            return Ok(());
        }
        if method == "POST" && path.ends_with("/extension/register") {
            read_body(&mut reader, &headers, |_| {})?;
            writer
                .write_all(b"HTTP/1.1 200 OK\r\nlambda-extension-identifier: bench-ext\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
                .map_err(|e| e.to_string())?;
            continue;
        }
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let (id, event) = {
                let mut s = lock.lock().map_err(|_| "poisoned")?;
                if s.first_next.is_none() {
                    s.first_next = Some(Instant::now());
                    cv.notify_all();
                }
                loop {
                    if s.stopped {
                        return Ok(());
                    }
                    if let Some(item) = s.queue.pop_front() {
                        break item;
                    }
                    s = queued.wait(s).map_err(|_| "poisoned")?;
                }
            };
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {deadline_ms}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\nlambda-runtime-trace-id: Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=1;Sampled=0\r\ncontent-length: {}\r\n\r\n",
                event.len()
            )
            .into_bytes();
            out.extend_from_slice(&event);
            let t0 = Instant::now();
            if let Ok(mut s) = lock.lock() {
                s.handed_out.insert(id.clone(), t0);
            }
            writer.write_all(&out).map_err(|e| e.to_string())?;
            continue;
        }
        if method == "POST" && path.contains("/runtime/invocation/") {
            let id = path.split('/').rev().nth(1).unwrap_or_default().to_string();
            let error = path.ends_with("/error");
            let started = lock
                .lock()
                .ok()
                .and_then(|s| s.handed_out.get(&id).copied())
                .unwrap_or_else(Instant::now);
            let streaming = header(&headers, "lambda-runtime-function-response-mode")
                .is_some_and(|v| v.eq_ignore_ascii_case("streaming"));
            let mut seen = 0usize;
            let mut nul_run = 0usize;
            let mut first_byte = None;
            let body = read_body(&mut reader, &headers, |data| {
                if !streaming || first_byte.is_some() {
                    return;
                }
                for (i, &b) in data.iter().enumerate() {
                    seen += 1;
                    if nul_run >= 8 {
                        let _ = i;
                        first_byte = Some(started.elapsed());
                        return;
                    }
                    nul_run = if b == 0 { nul_run + 1 } else { 0 };
                }
            })?;
            let latency = started.elapsed();
            let _ = seen;
            writer
                .write_all(
                    b"HTTP/1.1 202 Accepted\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n",
                )
                .map_err(|e| e.to_string())?;
            let mut s = lock.lock().map_err(|_| "poisoned")?;
            s.handed_out.remove(&id);
            s.done.insert(
                id,
                Done {
                    latency,
                    first_byte,
                    error,
                    body,
                },
            );
            cv.notify_all();
            continue;
        }
        read_body(&mut reader, &headers, |_| {})?;
        writer
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .map_err(|e| e.to_string())?;
    }
}

// ---------------------------------------------------------------------------------------------
// Events and validation.

#[derive(Clone, Copy, PartialEq)]
enum Format {
    V2,
    V1,
    Alb,
}

fn event(
    format: Format,
    method: &str,
    path: &str,
    body: &[u8],
    accept_encoding: Option<&str>,
) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let ae = accept_encoding
        .map(|v| format!(",\"accept-encoding\":\"{v}\""))
        .unwrap_or_default();
    let has_body = !body.is_empty();
    let body_json = if has_body {
        format!("\"{b64}\"")
    } else {
        "null".into()
    };
    match format {
        Format::V2 => format!(
            r#"{{"version":"2.0","routeKey":"$default","rawPath":"{path}","rawQueryString":"a=1&b=2","headers":{{"accept":"*/*","host":"abc.execute-api.us-east-1.amazonaws.com","user-agent":"bench","x-forwarded-for":"1.2.3.4","x-forwarded-proto":"https","content-type":"application/json"{ae}}},"requestContext":{{"accountId":"123456789012","apiId":"abc","domainName":"abc.execute-api.us-east-1.amazonaws.com","domainPrefix":"abc","http":{{"method":"{method}","path":"{path}","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"bench"}},"requestId":"id","routeKey":"$default","stage":"$default","time":"21/Apr/2020:15:08:21 +0000","timeEpoch":1587481701067}},"body":{body_json},"isBase64Encoded":{has_body}}}"#
        ),
        Format::V1 => format!(
            r#"{{"resource":"/{{proxy+}}","path":"{path}","httpMethod":"{method}","headers":{{"accept":"*/*","content-type":"application/json","host":"abc.execute-api.us-east-1.amazonaws.com"{ae}}},"multiValueHeaders":{{"accept":["*/*"],"content-type":["application/json"],"host":["abc.execute-api.us-east-1.amazonaws.com"]}},"queryStringParameters":{{"a":"1"}},"multiValueQueryStringParameters":{{"a":["1"]}},"pathParameters":null,"stageVariables":null,"requestContext":{{"accountId":"123456789012","resourceId":"us4z18","stage":"prod","requestId":"id","identity":{{"sourceIp":"1.2.3.4","userAgent":"bench"}},"resourcePath":"/{{proxy+}}","httpMethod":"{method}","apiId":"abc","path":"/prod{path}","requestTimeEpoch":1583798639428}},"body":{body_json},"isBase64Encoded":{has_body}}}"#
        ),
        Format::Alb => format!(
            r#"{{"requestContext":{{"elb":{{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench/abc"}}}},"httpMethod":"{method}","path":"{path}","queryStringParameters":{{"a":"1"}},"headers":{{"accept":"*/*","host":"bench.example.com","user-agent":"bench"{ae}}},"body":{body_json},"isBase64Encoded":{has_body}}}"#
        ),
    }
    .into_bytes()
}

/// Checks a posted buffered response (or a streamed one) against the expected app body.
fn validate(done: &Done, expected: &[u8], streaming: bool) -> Result<()> {
    if done.error {
        return Err(format!(
            "posted an error: {}",
            String::from_utf8_lossy(&done.body)
        ));
    }
    let body = if streaming {
        let at = done
            .body
            .windows(8)
            .position(|w| w == [0u8; 8])
            .ok_or("no prelude terminator")?;
        let prelude = std::str::from_utf8(&done.body[..at]).map_err(|e| e.to_string())?;
        if !prelude.contains("\"statusCode\":200") {
            return Err(format!("prelude {prelude}"));
        }
        done.body[at + 8..].to_vec()
    } else {
        let json: serde_json::Value =
            serde_json::from_slice(&done.body).map_err(|e| format!("response is not JSON: {e}"))?;
        if json["statusCode"] != 200 {
            return Err(format!(
                "status {} body {:.200}",
                json["statusCode"], json["body"]
            ));
        }
        let text = json["body"].as_str().ok_or("no body")?;
        let raw = if json["isBase64Encoded"] == true {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| e.to_string())?
        } else {
            text.as_bytes().to_vec()
        };
        let encoding = json["headers"]["content-encoding"]
            .as_str()
            .or_else(|| json["multiValueHeaders"]["content-encoding"][0].as_str())
            .unwrap_or("");
        match encoding {
            "gzip" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                out
            }
            "br" => {
                let mut out = Vec::new();
                brotli::Decompressor::new(&raw[..], 4096)
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                out
            }
            _ => raw,
        }
    };
    if body != expected {
        return Err(format!(
            "body mismatch: {} bytes, expected {}",
            body.len(),
            expected.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Contestants and measurement.

#[derive(Clone)]
struct Contestant {
    name: &'static str,
    binary: Option<String>,
}

/// A spawned adapter and its Runtime API.
struct Adapter {
    child: Child,
    api: RuntimeApi,
    /// When the process was spawned (its Runtime API already listening).
    spawned_at: Instant,
    /// A cgroup of its own that counts its CPU time, when one can be made.
    cpuacct: Option<std::path::PathBuf>,
}

/// Where a cgroup v1 `cpuacct` controller is mounted, if any.
const CPUACCT_ROOT: &str = "/sys/fs/cgroup/cpuacct";

impl Adapter {
    fn spawn(binary: &str, app_port: u16, env: &[(&str, String)]) -> Result<Adapter> {
        let api = RuntimeApi::start()?;
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LWA_PORT", app_port.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_LOG_LEVEL", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawned_at = Instant::now();
        let child = cmd.spawn().map_err(|e| format!("spawning {binary}: {e}"))?;
        let cpuacct = join_cpuacct(child.id());
        Ok(Adapter {
            child,
            api,
            spawned_at,
            cpuacct,
        })
    }

    /// CPU time the adapter has used. With its own `cpuacct` cgroup this counts every thread,
    /// also those that have exited, in nanoseconds; without one, the threads alive now
    /// (from /proc/PID/task/*/schedstat). /proc/PID/stat is not used: its utime and stime
    /// are in 10 ms ticks, and on some kernels sampled.
    fn cpu(&self) -> Duration {
        let counted = self.cpuacct.as_ref().and_then(|dir| {
            std::fs::read_to_string(dir.join("cpuacct.usage"))
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        counted.map_or_else(|| self.cpu_of_live_threads(), Duration::from_nanos)
    }

    /// CPU time of the threads alive now, since each started.
    fn cpu_of_live_threads(&self) -> Duration {
        let pid = self.child.id();
        let mut total = 0u64;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                total += std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
            }
        }
        Duration::from_nanos(total)
    }

    fn rss_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.child.id(), field)
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.cpuacct {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Moves `pid` (all its threads, and the ones it starts later) into a new cgroup of its own.
fn join_cpuacct(pid: u32) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(CPUACCT_ROOT).join(format!("lambda-adapter-bench-{pid}"));
    std::fs::create_dir(&dir).ok()?;
    if std::fs::write(dir.join("cgroup.procs"), pid.to_string()).is_err() {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    Some(dir)
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[derive(Default, Clone)]
struct Stats {
    latencies: Vec<Duration>,
    first_bytes: Vec<Duration>,
    cpu: Duration,
    invocations: u64,
    peak_rss_kib: u64,
    wall: Duration,
    failures: u64,
    last_failure: String,
}

impl Stats {
    fn pct(v: &[Duration], p: f64) -> Duration {
        if v.is_empty() {
            return Duration::ZERO;
        }
        let mut s = v.to_vec();
        s.sort();
        s[((s.len() - 1) as f64 * p).round() as usize]
    }
    fn p50(&self) -> Duration {
        Self::pct(&self.latencies, 0.5)
    }
    fn p99(&self) -> Duration {
        Self::pct(&self.latencies, 0.99)
    }
    fn cpu_per_invocation(&self) -> Duration {
        if self.invocations == 0 {
            Duration::ZERO
        } else {
            self.cpu / self.invocations as u32
        }
    }
    fn throughput(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.invocations as f64 / self.wall.as_secs_f64()
        }
    }
    fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
        self.first_bytes.extend(other.first_bytes);
        self.cpu += other.cpu;
        self.invocations += other.invocations;
        self.peak_rss_kib = self.peak_rss_kib.max(other.peak_rss_kib);
        self.wall += other.wall;
        self.failures += other.failures;
        if !other.last_failure.is_empty() {
            self.last_failure = other.last_failure;
        }
    }
}

/// One scenario: what to request and how to run the adapter.
struct Scenario {
    name: &'static str,
    format: Format,
    method: &'static str,
    path: &'static str,
    request_body: Vec<u8>,
    accept_encoding: Option<&'static str>,
    env: Vec<(&'static str, String)>,
    streaming: bool,
    concurrency: usize,
    count: usize,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Runs `n` invocations of `scenario` through a fresh adapter process.
fn run_adapter_round(
    binary: &str,
    app_port: u16,
    scenario: &Scenario,
    bodies: &Bodies,
    n: usize,
) -> Result<Stats> {
    let mut env = scenario.env.clone();
    if scenario.concurrency > 1 {
        env.push((
            "AWS_LAMBDA_MAX_CONCURRENCY",
            scenario.concurrency.to_string(),
        ));
    }
    let adapter = Adapter::spawn(binary, app_port, &env)?;
    adapter.api.wait_first_next(Duration::from_secs(20))?;
    let (_, expected) = bodies.for_path(scenario.path);
    let ev = event(
        scenario.format,
        scenario.method,
        scenario.path,
        &scenario.request_body,
        scenario.accept_encoding,
    );
    // Warm-up: the first invocation opens connections.
    for _ in 0..scenario.concurrency.max(1) {
        let id = format!("w{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        adapter.api.push(id.clone(), ev.clone());
        let done = adapter.api.wait(&id, Duration::from_secs(30))?;
        validate(&done, expected, scenario.streaming)?;
    }
    let cpu0 = adapter.cpu();
    let mut stats = Stats::default();
    let started = Instant::now();
    let window = scenario.concurrency.max(1);
    let mut in_flight: VecDeque<String> = VecDeque::new();
    let mut issued = 0;
    while issued < n || !in_flight.is_empty() {
        while issued < n && in_flight.len() < window {
            let id = format!("r{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
            adapter.api.push(id.clone(), ev.clone());
            in_flight.push_back(id);
            issued += 1;
        }
        let Some(id) = in_flight.pop_front() else {
            break;
        };
        let done = adapter.api.wait(&id, Duration::from_secs(30))?;
        match validate(&done, expected, scenario.streaming) {
            Ok(()) => {
                stats.latencies.push(done.latency);
                if let Some(fb) = done.first_byte {
                    stats.first_bytes.push(fb);
                }
            }
            Err(e) => {
                stats.failures += 1;
                stats.last_failure = e;
            }
        }
        stats.invocations += 1;
    }
    stats.wall = started.elapsed();
    stats.cpu = adapter.cpu().saturating_sub(cpu0);
    stats.peak_rss_kib = adapter.rss_kib("VmHWM:");
    Ok(stats)
}

/// The same requests sent straight to the app: the floor.
fn run_direct_round(
    app_port: u16,
    scenario: &Scenario,
    bodies: &Bodies,
    n: usize,
) -> Result<Stats> {
    let (_, expected) = bodies.for_path(scenario.path);
    let workers = scenario.concurrency.max(1);
    let per = n.div_ceil(workers);
    let started = Instant::now();
    let results: Vec<Result<Stats>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| s.spawn(|| direct_client(app_port, scenario, expected, per)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("client thread failed".into()))
            })
            .collect()
    });
    let mut stats = Stats::default();
    for r in results {
        stats.merge(r?);
    }
    stats.wall = started.elapsed();
    Ok(stats)
}

fn direct_client(app_port: u16, scenario: &Scenario, expected: &[u8], n: usize) -> Result<Stats> {
    let conn = TcpStream::connect(("127.0.0.1", app_port)).map_err(|e| e.to_string())?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = conn.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(256 * 1024, conn);
    let ae = scenario
        .accept_encoding
        .map(|v| format!("accept-encoding: {v}\r\n"))
        .unwrap_or_default();
    let mut request = format!(
        "{} {}?a=1&b=2 HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{ae}content-length: {}\r\n\r\n",
        scenario.method,
        scenario.path,
        scenario.request_body.len()
    )
    .into_bytes();
    request.extend_from_slice(&scenario.request_body);
    let mut stats = Stats::default();
    for i in 0..n + 1 {
        let t0 = Instant::now();
        let mut first_byte = None;
        writer.write_all(&request).map_err(|e| e.to_string())?;
        let (_, status, headers) = read_head(&mut reader)?.ok_or("app closed")?;
        let body = read_body(&mut reader, &headers, |_| {
            if first_byte.is_none() {
                first_byte = Some(t0.elapsed());
            }
        })?;
        let elapsed = t0.elapsed();
        if i == 0 {
            continue; // warm-up
        }
        if status != "200" || body != expected {
            stats.failures += 1;
            stats.last_failure = format!("direct: status {status}, {} bytes", body.len());
        }
        stats.latencies.push(elapsed);
        if let Some(fb) = first_byte {
            stats.first_bytes.push(fb);
        }
        stats.invocations += 1;
    }
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------
// Reporting.

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs <= 0.0 {
        "n/a".into()
    } else {
        format!("{:.2}×", ours / theirs)
    }
}

fn report(scenario: &Scenario, results: &[(String, Stats)]) {
    println!(
        "\n## {} ({} invocations per contestant)",
        scenario.name,
        results.first().map_or(0, |r| r.1.invocations)
    );
    println!(
        "| contestant | p50 | p99 | added p50 over direct | CPU/inv | peak RSS | TTFB p50 | TTFB p99 | throughput | failures |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let direct_p50 = results
        .iter()
        .find(|(n, _)| n == "direct")
        .map(|(_, s)| s.p50())
        .unwrap_or_default();
    for (name, s) in results {
        let fb50 = Stats::pct(&s.first_bytes, 0.5);
        let fb99 = Stats::pct(&s.first_bytes, 0.99);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.0}/s | {}{} |",
            us(s.p50()),
            us(s.p99()),
            if name == "direct" {
                "-".into()
            } else {
                us(s.p50().saturating_sub(direct_p50))
            },
            if name == "direct" {
                "-".into()
            } else {
                us(s.cpu_per_invocation())
            },
            if name == "direct" {
                "-".into()
            } else {
                format!("{:.1} MiB", s.peak_rss_kib as f64 / 1024.0)
            },
            if s.first_bytes.is_empty() {
                "-".into()
            } else {
                us(fb50)
            },
            if s.first_bytes.is_empty() {
                "-".into()
            } else {
                us(fb99)
            },
            s.throughput(),
            s.failures,
            if s.last_failure.is_empty() {
                String::new()
            } else {
                format!(" ({:.80})", s.last_failure)
            }
        );
    }
    let get = |n: &str| {
        results
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, s)| s.clone())
    };
    if let (Some(o), Some(u), Some(d)) = (get("ours"), get("upstream"), get("direct")) {
        let added = |s: &Stats| s.p50().saturating_sub(d.p50()).as_secs_f64();
        println!(
            "ratios ours/upstream: p50 {}, p99 {}, added latency {}, CPU/inv {}, peak RSS {}, TTFB p50 {}, TTFB p99 {}; throughput ours/direct {}",
            ratio(o.p50().as_secs_f64(), u.p50().as_secs_f64()),
            ratio(o.p99().as_secs_f64(), u.p99().as_secs_f64()),
            ratio(added(&o), added(&u)),
            ratio(
                o.cpu_per_invocation().as_secs_f64(),
                u.cpu_per_invocation().as_secs_f64()
            ),
            ratio(o.peak_rss_kib as f64, u.peak_rss_kib as f64),
            ratio(
                Stats::pct(&o.first_bytes, 0.5).as_secs_f64(),
                Stats::pct(&u.first_bytes, 0.5).as_secs_f64()
            ),
            ratio(
                Stats::pct(&o.first_bytes, 0.99).as_secs_f64(),
                Stats::pct(&u.first_bytes, 0.99).as_secs_f64()
            ),
            ratio(o.throughput(), d.throughput()),
        );
    }
}

fn cold_start(contestants: &[Contestant], app_port: u16, trials: usize) {
    println!("\n## cold start: spawn → first /next, app already listening ({trials} trials each)");
    println!("| contestant | p50 | CPU at first /next | RSS at first /next |");
    println!("|---|---|---|---|");
    let mut p50s = Vec::new();
    for c in contestants.iter().filter(|c| c.binary.is_some()) {
        let Some(binary) = &c.binary else { continue };
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..trials {
            let Ok(adapter) = Adapter::spawn(binary, app_port, &[]) else {
                continue;
            };
            let Ok(t) = adapter.api.wait_first_next(Duration::from_secs(20)) else {
                continue;
            };
            times.push(t.duration_since(adapter.spawned_at));
            // Every thread is still alive at the first /next, and this counts from exec on.
            cpu.push(adapter.cpu_of_live_threads());
            rss.push(adapter.rss_kib("VmRSS:"));
        }
        let p50 = Stats::pct(&times, 0.5);
        rss.sort();
        let rss50 = rss.get(rss.len() / 2).copied().unwrap_or(0);
        println!(
            "| {} | {} | {} | {:.1} MiB |",
            c.name,
            us(p50),
            us(Stats::pct(&cpu, 0.5)),
            rss50 as f64 / 1024.0
        );
        p50s.push((c.name, p50));
    }
    let find = |n: &str| p50s.iter().find(|(name, _)| *name == n).map(|(_, d)| *d);
    if let (Some(o), Some(u)) = (find("ours"), find("upstream")) {
        println!(
            "ratio ours/upstream cold start p50: {}",
            ratio(o.as_secs_f64(), u.as_secs_f64())
        );
    }
    // How much of that is only creating the process: spawn → exit of `--version`, which
    // prints a line and does nothing else.
    if let Some(binary) = contestants
        .iter()
        .find(|c| c.name == "ours")
        .and_then(|c| c.binary.as_ref())
    {
        let mut times = Vec::new();
        for _ in 0..trials {
            let t0 = Instant::now();
            let status = Command::new(binary)
                .arg("--version")
                .env_clear()
                .stdout(Stdio::null())
                .status();
            if status.is_ok_and(|s| s.success()) {
                times.push(t0.elapsed());
            }
        }
        println!(
            "process floor: spawn → exit of `{binary} --version`, p50 {}",
            us(Stats::pct(&times, 0.5))
        );
    }
}

/// Time from the app starting to listen (200 ms after the adapter) to the first `/next`.
fn late_app(contestants: &[Contestant], trials: usize) {
    println!(
        "\n## cold start with the app listening 200 ms late: listen → first /next ({trials} trials each)"
    );
    println!("| contestant | p50 | p99 |");
    println!("|---|---|---|");
    for c in contestants {
        let Some(binary) = &c.binary else { continue };
        let mut times = Vec::new();
        for _ in 0..trials {
            let Ok(probe) = TcpListener::bind("127.0.0.1:0") else {
                continue;
            };
            let Ok(addr) = probe.local_addr() else {
                continue;
            };
            drop(probe);
            let Ok(adapter) = Adapter::spawn(binary, addr.port(), &[]) else {
                continue;
            };
            std::thread::sleep(Duration::from_millis(200));
            let Ok(listener) = TcpListener::bind(addr) else {
                continue;
            };
            let listen_at = Instant::now();
            let stop = Arc::new(AtomicBool::new(false));
            start_app(
                Arc::new(Bodies {
                    bin1m: vec![],
                    text5m: vec![],
                    json256k: vec![],
                    stream1m: vec![],
                }),
                listener,
                stop.clone(),
            );
            if let Ok(t) = adapter.api.wait_first_next(Duration::from_secs(20)) {
                times.push(t.duration_since(listen_at));
            }
            stop.store(true, Ordering::Relaxed);
            let _ = TcpStream::connect(addr);
        }
        println!(
            "| {} | {} | {} |",
            c.name,
            us(Stats::pct(&times, 0.5)),
            us(Stats::pct(&times, 0.99))
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let only = arg("--only");
    let ours = arg("--ours").unwrap_or_else(|| "target/release/lambda-adapter".into());
    let upstream = arg("--upstream").filter(|p| std::path::Path::new(p).exists());
    let rounds = if quick { 2 } else { 5 };
    let scale = |full: usize, q: usize| if quick { q } else { full };

    let bodies = Arc::new(Bodies::new());
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        eprintln!("cannot bind the app");
        std::process::exit(1);
    };
    let app_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    start_app(bodies.clone(), listener, stop.clone());

    let mut contestants = vec![Contestant {
        name: "direct",
        binary: None,
    }];
    if let Some(u) = &upstream {
        contestants.push(Contestant {
            name: "upstream",
            binary: Some(u.clone()),
        });
    } else {
        println!("(upstream binary not found: pass --upstream PATH for the side-by-side ratios)");
    }
    contestants.push(Contestant {
        name: "ours",
        binary: Some(ours.clone()),
    });

    println!(
        "# lambda-adapter benchmark ({} mode), {}",
        if quick { "quick" } else { "full" },
        std::env::consts::ARCH
    );
    for c in &contestants {
        if let Some(b) = &c.binary {
            let size = std::fs::metadata(b).map(|m| m.len()).unwrap_or(0);
            println!("- {}: {b} ({:.2} MiB)", c.name, size as f64 / 1048576.0);
        }
    }

    let json64k: Vec<u8> = {
        let mut s = String::from("{\"items\":[");
        while s.len() < 64 * 1024 - 40 {
            s.push_str("{\"k\":\"value\",\"n\":12345},");
        }
        s.push_str("{}]}");
        s.into_bytes()
    };
    let scenarios = vec![
        Scenario {
            name: "small GET, HTTP API v2",
            format: Format::V2,
            method: "GET",
            path: "/small",
            request_body: vec![],
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 1,
            count: scale(10_000, 2_000),
        },
        // The lifecycle features' cost on the same small GET (upstream ignores both settings).
        Scenario {
            name: "small GET, HTTP API v2, EMF metrics on",
            format: Format::V2,
            method: "GET",
            path: "/small",
            request_body: vec![],
            accept_encoding: None,
            env: vec![("AWS_LWA_ENABLE_METRICS", "true".into())],
            streaming: false,
            concurrency: 1,
            count: scale(10_000, 2_000),
        },
        Scenario {
            name: "small GET, HTTP API v2, idle check (app idle at once)",
            format: Format::V2,
            method: "GET",
            path: "/small",
            request_body: vec![],
            accept_encoding: None,
            env: vec![("AWS_LWA_IDLE_CHECK_PATH", "/small".into())],
            streaming: false,
            concurrency: 1,
            count: scale(10_000, 2_000),
        },
        Scenario {
            name: "POST 64 KiB JSON → 1 MiB binary, REST v1",
            format: Format::V1,
            method: "POST",
            path: "/bin1m",
            request_body: json64k,
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 1,
            count: scale(300, 60),
        },
        Scenario {
            name: "5 MiB text response, ALB",
            format: Format::Alb,
            method: "GET",
            path: "/text5m",
            request_body: vec![],
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 1,
            count: scale(60, 16),
        },
        Scenario {
            name: "response streaming 1 MiB in 16 chunks",
            format: Format::V2,
            method: "GET",
            path: "/stream",
            request_body: vec![],
            accept_encoding: None,
            env: vec![("AWS_LWA_INVOKE_MODE", "response_stream".into())],
            streaming: true,
            concurrency: 1,
            count: scale(300, 60),
        },
        Scenario {
            name: "compression br, 256 KiB JSON",
            format: Format::V2,
            method: "GET",
            path: "/json256k",
            request_body: vec![],
            accept_encoding: Some("br"),
            env: vec![("AWS_LWA_ENABLE_COMPRESSION", "true".into())],
            streaming: false,
            concurrency: 1,
            count: scale(300, 60),
        },
        Scenario {
            name: "compression gzip, 256 KiB JSON",
            format: Format::V2,
            method: "GET",
            path: "/json256k",
            request_body: vec![],
            accept_encoding: Some("gzip"),
            env: vec![("AWS_LWA_ENABLE_COMPRESSION", "true".into())],
            streaming: false,
            concurrency: 1,
            count: scale(300, 60),
        },
        Scenario {
            name: "Managed Instances c8, app sleeps 5 ms",
            format: Format::V2,
            method: "GET",
            path: "/sleep5",
            request_body: vec![],
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 8,
            count: scale(2_000, 400),
        },
        Scenario {
            name: "Managed Instances c32, app sleeps 5 ms",
            format: Format::V2,
            method: "GET",
            path: "/sleep5",
            request_body: vec![],
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 32,
            count: scale(6_000, 1_000),
        },
        Scenario {
            name: "Managed Instances c64, app sleeps 5 ms",
            format: Format::V2,
            method: "GET",
            path: "/sleep5",
            request_body: vec![],
            accept_encoding: None,
            env: vec![],
            streaming: false,
            concurrency: 64,
            count: scale(10_000, 2_000),
        },
    ];

    for scenario in &scenarios {
        if only.as_deref().is_some_and(|o| !scenario.name.contains(o)) {
            continue;
        }
        let mut results: Vec<(String, Stats)> = contestants
            .iter()
            .map(|c| (c.name.to_string(), Stats::default()))
            .collect();
        let per_round = scenario.count.div_ceil(rounds);
        for round in 0..rounds {
            // Rotate the order so no contestant always runs first.
            for k in 0..contestants.len() {
                let i = (k + round) % contestants.len();
                let c = &contestants[i];
                let outcome = match &c.binary {
                    None => run_direct_round(app_port, scenario, &bodies, per_round),
                    Some(b) => run_adapter_round(b, app_port, scenario, &bodies, per_round),
                };
                match outcome {
                    Ok(stats) => results[i].1.merge(stats),
                    Err(e) => {
                        results[i].1.failures += 1;
                        results[i].1.last_failure = e;
                    }
                }
            }
        }
        report(scenario, &results);
    }
    if only.as_deref().is_none_or(|o| "cold start".contains(o)) {
        cold_start(&contestants, app_port, scale(30, 10));
        late_app(&contestants, scale(10, 4));
    }
    stop.store(true, Ordering::Relaxed);
}
