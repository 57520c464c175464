//! The Runtime API and Extensions API, served on loopback by [`super::runtime_http`].
//!
//! Every connection is served on its own thread, so many `/next` long polls and many posts can
//! be in flight at once. Invocations are queued with [`Invoker::submit`]; a `/next` poll hands the
//! oldest one out, and what the adapter posts back reaches the submitter as a sequence of
//! [`Delivery`] values: streamed bodies chunk by chunk, as they arrive. An init error
//! (`/extension/init/error`, `/runtime/init/error`) fails the function, as on Lambda: every
//! queued and later invocation ends with [`InvokeError::InitFailed`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use super::invocations::{Answer, HandedOut, Invocations};
pub use super::invocations::{Delivery, InvokeError, Invoker, Pending};
use super::lifecycle::Lifecycle;
use super::runtime_http::{Exchange, HttpServer};
use super::snap_start::SnapStart;
use super::{InvokeOptions, PostKind, Posted, new_id, new_trace_id};

/// Lambda's limit on a buffered response (the Runtime API rejects more).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// How long a poll waits between checks of the shutdown flag.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// Read size while relaying a streamed body.
const STREAM_READ: usize = 16 * 1024;

/// An extension registration, as received.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub id: String,
    pub body: String,
}

/// A reported init (or exit) error, as received.
#[derive(Debug, Clone)]
pub struct InitError {
    /// `/extension/init/error`, `/extension/exit/error` or `/runtime/init/error`.
    pub path: String,
    pub extension_id: Option<String>,
    pub error_type: Option<String>,
    pub body: String,
}

