//! The body of the app's response, read by ureq-proto's `RecvBody` state: it removes the
//! chunked framing or counts `content-length` bytes, and says at the end whether the connection
//! may carry another request.
//!
//! One rule is added by hand (DECISIONS 31), because ureq-proto parses a chunk size with
//! `usize::from_str_radix` after trimming, and so accepts `+5`, ` 5` and a tab before the
//! digits: RFC 9112 §7.1 allows hex digits only (`chunk-size = 1*HEXDIG`), then optional
//! whitespace before a `;` extension, then CRLF. Each size line is checked against that grammar
//! before ureq-proto reads it; anything else is `App.InvalidResponse`.

use std::io::Read;

use ureq_proto::BodyMode;
use ureq_proto::client::state::RecvBody;
use ureq_proto::client::{Call, RecvBodyResult};

use crate::app::buffer::ReadBuffer;
use crate::app::error::{AppError, AppErrorKind};

/// Longest chunk-size line accepted (ureq-proto itself takes up to 20 bytes before the CRLF).
const MAX_SIZE_LINE: usize = 1024;

/// A body being read.
pub struct BodyReader {
    call: Option<Call<RecvBody>>,
    /// Set once the body is complete: whether the connection must be closed.
    ended: Option<bool>,
    /// Bytes left in the current chunk (from its checked size line), to size reads.
    chunk_left: u64,
}

impl BodyReader {
    pub fn new(mut call: Call<RecvBody>) -> BodyReader {
        // Each read stops at a chunk boundary, so every size line is checked before use.
        call.stop_on_chunk_boundary(true);
        BodyReader {
            call: Some(call),
            ended: None,
            chunk_left: 0,
        }
    }

    /// A body that is already complete (no body at all).
    pub fn done(must_close: bool) -> BodyReader {
        BodyReader {
            call: None,
            ended: Some(must_close),
            chunk_left: 0,
        }
    }

    /// `Some(must_close)` once the body has been read to its end.
    pub fn ended(&self) -> Option<bool> {
        self.ended
    }

