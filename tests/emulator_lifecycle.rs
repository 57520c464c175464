//! `lambda-emulator` as Lambda's lifecycle: the adapter and the app frozen between invocations
//! (an idle keep-alive timeout fires only at the thaw, and the adapter's look before reuse
//! finds the connection closed; work after the response is frozen mid-way unless the idle
//! check holds `/next`), and Lambda's shutdown phase on `--max-idle` and on Ctrl-C (`SIGTERM`
//! to the app, which may log its last line, `SHUTDOWN` to an extension registered for it,
//! `SIGKILL` after 300 ms). Everything runs through the real binaries, with
//! tests/apps/lifecycle_app.py as the app.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ADAPTER, collect, free_port, http_request};
use serde_json::Value;

const EMULATOR: &str = env!("CARGO_BIN_EXE_lambda-emulator");
const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps/lifecycle_app.py");

/// The emulator with the test app behind its front door; stdout (the app's and the
/// adapter's lines) and stderr (the emulator's) collected. Killed on Drop.
struct Emulator {
    child: Child,
    listen: String,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

/// The complete lines collected from a pipe so far.
fn lines_of(collected: &Mutex<Vec<u8>>) -> Vec<String> {
    let bytes = collected.lock().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_string).collect()
}

impl Emulator {
    fn start(options: &[&str], env: &[(&str, &str)]) -> Emulator {
        let emulator = Emulator::spawn(options, env);
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&emulator.listen).is_err() {
            assert!(Instant::now() < until, "no front door:\n{}", emulator.all());
            std::thread::sleep(Duration::from_millis(20));
        }
        emulator
    }

    /// Started, without waiting for the front door (there is none with `--invoke`).
    fn spawn(options: &[&str], env: &[(&str, &str)]) -> Emulator {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(EMULATOR)
            .args(["--runtime-api", &format!("127.0.0.1:{}", free_port())])
            .args(["--listen", &listen, "--adapter", ADAPTER, "--timeout", "10"])
            .args(options)
            .args(["--", "python3", APP])
            .env("AWS_LWA_PORT", free_port().to_string())
            .env("AWS_LAMBDA_LOG_LEVEL", "debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (Arc::default(), Arc::default());
        collect(child.stdout.take().unwrap(), Arc::clone(&out));
        collect(child.stderr.take().unwrap(), Arc::clone(&err));
        Emulator {
            child,
            listen,
            out,
            err,
        }
    }

    fn err(&self) -> Vec<String> {
        lines_of(&self.err)
    }

    fn out(&self) -> Vec<String> {
        lines_of(&self.out)
    }

    fn all(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.out().join("\n"),
            self.err().join("\n")
        )
    }

    fn has(&self, text: &str) -> bool {
        self.out().iter().any(|l| l.contains(text))
    }

    /// Waits (bounded) until stdout has a line containing `text`.
    fn wait_for(&self, text: &str) {
        let until = Instant::now() + Duration::from_secs(15);
        while !self.has(text) {
            assert!(Instant::now() < until, "no {text:?} line:\n{}", self.all());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn get(&self, target: &str) -> (u16, Value) {
        let (status, _, body) = http_request(&self.listen, "GET", target, &[], b"");
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, json)
    }

    /// Waits (bounded) for the emulator to exit on its own.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the pipes drain into the collected lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < until, "still running:\n{}", self.all());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn position(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no {text:?} in:\n{}", lines.join("\n")))
}

