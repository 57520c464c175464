//! The request the app receives, as the event conversion decided it, and its head as
//! ureq-proto writes it.
//!
//! The head goes through ureq-proto's `Call` rather than being formatted here, so that the
//! same state machine that writes the request decides how its response is framed: a `HEAD`
//! request expects no body, an extension method such as `head` (lowercase) does (RFC 9110
//! methods are case-sensitive). The body is framed with `content-length`, always, and written
//! by the caller straight from the request (DECISIONS 9).

use ureq_proto::client::state::{RecvResponse, SendBody};
use ureq_proto::client::{Call, SendRequestResult};
use ureq_proto::http::{self, HeaderName, HeaderValue, Method, Request};

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

/// A request whose head is written: the protocol state that reads its response (after the
/// body, when there is one).
pub enum Prepared {
    /// The body (`content-length` bytes) is to be written next.
    Body(Call<SendBody>),
    /// No body: the response is next.
    NoBody(Call<RecvResponse>),
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

    /// Writes the head with ureq-proto and returns it with the state that follows.
    pub fn prepare(&self) -> Result<(Vec<u8>, Prepared), AppError> {
        let invalid = |what: String| {
            AppError::new(
                AppErrorKind::InvalidRequest,
                format!("the request cannot be written: {what}"),
            )
        };
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| invalid(format!("invalid method {:?}", self.method)))?;
        let mut builder = Request::builder().method(method).uri(self.target.as_str());
        let Some(headers) = builder.headers_mut() else {
            return Err(invalid(format!("invalid target {:?}", self.target)));
        };
        let too_many = |_| {
            invalid(format!(
                "{} headers are more than HTTP/1.1 can carry here",
                self.headers.len()
            ))
        };
        headers
            .try_reserve(self.headers.len() + 1)
            .map_err(too_many)?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| invalid(format!("invalid value of header {name}")))?;
            headers.try_append(name, value).map_err(too_many)?;
        }
        headers
            .try_append(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(self.body.len()),
            )
            .map_err(too_many)?;
        let request = builder
            .body(())
            .map_err(|e| invalid(format!("{e} (target {:?})", self.target)))?;

        let mut call = Call::new(request).map_err(|e| invalid(e.to_string()))?;
        // Any token is a method to the app (a direct invoke may send anything), and a body is
        // sent whatever the method, as the event has it.
        call.allow_non_standard_methods(true);
        if !self.body.is_empty() {
            call.force_send_body();
        }
        let mut call = call.proceed();
        let mut head = vec![0u8; 256 + self.target.len() + self.headers_len()];
        let mut written = 0;
        while !call.can_proceed() {
            match call.write(head.get_mut(written..).unwrap_or_default()) {
                Ok(n) if n > 0 => written += n,
                // A line longer than the room left: make room and write it.
                Ok(_) | Err(ureq_proto::Error::OutputOverflow) => {
                    let grown = head.len() * 2;
                    head.resize(grown, 0);
                }
                Err(e) => return Err(invalid(e.to_string())),
            }
        }
        head.truncate(written);
        let next = match call.proceed() {
            Ok(Some(SendRequestResult::SendBody(call))) => Prepared::Body(call),
            Ok(Some(SendRequestResult::RecvResponse(call))) => Prepared::NoBody(call),
            Ok(Some(SendRequestResult::Await100(_))) | Ok(None) => {
                return Err(invalid("unexpected protocol state".into()));
            }
            Err(e) => return Err(invalid(e.to_string())),
        };
        Ok((head, next))
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
        assert!(matches!(post.prepare().unwrap().1, Prepared::Body(_)));
        assert!(matches!(get.prepare().unwrap().1, Prepared::NoBody(_)));
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
    fn what_http_cannot_carry_is_an_error_not_a_panic() {
        let mut r = request("GET", &[("host", "a")], b"");
        r.target = format!("/{}", "a".repeat(70_000));
        let e = r.prepare().err().unwrap();
        assert_eq!(e.kind, AppErrorKind::InvalidRequest);
        r.target = "/ok".into();
        r.method = "G T".into();
        assert!(r.prepare().is_err());
    }
}