    /// Appends the next piece of the body (at most `limit` bytes, at least 1) to `out`;
    /// `Ok(false)` at its end, with nothing appended.
    pub fn read<R: Read>(
        &mut self,
        input: &mut ReadBuffer<R>,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<bool, AppError> {
        loop {
            let Some(call) = self.call.as_mut() else {
                return Ok(false);
            };
            let mode = call.body_mode();
            if mode != BodyMode::CloseDelimited && call.can_proceed() {
                self.finish();
                return Ok(false);
            }
            if input.buffered().is_empty() {
                match fill(input)? {
                    true => {}
                    false => return self.end_of_stream(mode),
                }
                continue;
            }
            if mode == BodyMode::Chunked && call.is_on_chunk_boundary() {
                match check_size_line(input.buffered())? {
                    Some(size) => self.chunk_left = size,
                    None => {
                        if !fill(input)? {
                            return self.end_of_stream(mode);
                        }
                        continue;
                    }
                }
            }
            // The body bytes go straight into `out`. Room is made for no more than can come
            // now: what is buffered, and what is left of the chunk or of the content-length
            // (a read stops at the end of a chunk, so more would only be zeroed for nothing).
            let left = match mode {
                BodyMode::Chunked => self.chunk_left,
                BodyMode::LengthDelimited(left) => left,
                _ => u64::MAX,
            };
            let room = (limit.max(1).min(input.buffered().len()) as u64).min(left.max(1));
            let start = out.len();
            out.resize(start + room as usize, 0);
            let read = call.read(input.buffered(), out.get_mut(start..).unwrap_or_default());
            let (used, produced) = match read {
                Ok(done) => done,
                Err(e) => {
                    out.truncate(start);
                    return Err(AppError::new(
                        AppErrorKind::InvalidResponse,
                        format!("the app's response body is not valid HTTP/1.1 framing ({e})"),
                    ));
                }
            };
            out.truncate(start + produced);
            input.consume(used);
            self.chunk_left = self.chunk_left.saturating_sub(produced as u64);
            if produced > 0 {
                return Ok(true);
            }
            if used == 0 && !fill(input)? {
                return self.end_of_stream(mode);
            }
        }
    }

    /// The app closed the connection: the end of a close-delimited body, else a cut body.
    fn end_of_stream(&mut self, mode: BodyMode) -> Result<bool, AppError> {
        let chunked_ended = self
            .call
            .as_ref()
            .is_some_and(|call| call.is_ended_chunked());
        match mode {
            BodyMode::CloseDelimited => {
                self.finish();
                Ok(false)
            }
            // `0\r\n` arrived and then the close: the body is whole, the connection is not.
            BodyMode::Chunked if chunked_ended => {
                self.call = None;
                self.ended = Some(true);
                Ok(false)
            }
            BodyMode::LengthDelimited(left) => Err(AppError::new(
                AppErrorKind::ConnectionClosed,
                format!(
                    "the app closed the connection with {left} bytes of the body still to come"
                ),
            )),
            _ => Err(AppError::new(
                AppErrorKind::ConnectionClosed,
                "the app closed the connection in the middle of a chunked body",
            )),
        }
    }

    fn finish(&mut self) {
        let must_close = match self.call.take().and_then(|call| call.proceed()) {
            Some(RecvBodyResult::Cleanup(call)) => call.must_close_connection(),
            Some(RecvBodyResult::Redirect(call)) => call.must_close_connection(),
            None => true,
        };
        self.ended = Some(must_close);
    }
}

/// Reads more input; `Ok(false)` at the end of the stream.
fn fill<R: Read>(input: &mut ReadBuffer<R>) -> Result<bool, AppError> {
    match input.fill(crate::app::response::MAX_HEAD_BYTES) {
        Ok(n) => Ok(n > 0),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(AppError::new(
            AppErrorKind::InvalidResponse,
            "the app's chunked body has an overlong line",
        )),
        Err(e) => Err(AppError::from_io(&e, "reading the app's response body")),
    }
}

/// Checks the chunk-size line at the start of `input` (RFC 9112 §7.1) and returns the size;
/// `Ok(None)` when the line is not complete yet.
fn check_size_line(input: &[u8]) -> Result<Option<u64>, AppError> {
    let bad = |why: &str| {
        AppError::new(
            AppErrorKind::InvalidResponse,
            format!("the app's chunked body has an invalid chunk size line ({why})"),
        )
    };
    let Some(lf) = input.iter().take(MAX_SIZE_LINE).position(|&b| b == b'\n') else {
        if input.len() >= MAX_SIZE_LINE {
            return Err(bad("too long"));
        }
        return Ok(None);
    };
    let line = match input.get(..lf).and_then(|l| l.strip_suffix(b"\r")) {
        Some(line) => line,
        None => return Err(bad("not ended by CRLF")),
    };
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    let has_extension = size.len() < line.len();
    // Whitespace may stand only between the size and a `;` extension.
    let digits = if has_extension {
        size.trim_ascii_end()
    } else {
        size
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad("the size must be hex digits only"));
    }
    if digits.len() > 15 {
        return Err(bad("the size is too large"));
    }
    let size = std::str::from_utf8(digits)
        .ok()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| bad("the size is not a number"))?;
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_lines_are_hex_digits_only() {
        for good in [
            &b"5\r\n"[..],
            b"1aF\r\n",
            b"5;ext=1\r\n",
            b"5 ;ext\r\n",
            b"0\r\n",
        ] {
            assert!(matches!(check_size_line(good), Ok(Some(_))), "{good:?}");
        }
        for bad in [
            &b"+5\r\n"[..],
            b" 5\r\n",
            b"\t5\r\n",
            b"5 \r\n",
            b"-5\r\n",
            b"0x5\r\n",
            b"\r\n",
            b"5\n",
            b"g\r\n",
            b"1234567890abcdef0\r\n",
        ] {
            assert!(check_size_line(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_size_line(b"1aF\r\n").ok(), Some(Some(0x1af)));
        assert_eq!(check_size_line(b"5").ok(), Some(None), "incomplete");
        assert!(check_size_line(&[b'1'; MAX_SIZE_LINE]).is_err());
    }
}
