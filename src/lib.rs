//! lambda-adapter: run any HTTP/1.1 web app on AWS Lambda.
//!
//! The adapter is a Lambda extension that acts as the function's runtime client. It turns each
//! Lambda event into an HTTP request to the app on loopback and the app's response back into
//! the Lambda response. It is synchronous: blocking threads, no async runtime.
//!
//! The data path, one module per step:
//! [`config`] (environment, once) → [`lambda_api`] (`next`, over [`runtime_transport`]) →
//! [`invocation`] (context) → [`event`] (event → [`app_client::AppRequest`]) →
//! [`app_client`] / [`app_response`] (the app) → [`compression`] ([`brotli_encoder`]) /
//! [`event`] (response JSON) or [`streaming`] → [`runtime_post`] (`response`/`error`).
//! [`worker`] strings them together; [`readiness`] gates the start; [`deadline_stream`]
//! bounds every socket wait by the invocation's deadline.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod deadline_stream;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod event;
pub mod json;
pub mod lambda;
pub mod logging;
pub mod reply;
pub mod worker;
