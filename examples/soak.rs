//! Fault soak: the real adapter binary under a steady stream of invocations while everything
//! around it misbehaves, on loopback only. It proves that nothing is lost and nothing dies.
//!
//! The app (this program again, as a child process) is killed and restarted every few
//! seconds, and between kills it resets connections, closes mid-body, answers slowly, hangs
//! past the deadline and answers garbage, depending on the event. The Runtime API (a thread of
//! this program) answers `/next` with 500s, closes connections and delays, and drops or fails
//! some posts. Three phases: one worker, `AWS_LAMBDA_MAX_CONCURRENCY=16`, and response
//! streaming (`AWS_LWA_INVOKE_MODE=response_stream`, a quarter of the invocations: every
//! streamed response is its own connection to the Runtime API).
//!
//! ```text
//! cargo build --release && cargo run --release --example soak -- [ADAPTER_BINARY]
//! SOAK_INVOCATIONS=5000 (per phase, default 100000)   SOAK_KILLS=10 (app kills per phase)
//! ```
//! Exit status 0 only when, in every phase, every invocation handed out got a post, every
//! answer that claims success carries the right body for its invocation, the adapter never
//! exited, and its memory stayed flat. Every loop is bounded in count and time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Shared pieces: a tiny RNG and HTTP/1.1 reading.

/// xorshift64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `per_10k` / 10 000.
    fn chance(&mut self, per_10k: u64) -> bool {
        self.next() % 10_000 < per_10k
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Message {
    method: String,
    path: String,
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
}

/// Reads one request head, and its body unless `skip_body`. `None` on EOF or garbage.
fn read_request(reader: &mut impl BufRead, skip_body: impl Fn(&str) -> bool) -> Option<Message> {
    let mut start = String::new();
    if reader.read_line(&mut start).ok()? == 0 {
        return None;
    }
    let mut parts = start.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut message = Message {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if skip_body(&message.path) {
        return Some(message);
    }
    if message
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        // At most 100 000 chunks: bounded even against a runaway peer.
        for _ in 0..100_000 {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers (a streamed response's error type) are kept with the headers.
                for _ in 0..64 {
                    let mut trailer = String::new();
                    if reader.read_line(&mut trailer).ok()? == 0 || trailer.trim().is_empty() {
                        return Some(message);
                    }
                    if let Some((n, v)) = trailer.split_once(':') {
                        message
                            .headers
                            .push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                return None;
            }
            let at = message.body.len();
            message.body.resize(at + size, 0);
            reader.read_exact(&mut message.body[at..]).ok()?;
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf).ok()?;
        }
        return None;
    }
    let len: usize = message
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    message.body.resize(len, 0);
    reader.read_exact(&mut message.body).ok()?;
    Some(message)
}

// ---------------------------------------------------------------------------------------------
// The app, run as `soak --app PORT` in a child process so it can really be killed.

/// What an invocation asks the app to do (its event's path), with how often (per 10 000).
const KINDS: &[(&str, u64)] = &[
    ("ok", 7_520),
    // The app connection's hostile cases (issue 11): bytes left behind, a second response,
    // an early answer to an unread body, interim floods, a slow drip, a lowercase `head`.
    ("extra", 100),
    ("twice", 100),
    ("early", 30),
    ("interim", 100),
    ("drip", 100),
    ("head", 100),
    ("big", 300),
    ("slow", 50),
    ("chunked", 400),
    ("close-after", 300),
    ("error500", 200),
    ("garbage", 200),
    ("reset", 150),
    ("midbody", 150),
    ("until-close", 198),
    ("hang", 2),
];

const BIG: usize = 256 * 1024;

fn run_app(port: u16) {
    // The previous instance was just killed; its port may take a moment to free.
    let listener = (0..200)
        .find_map(|_| {
            TcpListener::bind(("127.0.0.1", port)).ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(10));
                None
            })
        })
        .unwrap_or_else(|| {
            eprintln!("soak app: cannot bind 127.0.0.1:{port}");
            std::process::exit(2);
        });
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || serve_app_conn(conn));
    }
}

