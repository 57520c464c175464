//! The chunked framing of a streamed post: its request head, its chunks, and the terminating
//! chunk with the error trailers the Runtime API documents for a failed stream (DECISIONS 16).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::lambda::{USER_AGENT, error_json, error_type_header};
use crate::reply::prelude::CONTENT_TYPE;

pub const ERROR_TYPE_TRAILER: &str = "Lambda-Runtime-Function-Error-Type";

pub const ERROR_BODY_TRAILER: &str = "Lambda-Runtime-Function-Error-Body";

/// How a relayed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Complete,
    /// Ended with error trailers.
    Failed {
        error_type: String,
        message: String,
    },
}

/// The request line and headers of the streaming post, in upstream's order.
pub fn request_head(target: &str, authority: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\n\
         user-agent: {USER_AGENT}\r\n\
         transfer-encoding: chunked\r\n\
         lambda-runtime-function-response-mode: streaming\r\n\
         trailer: {ERROR_TYPE_TRAILER}\r\n\
         trailer: {ERROR_BODY_TRAILER}\r\n\
         content-type: {CONTENT_TYPE}\r\n\
         host: {authority}\r\n\r\n"
    )
    .into_bytes()
}

/// Appends one chunk (nothing for no data: an empty chunk would end the body).
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the terminating chunk, with the error trailers when the body failed. The error
/// body is the same `{"errorType","errorMessage"}` document an `/error` post carries.
pub fn push_last_chunk(out: &mut Vec<u8>, ending: &Ending) {
    out.extend_from_slice(b"0\r\n");
    if let Ending::Failed {
        error_type,
        message,
    } = ending
    {
        let body = STANDARD.encode(error_json(error_type, message));
        let error_type = error_type_header(error_type);
        out.extend_from_slice(
            format!("{ERROR_TYPE_TRAILER}: {error_type}\r\n{ERROR_BODY_TRAILER}: {body}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_trailers() {
        let mut out = Vec::new();
        push_chunk(&mut out, b"");
        assert!(out.is_empty(), "no empty chunk: it would end the body");
        push_chunk(&mut out, &[b'x'; 26]);
        push_last_chunk(&mut out, &Ending::Complete);
        let mut expected = b"1A\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);

        let mut out = Vec::new();
        push_last_chunk(
            &mut out,
            &Ending::Failed {
                error_type: "App.Timeout".into(),
                message: "late".into(),
            },
        );
        let body = STANDARD.encode(r#"{"errorMessage":"late","errorType":"App.Timeout"}"#);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "0\r\nLambda-Runtime-Function-Error-Type: App.Timeout\r\nLambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
            )
        );
    }
}
