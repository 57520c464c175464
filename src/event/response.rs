//! Response rules shared by every event source: whether the body goes to Lambda as text or
//! base64, and the `body`/`isBase64Encoded` pair of the response JSON.

use crate::app::response::ResponseHead;
use crate::json;

/// Lambda rejects a buffered response whose JSON is larger than this (DECISIONS 15).
pub const MAX_RESPONSE_BYTES: usize = 6_291_456;

/// True when the body goes to Lambda as text (upstream §4.2, with DECISIONS 11: content
/// types compare case-insensitively and a body that is not UTF-8 is always base64).
pub fn is_text(head: &ResponseHead, body: &[u8]) -> bool {
    declared_text(head) && std::str::from_utf8(body).is_ok()
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
        .header("x-lambda-http-content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("text"));
    declared_text || marked_text
}

/// Appends `"body":...,"isBase64Encoded":...` for `body`.
pub fn push_body(out: &mut Vec<u8>, head: &ResponseHead, body: &[u8]) {
    out.extend_from_slice(b"\"body\":");
    // UTF-8 is checked only for bodies the headers call text (a large body is scanned once).
    let text = if declared_text(head) {
        std::str::from_utf8(body).ok()
    } else {
        None
    };
    match text {
        Some(text) => {
            json::push_str(out, text);
            out.extend_from_slice(b",\"isBase64Encoded\":false");
        }
        _ => {
            json::push_base64(out, body);
            out.extend_from_slice(b",\"isBase64Encoded\":true");
        }
    }
}

/// Size of the JSON a body will need, to reserve once.
pub fn body_capacity(body: &[u8]) -> usize {
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
        ResponseHead {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            close: false,
        }
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
