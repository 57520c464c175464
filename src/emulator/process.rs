//! The adapter and the app as child processes.
//!
//! Each child runs in its own process group, so stopping it also stops what it started (an
//! app's `run.sh` starting python, say). A small `sh` watchdog, in a group of its own too,
//! holds the read end of a pipe from the emulator: when the emulator ends for any reason
//! (exit, Ctrl-C, SIGTERM, even SIGKILL) the pipe closes and the watchdog stops both groups.
//! That needs no signal handler, so no unsafe code.
//!
//! While the emulator runs, a [`Supervisor`] thread watches both: when either exits, the
//! emulator is told at once (so no invocation waits for a function that is gone) and the other
//! is stopped too. The shutdown phase (`shutdown.rs`) runs on that thread, through
//! [`Supervisor::stop_with`], so a child it ends is not taken for one that failed.

use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How long stopped children get to exit on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often the supervisor looks whether a child has exited.
const WATCH_INTERVAL: Duration = Duration::from_millis(50);

// CONT after TERM: a child frozen between invocations (freeze.rs) handles TERM only then.
const WATCHDOG: &str = r#"read -r _ ; for g in "$@"; do kill -s TERM -- "-$g" 2>/dev/null; kill -s CONT -- "-$g" 2>/dev/null; done; sleep 2; for g in "$@"; do kill -s KILL -- "-$g" 2>/dev/null; done; exit 0"#;

/// The function's defaults the adapter expects Lambda to set; the emulator's own environment
/// overrides them.
pub const FUNCTION_DEFAULTS: [(&str, &str); 3] = [
    ("AWS_LAMBDA_FUNCTION_NAME", "emulated-function"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
];

/// Where the adapter's and the app's standard output go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildOutput {
    /// The emulator's own stdout: their logs show in the terminal beside the front door's.
    Inherit,
    /// The emulator's stderr, so that its stdout carries nothing but an `--invoke` result.
    Stderr,
}

/// The running adapter and app; both are stopped when this is dropped.
pub struct Children {
    pub adapter: Child,
    pub app: Child,
    watchdog: Option<(Child, ChildStdin)>,
    stopped: bool,
}

fn command(program: &str, args: &[String], runtime_api: &str, output: ChildOutput) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .process_group(0);
    if output == ChildOutput::Stderr {
        command.stdout(std::io::stderr());
    }
    for (name, value) in FUNCTION_DEFAULTS {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    command
}

/// Starts the adapter (first, as Lambda starts extensions before the runtime), then the app.
/// Both inherit the emulator's environment, so every `AWS_LWA_*` / `AWS_LAMBDA_*` passes through.
pub fn spawn(
    adapter: &Path,
    runtime_api: &str,
    app: &[String],
    output: ChildOutput,
) -> Result<Children, String> {
    spawn_with_env(adapter, runtime_api, app, output, &[])
}

/// [`spawn`], with `env` set for both children on top of the emulator's environment (as
/// Lambda sets `AWS_LAMBDA_INITIALIZATION_TYPE` for every process of the function).
pub fn spawn_with_env(
    adapter: &Path,
    runtime_api: &str,
    app: &[String],
    output: ChildOutput,
    env: &[(&str, &str)],
) -> Result<Children, String> {
    let Some((program, args)) = app.split_first() else {
        return Err("no app command given (after --)".to_string());
    };
    let adapter_path = adapter.to_string_lossy().to_string();
    let mut adapter = command(&adapter_path, &[], runtime_api, output).envs(env.iter().copied()).spawn().map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!("the adapter {adapter_path} does not exist; build it with `cargo build` or pass --adapter"),
        _ => format!("cannot start the adapter {adapter_path}: {e}"),
    })?;
    let app = match command(program, args, runtime_api, output)
        .envs(env.iter().copied())
        .spawn()
    {
        Ok(app) => app,
        Err(e) => {
            let _ = adapter.kill();
            let _ = adapter.wait();
            return Err(format!("cannot start the app {program:?}: {e}"));
        }
    };
    let mut children = Children {
        adapter,
        app,
        watchdog: None,
        stopped: false,
    };
    let groups = [
        children.adapter.id().to_string(),
        children.app.id().to_string(),
    ];
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("lambda-emulator-watchdog")
        .args(groups)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match watchdog {
        Ok(mut watchdog) => {
            if let Some(stdin) = watchdog.stdin.take() {
                children.watchdog = Some((watchdog, stdin));
            }
        }
        // Without it the children are still stopped on a normal exit (Drop).
        Err(e) => eprintln!(
            "lambda-emulator: cannot start the watchdog (children may outlive a killed emulator): {e}"
        ),
    }
    Ok(children)
}

