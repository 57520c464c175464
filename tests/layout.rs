//! The crate's shape, as the README's "How it works" draws it: no two source files import each
//! other (directly or around a longer loop), and no source file is longer than 500 lines
//! outside its `#[cfg(test)]` tests. A new import that closes a loop, or a file that grows past
//! the limit, fails here with the files named, so the house stays one a newcomer can draw.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

/// Every `.rs` file under `src/`, keyed by its module path (`app::client`, `lib` for the root).
fn source_files() -> BTreeMap<String, PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).unwrap().with_extension("");
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .filter(|c| c != "mod")
                    .collect();
                files.insert(parts.join("::"), path);
            }
        }
    }
    files
}

/// The code of a file before its unit tests, comment lines left out (a doc link is not an
/// import).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = match text.find("\n#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules of this crate that `code` (of the module `this`) refers to: the longest prefix
/// of every `crate::a::b::...` or `super::...` path that is a source file.
fn imports(this: &str, code: &str, modules: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let parent: Vec<&str> = {
        let mut parts: Vec<&str> = this.split("::").collect();
        // A `mod.rs` module's `super` is its parent; so is a plain file's.
        parts.pop();
        parts
    };
    let mut found = BTreeSet::new();
    let mut add_path = |segments: Vec<String>| {
        for len in (1..=segments.len()).rev() {
            let candidate = segments[..len].join("::");
            if modules.contains_key(&candidate) {
                if candidate != this {
                    found.insert(candidate);
                }
                return;
            }
        }
    };
    // Paths inside `use a::{b, c::{d}}` groups are expanded one level at a time.
    for statement in code.split(';') {
        for (prefix, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
            let mut rest = statement;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().last();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
                    .collect();
                let mut segments: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                let (head, group) = match path.split_once('{') {
                    Some((head, _)) => (head, true),
                    None => (path.as_str(), false),
                };
                segments.extend(
                    head.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
                if group {
                    // `use crate::a::{b, c}`: each member may itself be a module.
                    let inner = rest[rest.find('{').unwrap_or(0)..]
                        .trim_start_matches('{')
                        .split('}')
                        .next()
                        .unwrap_or("");
                    for member in inner.split(',') {
                        let member = member.trim().split(' ').next().unwrap_or("");
                        let mut with = segments.clone();
                        with.extend(
                            member
                                .split("::")
                                .filter(|s| !s.is_empty() && *s != "self")
                                .map(str::to_string),
                        );
                        add_path(with);
                    }
                } else {
                    add_path(segments);
                }
            }
        }
    }
    found
}

#[test]
fn no_source_file_is_longer_than_the_limit_outside_its_tests() {
    let mut too_long = Vec::new();
    for (module, path) in source_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = match text.find("\n#[cfg(test)]") {
            Some(at) => text[..at].lines().count(),
            None => text.lines().count(),
        };
        if lines > MAX_LINES {
            too_long.push(format!("{module} ({}): {lines} lines", path.display()));
        }
    }
    assert!(
        too_long.is_empty(),
        "split these files by job (at most {MAX_LINES} lines each outside tests):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let files = source_files();
    let graph: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(module, path)| (module.clone(), imports(module, &code(path), &files)))
        .collect();
    // A loop is a module that can reach itself; report each loop once, by its members.
    let mut loops = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((module, trail)) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                if next == start {
                    let mut members = trail.clone();
                    members.sort();
                    loops.insert(format!(
                        "{} (via {})",
                        members.join(", "),
                        trail.join(" -> ")
                    ));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(
        loops.is_empty(),
        "modules that import each other (move the shared piece into a file both can import):\n{}",
        loops.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_checker_sees_imports_and_loops() {
    // The checks above pass only if this one can tell an import when it sees one.
    let modules: BTreeMap<String, PathBuf> = ["a", "a::b", "a::c", "d"]
        .iter()
        .map(|m| (m.to_string(), PathBuf::new()))
        .collect();
    let found = imports(
        "a::b",
        "use super::c::Thing;\nuse crate::d::{self, x};\nlet y = crate::a::c::f();\n// notcrate::d",
        &modules,
    );
    assert_eq!(found, ["a::c", "d"].iter().map(|s| s.to_string()).collect());
    let grouped = imports("d", "use crate::a::{b::X, c};", &modules);
    assert_eq!(
        grouped,
        ["a::b", "a::c"].iter().map(|s| s.to_string()).collect()
    );
}
