//! Lambda SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): the adapter is the function's
//! runtime client, so it is the one that tells Lambda the environment may be snapshotted and
//! learns when it has been restored. The app, a separate process, learns both through two
//! optional HTTP hooks, as upstream's (LWA 1.1.0) do.
//!
//! What AWS documents, quoted:
//!
//! - "When using SnapStart with a container image function, the runtime needs to coordinate the
//!   function's lifecycle and invoke the before-snapshot and after-restore hooks during the
//!   appropriate lifecycle phases." (Implementing SnapStart hooks for container images.) Lambda
//!   refuses to publish such a version unless the runtime implements `/restore/next` (or the
//!   image carries the label `com.amazonaws.lambda.feature.snapstart="Allow"`).
//! - "Each phase starts with an event that Lambda sends to the runtime and to all registered
//!   extensions. The runtime and each extension indicate completion by sending a Next API
//!   request." (Lambda execution environment lifecycle.) For the snapshot, the runtime's "Next"
//!   is `GET /runtime/restore/next`; it is answered after the restore.
//! - "When Lambda creates a snapshot, your initialization code can run for up to 15 minutes.
//!   The time limit is 130 seconds or the configured function timeout (maximum 900 seconds),
//!   whichever is higher." and "If an after-restore runtime hook runs for longer than 10
//!   seconds, the Restore phase times out" (SnapStart runtime hooks; troubleshooting).
//!
//! The calls, in order (each failure is reported to Lambda and ends the process with a
//! non-zero exit, DECISIONS 29):
//!
//! 1. Readiness check, bounded by `AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS` when set. Not ready
//!    in time: `POST /extension/init/error` (`Extension.AppNotReady`).
//! 2. `POST {AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH}` to the app, empty body, 2xx required,
//!    at most 60 s. Failed: `POST /extension/init/error` (`Extension.SnapStartHookFailed`).
//! 3. `GET /extension/event/next` (the extension's init is done) and
//!    `GET /runtime/restore/next` (the runtime's): Lambda takes the snapshot, and answers
//!    `/restore/next` in the restored environment. A failed `/restore/next` is an init error of
//!    the runtime: `POST /runtime/init/error` (`Runtime.RestoreNextFailed`).
//! 4. Every connection opened before the snapshot is dead: the warm `/next` connection is
//!    never opened under SnapStart, the readiness checks and the hook close theirs, the
//!    `/restore/next` agent is dropped, and the workers (their `/next` client, their posting
//!    connection, their app connection) are only created now.
//! 5. `POST {AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH}` to the app, on a new connection, empty
//!    body, 2xx required, at most 60 s (Lambda's own limit is 10 s).
//! 6. Readiness check again, bounded as in 1 (an app whose health check depends on the
//!    connections the hook rebuilds is checked after it). A failure of 5 or 6:
//!    `POST /runtime/restore/error` (`Runtime.AfterRestoreHookFailed`, `Runtime.AppNotReady`).
//! 7. The workers start and poll `/runtime/invocation/next`.

use std::time::{Duration, Instant};

use crate::app::readiness::Readiness;
use crate::app::{AppClient, AppRequest};
use crate::config::{Config, HookPath};
use crate::lambda::restore;

/// Longest a hook may take (upstream's bound).
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest part of a hook's answer that goes into an error message.
const BODY_IN_MESSAGE: usize = 200;

/// Why init, or the restore, failed: an error type and a message for Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error_type: &'static str,
    pub message: String,
}

/// Step 2: the before-checkpoint hook, if one is set.
pub fn before_checkpoint(config: &Config) -> Result<(), Failure> {
    match &config.snap_start_hooks.before_checkpoint {
        Some(hook) => call_hook(config, hook, "before-checkpoint").map_err(|message| Failure {
            error_type: "Extension.SnapStartHookFailed",
            message,
        }),
        None => Ok(()),
    }
}

/// Steps 3 (the runtime's half), 5 and 6: waits for the restore, then prepares the app for
/// traffic. Reports its own failures to the Runtime API; `Err` says what was reported.
pub fn restore(config: &Config) -> Result<(), Failure> {
    log::debug!("SnapStart: ready for the snapshot; waiting for the restore");
    if let Err(e) = restore::restore_next(&config.runtime_api) {
        let failure = Failure {
            error_type: "Runtime.RestoreNextFailed",
            message: format!("SnapStart: {e}"),
        };
        report(restore::init_error(
            &config.runtime_api,
            failure.error_type,
            &failure.message,
        ));
        return Err(failure);
    }
    log::debug!("SnapStart: restored");
    let prepared = after_restore(config);
    if let Err(failure) = &prepared {
        report(restore::restore_error(
            &config.runtime_api,
            failure.error_type,
            &failure.message,
        ));
    }
    prepared
}

fn after_restore(config: &Config) -> Result<(), Failure> {
    if let Some(hook) = &config.snap_start_hooks.after_restore {
        call_hook(config, hook, "after-restore").map_err(|message| Failure {
            error_type: "Runtime.AfterRestoreHookFailed",
            message,
        })?;
    }
    let readiness = Readiness::new(config);
    if readiness.wait(config.readiness_check_timeout) {
        return Ok(());
    }
    Err(Failure {
        error_type: "Runtime.AppNotReady",
        message: format!(
            "SnapStart: the app was not ready within AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS ({} s) after the restore",
            config
                .readiness_check_timeout
                .unwrap_or_default()
                .as_secs_f64()
        ),
    })
}

fn report(reported: Result<(), crate::lambda::ApiError>) {
    if let Err(e) = reported {
        log::error!("could not report the SnapStart failure to the Runtime API: {e}");
    }
}

/// `POST {hook}` with an empty body on a connection of its own; `Err` says what went wrong,
/// naming the hook, its variable and the app's status.
fn call_hook(config: &Config, hook: &HookPath, which: &str) -> Result<(), String> {
    let what = format!(
        "SnapStart {which} hook POST {} ({})",
        hook.path, hook.variable
    );
    let request = AppRequest {
        method: "POST".to_string(),
        target: hook.path.clone(),
        headers: vec![("host".to_string(), config.default_host_header())],
        body: Vec::new(),
    };
    let mut client = AppClient::new(config.app_addr, config.connect_timeout(), None);
    let mut exchange = client
        .send(&request, Instant::now() + HOOK_TIMEOUT)
        .map_err(|e| format!("{what} failed: {e}"))?;
    let status = exchange.head.status;
    let mut body = Vec::new();
    let _ = exchange.read_body(&mut body, 64 * 1024);
    if (200..300).contains(&status) {
        log::debug!("{what} answered {status}");
        return Ok(());
    }
    let text = String::from_utf8_lossy(body.get(..BODY_IN_MESSAGE).unwrap_or(&body));
    let text = text.trim();
    Err(if text.is_empty() {
        format!("{what} answered status {status}; a 2xx status is required")
    } else {
        format!("{what} answered status {status}; a 2xx status is required: {text}")
    })
}
