//! The app side: the HTTP/1.1 client that talks to the app on loopback, the parsing of its
//! responses, and the readiness check that gates the start.
pub mod client;
pub mod error;
pub mod readiness;
pub mod request;
pub mod response;

pub use client::{AppClient, AppExchange};
pub use error::{AppError, AppErrorKind};
pub use request::AppRequest;
pub use response::ResponseHead;
