//! `lambda-emulator` as a newcomer meets it, through the real emulator and adapter binaries:
//! what it prints and how it exits when the configuration is refused, when the adapter or the
//! app exits, when the app never becomes ready or the function times out; the status and
//! headers of `--invoke` in both modes; debug logs; the two ALB target-group modes; and the
//! front door's keep-alive clients all being served.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const EMULATOR: &str = env!("CARGO_BIN_EXE_lambda-emulator");

/// A scratch directory, removed on Drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("lambda-emulator-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One run of the emulator binary with its stdout and stderr collected; killed on Drop.
struct Run {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Run {
    /// `lambda-emulator --runtime-api (free) --adapter ADAPTER ARGS -- APP`, with `env` added.
    fn start(args: &[&str], env: &[(&str, &str)], app: &[&str]) -> Run {
        Run::start_with_adapter(ADAPTER, args, env, app)
    }

    fn start_with_adapter(adapter: &str, args: &[&str], env: &[(&str, &str)], app: &[&str]) -> Run {
        let mut child = Command::new(EMULATOR)
            .args(["--runtime-api", &format!("127.0.0.1:{}", free_port())])
            .args(["--adapter", adapter])
            .args(args)
            .arg("--")
            .args(app)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdout, stderr) = (Arc::default(), Arc::default());
        let readers = vec![
            collect(child.stdout.take().unwrap(), Arc::clone(&stdout)),
            collect(child.stderr.take().unwrap(), Arc::clone(&stderr)),
        ];
        Run {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// The exit code, waiting at most `limit` (panics, with the output, if it is still running).
    fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    reader.join().unwrap();
                }
                return status.code();
            }
            assert!(
                Instant::now() < until,
                "the emulator still runs after {limit:?}\nstdout: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).to_string()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).to_string()
    }

