//! The request the app receives, as the event conversion decided it, and the protocol state
//! that reads its response.
//!
//! The head is written here, byte for byte as the conversion built it (method, target, header
//! names and values, all validated there, DECISIONS 9), with the body framed by
//! `content-length`, always. How the *response* is framed is ureq-proto's to decide, and all
//! it needs of the request for that is the method (RFC 9112 §6.3: a `HEAD` response has no
//! body; methods are case-sensitive, so a lowercase `head` is an extension method whose
//! response has one). So a `Call` is made from the method alone and driven past its own
//! request writing to where it reads the response; its bytes are not sent. (Building the whole request as an
//! `http::Request` instead costs a header map and a validated copy of every header value per
//! invocation, about a fifth of the adapter's instructions on a small request, to write bytes
//! the conversion has already checked.)

use ureq_proto::client::state::RecvResponse;
use ureq_proto::client::{Call, SendRequestResult};
use ureq_proto::http::{Method, Request};

use crate::app::error::{AppError, AppErrorKind};

/// What to send to the app. Built by the event conversion; header names are lowercase and
/// no name or value contains a byte HTTP forbids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppRequest {
    pub method: String,
    /// Origin-form target: `/path` or `/path?query`, already percent-encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl AppRequest {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request head and body exactly as written on the wire (tests compare these bytes).
    pub fn to_wire(&self) -> Vec<u8> {
        match self.prepare() {
            Ok((mut head, _)) => {
                head.extend_from_slice(&self.body);
                head
            }
            Err(e) => e.message.into_bytes(),
        }
    }

    /// The head as written on the wire, and the protocol state that reads the response.
    pub fn prepare(&self) -> Result<(Vec<u8>, Call<RecvResponse>), AppError> {
        Ok((self.head(), self.protocol_state()?))
    }

    /// The request line, the headers in the conversion's order, and `content-length`.
    fn head(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.target.len() + self.headers_len());
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(self.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    /// ureq-proto's state for a request of this method, moved past the writing of its own
    /// (unsent) head and body to where it reads the response.
    fn protocol_state(&self) -> Result<Call<RecvResponse>, AppError> {
        let invalid = |what: String| {
            AppError::new(
                AppErrorKind::InvalidRequest,
                format!("the request cannot be written: {what}"),
            )
        };
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| invalid(format!("invalid method {:?}", self.method)))?;
        // The default request is `GET /` with no headers: only its method is set.
        let mut request = Request::new(());
        *request.method_mut() = method;
        let mut call = Call::new(request).map_err(|e| invalid(e.to_string()))?;
        // Any token is a method to the app: a direct invoke may send anything.
        call.allow_non_standard_methods(true);
        let mut call = call.proceed();
        let mut unsent = [0u8; 256];
        while !call.can_proceed() {
            call.write(&mut unsent)
                .map_err(|e| invalid(e.to_string()))?;
        }
        match call.proceed() {
            Ok(Some(SendRequestResult::RecvResponse(call))) => Ok(call),
            // A method that takes a body by default (POST, PUT, PATCH): end that body.
            Ok(Some(SendRequestResult::SendBody(mut call))) => {
                call.write(&[], &mut unsent)
                    .map_err(|e| invalid(e.to_string()))?;
                call.proceed()
                    .ok_or_else(|| invalid("the protocol state did not end its body".into()))
            }
            Ok(Some(SendRequestResult::Await100(_))) | Ok(None) => {
                Err(invalid("unexpected protocol state".into()))
            }
            Err(e) => Err(invalid(e.to_string())),
        }
    }

    fn headers_len(&self) -> usize {
        self.headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)], body: &[u8]) -> AppRequest {
        AppRequest {
            method: method.into(),
            target: "/p?q=1".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn the_head_is_written_with_a_content_length_always() {
        let get = request("GET", &[("host", "a"), ("x-b", "1")], b"");
        assert_eq!(
            String::from_utf8(get.to_wire()).unwrap(),
            "GET /p?q=1 HTTP/1.1\r\nhost: a\r\nx-b: 1\r\ncontent-length: 0\r\n\r\n"
        );
        let post = request("POST", &[("host", "a")], b"hello");
        assert_eq!(
            String::from_utf8(post.to_wire()).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello"
        );
        assert!(post.prepare().is_ok() && get.prepare().is_ok());
    }

    #[test]
    fn any_method_token_and_a_body_on_any_method() {
        for method in ["head", "PROPFIND", "get", "HEAD", "DELETE"] {
            let r = request(method, &[("host", "a")], b"x");
            let wire = String::from_utf8(r.to_wire()).unwrap();
            assert!(
                wire.starts_with(&format!("{method} /p?q=1 HTTP/1.1\r\n")),
                "{wire}"
            );
            assert!(wire.ends_with("content-length: 1\r\n\r\nx"), "{wire}");
        }
    }

    #[test]
    fn a_long_header_line_still_fits() {
        let long = "v".repeat(100_000);
        let r = request("GET", &[("host", "a"), ("x-long", &long)], b"");
        let wire = r.to_wire();
        assert!(wire.len() > 100_000);
        assert!(wire.ends_with(b"content-length: 0\r\n\r\n"));
    }

    #[test]
    fn headers_keep_the_conversions_order() {
        let r = request("GET", &[("a", "1"), ("b", "2"), ("a", "3")], b"");
        assert_eq!(
            String::from_utf8(r.to_wire()).unwrap(),
            "GET /p?q=1 HTTP/1.1\r\na: 1\r\nb: 2\r\na: 3\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn a_method_that_is_no_token_is_an_error_not_a_panic() {
        let mut r = request("G T", &[("host", "a")], b"");
        assert_eq!(
            r.prepare().err().unwrap().kind,
            AppErrorKind::InvalidRequest
        );
        r.method = String::new();
        assert!(r.prepare().is_err());
    }
}
