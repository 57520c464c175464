//! Why the app did not give a usable response; `error_type` is what Lambda shows.

use std::io;

/// Why the app did not give a usable response. `error_type` is what Lambda shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub kind: AppErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppErrorKind {
    /// Nothing listens on the app's port.
    ConnectionRefused,
    /// The app reset or closed the connection before or during the response.
    ConnectionClosed,
    /// The app did not answer (or connect) before the deadline.
    Timeout,
    /// The app answered something that is not a valid HTTP/1.1 response.
    InvalidResponse,
    /// The event's request cannot be written as HTTP/1.1 (e.g. tens of thousands of headers);
    /// the worker answers it as a malformed event, with a 400.
    InvalidRequest,
}

impl AppError {
    pub fn error_type(&self) -> &'static str {
        match self.kind {
            AppErrorKind::ConnectionRefused => "App.ConnectionRefused",
            AppErrorKind::ConnectionClosed => "App.ConnectionClosed",
            AppErrorKind::Timeout => "App.Timeout",
            AppErrorKind::InvalidResponse => "App.InvalidResponse",
            AppErrorKind::InvalidRequest => "Adapter.InvalidRequest",
        }
    }

    pub fn new(kind: AppErrorKind, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            message: message.into(),
        }
    }

    /// Classifies an I/O error met while talking to the app.
    pub fn from_io(e: &io::Error, doing: &str) -> AppError {
        let kind = match e.kind() {
            io::ErrorKind::ConnectionRefused => AppErrorKind::ConnectionRefused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => AppErrorKind::Timeout,
            io::ErrorKind::InvalidData => AppErrorKind::InvalidResponse,
            _ => AppErrorKind::ConnectionClosed,
        };
        AppError::new(kind, format!("{doing}: {e}"))
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message)
    }
}
