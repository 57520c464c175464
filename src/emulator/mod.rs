//! A local stand-in for Lambda, for development and tests (feature `emulator`).
//!
//! - [`runtime_api`]: the Runtime API and Extensions API the adapter talks to, with a Rust API
//!   to queue invocations and collect what the adapter posts back.
//! - [`events`]: a plain HTTP request turned into an API Gateway v2 / Function URL / REST v1 /
//!   ALB event.
//! - [`front_door`]: plain HTTP in (served by tiny_http), event out, the posted Lambda response
//!   back out as HTTP, read by [`function_response`].
//! - [`invocations`]: the queue between those who submit invocations and the Runtime API, and
//!   the function's failure that ends them all.
//! - [`runtime_http`]: the Runtime API's own small HTTP/1.1 server (it says why not tiny_http),
//!   reading request bodies with `request_body`.
//! - [`http_head`]: status lines and header lines, as both servers write them.
//! - [`lattice_events`]: a request as a VPC Lattice event (event structure 2.0 or 1.0).
//! - [`process`]: the adapter and the app as child processes that never outlive the emulator.
//! - [`snap_start`]: SnapStart's snapshot and restore (`--snap-start`).
//! - [`lifecycle`]: when the environment is busy or idle, as the Runtime API sees it; with
//!   [`freeze`] (stopped between invocations, as Lambda freezes it) and [`shutdown`] (Lambda's
//!   shutdown phase: `SIGTERM`, `SHUTDOWN` events, `SIGKILL`).
//!
//! The `lambda-emulator` binary strings them together.

pub mod events;
pub mod freeze;
pub mod front_door;
pub mod function_response;
pub mod http_head;
pub mod invocations;
pub mod lattice_events;
pub mod lifecycle;
pub mod process;
mod request_body;
pub mod runtime_api;
pub mod runtime_http;
pub mod shutdown;
pub mod snap_start;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;

pub use events::{EventFormat, PlainRequest};
pub use invocations::{Delivery, InvokeError, Invoker, Pending};
pub use runtime_api::RuntimeApi;

/// How one invocation is handed out by `/next`.
#[derive(Debug, Clone)]
pub struct InvokeOptions {
    /// The function timeout: `Lambda-Runtime-Deadline-Ms` is the hand-out time plus this.
    pub timeout: Duration,
    /// How long the invocation may wait in the queue for a `/next` poll (init included).
    pub queue_wait: Duration,
    /// `Lambda-Runtime-Aws-Request-Id`; generated when `None`.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Trace-Id`; generated when `None`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context` (sent as given).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` (sent as given).
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

impl Default for InvokeOptions {
    fn default() -> Self {
        InvokeOptions {
            timeout: Duration::from_secs(30),
            queue_wait: Duration::from_secs(30),
            request_id: None,
            trace_id: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
        }
    }
}

/// Which Runtime API endpoint the adapter answered an invocation with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// `/response`, buffered.
    Response,
    /// `/error`.
    Error,
    /// `/response` with `Lambda-Runtime-Function-Response-Mode: streaming`.
    Streamed,
}

/// What the adapter posted for one invocation, complete.
#[derive(Debug, Clone)]
pub struct Posted {
    pub request_id: String,
    pub kind: PostKind,
    /// Request headers of the post, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The posted body as received (for a stream: prelude, 8 NUL bytes, body).
    pub body: Vec<u8>,
    /// `Lambda-Runtime-Function-Error-Type` of an `/error` post.
    pub error_type: Option<String>,
    /// Set when a stream broke off (a decode error after part of the body, e.g. trailers).
    pub stream_failure: Option<String>,
    /// `Lambda-Runtime-Deadline-Ms` as handed out.
    pub deadline_ms: u64,
    /// Epoch milliseconds when the post began to arrive.
    pub posted_at_ms: u64,
}

impl Posted {
    /// The body as JSON (buffered responses and errors).
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the posted body is not JSON: {e}"))
    }

    /// A request header of the post by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A streamed body split into its prelude JSON and the HTTP body.
    pub fn stream_parts(&self) -> Option<(serde_json::Value, &[u8])> {
        let (prelude, body) = split_prelude(&self.body)?;
        Some((serde_json::from_slice(prelude).ok()?, body))
    }
}

/// The separator between a streamed response's JSON prelude and its body.
pub const PRELUDE_SEPARATOR: [u8; 8] = [0; 8];

/// Splits `prelude JSON, 8 NUL bytes, body`; `None` until the separator is there.
pub fn split_prelude(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = data
        .windows(PRELUDE_SEPARATOR.len())
        .position(|w| w == PRELUDE_SEPARATOR)?;
    Some((data.get(..at)?, data.get(at + PRELUDE_SEPARATOR.len()..)?))
}

/// `(name, value)` pairs of a raw query, percent-decoded (`+` as space, as API Gateway and
/// VPC Lattice decode them).
pub fn decoded_query(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(part), String::new()),
        })
        .collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn entropy() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u128;
    // Mixed so that ids made in the same nanosecond still differ in many digits.
    (nanos ^ (n << 64) ^ ((std::process::id() as u128) << 96))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
}

/// A fresh UUID-shaped identifier (request ids, extension ids).
pub fn new_id() -> String {
    let x = entropy();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (x >> 96) as u32,
        (x >> 80) as u16,
        (x >> 64) as u16 & 0xfff,
        0x8000 | ((x >> 48) as u16 & 0x3fff),
        x as u64 & 0xffff_ffff_ffff
    )
}

/// A fresh X-Ray trace header value.
pub fn new_trace_id() -> String {
    let x = entropy();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        secs as u32,
        x >> 32,
        x as u64
    )
}

/// Epoch milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
