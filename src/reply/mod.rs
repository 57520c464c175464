//! The reply: what goes back to Lambda for one invocation.
//!
//! - [`buffered`]: the whole response as one JSON document, within Lambda's payload limit;
//!   [`compression`] applies to it.
//! - [`error_status`]: the `/error` for a status listed in `AWS_LWA_ERROR_STATUS_CODES`.
//! - [`stream`]: the response relayed as it arrives (`response_stream`), in the wire format of
//!   [`prelude`] and [`chunked`].
pub mod buffered;
pub mod chunked;
pub mod compression;
pub mod error_status;
pub mod prelude;
pub mod stream;

/// What goes back to the Runtime API for one invocation.
pub enum Reply {
    /// A buffered response document.
    Response(Vec<u8>),
    /// An invocation error (`errorType`, `errorMessage`).
    Error { error_type: String, message: String },
    /// Already posted by the streaming writer.
    Streamed,
}

impl Reply {
    pub fn error(error_type: &str, message: impl Into<String>) -> Reply {
        Reply::Error {
            error_type: error_type.to_string(),
            message: message.into(),
        }
    }

    /// An app failure: logged, and reported under its own error type.
    pub fn app_failure(e: crate::app::AppError) -> Reply {
        log::error!("{e}");
        Reply::error(e.error_type(), e.message)
    }
}
