//! A failure talking to a Lambda API, and the error documents posted to it.

/// A failure talking to a Lambda API, with a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub message: String,
    /// The request may never have reached the API (a transport failure), so sending it again
    /// is safe; an answered request (any status) is not retried.
    pub transport: bool,
}

impl ApiError {
    pub fn answered(message: String) -> ApiError {
        ApiError {
            message,
            transport: false,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) fn transport_error(what: &str, url: &str, e: ureq::Error) -> ApiError {
    ApiError {
        message: format!("{what} ({url}) failed: {e}"),
        transport: true,
    }
}

/// An error type as it may stand in a header or trailer. The adapter's error types are fixed
/// ASCII names; anything else is dropped so the header stays valid regardless.
pub fn error_type_header(error_type: &str) -> String {
    error_type
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect()
}

/// `{"errorType":..,"errorMessage":..}`, the body of every error post.
pub fn error_json(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}
