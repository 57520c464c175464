//! Which of the app's response headers reach Lambda, for every source and both invoke modes.
//!
//! - Hop-by-hop headers never do (DECISIONS 23): they describe the app's connection to the
//!   adapter, not the response. ALB hands a `connection` header on to HTTP/2 clients, which
//!   then reject the whole response (upstream PR #603). The names a `Connection` header lists
//!   are hop-by-hop too (RFC 9110 §7.6.1).
//! - Nor do the names listed in `AWS_LWA_REMOVE_RESPONSE_HEADERS` (e.g. `server`).
//! - Nor does `x-lambda-http-content-encoding: binary`, the app's instruction to the adapter
//!   (DECISIONS 34); it is taken out where the body is encoded ([`super::encode_response`])
//!   or, for a stream, by [`remove_binary_marker`].

use crate::app::response::ResponseHead;

use super::response::{ENCODING_MARKER, is_binary_marker};

/// The hop-by-hop headers of RFC 9110 §7.6.1, plus `proxy-connection` (never standard, still
/// sent by some servers) and `keep-alive`.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

/// Removes from the app's response head every header that must not reach Lambda: the
/// hop-by-hop ones, those a `Connection` header names, and `remove` (lowercase names).
pub fn strip(head: &mut ResponseHead, remove: &[String]) {
    // Upstream removes `transfer-encoding` (§4.1) the way its header map does, which decides
    // the order of the remaining keys; doing the same keeps every other response byte
    // identical to upstream's. The rest are removed in place.
    head.remove_header_swapping("transfer-encoding");
    let named = connection_options(head);
    head.headers.retain(|(name, _)| {
        !HOP_BY_HOP.contains(&name.as_str()) && !named.contains(name) && !remove.contains(name)
    });
}

/// The header names listed in the `Connection` header(s), lowercase.
fn connection_options(head: &ResponseHead) -> Vec<String> {
    let mut names = Vec::new();
    for (_, value) in head.headers.iter().filter(|(name, _)| name == "connection") {
        for token in String::from_utf8_lossy(value).split(',') {
            let token = token.trim();
            if !token.is_empty() {
                names.push(token.to_ascii_lowercase());
            }
        }
    }
    names
}

/// Removes the `binary` marker; true when there was one.
pub fn remove_binary_marker(head: &mut ResponseHead) -> bool {
    let before = head.headers.len();
    head.headers
        .retain(|(name, value)| !(name == ENCODING_MARKER && is_binary_marker(value)));
    head.headers.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::for_test(200, headers)
    }

    #[test]
    fn hop_by_hop_and_listed_headers_are_removed_in_place() {
        let mut h = head(&[
            ("content-type", "text/plain"),
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("server", "gunicorn"),
            ("proxy-connection", "keep-alive"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("x-powered-by", "Flask"),
            ("set-cookie", "a=1"),
            ("x-custom", "kept"),
        ]);
        strip(&mut h, &["server".into(), "x-powered-by".into()]);
        assert_eq!(h.header_names(), ["content-type", "set-cookie", "x-custom"]);
    }

    #[test]
    fn transfer_encoding_goes_as_upstream_removes_it() {
        // Upstream's header map fills the removed name's slot with the last name.
        let mut h = head(&[
            ("transfer-encoding", "chunked"),
            ("content-type", "text/plain"),
            ("x-a", "1"),
            ("x-b", "2"),
        ]);
        strip(&mut h, &[]);
        assert_eq!(h.header_names(), ["x-b", "content-type", "x-a"]);
    }

    #[test]
    fn only_the_binary_marker_is_removed() {
        let mut h = head(&[
            ("x-lambda-http-content-encoding", "text"),
            ("x-lambda-http-content-encoding", " Binary "),
            ("content-type", "text/plain"),
        ]);
        assert!(remove_binary_marker(&mut h));
        assert_eq!(
            h.header_names(),
            ["x-lambda-http-content-encoding", "content-type"]
        );
        assert!(!remove_binary_marker(&mut h));
    }
}
