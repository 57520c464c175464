//! `AWS_LWA_ERROR_STATUS_CODES`: the app answered a status the user lists as an error, so the
//! invocation is answered with `/error` (`App.ErrorStatus`) instead of a response.
//!
//! The `errorMessage` is upstream's JSON text, `{"statusCode":500,"body":"..."}`, which apps
//! and tools parse (DECISIONS 13): the body as text when it is UTF-8, else base64 with
//! `"isBase64Encoded":true`. That text is itself a string inside the posted document, so each
//! body character is escaped twice: a quote costs 4 bytes, a newline 3, a control byte 7.
//! The whole document stays within Lambda's 6 MB payload limit: the longest start of the body
//! whose doubly escaped form fits is kept, and a cut body says so in the message itself,
//! `"bodyTruncated":true,"bodyBytes":M,"keptBytes":K` (M is a lower bound when the body was
//! larger than the adapter reads, `MAX_BUFFERED_BODY`).

use crate::app::AppExchange;
use crate::event::response::MAX_RESPONSE_BYTES;
use crate::json;
use crate::lambda::error_json;
use crate::reply::Reply;
use crate::reply::buffered::MAX_BUFFERED_BODY;

pub const ERROR_TYPE: &str = "App.ErrorStatus";

/// Reads the body (a failure midway still reports the status, with what was read) and
/// builds the error.
pub fn error_status_reply(exchange: &mut AppExchange<'_>) -> Reply {
    let status = exchange.head.status;
    let mut body = Vec::new();
    let whole = exchange.read_body(&mut body, MAX_BUFFERED_BODY).is_ok();
    body.truncate(MAX_BUFFERED_BODY);
    let message = message(status, &body, whole, MAX_RESPONSE_BYTES);
    if message.kept < body.len() {
        log::error!(
            "the app answered status {status}, listed in AWS_LWA_ERROR_STATUS_CODES; its body of {} bytes is cut to {} to fit Lambda's payload limit",
            body.len(),
            message.kept
        );
    } else {
        log::error!("the app answered status {status}, listed in AWS_LWA_ERROR_STATUS_CODES");
    }
    Reply::error(ERROR_TYPE, message.text)
}

/// The `errorMessage`, and how many body bytes it kept.
pub struct Message {
    pub text: String,
    pub kept: usize,
}

/// The `errorMessage` for `status` and `body` such that the posted document is at most
/// `limit` bytes. `whole`: `body` is the app's whole body (else it is a start of it).
pub fn message(status: u16, body: &[u8], whole: bool, limit: usize) -> Message {
    let text = std::str::from_utf8(body).ok();
    let full = build(status, text, body, None);
    if error_json(ERROR_TYPE, &full).len() <= limit && whole {
        return Message {
            text: full,
            kept: body.len(),
        };
    }
    // The room left for the body once everything else is written, with the largest numbers
    // the note can hold.
    let overhead = error_json(
        ERROR_TYPE,
        &build(
            status,
            text.map(|_| ""),
            &[],
            Some((usize::MAX, usize::MAX)),
        ),
    )
    .len();
    let room = limit.saturating_sub(overhead);
    let kept = match text {
        Some(text) => text_prefix(text, room),
        // 4 base64 characters for every 3 bytes, none of them escaped.
        None => (room / 4 * 3).min(body.len()),
    };
    let kept_body = body.get(..kept).unwrap_or_default();
    let kept_text = text.and_then(|t| t.get(..kept));
    Message {
        text: build(status, kept_text, kept_body, Some((body.len(), kept))),
        kept,
    }
}

/// The JSON text, keys in upstream's order: the body as `text` when given, else base64; with
/// the truncation note.
fn build(status: u16, text: Option<&str>, body: &[u8], cut: Option<(usize, usize)>) -> String {
    let mut out = Vec::with_capacity(64 + body.len() * 4 / 3);
    out.extend_from_slice(format!("{{\"statusCode\":{status},\"body\":").as_bytes());
    match text {
        Some(text) => json::push_str(&mut out, text),
        None => {
            json::push_base64(&mut out, body);
            out.extend_from_slice(b",\"isBase64Encoded\":true");
        }
    }
    if let Some((total, kept)) = cut {
        out.extend_from_slice(
            format!(",\"bodyTruncated\":true,\"bodyBytes\":{total},\"keptBytes\":{kept}")
                .as_bytes(),
        );
    }
    out.push(b'}');
    json::into_string(out)
}

/// The longest start of `text` (in bytes, at a character boundary) whose escaped-twice form
/// takes at most `room` bytes.
fn text_prefix(text: &str, room: usize) -> usize {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        let cost = match c {
            '"' | '\\' => 4,
            '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 3,
            c if (c as u32) < 0x20 => 7,
            c => c.len_utf8(),
        };
        if used + cost > room {
            return at;
        }
        used += cost;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn parse(message: &str) -> serde_json::Value {
        serde_json::from_str(message).unwrap()
    }

    #[test]
    fn small_bodies_are_upstreams_json() {
        let m = message(500, b"oops \"quoted\"", true, MAX_RESPONSE_BYTES);
        assert_eq!(m.text, r#"{"statusCode":500,"body":"oops \"quoted\""}"#);
        let m = message(502, &[0xff, 0], true, MAX_RESPONSE_BYTES);
        assert_eq!(
            parse(&m.text),
            serde_json::json!({"statusCode":502,"body":"/wA=","isBase64Encoded":true})
        );
    }

    #[test]
    fn the_posted_document_never_exceeds_the_limit() {
        let limit = 10_000;
        let worst: String = "\"\n\u{1}\\é".repeat(5_000);
        let binary: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8 | 0x80).collect();
        for body in [worst.as_bytes(), &binary[..], &[b'a'; 50_000][..]] {
            let m = message(500, body, true, limit);
            let posted = error_json(ERROR_TYPE, &m.text);
            assert!(posted.len() <= limit, "{} bytes", posted.len());
            assert!(
                posted.len() > limit - 64,
                "room wasted: {} bytes",
                posted.len()
            );
            let v = parse(&m.text);
            assert_eq!(v["bodyTruncated"], true);
            assert_eq!(v["bodyBytes"], body.len());
            assert_eq!(v["keptBytes"], m.kept);
            assert!(body.starts_with(&match v["isBase64Encoded"].as_bool() {
                Some(true) => STANDARD.decode(v["body"].as_str().unwrap()).unwrap(),
                _ => v["body"].as_str().unwrap().as_bytes().to_vec(),
            }));
        }
    }

    #[test]
    fn a_body_cut_while_reading_says_so_even_when_small() {
        let m = message(500, b"partial", false, MAX_RESPONSE_BYTES);
        let v = parse(&m.text);
        assert_eq!(v["body"], "partial");
        assert_eq!(v["bodyTruncated"], true);
    }
}
