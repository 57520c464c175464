//! The adapter's metrics in CloudWatch Embedded Metric Format (`AWS_LWA_ENABLE_METRICS`).
//!
//! Lambda ships stdout to CloudWatch Logs, and CloudWatch turns a log line that is an EMF
//! document into metrics: no network call, no agent. One line per cold start and one per
//! invocation, each written to stdout with one write under stdout's lock, which the log lines
//! take too, so the two never interleave.
//!
//! Dimensions are few on purpose (each value combination is a billed custom metric):
//! `FunctionName`, `FunctionName`+`StatusClass`, and on an error line `FunctionName`+`ErrorType`.
//! The event source, the exact status and the request id are plain properties: searchable with
//! Logs Insights, free of metric cost.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::event::Source;
use crate::json;
use crate::lambda::invocation::Invocation;
use crate::reply::Reply;

/// What the worker noted about one invocation while handling it.
#[derive(Debug, Clone, Copy)]
pub struct Trace {
    /// When `/next` handed the invocation out.
    pub started: Instant,
    pub source: Option<Source>,
    /// When the request to the app began.
    pub app_started: Option<Instant>,
    /// When the app's response was complete (or failed), and its status if it had one.
    pub app_finished: Option<Instant>,
    pub app_status: Option<u16>,
}

impl Trace {
    pub fn start() -> Trace {
        Trace {
            started: Instant::now(),
            source: None,
            app_started: None,
            app_finished: None,
            app_status: None,
        }
    }

    pub fn app_started(&mut self) {
        self.app_started = Some(Instant::now());
    }

    /// The app's response is complete (`status`), or it failed (`None`).
    pub fn app_finished(&mut self, status: Option<u16>) {
        self.app_finished = Some(Instant::now());
        self.app_status = status;
    }

    /// The request could not be written, so the app was never asked: no app latency.
    pub fn app_not_asked(&mut self) {
        self.app_started = None;
        self.app_finished = None;
        self.app_status = None;
    }
}

/// What the invocation line reports about the answer, taken from the reply before it is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status the caller sees, when there is one.
    pub status: Option<u16>,
    pub error_type: Option<String>,
    /// The size of the buffered response JSON (streams are not counted).
    pub response_bytes: Option<usize>,
}

impl Outcome {
    pub fn of(reply: &Reply, trace: &Trace) -> Outcome {
        match reply {
            Reply::Response(body) => Outcome {
                // The status in the response JSON is what the caller gets, the adapter's own
                // 400 or 502 included; a pass-through response has none, so the app's counts.
                status: match trace.source {
                    Some(Source::PassThrough) => trace.app_status,
                    _ => status_in(body).or(trace.app_status),
                },
                error_type: None,
                response_bytes: Some(body.len()),
            },
            Reply::Error { error_type, .. } => Outcome {
                status: None,
                error_type: Some(error_type.clone()),
                response_bytes: None,
            },
            Reply::Streamed => Outcome {
                status: trace.app_status,
                error_type: None,
                response_bytes: None,
            },
        }
    }
}

/// `"statusCode":NNN` at the start of an HTTP source's response JSON.
fn status_in(body: &[u8]) -> Option<u16> {
    let rest = body.strip_prefix(b"{\"statusCode\":")?;
    let digits = rest.get(..3)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The metric writer; `None` from [`Metrics::new`] when metrics are off.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    function_name: String,
}

impl Metrics {
    pub fn new(config: &Config) -> Option<Metrics> {
        let metrics = config.metrics.as_ref()?;
        Some(Metrics {
            namespace: metrics.namespace.clone(),
            function_name: config.function.function_name.clone(),
        })
    }

    /// The cold-start line: how long the app took to pass its readiness check (`None` when
    /// async init gave up waiting), and whether async init is on.
    pub fn cold_start(&self, ready_after: Option<Duration>, async_init: bool) {
        let mut line = Line::new(self, &[&["FunctionName"]]);
        line.metric("ColdStarts", "Count", "1");
        if let Some(ready_after) = ready_after {
            line.metric("AppReadyTime", "Milliseconds", &millis(ready_after));
        }
        let incomplete = if ready_after.is_some() { "0" } else { "1" };
        line.metric("AsyncInitIncomplete", "Count", incomplete);
        line.property("AsyncInit", if async_init { "true" } else { "false" });
        write_line(&line.finish(self));
    }

