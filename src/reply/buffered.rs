//! A buffered reply: the response JSON within Lambda's payload limit.

use crate::app::ResponseHead;
use crate::event::{self, Source, response::MAX_RESPONSE_BYTES};
use crate::reply::Reply;

/// Largest app body read in buffered mode; bigger can never fit Lambda's 6 MB, even compressed
/// well, and reading it all would only waste memory.
pub const MAX_BUFFERED_BODY: usize = 64 * 1024 * 1024;

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
