//! Invocations between whoever submits them (the front door, `--invoke`, a test) and the
//! Runtime API that hands them out: the queue, the invocations in flight, and the function's
//! failure, which ends every one of them at once.
//!
//! What the adapter posts back reaches the submitter as a sequence of [`Delivery`] values
//! (streamed bodies chunk by chunk, as they arrive) through its [`Pending`]. Every wait ends:
//! at the queue wait if no `/next` poll takes the invocation, at the deadline once one did, or
//! as soon as the function fails (an init error, or the adapter or the app exiting).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::{InvokeOptions, PostKind, Posted, new_id, now_ms};

/// Time after the deadline during which a late post is still accepted.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

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
    /// No `/next` poll took the invocation within `waited`; `why` says what the function was
    /// doing meanwhile.
    NotPickedUp { waited: Duration, why: String },
    /// Handed out, but nothing (complete) was posted before the deadline.
    TimedOut(Duration),
    /// The function's init failed: an extension or the runtime reported it to an
    /// `.../init/error` endpoint.
    InitFailed { error_type: String, message: String },
    /// The adapter or the app exited (the reason says which, with its status).
    Exited(String),
    /// The emulator shut down.
    Closed,
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::NotPickedUp { waited, why } => write!(
                f,
                "Task timed out after {:.2} seconds: the function never took the invocation: {why}",
                waited.as_secs_f64()
            ),
            InvokeError::TimedOut(d) => {
                write!(f, "Task timed out after {:.2} seconds", d.as_secs_f64())
            }
            InvokeError::InitFailed {
                error_type,
                message,
            } => write!(f, "the function's init failed: {error_type}: {message}"),
            InvokeError::Exited(reason) => {
                write!(f, "{reason} before answering the invocation")
            }
            InvokeError::Closed => f.write_str("the emulator shut down"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// What the submitter of one invocation receives.
type Deliveries = Sender<Result<Delivery, InvokeError>>;

struct Queued {
    request_id: String,
    event: Vec<u8>,
    options: InvokeOptions,
    deliveries: Deliveries,
    cancelled: Arc<AtomicBool>,
}

/// Where the posts answering one invocation go.
pub(super) struct Answer(Deliveries);

impl Answer {
    /// Passes one step on; a submitter that stopped waiting no longer receives it.
    pub fn send(&self, delivery: Delivery) {
        let _ = self.0.send(Ok(delivery));
    }
}

/// An invocation taken by a `/next` poll.
pub(super) struct HandedOut {
    pub request_id: String,
    pub event: Vec<u8>,
    pub options: InvokeOptions,
    pub deadline_ms: u64,
}

/// The invocations of one function, shared by the Runtime API and every [`Invoker`].
pub(super) struct Invocations {
    queue_tx: Sender<Queued>,
    queue_rx: Receiver<Queued>,
    /// Handed out and not yet answered: request id → where deliveries go.
    in_flight: Mutex<HashMap<String, Deliveries>>,
    /// Set once the function failed; every invocation from then on fails with it.
    failure: Mutex<Option<InvokeError>>,
    /// Extension registrations and `/next` polls seen, to say why an invocation waits.
    pub registrations: AtomicUsize,
    pub next_polls: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler thread that panicked cannot leave these collections half-updated.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Invocations {
    pub fn new() -> Invocations {
        let (queue_tx, queue_rx) = crossbeam_channel::unbounded();
        Invocations {
            queue_tx,
            queue_rx,
            in_flight: Mutex::new(HashMap::new()),
            failure: Mutex::new(None),
            registrations: AtomicUsize::new(0),
            next_polls: AtomicUsize::new(0),
        }
    }

    /// Whether an invocation waits in the queue (one cancelled meanwhile counts until a poll
    /// skips it), so that a `/next` poll does not freeze the environment with work waiting.
    pub fn has_queued(&self) -> bool {
        !self.queue_rx.is_empty()
    }

    /// The oldest queued invocation, waiting at most `wait`; it is in flight from then on.
    pub fn take(&self, wait: Duration) -> Option<HandedOut> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let queued = self.queue_rx.recv_timeout(left).ok()?;
            if queued.cancelled.load(Ordering::SeqCst) {
                continue;
            }
            let deadline_ms = now_ms() + queued.options.timeout.as_millis() as u64;
            lock(&self.in_flight).insert(queued.request_id.clone(), queued.deliveries.clone());
            // `fail` sets the failure before it drains `in_flight`: an invocation it missed
            // there is failed here instead of being handed to a function that is gone.
            if let Some(error) = self.failure() {
                lock(&self.in_flight).remove(&queued.request_id);
                let _ = queued.deliveries.send(Err(error));
                continue;
            }
            let _ = queued
                .deliveries
                .send(Ok(Delivery::Started { deadline_ms }));
            return Some(HandedOut {
                request_id: queued.request_id,
                event: queued.event,
                options: queued.options,
                deadline_ms,
            });
        }
    }

    /// Where the posts for `request_id` go, if it is still in flight; it no longer is after.
    pub fn answer(&self, request_id: &str) -> Option<Answer> {
        lock(&self.in_flight).remove(request_id).map(Answer)
    }

    /// The function failed: every queued and in-flight invocation ends with `error`, and so
    /// does every later one. The first failure is kept (an init error, then the adapter's exit).
    pub fn fail(&self, error: InvokeError) {
        let error = {
            let mut failure = lock(&self.failure);
            let error = failure.get_or_insert(error).clone();
            // Drained under the lock `submit` holds while it queues: nothing is queued after.
            for queued in self.queue_rx.try_iter() {
                let _ = queued.deliveries.send(Err(error.clone()));
            }
            error
        };
        for (_, deliveries) in lock(&self.in_flight).drain() {
            let _ = deliveries.send(Err(error.clone()));
        }
    }

    pub fn failure(&self) -> Option<InvokeError> {
        lock(&self.failure).clone()
    }

    /// What the function is doing while an invocation waits in the queue.
    fn why_waiting(&self) -> String {
        if self.registrations.load(Ordering::SeqCst) == 0 {
            "the adapter never registered with the Extensions API (is it running? see its output)"
                .into()
        } else if self.next_polls.load(Ordering::SeqCst) == 0 {
            "the adapter has not polled /next: the app never passed its readiness check (see the \
             adapter's 'app is not ready' lines; check AWS_LWA_PORT and AWS_LWA_READINESS_CHECK_PATH)"
                .into()
        } else {
            "every worker of the function stayed busy with other invocations \
             (AWS_LAMBDA_MAX_CONCURRENCY lets more run at once)"
                .into()
        }
    }
}

