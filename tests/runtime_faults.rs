//! The adapter against a misbehaving Runtime API: `/next` failing, a response post whose
//! connection drops, a post the API rejects. The adapter must keep serving and answer every
//! invocation it was handed (DECISIONS 1, 5). The Runtime API here is scripted by hand because
//! the emulator's is well-behaved by design.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{Adapter, Reply, TestApp};

/// What the scripted API does with one request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Answer normally.
    None,
    /// Answer 500.
    Status500,
    /// Read the request, then close the connection without answering.
    Drop,
}

#[derive(Default)]
struct State {
    /// Faults for the coming `/next` polls (then: hand out queued events).
    next_faults: VecDeque<Fault>,
    /// Faults for the coming posts, in order.
    post_faults: VecDeque<Fault>,
    events: VecDeque<(String, String)>,
    /// Every post received: (request id, kind, body).
    posts: Vec<(String, String, String)>,
    next_polls: usize,
}

struct ScriptedApi {
    addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl ScriptedApi {
    fn start(state: State) -> ScriptedApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new((Mutex::new(state), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(200) {
                let Ok(conn) = conn else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(conn, &shared));
            }
        });
        ScriptedApi { addr, state }
    }

    /// Waits (bounded) until `n` posts arrived; returns them.
    fn wait_posts(&self, n: usize, limit: Duration) -> Vec<(String, String, String)> {
        let (lock, cv) = &*self.state;
        let until = Instant::now() + limit;
        let mut s = lock.lock().unwrap();
        while s.posts.len() < n {
            let left = until.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "only {} of {n} posts arrived: {:?}",
                s.posts.len(),
                s.posts
            );
            s = cv.wait_timeout(s, left).unwrap().0;
        }
        s.posts.clone()
    }
}

fn serve(conn: TcpStream, state: &(Mutex<State>, Condvar)) {
    let (lock, cv) = state;
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).to_string();
        let answer = if path.ends_with("/extension/register") {
            "HTTP/1.1 200 OK\r\nlambda-extension-identifier: ext-1\r\ncontent-length: 2\r\n\r\n{}"
                .to_string()
        } else if path.ends_with("/extension/event/next") {
            // Never answers: an extension with no events waits until shutdown.
            std::thread::sleep(Duration::from_secs(3600));
            return;
        } else if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut s = lock.lock().unwrap();
            s.next_polls += 1;
            match s.next_faults.pop_front().unwrap_or(Fault::None) {
                Fault::Status500 => {
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops"
                        .to_string()
                }
                Fault::Drop => return,
                Fault::None => {
                    let until = Instant::now() + Duration::from_secs(30);
                    let (id, event) = loop {
                        if let Some(item) = s.events.pop_front() {
                            break item;
                        }
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return;
                        }
                        s = cv.wait_timeout(s, left).unwrap().0;
                    };
                    let deadline = lambda_adapter::invocation::now_ms() + 20_000;
                    format!(
                        "HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {deadline}\r\ncontent-length: {}\r\n\r\n{event}",
                        event.len()
                    )
                }
            }
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let mut segments = path.rsplit('/');
            let kind = segments.next().unwrap_or_default().to_string();
            let id = segments.next().unwrap_or_default().to_string();
            let mut s = lock.lock().unwrap();
            s.posts.push((id, kind, body));
            cv.notify_all();
            match s.post_faults.pop_front().unwrap_or(Fault::None) {
                Fault::Drop => return,
                Fault::Status500 => {
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_string()
                }
                Fault::None => {
                    "HTTP/1.1 202 Accepted\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                        .to_string()
                }
            }
        } else {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_string()
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn v2_event(path: &str) -> String {
    common::v2_event("GET", path, "").to_string()
}

#[test]
fn the_adapter_serves_on_through_runtime_api_failures() {
    let app = TestApp::start(|req| Reply::text(&format!("you asked for {}", req.target)));
    let api = ScriptedApi::start(State {
        // Two failed polls before the first event: the worker backs off and polls again.
        next_faults: VecDeque::from([Fault::Status500, Fault::Drop]),
        // The first response post loses its connection (retried once, as it may never have
        // arrived), the second is rejected with a 500 (not retried), the rest succeed.
        post_faults: VecDeque::from([Fault::Drop, Fault::None, Fault::Status500]),
        events: VecDeque::from([
            ("rid-1".to_string(), v2_event("/one")),
            ("rid-2".to_string(), v2_event("/two")),
            ("rid-3".to_string(), v2_event("/three")),
        ]),
        ..State::default()
    });
    let mut adapter = Adapter::spawn(
        &api.addr.to_string(),
        &[("AWS_LWA_PORT", app.port.to_string())],
    );

    let posts = api.wait_posts(4, Duration::from_secs(20));
    let ids: Vec<&str> = posts
        .iter()
        .map(|(id, kind, _)| {
            assert_eq!(kind, "response");
            id.as_str()
        })
        .collect();
    assert_eq!(
        ids,
        ["rid-1", "rid-1", "rid-2", "rid-3"],
        "rid-1 posted twice (retry), the rest once"
    );
    for ((id, _, body), path) in posts.iter().skip(1).zip(["/one", "/two", "/three"]) {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["statusCode"], 200, "{id}");
        assert_eq!(json["body"], format!("you asked for {path}"), "{id}");
    }
    assert!(
        api.state.0.lock().unwrap().next_polls >= 5,
        "polled again after each failure"
    );
    assert!(
        adapter.wait_exit(Duration::from_millis(200)).is_none(),
        "the adapter is still running: {}",
        adapter.stderr()
    );
}
