//! The SnapStart hook paths (`AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH`,
//! `AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH`) and the guard that keeps events away from them.
//!
//! A hook route changes the app's state (it drains or rebuilds connection pools), so only the
//! adapter may call it. Frameworks route many spellings of one path to the same handler, so
//! the guard compares canonical forms, not strings: both the configured path and the path an
//! event would send are percent-decoded (repeatedly, for frameworks that decode twice),
//! `\` counts as `/`, every segment loses its matrix parameters (`;x=1`, which Spring and
//! servlet containers drop before routing), empty and `.` segments vanish, `..` removes its
//! parent, and letters compare case-insensitively. A configured path the guard cannot cover
//! is refused at start-up: one whose decoded form still holds a `%` (frameworks disagree on
//! what it routes to), a malformed escape, or one that collapses to `/` (guarding the root
//! would refuse every request to `/`). Stricter than upstream in places (DECISIONS 28).

use std::borrow::Cow;

use percent_encoding::percent_decode;

use super::error::{ConfigError, invalid};
use super::values::malformed_escape;

/// Rounds of percent-decoding the guard applies to an event's path: enough for any framework
/// that decodes more than once, bounded so a hostile path cannot make it loop.
const DECODE_ROUNDS: usize = 4;

/// One configured hook path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookPath {
    /// The variable it came from, for messages.
    pub variable: &'static str,
    /// The path as it is sent to the app (`POST {path}`): percent-encoded as an event path
    /// would be, so the guard protects exactly the route the hook calls.
    pub path: String,
    /// Its canonical form, compared with each event's.
    canonical: Vec<u8>,
}

impl HookPath {
    /// Parses a hook variable; `Ok(None)` when unset or empty (the hook does not fire).
    pub fn parse(
        variable: &'static str,
        value: Option<String>,
    ) -> Result<Option<HookPath>, ConfigError> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if value
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#')
        {
            return Err(invalid(
                variable,
                &value,
                "expected a path without spaces, control characters, '?' or '#', such as '/snapstart/after'",
            ));
        }
        if let Some(at) = malformed_escape(value.as_bytes()) {
            return Err(invalid(
                variable,
                &value,
                &format!(
                    "the '%' at byte {at} does not start an escape (%XX); the adapter could not guard this route"
                ),
            ));
        }
        let path = request_path(&value);
        if percent_decode(path.as_bytes()).any(|b| b == b'%') {
            return Err(invalid(
                variable,
                &value,
                "its decoded form contains '%', which web frameworks route differently; the adapter could not guard every spelling of it",
            ));
        }
        let canonical = canonical(&path);
        if canonical == b"/" {
            return Err(invalid(
                variable,
                &value,
                "it collapses to the application root '/', which cannot be guarded; use a dedicated path such as '/snapstart/after'",
            ));
        }
        Ok(Some(HookPath {
            variable,
            path,
            canonical,
        }))
    }

    /// Whether an event's request `target` (`/path` or `/path?query`, as the app would receive
    /// it) reaches this hook's route.
    pub fn matches(&self, target: &str) -> bool {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        canonical(path) == self.canonical
    }
}