fn serve_app_conn(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    // Bounded: at most 100 000 requests per connection.
    for _ in 0..100_000 {
        // `reset` leaves the request body unread, so closing sends a TCP RST; `early` answers
        // before reading it.
        let Some(request) = read_request(&mut reader, |path| {
            path.starts_with("/reset") || path.starts_with("/early")
        }) else {
            return;
        };
        let (kind, id) = request
            .path
            .trim_start_matches('/')
            .split_once("?id=")
            .unwrap_or(("ok", "0"));
        let text = |status: &str, body: &str, extra: &str| {
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\n{extra}content-length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let out: Vec<u8> = match kind {
            "big" => {
                let mut body = format!("big {id} ").into_bytes();
                body.resize(BIG, b'x');
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {BIG}\r\n\r\n"
                )
                .into_bytes();
                out.extend_from_slice(&body);
                out
            }
            "slow" => {
                std::thread::sleep(Duration::from_millis(10));
                text("200 OK", &format!("slow {id}"), "").into_bytes()
            }
            "chunked" => {
                let body = format!("chunked {id}");
                let (a, b) = body.split_at(4);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                    a.len(),
                    b.len()
                )
                .into_bytes()
            }
            "close-after" | "until-close" => {
                let out = if kind == "close-after" {
                    text(
                        "200 OK",
                        &format!("close-after {id}"),
                        "connection: close\r\n",
                    )
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil-close {id}"
                    )
                };
                let _ = writer.write_all(out.as_bytes());
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            "error500" => {
                text("500 Internal Server Error", &format!("error500 {id}"), "").into_bytes()
            }
            "extra" => {
                let mut out = text("200 OK", &format!("extra {id}"), "").into_bytes();
                out.extend_from_slice(b"left behind");
                out
            }
            "twice" => {
                let mut out = text("200 OK", &format!("twice {id}"), "").into_bytes();
                out.extend_from_slice(
                    text("200 OK", &format!("second answer to {id}"), "").as_bytes(),
                );
                out
            }
            "early" => {
                // As a careful server: answer, say it closes, drain the unread body, close.
                let out = text("200 OK", &format!("early {id}"), "connection: close\r\n");
                let _ = writer.write_all(out.as_bytes());
                let unread: u64 = request
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let _ = std::io::copy(&mut (&mut reader).take(unread), &mut std::io::sink());
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            "interim" => {
                let mut out =
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
                        .repeat(20);
                out.extend_from_slice(text("200 OK", &format!("interim {id}"), "").as_bytes());
                out
            }
            "drip" => {
                let out = text("200 OK", &format!("drip {id}"), "");
                for (i, b) in out.bytes().enumerate() {
                    if i % 16 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    if writer.write_all(&[b]).is_err() {
                        return;
                    }
                }
                continue;
            }
            "head" => text("200 OK", &format!("head {id}"), "").into_bytes(),
            "garbage" => {
                let _ = writer.write_all(b"\x00\x01GARBAGE GARBAGE\r\n\r\n");
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            "reset" => return,
            "midbody" => {
                let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\nonly ten b");
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            "hang" => {
                // Well past the 300 ms deadline such events get, but bounded.
                std::thread::sleep(Duration::from_millis(1_500));
                text("200 OK", &format!("hang {id}"), "").into_bytes()
            }
            _ => text("200 OK", &format!("ok {id}"), "").into_bytes(),
        };
        if writer.write_all(&out).is_err() {
            return;
        }
    }
}

/// The app child process, killed and restarted by the supervisor.
struct AppProcess {
    port: u16,
    child: Option<Child>,
    kills: u64,
}

impl AppProcess {
    fn start(port: u16) -> AppProcess {
        let mut app = AppProcess {
            port,
            child: None,
            kills: 0,
        };
        app.spawn();
        app
    }

    fn spawn(&mut self) {
        let exe = std::env::current_exe().unwrap_or_else(|_| "soak".into());
        self.child = Command::new(exe)
            .args(["--app", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .ok();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Runtime + Extensions API, with faults.

struct Invocation {
    id: u64,
    kind: &'static str,
    event: Vec<u8>,
    deadline_in: Duration,
}

struct Post {
    /// `response` or `error`.
    what: String,
    body: Vec<u8>,
    streamed: bool,
    /// `Lambda-Runtime-Function-Error-Type` trailer of a streamed response.
    error_trailer: Option<String>,
}

#[derive(Default)]
struct ApiState {
    queue: VecDeque<Invocation>,
    kinds: HashMap<u64, &'static str>,
    handed_out: u64,
    /// First post per invocation id.
    posts: HashMap<u64, Post>,
    duplicate_posts: u64,
    next_500: u64,
    next_closed: u64,
    next_delayed: u64,
    post_500: u64,
    post_closed: u64,
    stopped: bool,
}

type Shared = (Mutex<ApiState>, Condvar);

struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl RuntimeApi {
    fn start(seed: u64) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state: Arc<Shared> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let conn_seed = AtomicU64::new(seed);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                let seed = conn_seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1;
                std::thread::spawn(move || serve_api_conn(conn, &s, Rng(seed)));
            }
        });
        Ok(RuntimeApi { addr, state, stop })
    }

    fn push_all(&self, invocations: Vec<Invocation>) {
        let (lock, cv) = &*self.state;
        if let Ok(mut s) = lock.lock() {
            for inv in invocations {
                s.kinds.insert(inv.id, inv.kind);
                s.queue.push_back(inv);
            }
        }
        cv.notify_all();
    }

    /// (handed out, posted) so far.
    fn progress(&self) -> (u64, u64) {
        self.state
            .0
            .lock()
            .map_or((0, 0), |s| (s.handed_out, s.posts.len() as u64))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut s) = self.state.0.lock() {
            s.stopped = true;
        }
        self.state.1.notify_all();
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_api_conn(conn: TcpStream, state: &Shared, mut rng: Rng) {
    let _ = conn.set_nodelay(true);
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, conn);
    let (lock, cv) = state;
    // Bounded: at most a million requests per connection.
    for _ in 0..1_000_000 {
        let Some(request) = read_request(&mut reader, |_| false) else {
            return;
        };
        let path = request.path.as_str();
        if path.ends_with("/extension/register") {
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nlambda-extension-identifier: soak\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}");
            continue;
        }
        if path.ends_with("/extension/event/next") {
            // Held until the phase ends, as Lambda holds an extension with no events.
            let Ok(mut s) = lock.lock() else { return };
            while !s.stopped {
                s = match cv.wait_timeout(s, Duration::from_millis(500)) {
                    Ok((s, _)) => s,
                    Err(_) => return,
                };
            }
            return;
        }
        if path.ends_with("/runtime/invocation/next") {
            // Faults before an event is taken, so none is lost by the API's own doing.
            if rng.chance(50) {
                if let Ok(mut s) = lock.lock() {
                    s.next_500 += 1;
                }
                let _ = writer.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 7\r\n\r\nfailure",
                );
                continue;
            }
            if rng.chance(30) {
                if let Ok(mut s) = lock.lock() {
                    s.next_closed += 1;
                }
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            if rng.chance(50) {
                if let Ok(mut s) = lock.lock() {
                    s.next_delayed += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let invocation = {
                let Ok(mut s) = lock.lock() else { return };
                loop {
                    if s.stopped {
                        return;
                    }
                    if let Some(inv) = s.queue.pop_front() {
                        s.handed_out += 1;
                        break inv;
                    }
                    s = match cv.wait_timeout(s, Duration::from_millis(500)) {
                        Ok((s, _)) => s,
                        Err(_) => return,
                    };
                }
            };
            let deadline = now_ms() + invocation.deadline_in.as_millis() as u64;
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {}\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:soak\r\nlambda-runtime-trace-id: Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Sampled=0\r\ncontent-length: {}\r\n\r\n",
                invocation.id,
                invocation.event.len()
            )
            .into_bytes();
            out.extend_from_slice(&invocation.event);
            if writer.write_all(&out).is_err() {
                // The adapter's connection died under it; the event is still handed out and
                // must be answered by id on another connection, like Lambda.
                return;
            }
            continue;
        }
        if request.method == "POST" && path.contains("/runtime/invocation/") {
            let mut parts = path.rsplit('/');
            let what = parts.next().unwrap_or_default().to_string();
            let id: u64 = parts
                .next()
                .and_then(|id| id.parse().ok())
                .unwrap_or(u64::MAX);
            let fault = if rng.chance(20) {
                Some(500)
            } else if rng.chance(20) {
                Some(0)
            } else {
                None
            };
            if let Ok(mut s) = lock.lock() {
                match s.posts.entry(id) {
                    std::collections::hash_map::Entry::Occupied(_) => s.duplicate_posts += 1,
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        let streamed = request
                            .header("lambda-runtime-function-response-mode")
                            .is_some_and(|m| m.eq_ignore_ascii_case("streaming"));
                        let error_trailer = request
                            .header("lambda-runtime-function-error-type")
                            .map(str::to_string);
                        slot.insert(Post {
                            what,
                            body: request.body,
                            streamed,
                            error_trailer,
                        });
                    }
                }
                match fault {
                    Some(500) => s.post_500 += 1,
                    Some(_) => s.post_closed += 1,
                    None => {}
                }
            }
            cv.notify_all();
            match fault {
                Some(500) => {
                    let _ = writer.write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 2\r\n\r\n{}",
                    );
                }
                Some(_) => {
                    // Recorded, but the adapter never hears back: it retries once.
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                None => {
                    let _ = writer.write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n",
                    );
                }
            }
            continue;
        }
        let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    }
}

