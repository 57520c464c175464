//! The app connection against a careless or hostile app, through the real adapter binary
//! (issue 11, DECISIONS 19): no response ever reaches the wrong invocation, no request reaches
//! the app twice, and every invocation is answered before its deadline.
//!
//! The app here is a raw std server whose every answer is scripted byte by byte: extra bytes,
//! a second response, early answers, closes after reading, `1xx` floods, slow drips. Each
//! request carries a token in its path (`/t/TOKEN`); a well-behaved answer names the token it
//! answers, so a response that reached the wrong invocation is seen at once.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Adapter, InvokeOptions, PostKind, Posted, RuntimeApi, v2_event};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The scripted app.

/// One step of the app's answer to a request.
#[derive(Clone, Debug)]
enum Step {
    Write(Vec<u8>),
    /// Writes the bytes one at a time, pausing between them.
    Drip(Vec<u8>, Duration),
    Sleep(Duration),
    /// Reads and drops what the client still sends until it closes (at most 5 s), then closes:
    /// how a careful server ends a connection after answering without reading the body.
    DrainAndClose,
    /// Closes the connection (the rest of the script is not run).
    Close,
}

/// What the app does with one request.
#[derive(Clone, Debug)]
struct Plan {
    /// Read the request body before answering (else answer with the body still unread).
    read_body: bool,
    steps: Vec<Step>,
}

impl Plan {
    fn answer(steps: Vec<Step>) -> Plan {
        Plan {
            read_body: true,
            steps,
        }
    }
}

/// A request as the app saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    token: String,
    connection: usize,
}

type Script = dyn Fn(&Seen) -> Plan + Send + Sync;

