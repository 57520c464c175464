//! The head of an HTTP/1.1 response as both emulator servers write it.

/// `HTTP/1.1 {status} {reason}` and its CRLF.
pub fn status_line(status: u16) -> Vec<u8> {
    format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes()
}

/// Appends `name: value` lines. A name or value with CR, LF or NUL would split the response;
/// such a header is left out.
pub fn push_headers<'a>(out: &mut Vec<u8>, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (name, value) in headers {
        if name
            .bytes()
            .chain(value.bytes())
            .any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The reason phrase of common statuses (clients ignore it; it helps people reading logs).
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_that_would_split_the_response_is_left_out() {
        let mut out = status_line(404);
        push_headers(
            &mut out,
            [("x-a", "1"), ("x-b", "2\r\nx-evil: 1"), ("x-c", "3")],
        );
        assert_eq!(out, b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\nx-c: 3\r\n");
    }
}
