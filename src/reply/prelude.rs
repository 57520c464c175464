//! The HTTP integration prelude of a streamed response: status, headers and cookies as JSON,
//! ended by 8 NUL bytes (upstream §5).

use crate::app::ResponseHead;
use crate::event::response::grouped;
use crate::json;

/// Content type of a streamed HTTP-integration response.
pub const CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";

/// Separates the prelude from the body.
pub const PRELUDE_END: [u8; 8] = [0; 8];

/// Given to the app's response when it has no content type (as upstream).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The HTTP-integration prelude, followed by the 8 NUL bytes that end it.
///
/// One value is a JSON string, repeated names an array, `set-cookie` goes to `cookies`, and a
/// missing content type becomes `application/octet-stream`, as upstream. Unlike upstream,
/// which drops every value that is not visible ASCII (leaving `[]`), values are sent as
/// UTF-8, like the buffered responses, with invalid bytes replaced.
pub fn prelude(head: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + head.headers.len() * 48);
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.extend_from_slice(b",\"headers\":{");
    let mut groups = grouped(head);
    // Removed as upstream's header map removes it, so the keys keep upstream's order.
    if let Some(at) = groups.iter().position(|(name, _)| *name == "set-cookie") {
        groups.swap_remove(at);
    }
    let mut first = true;
    for (name, values) in groups {
        if !first {
            out.push(b',');
        }
        first = false;
        json::push_str(&mut out, name);
        out.push(b':');
        match values.as_slice() {
            [one] => json::push_lossy(&mut out, one),
            many => {
                out.push(b'[');
                for (i, value) in many.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::push_lossy(&mut out, value);
                }
                out.push(b']');
            }
        }
    }
    if !head.has_header("content-type") {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"content-type\":\"");
        out.extend_from_slice(DEFAULT_CONTENT_TYPE.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"},\"cookies\":[");
    let cookies = head.headers.iter().filter(|(name, _)| name == "set-cookie");
    for (i, (_, value)) in cookies.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_lossy(&mut out, value);
    }
    out.extend_from_slice(b"]}");
    out.extend_from_slice(&PRELUDE_END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &[u8])]) -> ResponseHead {
        ResponseHead::for_test(status, headers)
    }

    fn without_nuls(prelude: &[u8]) -> &str {
        let (json, nuls) = prelude.split_at(prelude.len() - 8);
        assert_eq!(nuls, [0; 8]);
        std::str::from_utf8(json).unwrap()
    }

    #[test]
    fn prelude_shapes() {
        let h = head(
            201,
            &[
                ("content-type", b"text/plain"),
                ("x-a", b"1"),
                ("set-cookie", b"a=1; Path=/"),
                ("x-a", b"2"),
                ("content-length", b"5"),
                ("set-cookie", b"b=2"),
            ],
        );
        assert_eq!(
            without_nuls(&prelude(&h)),
            r#"{"statusCode":201,"headers":{"content-type":"text/plain","x-a":["1","2"],"content-length":"5"},"cookies":["a=1; Path=/","b=2"]}"#
        );
    }

    #[test]
    fn prelude_defaults_the_content_type() {
        assert_eq!(
            without_nuls(&prelude(&head(204, &[]))),
            r#"{"statusCode":204,"headers":{"content-type":"application/octet-stream"},"cookies":[]}"#
        );
        assert_eq!(
            without_nuls(&prelude(&head(200, &[("x", b"y")]))),
            r#"{"statusCode":200,"headers":{"x":"y","content-type":"application/octet-stream"},"cookies":[]}"#
        );
    }

    #[test]
    fn prelude_keeps_non_ascii_values() {
        let h = head(
            200,
            &[
                ("content-type", b"text/plain"),
                ("x-name", "caf\u{e9}".as_bytes()),
                ("x-raw", b"\xe9t\xe9"),
            ],
        );
        assert_eq!(
            without_nuls(&prelude(&h)),
            "{\"statusCode\":200,\"headers\":{\"content-type\":\"text/plain\",\"x-name\":\"caf\u{e9}\",\"x-raw\":\"\u{fffd}t\u{fffd}\"},\"cookies\":[]}"
        );
    }
}
