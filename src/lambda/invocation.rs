//! One invocation as the Runtime API handed it out: the event bytes and the context from the
//! `/next` response headers. Missing or malformed context never aborts (DECISIONS 3): a
//! sensible default is used and the problem is listed in `warnings`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::FunctionEnv;
use crate::json;
use crate::lambda::context::{ClientContext, CognitoIdentity};

/// How long an invocation may run when the Runtime API gave no usable deadline: Lambda's
/// longest function timeout.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(900);

/// Time kept back from the deadline for the adapter's own last step of an invocation (posting
/// the answer, asking `/next`), so that it still reaches Lambda before Lambda stops it.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// Epoch milliseconds after which Lambda stops the invocation.
    pub deadline_ms: u64,
    pub invoked_function_arn: String,
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`, normalised to upstream's keys.
    pub client_context: Option<ClientContext>,
    /// `Lambda-Runtime-Cognito-Identity`, normalised to upstream's keys.
    pub identity: Option<CognitoIdentity>,
    pub tenant_id: Option<String>,
    pub event: Vec<u8>,
    /// Problems with the context headers, logged once with the request id.
    pub warnings: Vec<String>,
}

/// Header names of the `/next` response.
pub mod header {
    pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
    pub const DEADLINE: &str = "lambda-runtime-deadline-ms";
    pub const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
    pub const TRACE_ID: &str = "lambda-runtime-trace-id";
    pub const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
    pub const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
    pub const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Invocation {
    /// Builds an invocation from the `/next` headers (`get` looks one up by lowercase name).
    /// `request_id` must already be known: without it nothing can be posted back.
    pub fn from_headers<'a>(
        request_id: String,
        get: impl Fn(&str) -> Option<&'a str>,
        event: Vec<u8>,
    ) -> Invocation {
        let mut warnings = Vec::new();
        let now = now_ms();
        let deadline_ms = match get(header::DEADLINE).map(|v| v.trim().parse::<u64>()) {
            Some(Ok(ms)) if ms > now => ms,
            Some(Ok(ms)) => {
                warnings.push(format!(
                    "Lambda-Runtime-Deadline-Ms {ms} is already past; allowing up to {} s",
                    DEFAULT_BUDGET.as_secs()
                ));
                now + DEFAULT_BUDGET.as_millis() as u64
            }
            Some(Err(_)) | None => {
                warnings.push(format!(
                    "Lambda-Runtime-Deadline-Ms is missing or not a number; allowing up to {} s",
                    DEFAULT_BUDGET.as_secs()
                ));
                now + DEFAULT_BUDGET.as_millis() as u64
            }
        };
        let invoked_function_arn = get(header::FUNCTION_ARN).unwrap_or_default().to_string();
        let trace_id = get(header::TRACE_ID)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let text = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let unusable =
            |label: &str, why: String| format!("{label} cannot be used ({why}); sending null");
        let client_context = text(header::CLIENT_CONTEXT).and_then(|text| {
            ClientContext::parse(text, &mut warnings).unwrap_or_else(|why| {
                warnings.push(unusable("Lambda-Runtime-Client-Context", why));
                None
            })
        });
        let identity = text(header::COGNITO_IDENTITY).and_then(|text| {
            CognitoIdentity::parse(text, &mut warnings).unwrap_or_else(|why| {
                warnings.push(unusable("Lambda-Runtime-Cognito-Identity", why));
                None
            })
        });
        let tenant_id = get(header::TENANT_ID)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        Invocation {
            request_id,
            deadline_ms,
            invoked_function_arn,
            trace_id,
            client_context,
            identity,
            tenant_id,
            event,
            warnings,
        }
    }

    /// Time left before the deadline (zero when past).
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.saturating_sub(now_ms()))
    }

    /// When the adapter's own waits for this invocation end: the deadline less
    /// [`DEADLINE_MARGIN`] (now, when that is already past).
    pub fn deadline_less_margin(&self) -> Instant {
        Instant::now() + self.remaining().saturating_sub(DEADLINE_MARGIN)
    }

    /// The `x-amzn-lambda-context` header value: upstream's serialised Context, field for field.
    pub fn lambda_context_json(&self, function: &FunctionEnv) -> String {
        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(b"{\"request_id\":");
        json::push_str(&mut out, &self.request_id);
        out.extend_from_slice(b",\"deadline\":");
        out.extend_from_slice(self.deadline_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"invoked_function_arn\":");
        json::push_str(&mut out, &self.invoked_function_arn);
        out.extend_from_slice(b",\"xray_trace_id\":");
        json::push_opt(&mut out, self.trace_id.as_deref());
        out.extend_from_slice(b",\"client_context\":");
        match &self.client_context {
            Some(context) => context.push_json(&mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"identity\":");
        match &self.identity {
            Some(identity) => identity.push_json(&mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"tenant_id\":");
        json::push_opt(&mut out, self.tenant_id.as_deref());
        out.extend_from_slice(b",\"env_config\":{\"function_name\":");
        json::push_str(&mut out, &function.function_name);
        out.extend_from_slice(b",\"memory\":");
        out.extend_from_slice(function.memory.to_string().as_bytes());
        out.extend_from_slice(b",\"version\":");
        json::push_str(&mut out, &function.version);
        out.extend_from_slice(b",\"log_stream\":");
        json::push_str(&mut out, &function.log_stream);
        out.extend_from_slice(b",\"log_group\":");
        json::push_str(&mut out, &function.log_group);
        out.extend_from_slice(b"}}");
        // Only UTF-8 strings and JSON punctuation went in, so this never replaces anything.
        json::into_string(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(headers: &[(&str, &str)]) -> Invocation {
        let map: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Invocation::from_headers(
            "rid".into(),
            |name| map.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()),
            b"{}".to_vec(),
        )
    }

    #[test]
    fn missing_deadline_and_bad_json_warn_but_never_fail() {
        let inv = from(&[
            (header::CLIENT_CONTEXT, "{bad"),
            (header::COGNITO_IDENTITY, "nope"),
        ]);
        assert!(inv.remaining() > Duration::from_secs(800));
        assert!(inv.client_context.is_none() && inv.identity.is_none());
        assert_eq!(inv.warnings.len(), 3, "{:?}", inv.warnings);
    }

    #[test]
    fn context_json_has_upstream_shape() {
        let deadline = (now_ms() + 5000).to_string();
        let inv = from(&[
            (header::DEADLINE, &deadline),
            (
                header::FUNCTION_ARN,
                "arn:aws:lambda:us-east-1:1:function:f",
            ),
            (header::TRACE_ID, "Root=1-2"),
            (header::CLIENT_CONTEXT, r#"{"custom":{"a":"b"}}"#),
            (header::TENANT_ID, "t1"),
        ]);
        assert!(inv.warnings.is_empty());
        let f = FunctionEnv {
            function_name: "fn".into(),
            memory: 512,
            version: "$LATEST".into(),
            log_stream: "s".into(),
            log_group: "g".into(),
        };
        let json: serde_json::Value = serde_json::from_str(&inv.lambda_context_json(&f)).unwrap();
        assert_eq!(json["request_id"], "rid");
        assert_eq!(json["deadline"].as_u64().unwrap().to_string(), deadline);
        assert_eq!(json["xray_trace_id"], "Root=1-2");
        assert_eq!(json["client_context"]["custom"]["a"], "b");
        assert_eq!(json["client_context"]["client"]["appTitle"], "");
        assert_eq!(json["identity"], serde_json::Value::Null);
        assert_eq!(json["tenant_id"], "t1");
        assert_eq!(json["env_config"]["memory"], 512);
    }
}
