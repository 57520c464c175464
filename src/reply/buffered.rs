//! A buffered reply: the response JSON within Lambda's payload limit, or the error that
//! `AWS_LWA_ERROR_STATUS_CODES` asks for.

use crate::app::{AppExchange, ResponseHead};
use crate::event::{self, Source, response::MAX_RESPONSE_BYTES};
use crate::reply::Reply;

/// `AWS_LWA_ERROR_STATUS_CODES` matched: an `App.ErrorStatus` error that keeps the app's
/// status and body (DECISIONS 13).
pub fn error_status_reply(exchange: &mut AppExchange<'_>) -> Reply {
    let status = exchange.head.status;
    let mut body = Vec::new();
    // A failure reading the body still reports the status, with what was read.
    let _ = exchange.read_body(&mut body, MAX_RESPONSE_BYTES);
    let message = match std::str::from_utf8(&body) {
        Ok(text) => serde_json::json!({ "statusCode": status, "body": text }),
        Err(_) => {
            let mut encoded = Vec::new();
            crate::json::push_base64(&mut encoded, &body);
            let encoded = String::from_utf8_lossy(&encoded)
                .trim_matches('"')
                .to_string();
            serde_json::json!({ "statusCode": status, "body": encoded, "isBase64Encoded": true })
        }
    };
    log::error!("the app answered status {status}, listed in AWS_LWA_ERROR_STATUS_CODES");
    Reply::error("App.ErrorStatus", message.to_string())
}

/// Encodes the response, or a 502 naming the limit when it would exceed Lambda's payload
/// limit (DECISIONS 15).
pub fn encode_within_limit(source: Source, head: &ResponseHead, body: &[u8]) -> Reply {
    let json = event::encode_response(source, head, body);
    if json.len() <= MAX_RESPONSE_BYTES {
        return Reply::Response(json);
    }
    let message = format!(
        "The response is {} bytes as Lambda response JSON, over Lambda's limit of {MAX_RESPONSE_BYTES} bytes.",
        json.len()
    );
    log::error!("{message}");
    Reply::Response(event::adapter_response(source, 502, &message))
}