// ---------------------------------------------------------------------------------------------
// The adapter under test.

#[derive(Clone, Copy)]
enum Mode {
    Buffered { workers: usize },
    Streaming,
}

struct Adapter {
    child: Child,
}

impl Adapter {
    fn spawn(
        binary: &str,
        api: &RuntimeApi,
        app_port: u16,
        mode: Mode,
    ) -> std::io::Result<Adapter> {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LWA_PORT", app_port.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "soak")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_LOG_LEVEL", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match mode {
            Mode::Buffered { workers: 1 } => {}
            Mode::Buffered { workers } => {
                cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", workers.to_string());
            }
            Mode::Streaming => {
                cmd.env("AWS_LWA_INVOKE_MODE", "response_stream");
            }
        }
        Ok(Adapter {
            child: cmd.spawn()?,
        })
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Events and the verdict.

fn event(kind: &'static str, id: u64) -> Invocation {
    let (method, body) = match kind {
        // A body the app leaves unread, so its close is a reset.
        "reset" => ("POST", "r".repeat(64 * 1024)),
        // A body as large as Lambda takes, answered before it is read.
        "early" => ("POST", "e".repeat(6 << 20)),
        // An extension method to HTTP, whose response has a body (RFC 9110).
        "head" => ("head", String::new()),
        _ => ("GET", String::new()),
    };
    let event = format!(
        r#"{{"version":"2.0","routeKey":"$default","rawPath":"/{kind}","rawQueryString":"id={id}","headers":{{"host":"soak.lambda-url.us-east-1.on.aws","user-agent":"soak"}},"requestContext":{{"accountId":"123456789012","apiId":"soak","domainName":"soak.lambda-url.us-east-1.on.aws","http":{{"method":"{method}","path":"/{kind}","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"soak"}},"requestId":"{id}","stage":"$default","time":"12/Mar/2020:19:03:58 +0000","timeEpoch":1583348638390}},"body":"{body}","isBase64Encoded":false}}"#
    );
    let deadline_in = if kind == "hang" {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(30)
    };
    Invocation {
        id,
        kind,
        event: event.into_bytes(),
        deadline_in,
    }
}

fn pick_kind(rng: &mut Rng) -> &'static str {
    let mut roll = rng.next() % 10_000;
    for &(kind, weight) in KINDS {
        if roll < weight {
            return kind;
        }
        roll -= weight;
    }
    "ok"
}

#[derive(Default)]
struct Verdict {
    outcomes: BTreeMap<String, u64>,
    wrong: Vec<String>,
}

/// Checks one post against what its invocation asked for.
fn judge(verdict: &mut Verdict, id: u64, kind: &str, post: &Post) {
    if post.streamed {
        judge_stream(verdict, id, kind, post);
        return;
    }
    let (what, body) = (post.what.as_str(), post.body.as_slice());
    let json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            verdict
                .wrong
                .push(format!("{id} ({kind}): the post is not JSON: {e}"));
            return;
        }
    };
    let outcome = if what == "error" {
        format!("error {}", json["errorType"].as_str().unwrap_or("?"))
    } else {
        format!("response {}", json["statusCode"])
    };
    *verdict.outcomes.entry(outcome.clone()).or_default() += 1;
    // The app being killed can turn anything into a connection error; anything else must be
    // exactly what this invocation's app behaviour produces.
    let app_down = matches!(
        outcome.as_str(),
        "error App.ConnectionRefused" | "error App.ConnectionClosed"
    );
    let expected_status = match kind {
        "error500" => Some(500),
        "ok" | "big" | "slow" | "chunked" | "close-after" | "until-close" | "extra" | "twice"
        | "early" | "interim" | "drip" | "head" => Some(200),
        _ => None,
    };
    let fine = match (kind, expected_status) {
        (_, Some(status)) if what == "response" => {
            let text = json["body"].as_str().unwrap_or_default();
            let want = format!("{kind} {id}");
            let body_ok = if kind == "big" {
                text.len() == BIG && text.starts_with(&format!("{want} "))
            } else {
                text == want
            };
            json["statusCode"] == status && body_ok
        }
        (_, Some(_)) => app_down,
        ("garbage", _) => outcome == "error App.InvalidResponse" || app_down,
        ("reset" | "midbody", _) => app_down,
        ("hang", _) => outcome == "error App.Timeout" || app_down,
        _ => false,
    };
    if !fine {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        verdict.wrong.push(format!("{id} ({kind}): {shown}"));
    }
}

