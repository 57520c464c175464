//! PLACEHOLDER: response compression (issue 4).

use crate::app_client::AppRequest;
use crate::app_response::ResponseHead;

/// The event's `accept-encoding`, kept before the request is sent.
pub fn accept_encoding(request: &AppRequest) -> Option<String> {
    request.header("accept-encoding").map(str::to_string)
}

/// Compresses `body` when the response qualifies; returns the (possibly new) body.
pub fn compress(
    _head: &mut ResponseHead,
    body: Vec<u8>,
    _accept_encoding: Option<&str>,
) -> Vec<u8> {
    body
}