/// A cheap, cloneable handle to queue invocations.
#[derive(Clone)]
pub struct Invoker {
    pub(super) invocations: Arc<Invocations>,
}

impl Invoker {
    /// Queues an invocation; its progress arrives through the returned [`Pending`].
    pub fn submit(&self, event: Vec<u8>, options: InvokeOptions) -> Pending {
        let (tx, rx) = crossbeam_channel::unbounded();
        let request_id = options.request_id.clone().unwrap_or_else(new_id);
        let cancelled = Arc::new(AtomicBool::new(false));
        let pending = Pending {
            request_id: request_id.clone(),
            deliveries: rx,
            cancelled: cancelled.clone(),
            invocations: self.invocations.clone(),
            queue_until: Instant::now() + options.queue_wait,
            queue_wait: options.queue_wait,
            timeout: options.timeout,
            deadline: None,
        };
        // Queued under the lock `fail` drains the queue with: a submit racing a failure is
        // either failed here or drained there.
        let failure = lock(&self.invocations.failure);
        match &*failure {
            Some(error) => {
                let _ = tx.send(Err(error.clone()));
            }
            None => {
                // The receiver lives in `invocations`, so the send cannot fail.
                let _ = self.invocations.queue_tx.send(Queued {
                    request_id,
                    event,
                    options,
                    deliveries: tx,
                    cancelled,
                });
            }
        }
        pending
    }

    /// Queues an invocation and waits (bounded) for the complete post.
    pub fn invoke(&self, event: &[u8], options: InvokeOptions) -> Result<Posted, InvokeError> {
        self.submit(event.to_vec(), options).wait()
    }

    /// See [`Invocations::fail`].
    pub fn fail(&self, error: InvokeError) {
        self.invocations.fail(error);
    }
}

/// One submitted invocation.
pub struct Pending {
    pub request_id: String,
    deliveries: Receiver<Result<Delivery, InvokeError>>,
    cancelled: Arc<AtomicBool>,
    invocations: Arc<Invocations>,
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
            Ok(Ok(Delivery::Started { deadline_ms })) => {
                let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
                self.deadline = Some(Instant::now() + left + DEADLINE_GRACE);
                Ok(Delivery::Started { deadline_ms })
            }
            Ok(delivery) => delivery,
            Err(RecvTimeoutError::Timeout) => {
                self.abandon();
                Err(match self.deadline {
                    Some(_) => InvokeError::TimedOut(self.timeout),
                    None => InvokeError::NotPickedUp {
                        waited: self.queue_wait,
                        why: self.invocations.why_waiting(),
                    },
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
        lock(&self.invocations.in_flight).remove(&self.request_id);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.abandon();
    }
}
