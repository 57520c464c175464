//! Shutting the environment down as Lambda does, so an app's `SIGTERM` handler and an
//! extension's `SHUTDOWN` handling can be tried on a laptop.
//!
//! Lambda's shutdown phase (Extensions API reference, "Shutdown phase"): for a function with
//! a registered external extension (lambda-adapter is one) it lasts at most 2,000 ms. The
//! runtime process gets `SIGTERM` and up to 300 ms to exit; then each extension registered for
//! the `SHUTDOWN` event gets it, as the answer to its `/extension/event/next`, with the
//! remainder of the 2,000 ms; whatever still runs at the limit gets `SIGKILL`. The app, which
//! `run.sh` or the image's command starts, is the runtime process here: its own process gets
//! the `SIGTERM` (so a server started without `exec` in `run.sh` will not see it, on Lambda
//! either), and its whole process group the `SIGKILL`.

use std::collections::HashMap;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::freeze::Freezer;
use super::now_ms;
use super::process::{Children, signal_groups, signal_process};

/// How long the runtime process has to exit after `SIGTERM` (with external extensions).
pub const RUNTIME_GRACE: Duration = Duration::from_millis(300);
/// The whole shutdown phase with one or more external extensions registered.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_millis(2_000);
/// How often waits re-check what they wait for.
const POLL: Duration = Duration::from_millis(10);

/// Which extensions asked for the `SHUTDOWN` event, and where each is with it.
#[derive(Debug, Default)]
pub struct ShutdownEvents {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Extension id → its progress, for extensions registered for `SHUTDOWN`.
    subscribed: HashMap<String, Progress>,
    /// The event, once the shutdown phase has begun.
    event: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Waiting,
    /// Sent as the answer to an `event/next`.
    Delivered,
    /// The extension asked `event/next` again after it: it is done.
    Done,
}

