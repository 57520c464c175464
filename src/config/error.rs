//! A configuration value the adapter refuses to start with.

use std::fmt;

/// A configuration value the adapter refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn invalid(variable: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