/// A streamed response: prelude JSON, 8 NUL bytes, the body as the app sent it, and an error
/// trailer when the app failed after its head.
fn judge_stream(verdict: &mut Verdict, id: u64, kind: &str, post: &Post) {
    let body = post.body.as_slice();
    let Some(at) = body.windows(8).position(|w| w == [0; 8]) else {
        verdict.wrong.push(format!(
            "{id} ({kind}): a streamed response without a prelude"
        ));
        return;
    };
    let prelude: serde_json::Value = serde_json::from_slice(&body[..at]).unwrap_or_default();
    let rest = &body[at + 8..];
    let status = prelude["statusCode"].as_u64().unwrap_or(0);
    let outcome = match &post.error_trailer {
        Some(error_type) => format!("stream {status}, then trailer {error_type}"),
        None => format!("stream {status}"),
    };
    *verdict.outcomes.entry(outcome).or_default() += 1;
    let want = format!("{kind} {id}");
    let fine = match (kind, post.error_trailer.as_deref()) {
        ("big", None) => {
            status == 200 && rest.len() == BIG && rest.starts_with(format!("{want} ").as_bytes())
        }
        ("error500", None) => status == 500 && rest == want.as_bytes(),
        (
            "ok" | "slow" | "chunked" | "close-after" | "until-close" | "extra" | "twice" | "early"
            | "interim" | "drip" | "head",
            None,
        ) => status == 200 && rest == want.as_bytes(),
        // Cut off after the head: what arrived, then the error in the trailer.
        ("midbody", Some("App.ConnectionClosed")) => status == 200 && rest == b"only ten b",
        // The app killed mid-body: a prefix of the body, then the error.
        (_, Some("App.ConnectionClosed")) => kind == "big" || want.as_bytes().starts_with(rest),
        _ => false,
    };
    if !fine {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        verdict.wrong.push(format!(
            "{id} ({kind}) streamed, trailer {:?}: {shown}",
            post.error_trailer
        ));
    }
}