    /// Waits (bounded) until the front door at `addr` accepts connections.
    fn wait_listening(&self, addr: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < until,
                "the front door never listened on {addr}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// An app command that writes its pid to `pid_file`, then sleeps.
fn sleeping_app(pid_file: &Path) -> Vec<String> {
    let script = format!("echo $$ > '{}'; exec sleep 600", pid_file.display());
    vec!["sh".into(), "-c".into(), script]
}

fn read_pid(pid_file: &Path, limit: Duration) -> Option<u32> {
    let until = Instant::now() + limit;
    loop {
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(pid);
        }
        if Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn args(app: &[String]) -> Vec<&str> {
    app.iter().map(String::as_str).collect()
}

#[test]
fn a_refused_configuration_ends_invoke_at_once_with_the_message_printed_once() {
    let scratch = Scratch::new("refused-invoke");
    let event = scratch.file("event.json", &v2_event("GET", "/", "").to_string());
    let pid_file = scratch.0.join("app.pid");
    let app = sleeping_app(&pid_file);
    let mut run = Run::start(
        &["--timeout", "3", "--invoke", &event],
        &[("AWS_LWA_PORT", "abc")],
        &args(&app),
    );
    // Not the queue wait (13 s here) nor the init limit: the init error ends it.
    assert_eq!(run.exit_code(Duration::from_secs(8)), Some(3));
    let stderr = run.stderr();
    assert_eq!(
        stderr.matches("invalid AWS_LWA_PORT").count(),
        1,
        "the adapter's message, once: {stderr}"
    );
    assert!(
        stderr.contains("Extension.ConfigInvalid"),
        "the emulator names the init error: {stderr}"
    );
    assert_eq!(run.stdout(), "", "no result on stdout");
    // The app (if it got to start before the init error) is stopped with the emulator.
    if let Some(pid) = read_pid(&pid_file, Duration::ZERO) {
        assert!(ended(pid), "the app (pid {pid}) outlived the emulator");
    }
}

#[test]
fn a_refused_configuration_ends_the_front_door_with_the_message_printed_once() {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut run = Run::start(
        &["--listen", &listen],
        &[("AWS_LWA_PORT", "abc")],
        &["sleep", "600"],
    );
    assert_eq!(run.exit_code(Duration::from_secs(8)), Some(3));
    let output = run.stdout() + &run.stderr();
    assert_eq!(
        output.matches("invalid AWS_LWA_PORT").count(),
        1,
        "the adapter's message, once: {output}"
    );
    assert!(
        output.contains("init failed with Extension.ConfigInvalid"),
        "{output}"
    );
}

#[test]
fn invoke_ends_when_the_adapter_exits_before_answering() {
    let scratch = Scratch::new("adapter-exits");
    let event = scratch.file("event.json", &v2_event("GET", "/", "").to_string());
    let adapter = scratch.file("adapter.sh", "#!/bin/sh\nsleep 0.3\nexit 7\n");
    let mut permissions = std::fs::metadata(&adapter).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&adapter, permissions).unwrap();
    let pid_file = scratch.0.join("app.pid");
    let app = sleeping_app(&pid_file);
    let mut run = Run::start_with_adapter(&adapter, &["--invoke", &event], &[], &args(&app));
    assert_eq!(run.exit_code(Duration::from_secs(8)), Some(3));
    let stderr = run.stderr();
    assert!(
        stderr.contains("the adapter exited (exit status: 7)"),
        "{stderr}"
    );
    let pid = read_pid(&pid_file, Duration::ZERO).expect("the app started (0.3 s before)");
    assert!(ended(pid), "the app (pid {pid}) outlived the emulator");
}

#[test]
fn a_request_in_flight_gets_502_when_the_app_exits() {
    let scratch = Scratch::new("app-exits");
    let pid_file = scratch.0.join("app.pid");
    let app_command = sleeping_app(&pid_file);
    // The stand-in app answers the readiness check, and keeps /slow waiting.
    let app = TestApp::start(|r| match r.target.as_str() {
        "/slow" => Reply::text("too late").delay(Duration::from_secs(20)),
        _ => Reply::text("ready"),
    });
    let listen = format!("127.0.0.1:{}", free_port());
    let port = app.port.to_string();
    let mut run = Run::start(
        &["--listen", &listen],
        &[("AWS_LWA_PORT", &port)],
        &args(&app_command),
    );
    run.wait_listening(&listen);
    let client = {
        let listen = listen.clone();
        std::thread::spawn(move || http_request(&listen, "GET", "/slow", &[], b""))
    };
    let until = Instant::now() + Duration::from_secs(15);
    while !app.requests().iter().any(|r| r.target == "/slow") {
        assert!(Instant::now() < until, "/slow never reached the app");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = read_pid(&pid_file, Duration::from_secs(5)).unwrap();
    let killed = Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());

    let (status, _, body) = client.join().unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("the app exited"), "{body}");
    assert_eq!(run.exit_code(Duration::from_secs(10)), Some(3));
    assert!(run.stderr().contains("the app exited"), "{}", run.stderr());
}

#[test]
fn an_app_that_never_becomes_ready_gets_504_with_the_reason() {
    let app_port = free_port().to_string(); // nothing listens there
    let listen = format!("127.0.0.1:{}", free_port());
    let run = Run::start(
        &["--listen", &listen, "--timeout", "1"],
        &[("AWS_LWA_PORT", &app_port)],
        &["sleep", "600"],
    );
    run.wait_listening(&listen);
    let started = Instant::now();
    let (status, headers, body) = http_request(&listen, "GET", "/", &[], b"");
    let waited = started.elapsed();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 504, "{body}");
    assert!(headers.contains(&("connection".into(), "close".into())));
    assert!(
        body.contains("never took the invocation") && body.contains("readiness check"),
        "{body}"
    );
    // Lambda's 10 s init limit plus the 1 s timeout, not forever.
    assert!(
        waited < Duration::from_secs(20),
        "answered after {waited:?}"
    );
    // The adapter's progress line says where it probes and what to check.
    let log = run.stdout();
    let line = log
        .lines()
        .find(|l| l.contains("app is not ready after 2000ms"))
        .unwrap_or_else(|| panic!("no progress line: {log}"));
    assert!(
        line.contains(&format!("url=http://127.0.0.1:{app_port}/"))
            && line.contains("AWS_LWA_PORT")
            && line.contains("AWS_LWA_READINESS_CHECK_PATH"),
        "{line}"
    );
}

/// `--invoke` of a GET `path` against the stand-in app; returns (exit code, stdout, stderr).
fn invoke(
    app: &TestApp,
    path: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let scratch = Scratch::new(&format!("invoke-{}", free_port()));
    let event = scratch.file("event.json", &v2_event("GET", path, "").to_string());
    let port = app.port.to_string();
    let mut all_env = vec![("AWS_LWA_PORT", port.as_str())];
    all_env.extend_from_slice(env);
    let mut command_args = vec!["--invoke", event.as_str()];
    command_args.extend_from_slice(extra);
    let mut run = Run::start(&command_args, &all_env, &["sleep", "600"]);
    let code = run.exit_code(Duration::from_secs(30)).unwrap_or(-1);
    (code, run.stdout(), run.stderr())
}

const STREAMING: (&str, &str) = ("AWS_LWA_INVOKE_MODE", "response_stream");

