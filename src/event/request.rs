//! The request the app receives, assembled from its parts: the body decoded, the target
//! joined. The parts' own rules are in [`super::target`], [`super::headers`] and [`super::maps`].
//!
//! Every rule that can reject input returns `Err(message)`; the caller answers it with a 400
//! in the event's own response format (DECISIONS 2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::app::AppRequest;

/// The request body: the event's text as UTF-8 bytes, or decoded from base64 (standard
/// alphabet, canonical padding).
pub fn body(body: Option<&str>, is_base64: bool) -> Result<Vec<u8>, String> {
    match body {
        None => Ok(Vec::new()),
        Some(text) if is_base64 => STANDARD
            .decode(text)
            .map_err(|e| format!("isBase64Encoded is true but the body is not valid base64 ({e})")),
        Some(text) => Ok(text.as_bytes().to_vec()),
    }
}

/// Assembles the request. `target` is the encoded path plus `?query` when there is one.
pub fn app_request(
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> AppRequest {
    let target = match query {
        Some(q) if !q.is_empty() => {
            let mut t = path;
            t.push('?');
            t.push_str(&q);
            t
        }
        _ => path,
    };
    AppRequest {
        method,
        target,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(body(Some("aGk="), true).unwrap(), b"hi");
        assert!(body(Some("aGk"), true).is_err(), "unpadded");
        assert!(body(Some("a G k="), true).is_err());
        assert_eq!(body(Some("héllo"), false).unwrap(), "héllo".as_bytes());
        assert_eq!(body(None, true).unwrap(), b"");
    }
}