/// The path a hook `POST` is sent to, as an event path is written into a request line (the
/// `url` crate's `set_path`, upstream §3.3): `\\` is `/`, a leading `/` is added, `.` and `..`
/// segments are resolved, and non-ASCII bytes and `"` `<` `>` `` ` `` `{` `}` are
/// percent-encoded.
fn request_path(value: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let slashed = value.replace('\\', "/");
    let parts: Vec<&str> = slashed.trim_start_matches('/').split('/').collect();
    let last = parts.len().saturating_sub(1);
    for (i, segment) in parts.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    segments.pop();
                }
                if i == last {
                    segments.push("");
                }
            }
            _ => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(value.len() + 1);
    for &b in format!("/{}", segments.join("/")).as_bytes() {
        if b.is_ascii() && !b"\"<>`{}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical form of a path (see the module documentation).
pub fn canonical(path: &str) -> Vec<u8> {
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..DECODE_ROUNDS {
        // Every valid `%XX` decoded; a `%` that starts no escape stays as it is.
        match Cow::from(percent_decode(&bytes)) {
            Cow::Owned(decoded) => bytes = decoded,
            Cow::Borrowed(_) => break,
        }
    }
    bytes.make_ascii_lowercase();
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in bytes.split(|&b| b == b'/' || b == b'\\') {
        let segment = match segment.iter().position(|&b| b == b';') {
            Some(at) => segment.get(..at).unwrap_or_default(),
            None => segment,
        };
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for segment in &segments {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The two hooks, either or both unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapStartHooks {
    pub before_checkpoint: Option<HookPath>,
    pub after_restore: Option<HookPath>,
}

impl SnapStartHooks {
    /// The hook whose route an event's request `target` reaches, if any.
    pub fn guarding(&self, target: &str) -> Option<&HookPath> {
        [&self.before_checkpoint, &self.after_restore]
            .into_iter()
            .flatten()
            .find(|hook| hook.matches(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(value: &str) -> Result<Option<HookPath>, ConfigError> {
        HookPath::parse(
            "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH",
            Some(value.to_string()),
        )
    }

    #[test]
    fn unset_or_empty_means_no_hook() {
        assert_eq!(HookPath::parse("X", None).unwrap(), None);
        assert_eq!(hook("").unwrap(), None);
    }

    #[test]
    fn paths_the_guard_cannot_cover_are_refused() {
        for bad in [
            "/",
            "//",
            "/.",
            "/..",
            "/foo/..",
            "/%2f",
            "/%2F/",
            "/;x",
            "/snapstart/after%25",
            "/snapstart/after%",
            "/snapstart/%zz",
            "/a b",
            "/a?b",
            "/a#b",
            "/a\u{7f}",
        ] {
            let err = hook(bad).expect_err(bad);
            assert_eq!(err.variable, "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH");
            assert_eq!(err.value, bad);
        }
    }

    #[test]
    fn spellings_that_reach_the_route_are_guarded() {
        let hook = hook("/snapstart/after").unwrap().unwrap();
        assert_eq!(hook.path, "/snapstart/after");
        for target in [
            "/snapstart/after",
            "/snapstart/after?x=1",
            "/SnapStart/AFTER",
            "/snapstart//after",
            "//snapstart/after/",
            "/snapstart/./after",
            "/x/../snapstart/after",
            "/snapstart/%61fter",
            "/snapstart%2Fafter",
            "/snapstart%2fAFTER",
            "/snapstart/%2561fter",
            "/snapstart/after;jsessionid=1",
            "/snapstart;v=2/after",
            "/snapstart%5Cafter",
            "/%2e/snapstart/after",
            "/snapstart/x/%2E%2E/after",
        ] {
            assert!(hook.matches(target), "{target}");
        }
        for target in [
            "/snapstart/afters",
            "/snapstart",
            "/snapstart/after/x",
            "/api/snapstart/after",
            "/snapstart/after%",
            "/",
        ] {
            assert!(!hook.matches(target), "{target}");
        }
    }

    #[test]
    fn configured_spellings_are_sent_as_the_route_they_name() {
        let h = hook("/snapstart/%61fter").unwrap().unwrap();
        assert!(h.matches("/snapstart/after"));
        let h = hook("/snapstart\\after").unwrap().unwrap();
        assert_eq!(h.path, "/snapstart/after");
        let h = hook("snapstart/after").unwrap().unwrap();
        assert_eq!(h.path, "/snapstart/after");
        let h = hook("/a/./b/../after{1}").unwrap().unwrap();
        assert_eq!(h.path, "/a/after%7B1%7D");
        let h = hook("/réveil").unwrap().unwrap();
        assert_eq!(h.path, "/r%C3%A9veil");
        assert!(h.matches("/R%C3%A9VEIL"));
    }

    #[test]
    fn guarding_names_the_hook() {
        let hooks = SnapStartHooks {
            before_checkpoint: HookPath::parse("B", Some("/before".into())).unwrap(),
            after_restore: HookPath::parse("A", Some("/after".into())).unwrap(),
        };
        assert_eq!(hooks.guarding("/BEFORE").map(|h| h.variable), Some("B"));
        assert_eq!(hooks.guarding("/after/").map(|h| h.variable), Some("A"));
        assert_eq!(hooks.guarding("/other"), None);
        assert_eq!(SnapStartHooks::default().guarding("/after"), None);
    }
}
