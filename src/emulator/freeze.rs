//! Freezing the environment between invocations, as Lambda does.
//!
//! Lambda freezes the whole execution environment once the runtime has asked `/next` for an
//! event and none is waiting, and thaws it when one arrives. Nothing in it runs meanwhile:
//! timers, background threads and work after the response stop where they are, and an idle
//! keep-alive timeout that expired during the freeze fires the moment the app thaws, racing
//! the adapter's next request on that connection. The emulator does the same with `SIGSTOP`
//! and `SIGCONT` on the process groups of the adapter and the app (each child is the leader of
//! a group of its own, so what it started stops too).
//!
//! Why signals and not the cgroup v2 freezer Lambda itself uses: the freezer needs a cgroup the
//! user may write to, which a developer's shell seldom has; stop signals work for any user,
//! and what the app sees is the same (its threads stop, time goes on). A process that stops
//! itself with job control, or that moved to another process group, is not covered.

use std::sync::{Mutex, MutexGuard};

use super::process::signal_groups;

/// The process groups to freeze, and whether they are frozen now.
#[derive(Debug, Default)]
pub struct Freezer {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Empty until [`Freezer::attach`]: freezing is off.
    groups: Vec<u32>,
    frozen: bool,
    /// How many times the environment was frozen.
    freezes: u64,
}

impl Freezer {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns freezing on for these process groups (the adapter's and the app's).
    pub fn attach(&self, groups: &[u32]) {
        self.state().groups = groups.to_vec();
    }

    /// Whether freezing is on.
    pub fn attached(&self) -> bool {
        !self.state().groups.is_empty()
    }

    /// Stops every process in the groups (nothing when off or already frozen).
    pub fn freeze(&self) {
        let mut state = self.state();
        if state.groups.is_empty() || state.frozen {
            return;
        }
        signal_groups("STOP", &state.groups);
        state.frozen = true;
        state.freezes += 1;
    }

    /// Lets them run again (nothing when not frozen).
    pub fn thaw(&self) {
        let mut state = self.state();
        if state.frozen {
            signal_groups("CONT", &state.groups);
            state.frozen = false;
        }
    }

    /// Thaws and turns freezing off for good (the environment is shutting down).
    pub fn detach(&self) {
        self.thaw();
        self.state().groups.clear();
    }

    pub fn is_frozen(&self) -> bool {
        self.state().frozen
    }

    /// How many times the environment has been frozen so far.
    pub fn freezes(&self) -> u64 {
        self.state().freezes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Reads the state letter of `/proc/PID/stat` (T = stopped).
    fn state_of(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.chars().next().unwrap()
    }

    fn wait_for_state(pid: u32, want: char) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if state_of(pid) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn freezes_and_thaws_a_process_group() {
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let freezer = Freezer::default();
        freezer.freeze();
        assert!(!freezer.is_frozen(), "nothing to freeze before attach");
        freezer.attach(&[child.id()]);
        freezer.freeze();
        assert!(freezer.is_frozen());
        assert!(wait_for_state(child.id(), 'T'), "stopped");
        freezer.thaw();
        assert!(wait_for_state(child.id(), 'S'), "running again");
        freezer.freeze();
        freezer.detach();
        assert!(wait_for_state(child.id(), 'S'), "detach thaws");
        freezer.freeze();
        assert!(!freezer.is_frozen(), "no freezing after detach");
        assert_eq!(freezer.freezes(), 2);
        let _ = child.kill();
        let _ = child.wait();
    }
}
