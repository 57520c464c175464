//! Non-HTTP events (SQS, SNS, S3, EventBridge, Kinesis, DynamoDB, Bedrock agents, ...): the
//! raw event bytes are posted to `AWS_LWA_PASS_THROUGH_PATH` as JSON, and the app's body is
//! the invocation's result.

use crate::app::AppRequest;
use crate::app::response::ResponseHead;
use crate::config::Config;
use crate::lambda::invocation::Invocation;

use super::headers::Headers;
use super::request;

/// `POST {pass_through_path}` with the event exactly as Lambda delivered it.
pub fn to_request(
    raw: &str,
    config: &Config,
    invocation: &Invocation,
) -> Result<AppRequest, String> {
    let mut headers = Headers::with_capacity(1);
    headers.push("content-type", "application/json")?;
    let headers = headers.finish(config, invocation, "null");
    Ok(request::app_request(
        "POST".to_string(),
        config.pass_through_path.clone(),
        None,
        headers,
        raw.as_bytes().to_vec(),
    ))
}

/// The app's body is the result (DECISIONS 14): JSON byte for byte as the app sent it
/// (no key re-sorting, no number rewriting), other UTF-8 text as a JSON string, an empty or
/// binary body `null`.
/// The app's status and headers are not part of a pass-through result.
pub fn encode_response(_head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(body) else {
        return b"null".to_vec();
    };
    if text.trim().is_empty() {
        return b"null".to_vec();
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(text.len() + 2);
    crate::json::push_str(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results() {
        let head = ResponseHead::default();
        assert_eq!(
            encode_response(&head, br#"{"b":2,"a":12345678901234567890123}"#),
            br#"{"b":2,"a":12345678901234567890123}"#
        );
        assert_eq!(encode_response(&head, b" [1, 2]\n"), b" [1, 2]\n");
        assert_eq!(encode_response(&head, b"ok"), br#""ok""#);
        assert_eq!(encode_response(&head, b""), b"null");
        assert_eq!(encode_response(&head, b"\xff\xfe"), b"null");
    }
}
