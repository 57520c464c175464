//! lambda-adapter: run any HTTP/1.1 web app on AWS Lambda.
//!
//! The adapter is a Lambda extension that acts as the function's runtime client. It turns each
//! Lambda event into an HTTP request to the app on loopback and the app's response back into
//! the Lambda response. It is synchronous: blocking threads, no async runtime.
//!
//! # The map
//!
//! The modules are grouped by side; an arrow is "uses". Nothing points back up.
//!
//! ```text
//!                      worker  (one invocation, top to bottom)
//!        ┌───────────────┬──────┴───────┬───────────────┐
//!        ▼               ▼              ▼               ▼
//!     lambda/ ◄─────── event/ ──────► app/ ◄────────── reply/
//!   Lambda's APIs    the conversion   the app      what goes back
//!                                          (reply/ also uses event/ and lambda/)
//!        └───────────────┴──────┬───────┴───────────────┘
//!                               ▼
//!             config, deadline_stream, json, logging   (leaves)
//! ```
//!
//! - [`lambda`]: the Extensions API (registration), the Runtime API's `/next` and the
//!   [`lambda::invocation`] context it hands out, and the posts that answer.
//! - [`event`]: which source an event is, the [`app::AppRequest`] it becomes, and the response
//!   JSON each source expects back.
//! - [`app`]: the keep-alive connection to the app, the framing of its responses, readiness.
//! - [`reply`]: the buffered response JSON (with [`reply::compression`]) or the streamed one.
//! - [`worker`] strings them together: `next` → event → app → reply → post. `main.rs` starts
//!   the workers once [`config`] is read and the app is ready, and under SnapStart once
//!   [`snap_start`] has played the checkpoint and the restore.
//! - [`lifecycle`] (used by the worker, opt-in): the idle check that lets the app's work after
//!   the response finish before the next `/next`, and the metrics in Embedded Metric Format.
//! - [`deadline_stream`] bounds every socket wait by the invocation's deadline; [`json`] writes
//!   the JSON of the hot path; [`logging`] is `AWS_LAMBDA_LOG_LEVEL` / `_FORMAT`.
//! - [`emulator`] (feature `emulator`): a local Lambda for development and tests.
//!
//! `tests/layout.rs` keeps this shape: no two modules import each other, no file over 500
//! lines outside its tests.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod deadline_stream;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod event;
pub mod json;
pub mod lambda;
pub mod lifecycle;
pub mod logging;
pub mod reply;
pub mod snap_start;
pub mod worker;