impl ShutdownEvents {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a registration: its body says which events the extension wants.
    pub fn registered(&self, id: &str, body: &str) {
        let wants_shutdown = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|body| body.get("events").and_then(|e| e.as_array()).cloned())
            .is_some_and(|events| {
                events.iter().any(|e| {
                    e.as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case("SHUTDOWN"))
                })
            });
        if wants_shutdown {
            self.state()
                .subscribed
                .insert(id.to_string(), Progress::Waiting);
        }
    }

    /// Begins the extensions' part of the shutdown; returns how many will get the event.
    pub fn begin(&self, reason: &str, deadline_ms: u64) -> usize {
        let mut state = self.state();
        state.event = Some(serde_json::json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": reason,
            "deadlineMs": deadline_ms,
        }));
        state.subscribed.len()
    }

    /// True once every extension registered for `SHUTDOWN` asked for its next event after it.
    pub fn all_done(&self) -> bool {
        self.state()
            .subscribed
            .values()
            .all(|p| *p == Progress::Done)
    }

    /// Blocks an extension's `event/next` until it has an event: `SHUTDOWN` once the phase
    /// has begun (for an extension registered for it), or a `spindown` for every extension
    /// when the whole API stops (`api_stopped`).
    pub fn next_event(&self, id: &str, api_stopped: &AtomicBool) -> serde_json::Value {
        loop {
            {
                let mut state = self.state();
                let event = state.event.clone();
                if let (Some(event), Some(progress)) = (event, state.subscribed.get_mut(id)) {
                    match progress {
                        Progress::Waiting => {
                            *progress = Progress::Delivered;
                            return event;
                        }
                        Progress::Delivered => *progress = Progress::Done,
                        Progress::Done => {}
                    }
                }
            }
            if api_stopped.load(Ordering::SeqCst) {
                return serde_json::json!({
                    "eventType": "SHUTDOWN",
                    "shutdownReason": "spindown",
                    "deadlineMs": now_ms() + SHUTDOWN_LIMIT.as_millis() as u64,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs the shutdown phase on `children`: thaw, `SIGTERM` to the app, `SHUTDOWN` to the
/// extensions registered for it, `SIGKILL` to what is left at the limit. `why` is for the
/// terminal; `reason` goes into the event (`spindown`, `timeout`, `failure`).
pub fn shut_down(
    freezer: &Freezer,
    events: &ShutdownEvents,
    children: &mut Children,
    why: &str,
    reason: &str,
) {
    freezer.detach();
    let start = Instant::now();
    let deadline_ms = now_ms() + SHUTDOWN_LIMIT.as_millis() as u64;
    let app = children.app.id();
    eprintln!(
        "lambda-emulator: shutting down ({why}): SIGTERM to the app, then SHUTDOWN to the extensions registered for it, SIGKILL at {} ms",
        SHUTDOWN_LIMIT.as_millis()
    );
    signal_process("TERM", app);
    match wait_exit(&mut children.app, start + RUNTIME_GRACE) {
        Some(status) => eprintln!(
            "lambda-emulator: the app exited {} ms after SIGTERM ({status})",
            start.elapsed().as_millis()
        ),
        None => {
            eprintln!(
                "lambda-emulator: the app did not exit within {} ms of SIGTERM; SIGKILL, as Lambda does",
                RUNTIME_GRACE.as_millis()
            );
            signal_groups("KILL", &[app]);
        }
    }
    let subscribed = events.begin(reason, deadline_ms);
    if subscribed > 0 {
        let limit = start + SHUTDOWN_LIMIT;
        while !events.all_done() && Instant::now() < limit {
            std::thread::sleep(POLL);
        }
        if !events.all_done() {
            eprintln!(
                "lambda-emulator: an extension did not finish its SHUTDOWN within {} ms; SIGKILL",
                SHUTDOWN_LIMIT.as_millis()
            );
        }
    }
    signal_groups("KILL", &[children.adapter.id(), app]);
    children.stop();
    eprintln!(
        "lambda-emulator: stopped after {} ms",
        start.elapsed().as_millis()
    );
}

fn wait_exit(child: &mut Child, until: Instant) -> Option<ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// `SIGINT` (Ctrl-C) and `SIGTERM` to the emulator, caught so it can run the shutdown phase
/// instead of dying; a second one ends it at once (the watchdog then stops the children).
pub struct Signals {
    received: Arc<AtomicUsize>,
}

impl Signals {
    /// `SIGINT`, what Ctrl-C sends, as [`Signals::received`] reports it.
    pub const INTERRUPT: i32 = signal_hook::consts::SIGINT;

    pub fn catch() -> Result<Signals, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let received = Arc::new(AtomicUsize::new(0));
        let any = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as the previous signal left it.
            signal_hook::flag::register_conditional_default(signal, any.clone())
                .and_then(|_| signal_hook::flag::register(signal, any.clone()))
                .and_then(|_| {
                    signal_hook::flag::register_usize(signal, received.clone(), signal as usize)
                })
                .map_err(|e| format!("cannot catch signal {signal}: {e}"))?;
        }
        Ok(Signals { received })
    }

    /// The signal caught, if any: `SIGINT` or `SIGTERM` by number.
    pub fn received(&self) -> Option<i32> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_goes_to_extensions_registered_for_it() {
        let events = Arc::new(ShutdownEvents::default());
        events.registered("a", r#"{"events":["INVOKE","SHUTDOWN"]}"#);
        events.registered("b", r#"{ "events": [] }"#);
        let stopped = Arc::new(AtomicBool::new(false));
        let waiting = {
            let (events, stopped) = (events.clone(), stopped.clone());
            std::thread::spawn(move || events.next_event("a", &stopped))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiting.is_finished(), "nothing before the shutdown");
        assert_eq!(events.begin("spindown", 42), 1);
        let event = waiting.join().unwrap();
        assert_eq!(event["eventType"], "SHUTDOWN");
        assert_eq!(event["shutdownReason"], "spindown");
        assert_eq!(event["deadlineMs"], 42);
        assert!(!events.all_done());
        // Its next event/next says it is done; it then waits until the API stops.
        let again = {
            let (events, stopped) = (events.clone(), stopped.clone());
            std::thread::spawn(move || events.next_event("a", &stopped))
        };
        let until = Instant::now() + Duration::from_secs(5);
        while !events.all_done() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(events.all_done());
        // "b" registered for nothing: no SHUTDOWN, until the API itself stops.
        let b = {
            let (events, stopped) = (events.clone(), stopped.clone());
            std::thread::spawn(move || events.next_event("b", &stopped))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!b.is_finished());
        stopped.store(true, Ordering::SeqCst);
        assert_eq!(b.join().unwrap()["eventType"], "SHUTDOWN");
        assert_eq!(again.join().unwrap()["eventType"], "SHUTDOWN");
    }
}
