//! PLACEHOLDER: being implemented.

use crate::app_client::AppRequest;
use crate::app_response::ResponseHead;
use crate::config::Config;
use crate::invocation::Invocation;

pub fn to_request(_raw: &str, _config: &Config, _invocation: &Invocation) -> Result<AppRequest, String> {
    Err("this event source is not supported yet".to_string())
}

pub fn encode_response(head: &ResponseHead, body: &[u8]) -> Vec<u8> {
    super::http_v2::encode_response(head, body)
}
