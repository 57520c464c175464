//! The worker: the whole data path of one invocation, top to bottom.
//!
//! `next` → event to request → request to the app → the app's response to Lambda's JSON →
//! `response` (or `error`). One worker is one thread with its own keep-alive connections: to
//! the Runtime API for `/next`, to the Runtime API for its posts ([`Poster`]), and to the app;
//! Lambda Managed Instances run N of them. Workers
//! never die (DECISIONS 5): every failure is answered or logged, and the loop goes on.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::app::readiness::Readiness;
use crate::app::{AppClient, AppErrorKind};
use crate::config::{Config, InvokeMode};
use crate::event::{self, Rejected, response_headers};
use crate::lambda::invocation::Invocation;
use crate::lambda::post::Poster;
use crate::lambda::{ApiError, Next, RuntimeClient};
use crate::lifecycle::after_response::IdleCheck;
use crate::lifecycle::metrics::{Metrics, Outcome, Trace};
use crate::logging;
use crate::reply::buffered::{MAX_BUFFERED_BODY, encode_within_limit};
use crate::reply::error_status::error_status_reply;
use crate::reply::{Reply, compression, stream};

const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_CAP: Duration = Duration::from_millis(500);

/// Runs `config.max_concurrency` workers; never returns. The first worker's first `/next`
/// goes out on `warm`, a Runtime API connection opened during start-up, if there is one.
pub fn run(config: &Config, ready_at_init: bool, warm: Option<TcpStream>) {
    let workers = config.max_concurrency.max(1);
    let mut warm = warm;
    let mut runtime = || match warm.take() {
        Some(stream) => RuntimeClient::warmed(config.runtime_api.clone(), stream),
        None => RuntimeClient::new(config.runtime_api.clone()),
    };
    if workers == 1 {
        Worker::with_runtime(config, ready_at_init, runtime()).run();
    }
    std::thread::scope(|scope| {
        for id in 0..workers {
            let runtime = runtime();
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn_scoped(scope, move || {
                    Worker::with_runtime(config, ready_at_init, runtime).run()
                });
            if let Err(e) = spawned {
                log::error!("could not start worker {id}: {e}");
            }
        }
    });
}

pub struct Worker<'a> {
    config: &'a Config,
    runtime: RuntimeClient,
    app: AppClient,
    readiness: Readiness,
    /// False until the app has passed a readiness check (async init may start without).
    app_ready: bool,
    /// Posts the answers, on a connection of its own kept between invocations.
    poster: Poster,
    /// `AWS_LWA_IDLE_CHECK_PATH`: holds the next `/next` until the app's work is done.
    idle_check: Option<IdleCheck>,
    /// `AWS_LWA_ENABLE_METRICS`: one EMF line per invocation, from what `trace` noted.
    metrics: Option<Metrics>,
    trace: Trace,
}

