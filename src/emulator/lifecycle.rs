//! The execution environment's phases as the Runtime API sees them, shared between the
//! Runtime API's handlers and the `lambda-emulator` binary.
//!
//! An invocation lasts from the `/next` that hands it out to the runtime's next `/next` (work
//! after the response included): Lambda counts that time, and freezes the environment when the
//! runtime asks for another event and none is waiting. The Runtime API reports both moments
//! here ([`Lifecycle::poll_started`], [`Lifecycle::handed_out`]); the binary reads how long the
//! environment has been idle (`--max-idle`), and uses the [`Freezer`] and the
//! [`ShutdownEvents`] to shut it down.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::freeze::Freezer;
use super::shutdown::ShutdownEvents;

/// Freezing, shutdown events, and how long the environment has been idle.
#[derive(Debug, Default)]
pub struct Lifecycle {
    pub freezer: Freezer,
    pub shutdown: ShutdownEvents,
    activity: Mutex<Activity>,
}

#[derive(Debug, Default)]
struct Activity {
    /// Invocations handed out whose worker has not asked `/next` again.
    outstanding: usize,
    /// Since when nothing is outstanding (`None` before the first `/next`: init is not idle).
    idle_since: Option<Instant>,
}

impl Lifecycle {
    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A `/next` poll arrived: the worker's previous invocation (if any) is over. With nothing
    /// outstanding and no event waiting, the environment freezes (when freezing is on).
    pub fn poll_started(&self, event_waiting: bool) {
        let idle = {
            let mut activity = self.activity();
            activity.outstanding = activity.outstanding.saturating_sub(1);
            if activity.outstanding == 0 {
                activity.idle_since = Some(Instant::now());
            }
            activity.outstanding == 0
        };
        if idle && !event_waiting {
            self.freezer.freeze();
        }
    }

    /// An event was handed out: the environment thaws and is busy until the next poll.
    pub fn handed_out(&self) {
        self.freezer.thaw();
        let mut activity = self.activity();
        activity.outstanding += 1;
        activity.idle_since = None;
    }

    /// How long nothing has been running, or `None` while an invocation is (or before init
    /// is done).
    pub fn idle_for(&self) -> Option<Duration> {
        self.activity().idle_since.map(|since| since.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_from_the_poll_after_an_invocation_until_the_next_hand_out() {
        let lifecycle = Lifecycle::default();
        assert_eq!(lifecycle.idle_for(), None, "init is not idle");
        lifecycle.poll_started(false);
        assert!(lifecycle.idle_for().is_some());
        lifecycle.handed_out();
        assert_eq!(lifecycle.idle_for(), None);
        // Work after the response: the post is done but the worker has not polled yet.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(lifecycle.idle_for(), None);
        lifecycle.poll_started(false);
        assert!(lifecycle.idle_for().unwrap() < Duration::from_secs(1));
    }

    #[test]
    fn one_busy_worker_keeps_the_environment_busy() {
        let lifecycle = Lifecycle::default();
        lifecycle.poll_started(false);
        lifecycle.poll_started(false);
        lifecycle.handed_out();
        lifecycle.handed_out();
        lifecycle.poll_started(false);
        assert_eq!(lifecycle.idle_for(), None, "one invocation still runs");
        lifecycle.poll_started(false);
        assert!(lifecycle.idle_for().is_some());
    }
}
