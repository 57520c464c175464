//! Response rules shared by every event source: whether the body goes to Lambda as text or
//! base64, and the `body`/`isBase64Encoded` pair of the response JSON.

use crate::app::response::ResponseHead;
use crate::json;

/// Lambda rejects a buffered response whose JSON is larger than this (DECISIONS 15).
pub const MAX_RESPONSE_BYTES: usize = 6_291_456;

/// The header with which the app chooses text or base64 itself: `text` as upstream (§4.2),
/// `binary` ours (DECISIONS 34).
pub const ENCODING_MARKER: &str = "x-lambda-http-content-encoding";

/// How the body goes into the response JSON, decided once per response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm<'a> {
    /// A JSON string, `isBase64Encoded: false`.
    Text(&'a str),
    /// Base64, `isBase64Encoded: true`.
    Base64(&'a [u8]),
}

impl BodyForm<'_> {
    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            BodyForm::Text(text) => text.len(),
            BodyForm::Base64(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The body as the headers ask for it: base64 when the app marked it `binary`, else upstream's
/// content-type rules (§4.2, with DECISIONS 11: content types compare case-insensitively and a
/// body that is not UTF-8 is always base64). UTF-8 is checked only for bodies the headers call
/// text, so a large binary body is never scanned.
pub fn body_form<'a>(head: &ResponseHead, body: &'a [u8]) -> BodyForm<'a> {
    if marked_binary(head) || !declared_text(head) {
        return BodyForm::Base64(body);
    }
    match std::str::from_utf8(body) {
        Ok(text) => BodyForm::Text(text),
        Err(_) => BodyForm::Base64(body),
    }
}

/// True when the body goes to Lambda as text.
pub fn is_text(head: &ResponseHead, body: &[u8]) -> bool {
    matches!(body_form(head, body), BodyForm::Text(_))
}

/// Whether the app marked the body binary: any `x-lambda-http-content-encoding: binary`
/// (case-insensitive). It wins over the content type and over a `text` marker.
pub fn marked_binary(head: &ResponseHead) -> bool {
    head.headers
        .iter()
        .any(|(name, value)| name == ENCODING_MARKER && is_binary_marker(value))
}

/// A marker value that asks for base64.
pub fn is_binary_marker(value: &[u8]) -> bool {
    value.trim_ascii().eq_ignore_ascii_case(b"binary")
}

/// What the headers say: text unless encoded, typed as something else, and not marked text.
fn declared_text(head: &ResponseHead) -> bool {
    if head.has_header("content-encoding") {
        return false;
    }
    let declared_text = match head.header("content-type") {
        None if head.has_header("content-type") => false,
        None => true,
        Some(content_type) => {
            let ct = content_type.trim_start().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            [
                "text",
                "application/json",
                "application/javascript",
                "application/xml",
                "application/yaml",
            ]
            .iter()
            .any(|p| ct.starts_with(p))
                || ["+xml", "+yaml", "+json"]
                    .iter()
                    .any(|s| essence.ends_with(s))
        }
    };
    let marked_text = head
        .header(ENCODING_MARKER)
        .is_some_and(|v| v.eq_ignore_ascii_case("text"));
    declared_text || marked_text
}

/// Appends `"body":...,"isBase64Encoded":...` for `body`.
pub fn push_body(out: &mut Vec<u8>, body: BodyForm) {
    out.extend_from_slice(b"\"body\":");
    match body {
        BodyForm::Text(text) => {
            json::push_str(out, text);
            out.extend_from_slice(b",\"isBase64Encoded\":false");
        }
        BodyForm::Base64(bytes) => {
            json::push_base64(out, bytes);
            out.extend_from_slice(b",\"isBase64Encoded\":true");
        }
    }
}

/// Size of the JSON a body will need, to reserve once.
pub fn body_capacity(body: BodyForm) -> usize {
    body.len().div_ceil(3) * 4 + 64
}

/// The headers of `head` grouped by name in first-appearance order, for the JSON maps.
pub fn grouped(head: &ResponseHead) -> Vec<(&str, Vec<&[u8]>)> {
    let mut groups: Vec<(&str, Vec<&[u8]>)> = Vec::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        match groups.iter_mut().find(|(n, _)| *n == name.as_str()) {
            Some((_, values)) => values.push(value),
            None => groups.push((name.as_str(), vec![value.as_slice()])),
        }
    }
    groups
}

/// Appends a `{"name":["value",...],...}` map of every header with all its values (REST v1
/// and ALB `multiValueHeaders`).
pub fn push_multi_value_headers(out: &mut Vec<u8>, head: &ResponseHead) {
    out.push(b'{');
    for (i, (name, values)) in grouped(head).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_str(out, name);
        out.extend_from_slice(b":[");
        for (j, value) in values.into_iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            json::push_lossy(out, value);
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Appends a `{"name":"first value",...}` map (ALB `headers`, which carries one value per name).
pub fn push_first_value_headers(out: &mut Vec<u8>, head: &ResponseHead) {
    out.push(b'{');
    for (i, (name, values)) in grouped(head).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_str(out, name);
        out.push(b':');
        json::push_lossy(out, values.first().copied().unwrap_or_default());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::for_test(200, headers)
    }

    #[test]
    fn text_or_binary() {
        let text = b"hello";
        for ct in [
            "text/plain",
            "text/html; charset=utf-8",
            "application/json",
            "Application/JSON",
            "application/json-seq",
            "application/javascript",
            "application/xml",
            "application/yaml",
            "image/svg+xml",
            "application/problem+json; charset=utf-8",
            "application/x+yaml",
        ] {
            assert!(is_text(&head(&[("content-type", ct)]), text), "{ct}");
        }
        for ct in ["application/octet-stream", "image/png", "application/pdf"] {
            assert!(!is_text(&head(&[("content-type", ct)]), text), "{ct}");
        }
        assert!(is_text(&head(&[]), text), "no content-type means text");
        assert!(
            !is_text(&head(&[]), b"A\xffB"),
            "but not when it is not UTF-8"
        );
        assert!(!is_text(
            &head(&[("content-type", "text/plain"), ("content-encoding", "gzip")]),
            text
        ));
        assert!(is_text(
            &head(&[
                ("content-type", "application/octet-stream"),
                ("x-lambda-http-content-encoding", "text")
            ]),
            text
        ));
        assert!(!is_text(
            &head(&[("content-type", "text/plain; charset=iso-8859-1")]),
            b"caf\xe9"
        ));
    }
}