#[test]
fn invoke_shows_the_status_and_headers_in_both_modes() {
    let app = TestApp::start(|r| match r.target.as_str() {
        "/missing" => Reply::new(404, "text/plain", "not here").header("x-test", "yes"),
        _ => Reply::text("ready"),
    });
    let (code, stdout, stderr) = invoke(&app, "/missing", &[], &[]);
    assert_eq!(code, 0, "the function answered: {stderr}");
    assert!(
        stderr.contains("status 404 Not Found (buffered)"),
        "{stderr}"
    );
    assert!(stderr.contains("  x-test: yes"), "{stderr}");
    let response: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(response["statusCode"], 404);

    let (code, stdout, stderr) = invoke(&app, "/missing", &[], &[STREAMING]);
    assert_eq!(code, 0, "the function answered: {stderr}");
    assert!(
        stderr.contains("status 404 Not Found (streamed)"),
        "{stderr}"
    );
    assert!(stderr.contains("  x-test: yes"), "{stderr}");
    assert_eq!(stdout, "not here", "stdout is the body alone");

    for env in [&[][..], &[STREAMING][..]] {
        let (code, _, stderr) = invoke(&app, "/missing", &["--fail-on-status"], env);
        assert_eq!(code, 4, "{env:?}: {stderr}");
        let (code, _, stderr) = invoke(&app, "/", &["--fail-on-status"], env);
        assert_eq!(code, 0, "{env:?}: {stderr}");
    }
}

/// A raw app: `ready` to the readiness check, a body cut short on `/broken`.
fn start_breaking_app() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut stream = stream;
            let answer: &[u8] = if line.contains("/broken") {
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\npartial"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nready"
            };
            let _ = stream.write_all(answer);
            // Dropping the stream closes it: the /broken body ends 93 bytes short.
        }
    });
    (port, stop)
}

#[test]
fn invoke_exit_status_tells_a_failed_invocation_from_no_answer() {
    // A stream that breaks off is the function failing: 1.
    let (port, stop) = start_breaking_app();
    let scratch = Scratch::new("exit-status");
    let event = scratch.file("event.json", &v2_event("GET", "/broken", "").to_string());
    let port = port.to_string();
    let mut run = Run::start(
        &["--invoke", &event],
        &[("AWS_LWA_PORT", &port), STREAMING],
        &["sleep", "600"],
    );
    assert_eq!(
        run.exit_code(Duration::from_secs(30)),
        Some(1),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("the function failed"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stdout(), "partial", "what arrived before the break");
    stop.store(true, Ordering::SeqCst);

    // An app too slow for the deadline: the adapter reports App.Timeout, the function failed.
    let app = TestApp::start(|r| match r.target.as_str() {
        "/slow" => Reply::text("late").delay(Duration::from_secs(10)),
        _ => Reply::text("ready"),
    });
    for env in [&[][..], &[STREAMING][..]] {
        let (code, _, stderr) = invoke(&app, "/slow", &["--timeout", "1"], env);
        assert_eq!(code, 1, "{env:?}: {stderr}");
        assert!(stderr.contains("App.Timeout"), "{stderr}");
    }

    // No answer at all (the app never became ready, so the timeout passed): 3.
    let nobody = free_port().to_string();
    let mut run = Run::start(
        &["--invoke", &event, "--timeout", "1"],
        &[("AWS_LWA_PORT", &nobody)],
        &["sleep", "600"],
    );
    assert_eq!(run.exit_code(Duration::from_secs(25)), Some(3));
    assert!(
        run.stderr()
            .contains("no answer: Task timed out after 11.00 seconds"),
        "{}",
        run.stderr()
    );
}

#[test]
fn debug_logs_tell_the_adapters_story_and_dependencies_only_when_named() {
    let app = TestApp::start(|_| Reply::text("told"));
    let (code, _, stderr) = invoke(&app, "/story", &[], &[("AWS_LAMBDA_LOG_LEVEL", "debug")]);
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "DEBUG app is ready after",
        "sending request to app server source=HttpV2 method=GET target=/story",
        "responding to lambda event status=200",
        "invocation done in",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in: {stderr}");
    }
    for internal in ["Call<", "pool"] {
        assert!(!stderr.contains(internal), "{internal:?} in: {stderr}");
    }

    let (code, _, stderr) = invoke(
        &app,
        "/story",
        &[],
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "debug"),
            ("RUST_LOG", "ureq=debug"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Call<"),
        "ureq's lines when named: {stderr}"
    );
}