#[test]
fn an_idle_keep_alive_timeout_fires_at_the_thaw_and_the_adapter_takes_a_new_connection() {
    let emulator = Emulator::start(&[], &[("KEEP_ALIVE_TIMEOUT", "0.5")]);
    let (status, first) = emulator.get("/hello");
    assert_eq!(status, 200, "{}", emulator.all());
    let mut connection = first["connection"].as_u64().unwrap();

    // At the thaw the app's timer and the adapter's request race, as on Lambda. The app thaws
    // first, so it nearly always closes the connection before the adapter looks at it again:
    // the look before reuse finds it closed, and the request goes on a new connection. A
    // loaded machine may let the request in first (the app then serves it on the old
    // connection), or, in the instant between the adapter's look and its request, let the app
    // close a connection the request was already written to: the app may have read it, so it
    // is not sent twice and the invocation ends with App.ConnectionClosed (DECISIONS 19).
    // One round must show the closed connection found and replaced; no other failure.
    let mut rounds = 0;
    loop {
        rounds += 1;
        // Frozen for four times the app's keep-alive timeout: the timer cannot fire meanwhile.
        std::thread::sleep(Duration::from_secs(2));
        let timed_out = format!("connection {connection}: Request timed out");
        assert!(
            !emulator.has(&timed_out),
            "the app ran while frozen:\n{}",
            emulator.all()
        );
        let (status, next) = emulator.get("/hello");
        if status == 502 && next["errorType"] == "App.ConnectionClosed" {
            assert!(
                rounds < 3,
                "the race went the rare way every time:\n{}",
                emulator.all()
            );
            // The next round starts on a new connection; learn its number from a fresh request.
            let (status, fresh) = emulator.get("/hello");
            assert_eq!(status, 200, "{}", emulator.all());
            connection = fresh["connection"].as_u64().unwrap();
            continue;
        }
        assert_eq!(status, 200, "{}", emulator.all());
        let next_connection = next["connection"].as_u64().unwrap();
        if next_connection != connection {
            // The app closed the idle connection at the thaw; the adapter saw it closed before
            // sending, and the caller never saw it.
            emulator.wait_for(&timed_out);
            assert_eq!(next["request"], 1, "served on a new connection");
            emulator.wait_for("the kept app connection was closed or had unexpected bytes");
            break;
        }
        assert!(
            rounds < 3,
            "the stale connection was never hit:\n{}",
            emulator.all()
        );
        connection = next_connection;
    }
}

#[test]
fn without_freezing_the_keep_alive_timeout_fires_while_idle() {
    let emulator = Emulator::start(&["--no-freeze"], &[("KEEP_ALIVE_TIMEOUT", "0.5")]);
    assert_eq!(emulator.get("/hello").0, 200, "{}", emulator.all());
    emulator.wait_for("Request timed out");
    assert_eq!(emulator.get("/hello").0, 200);
}

#[test]
fn work_after_the_response_finishes_before_the_freeze_with_the_idle_check() {
    let emulator = Emulator::start(&[], &[("AWS_LWA_IDLE_CHECK_PATH", "/idle")]);
    let (status, body) = emulator.get("/work?ms=1000&steps=5");
    assert_eq!(status, 202, "{}", emulator.all());
    assert_eq!(body["work"], 1);
    assert!(
        !emulator.has("work 1 done"),
        "the response waited for the work"
    );
    // No further invocation: only the idle check keeps the environment thawed.
    emulator.wait_for("work 1 done");
    let out = emulator.out();
    assert!(position(&out, "work 1 step 5/5") < position(&out, "work 1 done"));
}

#[test]
fn work_after_the_response_is_frozen_mid_way_without_the_idle_check() {
    let emulator = Emulator::start(&[], &[]);
    let (status, _) = emulator.get("/work?ms=1000&steps=5");
    assert_eq!(status, 202, "{}", emulator.all());
    // Twice as long as the work needs: still not done, because it is frozen.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !emulator.has("work 1 done"),
        "the work ran on after the response:\n{}",
        emulator.all()
    );
    // The next invocation thaws the environment, and the work goes on from where it stopped
    // while that invocation runs.
    assert_eq!(emulator.get("/sleep?ms=1500").0, 200);
    emulator.wait_for("work 1 done");
}

#[test]
fn max_idle_shuts_down_as_lambda_does_and_the_app_logs_its_last_line() {
    let mut emulator = Emulator::start(&["--max-idle", "1"], &[("WITH_EXTENSION", "1")]);
    emulator.wait_for("extension: registered for SHUTDOWN");
    assert_eq!(emulator.get("/hello").0, 200, "{}", emulator.all());
    let status = emulator.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status}\n{}", emulator.all());
    let out = emulator.out();
    let sigterm = position(&out, "app: SIGTERM received");
    let goodbye = position(&out, "app: goodbye");
    let shutdown = position(&out, "extension: SHUTDOWN reason=spindown");
    assert!(
        sigterm < goodbye && goodbye < shutdown,
        "SIGTERM to the app first, then SHUTDOWN to the extension:\n{}",
        out.join("\n")
    );
    let err = emulator.err().join("\n");
    assert!(err.contains("(--max-idle)"), "{err}");
    assert!(err.contains("the app exited"), "{err}");
}

