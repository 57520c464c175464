//! Every `AWS_LWA_*` variable the configuration reads is in `lambda-adapter --help` and in the
//! README's configuration table, so a setting cannot be added without telling users.

use std::collections::BTreeSet;
use std::path::Path;

/// The `AWS_LWA_*` names quoted in the configuration's source.
fn read_by_config() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let code = text.split("\n#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in code.match_indices("\"AWS_LWA_") {
            let name: String = code[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

#[test]
fn every_variable_is_in_help_and_in_the_readme_table() {
    let names = read_by_config();
    assert!(names.len() >= 15, "{names:?}");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-adapter"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table_rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `AWS_"))
        .collect();
    let mut missing = Vec::new();
    for name in &names {
        // Removed upstream in 1.0; read only to warn that it is ignored (the README says so).
        let removed = name == "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS";
        if !removed && !help.contains(name.as_str()) {
            missing.push(format!("{name}: not in --help"));
        }
        let cell = format!("`{name}`");
        if !table_rows.iter().any(|row| row.contains(&cell)) {
            missing.push(format!("{name}: not in the README's configuration table"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
