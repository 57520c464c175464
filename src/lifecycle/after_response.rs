//! Work after the response (`AWS_LWA_IDLE_CHECK_PATH`).
//!
//! Lambda freezes the environment as soon as the runtime asks `/next` for another event, and
//! the adapter is that runtime. Work an app runs after its response (FastAPI's
//! `BackgroundTasks`, code after Express's `res.send`, a metrics flush) would freeze half done.
//! With an idle check configured the adapter posts the response first, so the caller has it at
//! once, then asks the app `GET {path}` until it answers `2xx` ("idle") before it asks for the
//! next event. `503` means "still busy, ask again"; the app may also hold its answer until it is
//! idle. Anything else is logged and taken as idle, so a wrong path costs a warning, not a
//! billed wait to the deadline on every invocation.
//!
//! The wait ends at the invocation's deadline, less `invocation::DEADLINE_MARGIN` to ask `/next`:
//! Lambda counts the time until `/next` as the invocation's, and an invocation that overruns
//! its timeout resets the environment.

use std::time::{Duration, Instant};

use crate::app::{AppClient, AppErrorKind, AppRequest};
use crate::config::Config;
use crate::lambda::invocation::Invocation;

/// The first pause between checks; it doubles up to [`MAX_INTERVAL`].
const FIRST_INTERVAL: Duration = Duration::from_millis(5);
const MAX_INTERVAL: Duration = Duration::from_millis(50);
/// The idle check's body is read (to keep the connection usable) and thrown away.
const MAX_ANSWER_BODY: usize = 64 * 1024;

/// What one answer to the idle check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Idle,
    Busy,
}

/// The configured idle check; the worker holds one when `AWS_LWA_IDLE_CHECK_PATH` is set.
#[derive(Debug, Clone)]
pub struct IdleCheck {
    request: AppRequest,
}

impl IdleCheck {
    /// `None` when the feature is off (unset, or Lambda Managed Instances).
    pub fn new(config: &Config) -> Option<IdleCheck> {
        let path = config.idle_check_path.as_ref()?;
        Some(IdleCheck {
            request: AppRequest {
                method: "GET".into(),
                target: path.clone(),
                headers: vec![
                    ("host".into(), config.app_authority()),
                    ("user-agent".into(), "lambda-adapter idle check".into()),
                ],
                body: Vec::new(),
            },
        })
    }

    /// Asks the app on `app` until it is idle or the invocation's deadline comes; returns how
    /// long the next event was held back.
    pub fn wait(&self, app: &mut AppClient, invocation: &Invocation) -> Duration {
        let started = Instant::now();
        // `/next` must go out before the deadline, with time for the Runtime API to see it.
        let deadline = invocation.deadline_less_margin();
        let mut interval = FIRST_INTERVAL;
        let mut checks = 0u32;
        loop {
            checks += 1;
            match self.ask(app, deadline) {
                Ok(Answer::Idle) => {
                    log::debug!(
                        "the app is idle after the response ({checks} checks, {} ms)",
                        started.elapsed().as_millis()
                    );
                    break;
                }
                Ok(Answer::Busy) => {}
                Err(WaitEnd::Deadline) => {
                    cut_by_deadline(started);
                    break;
                }
                Err(WaitEnd::Failed(why)) => {
                    log::warn!(
                        "idle check {}: {why}; taking the next event without waiting",
                        self.request.target
                    );
                    break;
                }
            }
            if Instant::now() + interval >= deadline {
                cut_by_deadline(started);
                break;
            }
            std::thread::sleep(interval);
            interval = (interval * 2).min(MAX_INTERVAL);
        }
        started.elapsed()
    }

    /// One check, bounded by `deadline`.
    fn ask(&self, app: &mut AppClient, deadline: Instant) -> Result<Answer, WaitEnd> {
        let mut exchange = app
            .send(&self.request, deadline)
            .map_err(|e| match e.kind {
                AppErrorKind::Timeout => WaitEnd::Deadline,
                _ => WaitEnd::Failed(e.to_string()),
            })?;
        let status = exchange.head.status;
        let mut body = Vec::new();
        // A body that fails to arrive only costs the connection; the status has been read.
        let _ = exchange.read_body(&mut body, MAX_ANSWER_BODY);
        match status {
            200..=299 => Ok(Answer::Idle),
            503 => Ok(Answer::Busy),
            other => Err(WaitEnd::Failed(format!(
                "answered {other}; expected 2xx when idle or 503 while busy"
            ))),
        }
    }
}

enum WaitEnd {
    Deadline,
    Failed(String),
}

fn cut_by_deadline(started: Instant) {
    log::warn!(
        "the app was still busy {} ms after the response when the invocation's deadline came; taking the next event, so Lambda freezes its unfinished work",
        started.elapsed().as_millis()
    );
}
