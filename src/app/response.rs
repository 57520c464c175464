//! Parsing the app's HTTP/1.1 response: the head (status line and headers, skipping 1xx
//! interim responses) and the body framing (content-length, chunked, or until close).
//!
//! The app is trusted to be an HTTP server, not to be a correct one: conflicting framing,
//! oversized heads and garbage are answered with `App.InvalidResponse`, never a crash.

use std::io::{BufRead, Read};

use crate::app::error::{AppError, AppErrorKind};

/// Largest response head accepted (status line plus headers).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 512;

/// The status and headers of the app's final response. Header names are lowercase; values
/// are the raw bytes (obs-fold already unfolded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    /// HTTP/1.0 response, or `connection: close`.
    pub close: bool,
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
}

/// A failure reading the head; `nothing_received` means the app sent no byte at all, so the
/// request may be retried on a new connection.
#[derive(Debug)]
pub struct HeadError {
    pub error: AppError,
    pub nothing_received: bool,
}

/// Reads the response head, skipping `100 Continue` and other interim responses.
pub fn read_head(reader: &mut impl BufRead) -> Result<ResponseHead, HeadError> {
    let mut first = true;
    loop {
        let raw = read_head_bytes(reader, first)?;
        first = false;
        let head = parse_head(&raw).map_err(|error| HeadError {
            error,
            nothing_received: false,
        })?;
        match head.status {
            101 => {
                return Err(HeadError {
                    error: AppError::new(
                        AppErrorKind::InvalidResponse,
                        "the app switched protocols (101), which Lambda cannot carry",
                    ),
                    nothing_received: false,
                });
            }
            100..=199 => continue,
            _ => return Ok(head),
        }
    }
}

/// Reads bytes up to and including the blank line that ends a head.
fn read_head_bytes(reader: &mut impl BufRead, first: bool) -> Result<Vec<u8>, HeadError> {
    let mut raw = Vec::with_capacity(1024);
    loop {
        let available = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(HeadError {
                    error: AppError::from_io(&e, "reading the app's response"),
                    nothing_received: first && raw.is_empty(),
                });
            }
        };
        if available.is_empty() {
            let nothing = first && raw.is_empty();
            let message = if nothing {
                "the app closed the connection without answering"
            } else {
                "the app closed the connection in the middle of the response headers"
            };
            return Err(HeadError {
                error: AppError::new(AppErrorKind::ConnectionClosed, message),
                nothing_received: nothing,
            });
        }
        // Look for the end of the head, allowing for a `\r\n\r\n` split across reads.
        let start = raw.len().saturating_sub(3);
        let before = raw.len();
        raw.extend_from_slice(available);
        let end = find_head_end(&raw[start..]).map(|i| start + i);
        let used = match end {
            Some(end) => end - before,
            None => raw.len() - before,
        };
        reader.consume(used);
        if let Some(end) = end {
            raw.truncate(end);
            return Ok(raw);
        }
        if raw.len() > MAX_HEAD_BYTES {
            return Err(HeadError {
                error: AppError::new(
                    AppErrorKind::InvalidResponse,
                    format!("the app's response headers exceed {MAX_HEAD_BYTES} bytes"),
                ),
                nothing_received: false,
            });
        }
    }
}

/// Index just past the `\r\n\r\n` (or bare `\n\n`) that ends a head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Parses a complete head. Most responses have a few headers: room for 64 on the stack,
/// and a second, larger attempt only for the rare response with more.
pub fn parse_head(raw: &[u8]) -> Result<ResponseHead, AppError> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    match parse_head_with(raw, &mut slots) {
        Err(Parse::TooManyHeaders) => {
            let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
            parse_head_with(raw, &mut slots).map_err(Parse::into_error)
        }
        other => other.map_err(Parse::into_error),
    }
}

enum Parse {
    TooManyHeaders,
    Failed(AppError),
}

impl Parse {
    fn into_error(self) -> AppError {
        match self {
            Parse::Failed(e) => e,
            Parse::TooManyHeaders => AppError::new(
                AppErrorKind::InvalidResponse,
                format!("the app's response has more than {MAX_HEADERS} headers"),
            ),
        }
    }
}