#[test]
fn ctrl_c_shuts_down_as_lambda_does_and_a_slow_sigterm_handler_is_killed_at_300_ms() {
    let mut emulator = Emulator::start(&[], &[("SIGTERM_DELAY_MS", "1500")]);
    assert_eq!(emulator.get("/hello").0, 200, "{}", emulator.all());
    emulator.signal("INT");
    let status = emulator.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(130), "{}", emulator.all());
    assert!(emulator.has("app: SIGTERM received"), "{}", emulator.all());
    assert!(
        !emulator.has("app: goodbye"),
        "a handler that takes 1.5 s ran to its end:\n{}",
        emulator.all()
    );
    let err = emulator.err().join("\n");
    assert!(err.contains("shutting down (Ctrl-C)"), "{err}");
    assert!(
        err.contains("did not exit within 300 ms of SIGTERM"),
        "{err}"
    );
}

#[test]
fn sigterm_to_a_frozen_emulator_thaws_and_the_app_says_goodbye() {
    let mut emulator = Emulator::start(&[], &[]);
    assert_eq!(emulator.get("/hello").0, 200, "{}", emulator.all());
    std::thread::sleep(Duration::from_millis(300));
    emulator.signal("TERM");
    let status = emulator.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(143), "{}", emulator.all());
    emulator.wait_for("app: goodbye");
}

#[test]
fn a_request_in_flight_at_ctrl_c_is_answered_503_and_the_shutdown_goes_on() {
    let mut emulator = Emulator::start(&[], &[]);
    let listen = emulator.listen.clone();
    let client =
        std::thread::spawn(move || http_request(&listen, "GET", "/sleep?ms=5000", &[], b""));
    let until = Instant::now() + Duration::from_secs(10);
    while !emulator.has("target=/sleep") {
        assert!(
            Instant::now() < until,
            "/sleep never sent:\n{}",
            emulator.all()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let asked = Instant::now();
    emulator.signal("INT");
    let (status, _, body) = client.join().unwrap();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("the emulator shut down"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "answered at once, not when the app was done"
    );
    let status = emulator.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(130), "{}", emulator.all());
    assert!(emulator.has("app: goodbye"), "{}", emulator.all());
}

/// `--invoke` prints the answer at once, then waits until the adapter asks for its next event
/// (here: once the idle check says the work after the response is done), then runs the
/// shutdown phase; the app exiting on `SIGTERM` there is no failure (exit 0, not 3).
#[test]
fn invoke_waits_for_the_work_after_the_response_then_shuts_down_with_its_exit_status() {
    let dir = std::env::temp_dir().join(format!("lifecycle-invoke-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("event.json");
    let json = common::v2_event("GET", "/work", "ms=1000&steps=4");
    std::fs::write(&event, json.to_string()).unwrap();
    let mut emulator = Emulator::spawn(
        &["--invoke", event.to_str().unwrap()],
        &[("AWS_LWA_IDLE_CHECK_PATH", "/idle")],
    );
    let status = emulator.wait_exit(Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(0), "{}", emulator.all());
    let answer: Value = serde_json::from_str(&emulator.out().join("\n")).unwrap();
    assert_eq!(answer["statusCode"], 202, "{}", emulator.all());
    // With --invoke the app's lines go to stderr, beside the emulator's own.
    let err = emulator.err();
    let done = position(&err, "work 1 done");
    let shutting_down = position(&err, "shutting down (the invocation is done)");
    let goodbye = position(&err, "app: goodbye");
    assert!(
        done < shutting_down && shutting_down < goodbye,
        "the work ran to its end before the shutdown phase:\n{}",
        err.join("\n")
    );
    assert!(
        !err.iter().any(|l| l.contains("no answer")),
        "{}",
        err.join("\n")
    );
}
