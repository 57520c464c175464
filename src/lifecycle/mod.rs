//! Beyond one invocation: what happens after the response, and what the adapter reports.
//!
//! - [`after_response`]: the idle check that holds the next `/next` until the app's work
//!   after the response is done (`AWS_LWA_IDLE_CHECK_PATH`).
//! - [`metrics`]: a CloudWatch Embedded Metric Format line per cold start and per invocation
//!   (`AWS_LWA_ENABLE_METRICS`).
pub mod after_response;
pub mod metrics;
