//! A request body as the Runtime API's server reads it: `content-length`, or chunked with the
//! trailers after the last chunk (how the adapter reports a stream that failed midway).

use std::io::{self, BufRead, Read};

/// Longest chunk-size or trailer line accepted.
const MAX_LINE_BYTES: usize = 8 * 1024;
const MAX_TRAILERS: usize = 128;

/// How a request body is delimited, and how much of it is left.
pub(super) enum RequestBody {
    Length(u64),
    Chunked {
        /// Bytes left in the current chunk; `None` before the first size line.
        left: Option<u64>,
        /// The trailers, once the last chunk has been read.
        trailers: Option<Vec<(String, String)>>,
    },
}

impl RequestBody {
    /// The framing the request headers announce (no body without either header).
    pub fn framed_by(headers: &[(String, String)]) -> Result<RequestBody, String> {
        let named = |name: &'static str| {
            headers
                .iter()
                .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if named("transfer-encoding").any(|v| v.to_ascii_lowercase().contains("chunked")) {
            return Ok(RequestBody::Chunked {
                left: None,
                trailers: None,
            });
        }
        match named("content-length").next() {
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map(RequestBody::Length)
                .map_err(|_| format!("invalid content-length {value:?}\n")),
            None => Ok(RequestBody::Length(0)),
        }
    }

    /// The trailers of a chunked body read to its end (none before, or for other bodies).
    pub fn trailers(&self) -> &[(String, String)] {
        match self {
            RequestBody::Chunked {
                trailers: Some(trailers),
                ..
            } => trailers,
            _ => &[],
        }
    }

    /// Reads body bytes from `reader` as they arrive; `Ok(0)` at the end of the body.
    pub fn read(&mut self, reader: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self {
            RequestBody::Length(0) => Ok(0),
            RequestBody::Length(left) => {
                let n = read_some(reader, buf, *left, "the body ended early")?;
                *left -= n as u64;
                Ok(n)
            }
            RequestBody::Chunked {
                trailers: Some(_), ..
            } => Ok(0),
            RequestBody::Chunked { left, trailers } => {
                let remaining = match *left {
                    Some(remaining) if remaining > 0 => remaining,
                    _ => {
                        if left.is_some() {
                            expect_crlf(reader)?;
                        }
                        let size = read_chunk_size(reader)?;
                        if size == 0 {
                            *trailers = Some(read_trailers(reader)?);
                            return Ok(0);
                        }
                        size
                    }
                };
                let n = read_some(reader, buf, remaining, "the chunked body ended early")?;
                *left = Some(remaining - n as u64);
                Ok(n)
            }
        }
    }
}

/// Reads at most `limit` bytes (at least one: the end of the stream here is an error).
fn read_some(
    reader: &mut impl BufRead,
    buf: &mut [u8],
    limit: u64,
    early_end: &str,
) -> io::Result<usize> {
    let want = buf.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
    let n = reader.read(buf.get_mut(..want).unwrap_or_default())?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, early_end));
    }
    Ok(n)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the chunked body ended early",
        ));
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches(['\r', '\n'])
        .to_string())
}

fn read_chunk_size(reader: &mut impl BufRead) -> io::Result<u64> {
    let line = read_line(reader)?;
    let size = line.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(size, 16)
        .map_err(|_| io::Error::other(format!("invalid chunk size line {line:?}")))
}

fn expect_crlf(reader: &mut impl BufRead) -> io::Result<()> {
    let line = read_line(reader)?;
    if line.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other("missing CRLF after a chunk"))
    }
}

fn read_trailers(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut trailers = Vec::new();
    for _ in 0..MAX_TRAILERS {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(trailers);
        }
        if let Some((name, value)) = line.split_once(':') {
            trailers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Err(io::Error::other("too many trailers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(body: &mut RequestBody, wire: &[u8]) -> io::Result<Vec<u8>> {
        let mut reader = io::BufReader::with_capacity(3, wire);
        let mut out = Vec::new();
        let mut buf = [0u8; 4];
        loop {
            let n = body.read(&mut reader, &mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn chunked() -> RequestBody {
        RequestBody::framed_by(&[("Transfer-Encoding".into(), "chunked".into())]).unwrap()
    }

    #[test]
    fn chunked_body_with_trailers() {
        let mut body = chunked();
        let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nLambda-Runtime-Function-Error-Type: App.X\r\n\r\n";
        assert_eq!(read_all(&mut body, wire).unwrap(), b"hello world");
        assert_eq!(
            body.trailers(),
            [(
                "Lambda-Runtime-Function-Error-Type".to_string(),
                "App.X".to_string()
            )]
        );
    }

    #[test]
    fn truncated_bodies_are_errors() {
        assert!(read_all(&mut chunked(), b"5\r\nhel").is_err());
        assert!(read_all(&mut chunked(), b"zz\r\n").is_err());
        let mut length = RequestBody::framed_by(&[("content-length".into(), "10".into())]).unwrap();
        assert!(read_all(&mut length, b"short").is_err());
        assert!(RequestBody::framed_by(&[("content-length".into(), "x".into())]).is_err());
    }
}