fn parse_head_with<'h>(
    raw: &'h [u8],
    slots: &mut [httparse::Header<'h>],
) -> Result<ResponseHead, Parse> {
    let mut response = httparse::Response::new(slots);
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .parse_response(&mut response, raw);
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Parse::Failed(AppError::new(
                AppErrorKind::InvalidResponse,
                "the app's response head is incomplete",
            )));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Parse::TooManyHeaders),
        Err(e) => {
            return Err(Parse::Failed(AppError::new(
                AppErrorKind::InvalidResponse,
                format!("the app's response is not valid HTTP/1.1 ({e})"),
            )));
        }
    }
    let status = response.code.unwrap_or(0);
    if !(100..=999).contains(&status) {
        return Err(Parse::Failed(AppError::new(
            AppErrorKind::InvalidResponse,
            format!("the app answered status {status}"),
        )));
    }
    let mut close = response.version == Some(0);
    let mut headers = Vec::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = unfold(h.value);
        if name == "connection" {
            let v = String::from_utf8_lossy(&value).to_ascii_lowercase();
            if v.split(',').any(|t| t.trim() == "close") {
                close = true;
            }
            if v.split(',').any(|t| t.trim() == "keep-alive") && response.version == Some(0) {
                close = false;
            }
        }
        headers.push((name, value));
    }
    Ok(ResponseHead {
        status,
        headers,
        close,
    })
}

