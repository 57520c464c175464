//! The Runtime API and Extensions API, served on loopback.
//!
//! Every connection is served on its own thread, so many `/next` long polls and many posts can
//! be in flight at once. Invocations are queued with [`Invoker::submit`]; a `/next` poll hands the
//! oldest one out, and what the adapter posts back reaches the submitter as a sequence of
//! [`Delivery`] values: streamed bodies chunk by chunk, as they arrive.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use percent_encoding::percent_decode_str;

use super::http::{Exchange, HttpServer};
use super::lifecycle::Lifecycle;
use super::{InvokeOptions, PostKind, Posted, new_id, new_trace_id, now_ms};

/// Lambda's limit on a buffered response (the Runtime API rejects more).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// How long a poll waits between checks of the shutdown flag.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// Time after the deadline during which a late post is still accepted.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);
/// Read size while relaying a streamed body.
const STREAM_READ: usize = 16 * 1024;

/// One step of an invocation's life, as seen by whoever submitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A `/next` poll handed the invocation out.
    Started { deadline_ms: u64 },
    /// The adapter began its post.
    Head {
        kind: PostKind,
        headers: Vec<(String, String)>,
        error_type: Option<String>,
    },
    /// Part of the posted body.
    Chunk(Vec<u8>),
    /// The post is complete.
    End,
    /// The post broke off, or a stream ended with the adapter's error trailers
    /// (`Lambda-Runtime-Function-Error-Type` / `-Body`).
    Failed(String),
}

/// Why an invocation produced no complete post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// No `/next` poll took the invocation within `queue_wait`.
    NotPickedUp(Duration),
    /// Handed out, but nothing (complete) was posted before the deadline.
    TimedOut(Duration),
    /// The emulator shut down.
    Closed,
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::NotPickedUp(d) => write!(
                f,
                "the function did not poll /next within {} s (is the adapter running and the app ready?)",
                d.as_secs_f64()
            ),
            InvokeError::TimedOut(d) => {
                write!(f, "Task timed out after {:.2} seconds", d.as_secs_f64())
            }
            InvokeError::Closed => f.write_str("the emulator shut down"),
        }
    }
}

impl std::error::Error for InvokeError {}

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

struct Queued {
    request_id: String,
    event: Vec<u8>,
    options: InvokeOptions,
    deliveries: Sender<Delivery>,
    cancelled: Arc<AtomicBool>,
}

struct Shared {
    queue_tx: Sender<Queued>,
    queue_rx: Receiver<Queued>,
    /// Handed out and not yet answered: request id → where deliveries go.
    in_flight: Mutex<HashMap<String, Sender<Delivery>>>,
    registrations: Mutex<Vec<Registration>>,
    init_errors: Mutex<Vec<InitError>>,
    next_polls: AtomicUsize,
    shutdown: AtomicBool,
    function_arn: String,
    /// Busy or idle, frozen or not, shutdown events (see `lifecycle.rs`).
    lifecycle: Arc<Lifecycle>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler thread that panicked cannot leave these collections half-updated.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A cheap, cloneable handle to queue invocations.
#[derive(Clone)]
pub struct Invoker {
    shared: Arc<Shared>,
}

impl Invoker {
    /// Queues an invocation; its progress arrives through the returned [`Pending`].
    pub fn submit(&self, event: Vec<u8>, options: InvokeOptions) -> Pending {
        let (tx, rx) = crossbeam_channel::unbounded();
        let request_id = options.request_id.clone().unwrap_or_else(new_id);
        let cancelled = Arc::new(AtomicBool::new(false));
        let queued = Queued {
            request_id: request_id.clone(),
            event,
            options: options.clone(),
            deliveries: tx,
            cancelled: cancelled.clone(),
        };
        // The receiver lives in `shared`, so the send cannot fail.
        let _ = self.shared.queue_tx.send(queued);
        Pending {
            request_id,
            deliveries: rx,
            cancelled,
            shared: self.shared.clone(),
            queue_until: Instant::now() + options.queue_wait,
            queue_wait: options.queue_wait,
            timeout: options.timeout,
            deadline: None,
        }
    }