impl Children {
    /// Which child has exited, if any, with its status.
    pub fn exited(&mut self) -> Option<String> {
        if let Ok(Some(status)) = self.adapter.try_wait() {
            return Some(format!("the adapter exited ({status})"));
        }
        if let Ok(Some(status)) = self.app.try_wait() {
            return Some(format!("the app exited ({status})"));
        }
        None
    }

    /// Stops both process groups: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        // Once only: the group ids may belong to other processes after the children are reaped.
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let groups = [self.adapter.id(), self.app.id()];
        signal_groups("TERM", &groups);
        // A child frozen between invocations (freeze.rs) handles TERM only once thawed.
        signal_groups("CONT", &groups);
        let until = Instant::now() + STOP_GRACE;
        while Instant::now() < until {
            let adapter_done = matches!(self.adapter.try_wait(), Ok(Some(_)) | Err(_));
            let app_done = matches!(self.app.try_wait(), Ok(Some(_)) | Err(_));
            if adapter_done && app_done {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_groups("KILL", &groups);
        let _ = self.adapter.kill();
        let _ = self.app.kill();
        let _ = self.adapter.wait();
        let _ = self.app.wait();
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Sends `signal` (a name such as `TERM`) to every process of each group, with the system's
/// `kill` (std has no signal call and this crate has no unsafe code). False when `kill` could
/// not run or reported that no group took the signal.
pub fn signal_groups(signal: &str, groups: &[u32]) -> bool {
    if groups.is_empty() {
        return true;
    }
    let mut kill = Command::new("kill");
    kill.arg("-s").arg(signal).arg("--");
    for group in groups {
        kill.arg(format!("-{group}"));
    }
    kill.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Sends `signal` to the one process `pid` (not its group).
pub fn signal_process(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the supervisor ends the children when told to: a shutdown sequence run on them before
/// the plain [`Children::stop`].
type Ending = Box<dyn FnOnce(&mut Children) + Send>;

/// Watches the adapter and the app on a thread of its own. When one exits, `on_exit` hears why
/// (which one, with its exit status) and both are stopped; [`Supervisor::stop`],
/// [`Supervisor::stop_with`] (or dropping it) stop them otherwise.
pub struct Supervisor {
    stop: Option<Sender<Ending>>,
    exited: Receiver<String>,
    thread: Option<JoinHandle<()>>,
}

impl Supervisor {
    pub fn start(
        mut children: Children,
        on_exit: impl FnOnce(&str) + Send + 'static,
    ) -> Result<Supervisor, String> {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<Ending>(1);
        let (exited_tx, exited_rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("supervisor".into())
            .spawn(move || {
                // Until told to stop (an ending to run, or the sender dropped). While an
                // ending runs nothing watches: the exits it causes are no failure.
                loop {
                    match stop_rx.recv_timeout(WATCH_INTERVAL) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(ending) => {
                            ending(&mut children);
                            break;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if let Some(reason) = children.exited() {
                        on_exit(&reason);
                        children.stop();
                        let _ = exited_tx.send(reason);
                        return;
                    }
                }
                children.stop();
            })
            .map_err(|e| format!("cannot start the supervisor thread: {e}"))?;
        Ok(Supervisor {
            stop: Some(stop_tx),
            exited: exited_rx,
            thread: Some(thread),
        })
    }

    /// Waits at most `limit` for the adapter or the app to exit (both are stopped by then);
    /// why, once one did. Told once: later calls wait out their limit.
    pub fn exit_within(&self, limit: Duration) -> Option<String> {
        match self.exited.recv_timeout(limit) {
            Ok(reason) => Some(reason),
            Err(RecvTimeoutError::Timeout) => None,
            // Stopped on purpose (the thread ended without an exit to tell): nothing to wait for.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(limit);
                None
            }
        }
    }

    /// Stops the adapter and the app (if still running) and waits until they are gone.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        self.join();
    }

    /// Runs `ending` on the children (the shutdown phase), then stops what is left, and waits
    /// until they are gone. Nothing is run if a child exited first: both are stopped already.
    pub fn stop_with(&mut self, ending: impl FnOnce(&mut Children) + Send + 'static) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Box::new(ending));
        }
        self.join();
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}
