//! Posting the answer to an invocation (`/runtime/invocation/{id}/response` or `/error`) over
//! the worker's own connection to the Runtime API, kept open between invocations when the
//! Runtime API keeps it. Buffered responses and errors are posted here; a streamed response
//! is written on a connection from here too (see `streaming`).
//!
//! The posts are written by hand rather than with ureq (which keeps `/next`): a post is one
//! request head and one body, written together in one system call, and the answer is a short
//! status line to check. ureq's general machinery (URI parsing, header maps, middleware,
//! timers) cost about as many instructions per post as the whole event conversion; by hand
//! it is a few hundred.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::config::ApiEndpoint;
use crate::deadline_stream::{DeadlineStream, is_idle};
use crate::lambda::agent::USER_AGENT;
use crate::lambda::error::{ApiError, error_json, error_type_header};
use crate::lambda::transport::write_both;

/// How long a post may take, from connecting to its answer.
const POST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The worker's poster: its endpoint and the connection kept from its last post.
pub struct Poster {
    endpoint: ApiEndpoint,
    kept: Option<RuntimeConn>,
}

impl Poster {
    pub fn new(endpoint: ApiEndpoint) -> Poster {
        Poster {
            endpoint,
            kept: None,
        }
    }

    pub fn endpoint(&self) -> &ApiEndpoint {
        &self.endpoint
    }

    /// A connection for a post that must be done by `deadline`: the kept one when the
    /// Runtime API has not closed it (checked with a non-blocking peek), else a new one.
    pub fn open(&mut self, deadline: Instant) -> Result<RuntimeConn, String> {
        open_kept(&mut self.kept, &self.endpoint, deadline)
    }

    /// Keeps `conn`, whose last answer was read to its end, for the next post.
    pub fn keep(&mut self, conn: RuntimeConn) {
        self.kept = Some(conn);
    }

    /// Posts a buffered response (compact JSON).
    pub fn post_response(&mut self, request_id: &str, body: &[u8]) -> Result<(), ApiError> {
        self.post(request_id, "response", "", body)
    }

    /// Posts an error: `errorType` also goes in `Lambda-Runtime-Function-Error-Type`.
    pub fn post_error(
        &mut self,
        request_id: &str,
        error_type: &str,
        message: &str,
    ) -> Result<(), ApiError> {
        let headers = format!(
            "lambda-runtime-function-error-type: {}\r\ncontent-type: application/json\r\n",
            error_type_header(error_type)
        );
        let body = error_json(error_type, message);
        self.post(request_id, "error", &headers, body.as_bytes())
    }

    /// One post. A failure before the answer arrived is a transport error (the post may not
    /// have reached the Runtime API, so it may be sent again); an answer other than 2xx is not.
    fn post(
        &mut self,
        request_id: &str,
        what: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let target = invocation_path(&self.endpoint, request_id, what);
        let authority = &self.endpoint.authority;
        // The URL is only spelled out when something went wrong.
        let url = || format!("http://{authority}{target}");
        let failed = |why: String| ApiError {
            message: format!("posting the {what} ({}) failed: {why}", url()),
            transport: true,
        };
        let deadline = Instant::now() + POST_TIMEOUT;
        let mut conn = open_kept(&mut self.kept, &self.endpoint, deadline).map_err(failed)?;
        let head = format!(
            "POST {target} HTTP/1.1\r\nhost: {authority}\r\nuser-agent: {USER_AGENT}\r\n{headers}content-length: {}\r\n\r\n",
            body.len()
        );
        write_both(&mut conn, head.as_bytes(), body).map_err(|e| failed(e.to_string()))?;
        let answer = conn.answer(deadline).map_err(|e| failed(e.to_string()))?;
        if answer.keep_alive {
            self.kept = Some(conn);
        }
        match answer.status {
            200..=299 => Ok(()),
            410 => Err(ApiError::answered(format!(
                "Lambda function timeout! The Runtime API answered 410 to {}",
                url()
            ))),
            status => Err(ApiError::answered(format!(
                "Lambda Runtime API returned non-200 response status={status} ({}): {}",
                url(),
                answer.body.trim()
            ))),
        }
    }
}

