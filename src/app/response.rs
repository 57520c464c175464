//! The head of the app's response: status and headers, read by ureq-proto's HTTP/1.1 state
//! machine, which also decides how the body is framed (RFC 9112 §6.3: none for `HEAD`, 1xx, 204
//! and 304; `chunked`; `content-length`, where repeated or conflicting values are an error; or
//! until the app closes) and whether the connection may carry another request (`Connection:
//! close`, HTTP/1.0). Interim 1xx responses are skipped there too.
//!
//! Two rules are added on top (DECISIONS 31), because ureq-proto reads them more leniently than
//! RFC 9112 asks a client to: a `Transfer-Encoding` whose final coding is not `chunked` (or any
//! on an HTTP/1.0 response) is a faulty framing, answered with `App.InvalidResponse`, since the
//! body could be neither delimited reliably nor passed on transfer-coded; and a response with
//! both `Transfer-Encoding` and `Content-Length` is read as chunked but its connection is never
//! reused (RFC 9112 §6.1). A `101 Switching Protocols` cannot be carried by Lambda.
//!
//! Every wait here is the caller's: the input reads end at the exchange's deadline, so an app
//! that drips a head byte by byte, or sends `100 Continue` forever, is cut off there.

use std::io::Read;

use ureq_proto::client::state::{RecvBody, RecvResponse};
use ureq_proto::client::{Call, RecvResponseResult};
use ureq_proto::http::{self, Response, Version};

use crate::app::buffer::ReadBuffer;
use crate::app::error::{AppError, AppErrorKind};

/// Largest response head accepted (status line plus headers, and interim heads before it).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;

/// The status and headers of the app's final response. Header names are lowercase, grouped
/// by name in order of first appearance (as upstream's header map has them); values are the
/// raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    /// HTTP/1.0 response, or `connection: close`.
    pub close: bool,
}

#[cfg(test)]
impl ResponseHead {
    /// A head with `status` and `headers` as given, for unit tests.
    pub(crate) fn for_test<V: AsRef<[u8]>>(status: u16, headers: &[(&str, V)]) -> ResponseHead {
        ResponseHead {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_ref().to_vec()))
                .collect(),
            close: false,
        }
    }

    /// The header names in order, for unit tests.
    pub(crate) fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(name, _)| name.as_str()).collect()
    }
}

impl ResponseHead {
    /// The first value of `name` (lowercase), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// Removes `name` the way upstream's header map does: the name's slot (in order of first
    /// appearance) is filled by the last name. Header maps are grouped by name anyway, so this
    /// only reorders the response JSON's keys, and keeps them identical to upstream's.
    pub fn remove_header_swapping(&mut self, name: &str) {
        if !self.has_header(name) {
            return;
        }
        let mut groups: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
        for (n, value) in self.headers.drain(..) {
            match groups.iter_mut().find(|(g, _)| *g == n) {
                Some((_, values)) => values.push(value),
                None => groups.push((n, vec![value])),
            }
        }
        if let Some(at) = groups.iter().position(|(n, _)| n == name) {
            groups.swap_remove(at);
        }
        for (n, values) in groups {
            self.headers
                .extend(values.into_iter().map(|value| (n.clone(), value)));
        }
    }

    fn from_response(response: &Response<()>) -> ResponseHead {
        let headers: Vec<(String, Vec<u8>)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
            .collect();
        let has_token = |name: &str, token: &str| {
            response.headers().get_all(name).iter().any(|v| {
                v.as_bytes()
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
            })
        };
        let close = has_token("connection", "close")
            || (response.version() == Version::HTTP_10 && !has_token("connection", "keep-alive"));
        ResponseHead {
            status: response.status().as_u16(),
            headers,
            close,
        }
    }
}

/// What follows a response head. (Moved once per response: boxing the large variant would
/// cost an allocation per invocation for nothing.)
#[allow(clippy::large_enum_variant)]
pub enum AfterHead {
    /// A body, to be read with [`crate::app::body::BodyReader`].
    Body(Call<RecvBody>),
    /// No body. `must_close`: the connection cannot carry another request.
    Done { must_close: bool },
}

