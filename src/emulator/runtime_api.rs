//! The Runtime API and Extensions API, served on loopback with tiny_http.
//!
//! Every request is handled on its own thread, so many `/next` long polls and many posts can be
//! in flight at once. Invocations are queued with [`Invoker::submit`]; a `/next` poll hands the
//! oldest one out, and what the adapter posts back reaches the submitter as a sequence of
//! [`Delivery`] values: streamed bodies chunk by chunk, as they arrive.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use percent_encoding::percent_decode_str;
use tiny_http::{Header, Request, Response, Server};

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
    /// The post broke off before its end (for a stream, normally the adapter's error trailers,
    /// which tiny_http's chunked decoder cannot read).
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
    addr: SocketAddr,
    invoker: Invoker,
    server: Arc<Server>,
    accept: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Serves on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str) -> Result<RuntimeApi, String> {
        let server = Server::http(addr)
            .map_err(|e| format!("cannot serve the Runtime API on {addr}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("the Runtime API on {addr} has no IP address"))?;
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
                std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                    .unwrap_or_else(|_| "emulated-function".into())
            ),
        });
        let server = Arc::new(server);
        let accept = {
            let server = server.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("runtime-api".into())
                .spawn(move || accept_loop(&server, &shared))
                .map_err(|e| format!("cannot start the Runtime API thread: {e}"))?
        };
        Ok(RuntimeApi {
            addr,
            invoker: Invoker { shared },
            server,
            accept: Some(accept),
        })
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// Ends long polls (extension `event/next` answers `SHUTDOWN`) and stops serving.
    pub fn shutdown(&mut self) {
        self.invoker.shared.shutdown.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(server: &Server, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        let request = match server.recv() {
            Ok(request) => request,
            Err(_) if shared.shutdown.load(Ordering::SeqCst) => break,
            Err(e) => {
                eprintln!("lambda-emulator: Runtime API accept failed: {e}");
                continue;
            }
        };
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("runtime-api-request".into())
            .spawn(move || route(request, &shared));
        if let Err(e) = spawned {
            eprintln!("lambda-emulator: cannot start a Runtime API request thread: {e}");
        }
    }
}

/// The value of request header `name` (any case).
pub(crate) fn header_value(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

pub(crate) fn headers_of(request: &Request) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect()
}

pub(crate) fn respond(request: Request, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut response = Response::from_data(body.to_vec()).with_status_code(status);
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    if let Err(e) = request.respond(response) {
        eprintln!("lambda-emulator: could not answer a request: {e}");
    }
}

fn respond_json(request: Request, status: u16, body: &serde_json::Value) {
    respond(
        request,
        status,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
}

fn error_body(error_type: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
}

fn route(mut request: Request, shared: &Shared) {
    let method = request.method().as_str().to_ascii_uppercase();
    let path = request.url().split('?').next().unwrap_or("").to_string();
    match (method.as_str(), path.as_str()) {
        ("POST", "/2020-01-01/extension/register") => register(request, shared),
        ("GET", "/2020-01-01/extension/event/next") => extension_next(request, shared),
        (
            "POST",
            "/2020-01-01/extension/init/error"
            | "/2020-01-01/extension/exit/error"
            | "/2018-06-01/runtime/init/error",
        ) => {
            let mut body = String::new();
            let _ = request.as_reader().take(1 << 20).read_to_string(&mut body);
            lock(&shared.init_errors).push(InitError {
                path: path.clone(),
                extension_id: header_value(&request, "Lambda-Extension-Identifier"),
                error_type: header_value(&request, "Lambda-Extension-Function-Error-Type")
                    .or_else(|| header_value(&request, "Lambda-Runtime-Function-Error-Type")),
                body: body.clone(),
            });
            eprintln!("lambda-emulator: {path}: {body}");
            respond_json(request, 202, &serde_json::json!({ "status": "OK" }));
        }
        ("GET", "/2018-06-01/runtime/invocation/next") => runtime_next(request, shared),
        ("POST", _) if path.starts_with("/2018-06-01/runtime/invocation/") => {
            let rest = path.trim_start_matches("/2018-06-01/runtime/invocation/");
            match rest.rsplit_once('/') {
                Some((id, what @ ("response" | "error"))) => {
                    let id = percent_decode_str(id).decode_utf8_lossy().to_string();
                    let what = what.to_string();
                    post(request, shared, &id, &what);
                }
                _ => respond_json(
                    request,
                    404,
                    &error_body("NotFound", "unknown invocation endpoint"),
                ),
            }
        }
        _ => {
            let message = format!("the emulator does not serve {method} {path}");
            respond_json(request, 404, &error_body("NotFound", &message));
        }
    }
}

fn register(mut request: Request, shared: &Shared) {
    let mut body = String::new();
    let _ = request.as_reader().take(1 << 20).read_to_string(&mut body);
    let name = header_value(&request, "Lambda-Extension-Name").unwrap_or_default();
    if name.is_empty() {
        respond_json(
            request,
            400,
            &error_body("InvalidRequest", "missing Lambda-Extension-Name"),
        );
        return;
    }
    let id = new_id();
    lock(&shared.registrations).push(Registration {
        name,
        id: id.clone(),
        body,
    });
    let answer = serde_json::json!({
        "functionName": std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "emulated-function".into()),
        "functionVersion": "$LATEST",
        "handler": "",
    });
    respond(
        request,
        200,
        &[
            ("Lambda-Extension-Identifier", id.as_str()),
            ("Content-Type", "application/json"),
        ],
        answer.to_string().as_bytes(),
    );
}

