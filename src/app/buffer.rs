//! The bytes the app has sent that the protocol has not used yet.
//!
//! ureq-proto is sans-IO: it is handed bytes and says how many it used. This buffer is what it
//! is handed. Unlike `BufReader`, it can read more while keeping what it holds (a response head
//! may arrive in pieces), and it tells exactly what is left over once a response is complete:
//! a byte left behind is a byte that must never reach the next invocation (the connection is
//! then closed, see `client`).

use std::io::{self, Read};

/// Room for a typical response head plus the start of its body; grown for larger heads.
const INITIAL: usize = 32 * 1024;

pub struct ReadBuffer<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..end]` is unused input.
    start: usize,
    end: usize,
}

impl<R: Read> ReadBuffer<R> {
    pub fn new(inner: R) -> ReadBuffer<R> {
        ReadBuffer {
            inner,
            buf: vec![0; INITIAL],
            start: 0,
            end: 0,
        }
    }

    /// The unused input.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Marks `n` bytes of the input as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once more from the source, keeping what is buffered; the buffer grows up to
    /// `max` bytes of unused input. `Ok(0)` is the end of the stream; a buffer already holding
    /// `max` bytes is an error (the caller's limit: a head too large).
    pub fn fill(&mut self, max: usize) -> io::Result<usize> {
        if self.end == self.buf.len() {
            let used = self.end - self.start;
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = used;
            } else if used >= max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("more than {max} bytes without an end"),
                ));
            } else {
                let grown = (self.buf.len() * 2).min(max.max(INITIAL));
                self.buf.resize(grown, 0);
            }
        }
        let room = self.buf.get_mut(self.end..).unwrap_or_default();
        loop {
            match self.inner.read(room) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives out its bytes a few at a time.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn keeps_unused_input_across_reads_and_says_what_is_left() {
        let mut input = ReadBuffer::new(Trickle(b"abcdefgh".to_vec(), 3));
        assert_eq!(input.fill(1024).unwrap(), 3);
        assert_eq!(input.fill(1024).unwrap(), 3);
        assert_eq!(input.buffered(), b"abcdef");
        input.consume(4);
        assert_eq!(input.buffered(), b"ef");
        assert_eq!(input.fill(1024).unwrap(), 2);
        assert_eq!(input.buffered(), b"efgh");
        input.consume(4);
        assert!(input.buffered().is_empty());
        assert_eq!(input.fill(1024).unwrap(), 0, "the end of the stream");
    }

    #[test]
    fn grows_to_the_limit_and_no_further() {
        let big = vec![b'x'; 3 * INITIAL];
        let mut input = ReadBuffer::new(Trickle(big, usize::MAX));
        let max = 2 * INITIAL;
        while input.buffered().len() < max {
            assert!(input.fill(max).unwrap() > 0);
        }
        let e = input.fill(max).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Used input makes room again without growing.
        input.consume(INITIAL);
        assert!(input.fill(max).unwrap() > 0);
    }
}
