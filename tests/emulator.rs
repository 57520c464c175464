//! The local emulator: the `lambda-emulator` binary end to end with the real adapter (buffered
//! and streamed), and the front door's event formats and streaming relay against a scripted
//! stand-in function.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use lambda_adapter::emulator::EventFormat;
use lambda_adapter::emulator::front_door::FrontDoor;
use serde_json::{Value, json};

const EMULATOR: &str = env!("CARGO_BIN_EXE_lambda-emulator");

/// The emulator binary, killed (SIGKILL) on Drop: its watchdog must then stop its children.
struct EmulatorProcess {
    child: Child,
    listen: String,
}

impl EmulatorProcess {
    fn start(source: &str, app_port: u16, app_command: &[&str]) -> EmulatorProcess {
        EmulatorProcess::start_with(source, app_port, app_command, &[])
    }

    fn start_with(
        source: &str,
        app_port: u16,
        app_command: &[&str],
        env: &[(&str, &str)],
    ) -> EmulatorProcess {
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(EMULATOR)
            .args([
                "--runtime-api",
                &format!("127.0.0.1:{}", free_port()),
                "--listen",
                &listen,
            ])
            .args([
                "--source",
                source,
                "--adapter",
                ADAPTER,
                "--timeout",
                "10",
                "--",
            ])
            .args(app_command)
            .env("AWS_LWA_PORT", app_port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&listen).is_err() {
            assert!(
                Instant::now() < until,
                "the front door never listened on {listen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        EmulatorProcess { child, listen }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn front_door_serves_plain_http_through_the_real_adapter() {
    let app = TestApp::start(|r| match r.target.split('?').next().unwrap() {
        "/cookies" => Reply::text("cookies")
            .header("Set-Cookie", "a=1; Path=/")
            .header("Set-Cookie", "b=2"),
        "/binary" => Reply::new(200, "image/png", vec![0x89, 0, 0xff, 0x10]),
        _ => Reply::new(200, "application/json", r.body.clone()),
    });
    let emulator = EmulatorProcess::start("v2", app.port, &["sleep", "600"]);

    let (status, headers, body) = http_request(
        &emulator.listen,
        "GET",
        "/cookies?x=1",
        &[("Cookie", "c=3; d=4")],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(body, b"cookies");
    let set_cookies: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(set_cookies, ["a=1; Path=/", "b=2"]);

    let (status, _, body) = http_request(
        &emulator.listen,
        "POST",
        "/echo",
        &[("Content-Type", "application/json")],
        br#"{"k":"v"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"k":"v"}"#);

    let (_, headers, body) = http_request(&emulator.listen, "GET", "/binary", &[], b"");
    assert_eq!(body, [0x89, 0, 0xff, 0x10]);
    assert!(headers.contains(&("content-type".into(), "image/png".into())));

    let requests = app.requests();
    let cookie_request = requests
        .iter()
        .find(|r| r.target == "/cookies?x=1")
        .unwrap();
    assert_eq!(cookie_request.header("cookie"), Some("c=3;d=4"));
    let echo = requests.iter().find(|r| r.target == "/echo").unwrap();
    assert_eq!(echo.method, "POST");
    assert!(
        echo.header("x-amzn-request-context")
            .unwrap()
            .contains("\"routeKey\":\"$default\"")
    );
}

#[test]
fn front_door_serves_max_concurrency_requests_at_once() {
    const SLEEP: Duration = Duration::from_millis(500);
    let app = TestApp::start(|r| match r.target.as_str() {
        "/" => Reply::text("ready"),
        _ => Reply::new(200, "text/plain", r.target.clone()).delay(SLEEP),
    });
    let emulator = EmulatorProcess::start_with(
        "v2",
        app.port,
        &["sleep", "600"],
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "8")],
    );
    // Warm up: the adapter is ready and its workers poll.
    assert_eq!(http_request(&emulator.listen, "GET", "/", &[], b"").0, 200);

    let start = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let listen = emulator.listen.clone();
            std::thread::spawn(move || http_request(&listen, "GET", &format!("/job/{i}"), &[], b""))
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let (status, _, body) = client.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, format!("/job/{i}").as_bytes());
    }
    let elapsed = start.elapsed();
    // One at a time would take 8 x SLEEP.
    assert!(
        elapsed < SLEEP * 4,
        "8 requests of {SLEEP:?} took {elapsed:?}: not concurrent"
    );
}

#[test]
fn front_door_with_function_url_events() {
    let app = TestApp::start(|_| Reply::text("from a function url"));
    let emulator = EmulatorProcess::start("url", app.port, &["sleep", "600"]);
    let (status, _, body) = http_request(&emulator.listen, "GET", "/path?q=1", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(body, b"from a function url");
    let request = app
        .requests()
        .into_iter()
        .find(|r| r.target == "/path?q=1")
        .unwrap();
    let context: Value =
        serde_json::from_str(request.header("x-amzn-request-context").unwrap()).unwrap();
    assert!(
        context["domainName"]
            .as_str()
            .unwrap()
            .contains(".lambda-url."),
        "{context}"
    );
}

#[test]
fn invoke_mode_prints_the_response_and_exits() {
    let app = TestApp::start(|_| Reply::text("invoked once"));
    let event = v2_event("GET", "/once", "").to_string();
    let run = |event: &str| {
        let mut child = Command::new(EMULATOR)
            .args([
                "--runtime-api",
                &format!("127.0.0.1:{}", free_port()),
                "--adapter",
                ADAPTER,
                "--invoke",
                "-",
            ])
            .args(["--", "sleep", "600"])
            .env("AWS_LWA_PORT", app.port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(event.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = run(&event);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let response: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], "invoked once");

    let failed = run("not json");
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("Adapter.InvalidEvent"), "{stderr}");
}

/// A web app that streams server-sent events in lock step with the test: on `GET /events` it
/// sends `data: 1`, then sends each next event only once the test reports (through the
/// channel) that its client has received the previous one. Any other request answers `ready`
/// (the adapter's readiness check). Stops on Drop.
struct LockStepSseApp {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// How long the app waits for the test's signal before it gives up and cuts the stream.
const SIGNAL_WAIT: Duration = Duration::from_secs(10);

impl LockStepSseApp {
    fn start(events: usize) -> (LockStepSseApp, Sender<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (signal, seen) = std::sync::mpsc::channel();
        let seen = Arc::new(Mutex::new(seen));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let seen = seen.clone();
                            // Detached: each ends at its connection's EOF or a signal timeout.
                            std::thread::spawn(move || serve_lock_step(stream, events, &seen));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        let app = LockStepSseApp {
            port,
            stop,
            accept: Some(accept),
        };
        (app, signal)
    }
}

impl Drop for LockStepSseApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve_lock_step(stream: TcpStream, events: usize, seen: &Mutex<Receiver<usize>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        // One request head (the adapter sends bodiless GETs here), then the answer.
        let mut target = None;
        let mut length = 0;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if target.is_none() {
                target = line.split(' ').nth(1).map(str::to_string);
            } else if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if target.as_deref() != Some("/events") {
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nready");
            continue;
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        for n in 1..=events {
            let event = format!("data: {n}\n\n");
            let chunk = format!("{:x}\r\n{event}\r\n", event.len());
            if writer.write_all(chunk.as_bytes()).is_err() {
                return;
            }
            if n < events {
                let signalled = seen.lock().unwrap().recv_timeout(SIGNAL_WAIT);
                if signalled != Ok(n) {
                    // The client never saw event n: cut the stream so that the test fails.
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        if writer.write_all(b"0\r\n\r\n").is_err() {
            return;
        }
    }
}

#[test]
fn a_streamed_sse_response_reaches_the_client_event_by_event() {
    const EVENTS: usize = 4;
    let (app, signal) = LockStepSseApp::start(EVENTS);
    let emulator = EmulatorProcess::start_with(
        "url",
        app.port,
        &["sleep", "600"],
        &[("AWS_LWA_INVOKE_MODE", "response_stream")],
    );
    let mut client = TcpStream::connect(&emulator.listen).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    client
        .write_all(b"GET /events HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n")
        .unwrap();
    // The app sends event n+1 only after this client has received event n, so every event
    // must travel app -> adapter -> Runtime API -> front door -> client on its own: a relay
    // that held anything back until the end would never see event 2 (the buffered invoke
    // mode fails this test at event 1).
    let mut seen = Vec::new();
    for n in 1..=EVENTS {
        read_until_contains(&mut client, &mut seen, format!("data: {n}\n\n").as_bytes());
        if n < EVENTS {
            signal.send(n).unwrap();
        }
    }
    read_until_contains(&mut client, &mut seen, b"0\r\n\r\n");
    let (status, headers, body) = parse_response(&seen);
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-type".into(), "text/event-stream".into())));
    assert!(headers.contains(&("transfer-encoding".into(), "chunked".into())));
    let events: String = (1..=EVENTS).map(|n| format!("data: {n}\n\n")).collect();
    assert_eq!(String::from_utf8_lossy(&body), events);
}

#[test]
fn invoke_mode_keeps_stdout_for_the_result() {
    let dir = std::env::temp_dir().join(format!("lambda-emulator-stdout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let printed = dir.join("printed");
    // The app command prints to stdout before the invocation is answered: the test app
    // answers only once the marker file says the line is out.
    let script = format!(
        "echo 'app output on stdout'; touch '{}'; exec sleep 600",
        printed.display()
    );
    let marker = printed.clone();
    let app = TestApp::start(move |_| {
        let until = Instant::now() + Duration::from_secs(10);
        while !marker.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        Reply::text("the result")
    });
    let event = v2_event("GET", "/once", "").to_string();
    let mut child = Command::new(EMULATOR)
        .args([
            "--runtime-api",
            &format!("127.0.0.1:{}", free_port()),
            "--adapter",
            ADAPTER,
            "--invoke",
            "-",
        ])
        .args(["--", "sh", "-c", &script])
        .env("AWS_LWA_PORT", app.port.to_string())
        // The adapter logs to stdout, as Lambda functions do; "app is ready" at debug level
        // comes before it takes the invocation.
        .env("AWS_LAMBDA_LOG_LEVEL", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stderr}");
    // Stdout is the response JSON and nothing else, so `--invoke ... | jq` works.
    let response: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not just the result ({e}): {stdout:?}"));
    assert_eq!(response["body"], "the result");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    // The children's output is not lost: it is on stderr.
    assert!(stderr.contains("app output on stdout"), "{stderr}");
    assert!(stderr.contains("app is ready"), "{stderr}");
}

/// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn killing_the_emulator_stops_the_adapter_and_the_app() {
    let dir = std::env::temp_dir().join(format!("lambda-emulator-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("app.pid");
    let script = format!("echo $$ > {}; exec sleep 600", pid_file.display());
    let app = TestApp::start(|_| Reply::text("ok"));
    let emulator = EmulatorProcess::start("v2", app.port, &["sh", "-c", &script]);
    let until = Instant::now() + Duration::from_secs(10);
    let app_pid: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < until, "the app command never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!ended(app_pid));
    drop(emulator); // SIGKILL: no chance to clean up in-process.
    let until = Instant::now() + Duration::from_secs(10);
    while !ended(app_pid) {
        assert!(
            Instant::now() < until,
            "the app (pid {app_pid}) outlived the emulator"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- The front door against a scripted stand-in for the adapter ----

/// `GET /next` as a function would; returns the request id and the event.
fn next_invocation(api: &str) -> (String, Value) {
    let (status, headers, body) =
        http_request(api, "GET", "/2018-06-01/runtime/invocation/next", &[], b"");
    assert_eq!(status, 200);
    let id = headers
        .iter()
        .find(|(n, _)| n == "lambda-runtime-aws-request-id")
        .unwrap()
        .1
        .clone();
    (id, serde_json::from_slice(&body).unwrap())
}

fn post_response(api: &str, id: &str, body: &Value) {
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let (status, _, _) = http_request(api, "POST", &path, &[], body.to_string().as_bytes());
    assert_eq!(status, 202);
}

fn front_door(format: EventFormat) -> (RuntimeApi, FrontDoor) {
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let options = InvokeOptions {
        timeout: Duration::from_secs(10),
        queue_wait: Duration::from_secs(10),
        ..InvokeOptions::default()
    };
    let door = FrontDoor::start("127.0.0.1:0", format, api.invoker(), options).unwrap();
    (api, door)
}

/// Sends one request through the front door on a thread; the caller plays the function.
fn request_in_background(door: &FrontDoor, target: &str) -> std::thread::JoinHandle<HttpReply> {
    let (addr, target) = (door.addr().to_string(), target.to_string());
    std::thread::spawn(move || {
        http_request(
            &addr,
            "GET",
            &target,
            &[("X-Multi", "1"), ("X-Multi", "2")],
            b"",
        )
    })
}

#[test]
fn v1_front_door_round_trip() {
    let (api, door) = front_door(EventFormat::V1);
    let client = request_in_background(&door, "/items/7?tag=a&tag=b&q=hello%20world");
    let (id, event) = next_invocation(&api.addr().to_string());
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["path"], "/items/7");
    assert_eq!(event["requestContext"]["httpMethod"], "GET");
    assert_eq!(event["requestContext"]["requestId"], id.as_str());
    assert_eq!(
        event["multiValueQueryStringParameters"]["tag"],
        json!(["a", "b"])
    );
    assert_eq!(event["queryStringParameters"]["q"], "hello world");
    assert_eq!(event["multiValueHeaders"]["X-Multi"], json!(["1", "2"]));
    post_response(
        &api.addr().to_string(),
        &id,
        &json!({"statusCode": 418, "headers": {"x-one": "1"}, "multiValueHeaders": {"x-two": ["a", "b"]}, "body": "teapot", "isBase64Encoded": false}),
    );
    let (status, headers, body) = client.join().unwrap();
    assert_eq!(status, 418);
    assert_eq!(body, b"teapot");
    assert!(headers.contains(&("x-one".into(), "1".into())));
    let two: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n == "x-two")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(two, ["a", "b"]);
}

#[test]
fn alb_front_door_round_trip() {
    let (api, door) = front_door(EventFormat::Alb);
    let client = request_in_background(&door, "/lb?key=a%20b");
    let (id, event) = next_invocation(&api.addr().to_string());
    assert!(
        event["requestContext"]["elb"]["targetGroupArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:elasticloadbalancing:")
    );
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["path"], "/lb");
    assert_eq!(event["queryStringParameters"]["key"], "a%20b");
    // Multi-value headers off: ALB passes the last value of a repeated header.
    assert_eq!(event["headers"]["x-multi"], "2");
    assert!(event.get("multiValueHeaders").is_none(), "{event}");
    post_response(
        &api.addr().to_string(),
        &id,
        &json!({"statusCode": 200, "statusDescription": "200 OK", "headers": {"content-type": "application/octet-stream"}, "body": b64encode(&[1, 2, 255]), "isBase64Encoded": true}),
    );
    let (status, _, body) = client.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, [1, 2, 255]);
}

/// Posts a streamed response by hand: head and the given chunks, pausing where `None` is.
fn start_stream_post(api: &str, id: &str) -> TcpStream {
    let mut stream = TcpStream::connect(api).unwrap();
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: {api}\r\nlambda-runtime-function-response-mode: streaming\r\ntransfer-encoding: chunked\r\ncontent-type: application/vnd.awslambda.http-integration-response\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

fn write_chunk(stream: &mut TcpStream, data: &[u8]) {
    stream
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .unwrap();
    stream.write_all(data).unwrap();
    stream.write_all(b"\r\n").unwrap();
    stream.flush().unwrap();
}

/// Reads from `client` until `needle` has arrived (bounded).
fn read_until_contains(client: &mut TcpStream, seen: &mut Vec<u8>, needle: &[u8]) {
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        assert!(
            Instant::now() < until,
            "never received {:?}; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(seen)
        );
        match client.read(&mut buf) {
            Ok(0) => panic!(
                "the connection closed before {:?}",
                String::from_utf8_lossy(needle)
            ),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn streamed_responses_are_relayed_as_they_arrive() {
    let (api, door) = front_door(EventFormat::FunctionUrl);
    let api_addr = api.addr().to_string();
    let mut client = TcpStream::connect(door.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    client
        .write_all(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();

    let (id, _) = next_invocation(&api_addr);
    let mut post = start_stream_post(&api_addr, &id);
    let mut first =
        br#"{"statusCode":201,"headers":{"x-streamed":"yes"},"cookies":["s=1"]}"#.to_vec();
    first.extend_from_slice(&[0u8; 8]);
    first.extend_from_slice(b"first part;");
    write_chunk(&mut post, &first);

    // The first part reaches the client while the function is still streaming.
    let mut seen = Vec::new();
    read_until_contains(&mut client, &mut seen, b"first part;");
    write_chunk(&mut post, b"second part");
    post.write_all(b"0\r\n\r\n").unwrap();
    read_until_contains(&mut client, &mut seen, b"0\r\n\r\n");

    let (status, headers, body) = parse_response(&seen);
    assert_eq!(status, 201);
    assert_eq!(body, b"first part;second part");
    assert!(headers.contains(&("x-streamed".into(), "yes".into())));
    assert!(headers.contains(&("set-cookie".into(), "s=1".into())));
}

#[test]
fn an_http_1_0_client_gets_a_streamed_answer_whole() {
    // HTTP/1.0 has no chunked framing: the front door sends the stream once it has ended,
    // with its length.
    let (api, door) = front_door(EventFormat::FunctionUrl);
    let api_addr = api.addr().to_string();
    let mut client = TcpStream::connect(door.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"GET /old HTTP/1.0\r\n\r\n").unwrap();
    let (id, _) = next_invocation(&api_addr);
    let mut post = start_stream_post(&api_addr, &id);
    let mut first = br#"{"statusCode":200,"headers":{"x-old":"yes"}}"#.to_vec();
    first.extend_from_slice(&[0u8; 8]);
    first.extend_from_slice(b"one,");
    write_chunk(&mut post, &first);
    write_chunk(&mut post, b"two");
    post.write_all(b"0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    client.read_to_end(&mut raw).unwrap();
    let (status, headers, body) = parse_response(&raw);
    assert_eq!(status, 200);
    assert_eq!(body, b"one,two");
    assert!(headers.contains(&("content-length".into(), "7".into())));
    assert!(headers.contains(&("x-old".into(), "yes".into())));
    assert!(!headers.iter().any(|(n, _)| n == "transfer-encoding"));
}

#[test]
fn a_stream_that_fails_midway_is_cut_off_for_the_client() {
    let (api, door) = front_door(EventFormat::FunctionUrl);
    let api_addr = api.addr().to_string();
    let mut client = TcpStream::connect(door.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    client
        .write_all(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();

    let (id, _) = next_invocation(&api_addr);
    let mut post = start_stream_post(&api_addr, &id);
    let mut first = br#"{"statusCode":200}"#.to_vec();
    first.extend_from_slice(&[0u8; 8]);
    first.extend_from_slice(b"partial");
    write_chunk(&mut post, &first);
    // The adapter reports a mid-stream failure with trailers after the last chunk.
    post.write_all(b"0\r\nLambda-Runtime-Function-Error-Type: App.ConnectionClosed\r\nLambda-Runtime-Function-Error-Body: YnJva2Vu\r\n\r\n").unwrap();
    post.flush().unwrap();

    // The client gets the head and the part that arrived, then a framing error: it must not
    // be able to take the truncated body for a complete one.
    let mut seen = Vec::new();
    read_until_contains(&mut client, &mut seen, b"partial\r\n");
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"\r\n") || seen.ends_with(b"partial\r\n") {
        assert!(
            Instant::now() < until,
            "nothing after the partial body: {:?}",
            String::from_utf8_lossy(&seen)
        );
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body_start = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let decoded = std::panic::catch_unwind(|| dechunk(&seen[body_start..]));
    assert!(
        decoded.is_err(),
        "a failed stream decoded as a complete body: {text:?}"
    );
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "a failed stream was delivered as complete: {text:?}"
    );
}

#[test]
fn stream_error_trailers_are_reported_with_the_post() {
    let api = RuntimeApi::start("127.0.0.1:0").unwrap();
    let api_addr = api.addr().to_string();
    let pending = api.submit(b"{}".to_vec(), InvokeOptions::default());
    let (id, _) = next_invocation(&api_addr);
    let mut post = start_stream_post(&api_addr, &id);
    let mut first = br#"{"statusCode":200}"#.to_vec();
    first.extend_from_slice(&[0u8; 8]);
    first.extend_from_slice(b"partial");
    write_chunk(&mut post, &first);
    // "broken" in base64, as the Runtime API expects the error body.
    post.write_all(b"0\r\nLambda-Runtime-Function-Error-Type: App.ConnectionClosed\r\nLambda-Runtime-Function-Error-Body: YnJva2Vu\r\n\r\n").unwrap();
    post.flush().unwrap();

    let posted = pending.wait().unwrap();
    assert_eq!(posted.kind, PostKind::Streamed);
    assert_eq!(posted.stream_parts().unwrap().1, b"partial");
    let failure = posted
        .stream_failure
        .expect("the error trailers are reported");
    assert!(
        failure.contains("App.ConnectionClosed") && failure.contains("broken"),
        "{failure}"
    );
}