/// With no events subscribed, Lambda answers only at shutdown.
fn extension_next(request: Request, shared: &Shared) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        std::thread::sleep(POLL_SLICE);
    }
    let body = serde_json::json!({ "eventType": "SHUTDOWN", "deadlineMs": now_ms() + 2000, "shutdownReason": "spindown" });
    respond_json(request, 200, &body);
}

fn runtime_next(request: Request, shared: &Shared) {
    shared.next_polls.fetch_add(1, Ordering::SeqCst);
    let queued = loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            // The adapter retries a failed poll; there is nothing left to hand out.
            respond_json(
                request,
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
    let options = &queued.options;
    let deadline_ms = now_ms() + options.timeout.as_millis() as u64;
    let trace_id = options.trace_id.clone().unwrap_or_else(new_trace_id);
    lock(&shared.in_flight).insert(queued.request_id.clone(), queued.deliveries.clone());
    let _ = queued
        .deliveries
        .send(super::runtime_api::Delivery::Started { deadline_ms });

    let deadline = deadline_ms.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("Content-Type", "application/json"),
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
    respond(request, 200, &headers, &queued.event);
}

fn post(mut request: Request, shared: &Shared, id: &str, what: &str) {
    let Some(deliveries) = lock(&shared.in_flight).remove(id) else {
        let message =
            format!("invocation {id} is not in flight (already answered, timed out or unknown)");
        eprintln!("lambda-emulator: rejected a post: {message}");
        respond_json(request, 410, &error_body("InvalidRequestID", &message));
        return;
    };
    let headers = headers_of(&request);
    let streaming = header_value(&request, "Lambda-Runtime-Function-Response-Mode")
        .is_some_and(|mode| mode.eq_ignore_ascii_case("streaming"));
    if what == "error" {
        let error_type = header_value(&request, "Lambda-Runtime-Function-Error-Type");
        let mut body = Vec::new();
        let _ = request
            .as_reader()
            .take(MAX_RESPONSE_BYTES as u64)
            .read_to_end(&mut body);
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Error,
            headers,
            error_type,
        });
        let _ = deliveries.send(Delivery::Chunk(body));
        let _ = deliveries.send(Delivery::End);
        respond_json(request, 202, &serde_json::json!({ "status": "OK" }));
    } else if streaming {
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Streamed,
            headers,
            error_type: None,
        });
        let outcome = relay_stream(request.as_reader(), &deliveries);
        let _ = deliveries.send(match outcome {
            Ok(()) => Delivery::End,
            Err(why) => {
                eprintln!("lambda-emulator: the streamed response of {id} failed: {why}");
                Delivery::Failed(why)
            }
        });
        respond_json(request, 202, &serde_json::json!({ "status": "OK" }));
    } else {
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_RESPONSE_BYTES as u64 + 1)
            .read_to_end(&mut body);
        if let Err(e) = read {
            let _ = deliveries.send(Delivery::Failed(format!(
                "reading the posted response failed: {e}"
            )));
            respond_json(
                request,
                400,
                &error_body("InvalidRequest", "unreadable body"),
            );
            return;
        }
        if body.len() > MAX_RESPONSE_BYTES {
            let message = format!(
                "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            );
            let _ = deliveries.send(Delivery::Head {
                kind: PostKind::Error,
                headers,
                error_type: Some("Function.ResponseSizeTooLarge".into()),
            });
            let _ = deliveries.send(Delivery::Chunk(
                error_body("Function.ResponseSizeTooLarge", &message)
                    .to_string()
                    .into_bytes(),
            ));
            let _ = deliveries.send(Delivery::End);
            respond_json(request, 413, &error_body("RequestEntityTooLarge", &message));
            return;
        }
        let _ = deliveries.send(Delivery::Head {
            kind: PostKind::Response,
            headers,
            error_type: None,
        });
        let _ = deliveries.send(Delivery::Chunk(body));
        let _ = deliveries.send(Delivery::End);
        respond_json(request, 202, &serde_json::json!({ "status": "OK" }));
    }
}

/// Relays a chunked body as it arrives. A decode error after some body is how the adapter's
/// error trailers show up here (the decoder cannot parse trailers).
fn relay_stream(reader: &mut dyn Read, deliveries: &Sender<Delivery>) -> Result<(), String> {
    let mut buf = vec![0u8; STREAM_READ];
    let mut total = 0usize;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                total += n;
                let _ = deliveries.send(Delivery::Chunk(buf.get(..n).unwrap_or_default().to_vec()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "the stream broke off after {total} bytes ({e}); the adapter reports a failure mid-stream with Lambda-Runtime-Function-Error-Type/-Body trailers"
                ));
            }
        }
    }
}