impl<'a> Worker<'a> {
    pub fn new(config: &'a Config, app_ready: bool) -> Worker<'a> {
        Worker::with_runtime(
            config,
            app_ready,
            RuntimeClient::new(config.runtime_api.clone()),
        )
    }

    pub fn with_runtime(config: &'a Config, app_ready: bool, runtime: RuntimeClient) -> Worker<'a> {
        Worker {
            config,
            runtime,
            app: AppClient::new(
                config.app_addr,
                config.connect_timeout(),
                config.pool_idle_timeout,
            ),
            readiness: Readiness::new(config),
            app_ready,
            poster: Poster::new(config.runtime_api.clone()),
            idle_check: IdleCheck::new(config),
            metrics: Metrics::new(config),
            trace: Trace::start(),
        }
    }

    /// The invocation loop.
    pub fn run(&mut self) -> ! {
        let mut backoff = BACKOFF_START;
        loop {
            let invocation = match self.runtime.next() {
                Ok(Next::Invocation(invocation)) => invocation,
                Ok(Next::NoRequestId) => {
                    log::error!(
                        "the Runtime API handed out an event without Lambda-Runtime-Aws-Request-Id; it cannot be answered"
                    );
                    backoff = pause(backoff);
                    continue;
                }
                Err(e) => {
                    log::warn!(
                        "Error polling /next, retrying in {} ms: {e}",
                        backoff.as_millis()
                    );
                    backoff = pause(backoff);
                    continue;
                }
            };
            backoff = BACKOFF_START;
            logging::set_invocation(Some(logging::InvocationIds {
                request_id: invocation.request_id.clone(),
                trace_id: invocation.trace_id.clone(),
                tenant_id: invocation.tenant_id.clone(),
            }));
            for warning in &invocation.warnings {
                log::warn!("{warning}");
            }
            self.trace = Trace::start();
            let reply = self.handle(&invocation);
            let outcome = self
                .metrics
                .is_some()
                .then(|| Outcome::of(&reply, &self.trace));
            self.post(&invocation, reply);
            log::debug!(
                "invocation done in {} ms",
                self.trace.started.elapsed().as_millis()
            );
            self.after_response(&invocation, outcome);
            logging::set_invocation(None);
        }
    }

    /// One invocation, from event to reply.
    pub fn handle(&mut self, invocation: &Invocation) -> Reply {
        let config = self.config;
        // The app's answer must leave time to post it.
        let deadline = invocation.deadline_less_margin();
        if !self.app_ready {
            self.app_ready = self
                .readiness
                .wait(Some(deadline.saturating_duration_since(Instant::now())));
        }

        // Event → request.
        let (source, request) = match event::to_request(&invocation.event, config, invocation) {
            Ok(converted) => converted,
            Err(Rejected::BadRequest { source, message }) => {
                self.trace.source = Some(source);
                log::warn!("malformed {source:?} event, answering 400: {message}");
                return Reply::Response(event::adapter_response(
                    source,
                    400,
                    &format!("Bad Request: {message}"),
                ));
            }
            Err(Rejected::NotJson(message)) => {
                log::error!("{message}");
                return Reply::error("Adapter.InvalidEvent", message);
            }
        };
        self.trace.source = Some(source);
        // The SnapStart hooks are the adapter's to call, never an event's (DECISIONS 28):
        // checked on the target the app would receive, after AWS_LWA_REMOVE_BASE_PATH.
        if let Some(hook) = config.snap_start_hooks.guarding(&request.target) {
            log::warn!(
                "refused a {source:?} event for {}: it reaches the SnapStart hook {} ({}), answering 403",
                request.target,
                hook.path,
                hook.variable
            );
            self.trace.app_not_asked();
            return Reply::Response(event::adapter_response(source, 403, "Forbidden"));
        }
        log::debug!(
            "sending request to app server source={source:?} method={} target={}",
            request.method,
            request.target
        );

        // Request → app.
        let accept_encoding = config
            .compression
            .then(|| compression::accept_encoding(&request))
            .flatten();
        let error_status_codes = config.error_status_codes.as_deref();
        self.trace.app_started();
        let mut exchange = match self.app.send(&request, deadline) {
            Ok(exchange) => exchange,
            Err(e) if e.kind == AppErrorKind::InvalidRequest => {
                self.trace.app_not_asked();
                log::warn!("malformed {source:?} event, answering 400: {}", e.message);
                return Reply::Response(event::adapter_response(
                    source,
                    400,
                    &format!("Bad Request: {}", e.message),
                ));
            }
            Err(e) => {
                self.trace.app_finished(None);
                return Reply::app_failure(e);
            }
        };
        let status = exchange.head.status;
        if error_status_codes.is_some_and(|codes| codes.contains(&status)) {
            let reply = error_status_reply(&mut exchange);
            self.trace.app_finished(Some(status));
            return reply;
        }
        // Hop-by-hop and configured headers never reach Lambda (DECISIONS 23).
        response_headers::strip(&mut exchange.head, &config.remove_response_headers);

        // App response → Lambda.
        if config.invoke_mode == InvokeMode::ResponseStream {
            // A streamed body is sent as is: the `binary` marker has nothing to do but go.
            response_headers::remove_binary_marker(&mut exchange.head);
            let reply = stream::stream_with(&mut self.poster, invocation, &mut exchange, deadline);
            self.trace.app_finished(Some(status));
            return reply;
        }
        let mut body = Vec::new();
        let read = exchange.read_body(&mut body, MAX_BUFFERED_BODY);
        self.trace.app_finished(read.is_ok().then_some(status));
        if let Err(e) = read {
            return Reply::app_failure(e);
        }
        let mut head = std::mem::take(&mut exchange.head);
        drop(exchange);
        log::debug!(
            "responding to lambda event status={} body_size={}",
            head.status,
            body.len()
        );
        if config.compression {
            body = compression::compress(&mut head, body, accept_encoding.as_deref());
        }
        encode_within_limit(source, &head, &body)
    }

    /// The caller has its answer. With an idle check, the next `/next` waits until the app's
    /// work after the response is done (Lambda freezes the environment at `/next`); then the
    /// metrics line, if metrics are on.
    fn after_response(&mut self, invocation: &Invocation, outcome: Option<Outcome>) {
        let posted_at = Instant::now();
        let held = (self.idle_check.as_ref()).map(|idle| idle.wait(&mut self.app, invocation));
        if let (Some(metrics), Some(outcome)) = (&self.metrics, outcome) {
            metrics.invocation(invocation, &self.trace, &outcome, posted_at, held);
        }
    }

    /// Posts the reply. A failed post is logged and the worker goes on (DECISIONS 5); a
    /// transport failure is retried once, since the post may never have reached Lambda.
    fn post(&mut self, invocation: &Invocation, reply: Reply) {
        let id = &invocation.request_id;
        let mut attempt = || -> Result<(), ApiError> {
            match &reply {
                Reply::Response(body) => self.poster.post_response(id, body),
                Reply::Error {
                    error_type,
                    message,
                } => self.poster.post_error(id, error_type, message),
                Reply::Streamed => Ok(()),
            }
        };
        if let Err(first) = attempt() {
            if !first.transport {
                log::error!("{first}");
                return;
            }
            log::warn!("{first}; retrying once");
            if let Err(second) = attempt() {
                log::error!("{second}; the invocation could not be answered");
            }
        }
    }
}

/// Sleeps `backoff` and returns the next one (doubling, capped), so a failing Runtime API is
/// polled calmly instead of in a hot loop (DECISIONS 5).
fn pause(backoff: Duration) -> Duration {
    std::thread::sleep(backoff);
    (backoff * 2).min(BACKOFF_CAP)
}
