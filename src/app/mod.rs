//! The app side: the HTTP/1.1 client that talks to the app on loopback, and the readiness check
//! that gates the start.
//!
//! The HTTP/1.1 protocol (how a request is written, whether a response has a body and where it
//! ends, whether the connection may carry another request) is ureq-proto's, a maintained
//! sans-IO implementation; the files here do the I/O around it:
//!
//! - [`request`]: the [`AppRequest`] the event conversion builds, and its head.
//! - [`send`]: writing head and body, watching for an early answer.
//! - [`response`]: the response head, and the framing rules added to ureq-proto's.
//! - [`body`]: the body, with the chunk-size grammar checked.
//! - [`buffer`], [`connection`]: unused input, and one connection with its reuse checks.
//! - [`client`]: one connection per worker, its reuse and retry rules ([`AppClient`]).
//! - [`readiness`]: the start-up check.
//! - [`error`]: the named errors an invocation gets when the app fails.
pub mod body;
pub mod buffer;
pub mod client;
pub mod connection;
pub mod error;
pub mod readiness;
pub mod request;
pub mod response;
pub mod send;

pub use client::{AppClient, AppExchange};
pub use error::{AppError, AppErrorKind};
pub use request::AppRequest;
pub use response::ResponseHead;