struct App {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl App {
    fn start(script: impl Fn(&Seen) -> Plan + Send + Sync + 'static) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let connections = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let index = connections.fetch_add(1, Ordering::SeqCst);
                let (script, seen, stop) = (script.clone(), seen2.clone(), stop2.clone());
                std::thread::spawn(move || serve(conn, index, &*script, &seen, &stop));
            }
        });
        App { port, seen, stop }
    }

    /// How many times the app received `token`.
    fn times_seen(&self, token: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.token == token)
            .count()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    mut conn: TcpStream,
    index: usize,
    script: &Script,
    seen: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    let mut input = Vec::new();
    loop {
        // The head.
        let mut scanned = 0;
        let head_end = loop {
            if let Some(at) = input[scanned..].windows(4).position(|w| w == b"\r\n\r\n") {
                break scanned + at + 4;
            }
            scanned = input.len().saturating_sub(3);
            if !read_more(&mut conn, &mut input, stop) {
                return;
            }
        };
        let head = String::from_utf8_lossy(&input[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut start = lines.next().unwrap_or_default().split(' ');
        let method = start.next().unwrap_or_default().to_string();
        let target = start.next().unwrap_or_default().to_string();
        let length: usize = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let request = Seen {
            method,
            token: target.strip_prefix("/t/").unwrap_or(&target).to_string(),
            connection: index,
        };
        let plan = script(&request);
        if plan.read_body {
            while input.len() < head_end + length {
                if !read_more(&mut conn, &mut input, stop) {
                    return;
                }
            }
            input.drain(..head_end + length);
        } else {
            input.clear();
        }
        seen.lock().unwrap().push(request);
        for step in plan.steps {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let ok = match step {
                Step::Write(bytes) => conn.write_all(&bytes).is_ok(),
                Step::Drip(bytes, pause) => bytes.iter().all(|b| {
                    std::thread::sleep(pause);
                    !stop.load(Ordering::SeqCst) && conn.write_all(&[*b]).is_ok()
                }),
                Step::Sleep(pause) => {
                    std::thread::sleep(pause);
                    true
                }
                Step::DrainAndClose => {
                    let until = std::time::Instant::now() + Duration::from_secs(5);
                    let mut sink = [0u8; 64 * 1024];
                    while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                        match conn.read(&mut sink) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e)
                                if e.kind() == std::io::ErrorKind::WouldBlock
                                    || e.kind() == std::io::ErrorKind::TimedOut => {}
                            Err(_) => break,
                        }
                    }
                    false
                }
                Step::Close => false,
            };
            if !ok {
                let _ = conn.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Reads more of the request; false when the connection ended or the app stops.
fn read_more(conn: &mut TcpStream, input: &mut Vec<u8>, stop: &AtomicBool) -> bool {
    let mut buf = [0u8; 64 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        match conn.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                input.extend_from_slice(&buf[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
    }
}

/// A well-behaved answer naming the token it answers.
fn answer(token: &str) -> Vec<u8> {
    let body = format!("answer to {token}");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The adapter between an emulated Runtime API and the app.

struct Case {
    app: App,
    // Field order is drop order: the adapter stops before the API it talks to.
    adapter: Adapter,
    api: RuntimeApi,
}

impl Case {
    fn start(env: &[(&str, &str)], script: impl Fn(&Seen) -> Plan + Send + Sync + 'static) -> Case {
        let app = App::start(script);
        let api = RuntimeApi::start("127.0.0.1:0").unwrap();
        let mut full: Vec<(&str, String)> = vec![
            ("AWS_LWA_PORT", app.port.to_string()),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp".into()),
        ];
        full.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let adapter = Adapter::spawn(&api.addr().to_string(), &full);
        Case { app, adapter, api }
    }

    fn invoke(&self, method: &str, token: &str, body: Option<&str>, timeout: Duration) -> Posted {
        let mut event = v2_event(method, &format!("/t/{token}"), "");
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        self.invoke_event(&event, timeout)
    }

    fn invoke_event(&self, event: &Value, timeout: Duration) -> Posted {
        let options = InvokeOptions {
            timeout,
            queue_wait: Duration::from_secs(30),
            ..InvokeOptions::default()
        };
        let posted = self
            .api
            .invoke(event.to_string().as_bytes(), options)
            .unwrap_or_else(|e| panic!("no answer: {e}\nadapter: {}", self.adapter.stderr()));
        assert!(
            posted.posted_at_ms <= posted.deadline_ms,
            "answered {} ms after the deadline",
            posted.posted_at_ms - posted.deadline_ms
        );
        posted
    }
}

/// The invocation got the app's answer to its own request.
fn assert_own(posted: &Posted, token: &str) {
    let json = posted.json().unwrap();
    assert_eq!(posted.kind, PostKind::Response, "{json}");
    assert_eq!(json["statusCode"], 200, "{json}");
    assert_eq!(json["body"], format!("answer to {token}"), "{json}");
}

/// The invocation got a named error.
fn assert_error(posted: &Posted, error_type: &str) -> String {
    let json = posted.json().unwrap();
    assert_eq!(posted.kind, PostKind::Error, "{json}");
    assert_eq!(json["errorType"], error_type, "{json}");
    json["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const T: Duration = Duration::from_secs(10);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---------------------------------------------------------------------------------------------
// One test per defect of the review.

#[test]
fn a_lowercase_head_is_an_extension_method_and_never_leaks_a_body() {
    // An app that treats `head` like any method sends a body; the adapter reads it (RFC 9110:
    // methods are case-sensitive) instead of leaving it for the next caller.
    let case = Case::start(&[], |r| Plan::answer(vec![Step::Write(answer(&r.token))]));
    let posted = case.invoke("head", "lower-1", None, T);
    assert_own(&posted, "lower-1");
    for n in 2..5 {
        assert_own(
            &case.invoke("GET", &format!("next-{n}"), None, T),
            &format!("next-{n}"),
        );
    }
    assert_eq!(
        case.app.seen()[0].method,
        "head",
        "the method is forwarded as sent"
    );

    // An app that treats `head` as HEAD (no body despite content-length) leaves the adapter
    // waiting for a body that never comes: a timeout, and the next caller is unharmed.
    let case = Case::start(&[], |r| {
        if r.method == "head" {
            Plan::answer(vec![Step::Write(
                b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n".to_vec(),
            )])
        } else {
            Plan::answer(vec![Step::Write(answer(&r.token))])
        }
    });
    assert_error(
        &case.invoke("head", "lower-2", None, Duration::from_secs(2)),
        "App.Timeout",
    );
    assert_own(&case.invoke("GET", "after", None, T), "after");
}

#[test]
fn bytes_left_behind_by_the_app_never_reach_the_next_invocation() {
    // Every way of sending more than one response's worth, each followed by a normal request
    // that must get its own answer.
    type Misbehaviour = fn(&str) -> Vec<Step>;
    let cases: Vec<(&str, Misbehaviour)> = vec![
        ("two responses", |t| {
            let mut both = answer(t);
            both.extend_from_slice(&answer(&format!("{t}-second")));
            vec![Step::Write(both)]
        }),
        ("body longer than content-length", |t| {
            let mut out = answer(t);
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nleaked!!!");
            vec![Step::Write(out)]
        }),
        ("data after the last chunk", |t| {
            let body = format!("answer to {t}");
            vec![Step::Write(
                format!(
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nleaked",
                    body.len()
                )
                .into_bytes(),
            )]
        }),
        ("a second response a moment later", |t| {
            vec![
                Step::Write(answer(t)),
                Step::Sleep(Duration::from_millis(50)),
                Step::Write(answer("late-leak")),
            ]
        }),
        ("a 204 with a body", |t| {
            vec![
                Step::Write(b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nleak!".to_vec()),
                Step::Write(answer(t)),
            ]
        }),
    ];
    for (what, steps) in cases {
        let case = Case::start(&[], move |r| {
            if r.token.starts_with("odd") {
                Plan::answer(steps(&r.token))
            } else {
                Plan::answer(vec![Step::Write(answer(&r.token))])
            }
        });
        let first = case.invoke("GET", "odd-1", None, T);
        let first_json = first.json().unwrap();
        if first_json["statusCode"] != 204 {
            assert_own(&first, "odd-1");
        }
        // Give a late second response time to arrive before the next request.
        std::thread::sleep(Duration::from_millis(150));
        for n in 0..3 {
            let token = format!("normal-{n}");
            let posted = case.invoke("GET", &token, None, T);
            let json = posted.json().unwrap();
            assert_eq!(
                json["body"],
                format!("answer to {token}"),
                "{what}: another response reached {token}: {json}"
            );
        }
    }
}

#[test]
fn a_space_before_the_colon_is_refused_not_half_read() {
    let case = Case::start(&[], |r| {
        if r.token == "bad" {
            Plan::answer(vec![Step::Write(
                b"HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabcHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nleaked".to_vec(),
            )])
        } else {
            Plan::answer(vec![Step::Write(answer(&r.token))])
        }
    });
    assert_error(&case.invoke("GET", "bad", None, T), "App.InvalidResponse");
    assert_own(&case.invoke("GET", "good", None, T), "good");
}

#[test]
fn a_request_the_app_may_have_read_is_never_sent_twice() {
    // On a kept connection, the app reads a POST, acts on it, and closes without answering.
    let case = Case::start(&[], |r| {
        if r.token == "post-once" {
            Plan::answer(vec![Step::Close])
        } else {
            Plan::answer(vec![Step::Write(answer(&r.token))])
        }
    });
    assert_own(&case.invoke("GET", "warm", None, T), "warm");
    let message = assert_error(
        &case.invoke("POST", "post-once", Some("pay 100"), T),
        "App.ConnectionClosed",
    );
    assert!(message.contains("without answering"), "{message}");
    assert_eq!(
        case.app.times_seen("post-once"),
        1,
        "the POST reached the app twice"
    );
    assert_own(&case.invoke("GET", "after", None, T), "after");
}

#[test]
fn a_connection_the_app_closed_while_idle_is_not_used() {
    // The app closes every connection right after answering (as an app whose keep-alive
    // timeout fired while Lambda had the environment frozen): each request goes out on a new
    // connection, once.
    let case = Case::start(&[], |r| {
        Plan::answer(vec![
            Step::Write(answer(&r.token)),
            Step::Sleep(Duration::from_millis(20)),
            Step::Close,
        ])
    });
    for n in 0..5 {
        let token = format!("idle-{n}");
        std::thread::sleep(Duration::from_millis(60));
        assert_own(&case.invoke("POST", &token, Some("x"), T), &token);
        assert_eq!(case.app.times_seen(&token), 1);
    }
    let connections: std::collections::BTreeSet<usize> =
        case.app.seen().iter().map(|s| s.connection).collect();
    assert_eq!(connections.len(), 5, "each request on a new connection");
}

#[test]
fn a_stalled_app_on_a_kept_connection_is_a_timeout_not_a_retry() {
    let case = Case::start(&[], |r| {
        if r.token == "stall" {
            Plan::answer(vec![Step::Sleep(Duration::from_secs(5))])
        } else {
            Plan::answer(vec![Step::Write(answer(&r.token))])
        }
    });
    assert_own(&case.invoke("GET", "warm", None, T), "warm");
    let message = assert_error(
        &case.invoke("GET", "stall", None, Duration::from_secs(2)),
        "App.Timeout",
    );
    assert!(!message.contains("connect"), "{message}");
    assert_eq!(case.app.times_seen("stall"), 1);
}

#[test]
fn an_early_answer_to_a_large_body_is_relayed() {
    // 413 without reading a 12 MB body: the answer, not a timeout at the deadline.
    let case = Case::start(&[], |r| {
        if r.token == "big" {
            Plan {
                read_body: false,
                steps: vec![
                    Step::Write(
                        b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 8\r\n\r\ntoo big!"
                            .to_vec(),
                    ),
                    // Reads nothing more (more than the sockets can hold is still coming).
                    Step::Sleep(Duration::from_secs(4)),
                    Step::Close,
                ],
            }
        } else {
            Plan::answer(vec![Step::Write(answer(&r.token))])
        }
    });
    let body = "x".repeat(12 << 20);
    let posted = case.invoke("POST", "big", Some(&body), Duration::from_secs(8));
    let json = posted.json().unwrap();
    assert_eq!(posted.kind, PostKind::Response, "{json}");
    assert_eq!(
        (&json["statusCode"], &json["body"]),
        (&json!(413), &json!("too big!"))
    );
    assert_own(&case.invoke("GET", "after", None, T), "after");
}

#[test]
fn interim_floods_and_slow_drips_end_at_the_deadline() {
    let case = Case::start(&[], |r| match r.token.as_str() {
        "flood" => Plan::answer(vec![Step::Drip(
            b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000),
            Duration::from_millis(5),
        )]),
        "drip" => Plan::answer(vec![Step::Drip(answer("drip"), Duration::from_millis(150))]),
        _ => Plan::answer(vec![Step::Write(answer(&r.token))]),
    });
    for token in ["flood", "drip"] {
        // `invoke` checks that the answer came before the deadline.
        assert_error(
            &case.invoke("GET", token, None, Duration::from_secs(2)),
            "App.Timeout",
        );
    }
    assert_own(&case.invoke("GET", "after", None, T), "after");
}

#[test]
fn a_dripping_readiness_check_cannot_hold_init_or_an_invocation() {
    // Async init: the readiness check is answered with a `100 Continue` every 300 ms forever.
    // Init gives up after 9.8 s as upstream, and every invocation is answered by its deadline.
    let case = Case::start(
        &[
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "http"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/t/ready"),
            ("AWS_LWA_ASYNC_INIT", "true"),
        ],
        |r| match r.token.as_str() {
            "ready" => Plan::answer(vec![Step::Drip(
                b"HTTP/1.1 100 Continue\r\n\r\n".repeat(200),
                Duration::from_millis(12),
            )]),
            _ => Plan::answer(vec![Step::Write(answer(&r.token))]),
        },
    );
    let started_ms = now_ms();
    let posted = case.invoke("GET", "first", None, Duration::from_secs(3));
    // The invocation was handed out (its deadline minus the timeout) once the 9.8 s budget ran
    // out, not later: each readiness attempt ends by its own bound however the app drips.
    let handed_out_ms = posted.deadline_ms - 3_000;
    assert!(
        handed_out_ms - started_ms < 12_000,
        "the first /next came {} ms after start",
        handed_out_ms - started_ms
    );
    // Not ready: the invocation is either served (the app answers normal requests) or times
    // out; it is answered in time either way (checked by `invoke`).
    let json = posted.json().unwrap();
    assert!(
        json["body"] == "answer to first" || json["errorType"] == "App.Timeout",
        "{json}"
    );
}

#[test]
fn chunk_sizes_are_hex_digits_only() {
    let case = Case::start(&[], |r| {
        let size = match r.token.as_str() {
            "plus" => "+5",
            "space" => " 5",
            "tab" => "\t5",
            _ => return Plan::answer(vec![Step::Write(answer(&r.token))]),
        };
        Plan::answer(vec![Step::Write(
            format!(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{size}\r\nhello\r\n0\r\n\r\n"
            )
            .into_bytes(),
        )])
    });
    for token in ["plus", "space", "tab"] {
        assert_error(&case.invoke("GET", token, None, T), "App.InvalidResponse");
        assert_own(&case.invoke("GET", "good", None, T), "good");
    }
}

#[test]
fn error_status_posts_fit_lambdas_limit_and_say_what_was_cut() {
    const LIMIT: usize = 6_291_456;
    let case = Case::start(&[("AWS_LWA_ERROR_STATUS_CODES", "500")], |r| {
        let body: Vec<u8> = match r.token.as_str() {
            "binary" => (0..6_000_000u32).map(|i| (i % 256) as u8).collect(),
            "quotes" => "say \"hi\"\n".repeat(660_000).into_bytes(),
            "seven" => vec![b'a'; 7_000_000],
            _ => b"small".to_vec(),
        };
        let mut out = format!(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        Plan::answer(vec![Step::Write(out)])
    });
    let small = case.invoke("GET", "small", None, T);
    let message = assert_error(&small, "App.ErrorStatus");
    assert_eq!(message, r#"{"statusCode":500,"body":"small"}"#);
    for (token, total) in [
        ("binary", 6_000_000),
        ("quotes", 5_940_000),
        ("seven", 7_000_000),
    ] {
        let posted = case.invoke("GET", token, None, T);
        assert!(
            posted.body.len() <= LIMIT,
            "{token}: {} bytes posted",
            posted.body.len()
        );
        let message = assert_error(&posted, "App.ErrorStatus");
        let inner: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(inner["statusCode"], 500);
        assert_eq!(inner["bodyTruncated"], true, "{token}");
        assert_eq!(inner["bodyBytes"], total, "{token}");
        assert!(
            inner["keptBytes"].as_u64().unwrap() > 1_000_000,
            "{token}: {}",
            inner["keptBytes"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Everything at once, at random.

/// A small deterministic generator (xorshift), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The behaviours the app picks from, and what the invocation must get for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Normal,
    ExtraBytes,
    SecondResponse,
    EarlyAnswer,
    CloseAfterReading,
    InterimFlood,
    SlowDrip,
    ConnectionClose,
    Http10UntilClose,
    Chunked,
    Garbage,
    TooSlow,
}

const BEHAVIOURS: [Behaviour; 12] = [
    Behaviour::Normal,
    Behaviour::ExtraBytes,
    Behaviour::SecondResponse,
    Behaviour::EarlyAnswer,
    Behaviour::CloseAfterReading,
    Behaviour::InterimFlood,
    Behaviour::SlowDrip,
    Behaviour::ConnectionClose,
    Behaviour::Http10UntilClose,
    Behaviour::Chunked,
    Behaviour::Garbage,
    Behaviour::TooSlow,
];

fn plan_for(behaviour: Behaviour, token: &str) -> Plan {
    let own = answer(token);
    let body = format!("answer to {token}");
    match behaviour {
        Behaviour::Normal => Plan::answer(vec![Step::Write(own)]),
        Behaviour::ExtraBytes => {
            let mut out = own;
            out.extend_from_slice(b"trailing garbage");
            Plan::answer(vec![Step::Write(out)])
        }
        Behaviour::SecondResponse => {
            let mut out = own;
            out.extend_from_slice(&answer(&format!("{token}-again")));
            Plan::answer(vec![Step::Write(out)])
        }
        // As a careful server does it: `connection: close`, then drain what still comes.
        Behaviour::EarlyAnswer => Plan {
            read_body: false,
            steps: vec![
                Step::Write(
                    format!(
                        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes(),
                ),
                Step::DrainAndClose,
            ],
        },
        Behaviour::CloseAfterReading => Plan::answer(vec![Step::Close]),
        Behaviour::InterimFlood => {
            let mut out = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n".repeat(50);
            out.extend_from_slice(&own);
            Plan::answer(vec![Step::Write(out)])
        }
        Behaviour::SlowDrip => Plan::answer(vec![Step::Drip(own, Duration::from_micros(300))]),
        Behaviour::ConnectionClose => Plan::answer(vec![
            Step::Write(
                format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
            ),
            Step::Close,
        ]),
        Behaviour::Http10UntilClose => Plan::answer(vec![
            Step::Write(format!("HTTP/1.0 200 OK\r\n\r\n{body}").into_bytes()),
            Step::Close,
        ]),
        Behaviour::Chunked => Plan::answer(vec![Step::Write(
            format!(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{}\r\n{:x}\r\n{}\r\n0\r\nx-trailer: 1\r\n\r\n",
                &body[..3],
                body.len() - 3,
                &body[3..]
            )
            .into_bytes(),
        )]),
        Behaviour::Garbage => Plan::answer(vec![Step::Write(b"NOT HTTP AT ALL\r\n\r\n".to_vec())]),
        Behaviour::TooSlow => Plan::answer(vec![Step::Sleep(Duration::from_millis(1500))]),
    }
}

#[test]
fn a_few_hundred_hostile_invocations_each_get_their_own_answer() {
    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0042);
    let invocations: usize = std::env::var("HOSTILE_INVOCATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    // Each token carries its behaviour's index, so the app and the check agree on it.
    let case = Case::start(&[], |r| {
        let index: usize = r
            .token
            .split('-')
            .nth(1)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        plan_for(BEHAVIOURS[index % BEHAVIOURS.len()], &r.token)
    });
    let mut rng = Rng(seed);
    let mut tally = std::collections::BTreeMap::new();
    for n in 0..invocations {
        let index = rng.below(BEHAVIOURS.len() as u64) as usize;
        // Slow behaviours are rare, so the test stays short.
        let index = if BEHAVIOURS[index] == Behaviour::TooSlow && rng.below(4) != 0 {
            0
        } else {
            index
        };
        let behaviour = BEHAVIOURS[index];
        let token = format!("r-{index}-{n}");
        let with_body = behaviour == Behaviour::EarlyAnswer || rng.below(3) == 0;
        let body = with_body.then(|| {
            "b".repeat(if behaviour == Behaviour::EarlyAnswer {
                3 << 20
            } else {
                100
            })
        });
        let posted = case.invoke(
            if with_body { "POST" } else { "GET" },
            &token,
            body.as_deref(),
            Duration::from_secs(1),
        );
        let json = posted.json().unwrap();
        let context = format!("seed {seed}, invocation {n} ({behaviour:?}): {json}");
        eprintln!(
            "{n} {behaviour:?} {}",
            context.chars().take(160).collect::<String>()
        );
        match behaviour {
            Behaviour::CloseAfterReading => {
                assert_eq!(json["errorType"], "App.ConnectionClosed", "{context}")
            }
            Behaviour::Garbage => assert_eq!(json["errorType"], "App.InvalidResponse", "{context}"),
            Behaviour::TooSlow => assert_eq!(json["errorType"], "App.Timeout", "{context}"),
            _ => {
                assert_eq!(posted.kind, PostKind::Response, "{context}");
                assert_eq!(json["body"], format!("answer to {token}"), "{context}");
            }
        }
        assert_eq!(
            case.app.times_seen(&token),
            1,
            "{context}: not seen exactly once"
        );
        *tally.entry(format!("{behaviour:?}")).or_insert(0) += 1;
    }
    // Every request reached the app exactly once, and nothing else did.
    assert_eq!(case.app.seen().len(), invocations);
    eprintln!("behaviours: {tally:?}");
}