/// Replaces obs-fold line breaks inside a header value with single spaces.
fn unfold(value: &[u8]) -> Vec<u8> {
    if !value.contains(&b'\n') {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' | b'\n' => {
                while i < value.len() && matches!(value[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (HEAD, 204, 304) or a fully read one.
    Done,
    /// `remaining` bytes still to read.
    Length { remaining: u64 },
    /// Chunked: `in_chunk` bytes left in the current chunk (0 = expect a size line).
    Chunked { in_chunk: u64 },
    /// Until the app closes the connection.
    UntilClose,
}

/// Reads a response body according to its framing, in pieces.
#[derive(Debug)]
pub struct BodyReader {
    framing: Framing,
    reusable: bool,
    error: Option<AppError>,
}

impl BodyReader {
    /// Decides the framing from the head (RFC 9112 §6.3).
    pub fn new(head: &ResponseHead, head_only: bool) -> BodyReader {
        let no_body = head_only || head.status == 204 || head.status == 304 || head.status < 200;
        let te: Vec<&[u8]> = head
            .headers
            .iter()
            .filter(|(n, _)| n == "transfer-encoding")
            .map(|(_, v)| v.as_slice())
            .collect();
        let lengths: Vec<&[u8]> = head
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v.as_slice())
            .collect();
        let mut reusable = !head.close;
        let mut error = None;
        let framing = if no_body {
            Framing::Done
        } else if !te.is_empty() {
            // Transfer-Encoding wins over Content-Length, but such a message is suspect:
            // never reuse its connection.
            if !lengths.is_empty() {
                reusable = false;
            }
            let last = te
                .last()
                .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
                .unwrap_or_default();
            if last.rsplit(',').next().map(str::trim) == Some("chunked") {
                Framing::Chunked { in_chunk: 0 }
            } else {
                reusable = false;
                Framing::UntilClose
            }
        } else if !lengths.is_empty() {
            match parse_content_length(&lengths) {
                Some(0) => Framing::Done,
                Some(n) => Framing::Length { remaining: n },
                None => {
                    reusable = false;
                    error = Some(AppError::new(
                        AppErrorKind::InvalidResponse,
                        "the app's response has an invalid or conflicting content-length",
                    ));
                    Framing::Done
                }
            }
        } else {
            reusable = false;
            Framing::UntilClose
        };
        BodyReader {
            framing,
            reusable,
            error,
        }
    }

    pub fn is_done(&self) -> bool {
        self.framing == Framing::Done && self.error.is_none()
    }

    /// Whether the connection can carry another request once the body is read.
    pub fn connection_reusable(&self) -> bool {
        self.reusable && self.framing == Framing::Done
    }

    /// Buffered mode's fast path: a content-length body that fits in `room` is read whole,
    /// straight into `buf`, in as few reads as the socket allows (no copy through the
    /// connection's buffer). `None` when the body is framed otherwise or too large.
    pub fn read_whole(
        &mut self,
        reader: &mut impl BufRead,
        buf: &mut Vec<u8>,
        room: usize,
    ) -> Option<Result<(), AppError>> {
        let Framing::Length { remaining } = self.framing else {
            return None;
        };
        if self.error.is_some() || remaining > room as u64 {
            return None;
        }
        buf.reserve(remaining as usize);
        let got = match reader.by_ref().take(remaining).read_to_end(buf) {
            Ok(n) => n as u64,
            Err(e) => {
                return Some(Err(AppError::from_io(
                    &e,
                    "reading the app's response body",
                )));
            }
        };
        if got < remaining {
            return Some(Err(AppError::new(
                AppErrorKind::ConnectionClosed,
                format!(
                    "the app closed the connection with {} bytes of the body still to come",
                    remaining - got
                ),
            )));
        }
        self.framing = Framing::Done;
        Some(Ok(()))
    }

    /// Appends up to `limit` more body bytes to `buf`. `Ok(false)` once the body is complete
    /// (nothing appended).
    pub fn read_chunk(
        &mut self,
        reader: &mut impl BufRead,
        buf: &mut Vec<u8>,
        limit: usize,
    ) -> Result<bool, AppError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        loop {
            match self.framing {
                Framing::Done => return Ok(false),
                Framing::Length { remaining } => {
                    let n = copy_some(reader, buf, remaining.min(limit as u64) as usize)
                        .map_err(|e| AppError::from_io(&e, "reading the app's response body"))?;
                    if n == 0 {
                        return Err(AppError::new(
                            AppErrorKind::ConnectionClosed,
                            format!(
                                "the app closed the connection with {remaining} bytes of the body still to come"
                            ),
                        ));
                    }
                    let remaining = remaining - n as u64;
                    self.framing = if remaining == 0 {
                        Framing::Done
                    } else {
                        Framing::Length { remaining }
                    };
                    return Ok(true);
                }
                Framing::UntilClose => {
                    let n = copy_some(reader, buf, limit)
                        .map_err(|e| AppError::from_io(&e, "reading the app's response body"))?;
                    if n == 0 {
                        self.framing = Framing::Done;
                        return Ok(false);
                    }
                    return Ok(true);
                }
                Framing::Chunked { in_chunk: 0 } => {
                    let size = read_chunk_size(reader)?;
                    if size == 0 {
                        skip_trailers(reader)?;
                        self.framing = Framing::Done;
                        return Ok(false);
                    }
                    self.framing = Framing::Chunked { in_chunk: size };
                }
                Framing::Chunked { in_chunk } => {
                    let n = copy_some(reader, buf, in_chunk.min(limit as u64) as usize)
                        .map_err(|e| AppError::from_io(&e, "reading the app's response body"))?;
                    if n == 0 {
                        return Err(AppError::new(
                            AppErrorKind::ConnectionClosed,
                            "the app closed the connection in the middle of a chunked body",
                        ));
                    }
                    let left = in_chunk - n as u64;
                    if left == 0 {
                        expect_crlf(reader)?;
                    }
                    self.framing = Framing::Chunked { in_chunk: left };
                    return Ok(true);
                }
            }
        }
    }
}

fn parse_content_length(values: &[&[u8]]) -> Option<u64> {
    let mut found: Option<u64> = None;
    for value in values {
        for part in value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) || part.len() > 18 {
                return None;
            }
            let n: u64 = std::str::from_utf8(part).ok()?.parse().ok()?;
            match found {
                Some(prev) if prev != n => return None,
                _ => found = Some(n),
            }
        }
    }
    found
}

