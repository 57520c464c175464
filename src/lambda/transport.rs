//! The TCP transport under the Lambda API agents (ureq's [`Transport`]), in place of ureq's
//! own for one reason: a request's head is held back and written together with the body
//! that follows it, in one system call and one TCP segment.
//!
//! ureq writes the head of a request and then its body in separate writes, so every response
//! post would reach the Runtime API as two segments: twice the loopback work and, on a busy
//! machine, two wake-ups of the Runtime API for one message. With thousands of invocations a
//! second on Managed Instances that is a measurable share of the adapter's CPU time. A held
//! head is written at the latest before the transport waits for the answer, so a request
//! without a body (`GET /next`) goes out exactly as before.
//!
//! Everything else is what ureq's TCP transport does: socket timeouts set when they change,
//! interrupted reads retried, and a pooled connection checked with a non-blocking peek. The
//! connector can also start from a connection opened ahead of time (see
//! [`RuntimeConnector::warmed`]).

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

use crate::deadline_stream::is_idle;

/// Writes this small that end a request head are held for the body that follows.
const HOLD_MAX: usize = 4 * 1024;
/// Interrupted reads and writes are retried this many times.
const MAX_RETRIES: usize = 16;

/// Connects to the first of the resolved addresses that accepts, with `TCP_NODELAY`.
#[derive(Debug, Default)]
pub struct RuntimeConnector {
    /// A connection opened before the first request, used by the first connect.
    warm: Mutex<Option<TcpStream>>,
}

impl RuntimeConnector {
    /// A connector whose first connection is `stream`, opened while the app was still
    /// starting: the first `/next` then goes out without waiting for a TCP handshake or for
    /// the Runtime API to accept. Used only if it is to one of the addresses asked for and
    /// still open.
    pub fn warmed(stream: TcpStream) -> RuntimeConnector {
        RuntimeConnector {
            warm: Mutex::new(Some(stream)),
        }
    }

    fn take_warm(&self, details: &ConnectionDetails) -> Option<TcpStream> {
        let stream = self.warm.lock().ok()?.take()?;
        let peer = stream.peer_addr().ok()?;
        let wanted = details.addrs.contains(&peer);
        (wanted && is_idle(&stream)).then_some(stream)
    }
}

impl Connector for RuntimeConnector {
    type Out = RuntimeTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<RuntimeTransport>, Error> {
        let buffers = || {
            LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            )
        };
        if let Some(stream) = self.take_warm(details) {
            return Ok(Some(RuntimeTransport::new(stream, buffers())));
        }
        let timeout = details.timeout.not_zero().map(|t| *t);
        let mut last_error = None;
        for addr in details.addrs.iter() {
            let connected = match timeout {
                Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                None => TcpStream::connect(addr),
            };
            match connected {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(Some(RuntimeTransport::new(stream, buffers())));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    last_error = Some(Error::Timeout(details.timeout.reason));
                }
                Err(e) => last_error = Some(Error::Io(e)),
            }
        }
        Err(last_error.unwrap_or(Error::HostNotFound))
    }
}

pub struct RuntimeTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
    /// A request head waiting for its body.
    held: Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl RuntimeTransport {
    fn new(stream: TcpStream, buffers: LazyBuffers) -> RuntimeTransport {
        RuntimeTransport {
            stream,
            buffers,
            held: Vec::new(),
            read_timeout: None,
            write_timeout: None,
        }
    }

    fn set_write_timeout(&mut self, timeout: &NextTimeout) -> Result<(), Error> {
        let wanted = timeout.not_zero().map(|t| *t);
        if wanted != self.write_timeout {
            self.stream.set_write_timeout(wanted)?;
            self.write_timeout = wanted;
        }
        Ok(())
    }

    fn set_read_timeout(&mut self, timeout: &NextTimeout) -> Result<(), Error> {
        let wanted = timeout.not_zero().map(|t| *t);
        if wanted != self.read_timeout {
            self.stream.set_read_timeout(wanted)?;
            self.read_timeout = wanted;
        }
        Ok(())
    }

    /// Writes the held head, then the first `amount` bytes of the output buffer.
    fn write_out(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        self.set_write_timeout(&timeout)?;
        let held = std::mem::take(&mut self.held);
        let output = self.buffers.output();
        let body = output.get(..amount).unwrap_or(output);
        write_both(&mut self.stream, &held, body).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(timeout.reason),
            _ => Error::Io(e),
        })
    }

    fn flush_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.write_out(0, timeout)
    }
}

impl Transport for RuntimeTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let output = self.buffers.output();
        let data = output.get(..amount).unwrap_or(output);
        if self.held.is_empty() && data.len() <= HOLD_MAX && data.ends_with(b"\r\n\r\n") {
            self.held.extend_from_slice(data);
            return Ok(());
        }
        self.write_out(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush_held(timeout)?;
        if self.buffers.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush_held(timeout)?;
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        self.set_read_timeout(&timeout)?;
        let mut attempts = 0;
        let amount = loop {
            match self.stream.read(self.buffers.input_append_buf()) {
                Ok(amount) => break amount,
                Err(e) if e.kind() == io::ErrorKind::Interrupted && attempts < MAX_RETRIES => {
                    attempts += 1;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::Timeout(timeout.reason));
                }
                Err(e) => return Err(Error::Io(e)),
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Open: nothing held, and the connection idle (see `is_idle`).
    fn is_open(&mut self) -> bool {
        self.held.is_empty() && is_idle(&self.stream)
    }
}

impl std::fmt::Debug for RuntimeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

/// Writes `first` then `second` whole, in as few system calls as the socket allows (one, on
/// a socket with room).
pub(crate) fn write_both(stream: &mut impl Write, first: &[u8], second: &[u8]) -> io::Result<()> {
    let (mut first, mut second) = (first, second);
    let mut attempts = 0;
    while !first.is_empty() || !second.is_empty() {
        let written = stream.write_vectored(&[IoSlice::new(first), IoSlice::new(second)]);
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let from_first = n.min(first.len());
                first = first.get(from_first..).unwrap_or_default();
                second = second.get(n - from_first..).unwrap_or_default();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted && attempts < MAX_RETRIES => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `limit` bytes per write, recording each write.
    struct Trickle {
        limit: usize,
        writes: Vec<Vec<u8>>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.writes.push(buf[..n].to_vec());
            Ok(n)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut joined = Vec::new();
            for b in bufs {
                joined.extend_from_slice(b);
            }
            self.write(&joined)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn head_and_body_go_out_in_one_write_when_there_is_room() {
        let mut sink = Trickle {
            limit: usize::MAX,
            writes: Vec::new(),
        };
        write_both(&mut sink, b"HEAD\r\n\r\n", b"body").unwrap();
        assert_eq!(sink.writes, vec![b"HEAD\r\n\r\nbody".to_vec()]);
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut sink = Trickle {
            limit: 3,
            writes: Vec::new(),
        };
        write_both(&mut sink, b"HEAD\r\n", b"body!").unwrap();
        assert_eq!(sink.writes.concat(), b"HEAD\r\nbody!");
        assert!(sink.writes.iter().all(|w| w.len() <= 3));
    }
}
