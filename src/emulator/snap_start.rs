//! Lambda SnapStart, played locally (`lambda-emulator --snap-start`), so a function's hooks
//! can be tried before it is deployed.
//!
//! The Runtime API's SnapStart endpoints:
//!
//! - `GET /2018-06-01/runtime/restore/next`: the runtime is ready for the snapshot. The
//!   emulator "takes" it, then "restores" it: every connection the Runtime and Extensions API
//!   has open is closed from its side, as a restored environment finds every connection from
//!   before the snapshot dead (the extension's `event/next` long poll included), and the call
//!   is answered (`200`, then that connection is closed too). The app's connections are the
//!   adapter's to drop: the emulator cannot reach them.
//! - `POST /2018-06-01/runtime/restore/error`: the runtime could not prepare the restored
//!   environment; recorded and printed, as Lambda would fail the restore with it.
//!
//! Without `--snap-start`, `/restore/next` answers `403`, as Lambda does for a function that is
//! not a SnapStart version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::invocations::{Invocations, InvokeError};
use super::runtime_http::{ConnectionBreaker, Exchange};

const RESTORE_NEXT: &str = "/2018-06-01/runtime/restore/next";
const RESTORE_ERROR: &str = "/2018-06-01/runtime/restore/error";

/// A restore error as the runtime reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError {
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    pub body: String,
}

/// What happened so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Snapshots taken (calls of `/restore/next`).
    pub snapshots: usize,
    /// Runtime and Extensions API connections closed by restores.
    pub connections_broken: usize,
    pub restore_errors: Vec<RestoreError>,
}

/// The SnapStart part of the emulator's Runtime API.
#[derive(Default)]
pub struct SnapStart {
    enabled: AtomicBool,
    breaker: OnceLock<ConnectionBreaker>,
    /// Ended when the restore fails, as a failed init ends them.
    invocations: OnceLock<Arc<Invocations>>,
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl SnapStart {
    /// Plays the lifecycle from now on: the function is a SnapStart version.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Gives the lifecycle the server's connections to break, and the invocations a failed
    /// restore ends.
    pub(super) fn attach(&self, breaker: ConnectionBreaker, invocations: Arc<Invocations>) {
        let _ = self.breaker.set(breaker);
        let _ = self.invocations.set(invocations);
    }

    pub fn progress(&self) -> Progress {
        self.lock().clone()
    }

    /// Waits (at most `limit`) until `done` holds for the progress; returns it either way.
    pub fn wait_until(&self, limit: Duration, done: impl Fn(&Progress) -> bool) -> Progress {
        let until = Instant::now() + limit;
        let mut progress = self.lock();
        while !done(&progress) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            progress = match self.changed.wait_timeout(progress, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        progress.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Serves `/runtime/restore/*`; `false` when `path` is not one of its endpoints.
    pub fn route(&self, ex: &mut Exchange<'_>, method: &str, path: &str) -> bool {
        match (method, path) {
            ("GET", RESTORE_NEXT) => self.restore_next(ex),
            ("POST", RESTORE_ERROR) => self.restore_error(ex),
            _ => return false,
        }
        true
    }

    fn restore_next(&self, ex: &mut Exchange<'_>) {
        if !self.is_enabled() {
            answer(
                ex,
                403,
                r#"{"errorType":"InvalidStateTransition","errorMessage":"not a SnapStart function: run lambda-emulator with --snap-start (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)"}"#,
            );
            return;
        }
        eprintln!("lambda-emulator: SnapStart: the runtime is ready; snapshot taken");
        let broken = self
            .breaker
            .get()
            .map_or(0, |breaker| breaker.break_all_except(ex.peer()));
        eprintln!(
            "lambda-emulator: SnapStart: restored; {broken} Runtime/Extensions API connection(s) from before the snapshot closed"
        );
        // Opened before the snapshot too: closed once answered.
        ex.close_after();
        if let Err(e) = ex.respond(200, &[], b"") {
            eprintln!("lambda-emulator: could not answer /restore/next: {e}");
        }
        self.update(|p| {
            p.snapshots += 1;
            p.connections_broken += broken;
        });
    }

    fn restore_error(&self, ex: &mut Exchange<'_>) {
        let body =
            String::from_utf8_lossy(&ex.body_to_vec(1 << 20).unwrap_or_default()).into_owned();
        let error_type = ex
            .header("Lambda-Runtime-Function-Error-Type")
            .map(str::to_string);
        eprintln!(
            "lambda-emulator: SnapStart: the restore failed ({}): {body}",
            error_type.as_deref().unwrap_or("no error type")
        );
        answer(ex, 202, r#"{"status":"OK"}"#);
        if let Some(invocations) = self.invocations.get() {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json["errorMessage"].as_str().map(str::to_string))
                .unwrap_or_else(|| body.clone());
            invocations.fail(InvokeError::InitFailed {
                error_type: error_type.clone().unwrap_or_else(|| "Unknown".into()),
                message,
            });
        }
        self.update(|p| p.restore_errors.push(RestoreError { error_type, body }));
    }
}

fn answer(ex: &mut Exchange<'_>, status: u16, body: &str) {
    if let Err(e) = ex.respond(
        status,
        &[("content-type", "application/json")],
        body.as_bytes(),
    ) {
        eprintln!("lambda-emulator: could not answer {}: {e}", ex.path());
    }
}