struct PhaseReport {
    name: String,
    invocations: u64,
    handed_out: u64,
    posted: u64,
    duplicates: u64,
    restarts: u64,
    app_kills: u64,
    api_faults: String,
    rss_start: u64,
    rss_end: u64,
    elapsed: Duration,
    verdict: Verdict,
}

impl PhaseReport {
    fn ok(&self) -> bool {
        self.handed_out == self.invocations
            && self.posted == self.handed_out
            && self.restarts == 0
            && self.verdict.wrong.is_empty()
            // Flat: within 16 MiB of the warmed-up figure (allocator arenas vary a little).
            && self.rss_end <= self.rss_start + 16 * 1024
    }

    fn print(&self) {
        println!("== {} ({:.1} s)", self.name, self.elapsed.as_secs_f64());
        println!(
            "  invocations handed out: {} of {}",
            self.handed_out, self.invocations
        );
        println!(
            "  posts received:         {} (plus {} duplicate retries)",
            self.posted, self.duplicates
        );
        println!("  adapter restarts:       {}", self.restarts);
        println!("  app kills:              {}", self.app_kills);
        println!("  Runtime API faults:     {}", self.api_faults);
        println!(
            "  adapter RSS:            {} KiB after warm-up, {} KiB at the end",
            self.rss_start, self.rss_end
        );
        println!("  outcomes:");
        for (outcome, n) in &self.verdict.outcomes {
            println!("    {outcome:<32} {n}");
        }
        println!("  wrong answers:          {}", self.verdict.wrong.len());
        for w in self.verdict.wrong.iter().take(10) {
            println!("    {w}");
        }
        println!("  verdict: {}", if self.ok() { "PASS" } else { "FAIL" });
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(18080, |a| a.port())
}

fn run_phase(
    name: &str,
    binary: &str,
    invocations: u64,
    mode: Mode,
    kills: u64,
    seed: u64,
) -> PhaseReport {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let api = RuntimeApi::start(seed ^ 0xA5A5).unwrap_or_else(|e| {
        eprintln!("soak: cannot start the Runtime API: {e}");
        std::process::exit(2);
    });
    let app_port = free_port();
    let mut app = AppProcess::start(app_port);
    let mut adapter = Adapter::spawn(binary, &api, app_port, mode).unwrap_or_else(|e| {
        eprintln!("soak: cannot start {binary}: {e}");
        std::process::exit(2);
    });
    api.push_all(
        (1..=invocations)
            .map(|id| event(pick_kind(&mut rng), id))
            .collect(),
    );

    // Generous: far above what the faults cost, so only a real loss hits it.
    let limit = Duration::from_secs(120) + Duration::from_millis(invocations * 5);
    let mut restarts = 0;
    let mut rss_start = 0;
    // The app is killed each time another `kill_every` invocations have been answered, so
    // every phase sees the same number of kills whatever the machine's speed.
    let kill_every = (invocations / (kills + 1)).max(1);
    let mut next_kill = kill_every;
    let warm = (invocations / 10).max(1);
    loop {
        std::thread::sleep(Duration::from_millis(2));
        let (handed_out, posted) = api.progress();
        if rss_start == 0 && posted >= warm {
            rss_start = adapter.rss_kib();
        }
        if posted >= invocations || started.elapsed() > limit {
            break;
        }
        if kills > 0 && posted >= next_kill && app.kills < kills {
            // Respawned at once: invocations fail fast while it is down, so a long outage
            // would only turn most of the phase into connection errors.
            app.kill();
            app.spawn();
            next_kill = posted + kill_every;
        }
        if let Ok(Some(status)) = adapter.child.try_wait() {
            // Must never happen; counted, and the run goes on so the report is complete.
            eprintln!(
                "soak: the adapter exited ({status}) after {handed_out} invocations; restarting it"
            );
            restarts += 1;
            adapter = match Adapter::spawn(binary, &api, app_port, mode) {
                Ok(a) => a,
                Err(_) => break,
            };
        }
    }
    let rss_end = adapter.rss_kib();
    if let Ok(Some(_)) = adapter.child.try_wait() {
        restarts += 1;
    }
    let mut verdict = Verdict::default();
    let s = match api.state.0.lock() {
        Ok(s) => s,
        Err(_) => std::process::exit(2),
    };
    for (id, post) in &s.posts {
        let kind = s.kinds.get(id).copied().unwrap_or("?");
        judge(&mut verdict, *id, kind, post);
    }
    PhaseReport {
        name: name.to_string(),
        invocations,
        handed_out: s.handed_out,
        posted: s.posts.len() as u64,
        duplicates: s.duplicate_posts,
        restarts,
        app_kills: app.kills,
        api_faults: format!(
            "/next 500 x{}, closed x{}, delayed x{}; posts answered 500 x{}, closed unanswered x{}",
            s.next_500, s.next_closed, s.next_delayed, s.post_500, s.post_closed
        ),
        rss_start,
        rss_end,
        elapsed: started.elapsed(),
        verdict,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--app") {
        run_app(args.get(2).and_then(|p| p.parse().ok()).unwrap_or(8080));
        return;
    }
    let binary = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/lambda-adapter".to_string());
    if !std::path::Path::new(&binary).exists() {
        eprintln!("soak: {binary} not found; build it first (cargo build --release)");
        std::process::exit(2);
    }
    let env_u64 = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let invocations = env_u64("SOAK_INVOCATIONS", 100_000).max(1);
    let kills = env_u64("SOAK_KILLS", 10);
    println!(
        "soak: {binary}, {invocations} invocations per phase, the app killed {kills} times per phase"
    );
    let reports = [
        run_phase(
            "phase 1: one worker",
            &binary,
            invocations,
            Mode::Buffered { workers: 1 },
            kills,
            0x2545_F491_4F6C_DD1D,
        ),
        run_phase(
            "phase 2: AWS_LAMBDA_MAX_CONCURRENCY=16",
            &binary,
            invocations,
            Mode::Buffered { workers: 16 },
            kills,
            0x9E37_79B9_7F4A_7C15,
        ),
        run_phase(
            "phase 3: AWS_LWA_INVOKE_MODE=response_stream",
            &binary,
            (invocations / 4).max(1),
            Mode::Streaming,
            kills,
            0xD1B5_4A32_D192_ED03,
        ),
    ];
    for report in &reports {
        report.print();
    }
    let ok = reports.iter().all(PhaseReport::ok);
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    std::process::exit(if ok { 0 } else { 1 });
}