/// A failure reading the head. `nothing_received`: the app sent no byte of a response.
#[derive(Debug)]
pub struct HeadError {
    pub error: AppError,
    pub nothing_received: bool,
}

/// Reads the final response head from `input`, skipping interim responses. `must_close` is
/// set when the framing allows the body to be read but not the connection to be reused.
pub fn read_head<R: Read>(
    input: &mut ReadBuffer<R>,
    mut call: Call<RecvResponse>,
) -> Result<(ResponseHead, AfterHead, bool), HeadError> {
    let mut received = false;
    let failed = |error: AppError, received: bool| HeadError {
        error,
        nothing_received: !received,
    };
    let invalid = |message: String| AppError::new(AppErrorKind::InvalidResponse, message);
    let response = loop {
        if !input.buffered().is_empty() {
            received = true;
            let (used, response) = call
                .try_response(input.buffered(), false)
                .map_err(|e| failed(invalid(describe(&e)), true))?;
            input.consume(used);
            if let Some(response) = response {
                break response;
            }
            if used > 0 {
                // An interim (1xx) head was skipped; the next one may be buffered already.
                continue;
            }
        }
        match input.fill(MAX_HEAD_BYTES) {
            Ok(0) => {
                let message = if received {
                    "the app closed the connection in the middle of the response headers"
                } else {
                    "the app closed the connection without answering"
                };
                return Err(failed(
                    AppError::new(AppErrorKind::ConnectionClosed, message),
                    received,
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(failed(
                    invalid(format!(
                        "the app's response headers exceed {MAX_HEAD_BYTES} bytes"
                    )),
                    true,
                ));
            }
            Err(e) => {
                return Err(failed(
                    AppError::from_io(&e, "reading the app's response"),
                    received,
                ));
            }
        }
    };
    let mut must_close = false;
    check_framing(&response, &mut must_close).map_err(|e| failed(e, true))?;
    let head = ResponseHead::from_response(&response);
    let after = match call.proceed() {
        Some(RecvResponseResult::RecvBody(call)) => AfterHead::Body(call),
        Some(RecvResponseResult::Cleanup(call)) => AfterHead::Done {
            must_close: call.must_close_connection(),
        },
        Some(RecvResponseResult::Redirect(call)) => AfterHead::Done {
            must_close: call.must_close_connection(),
        },
        None => AfterHead::Done { must_close: true },
    };
    Ok((head, after, must_close))
}

/// The rules RFC 9112 adds to ureq-proto's framing (see the module doc).
fn check_framing(response: &Response<()>, must_close: &mut bool) -> Result<(), AppError> {
    let invalid = |message: String| AppError::new(AppErrorKind::InvalidResponse, message);
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(invalid(
            "the app switched protocols (101), which Lambda cannot carry".into(),
        ));
    }
    let codings: Vec<&[u8]> = response
        .headers()
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty())
        .collect();
    let Some(last) = codings.last() else {
        return Ok(());
    };
    if response.version() == Version::HTTP_10 {
        return Err(invalid(
            "the app's HTTP/1.0 response has a Transfer-Encoding, a faulty framing".into(),
        ));
    }
    if !last.eq_ignore_ascii_case(b"chunked") {
        return Err(invalid(format!(
            "the app's response uses the transfer coding {:?}, which cannot be decoded here",
            String::from_utf8_lossy(last)
        )));
    }
    if response
        .headers()
        .contains_key(http::header::CONTENT_LENGTH)
    {
        *must_close = true;
    }
    Ok(())
}

/// ureq-proto's error, said for the app's response.
fn describe(e: &ureq_proto::Error) -> String {
    match e {
        ureq_proto::Error::HttpParseTooManyHeaders => format!(
            "the app's response has more than {} headers",
            ureq_proto::client::MAX_RESPONSE_HEADERS
        ),
        ureq_proto::Error::TooManyContentLengthHeaders => {
            "the app's response has conflicting content-length values".into()
        }
        ureq_proto::Error::BadContentLengthHeader => {
            "the app's response has an invalid content-length".into()
        }
        other => format!("the app's response is not valid HTTP/1.1 ({other})"),
    }
}