struct Shared {
    invocations: Arc<Invocations>,
    registrations: Mutex<Vec<Registration>>,
    init_errors: Mutex<Vec<InitError>>,
    shutdown: AtomicBool,
    function_arn: String,
    snap_start: SnapStart,
    /// Busy or idle, frozen or not, shutdown events (see `lifecycle.rs`).
    lifecycle: Arc<Lifecycle>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler thread that panicked cannot leave these collections half-updated.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running Runtime + Extensions API. Stops when dropped.
pub struct RuntimeApi {
    invoker: Invoker,
    shared: Arc<Shared>,
    server: Option<HttpServer>,
}

impl RuntimeApi {
    /// Serves on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str) -> Result<RuntimeApi, String> {
        let shared = Arc::new(Shared {
            invocations: Arc::new(Invocations::new()),
            registrations: Mutex::new(Vec::new()),
            init_errors: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                function_name()
            ),
            snap_start: SnapStart::default(),
            lifecycle: Arc::default(),
        });
        let handler = {
            let shared = shared.clone();
            Arc::new(move |ex: &mut Exchange<'_>| route(ex, &shared))
        };
        let server = HttpServer::start(addr, "runtime-api", handler)
            .map_err(|e| format!("cannot serve the Runtime API: {e}"))?;
        shared
            .snap_start
            .attach(server.connection_breaker(), shared.invocations.clone());
        Ok(RuntimeApi {
            invoker: Invoker {
                invocations: shared.invocations.clone(),
            },
            shared,
            server: Some(server),
        })
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        match &self.server {
            Some(server) => server.addr(),
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    pub fn invoker(&self) -> Invoker {
        self.invoker.clone()
    }

    /// See [`Invoker::submit`].
    pub fn submit(&self, event: Vec<u8>, options: InvokeOptions) -> Pending {
        self.invoker.submit(event, options)
    }

    /// See [`Invoker::invoke`].
    pub fn invoke(&self, event: &[u8], options: InvokeOptions) -> Result<Posted, InvokeError> {
        self.invoker.invoke(event, options)
    }

    /// How many `GET /runtime/invocation/next` requests arrived so far.
    pub fn next_polls(&self) -> usize {
        self.shared.invocations.next_polls.load(Ordering::SeqCst)
    }

    pub fn registrations(&self) -> Vec<Registration> {
        lock(&self.shared.registrations).clone()
    }

    pub fn init_errors(&self) -> Vec<InitError> {
        lock(&self.shared.init_errors).clone()
    }

    /// The function's failure, once there is one (an init error, or what `fail` was told).
    pub fn failure(&self) -> Option<InvokeError> {
        self.shared.invocations.failure()
    }

    /// Fails the function: see [`Invoker::fail`] (the adapter or the app exited, say).
    pub fn fail(&self, error: InvokeError) {
        self.shared.invocations.fail(error);
    }

    /// The SnapStart lifecycle (off until enabled).
    pub fn snap_start(&self) -> &SnapStart {
        &self.shared.snap_start
    }

    /// The environment's phases: freezing, idle time, shutdown events.
    pub fn lifecycle(&self) -> Arc<Lifecycle> {
        self.shared.lifecycle.clone()
    }

    /// Ends long polls (extension `event/next` answers `SHUTDOWN`) and stops serving.
    pub fn shutdown(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.server = None;
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "emulated-function".into())
}

fn respond(ex: &mut Exchange<'_>, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    if let Err(e) = ex.respond(status, headers, body) {
        eprintln!(
            "lambda-emulator: could not answer {} {}: {e}",
            ex.method,
            ex.path()
        );
    }
}

fn respond_json(ex: &mut Exchange<'_>, status: u16, body: &serde_json::Value) {
    respond(
        ex,
        status,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
}

fn error_body(error_type: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
}

fn accepted(ex: &mut Exchange<'_>) {
    respond_json(ex, 202, &serde_json::json!({ "status": "OK" }));
}

fn route(ex: &mut Exchange<'_>, shared: &Shared) {
    let method = ex.method.to_ascii_uppercase();
    let path = ex.path().to_string();
    match (method.as_str(), path.as_str()) {
        ("POST", "/2020-01-01/extension/register") => register(ex, shared),
        ("GET", "/2020-01-01/extension/event/next") => extension_next(ex, shared),
        (
            "POST",
            "/2020-01-01/extension/init/error"
            | "/2020-01-01/extension/exit/error"
            | "/2018-06-01/runtime/init/error",
        ) => report_error(ex, shared, &path),
        ("GET", "/2018-06-01/runtime/invocation/next") => runtime_next(ex, shared),
        (_, p) if shared.snap_start.route(ex, &method, p) => {}
        ("POST", _) if path.starts_with("/2018-06-01/runtime/invocation/") => {
            let rest = path.trim_start_matches("/2018-06-01/runtime/invocation/");
            match rest.rsplit_once('/') {
                Some((id, what @ ("response" | "error"))) => {
                    let id = percent_decode_str(id).decode_utf8_lossy().to_string();
                    post(ex, shared, &id, what == "error");
                }
                _ => respond_json(
                    ex,
                    404,
                    &error_body("NotFound", "unknown invocation endpoint"),
                ),
            }
        }
        _ => {
            let message = format!("the emulator does not serve {method} {path}");
            respond_json(ex, 404, &error_body("NotFound", &message));
        }
    }
}

/// Records a reported init or exit error; an init error fails the function. The reporter
/// prints its own message (the adapter logs it), so the emulator does not repeat it.
fn report_error(ex: &mut Exchange<'_>, shared: &Shared, path: &str) {
    let body = String::from_utf8_lossy(&ex.body_to_vec(1 << 20).unwrap_or_default()).to_string();
    let error_type = ex
        .header("Lambda-Extension-Function-Error-Type")
        .or_else(|| ex.header("Lambda-Runtime-Function-Error-Type"))
        .map(str::to_string);
    lock(&shared.init_errors).push(InitError {
        path: path.to_string(),
        extension_id: ex.header("Lambda-Extension-Identifier").map(str::to_string),
        error_type: error_type.clone(),
        body: body.clone(),
    });
    if path.ends_with("/init/error") {
        let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        shared.invocations.fail(InvokeError::InitFailed {
            error_type: error_type
                .or_else(|| field("errorType"))
                .unwrap_or_else(|| "Unknown".into()),
            message: field("errorMessage").unwrap_or(body),
        });
    }
    accepted(ex);
}

fn register(ex: &mut Exchange<'_>, shared: &Shared) {
    let body = String::from_utf8_lossy(&ex.body_to_vec(1 << 20).unwrap_or_default()).to_string();
    let name = ex
        .header("Lambda-Extension-Name")
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        respond_json(
            ex,
            400,
            &error_body("InvalidRequest", "missing Lambda-Extension-Name"),
        );
        return;
    }
    let id = new_id();
    shared
        .invocations
        .registrations
        .fetch_add(1, Ordering::SeqCst);
    shared.lifecycle.shutdown.registered(&id, &body);
    lock(&shared.registrations).push(Registration {
        name,
        id: id.clone(),
        body,
    });
    let answer = serde_json::json!({ "functionName": function_name(), "functionVersion": "$LATEST", "handler": "" });
    respond(
        ex,
        200,
        &[
            ("Lambda-Extension-Identifier", id.as_str()),
            ("content-type", "application/json"),
        ],
        answer.to_string().as_bytes(),
    );
}

/// Lambda answers only with the events an extension registered for (here: `SHUTDOWN`).
fn extension_next(ex: &mut Exchange<'_>, shared: &Shared) {
    let id = ex
        .header("Lambda-Extension-Identifier")
        .unwrap_or_default()
        .to_string();
    let body = shared.lifecycle.shutdown.next_event(&id, &shared.shutdown);
    respond_json(ex, 200, &body);
}

fn runtime_next(ex: &mut Exchange<'_>, shared: &Shared) {
    shared.invocations.next_polls.fetch_add(1, Ordering::SeqCst);
    // The worker's previous invocation ends here; with nothing queued the environment freezes.
    shared
        .lifecycle
        .poll_started(shared.invocations.has_queued());
    let HandedOut {
        request_id,
        event,
        options,
        deadline_ms,
    } = loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            // The adapter retries a failed poll; there is nothing left to hand out.
            respond_json(
                ex,
                500,
                &error_body("ServiceException", "the emulator is shutting down"),
            );
            return;
        }
        if let Some(handed_out) = shared.invocations.take(POLL_SLICE) {
            break handed_out;
        }
    };
    shared.lifecycle.handed_out();
    let trace_id = options.trace_id.clone().unwrap_or_else(new_trace_id);
    let deadline = deadline_ms.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("Lambda-Runtime-Aws-Request-Id", &request_id),
        ("Lambda-Runtime-Deadline-Ms", &deadline),
        ("Lambda-Runtime-Invoked-Function-Arn", &shared.function_arn),
        ("Lambda-Runtime-Trace-Id", &trace_id),
    ];
    if let Some(v) = &options.client_context {
        headers.push(("Lambda-Runtime-Client-Context", v));
    }
    if let Some(v) = &options.cognito_identity {
        headers.push(("Lambda-Runtime-Cognito-Identity", v));
    }
    if let Some(v) = &options.tenant_id {
        headers.push(("Lambda-Runtime-Aws-Tenant-Id", v));
    }
    respond(ex, 200, &headers, &event);
}