    /// The invocation line, written once the invocation is over. `after_response` is how long
    /// the idle check held the next event, when it is on.
    pub fn invocation(
        &self,
        invocation: &Invocation,
        trace: &Trace,
        outcome: &Outcome,
        posted_at: Instant,
        after_response: Option<Duration>,
    ) {
        let status_class = match (&outcome.error_type, outcome.status) {
            (Some(_), _) => "Error",
            (None, Some(status)) => status_class(status),
            (None, None) => "None",
        };
        let with_error: &[&[&str]] = &[
            &["FunctionName"],
            &["FunctionName", "StatusClass"],
            &["FunctionName", "ErrorType"],
        ];
        let dimensions = match outcome.error_type {
            Some(_) => with_error,
            None => &with_error[..2],
        };
        let mut line = Line::new(self, dimensions);
        line.metric("Invocations", "Count", "1");
        let total = posted_at.saturating_duration_since(trace.started);
        let app = match (trace.app_started, trace.app_finished) {
            (Some(start), Some(end)) => Some(end.saturating_duration_since(start)),
            _ => None,
        };
        if let Some(app) = app {
            line.metric("AppLatency", "Milliseconds", &millis(app));
        }
        let overhead = total.saturating_sub(app.unwrap_or_default());
        line.metric(
            "AdapterOverhead",
            "Microseconds",
            &overhead.as_micros().to_string(),
        );
        if let Some(bytes) = outcome.response_bytes {
            line.metric("ResponseBytes", "Bytes", &bytes.to_string());
        }
        if let Some(waited) = after_response {
            line.metric("AfterResponseWait", "Milliseconds", &millis(waited));
        }
        line.property("StatusClass", status_class);
        if let Some(error_type) = &outcome.error_type {
            line.property("ErrorType", error_type);
        }
        if let Some(status) = outcome.status {
            line.number("StatusCode", &status.to_string());
        }
        line.property("EventSource", source_name(trace.source));
        line.property("requestId", &invocation.request_id);
        write_line(&line.finish(self));
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn source_name(source: Option<Source>) -> &'static str {
    match source {
        Some(Source::RestV1) => "RestApi",
        Some(Source::HttpV2) => "HttpApi",
        Some(Source::Alb) => "ALB",
        Some(Source::LatticeV2 | Source::LatticeV1) => "VpcLattice",
        Some(Source::PassThrough) => "PassThrough",
        None => "Unknown",
    }
}

/// Milliseconds with microsecond precision, as a JSON number.
fn millis(d: Duration) -> String {
    format!("{}.{:03}", d.as_millis(), d.as_micros() % 1000)
}

/// One EMF document under construction: the metric definitions and the top-level members
/// (values and properties) are gathered apart and joined by [`Line::finish`].
struct Line {
    definitions: Vec<u8>,
    members: Vec<u8>,
    dimensions: Vec<u8>,
}

impl Line {
    fn new(metrics: &Metrics, dimension_sets: &[&[&str]]) -> Line {
        let mut dimensions = Vec::with_capacity(96);
        dimensions.push(b'[');
        for (i, set) in dimension_sets.iter().enumerate() {
            if i > 0 {
                dimensions.push(b',');
            }
            dimensions.push(b'[');
            for (j, name) in set.iter().enumerate() {
                if j > 0 {
                    dimensions.push(b',');
                }
                json::push_str(&mut dimensions, name);
            }
            dimensions.push(b']');
        }
        dimensions.push(b']');
        let mut line = Line {
            definitions: Vec::with_capacity(256),
            members: Vec::with_capacity(256),
            dimensions,
        };
        line.property("FunctionName", &metrics.function_name);
        line
    }

    /// A metric: its definition, and its value (a JSON number) at the top level.
    fn metric(&mut self, name: &str, unit: &str, value: &str) {
        if !self.definitions.is_empty() {
            self.definitions.push(b',');
        }
        self.definitions.extend_from_slice(b"{\"Name\":");
        json::push_str(&mut self.definitions, name);
        self.definitions.extend_from_slice(b",\"Unit\":");
        json::push_str(&mut self.definitions, unit);
        self.definitions.push(b'}');
        self.number(name, value);
    }

    /// A top-level string member (a dimension value or a plain property).
    fn property(&mut self, name: &str, value: &str) {
        self.members.push(b',');
        json::push_str(&mut self.members, name);
        self.members.push(b':');
        json::push_str(&mut self.members, value);
    }

    /// A top-level number member.
    fn number(&mut self, name: &str, value: &str) {
        self.members.push(b',');
        json::push_str(&mut self.members, name);
        self.members.push(b':');
        self.members.extend_from_slice(value.as_bytes());
    }

    /// The whole document, newline-terminated.
    fn finish(self, metrics: &Metrics) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            96 + self.dimensions.len() + self.definitions.len() + self.members.len(),
        );
        out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
        out.extend_from_slice(epoch_millis().to_string().as_bytes());
        out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
        json::push_str(&mut out, &metrics.namespace);
        out.extend_from_slice(b",\"Dimensions\":");
        out.extend_from_slice(&self.dimensions);
        out.extend_from_slice(b",\"Metrics\":[");
        out.extend_from_slice(&self.definitions);
        out.extend_from_slice(b"]}]}");
        out.extend_from_slice(&self.members);
        out.extend_from_slice(b"}\n");
        out
    }
}

fn epoch_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// One write of the whole line under stdout's lock (the logger takes the same lock), so a
/// log line can never land inside it; a line this short is one `write` on the pipe.
fn write_line(line: &[u8]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if out.write_all(line).and_then(|()| out.flush()).is_err() {
        // Nowhere to report it: stdout is where reports go.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics {
            namespace: "Ns".into(),
            function_name: "fn \"quoted\"".into(),
        }
    }

    #[test]
    fn a_line_is_an_emf_document() {
        let mut line = Line::new(&metrics(), &[&["FunctionName"], &["FunctionName", "X"]]);
        line.metric("A", "Count", "1");
        line.metric("B", "Milliseconds", &millis(Duration::from_micros(12_345)));
        line.property("X", "x");
        let text = line.finish(&metrics());
        assert!(text.ends_with(b"}\n") && !text[..text.len() - 1].contains(&b'\n'));
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["FunctionName"], ["FunctionName", "X"]])
        );
        assert_eq!(directive["Metrics"][1]["Unit"], "Milliseconds");
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(doc["FunctionName"], "fn \"quoted\"");
        assert_eq!(doc["A"], 1);
        assert_eq!(doc["B"].as_f64().unwrap(), 12.345);
    }

    #[test]
    fn statuses_come_from_the_response_json() {
        assert_eq!(status_in(br#"{"statusCode":502,"headers":{}}"#), Some(502));
        assert_eq!(status_in(br#"{"batchItemFailures":[]}"#), None);
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(503), "5xx");
    }
}
