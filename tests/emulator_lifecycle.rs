//! `lambda-emulator` as Lambda's lifecycle: the adapter and the app frozen between invocations
//! (an idle keep-alive timeout fires only at the thaw, and the adapter's stale-connection retry
//! handles it; work after the response is frozen mid-way unless the idle check holds `/next`),
//! and Lambda's shutdown phase on `--max-idle` and on Ctrl-C (`SIGTERM` to the app, which may
//! log its last line, `SHUTDOWN` to an extension registered for it, `SIGKILL` after 300 ms).
//! Everything runs through the real binaries, with tests/apps/lifecycle_app.py as the app.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ADAPTER, free_port, http_request};
use serde_json::Value;

const EMULATOR: &str = env!("CARGO_BIN_EXE_lambda-emulator");
const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps/lifecycle_app.py");

/// The emulator with the test app behind its front door; stdout (the app's and the
/// adapter's lines) and stderr (the emulator's) collected. Killed on Drop.
struct Emulator {
    child: Child,
    listen: String,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn collect(pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Emulator {
    fn start(options: &[&str], env: &[(&str, &str)]) -> Emulator {
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
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let emulator = Emulator {
            child,
            listen,
            out,
            err,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&emulator.listen).is_err() {
            assert!(Instant::now() < until, "no front door:\n{}", emulator.all());
            std::thread::sleep(Duration::from_millis(20));
        }
        emulator
    }

    fn out(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    fn all(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.out().join("\n"),
            self.err.lock().unwrap().join("\n")
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
fn an_idle_keep_alive_timeout_fires_at_the_thaw_and_the_adapter_retries_on_a_new_connection() {
    let emulator = Emulator::start(&[], &[("KEEP_ALIVE_TIMEOUT", "0.5")]);
    let (status, first) = emulator.get("/hello");
    assert_eq!(status, 200, "{}", emulator.all());
    let mut connection = first["connection"].as_u64().unwrap();

    // At the thaw the app's timer and the adapter's request race, as on Lambda; the app
    // thaws first, so it nearly always wins, but a loaded machine may let the request in
    // first. Every round must be answered; one must show the stale connection handled.
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
        assert_eq!(status, 200, "{}", emulator.all());
        let next_connection = next["connection"].as_u64().unwrap();
        if next_connection != connection {
            // The app closed the idle connection as the adapter sent on it; the adapter
            // retried once on a new connection, and the caller never saw it.
            emulator.wait_for(&timed_out);
            assert_eq!(next["request"], 1, "served on a new connection");
            emulator.wait_for("reused app connection failed before the response");
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
    let err = emulator.err.lock().unwrap().join("\n");
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
    let err = emulator.err.lock().unwrap().join("\n");
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