fn post(ex: &mut Exchange<'_>, shared: &Shared, id: &str, is_error: bool) {
    let Some(deliveries) = shared.invocations.answer(id) else {
        let message =
            format!("invocation {id} is not in flight (already answered, timed out or unknown)");
        eprintln!("lambda-emulator: rejected a post: {message}");
        respond_json(ex, 410, &error_body("InvalidRequestID", &message));
        return;
    };
    let headers = ex.headers_lowercase();
    let streaming = ex
        .header("Lambda-Runtime-Function-Response-Mode")
        .is_some_and(|mode| mode.eq_ignore_ascii_case("streaming"));
    if is_error {
        let error_type = ex
            .header("Lambda-Runtime-Function-Error-Type")
            .map(str::to_string);
        let body = ex.body_to_vec(MAX_RESPONSE_BYTES).unwrap_or_default();
        deliveries.send(Delivery::Head {
            kind: PostKind::Error,
            headers,
            error_type,
        });
        deliveries.send(Delivery::Chunk(body));
        deliveries.send(Delivery::End);
        accepted(ex);
    } else if streaming {
        deliveries.send(Delivery::Head {
            kind: PostKind::Streamed,
            headers,
            error_type: None,
        });
        let outcome = relay_stream(ex, &deliveries);
        deliveries.send(match outcome {
            Ok(()) => Delivery::End,
            Err(why) => {
                eprintln!("lambda-emulator: the streamed response of {id} failed: {why}");
                Delivery::Failed(why)
            }
        });
        accepted(ex);
    } else {
        let body = match ex.body_to_vec(MAX_RESPONSE_BYTES) {
            Ok(body) => body,
            Err(e) => {
                let message =
                    format!("Response payload rejected: {e} (limit {MAX_RESPONSE_BYTES} bytes).");
                deliveries.send(Delivery::Head {
                    kind: PostKind::Error,
                    headers,
                    error_type: Some("Function.ResponseSizeTooLarge".into()),
                });
                let body = error_body("Function.ResponseSizeTooLarge", &message)
                    .to_string()
                    .into_bytes();
                deliveries.send(Delivery::Chunk(body));
                deliveries.send(Delivery::End);
                respond_json(ex, 413, &error_body("RequestEntityTooLarge", &message));
                return;
            }
        };
        deliveries.send(Delivery::Head {
            kind: PostKind::Response,
            headers,
            error_type: None,
        });
        deliveries.send(Delivery::Chunk(body));
        deliveries.send(Delivery::End);
        accepted(ex);
    }
}

/// Relays a streamed body as it arrives. The adapter reports a failure midway with the
/// `Lambda-Runtime-Function-Error-Type` / `-Body` (base64) trailers.
fn relay_stream(ex: &mut Exchange<'_>, deliveries: &Answer) -> Result<(), String> {
    let mut buf = vec![0u8; STREAM_READ];
    let mut total = 0usize;
    loop {
        match ex.read_body(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                deliveries.send(Delivery::Chunk(buf.get(..n).unwrap_or_default().to_vec()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("the stream broke off after {total} bytes: {e}")),
        }
    }
    match ex.trailer("Lambda-Runtime-Function-Error-Type") {
        None => Ok(()),
        Some(error_type) => {
            let body = ex
                .trailer("Lambda-Runtime-Function-Error-Body")
                .map(|b| {
                    STANDARD.decode(b.trim()).map_or_else(
                        |_| b.to_string(),
                        |d| String::from_utf8_lossy(&d).to_string(),
                    )
                })
                .unwrap_or_default();
            Err(format!(
                "the function reported {error_type} after {total} bytes: {body}"
            ))
        }
    }
}
