//! The app side: the HTTP/1.1 client that talks to the app on loopback, the parsing of its
//! responses, and the readiness check that gates the start.
pub mod client;
pub mod readiness;
pub mod response;