/// Copies at most `max` bytes that are already buffered (or one read's worth) into `buf`.
fn copy_some(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let available = loop {
        match reader.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    let n = available.len().min(max);
    buf.extend_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

/// Reads one CRLF-terminated line (without the line ending), at most `max` bytes.
fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Vec<u8>, AppError> {
    let mut line = Vec::new();
    loop {
        let available = reader
            .fill_buf()
            .map_err(|e| AppError::from_io(&e, "reading the app's chunked body"))?;
        if available.is_empty() {
            return Err(AppError::new(
                AppErrorKind::ConnectionClosed,
                "the app closed the connection in the middle of a chunked body",
            ));
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&available[..i]);
                reader.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            None => {
                let n = available.len();
                line.extend_from_slice(available);
                reader.consume(n);
            }
        }
        if line.len() > max {
            return Err(AppError::new(
                AppErrorKind::InvalidResponse,
                "the app's chunked body has an overlong line",
            ));
        }
    }
}

fn read_chunk_size(reader: &mut impl BufRead) -> Result<u64, AppError> {
    let line = read_line(reader, 4096)?;
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let bad = || {
        AppError::new(
            AppErrorKind::InvalidResponse,
            "the app's chunked body has an invalid chunk size",
        )
    };
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad());
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

fn expect_crlf(reader: &mut impl BufRead) -> Result<(), AppError> {
    let line = read_line(reader, 2)?;
    if line.is_empty() {
        Ok(())
    } else {
        Err(AppError::new(
            AppErrorKind::InvalidResponse,
            "the app's chunked body is missing a CRLF after a chunk",
        ))
    }
}

fn skip_trailers(reader: &mut impl BufRead) -> Result<(), AppError> {
    let mut total = 0;
    loop {
        let line = read_line(reader, MAX_HEAD_BYTES)?;
        if line.is_empty() {
            return Ok(());
        }
        total += line.len();
        if total > MAX_HEAD_BYTES {
            return Err(AppError::new(
                AppErrorKind::InvalidResponse,
                "the app's response trailers are too large",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(raw: &[u8], head_only: bool) -> Result<(ResponseHead, Vec<u8>, bool), AppError> {
        let mut reader = Cursor::new(raw.to_vec());
        let head = read_head(&mut reader).map_err(|e| e.error)?;
        let mut body_reader = BodyReader::new(&head, head_only);
        let mut body = Vec::new();
        while body_reader.read_chunk(&mut reader, &mut body, 1 << 20)? {}
        let reusable = body_reader.connection_reusable();
        Ok((head, body, reusable))
    }

    #[test]
    fn content_length_body() {
        let (head, body, reusable) = read_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
            false,
        )
        .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-type"), Some("text/plain"));
        assert_eq!(body, b"hello");
        assert!(reusable);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (_, body, reusable) = read_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(body, b"hello!");
        assert!(reusable);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let (head, body, _) =
            read_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", false)
                .unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(body, b"ok");
    }

    #[test]
    fn until_close_and_no_body_statuses() {
        let (_, body, reusable) = read_all(b"HTTP/1.0 200 OK\r\n\r\nall of it", false).unwrap();
        assert_eq!(body, b"all of it");
        assert!(!reusable);
        let (_, body, reusable) = read_all(b"HTTP/1.1 204 No Content\r\n\r\n", false).unwrap();
        assert!(body.is_empty() && reusable);
        let (_, body, _) =
            read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true).unwrap();
        assert!(body.is_empty());
    }

    #[test]
    fn conflicting_framing() {
        let err = read_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind, AppErrorKind::InvalidResponse);
        // TE + CL: chunked wins, connection not reused.
        let (_, body, reusable) =
            read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", false).unwrap();
        assert_eq!(body, b"ab");
        assert!(!reusable);
    }

    #[test]
    fn truncated_bodies_are_connection_closed() {
        let err = read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false).unwrap_err();
        assert_eq!(err.kind, AppErrorKind::ConnectionClosed);
        let err = read_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind, AppErrorKind::ConnectionClosed);
        let err = read_all(b"", false).unwrap_err();
        assert_eq!(err.kind, AppErrorKind::ConnectionClosed);
    }

    #[test]
    fn swap_removal_fills_the_gap_with_the_last_name() {
        let mut head = ResponseHead::default();
        for (n, v) in [
            ("a", "1"),
            ("gone", "x"),
            ("b", "2"),
            ("a", "3"),
            ("gone", "y"),
            ("c", "4"),
        ] {
            head.headers.push((n.to_string(), v.as_bytes().to_vec()));
        }
        head.remove_header_swapping("gone");
        let flat: Vec<(&str, &[u8])> = head
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        assert_eq!(
            flat,
            [("a", &b"1"[..]), ("a", b"3"), ("c", b"4"), ("b", b"2")]
        );
        head.remove_header_swapping("absent");
        assert_eq!(head.headers.len(), 4);
    }

    #[test]
    fn garbage_and_folding() {
        let err = read_all(b"NOT HTTP AT ALL\r\n\r\n", false).unwrap_err();
        assert_eq!(err.kind, AppErrorKind::InvalidResponse);
        let (head, _, _) = read_all(
            b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(head.header("x-long"), Some("a b"));
        let err = read_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", false).unwrap_err();
        assert_eq!(err.kind, AppErrorKind::InvalidResponse);
    }
}
