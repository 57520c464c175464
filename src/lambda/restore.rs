//! The Runtime API's SnapStart endpoints, and its init error: the calls the adapter makes as
//! the function's runtime client around a snapshot (see `snap_start` for when).
//!
//! - `GET /2018-06-01/runtime/restore/next`: the runtime's "ready for the snapshot". It is
//!   answered only once the environment has been restored from the snapshot, possibly days
//!   later and in another place, so it has no timeout of its own.
//! - `POST /2018-06-01/runtime/restore/error`: the restore failed (an after-restore hook, or
//!   the app not ready again); Lambda fails the restore with this error.
//! - `POST /2018-06-01/runtime/init/error`: init failed after the adapter, as an extension,
//!   had already said it was ready (a failed `/restore/next`).
//!
//! Each call uses a ureq agent of its own that is dropped with it, so no connection from
//! before the snapshot is kept for after it.

use std::time::Duration;

use crate::config::ApiEndpoint;
use crate::lambda::agent::{EXTENSION_BUFFER, agent};
use crate::lambda::error::{ApiError, error_json, error_type_header, transport_error};
use crate::lambda::transport::RuntimeConnector;

/// How long an error report may take.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

pub const RESTORE_NEXT: &str = "/2018-06-01/runtime/restore/next";
pub const RESTORE_ERROR: &str = "/2018-06-01/runtime/restore/error";
pub const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// Tells Lambda the environment is ready for its snapshot and waits until it has been
/// restored from it. `Ok` once restored; any answer but 2xx is an error.
pub fn restore_next(endpoint: &ApiEndpoint) -> Result<(), ApiError> {
    let url = endpoint.url(RESTORE_NEXT);
    let agent = agent(None, EXTENSION_BUFFER, RuntimeConnector::default());
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| transport_error("runtime restore/next", &url, e))?;
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if !response.status().is_success() {
        return Err(ApiError::answered(format!(
            "runtime restore/next ({url}) answered status {}: {}",
            response.status(),
            body.trim()
        )));
    }
    Ok(())
}

/// Reports a failed restore to `/runtime/restore/error`.
pub fn restore_error(
    endpoint: &ApiEndpoint,
    error_type: &str,
    message: &str,
) -> Result<(), ApiError> {
    report(endpoint, RESTORE_ERROR, error_type, message)
}

/// Reports a failed init to `/runtime/init/error`.
pub fn init_error(endpoint: &ApiEndpoint, error_type: &str, message: &str) -> Result<(), ApiError> {
    report(endpoint, INIT_ERROR, error_type, message)
}

fn report(
    endpoint: &ApiEndpoint,
    path: &str,
    error_type: &str,
    message: &str,
) -> Result<(), ApiError> {
    let url = endpoint.url(path);
    let agent = agent(
        Some(REPORT_TIMEOUT),
        EXTENSION_BUFFER,
        RuntimeConnector::default(),
    );
    let response = agent
        .post(&url)
        .header(
            "Lambda-Runtime-Function-Error-Type",
            error_type_header(error_type),
        )
        .header("Content-Type", "application/json")
        .send(error_json(error_type, message).as_bytes())
        .map_err(|e| transport_error(path, &url, e))?;
    if !response.status().is_success() {
        return Err(ApiError::answered(format!(
            "{path} ({url}) answered status {}",
            response.status()
        )));
    }
    Ok(())
}
