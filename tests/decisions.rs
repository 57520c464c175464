//! The numbered list of deliberate differences from upstream lives in the README's "Decisions"
//! section. Every `DECISIONS N` reference, in the README and in the source, must name a number
//! that list has, and every README reference must link to it: a user reading either can then
//! look the decision up. This fails with the references that do not resolve.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The numbers of the README's "## Decisions" list (`N. ...` items).
fn listed(readme: &str) -> BTreeSet<u32> {
    let section = readme
        .split("\n## Decisions\n")
        .nth(1)
        .expect("the README has a '## Decisions' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.split_once(". ")?;
            (!rest.is_empty()).then_some(())?;
            number.parse().ok()
        })
        .collect()
}

/// Every `DECISIONS N`, `DECISIONS N, M` and `DECISIONS N and M` in `text`: (numbers, offset).
fn references(text: &str) -> Vec<(Vec<u32>, usize)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("DECISIONS ") {
        let rest = &text[at + "DECISIONS ".len()..];
        let mut numbers = Vec::new();
        let mut tail = rest;
        loop {
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            numbers.push(digits.parse().unwrap());
            tail = &tail[digits.len()..];
            match ["and ", ", ", " and "]
                .iter()
                .find(|sep| tail.starts_with(**sep))
            {
                Some(sep) if tail[sep.len()..].starts_with(|c: char| c.is_ascii_digit()) => {
                    tail = &tail[sep.len()..];
                }
                _ => break,
            }
        }
        if !numbers.is_empty() {
            found.push((numbers, at));
        }
    }
    found
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

#[test]
fn every_decisions_reference_resolves_to_the_readme_list() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let listed = listed(&readme);
    assert!(listed.len() >= 27, "the list has {} items", listed.len());
    let mut unresolved = Vec::new();
    let mut check = |file: &str, text: &str, must_link: bool| {
        for (numbers, at) in references(text) {
            for n in &numbers {
                if !listed.contains(n) {
                    unresolved.push(format!(
                        "{file}:{}: DECISIONS {n} is not in the README's Decisions list",
                        line_of(text, at)
                    ));
                }
            }
            let linked = text[..at].ends_with('[') && {
                let after = &text[at..];
                after
                    .split_once(']')
                    .is_some_and(|(_, rest)| rest.starts_with("(#decisions)"))
            };
            if must_link && !linked {
                unresolved.push(format!(
                    "{file}:{}: DECISIONS {numbers:?} should link to the section: [DECISIONS N](#decisions)",
                    line_of(text, at)
                ));
            }
        }
    };
    check("README.md", &readme, true);
    for path in sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        check(&name, &text, false);
    }
    assert!(
        !readme.contains("DECISIONS.md"),
        "the README points at DECISIONS.md, which is not in the repository"
    );
    assert!(unresolved.is_empty(), "{}", unresolved.join("\n"));
}

#[test]
fn the_reference_parser_reads_lists() {
    let refs = references("see DECISIONS 2, 9 and DECISIONS 6 and 7; DECISIONS x; (DECISIONS 19)");
    let numbers: Vec<Vec<u32>> = refs.into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, [vec![2, 9], vec![6, 7], vec![19]]);
    let list = listed(
        "x\n## Decisions\n\nIntro.\n\n1. One.\n2. Two\n   wrapped 3. not\n10. Ten.\n## Next\n11. Eleven.\n",
    );
    assert_eq!(list.into_iter().collect::<Vec<_>>(), [1, 2, 10]);
}