#[test]
fn alb_sources_emulate_both_target_group_modes() {
    let app = TestApp::start(|_| Reply::text("balanced"));
    for (source, target, values) in [
        ("alb", "/q?x=2", vec!["two"]),
        ("alb-multi", "/q?x=1&x=2", vec!["one", "two"]),
    ] {
        let listen = format!("127.0.0.1:{}", free_port());
        let port = app.port.to_string();
        let run = Run::start(
            &["--listen", &listen, "--source", source],
            &[("AWS_LWA_PORT", &port)],
            &["sleep", "600"],
        );
        run.wait_listening(&listen);
        let (status, _, body) = http_request(
            &listen,
            "GET",
            "/q?x=1&x=2",
            &[("X-Multi", "one"), ("X-Multi", "two")],
            b"",
        );
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"balanced"[..]),
            "{source}"
        );
        let requests = app.requests();
        let seen = requests
            .iter()
            .rev()
            .find(|r| r.target.starts_with("/q"))
            .unwrap();
        assert_eq!(seen.target, target, "{source}");
        assert_eq!(seen.headers_named("x-multi"), values, "{source}");
    }
}

#[test]
fn keep_alive_clients_connecting_at_once_are_all_answered() {
    const CLIENTS: usize = 8;
    // Whether a burst catches tiny_http's pool short depends on thread timing: a few fresh
    // front doors make it likely that a front door open to it shows it.
    const ROUNDS: usize = 4;
    let app = TestApp::start(|r| match r.target.as_str() {
        "/" => Reply::text("ready"),
        _ => Reply::text("answered").delay(Duration::from_millis(100)),
    });
    let port = app.port.to_string();
    let concurrency = CLIENTS.to_string();
    for round in 0..ROUNDS {
        let listen = format!("127.0.0.1:{}", free_port());
        let run = Run::start(
            &["--listen", &listen],
            &[
                ("AWS_LWA_PORT", &port),
                ("AWS_LAMBDA_MAX_CONCURRENCY", &concurrency),
            ],
            &["sleep", "600"],
        );
        run.wait_listening(&listen);
        // Every client connects at once (back to back), sends one keep-alive request, and
        // keeps its connection open (unless told to close) until all are answered: a front
        // door that queues a connection behind open ones leaves some unanswered here.
        let mut clients: Vec<BufReader<TcpStream>> = (0..CLIENTS)
            .map(|_| BufReader::new(TcpStream::connect(&listen).unwrap()))
            .collect();
        for (i, client) in clients.iter_mut().enumerate() {
            let stream = client.get_mut();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            write!(stream, "GET /client/{i} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        }
        let mut kept_open = Vec::new();
        for (i, mut client) in clients.into_iter().enumerate() {
            let mut head = String::new();
            let mut line = String::new();
            while line != "\r\n" {
                line.clear();
                let read = client.read_line(&mut line);
                assert!(
                    matches!(read, Ok(n) if n > 0),
                    "round {round}: client {i} got no answer: {read:?} {head:?}"
                );
                head.push_str(&line);
            }
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            // A client told to close does; the others stay open until the end.
            if !head.to_ascii_lowercase().contains("connection: close") {
                kept_open.push(client);
            }
        }
    }
}

#[test]
fn malformed_requests_are_refused_by_the_front_door() {
    let app = TestApp::start(|_| Reply::text("ready"));
    let listen = format!("127.0.0.1:{}", free_port());
    let port = app.port.to_string();
    let run = Run::start(
        &["--listen", &listen],
        &[("AWS_LWA_PORT", &port)],
        &["sleep", "600"],
    );
    run.wait_listening(&listen);
    let mut stream = TcpStream::connect(&listen).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"NOT AN HTTP REQUEST\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert!(
        !app.requests().iter().any(|r| r.target != "/"),
        "a malformed request reached the app"
    );
}

#[test]
fn help_documents_exit_statuses_sources_and_timing() {
    let output = Command::new(EMULATOR).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "alb-multi",
        "multi_value_headers.enabled",
        "Exit status of --invoke",
        "--fail-on-status",
        "504",
        "--no-freeze",
        "--max-idle",
        "exit 130 or 143",
    ] {
        assert!(help.contains(expected), "no {expected:?} in --help");
    }
}

#[test]
fn the_readme_shows_the_help_as_the_binary_prints_it() {
    let output = Command::new(EMULATOR).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = "`lambda-emulator --help`:\n\n```\n";
    let start = readme.find(marker).expect("the README shows the help") + marker.len();
    let block = &readme[start..];
    let block = &block[..block.find("```\n").unwrap()];
    assert_eq!(
        block, help,
        "README's --help block differs from the binary's"
    );
}