    /// Queues an invocation and waits (bounded) for the complete post.
    pub fn invoke(&self, event: &[u8], options: InvokeOptions) -> Result<Posted, InvokeError> {
        self.submit(event.to_vec(), options).wait()
    }
}

/// One submitted invocation.
pub struct Pending {
    pub request_id: String,
    deliveries: Receiver<Delivery>,
    cancelled: Arc<AtomicBool>,
    shared: Arc<Shared>,
    queue_until: Instant,
    queue_wait: Duration,
    timeout: Duration,
    /// When the invocation ends if nothing was posted (deadline plus grace).
    deadline: Option<Instant>,
}

impl Pending {
    /// The next step, waiting at most until the queue wait or the deadline runs out.
    pub fn next_delivery(&mut self) -> Result<Delivery, InvokeError> {
        let until = self.deadline.unwrap_or(self.queue_until);
        let left = until.saturating_duration_since(Instant::now());
        match self.deliveries.recv_timeout(left) {
            Ok(Delivery::Started { deadline_ms }) => {
                let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
                self.deadline = Some(Instant::now() + left + DEADLINE_GRACE);
                Ok(Delivery::Started { deadline_ms })
            }
            Ok(delivery) => Ok(delivery),
            Err(RecvTimeoutError::Timeout) => {
                self.abandon();
                Err(match self.deadline {
                    Some(_) => InvokeError::TimedOut(self.timeout),
                    None => InvokeError::NotPickedUp(self.queue_wait),
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(InvokeError::Closed),
        }
    }

    /// Waits for the complete post.
    pub fn wait(mut self) -> Result<Posted, InvokeError> {
        let mut posted = Posted {
            request_id: self.request_id.clone(),
            kind: PostKind::Response,
            headers: Vec::new(),
            body: Vec::new(),
            error_type: None,
            stream_failure: None,
            deadline_ms: 0,
            posted_at_ms: 0,
        };
        loop {
            match self.next_delivery()? {
                Delivery::Started { deadline_ms } => posted.deadline_ms = deadline_ms,
                Delivery::Head {
                    kind,
                    headers,
                    error_type,
                } => {
                    posted.posted_at_ms = now_ms();
                    posted.kind = kind;
                    posted.headers = headers;
                    posted.error_type = error_type;
                }
                Delivery::Chunk(data) => posted.body.extend_from_slice(&data),
                Delivery::End => return Ok(posted),
                Delivery::Failed(why) => {
                    posted.stream_failure = Some(why);
                    return Ok(posted);
                }
            }
        }
    }

    /// Stops waiting: a queued invocation is skipped, a handed-out one no longer accepts posts.
    fn abandon(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        lock(&self.shared.in_flight).remove(&self.request_id);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// The running Runtime + Extensions API. Stops when dropped.
pub struct RuntimeApi {
    invoker: Invoker,
    server: Option<HttpServer>,
}

impl RuntimeApi {
    /// Serves on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str) -> Result<RuntimeApi, String> {
        let (queue_tx, queue_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx,
            in_flight: Mutex::new(HashMap::new()),
            registrations: Mutex::new(Vec::new()),
            init_errors: Mutex::new(Vec::new()),
            next_polls: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                function_name()
            ),
            lifecycle: Arc::default(),
        });
        let handler = {
            let shared = shared.clone();
            Arc::new(move |ex: &mut Exchange<'_>| route(ex, &shared))
        };
        let server = HttpServer::start(addr, "runtime-api", handler)
            .map_err(|e| format!("cannot serve the Runtime API: {e}"))?;
        Ok(RuntimeApi {
            invoker: Invoker { shared },
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
        self.invoker.shared.next_polls.load(Ordering::SeqCst)
    }

    pub fn registrations(&self) -> Vec<Registration> {
        lock(&self.invoker.shared.registrations).clone()
    }

    pub fn init_errors(&self) -> Vec<InitError> {
        lock(&self.invoker.shared.init_errors).clone()
    }

    /// The environment's phases: freezing, idle time, shutdown events.
    pub fn lifecycle(&self) -> Arc<Lifecycle> {
        self.invoker.shared.lifecycle.clone()
    }

    /// Ends long polls (extension `event/next` answers `SHUTDOWN`) and stops serving.
    pub fn shutdown(&mut self) {
        self.invoker.shared.shutdown.store(true, Ordering::SeqCst);
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
        ) => {
            let body =
                String::from_utf8_lossy(&ex.body_to_vec(1 << 20).unwrap_or_default()).to_string();
            lock(&shared.init_errors).push(InitError {
                path: path.clone(),
                extension_id: ex.header("Lambda-Extension-Identifier").map(str::to_string),
                error_type: ex
                    .header("Lambda-Extension-Function-Error-Type")
                    .or_else(|| ex.header("Lambda-Runtime-Function-Error-Type"))
                    .map(str::to_string),
                body: body.clone(),
            });
            eprintln!("lambda-emulator: {path}: {body}");
            accepted(ex);
        }
        ("GET", "/2018-06-01/runtime/invocation/next") => runtime_next(ex, shared),
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
    shared.next_polls.fetch_add(1, Ordering::SeqCst);
    shared.lifecycle.poll_started(!shared.queue_rx.is_empty());
    let queued = loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            // The adapter retries a failed poll; there is nothing left to hand out.
            respond_json(
                ex,
                500,
                &error_body("ServiceException", "the emulator is shutting down"),
            );
            return;
        }
        match shared.queue_rx.recv_timeout(POLL_SLICE) {
            Ok(queued) if queued.cancelled.load(Ordering::SeqCst) => continue,
            Ok(queued) => break queued,
            Err(_) => continue,
        }
    };
    shared.lifecycle.handed_out();
    let options = &queued.options;
    let deadline_ms = now_ms() + options.timeout.as_millis() as u64;
    let trace_id = options.trace_id.clone().unwrap_or_else(new_trace_id);
    lock(&shared.in_flight).insert(queued.request_id.clone(), queued.deliveries.clone());
    let _ = queued.deliveries.send(Delivery::Started { deadline_ms });

    let deadline = deadline_ms.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("Lambda-Runtime-Aws-Request-Id", &queued.request_id),
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
    respond(ex, 200, &headers, &queued.event);
}

fn post(ex: &mut Exchange<'_>, shared: &Shared, id: &str, is_error: bool) {
    let Some(deliveries) = lock(&shared.in_flight).remove(id) else {
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
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Error,
            headers,
            error_type,
        });
        let _ = deliveries.send(Delivery::Chunk(body));
        let _ = deliveries.send(Delivery::End);
        accepted(ex);
    } else if streaming {
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Streamed,
            headers,
            error_type: None,
        });
        let outcome = relay_stream(ex, &deliveries);
        let _ = deliveries.send(match outcome {
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
                let _ = deliveries.send(Delivery::Head {
                    kind: PostKind::Error,
                    headers,
                    error_type: Some("Function.ResponseSizeTooLarge".into()),
                });
                let body = error_body("Function.ResponseSizeTooLarge", &message)
                    .to_string()
                    .into_bytes();
                let _ = deliveries.send(Delivery::Chunk(body));
                let _ = deliveries.send(Delivery::End);
                respond_json(ex, 413, &error_body("RequestEntityTooLarge", &message));
                return;
            }
        };
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Response,
            headers,
            error_type: None,
        });
        let _ = deliveries.send(Delivery::Chunk(body));
        let _ = deliveries.send(Delivery::End);
        accepted(ex);
    }
}

/// Relays a streamed body as it arrives. The adapter reports a failure midway with the
/// `Lambda-Runtime-Function-Error-Type` / `-Body` (base64) trailers.
fn relay_stream(ex: &mut Exchange<'_>, deliveries: &Sender<Delivery>) -> Result<(), String> {
    let mut buf = vec![0u8; STREAM_READ];
    let mut total = 0usize;
    loop {
        match ex.read_body(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                let _ = deliveries.send(Delivery::Chunk(buf.get(..n).unwrap_or_default().to_vec()));
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