/// `kept` if the Runtime API has not closed it, else a new connection to `endpoint`.
fn open_kept(
    kept: &mut Option<RuntimeConn>,
    endpoint: &ApiEndpoint,
    deadline: Instant,
) -> Result<RuntimeConn, String> {
    match kept.take().filter(RuntimeConn::still_open) {
        Some(mut conn) => {
            conn.set_deadline(deadline);
            Ok(conn)
        }
        None => RuntimeConn::connect(endpoint, deadline),
    }
}

/// A connection to the Runtime API that carries posts. Every write and read is bounded by
/// the post's deadline, so a stalled Runtime API cannot pin the worker.
pub struct RuntimeConn {
    stream: DeadlineStream,
}

impl RuntimeConn {
    /// A new connection; `Err` says why there is none.
    pub fn connect(endpoint: &ApiEndpoint, deadline: Instant) -> Result<RuntimeConn, String> {
        let timeout = CONNECT_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
        if timeout.is_zero() {
            return Err("the deadline passed before a connection could be opened".into());
        }
        let stream = TcpStream::connect_timeout(&endpoint.addr, timeout).map_err(|e| {
            format!(
                "could not connect to the Runtime API at {}: {e}",
                endpoint.authority
            )
        })?;
        // Posts are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        Ok(RuntimeConn {
            stream: DeadlineStream::new(stream, deadline, "the Runtime API"),
        })
    }

    pub fn set_deadline(&mut self, deadline: Instant) {
        self.stream.set_deadline(deadline);
    }

    /// Reads the answer to a complete post, waiting until `deadline` at most.
    pub fn answer(&mut self, deadline: Instant) -> io::Result<Answer> {
        self.stream.set_deadline(deadline);
        read_answer(&mut self.stream)
    }

    /// Whether a kept connection is still open: the Runtime API has neither closed it nor
    /// sent anything unasked since its last answer.
    fn still_open(&self) -> bool {
        is_idle(&self.stream.stream)
    }
}

impl Write for RuntimeConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.stream.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The Runtime API's answer to a post.
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The answer was read to its exact end and the connection stays open.
    pub keep_alive: bool,
}

/// Reads the answer: its head, then a `content-length` body (kept short).
fn read_answer(conn: &mut impl Read) -> io::Result<Answer> {
    let mut raw = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the Runtime API closed the connection",
            ));
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&raw) {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(0);
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                };
                let closing = response.version == Some(0)
                    || header("connection").is_some_and(|v| v.contains("close"));
                let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
                let mut body = raw.get(len..).unwrap_or_default().to_vec();
                let exact = match length {
                    Some(length) if length <= 16 * 1024 => {
                        while body.len() < length {
                            let n = conn.read(&mut buf)?;
                            if n == 0 {
                                break;
                            }
                            body.extend_from_slice(buf.get(..n).unwrap_or_default());
                        }
                        body.len() == length
                    }
                    _ => false,
                };
                return Ok(Answer {
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    keep_alive: exact && !closing,
                });
            }
            Ok(httparse::Status::Partial) if raw.len() < 16 * 1024 => continue,
            Ok(httparse::Status::Partial) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the Runtime API's answer is too large",
                ));
            }
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid answer: {e}"),
                ));
            }
        }
    }
}

/// Characters escaped when a request id goes into a URL path segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The request target of `/runtime/invocation/{id}/{what}`, path prefix included.
pub fn invocation_path(endpoint: &ApiEndpoint, request_id: &str, what: &str) -> String {
    let id = utf8_percent_encode(request_id, PATH_SEGMENT);
    format!(
        "{}/2018-06-01/runtime/invocation/{id}/{what}",
        endpoint.prefix
    )
}
